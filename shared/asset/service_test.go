package asset_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

var testScope = tenancy.Scope{TenantID: "t_a", IntegrationID: "i_a", Actor: "test"}

// clock is a fake time that moves only when the service sleeps (or a test
// moves it).
type clock struct {
	mu  sync.Mutex
	now time.Time
	// onSleep runs at each Sleep, before the clock moves.
	onSleep func()
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *clock) Sleep(_ context.Context, d time.Duration) error {
	if c.onSleep != nil {
		c.onSleep()
	}
	c.advance(d)
	return nil
}

type harness struct {
	rmm   *fakeRMM
	psa   *fakePSA
	links *memLinks
	maps  memMaps
	clock *clock
	svc   *asset.Service
}

func newHarness(t *testing.T, existing ...psa.Asset) *harness {
	t.Helper()
	h := &harness{
		rmm:   newFakeRMM(),
		psa:   newFakePSA(existing...),
		links: newMemLinks(),
		maps: memMaps{"o1": {OrganizationID: "o1", AccountID: "250", State: account.StateMapped,
			Sites: map[string]string{"s1": "31"}}},
		clock: &clock{now: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)},
	}
	h.rmm.set(laptop())
	h.svc = asset.NewService(h.links, h.maps, asset.Options{Now: h.clock.Now, Sleep: h.clock.Sleep})
	return h
}

func (h *harness) clients() asset.Clients { return asset.Clients{RMM: h.rmm, PSA: h.psa} }

func (h *harness) refresh(t *testing.T, deviceID string) asset.Result {
	t.Helper()
	res, err := h.svc.Refresh(context.Background(), testScope, h.clients(), deviceID)
	if err != nil {
		t.Fatalf("Refresh(%s): %v", deviceID, err)
	}
	h.clock.advance(time.Minute)
	return res
}

