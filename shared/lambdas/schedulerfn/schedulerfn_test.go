package schedulerfn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/scheduler"
)

// TestScheduledPassesTheTick: the EventBridge edge hands the passes the
// event's id and scheduled time, and returns their error (Lambda retries
// a failed asynchronous invocation).
func TestScheduledPassesTheTick(t *testing.T) {
	at := time.Date(2026, 12, 3, 8, 5, 0, 0, time.UTC)
	boom := errors.New("boom")
	var got []scheduler.Tick
	h := Scheduled(scheduler.Passes(
		func(_ context.Context, tk scheduler.Tick) error { got = append(got, tk); return nil },
		func(_ context.Context, tk scheduler.Tick) error { got = append(got, tk); return boom },
	))
	err := h(context.Background(), events.EventBridgeEvent{ID: "ev-1", Time: at, DetailType: "Scheduled Event"})
	if !errors.Is(err, boom) {
		t.Errorf("Scheduled = %v, want the failing pass's error", err)
	}
	want := []scheduler.Tick{{ID: "ev-1", At: at}, {ID: "ev-1", At: at}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ticks (-want +got):\n%s", diff)
	}
}

// TestScheduledRunsInTheImportLane: the scheduled passes' vendor requests
// are background work, in the import lane of their request budgets
// whatever the invocation's context says.
func TestScheduledRunsInTheImportLane(t *testing.T) {
	var got ratelimit.Lane
	h := Scheduled(func(ctx context.Context, _ scheduler.Tick) error {
		got = ratelimit.LaneFrom(ctx)
		return nil
	})
	if err := h(ratelimit.WithLane(context.Background(), ratelimit.LaneAlert), events.EventBridgeEvent{ID: "ev-1"}); err != nil {
		t.Fatal(err)
	}
	if got != ratelimit.LaneImport {
		t.Errorf("the passes ran in lane %s, want import", got)
	}
}
