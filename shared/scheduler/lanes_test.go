package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// TestHandleRunsInTheImportLane: the scheduled run's vendor requests are
// background work, served after alerts and the Sync button.
func TestHandleRunsInTheImportLane(t *testing.T) {
	w := newWorld(t0.Add(time.Hour))
	w.work = []connection.Integration{integ("i_1")}
	w.addAccount("Acme", -5*time.Minute)
	st := newSetup(w, Options{})
	var mu sync.Mutex
	var lanes []ratelimit.Lane
	open := func(ctx context.Context, tenantID, integrationID string) (Clients, error) {
		mu.Lock()
		lanes = append(lanes, ratelimit.LaneFrom(ctx))
		mu.Unlock()
		return st.open(ctx, tenantID, integrationID)
	}
	st.s = New(w, w, account.NewService(w, account.Options{Now: w.clock}), open, Options{Now: w.clock, Logger: st.s.o.Logger})
	if err := st.s.Handle(ratelimit.WithLane(context.Background(), ratelimit.LaneAlert), events.EventBridgeEvent{ID: "e1"}); err != nil {
		t.Fatal(err)
	}
	if len(lanes) == 0 {
		t.Fatal("the run opened no clients")
	}
	for _, l := range lanes {
		if l != ratelimit.LaneImport {
			t.Errorf("clients opened in lane %s, want import", l)
		}
	}
}
