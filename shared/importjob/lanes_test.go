package importjob_test

import (
	"context"
	"sync"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// laneOpener records the lane of the contexts the dispatcher opens
// clients with (its vendor requests use the same context).
type laneOpener struct {
	next  *fakeOpener
	mu    sync.Mutex
	lanes []ratelimit.Lane
}

func (o *laneOpener) Open(ctx context.Context, tenantID, integrationID string) (providers.Clients, error) {
	o.mu.Lock()
	o.lanes = append(o.lanes, ratelimit.LaneFrom(ctx))
	o.mu.Unlock()
	return o.next.Open(ctx, tenantID, integrationID)
}

// TestDispatchRunsInTheImportLane: an import's vendor requests wait behind
// alerts and the Sync button, whatever lane the caller's context had.
func TestDispatchRunsInTheImportLane(t *testing.T) {
	r := &fakeRMM{orgs: []rmm.Organization{{ID: "2", Name: "Umbrella"}}, devices: map[string][]rmm.Device{"2": devicesOf("2", 3)}}
	p := newFakePSA()
	h := newHarness(t, r, p)
	open := &laneOpener{next: &fakeOpener{integrationID: integration, rmm: r, psa: p}}
	h.disp = importjob.NewDispatcher(importjob.DispatcherDeps{
		Store: h.store, Tracker: h.tracker,
		Accounts: account.NewService(h.mappings, account.Options{Sleep: noSleep}),
		Opener:   open, Sender: h.sender, Queues: queues, Visibility: h.vis,
		Options: importjob.Options{Sleep: noSleep},
	})
	_, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindAssets, CreateMissingAccounts: ptr(false)})
	for _, m := range msgs {
		if _, err := h.disp.Handle(ratelimit.WithLane(context.Background(), ratelimit.LaneAlert), sqsEvent(t, 1, m)); err != nil {
			t.Fatal(err)
		}
	}
	if len(open.lanes) == 0 {
		t.Fatal("the dispatcher opened no clients")
	}
	for _, l := range open.lanes {
		if l != ratelimit.LaneImport {
			t.Errorf("clients opened in lane %s, want import", l)
		}
	}
}
