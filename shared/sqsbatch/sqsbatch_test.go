package sqsbatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
)

// visRecorder records what the processor asks of its queue (the SQS
// requests themselves are tested against moto in sqsqueue and, end to
// end, in shared/lambdas/edgetest).
type visRecorder struct {
	calls   []string
	sent    []sqsqueue.Message
	deleted []string
}

func (v *visRecorder) ChangeVisibility(_ context.Context, _, handle string, d time.Duration) error {
	v.calls = append(v.calls, handle+"@"+d.String())
	return nil
}

func (v *visRecorder) Send(_ context.Context, _ string, m sqsqueue.Message) error {
	v.sent = append(v.sent, m)
	return nil
}

func (v *visRecorder) Delete(_ context.Context, _, handle string) error {
	v.deleted = append(v.deleted, handle)
	return nil
}

func batch(arn string, ids ...string) events.SQSEvent {
	var ev events.SQSEvent
	for _, id := range ids {
		rec := events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, Body: id, EventSourceARN: arn}
		if arn == "arn:aws:sqs:us-east-1:123456789012:alerts.fifo" {
			rec.Attributes = map[string]string{"MessageGroupId": "g"}
		}
		ev.Records = append(ev.Records, rec)
	}
	return ev
}

func withGroups(ev events.SQSEvent) events.SQSEvent {
	for i := range ev.Records {
		ev.Records[i].Attributes = map[string]string{"MessageGroupId": "t_demo"}
	}
	return ev
}

func failures(r events.SQSEventResponse) []string {
	var ids []string
	for _, f := range r.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func TestProcess(t *testing.T) {
	const std = "arn:aws:sqs:us-east-1:123456789012:assets"
	const fifo = "arn:aws:sqs:us-east-1:123456789012:alerts.fifo"
	failOn := func(bad ...string) RecordFunc {
		return func(_ context.Context, rec queuemsg.Message) error {
			for _, b := range bad {
				if rec.Body == b {
					if b == "panic" {
						panic("boom")
					}
					return errors.New("failed " + b)
				}
			}
			return nil
		}
	}
	tests := []struct {
		name string
		ev   events.SQSEvent
		fn   RecordFunc
		want []string
	}{
		{"all succeed", batch(std, "a", "b", "c"), failOn(), nil},
		{"standard: only the failed one", batch(std, "a", "b", "c"), failOn("b"), []string{"b"}},
		{"standard: several", batch(std, "a", "b", "c"), failOn("a", "c"), []string{"a", "c"}},
		{"fifo: failure stops the batch", batch(fifo, "a", "b", "c", "d"), failOn("b"), []string{"b", "c", "d"}},
		{"fair queue (standard with group ids): only the failed one", withGroups(batch(std, "a", "b", "c")), failOn("b"), []string{"b"}},
		{"panic is a failure", batch(std, "a", "panic", "c"), failOn("panic"), []string{"panic"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Processor{Name: "test", Log: slog.New(slog.DiscardHandler)}
			got := failures(p.Process(context.Background(), tc.ev, tc.fn))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
		})
	}
}

func TestThrottledMessageIsDelayed(t *testing.T) {
	vis := &visRecorder{}
	p := Processor{Name: "test", QueueURL: "http://q", Vis: vis, Log: slog.New(slog.DiscardHandler)}
	resp := p.Process(context.Background(), batch("arn:q", "a", "b"), func(_ context.Context, rec queuemsg.Message) error {
		if rec.Body == "a" {
			e := apperr.New(apperr.Throttled, "vendor says wait")
			e.RetryAfter = 90 * time.Second
			return e
		}
		return nil
	})
	if diff := cmp.Diff([]string{"a"}, failures(resp)); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"rh-a@1m30s"}, vis.calls); diff != "" {
		t.Errorf("visibility changes (-want +got):\n%s", diff)
	}
}

