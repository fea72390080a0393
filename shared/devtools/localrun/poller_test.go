package localrun

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
)

// deliveries records what an SQS handler saw: each body's receive counts
// in order, and each batch's bodies.
type deliveries struct {
	mu      sync.Mutex
	counts  map[string][]string
	batches [][]string
	records []events.SQSMessage
}

func (d *deliveries) add(ev events.SQSEvent) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.counts == nil {
		d.counts = map[string][]string{}
	}
	var bodies []string
	for _, r := range ev.Records {
		d.counts[r.Body] = append(d.counts[r.Body], r.Attributes["ApproximateReceiveCount"])
		bodies = append(bodies, r.Body)
		d.records = append(d.records, r)
	}
	sort.Strings(bodies)
	d.batches = append(d.batches, bodies)
}

func (d *deliveries) seen(body string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.counts[body])
}

func (d *deliveries) snapshot() (map[string][]string, [][]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := map[string][]string{}
	for k, v := range d.counts {
		c[k] = append([]string(nil), v...)
	}
	return c, append([][]string(nil), d.batches...)
}

func TestSQSPartialBatchFailure(t *testing.T) {
	f := &fakeFuncs{}
	d := &deliveries{}
	f.Work = func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		d.add(ev)
		var resp events.SQSEventResponse
		for _, r := range ev.Records {
			if r.Body == "bad" && r.Attributes["ApproximateReceiveCount"] == "1" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		return resp, nil
	}
	logs := &syncBuffer{}
	o := testOptions(t, f, logs)
	o.Pollers = 1
	s := start(t, o, logs)
	c := sqs.NewFromConfig(o.AWS)
	url := s.QueueURL("WorkQueue")
	// Queue the three while no poller runs, so that they arrive as one batch.
	s = restartWith(t, s, o, logs, func() {
		_, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("a"),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("x")}}})
		if err != nil {
			t.Fatal(err)
		}
		sendMessages(t, c, url, "bad", "c")
	})

	waitFor(t, 10*time.Second, "the failed message's redelivery and an empty queue", func() bool {
		return d.seen("bad") >= 2 && queueDepth(t, c, url) == 0
	})
	counts, batches := d.snapshot()
	if diff := cmp.Diff(map[string][]string{"a": {"1"}, "bad": {"1", "2"}, "c": {"1"}}, counts); diff != "" {
		t.Errorf("receive counts per message (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"a", "bad", "c"}, {"bad"}}, batches); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}

	t.Run("records are shaped as Lambda sends them", func(t *testing.T) {
		d.mu.Lock()
		defer d.mu.Unlock()
		arn := s.Env("ApiFunction")["WORK_QUEUE_ARN"]
		for _, r := range d.records {
			sum := md5.Sum([]byte(r.Body))
			if r.EventSource != "aws:sqs" || r.EventSourceARN != arn || r.AWSRegion != "us-east-1" ||
				r.Md5OfBody != hex.EncodeToString(sum[:]) || r.MessageId == "" || r.ReceiptHandle == "" {
				t.Errorf("record %+v", r)
			}
			for _, a := range []string{"ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp", "SentTimestamp", "SenderId"} {
				if r.Attributes[a] == "" {
					t.Errorf("record %s lacks attribute %s: %v", r.Body, a, r.Attributes)
				}
			}
			if r.Body == "a" {
				got := r.MessageAttributes["kind"]
				if aws.ToString(got.StringValue) != "x" || got.DataType != "String" || got.StringListValues == nil || r.Md5OfMessageAttributes == "" {
					t.Errorf("message attribute kind = %+v, md5 %q", got, r.Md5OfMessageAttributes)
				}
			}
		}
	})
}

func TestSQSWholeBatchFailures(t *testing.T) {
	firstTry := func(ev events.SQSEvent) bool { return ev.Records[0].Attributes["ApproximateReceiveCount"] == "1" }
	tests := []struct {
		name    string
		handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
		outcome string
	}{
		{name: "handler error", outcome: "error",
			handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				if firstTry(ev) {
					return events.SQSEventResponse{}, errBoom
				}
				return events.SQSEventResponse{}, nil
			}},
		{name: "handler panic", outcome: "panic",
			handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				if firstTry(ev) {
					panic("worker bug")
				}
				return events.SQSEventResponse{}, nil
			}},
		{name: "function timeout", outcome: "timeout",
			handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				if firstTry(ev) {
					<-ctx.Done() // finishes only after its deadline
				}
				return events.SQSEventResponse{}, nil
			}},
		{name: "failure naming no message of the batch", outcome: "error",
			handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				if firstTry(ev) {
					return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "not-a-message"}}}, nil
				}
				return events.SQSEventResponse{}, nil
			}},
		{name: "failure with empty identifier", outcome: "error",
			handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				if firstTry(ev) {
					return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: ""}}}, nil
				}
				return events.SQSEventResponse{}, nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFuncs{}
			d := &deliveries{}
			f.Work = func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				d.add(ev)
				return tt.handler(ctx, ev)
			}
			logs := &syncBuffer{}
			o := testOptions(t, f, logs)
			o.Pollers = 1
			s := start(t, o, logs)
			c := sqs.NewFromConfig(o.AWS)
			url := s.QueueURL("WorkQueue")
			s = restartWith(t, s, o, logs, func() { sendMessages(t, c, url, "x", "y", "z") })

			waitFor(t, 10*time.Second, "every message twice and an empty queue", func() bool {
				return d.seen("x") >= 2 && d.seen("y") >= 2 && d.seen("z") >= 2 && queueDepth(t, c, url) == 0
			})
			counts, batches := d.snapshot()
			want := map[string][]string{"x": {"1", "2"}, "y": {"1", "2"}, "z": {"1", "2"}}
			if diff := cmp.Diff(want, counts); diff != "" {
				t.Errorf("receive counts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"x", "y", "z"}, batches[0]); diff != "" {
				t.Errorf("first batch (-want +got):\n%s", diff)
			}
			if !containsAll(logs.String(), fmt.Sprintf(`"outcome":%q`, tt.outcome), `"function":"WorkerFunction"`, `"queue":"WorkQueue"`) {
				t.Errorf("no %s invocation logged:\n%s", tt.outcome, logs.String())
			}
		})
	}
}

