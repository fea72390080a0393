package localrun

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/fastsqs"
)

// The event-source-mapping tests again, with the stack's SQS on fastsqs
// (the SDK's AWS_ENDPOINT_URL_SQS) and DynamoDB on moto.

// fastOptions are testOptions with SQS on a fastsqs server of the test's
// own. The variable must be set before the stack makes its SQS clients;
// the server outlives the stack (cleanups run last-registered first).
func fastOptions(t *testing.T, f *fakeFuncs, logs *syncBuffer) (Options, *fastsqs.Server) {
	t.Helper()
	srv, err := fastsqs.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start fastsqs: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close fastsqs: %v", err)
		}
	})
	t.Setenv("AWS_ENDPOINT_URL_SQS", srv.URL())
	return testOptions(t, f, logs), srv
}

// checkSplit makes sure the stack's queues live in fastsqs and its table
// in moto.
func checkSplit(t *testing.T, s *Stack, o Options, srv *fastsqs.Server) {
	t.Helper()
	for _, q := range []string{"WorkQueue", "WorkDLQ", "FifoQueue", "FifoDLQ"} {
		if url := s.QueueURL(q); !strings.HasPrefix(url, srv.URL()+"/") {
			t.Errorf("queue %s is %s, not on fastsqs at %s", q, url, srv.URL())
		}
	}
	if srv.Stats().Requests["CreateQueue"] < 4 {
		t.Errorf("fastsqs saw %d CreateQueue calls, want the template's 4 queues", srv.Stats().Requests["CreateQueue"])
	}
	if _, err := dynamodb.NewFromConfig(o.AWS).DescribeTable(context.Background(),
		&dynamodb.DescribeTableInput{TableName: aws.String(s.TableName("Table"))}); err != nil {
		t.Errorf("the stack's table is not in moto: %v", err)
	}
}

func TestFastSQSPartialBatchFailure(t *testing.T) {
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
	o, srv := fastOptions(t, f, logs)
	o.Pollers = 1
	s := start(t, o, logs)
	checkSplit(t, s, o, srv)
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
	if s.QueueURL("WorkQueue") != url {
		t.Fatalf("restart made a new queue %s, want %s reused", s.QueueURL("WorkQueue"), url)
	}

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
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.records {
		if r.EventSourceARN != s.Env("ApiFunction")["WORK_QUEUE_ARN"] || r.Attributes["SentTimestamp"] == "" || r.Attributes["SenderId"] == "" {
			t.Errorf("record %+v", r)
		}
		if r.Body == "a" && (aws.ToString(r.MessageAttributes["kind"].StringValue) != "x" || r.Md5OfMessageAttributes == "") {
			t.Errorf("message attribute kind = %+v, md5 %q", r.MessageAttributes["kind"], r.Md5OfMessageAttributes)
		}
	}
}

func TestFastSQSDeadLetterAfterMaxReceives(t *testing.T) {
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
	o, srv := fastOptions(t, f, logs)
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
	if n := srv.Stats().DeadLettered; n != 1 {
		t.Errorf("fastsqs dead-lettered %d messages, want 1", n)
	}
}

func TestFastSQSFIFOOrderWithinGroup(t *testing.T) {
	f := &fakeFuncs{}
	var mu sync.Mutex
	processed := map[string][]string{}
	failedOnce := false
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
			if r.Attributes["SequenceNumber"] == "" || r.Attributes["MessageDeduplicationId"] == "" {
				return resp, fmt.Errorf("record %s lacks FIFO attributes: %v", r.Body, r.Attributes)
			}
			processed[g] = append(processed[g], r.Body)
		}
		batches = append(batches, groups)
		return resp, nil
	}
	logs := &syncBuffer{}
	o, _ := fastOptions(t, f, logs)
	s := start(t, o, logs)
	c := sqs.NewFromConfig(o.AWS)
	url := s.QueueURL("FifoQueue")
	s = restartWith(t, s, o, logs, func() {
		for i := 1; i <= 4; i++ {
			for _, g := range []string{"g1", "g2"} {
				// No deduplication id: the queue deduplicates by content.
				_, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{
					QueueUrl: aws.String(url), MessageBody: aws.String(fmt.Sprintf("%s-%d", g, i)), MessageGroupId: aws.String(g)})
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
	if strings.Contains(logs.String(), "lacks FIFO attributes") {
		t.Errorf("records without FIFO attributes:\n%s", logs.String())
	}
}

// TestFastSQSBulk moves a few thousand messages through the worker, the
// volume moto cannot serve in reasonable time.
func TestFastSQSBulk(t *testing.T) {
	f := &fakeFuncs{}
	var mu sync.Mutex
	seen := map[string]int{}
	f.Work = func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ev.Records {
			seen[r.Body]++
		}
		return events.SQSEventResponse{}, nil
	}
	logs := &syncBuffer{}
	o, srv := fastOptions(t, f, logs)
	s := start(t, o, logs)
	c := sqs.NewFromConfig(o.AWS)
	url := s.QueueURL("WorkQueue")
	const total = 3000
	begin := time.Now()
	for i := 0; i < total; i += 10 {
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(url)}
		for j := i; j < i+10; j++ {
			in.Entries = append(in.Entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("e", j-i)), MessageBody: aws.String(fmt.Sprint("m", j))})
		}
		if out, err := c.SendMessageBatch(context.Background(), in); err != nil || len(out.Failed) > 0 {
			t.Fatalf("send batch: %v %v", err, out)
		}
	}
	waitFor(t, 60*time.Second, "every message processed and an empty queue", func() bool {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		return n == total && queueDepth(t, c, url) == 0
	})
	elapsed := time.Since(begin)
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	st := srv.Stats()
	t.Logf("%d messages sent and processed in %s (%.0f msgs/s), %d redelivered; fastsqs: %d ReceiveMessage, %d DeleteMessageBatch calls",
		total, elapsed.Round(time.Millisecond), total/elapsed.Seconds(), dups, st.Requests["ReceiveMessage"], st.Requests["DeleteMessageBatch"])
	if st.Deleted != total {
		t.Errorf("fastsqs deleted %d messages, want %d", st.Deleted, total)
	}
}