func TestRefresh(t *testing.T) {
	tests := []struct {
		name string
		// existing PSA assets, and what happens before the refresh under test
		existing []psa.Asset
		setup    func(t *testing.T, h *harness)
		device   string
		outcome  importjob.Outcome
		reason   string
		assetID  string // of the link; "" when there must be none
		calls    map[string]int
	}{
		{
			name: "new device is created", device: "1001",
			outcome: importjob.Created, assetID: "501",
			calls: map[string]int{"findByRef": 1, "findBySerial": 1, "create": 1},
		},
		{
			name: "unchanged device costs no PSA request", device: "1001",
			setup:   func(t *testing.T, h *harness) { h.refresh(t, "1001") },
			outcome: importjob.Unchanged, assetID: "501",
			calls: map[string]int{},
		},
		{
			name: "changed device is one update", device: "1001",
			setup: func(t *testing.T, h *harness) {
				h.refresh(t, "1001")
				d := laptop()
				d.LastLoggedInUser = `ACME\asmith`
				h.rmm.set(d)
			},
			outcome: importjob.Updated, assetID: "501",
			calls: map[string]int{"update": 1},
		},
		{
			name: "a check-in is a change", device: "1001",
			setup: func(t *testing.T, h *harness) {
				h.refresh(t, "1001")
				d := laptop()
				d.LastCheckIn = d.LastCheckIn.Add(5 * time.Minute)
				h.rmm.set(d)
			},
			outcome: importjob.Updated, assetID: "501",
			calls: map[string]int{"update": 1},
		},
		{
			name: "a remapped organization moves the asset", device: "1001",
			setup: func(t *testing.T, h *harness) {
				h.refresh(t, "1001")
				h.maps["o1"] = account.Mapping{OrganizationID: "o1", AccountID: "260", State: account.StateMapped}
			},
			outcome: importjob.Updated, assetID: "501",
			calls: map[string]int{"update": 1},
		},
		{
			name: "unmapped organization is skipped", device: "1001",
			setup: func(t *testing.T, h *harness) {
				d := laptop()
				d.OrganizationID = "o9"
				h.rmm.set(d)
			},
			outcome: importjob.Skipped, reason: "organization o9 is not mapped",
			calls: map[string]int{},
		},
		{
			name: "device without organization is skipped", device: "1001",
			setup: func(t *testing.T, h *harness) {
				d := laptop()
				d.OrganizationID = ""
				h.rmm.set(d)
			},
			outcome: importjob.Skipped, reason: "device 1001 belongs to no organization",
			calls: map[string]int{},
		},
		{
			name: "serial match is linked and rewritten", device: "1001",
			existing: []psa.Asset{{ID: "60", AccountID: "250", Name: "old name", SerialNumber: "5CG3211XYZ"}},
			outcome:  importjob.Linked, assetID: "60",
			calls: map[string]int{"findByRef": 1, "findBySerial": 1, "update": 1},
		},
		{
			name: "our reference adopts the asset of a crashed create", device: "1001",
			existing: []psa.Asset{{ID: "90", AccountID: "250", Name: "ACME-LT-042", ExternalRef: "1001"}},
			outcome:  importjob.Linked, assetID: "90",
			calls: map[string]int{"findByRef": 1, "update": 1},
		},
		{
			name: "serial tie is a review item", device: "1001",
			existing: []psa.Asset{{ID: "61", SerialNumber: "5CG3211XYZ"}, {ID: "62", SerialNumber: "5CG3211XYZ"}},
			outcome:  importjob.Review, reason: "serial number 5CG3211XYZ matches 2 PSA assets (61, 62); choose one",
			calls: map[string]int{"findByRef": 1, "findBySerial": 1},
		},
		{
			name: "placeholder serial: no serial lookup", device: "1001",
			existing: []psa.Asset{{ID: "61", SerialNumber: "Default string"}},
			setup: func(t *testing.T, h *harness) {
				d := laptop()
				d.SerialNumber = "Default string"
				h.rmm.set(d)
			},
			outcome: importjob.Created, assetID: "501",
			calls: map[string]int{"findByRef": 1, "create": 1},
		},
		{
			name: "asset deleted in the PSA is created again", device: "1001",
			setup: func(t *testing.T, h *harness) {
				h.refresh(t, "1001")
				h.psa.remove("501")
				d := laptop()
				d.LastLoggedInUser = `ACME\asmith`
				h.rmm.set(d)
			},
			outcome: importjob.Created, assetID: "502",
			calls: map[string]int{"update": 1, "findByRef": 1, "findBySerial": 1, "create": 1},
		},
		{
			name: "the expired claim of a dead refresh is taken over", device: "1001",
			existing: []psa.Asset{{ID: "90", ExternalRef: "1001"}},
			setup: func(t *testing.T, h *harness) {
				h.links.put(testScope, asset.Link{DeviceID: "1001", State: asset.StateCreating, LeaseOwner: "dead",
					LeaseUntil: h.clock.Now().Add(-time.Second), Version: 1})
			},
			outcome: importjob.Linked, assetID: "90",
			calls: map[string]int{"findByRef": 1, "update": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.existing...)
			if tc.setup != nil {
				tc.setup(t, h)
			}
			h.psa.reset()
			res := h.refresh(t, tc.device)
			if res.Outcome != tc.outcome || res.Reason != tc.reason {
				t.Errorf("outcome = %s %q, want %s %q", res.Outcome, res.Reason, tc.outcome, tc.reason)
			}
			if diff := cmp.Diff(tc.calls, h.psa.calls()); diff != "" {
				t.Errorf("PSA requests (-want +got):\n%s", diff)
			}
			l, ok := h.links.peek(testScope, tc.device)
			if tc.assetID == "" {
				if ok {
					t.Errorf("link stored: %+v, want none", l)
				}
				return
			}
			if !ok || l.State != asset.StateLinked || l.AssetID != tc.assetID {
				t.Fatalf("link = %+v (found %v), want linked to asset %s", l, ok, tc.assetID)
			}
			if diff := cmp.Diff(l, res.Link); diff != "" {
				t.Errorf("result link differs from the stored link (-stored +result):\n%s", diff)
			}
			// The PSA holds what the link's hash says was written.
			written := h.psa.get(tc.assetID)
			written.ID = ""
			if got := asset.Hash(written); got != l.Hash {
				t.Errorf("link hash %s does not describe the PSA asset (hash %s)", l.Hash, got)
			}
			if written.ExternalRef != tc.device {
				t.Errorf("PSA asset external reference = %q, want %q", written.ExternalRef, tc.device)
			}
		})
	}
}

