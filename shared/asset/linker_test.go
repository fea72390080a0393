package asset_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/dattormm"
	"github.com/rmmbridge/rmmbridge/shared/vendors/dattormm/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// linkingRMM is the fake RMM with the AssetLinker role, recording its
// calls and failing them while fail is set.
type linkingRMM struct {
	*fakeRMM
	mu    sync.Mutex
	calls []string // "device=asset"
	fail  error
}

func (l *linkingRMM) LinkAsset(_ context.Context, deviceID, assetID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, deviceID+"="+assetID)
	return l.fail
}

func (l *linkingRMM) took() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

// TestAssetLinker: an RMM client offering asset.AssetLinker (found through
// the capability wrapper, as providers hand clients out) is given the
// asset id when a device is linked to a new or an adopted asset, and only
// then: refreshes of a linked device, changed or not, do not call it; an
// asset deleted in the PSA and created again is a new link and is written.
// A refusal is logged and recorded in the Result's Reason but fails
// nothing: the link is stored and the next refresh is an ordinary one.
func TestAssetLinker(t *testing.T) {
	h := newHarness(t, psa.Asset{ID: "777", AccountID: "250", Name: "ACME-LT-043", SerialNumber: "ADOPT-1"})
	var logs bytes.Buffer
	h.svc = asset.NewService(h.links, h.maps, asset.Options{Now: h.clock.Now, Sleep: h.clock.Sleep,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	lr := &linkingRMM{fakeRMM: h.rmm}
	c := asset.Clients{RMM: vendorspec.WithRMM(lr, vendorspec.Set{Provider: "dattormm", Kind: vendorspec.KindRMM}), PSA: h.psa}
	ctx := context.Background()
	refresh := func(id string) asset.Result {
		t.Helper()
		res, err := h.svc.Refresh(ctx, testScope, c, id)
		if err != nil {
			t.Fatalf("Refresh(%s): %v", id, err)
		}
		h.clock.advance(time.Minute)
		return res
	}

	if res := refresh("1001"); res.Outcome != importjob.Created || res.Reason != "" {
		t.Fatalf("first refresh: %s %q", res.Outcome, res.Reason)
	}
	refresh("1001") // unchanged
	d := laptop()
	d.LastLoggedInUser = `ACME\other`
	h.rmm.set(d)
	if res := refresh("1001"); res.Outcome != importjob.Updated {
		t.Fatalf("changed device: %s", res.Outcome)
	}
	// Adopted by serial number.
	adopt := laptop()
	adopt.ID, adopt.Name, adopt.SerialNumber = "1002", "ACME-LT-043", "ADOPT-1"
	h.rmm.set(adopt)
	if res := refresh("1002"); res.Outcome != importjob.Linked {
		t.Fatalf("adopting refresh: %s", res.Outcome)
	}
	// The asset deleted in the PSA: dropped and created again.
	first, _ := h.links.peek(testScope, "1001")
	h.psa.remove(first.AssetID)
	d.LastLoggedInUser = `ACME\third`
	h.rmm.set(d)
	res := refresh("1001")
	if res.Outcome != importjob.Created || res.Link.AssetID == first.AssetID {
		t.Fatalf("after the asset was deleted: %s asset %s", res.Outcome, res.Link.AssetID)
	}
	want := []string{"1001=" + first.AssetID, "1002=777", "1001=" + res.Link.AssetID}
	if diff := cmp.Diff(want, lr.took()); diff != "" {
		t.Errorf("LinkAsset calls (-want +got):\n%s", diff)
	}

	// A refusal: recorded and logged, the link stands.
	lr.fail = errors.New("udf write refused (403)")
	third := laptop()
	third.ID, third.Name, third.SerialNumber = "1003", "ACME-LT-044", "NEW-3"
	h.rmm.set(third)
	res = refresh("1003")
	if res.Outcome != importjob.Created || !strings.Contains(res.Reason, "udf write refused") || !strings.Contains(res.Reason, res.Link.AssetID) {
		t.Errorf("refused LinkAsset: %s %q, want Created with the reason", res.Outcome, res.Reason)
	}
	if l, ok := h.links.peek(testScope, "1003"); !ok || l.State != asset.StateLinked || l.AssetID != res.Link.AssetID {
		t.Errorf("link after a refused LinkAsset: %+v %v", l, ok)
	}
	if !strings.Contains(logs.String(), `"deviceId":"1003"`) || !strings.Contains(logs.String(), "udf write refused") {
		t.Errorf("the refusal was not logged: %s", logs.String())
	}
	lr.fail = nil
	if res := refresh("1003"); res.Outcome != importjob.Unchanged || res.Reason != "" || len(lr.took()) != 4 {
		t.Errorf("refresh after the refusal: %s %q, %d LinkAsset calls (want Unchanged, none new)", res.Outcome, res.Reason, len(lr.took()))
	}

	// Without the role nothing is asked.
	plain := newHarness(t)
	if res := plain.refresh(t, "1001"); res.Outcome != importjob.Created || res.Reason != "" {
		t.Errorf("an RMM without AssetLinker: %s %q", res.Outcome, res.Reason)
	}
}

// TestAssetLinkerDatto: with Datto RMM's assetUdf setting, importing a
// device writes its PSA asset id to that UDF in the sandbox; refreshing it
// again sends no UDF write at all.
func TestAssetLinkerDatto(t *testing.T) {
	sb := sandbox.New(sandbox.Options{Seed: 4, Sites: 1, Devices: 3, SlowDelay: -1, Epoch: time.Now().Add(-time.Hour)})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	key, secret := sb.Credentials()
	dc, err := dattormm.New(dattormm.Config{BaseURL: base, APIKey: key, APISecret: secret, AssetUDF: 12,
		Sleep: func(context.Context, time.Duration) error { return nil }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	site := sb.Sites()[0].UID
	p := newFakePSA()
	svc := asset.NewService(newMemLinks(), memMaps{site: {OrganizationID: site, AccountID: "250", State: account.StateMapped}},
		asset.Options{Logger: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))})
	c := asset.Clients{RMM: vendorspec.WithRMM(dc, vendorspec.Set{Provider: "dattormm", Kind: vendorspec.KindRMM}), PSA: p}
	ctx := context.Background()
	const udfRoute = "POST /api/v2/device/{uid}/udf"
	ids := map[string]string{}
	for _, d := range sb.Devices() {
		res, err := svc.RefreshKnown(ctx, testScope, c, d.UID, asset.Known{Import: true})
		if err != nil {
			t.Fatalf("import of %s: %v", d.UID, err)
		}
		if res.Outcome != importjob.Created || res.Reason != "" {
			t.Fatalf("import of %s: %s %q", d.UID, res.Outcome, res.Reason)
		}
		ids[d.UID] = res.Link.AssetID
	}
	for _, d := range sb.Devices() {
		if got := d.UDF["udf12"]; got != ids[d.UID] || got == "" {
			t.Errorf("device %s udf12 = %q, want its asset id %q", d.UID, got, ids[d.UID])
		}
	}
	writes := sb.Requests()[udfRoute]
	if writes != int64(len(ids)) {
		t.Errorf("%d UDF writes for %d new assets", writes, len(ids))
	}
	for uid := range ids {
		res, err := svc.Refresh(ctx, testScope, c, uid)
		if err != nil || res.Outcome != importjob.Unchanged {
			t.Fatalf("second refresh of %s: %v %v", uid, res.Outcome, err)
		}
	}
	if got := sb.Requests()[udfRoute]; got != writes {
		t.Errorf("the second refresh wrote the UDF %d times, want none", got-writes)
	}
}
