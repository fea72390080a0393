package lambdafn

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestScheduledDispatch decodes the real-shaped scheduled event of
// events/ through both runtime paths: a function with only a Scheduled
// handler (the runtime decodes it) and one with several (Invoke dispatches
// on "detail-type"). The response is null; a handler error is the
// invocation's error.
func TestScheduledDispatch(t *testing.T) {
	payload, err := os.ReadFile("../../events/scheduler-tick.json")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	var got events.EventBridgeEvent
	var fail error
	scheduled := func(_ context.Context, ev events.EventBridgeEvent) error { got = ev; return fail }
	sqs := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		t.Error("the SQS handler got a scheduled event")
		return events.SQSEventResponse{}, nil
	}
	tests := []struct {
		name string
		h    Handlers
		fail error
	}{
		{name: "scheduled only", h: Handlers{Scheduled: scheduled}},
		{name: "scheduled among others", h: Handlers{Scheduled: scheduled, SQS: sqs}},
		{name: "handler error", h: Handlers{Scheduled: scheduled, SQS: sqs}, fail: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fail = events.EventBridgeEvent{}, tt.fail
			out, err := NewHandler(tt.h).Invoke(context.Background(), payload)
			if tt.fail != nil {
				if err == nil || err.Error() != "boom" {
					t.Fatalf("Invoke = %s, %v; want the handler's error", out, err)
				}
				return
			}
			if err != nil || strings.TrimSpace(string(out)) != "null" {
				t.Fatalf("Invoke = %q, %v; want null", out, err)
			}
			if got.DetailType != "Scheduled Event" || got.Source != "aws.events" || len(got.Resources) != 1 || got.Time.IsZero() {
				t.Errorf("handler saw %+v, want the scheduled event of the file", got)
			}
		})
	}
	t.Run("no scheduled handler", func(t *testing.T) {
		if _, err := (Handlers{SQS: sqs}).Invoke(context.Background(), payload); err == nil {
			t.Error("a function without a Scheduled handler accepted a scheduled event")
		}
	})
}
