package asset_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmfake"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// fakeRMM is the shared in-memory RMM's client (shared/rmm/rmmfake),
// serving devices with GetDevice.
type fakeRMM struct{ *rmmfake.Client }

func newFakeRMM() *fakeRMM { return &fakeRMM{rmmfake.New().Client()} }

// set stores a device (replacing the one with its id).
func (f *fakeRMM) set(d rmm.Device) { f.Fake().PutDevice(d) }

// clear removes every device.
func (f *fakeRMM) clear() {
	for _, d := range f.Fake().Devices() {
		f.Fake().RemoveDevice(d.ID)
	}
}

// failAll makes every GetDevice answer err.
func (f *fakeRMM) failAll(err error) { f.Fake().Fail("GetDevice", -1, err) }

// calls counts GetDevice calls.
func (f *fakeRMM) calls() int { return f.Fake().Calls("GetDevice") }

// fakePSA is the shared in-memory PSA's client (shared/psa/psafake) with
// the vendors' looser "contains" serial search (the ladder must filter),
// asset ids from 501, and the asset tests' vocabulary: calls counted by
// short names (findByRef, findBySerial, create, update) and a failure
// hook by the same names.
type fakePSA struct {
	*psafake.Client
	mu sync.Mutex
	// fail, when set, is asked before each operation and may fail it.
	fail func(op string) error
	// createDelay widens the window in which concurrent creates could race.
	createDelay time.Duration
}

// shortNames are the tests' names of the PSA operations.
var shortNames = map[string]string{
	"FindAssetsByExternalRef": "findByRef", "FindAssetsBySerial": "findBySerial",
	"CreateAsset": "create", "UpdateAsset": "update",
}

func short(method string) string {
	if s, ok := shortNames[method]; ok {
		return s
	}
	return method
}

func newFakePSA(existing ...psa.Asset) *fakePSA {
	p := psafake.New(psafake.FirstID(500), psafake.LooseSerialSearch())
	for _, a := range existing {
		p.PutAsset(a)
	}
	f := &fakePSA{Client: p.Client()}
	p.OnCall(func(method string) error {
		f.mu.Lock()
		fail, delay := f.fail, f.createDelay
		f.mu.Unlock()
		if fail != nil {
			if err := fail(short(method)); err != nil {
				return err
			}
		}
		if method == "CreateAsset" {
			time.Sleep(delay)
		}
		return nil
	})
	return f
}

// calls counts the operations by short name.
func (f *fakePSA) calls() map[string]int {
	out := map[string]int{}
	for m, n := range f.Fake().CallCounts() {
		out[short(m)] += n
	}
	return out
}

func (f *fakePSA) count(op string) int { return f.calls()[op] }

func (f *fakePSA) total() int { return f.Fake().TotalCalls() }

func (f *fakePSA) reset() { f.Fake().ResetCalls() }

func (f *fakePSA) get(id string) psa.Asset {
	a, _ := f.Fake().Asset(id)
	return a
}

func (f *fakePSA) put(a psa.Asset) { f.Fake().PutAsset(a) }

func (f *fakePSA) remove(id string) { f.Fake().RemoveAsset(id) }

// find returns the PSA's assets match selects, by id.
func (f *fakePSA) find(match func(psa.Asset) bool) []psa.Asset { return f.Fake().Assets(match) }

// memLinks is an in-memory asset.Store with the same conditions as the
// DynamoDB repository.
type memLinks struct {
	mu    sync.Mutex
	links map[string]asset.Link
	ops   int
	// afterGet runs after each GetLink (outside the lock), to let a test
	// change the store between a read and the write that follows.
	afterGet func()
}

func newMemLinks() *memLinks { return &memLinks{links: map[string]asset.Link{}} }

func (m *memLinks) key(sc tenancy.Scope, deviceID string) string {
	return sc.TenantID + "/" + sc.IntegrationID + "/" + deviceID
}

func (m *memLinks) GetLink(_ context.Context, sc tenancy.Scope, deviceID string) (asset.Link, error) {
	m.mu.Lock()
	m.ops++
	l, ok := m.links[m.key(sc, deviceID)]
	hook := m.afterGet
	m.mu.Unlock()
	if hook != nil {
		hook()
	}
	if !ok {
		return asset.Link{}, apperr.New(apperr.NotFound, "no synced asset for device %s", deviceID)
	}
	return l, nil
}

func (m *memLinks) ClaimLink(_ context.Context, sc tenancy.Scope, l asset.Link, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	cur, ok := m.links[m.key(sc, l.DeviceID)]
	if ok && !(cur.State == asset.StateCreating && cur.LeaseUntil.Before(now)) {
		return apperr.New(apperr.Conflict, "condition failed")
	}
	m.links[m.key(sc, l.DeviceID)] = l
	return nil
}

func meets(cur asset.Link, ok bool, pre asset.Precondition) bool {
	if !ok {
		return false
	}
	if pre.Owner != "" {
		return cur.State == asset.StateCreating && cur.LeaseOwner == pre.Owner
	}
	return cur.Version == pre.Version
}

func (m *memLinks) PutLink(_ context.Context, sc tenancy.Scope, l asset.Link, pre asset.Precondition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	cur, ok := m.links[m.key(sc, l.DeviceID)]
	if !meets(cur, ok, pre) {
		return apperr.New(apperr.Conflict, "condition failed")
	}
	m.links[m.key(sc, l.DeviceID)] = l
	return nil
}

func (m *memLinks) DeleteLink(_ context.Context, sc tenancy.Scope, deviceID string, pre asset.Precondition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	cur, ok := m.links[m.key(sc, deviceID)]
	if !meets(cur, ok, pre) {
		return apperr.New(apperr.Conflict, "condition failed")
	}
	delete(m.links, m.key(sc, deviceID))
	return nil
}

func (m *memLinks) ListLinks(_ context.Context, sc tenancy.Scope, q asset.ListQuery) ([]asset.Link, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	var out []asset.Link
	for _, l := range m.links {
		if l.State == asset.StateLinked && (q.OrganizationID == "" || l.OrganizationID == q.OrganizationID) {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b asset.Link) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	return out, "", nil
}

func (m *memLinks) put(sc tenancy.Scope, l asset.Link) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.links[m.key(sc, l.DeviceID)] = l
}

func (m *memLinks) peek(sc tenancy.Scope, deviceID string) (asset.Link, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.links[m.key(sc, deviceID)]
	return l, ok
}

// memMaps serves mappings from a map by organization id.
type memMaps map[string]account.Mapping

func (m memMaps) GetMapping(_ context.Context, _ tenancy.Scope, orgID string) (account.Mapping, error) {
	mp, ok := m[orgID]
	if !ok {
		return account.Mapping{}, apperr.New(apperr.NotFound, "no mapping for organization %s", orgID)
	}
	return mp, nil
}
