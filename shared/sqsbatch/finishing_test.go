package sqsbatch_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
)

// TestFinishingHandler: finish runs once after every message and the
// messages it names are reported failed beside those that failed
// themselves, each once.
func TestFinishingHandler(t *testing.T) {
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "a", Body: "ok"}, {MessageId: "b", Body: "fail"}, {MessageId: "c", Body: "ok"}}}
	var order []string
	h := sqsbatch.Processor{Name: "test"}.FinishingHandler(func(_ context.Context, msgs []queuemsg.Message) (sqsbatch.RecordFunc, func(context.Context) []string) {
		if len(msgs) != 3 {
			t.Errorf("start got %d messages, want 3", len(msgs))
		}
		fn := func(_ context.Context, m queuemsg.Message) error {
			order = append(order, m.ID)
			if m.Body == "fail" {
				return errors.New("boom")
			}
			return nil
		}
		finish := func(context.Context) []string {
			order = append(order, "finish")
			return []string{"b", "c"}
		}
		return fn, finish
	})
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"a", "b", "c", "finish"}, order); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if d := cmp.Diff([]string{"b", "c"}, failed); d != "" {
		t.Errorf("failures (-want +got):\n%s", d)
	}
}