func TestSQSDeadLetterAfterMaxReceives(t *testing.T) {
	f := &fakeFuncs{}
	d := &deliveries{}
	f.Work = func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		d.add(ev)
		var resp events.SQSEventResponse
		for _, r := range ev.Records {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
		return resp, nil
	}
	logs := &syncBuffer{}
	o := testOptions(t, f, logs)
	s := start(t, o, logs)
	c := sqs.NewFromConfig(o.AWS)
	ids := sendMessages(t, c, s.QueueURL("WorkQueue"), "poison")

	var dead []sqstypes.Message
	waitFor(t, 20*time.Second, "the message in the DLQ", func() bool {
		out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.QueueURL("WorkDLQ")), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatalf("receive from DLQ: %v", err)
		}
		dead = append(dead, out.Messages...)
		return len(dead) > 0
	})
	if len(dead) != 1 || aws.ToString(dead[0].MessageId) != ids["poison"] || aws.ToString(dead[0].Body) != "poison" {
		t.Fatalf("DLQ holds %+v, want the poison message", dead)
	}
	counts, _ := d.snapshot()
	if diff := cmp.Diff([]string{"1", "2", "3", "4", "5"}, counts["poison"]); diff != "" {
		t.Errorf("deliveries before the DLQ (-want +got):\n%s", diff)
	}
	if n := queueDepth(t, c, s.QueueURL("WorkQueue")); n != 0 {
		t.Errorf("source queue still holds %d messages", n)
	}
}

