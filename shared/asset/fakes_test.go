package asset_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// fakeRMM serves devices from a map.
type fakeRMM struct {
	mu      sync.Mutex
	devices map[string]rmm.Device
	err     error // returned by every call when set
	calls   int
}

func (f *fakeRMM) GetDevice(_ context.Context, id string) (rmm.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return rmm.Device{}, f.err
	}
	d, ok := f.devices[id]
	if !ok {
		return rmm.Device{}, apperr.New(apperr.NotFound, "not found")
	}
	return d, nil
}

func (f *fakeRMM) set(d rmm.Device) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.devices == nil {
		f.devices = map[string]rmm.Device{}
	}
	f.devices[d.ID] = d
}

// fakePSA keeps assets in memory and counts requests by operation.
type fakePSA struct {
	mu     sync.Mutex
	assets map[string]psa.Asset
	nextID int
	calls  map[string]int
	// fail, when set, is asked before each operation and may fail it.
	fail func(op string) error
	// createDelay widens the window in which concurrent creates could race.
	createDelay time.Duration
}

func newFakePSA(existing ...psa.Asset) *fakePSA {
	f := &fakePSA{assets: map[string]psa.Asset{}, nextID: 500, calls: map[string]int{}}
	for _, a := range existing {
		f.assets[a.ID] = a
	}
	return f
}

func (f *fakePSA) begin(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if f.fail != nil {
		return f.fail(op)
	}
	return nil
}

func (f *fakePSA) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakePSA) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func (f *fakePSA) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = map[string]int{}
}

func (f *fakePSA) get(id string) psa.Asset {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.assets[id]
}

func (f *fakePSA) find(match func(psa.Asset) bool) []psa.Asset {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []psa.Asset
	for _, a := range f.assets {
		if match(a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b psa.Asset) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (f *fakePSA) FindAssetsByExternalRef(_ context.Context, ref string) ([]psa.Asset, error) {
	if err := f.begin("findByRef"); err != nil {
		return nil, err
	}
	return f.find(func(a psa.Asset) bool { return a.ExternalRef == ref }), nil
}

func (f *fakePSA) FindAssetsBySerial(_ context.Context, serial string) ([]psa.Asset, error) {
	if err := f.begin("findBySerial"); err != nil {
		return nil, err
	}
	// Like a vendor "contains" search: looser than an exact match.
	return f.find(func(a psa.Asset) bool {
		return a.SerialNumber != "" && strings.Contains(strings.ToLower(a.SerialNumber), strings.ToLower(serial))
	}), nil
}

func (f *fakePSA) CreateAsset(_ context.Context, a psa.Asset) (psa.Asset, error) {
	if err := f.begin("create"); err != nil {
		return psa.Asset{}, err
	}
	time.Sleep(f.createDelay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	a.ID = strconv.Itoa(f.nextID)
	f.assets[a.ID] = a
	return a, nil
}

func (f *fakePSA) UpdateAsset(_ context.Context, a psa.Asset) (psa.Asset, error) {
	if err := f.begin("update"); err != nil {
		return psa.Asset{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.assets[a.ID]; !ok {
		return psa.Asset{}, apperr.New(apperr.NotFound, "no asset %s", a.ID)
	}
	f.assets[a.ID] = a
	return a, nil
}

func (f *fakePSA) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.assets, id)
}

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
