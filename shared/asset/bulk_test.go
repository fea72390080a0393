package asset_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
)

// none is the import index's "nothing in account 250" answer, now.
func none(h *harness) *queuemsg.AssetMatch {
	return &queuemsg.AssetMatch{By: importjob.MatchNone, AccountID: "250", AsOf: h.clock.Now()}
}

// ours is an asset the dead worker created for device 1001 in account 250.
func ours() psa.Asset {
	return psa.Asset{ID: "777", AccountID: "250", Name: "ACME-LT-042", ExternalRef: "1001", SerialNumber: "5CG3211XYZ"}
}

// TestRefreshKnown checks the import's bulk path: a snapshot and the
// index's answer replace the RMM read and the PSA lookups for a device
// with no link, and every other state — a claim whose owner died after
// creating the asset, a redelivered message, an answer about another
// account or too old — runs the full ladder and adopts, never creates a
// second asset.
func TestRefreshKnown(t *testing.T) {
	tests := []struct {
		name     string
		existing []psa.Asset
		setup    func(h *harness)
		match    func(h *harness) *queuemsg.AssetMatch
		outcome  importjob.Outcome
		assetID  string
		calls    map[string]int
	}{
		{
			name: "none: created under the claim, no lookup", match: none,
			outcome: importjob.Created, assetID: "501", calls: map[string]int{"create": 1},
		},
		{
			name: "none, but a claim whose owner died after creating: adopted", existing: []psa.Asset{ours()},
			setup: func(h *harness) {
				h.links.put(testScope, asset.Link{DeviceID: "1001", OrganizationID: "o1", State: asset.StateCreating,
					LeaseOwner: "dead", LeaseUntil: h.clock.Now().Add(-time.Second), Version: 1})
			},
			match:   none,
			outcome: importjob.Linked, assetID: "777", calls: map[string]int{"findByRef": 1, "update": 1},
		},
		{
			name: "none about another account: the ladder", existing: []psa.Asset{ours()},
			match: func(h *harness) *queuemsg.AssetMatch {
				m := none(h)
				m.AccountID = "999"
				return m
			},
			outcome: importjob.Linked, assetID: "777", calls: map[string]int{"findByRef": 1, "update": 1},
		},
		{
			name: "an answer older than MatchMaxAge: the ladder", existing: []psa.Asset{ours()},
			match: func(h *harness) *queuemsg.AssetMatch {
				m := none(h)
				m.AsOf = h.clock.Now().Add(-time.Hour)
				return m
			},
			outcome: importjob.Linked, assetID: "777", calls: map[string]int{"findByRef": 1, "update": 1},
		},
		{
			name: "by our reference: adopted without lookups", existing: []psa.Asset{ours()},
			match: func(h *harness) *queuemsg.AssetMatch {
				return &queuemsg.AssetMatch{By: importjob.MatchByExternalRef, AssetID: "777", AccountID: "250", AsOf: h.clock.Now()}
			},
			outcome: importjob.Linked, assetID: "777", calls: map[string]int{"update": 1},
		},
		{
			name: "tie: review without lookups",
			match: func(h *harness) *queuemsg.AssetMatch {
				return &queuemsg.AssetMatch{By: importjob.MatchTie, Candidates: []string{"61", "62"}, AccountID: "250", AsOf: h.clock.Now()}
			},
			outcome: importjob.Review, calls: map[string]int{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.existing...)
			if tc.setup != nil {
				tc.setup(h)
			}
			h.psa.reset()
			d := laptop()
			res, err := h.svc.RefreshKnown(context.Background(), testScope, h.clients(), "1001",
				asset.Known{Device: &d, Match: tc.match(h), Import: true})
			if err != nil {
				t.Fatalf("RefreshKnown: %v", err)
			}
			if res.Outcome != tc.outcome || res.Link.AssetID != tc.assetID {
				t.Errorf("outcome %s, asset %q; want %s, %q (%s)", res.Outcome, res.Link.AssetID, tc.outcome, tc.assetID, res.Reason)
			}
			if d := cmp.Diff(tc.calls, h.psa.calls()); d != "" {
				t.Errorf("PSA calls (-want +got):\n%s", d)
			}
			if n := h.rmm.calls(); n != 0 {
				t.Errorf("%d RMM reads; the snapshot needs none", n)
			}
			if n := len(h.psa.find(func(a psa.Asset) bool { return a.ExternalRef == "1001" })); tc.outcome != importjob.Review && n != 1 {
				t.Errorf("%d PSA assets carry the device's reference, want 1", n)
			}
		})
	}
}

// TestRefreshKnownAfterAnAmbiguousCreate: a create that failed (and may
// have been applied) leaves a claim with an ended lease, so a second
// message of the same device carrying the same "none" (a redelivered
// organization fanned out twice) runs the ladder and adopts the asset.
func TestRefreshKnownAfterAnAmbiguousCreate(t *testing.T) {
	h := newHarness(t)
	h.psa.fail = func(op string) error {
		if op == "create" {
			h.psa.fail = nil
			h.psa.put(psa.Asset{AccountID: "250", Name: "ACME-LT-042", ExternalRef: "1001", SerialNumber: "5CG3211XYZ"})
			return apperr.New(apperr.Unavailable, "504 after the write")
		}
		return nil
	}
	d := laptop()
	k := asset.Known{Device: &d, Match: none(h), Import: true}
	if _, err := h.svc.RefreshKnown(context.Background(), testScope, h.clients(), "1001", k); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("first refresh error = %v, want the PSA's 504", err)
	}
	res, err := h.svc.RefreshKnown(context.Background(), testScope, h.clients(), "1001", k)
	if err != nil {
		t.Fatalf("second refresh: %v", err)
	}
	if res.Outcome != importjob.Linked {
		t.Errorf("second refresh %s, want linked (adopted)", res.Outcome)
	}
	if n := len(h.psa.find(func(a psa.Asset) bool { return a.ExternalRef == "1001" })); n != 1 {
		t.Errorf("%d PSA assets carry the device's reference, want 1", n)
	}
}