// TestSQSFIFOOrderWithinGroup queues two groups while no poller runs (so
// that a plain receive would put a whole group in flight at once), fails
// one message mid-group once, and checks that each group is processed in
// send order all the same.
func TestSQSFIFOOrderWithinGroup(t *testing.T) {
	f := &fakeFuncs{}
	var mu sync.Mutex
	processed := map[string][]string{}
	failedOnce := false
	var sample events.SQSMessage
	var batches [][]string
	f.Fifo = func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		var resp events.SQSEventResponse
		var groups []string
		stopped := map[string]bool{} // a group whose message failed: the rest of it fails too
		for _, r := range ev.Records {
			g := r.Attributes["MessageGroupId"]
			groups = append(groups, g)
			if stopped[g] || (r.Body == "g1-2" && !failedOnce) {
				failedOnce, stopped[g] = true, true
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
				continue
			}
			processed[g] = append(processed[g], r.Body)
			sample = r
		}
		batches = append(batches, groups)
		return resp, nil
	}
	logs := &syncBuffer{}
	o := testOptions(t, f, logs)
	s := start(t, o, logs)
	c := sqs.NewFromConfig(o.AWS)
	url := s.QueueURL("FifoQueue")
	s = restartWith(t, s, o, logs, func() {
		for i := 1; i <= 4; i++ {
			for _, g := range []string{"g1", "g2"} {
				// An explicit deduplication id: moto only gives a message a
				// SequenceNumber then, not under content-based deduplication.
				body := fmt.Sprintf("%s-%d", g, i)
				_, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{
					QueueUrl: aws.String(url), MessageBody: aws.String(body), MessageGroupId: aws.String(g),
					MessageDeduplicationId: aws.String(body)})
				if err != nil {
					t.Fatalf("send: %v", err)
				}
			}
		}
	})
	waitFor(t, 15*time.Second, "all eight processed and an empty queue", func() bool {
		mu.Lock()
		n := len(processed["g1"]) + len(processed["g2"])
		mu.Unlock()
		return n >= 8 && queueDepth(t, c, url) == 0
	})
	mu.Lock()
	defer mu.Unlock()
	want := map[string][]string{
		"g1": {"g1-1", "g1-2", "g1-3", "g1-4"},
		"g2": {"g2-1", "g2-2", "g2-3", "g2-4"},
	}
	if diff := cmp.Diff(want, processed); diff != "" {
		t.Errorf("processing order per group (-want +got):\n%s", diff)
	}
	if !failedOnce {
		t.Error("the injected failure never happened")
	}
	for _, groups := range batches {
		seen := map[string]bool{}
		for _, g := range groups {
			if seen[g] {
				t.Errorf("batch %v holds two messages of group %s", groups, g)
			}
			seen[g] = true
		}
	}
	for _, a := range []string{"MessageGroupId", "MessageDeduplicationId", "SequenceNumber"} {
		if sample.Attributes[a] == "" {
			t.Errorf("FIFO record lacks %s: %v", a, sample.Attributes)
		}
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestSQSBatchingWindow(t *testing.T) {
	tmpl := `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 1
      Events:
        Q:
          Type: SQS
          Properties:
            Queue: !GetAtt Q.Arn
            BatchSize: 5
            MaximumBatchingWindowInSeconds: 3
            FunctionResponseTypes: [ReportBatchItemFailures]
  Q:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 5
`
	path := t.TempDir() + "/template.yaml"
	if err := os.WriteFile(path, []byte(tmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fakeFuncs{}
	d := &deliveries{}
	f.Work = func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		d.add(ev)
		return events.SQSEventResponse{}, nil
	}
	logs := &syncBuffer{}
	o := testOptions(t, f, logs)
	o.TemplatePath = path
	o.Pollers = 1
	o.Functions = map[string]lambdafn.Factory{"Fn": f.factories()["WorkerFunction"]}
	s := start(t, o, logs)
	c := sqs.NewFromConfig(o.AWS)
	for _, b := range []string{"1", "2", "3", "4", "5", "6"} {
		sendMessages(t, c, s.QueueURL("Q"), b)
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, 10*time.Second, "six messages delivered", func() bool {
		counts, _ := d.snapshot()
		return len(counts) == 6
	})
	_, batches := d.snapshot()
	// The window gathers the five sent within it into one batch; the
	// sixth, beyond BatchSize, starts the next.
	if diff := cmp.Diff([][]string{{"1", "2", "3", "4", "5"}, {"6"}}, batches); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
}
