package dynamostore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

var assetScope = tenancy.Scope{TenantID: "t_a", IntegrationID: "i_a"}

func linkedAsset(deviceID, orgID, assetID string, version int64) asset.Link {
	at := time.Date(2026, 11, 21, 9, 0, 0, 123_000_000, time.UTC)
	return asset.Link{DeviceID: deviceID, OrganizationID: orgID, AssetID: assetID, AccountID: "250", LocationID: "31",
		Hash: "h-" + deviceID, State: asset.StateLinked, Version: version, LastSyncedAt: at, Name: "PC-" + deviceID,
		SerialNumber: "SN-" + deviceID, OS: "Windows 11 Pro", LastLoggedInUser: `ACME\jdoe`,
		LastCheckIn: at.Add(-time.Hour).Truncate(time.Second),
		Storage: asset.Storage{TotalBytes: 500, FreeBytes: 200, Volumes: []asset.Volume{
			{Name: "C:", CapacityBytes: 300, FreeBytes: 100}, {Name: "D:", CapacityBytes: 200, FreeBytes: 100}}}}
}

func TestAssetsRepositoryClaimAndFinalize(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewAssets(s)
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	claim := asset.Link{DeviceID: "1001", OrganizationID: "o1", State: asset.StateCreating, LeaseOwner: "w1",
		LeaseUntil: now.Add(90 * time.Second), Version: 1, Storage: asset.Storage{Volumes: []asset.Volume{}}}

	if _, err := r.GetLink(ctx, assetScope, "1001"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("GetLink before any write = %v, want NotFound", err)
	}
	if err := r.ClaimLink(ctx, assetScope, claim, now); err != nil {
		t.Fatal(err)
	}
	rival := claim
	rival.LeaseOwner = "w2"
	if err := r.ClaimLink(ctx, assetScope, rival, now.Add(time.Second)); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("second claim while the lease holds = %v, want Conflict", err)
	}
	got, err := r.GetLink(ctx, assetScope, "1001")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(claim, got); diff != "" {
		t.Errorf("claim (-want +got):\n%s", diff)
	}

	final := linkedAsset("1001", "o1", "501", 2)
	if err := r.PutLink(ctx, assetScope, final, asset.Precondition{Owner: "w2"}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("finalize with another owner = %v, want Conflict", err)
	}
	if err := r.PutLink(ctx, assetScope, final, asset.Precondition{Owner: "w1"}); err != nil {
		t.Fatal(err)
	}
	got, err = r.GetLink(ctx, assetScope, "1001")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(final, got); diff != "" {
		t.Errorf("final link (-want +got):\n%s", diff)
	}
	if err := r.ClaimLink(ctx, assetScope, rival, now.Add(time.Hour)); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("claim over a final link = %v, want Conflict", err)
	}
	if err := r.PutLink(ctx, assetScope, final, asset.Precondition{Owner: "w1"}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("finalize twice = %v, want Conflict (the claim is gone)", err)
	}

	// Version-conditioned updates: only the version read may be replaced.
	next := final
	next.Hash, next.Version = "h-new", 3
	if err := r.PutLink(ctx, assetScope, next, asset.Precondition{Version: 1}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("put over a stale version = %v, want Conflict", err)
	}
	if err := r.PutLink(ctx, assetScope, next, asset.Precondition{Version: 2}); err != nil {
		t.Fatal(err)
	}

	byAsset, err := r.LinksByAsset(ctx, assetScope, "501")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]asset.Link{next}, byAsset); diff != "" {
		t.Errorf("LinksByAsset (-want +got):\n%s", diff)
	}
	other := tenancy.Scope{TenantID: "t_b", IntegrationID: "i_a"}
	if _, err := r.GetLink(ctx, other, "1001"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("another tenant's link = %v, want NotFound", err)
	}

	if err := r.DeleteLink(ctx, assetScope, "1001", asset.Precondition{Version: 2}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("delete at a stale version = %v, want Conflict", err)
	}
	if err := r.DeleteLink(ctx, assetScope, "1001", asset.Precondition{Version: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetLink(ctx, assetScope, "1001"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("GetLink after delete = %v, want NotFound", err)
	}
	if byAsset, err := r.LinksByAsset(ctx, assetScope, "501"); err != nil || len(byAsset) != 0 {
		t.Errorf("LinksByAsset after delete = %v, %v; want none", byAsset, err)
	}
}

func TestAssetsRepositoryExpiredClaim(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewAssets(s)
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	dead := asset.Link{DeviceID: "1001", State: asset.StateCreating, LeaseOwner: "dead", LeaseUntil: now, Version: 1}
	if err := r.ClaimLink(ctx, assetScope, dead, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	takeover := asset.Link{DeviceID: "1001", State: asset.StateCreating, LeaseOwner: "w2", LeaseUntil: now.Add(time.Minute), Version: 2}
	if err := r.ClaimLink(ctx, assetScope, takeover, now.Add(-time.Millisecond)); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("claim before the lease ends = %v, want Conflict", err)
	}
	if err := r.ClaimLink(ctx, assetScope, takeover, now.Add(time.Millisecond)); err != nil {
		t.Errorf("claim after the lease ended = %v, want success", err)
	}
	// The dead owner can no longer finalize or release.
	if err := r.PutLink(ctx, assetScope, linkedAsset("1001", "o1", "9", 2), asset.Precondition{Owner: "dead"}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("finalize by the expired owner = %v, want Conflict", err)
	}
	if err := r.DeleteLink(ctx, assetScope, "1001", asset.Precondition{Owner: "dead"}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("release by the expired owner = %v, want Conflict", err)
	}
	if err := r.DeleteLink(ctx, assetScope, "1001", asset.Precondition{Owner: "w2"}); err != nil {
		t.Errorf("release by the owner = %v", err)
	}
}

func TestAssetsRepositoryList(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewAssets(s)
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	// Devices 1000..1011: even ones in o1, odd ones in o2; 1005 is still
	// being created and never listed.
	for i := range 12 {
		id := fmt.Sprintf("10%02d", i)
		org := "o1"
		if i%2 == 1 {
			org = "o2"
		}
		if i == 5 {
			c := asset.Link{DeviceID: id, OrganizationID: org, State: asset.StateCreating, LeaseOwner: "w", LeaseUntil: now.Add(time.Minute), Version: 1}
			if err := r.ClaimLink(ctx, assetScope, c, now); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := s.Put(ctx, toLinkItem(assetScope, linkedAsset(id, org, "5"+id, 1)), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Another integration's link stays out.
	if err := s.Put(ctx, toLinkItem(tenancy.Scope{TenantID: "t_a", IntegrationID: "i_b"}, linkedAsset("1099", "o1", "9", 1)), nil); err != nil {
		t.Fatal(err)
	}
	all := func(q asset.ListQuery) (ids []string, pages int) {
		t.Helper()
		for {
			links, next, err := r.ListLinks(ctx, assetScope, q)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(links) > q.Limit {
				t.Fatalf("page of %d items, limit %d", len(links), q.Limit)
			}
			for _, l := range links {
				ids = append(ids, l.DeviceID)
			}
			if next == "" {
				return ids, pages
			}
			q.Cursor = next
		}
	}
	tests := []struct {
		name  string
		q     asset.ListQuery
		want  []string
		pages int
	}{
		{"everything in pages of 4", asset.ListQuery{Limit: 4},
			[]string{"1000", "1001", "1002", "1003", "1004", "1006", "1007", "1008", "1009", "1010", "1011"}, 3},
		{"one organization in pages of 2", asset.ListQuery{OrganizationID: "o2", Limit: 2},
			[]string{"1001", "1003", "1007", "1009", "1011"}, 3},
		{"one organization in one page", asset.ListQuery{OrganizationID: "o1", Limit: 50},
			[]string{"1000", "1002", "1004", "1006", "1008", "1010"}, 1},
		{"an organization with no devices", asset.ListQuery{OrganizationID: "o3", Limit: 5}, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids, pages := all(tc.q)
			if diff := cmp.Diff(tc.want, ids); diff != "" {
				t.Errorf("listed devices (-want +got):\n%s", diff)
			}
			if pages != tc.pages {
				t.Errorf("%d pages, want %d", pages, tc.pages)
			}
		})
	}
	t.Run("a cursor of another integration is refused", func(t *testing.T) {
		_, next, err := r.ListLinks(ctx, assetScope, asset.ListQuery{Limit: 1})
		if err != nil || next == "" {
			t.Fatalf("first page: next %q, %v", next, err)
		}
		_, _, err = r.ListLinks(ctx, tenancy.Scope{TenantID: "t_a", IntegrationID: "i_b"}, asset.ListQuery{Limit: 1, Cursor: next})
		if !apperr.Is(err, apperr.Malformed) {
			t.Errorf("foreign cursor = %v, want Malformed (a bad query parameter)", err)
		}
	})
}

// TestAssetsLinkedDevices: which devices have a final link, read in
// batches of 100 keys (here 250: three requests), claims and other
// integrations' links not counted; and a zero-time claim takes only a
// device with nothing stored, not one whose claim has ended.
func TestAssetsLinkedDevices(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewAssets(s)
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	var ids []string
	want := map[string]bool{}
	for i := range 250 {
		id := fmt.Sprintf("d%03d", i)
		ids = append(ids, id)
		switch i % 5 {
		case 0, 1:
			if err := r.ClaimLink(ctx, assetScope, asset.Link{DeviceID: id, State: asset.StateCreating, LeaseOwner: "w", LeaseUntil: now, Version: 1}, now); err != nil {
				t.Fatal(err)
			}
			if i%5 == 0 {
				if err := r.PutLink(ctx, assetScope, linkedAsset(id, "o1", "a"+id, 2), asset.Precondition{Owner: "w"}); err != nil {
					t.Fatal(err)
				}
				want[id] = true
			}
		case 2:
			other := tenancy.Scope{TenantID: "t_a", IntegrationID: "i_b"}
			if err := r.ClaimLink(ctx, other, asset.Link{DeviceID: id, State: asset.StateCreating, LeaseOwner: "w", LeaseUntil: now, Version: 1}, now); err != nil {
				t.Fatal(err)
			}
			if err := r.PutLink(ctx, other, linkedAsset(id, "o1", "a"+id, 2), asset.Precondition{Owner: "w"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := s.Ops()
	got, err := r.LinkedDevices(ctx, assetScope, ids)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("linked devices (-want +got):\n%s", d)
	}
	if n := s.Ops() - before; n != 3 {
		t.Errorf("%d requests for 250 devices, want 3", n)
	}
	// d001's claim has ended (LeaseUntil = now): a normal claim takes it,
	// a zero-time claim does not; d003 has nothing stored: both do.
	if err := r.ClaimLink(ctx, assetScope, asset.Link{DeviceID: "d001", State: asset.StateCreating, LeaseOwner: "x", LeaseUntil: now.Add(time.Hour), Version: 2}, time.Time{}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("zero-time claim over an ended claim: %v, want Conflict", err)
	}
	if err := r.ClaimLink(ctx, assetScope, asset.Link{DeviceID: "d003", State: asset.StateCreating, LeaseOwner: "x", LeaseUntil: now.Add(time.Hour), Version: 1}, time.Time{}); err != nil {
		t.Errorf("zero-time claim of a device with nothing stored: %v", err)
	}
	if err := r.ClaimLink(ctx, assetScope, asset.Link{DeviceID: "d001", State: asset.StateCreating, LeaseOwner: "x", LeaseUntil: now.Add(time.Hour), Version: 2}, now.Add(time.Second)); err != nil {
		t.Errorf("claim over an ended claim: %v", err)
	}
}
