package schedulerfn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

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