func TestRefreshStoresTheListedFields(t *testing.T) {
	h := newHarness(t)
	res := h.refresh(t, "1001")
	want := asset.View{DeviceID: "1001", AssetID: "501", AccountID: "250", LocationID: "31", Name: "ACME-LT-042",
		SerialNumber: "5CG3211XYZ", OS: "Windows 11 Pro 23H2 (22631)", LastLoggedInUser: `ACME\jdoe`,
		LastCheckIn: checkInAt,
		Storage: asset.Storage{TotalBytes: 255_438_000_000 + 1<<40, FreeBytes: 104_730_000_000 + 3<<38,
			Volumes: []asset.Volume{{Name: "C:", CapacityBytes: 255_438_000_000, FreeBytes: 104_730_000_000},
				{Name: "D:", CapacityBytes: 1 << 40, FreeBytes: 3 << 38}}},
		LastSyncedAt: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	if diff := cmp.Diff(want, res.Link.View()); diff != "" {
		t.Errorf("view (-want +got):\n%s", diff)
	}

	again := h.refresh(t, "1001")
	if again.Outcome != importjob.Unchanged {
		t.Fatalf("second refresh = %s, want unchanged", again.Outcome)
	}
	if got, want := again.Link.LastSyncedAt, res.Link.LastSyncedAt.Add(time.Minute); !got.Equal(want) {
		t.Errorf("unchanged refresh lastSyncedAt = %v, want %v (it confirms the asset now)", got, want)
	}
	if again.Link.Version != res.Link.Version+1 {
		t.Errorf("version = %d, want %d", again.Link.Version, res.Link.Version+1)
	}
}

func TestRefreshErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
		kind  apperr.Kind
		msg   string
		link  bool // a link must remain
	}{
		{
			name:  "device the RMM does not know",
			setup: func(h *harness) { h.rmm.clear() },
			kind:  apperr.NotFound, msg: "the RMM has no device 1001",
		},
		{
			name:  "RMM throttling keeps its retry-after",
			setup: func(h *harness) { h.rmm.failAll(&apperr.Error{Kind: apperr.Throttled, RetryAfter: 2 * time.Minute}) },
			kind:  apperr.Throttled,
		},
		{
			name: "organization being mapped",
			setup: func(h *harness) {
				h.maps["o1"] = account.Mapping{OrganizationID: "o1", State: account.StateClaimed}
			},
			kind: apperr.Conflict, msg: "organization o1 is being mapped; try again shortly",
		},
		{
			name: "failed create leaves an ended claim (the next refresh runs the ladder)",
			setup: func(h *harness) {
				h.psa.fail = func(op string) error {
					if op == "create" {
						return apperr.New(apperr.Vendor, "PSA refused")
					}
					return nil
				}
			},
			kind: apperr.Vendor, msg: "PSA refused", link: true,
		},
		{
			name: "another refresh holds the claim past the wait",
			setup: func(h *harness) {
				h.links.put(testScope, asset.Link{DeviceID: "1001", State: asset.StateCreating, LeaseOwner: "other",
					LeaseUntil: h.clock.Now().Add(time.Hour), Version: 1})
			},
			kind: apperr.Conflict, msg: "device 1001 is being synced by another request; try again shortly", link: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.setup(h)
			_, err := h.svc.Refresh(context.Background(), testScope, h.clients(), "1001")
			e, ok := apperr.As(err)
			if !ok || e.Kind != tc.kind || (tc.msg != "" && e.Message != tc.msg) {
				t.Fatalf("Refresh error = %v, want %s %q", err, tc.kind, tc.msg)
			}
			l, ok := h.links.peek(testScope, "1001")
			if ok != tc.link {
				t.Errorf("link present = %v, want %v", ok, tc.link)
			}
			if ok && tc.kind == apperr.Vendor && (l.State != asset.StateCreating || l.LeaseUntil.After(h.clock.Now())) {
				t.Errorf("after a failed create the link is %s until %v; want a claim whose lease has ended", l.State, l.LeaseUntil)
			}
			if n := h.psa.count("create"); n != 0 && tc.kind != apperr.Vendor {
				t.Errorf("%d creates, want none", n)
			}
		})
	}
}