// TestWorkerRedeliveryRunsTheLadder: the worker trusts an AssetMessage's
// "none" only on its first receive; a redelivered one (its first delivery
// may have created the asset and died before recording anything) adopts,
// and so does the first receive of a copy re-sent after hand-backs for
// the request budget (Earlier receives).
func TestWorkerRedeliveryRunsTheLadder(t *testing.T) {
	for _, tc := range []struct {
		receives, earlier int
		outcome           importjob.Outcome
		creates           int
	}{{1, 0, importjob.Created, 1}, {2, 0, importjob.Linked, 0}, {1, 4, importjob.Linked, 0}} {
		h := newHarness(t, ours())
		h.psa.reset()
		d := laptop()
		body, _ := json.Marshal(queuemsg.AssetRefresh{TenantID: testScope.TenantID, IntegrationID: testScope.IntegrationID,
			JobID: "j_1", DeviceID: "1001", Reason: "import", Device: &d, Match: none(h)})
		rec := &memRecorder{}
		w := asset.NewWorker(h.svc, func(context.Context, string, string) (asset.Clients, error) { return h.clients(), nil }, rec, nil)
		fn, finish := w.Batch(context.Background(), nil)
		if err := fn(context.Background(), queuemsg.Message{ID: "m1", Body: string(body), Receives: tc.receives, Earlier: tc.earlier}); err != nil {
			t.Fatalf("receive %d: %v", tc.receives, err)
		}
		if back := finish(context.Background()); len(back) != 0 {
			t.Errorf("receive %d: finish handed back %v", tc.receives, back)
		}
		// (The first receive's "none" was wrong on purpose: the asset
		// exists. Trusting it is the point of the bulk path; the
		// redelivery must not.)
		if got := rec.outcome("1001"); got != tc.outcome || h.psa.count("create") != tc.creates {
			t.Errorf("receive %d (%d earlier): outcome %s with %d creates, want %s with %d", tc.receives, tc.earlier, got, h.psa.count("create"), tc.outcome, tc.creates)
		}
		if h.rmm.calls() != 0 {
			t.Errorf("receive %d: %d RMM reads, want none (the snapshot)", tc.receives, h.rmm.calls())
		}
	}
}

// memRecorder records outcomes without the completion check and counts
// the checks (importjob.Tracker's deferred pair).
type memRecorder struct {
	items  map[string]importjob.Outcome
	checks int
}

func (r *memRecorder) Record(ctx context.Context, tenantID, integrationID, jobID string, it importjob.Item) error {
	r.checks++
	return r.RecordUnchecked(ctx, tenantID, integrationID, jobID, it)
}

func (r *memRecorder) RecordUnchecked(_ context.Context, _, _, _ string, it importjob.Item) error {
	if r.items == nil {
		r.items = map[string]importjob.Outcome{}
	}
	r.items[it.Key] = it.Status
	return nil
}

func (r *memRecorder) CheckDone(context.Context, importjob.Ref) (importjob.Job, error) {
	r.checks++
	return importjob.Job{}, nil
}

func (r *memRecorder) outcome(key string) importjob.Outcome { return r.items[key] }

// TestWorkerBatchChecksEachJobOnce: a batch records each outcome and
// checks the job's completion once, after the last.
func TestWorkerBatchChecksEachJobOnce(t *testing.T) {
	h := newHarness(t)
	rec := &memRecorder{}
	w := asset.NewWorker(h.svc, func(context.Context, string, string) (asset.Clients, error) { return h.clients(), nil }, rec, nil)
	fn, finish := w.Batch(context.Background(), nil)
	for i := range 3 {
		body, _ := json.Marshal(importMsg("1001"))
		if err := fn(context.Background(), queuemsg.Message{ID: "m" + string(rune('0'+i)), Body: string(body), Receives: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if rec.checks != 0 {
		t.Errorf("%d completion checks before the batch ended, want 0", rec.checks)
	}
	finish(context.Background())
	if rec.checks != 1 {
		t.Errorf("%d completion checks after the batch, want 1", rec.checks)
	}
}

// TestClaimEndsAfterTheDeadline: a claim taken under a deadline (the
// function's timeout) ends 10 s after it, not a full lease later.
func TestClaimEndsAfterTheDeadline(t *testing.T) {
	h := newHarness(t)
	var during asset.Link
	h.psa.fail = func(op string) error {
		if op == "create" {
			during, _ = h.links.peek(testScope, "1001")
		}
		return nil
	}
	deadline := h.clock.Now().Add(20 * time.Second)
	ctx := deadlineCtx{Context: context.Background(), at: deadline}
	d := laptop()
	if _, err := h.svc.RefreshKnown(ctx, testScope, h.clients(), "1001", asset.Known{Device: &d, Match: none(h), Import: true}); err != nil {
		t.Fatal(err)
	}
	want := deadline.UTC().Add(10 * time.Second).Truncate(time.Millisecond)
	if during.State != asset.StateCreating || !during.LeaseUntil.Equal(want) {
		t.Errorf("claim during the create: %s until %v; want creating until %v", during.State, during.LeaseUntil, want)
	}
}

// deadlineCtx reports a deadline on the harness's clock without ever
// being done.
type deadlineCtx struct {
	context.Context
	at time.Time
}

func (c deadlineCtx) Deadline() (time.Time, bool) { return c.at, true }