// TestThrottledNearTheLimitIsResent: a message held back by the request
// budget is handed back with ChangeMessageVisibility until its
// ResendAt-th receive; from then on it is re-sent as a new message (body,
// group and attributes kept, the hand-back count and first receive added;
// delayed by the wait on a standard queue, with a deduplication id of its
// own on a FIFO queue) and the received copy deleted, so waiting never
// reaches the dead-letter queue. Past MaxHandBacks it is handed back
// only. On a FIFO queue the messages skipped behind a throttled one are
// re-sent the same way near the limit, but not those behind a real
// failure.
func TestThrottledNearTheLimitIsResent(t *testing.T) {
	const std, fifo = "arn:aws:sqs:us-east-1:123456789012:assets", "arn:aws:sqs:us-east-1:123456789012:alerts.fifo"
	throttled := func() error {
		e := apperr.New(apperr.Throttled, "budget says wait")
		e.RetryAfter = 90 * time.Second
		return e
	}
	str := func(v string) events.SQSMessageAttribute {
		return events.SQSMessageAttribute{DataType: "String", StringValue: &v}
	}
	rec := func(arn, id string, receives int, attrs map[string]events.SQSMessageAttribute) events.SQSMessage {
		r := events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, Body: "body-" + id, EventSourceARN: arn, MessageAttributes: attrs,
			Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(receives), "ApproximateFirstReceiveTimestamp": "1796300000000"}}
		if arn == fifo {
			r.Attributes["MessageGroupId"] = "g-" + id[:1]
		}
		return r
	}
	dedup := func(id string) string {
		sum := sha256.Sum256([]byte("resend#" + id))
		return hex.EncodeToString(sum[:])
	}
	const first = "2026-12-03T12:13:20Z"
	tests := []struct {
		name      string
		url       string
		records   []events.SQSMessage
		fail      map[string]error
		wantVis   []string
		wantSent  []sqsqueue.Message
		wantDel   []string
		wantFails []string
	}{
		{name: "before ResendAt: handed back", url: "http://q/assets",
			records: []events.SQSMessage{rec(std, "a1", ResendAt-1, nil)}, fail: map[string]error{"a1": throttled()},
			wantVis: []string{"rh-a1@1m30s"}, wantFails: []string{"a1"}},
		{name: "at ResendAt: re-sent with the wait as delay, received copy deleted", url: "http://q/assets",
			records: []events.SQSMessage{rec(std, "a1", ResendAt, map[string]events.SQSMessageAttribute{"trace": str("x")})}, fail: map[string]error{"a1": throttled()},
			wantSent: []sqsqueue.Message{{Body: "body-a1", Delay: 90 * time.Second,
				Attributes: map[string]string{"trace": "x", AttrHandBacks: strconv.Itoa(ResendAt), AttrFirstReceived: first}}},
			wantDel: []string{"rh-a1"}, wantFails: []string{"a1"}},
		{name: "a re-sent copy counts its earlier copies and keeps the first receive", url: "http://q/assets",
			records: []events.SQSMessage{rec(std, "a1", ResendAt, map[string]events.SQSMessageAttribute{
				AttrHandBacks: str("8"), AttrFirstReceived: str("2026-12-01T00:00:00Z")})}, fail: map[string]error{"a1": throttled()},
			wantSent: []sqsqueue.Message{{Body: "body-a1", Delay: 90 * time.Second,
				Attributes: map[string]string{AttrHandBacks: strconv.Itoa(8 + ResendAt), AttrFirstReceived: "2026-12-01T00:00:00Z"}}},
			wantDel: []string{"rh-a1"}, wantFails: []string{"a1"}},
		{name: "past MaxHandBacks: handed back only, on to the DLQ", url: "http://q/assets",
			records: []events.SQSMessage{rec(std, "a1", ResendAt, map[string]events.SQSMessageAttribute{AttrHandBacks: str(strconv.Itoa(MaxHandBacks - ResendAt + 1))})},
			fail:    map[string]error{"a1": throttled()},
			wantVis: []string{"rh-a1@1m30s"}, wantFails: []string{"a1"}},
		{name: "a real failure at ResendAt is not re-sent", url: "http://q/assets",
			records: []events.SQSMessage{rec(std, "a1", ResendAt, nil)}, fail: map[string]error{"a1": errors.New("boom")},
			wantFails: []string{"a1"}},
		{name: "fifo: throttled and skipped ones near the limit re-sent without delay", url: "http://q/alerts.fifo",
			records: []events.SQSMessage{rec(fifo, "a1", ResendAt, nil), rec(fifo, "a2", ResendAt+1, nil), rec(fifo, "b1", ResendAt-1, nil)},
			fail:    map[string]error{"a1": throttled()},
			wantSent: []sqsqueue.Message{
				{Body: "body-a1", GroupID: "g-a", DedupID: dedup("a1"), Attributes: map[string]string{AttrHandBacks: strconv.Itoa(ResendAt), AttrFirstReceived: first}},
				{Body: "body-a2", GroupID: "g-a", DedupID: dedup("a2"), Attributes: map[string]string{AttrHandBacks: strconv.Itoa(ResendAt + 1), AttrFirstReceived: first}},
			},
			wantDel: []string{"rh-a1", "rh-a2"}, wantFails: []string{"a1", "a2", "b1"}},
		{name: "fifo: skipped behind a real failure: not re-sent", url: "http://q/alerts.fifo",
			records: []events.SQSMessage{rec(fifo, "a1", ResendAt, nil), rec(fifo, "b1", ResendAt, nil)},
			fail:    map[string]error{"a1": errors.New("boom")}, wantFails: []string{"a1", "b1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vis := &visRecorder{}
			p := Processor{Name: "test", QueueURL: tc.url, Vis: vis, Log: slog.New(slog.DiscardHandler)}
			resp := p.Process(context.Background(), events.SQSEvent{Records: tc.records}, func(_ context.Context, m queuemsg.Message) error {
				return tc.fail[m.ID]
			})
			if diff := cmp.Diff(tc.wantFails, failures(resp)); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantVis, vis.calls); diff != "" {
				t.Errorf("visibility changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantSent, vis.sent); diff != "" {
				t.Errorf("re-sent (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantDel, vis.deleted); diff != "" {
				t.Errorf("deleted (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotImplementedFailsEveryMessage(t *testing.T) {
	h := NotImplemented("alert-worker", "alert processing", slog.New(slog.DiscardHandler))
	resp, err := h(context.Background(), batch("arn:q", "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, failures(resp)); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
}

func TestExpiredContextFailsRemaining(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := Processor{Name: "test", Log: slog.New(slog.DiscardHandler)}
	got := failures(p.Process(ctx, batch("arn:q", "a", "b"), func(context.Context, queuemsg.Message) error { return nil }))
	if diff := cmp.Diff([]string{"a", "b"}, got); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
}

// TestMessagesAndBatchHandler: the edge hands the domain plain messages
// with their receive counts, lets a batch worker see the whole batch
// first, and answers an empty (never null) failure list on success.
func TestMessagesAndBatchHandler(t *testing.T) {
	ev := batch("arn:aws:sqs:us-east-1:123456789012:alerts.fifo", "a", "b")
	ev.Records[0].Attributes = map[string]string{"ApproximateReceiveCount": "3"}
	ev.Records[1].Attributes = map[string]string{"ApproximateReceiveCount": "junk"}
	earlier := "8"
	ev.Records[1].MessageAttributes = map[string]events.SQSMessageAttribute{AttrHandBacks: {DataType: "String", StringValue: &earlier}}
	want := []queuemsg.Message{{ID: "a", Body: "a", Receives: 3}, {ID: "b", Body: "b", Receives: 1, Earlier: 8}}
	if diff := cmp.Diff(want, Messages(ev)); diff != "" {
		t.Errorf("Messages (-want +got):\n%s", diff)
	}
	var prepared []queuemsg.Message
	var processed []string
	h := Processor{Name: "test", Log: slog.New(slog.DiscardHandler)}.BatchHandler(
		func(_ context.Context, msgs []queuemsg.Message) RecordFunc {
			prepared = msgs
			return func(_ context.Context, m queuemsg.Message) error {
				processed = append(processed, m.ID)
				return nil
			}
		})
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Errorf("failures = %#v, want an empty list", resp.BatchItemFailures)
	}
	if diff := cmp.Diff(want, prepared); diff != "" {
		t.Errorf("prepared (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b"}, processed); diff != "" {
		t.Errorf("processed (-want +got):\n%s", diff)
	}
}

// TestProcessorLane: a Processor with a Lane runs its worker (and a batch
// worker's prepare) in that lane of the request budget whatever the
// caller's context says; without one the caller's lane stands.
func TestProcessorLane(t *testing.T) {
	caller := ratelimit.WithLane(context.Background(), ratelimit.LaneSync)
	tests := []struct {
		name string
		lane ratelimit.Lane
		want ratelimit.Lane
	}{
		{"alert worker", ratelimit.LaneAlert, ratelimit.LaneAlert},
		{"import worker", ratelimit.LaneImport, ratelimit.LaneImport},
		{"no lane keeps the caller's", 0, ratelimit.LaneSync},
	}
	for _, tc := range tests {
		var got []ratelimit.Lane
		record := func(ctx context.Context, _ queuemsg.Message) error {
			got = append(got, ratelimit.LaneFrom(ctx))
			return nil
		}
		p := Processor{Name: "test", Lane: tc.lane, Log: slog.New(slog.DiscardHandler)}
		if _, err := p.Handler(record)(caller, batch("arn:aws:sqs:us-east-1:1:q", "m1")); err != nil {
			t.Fatal(err)
		}
		prepare := func(ctx context.Context, _ []queuemsg.Message) RecordFunc {
			got = append(got, ratelimit.LaneFrom(ctx))
			return record
		}
		if _, err := p.BatchHandler(prepare)(caller, batch("arn:aws:sqs:us-east-1:1:q.fifo", "m1")); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]ratelimit.Lane{tc.want, tc.want, tc.want}, got); diff != "" {
			t.Errorf("%s: lanes (-want +got):\n%s", tc.name, diff)
		}
	}
}