func TestRefreshWaitsForTheClaimHolder(t *testing.T) {
	h := newHarness(t)
	h.links.put(testScope, asset.Link{DeviceID: "1001", State: asset.StateCreating, LeaseOwner: "other",
		LeaseUntil: h.clock.Now().Add(time.Minute), Version: 1})
	// The holder finishes while this refresh waits: it wrote what this
	// refresh would have written.
	done := asset.ToPSA(laptop(), "250", "31")
	h.clock.onSleep = func() {
		h.links.put(testScope, asset.Link{DeviceID: "1001", OrganizationID: "o1", AssetID: "88", AccountID: "250",
			LocationID: "31", Hash: asset.Hash(done), State: asset.StateLinked, Version: 2})
	}
	res := h.refresh(t, "1001")
	if res.Outcome != importjob.Unchanged || res.Link.AssetID != "88" {
		t.Errorf("Refresh = %s asset %s, want unchanged asset 88", res.Outcome, res.Link.AssetID)
	}
	if n := h.psa.total(); n != 0 {
		t.Errorf("%d PSA requests, want none", n)
	}
}

func TestRefreshRacingUpdate(t *testing.T) {
	tests := []struct {
		name string
		// otherHash is what the concurrent refresh recorded.
		otherHash func(h *harness) string
		wantErr   bool
	}{
		{
			name: "the other refresh wrote the same content",
			otherHash: func(h *harness) string {
				d := laptop()
				d.LastLoggedInUser = `ACME\asmith`
				return asset.Hash(asset.ToPSA(d, "250", "31"))
			},
		},
		{
			name:      "the other refresh wrote something else",
			otherHash: func(*harness) string { return "different" },
			wantErr:   true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			first := h.refresh(t, "1001")
			d := laptop()
			d.LastLoggedInUser = `ACME\asmith`
			h.rmm.set(d)
			once := sync.Once{}
			h.links.afterGet = func() {
				once.Do(func() {
					l := first.Link
					l.Hash, l.Version = tc.otherHash(h), l.Version+1
					h.links.put(testScope, l)
				})
			}
			res, err := h.svc.Refresh(context.Background(), testScope, h.clients(), "1001")
			if tc.wantErr {
				if !apperr.Is(err, apperr.Conflict) {
					t.Errorf("Refresh = %v, want Conflict", err)
				}
				return
			}
			if err != nil || res.Outcome != importjob.Updated {
				t.Errorf("Refresh = %s, %v; want updated", res.Outcome, err)
			}
		})
	}
}

func TestGetAndList(t *testing.T) {
	h := newHarness(t)
	for _, id := range []string{"1003", "1001", "1002"} {
		d := laptop()
		d.ID, d.Name, d.SerialNumber = id, "PC-"+id, "SN-"+id
		if id == "1003" {
			d.OrganizationID = "o2"
			h.maps["o2"] = account.Mapping{OrganizationID: "o2", AccountID: "270", State: account.StateMapped}
		}
		h.rmm.set(d)
		h.refresh(t, id)
	}
	h.links.put(testScope, asset.Link{DeviceID: "1004", State: asset.StateCreating, LeaseOwner: "x",
		LeaseUntil: h.clock.Now().Add(time.Minute)})
	ctx := context.Background()

	got, err := h.svc.Get(ctx, testScope, "1002")
	if err != nil || got.AssetID == "" || got.Name != "PC-1002" {
		t.Errorf("Get(1002) = %+v, %v", got, err)
	}
	for _, id := range []string{"1004", "1999"} {
		if _, err := h.svc.Get(ctx, testScope, id); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Get(%s) = %v, want NotFound", id, err)
		}
	}
	links, _, err := h.svc.List(ctx, testScope, asset.ListQuery{OrganizationID: "o1"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range links {
		ids = append(ids, l.DeviceID)
	}
	if diff := cmp.Diff([]string{"1001", "1002"}, ids); diff != "" {
		t.Errorf("List(o1) (-want +got):\n%s", diff)
	}
}

// fakeRMM stands in for the RMM client.
var _ rmm.DeviceGetter = (*fakeRMM)(nil)
