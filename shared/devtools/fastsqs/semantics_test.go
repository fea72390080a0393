package fastsqs_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"
)

func TestVisibilityTimeout(t *testing.T) {
	t.Parallel()
	_, c := newServer(t)
	url := createQueue(t, c, "vis", map[string]string{"VisibilityTimeout": "1"})
	send(t, c, url, "m")

	first := receive(t, c, url, 10)
	if len(first) != 1 {
		t.Fatalf("received %d, want 1", len(first))
	}
	if got := receive(t, c, url, 10); len(got) != 0 {
		t.Fatalf("in-flight message received again: %v", bodies(got))
	}
	if got := counts(t, c, url); got != [3]string{"0", "1", "0"} {
		t.Errorf("counts while in flight = %v, want 0 visible, 1 in flight", got)
	}
	time.Sleep(1100 * time.Millisecond)
	second := receive(t, c, url, 10)
	if len(second) != 1 || second[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after the timeout received %v, want the message with receive count 2", second)
	}
	if aws.ToString(first[0].ReceiptHandle) == aws.ToString(second[0].ReceiptHandle) {
		t.Error("two receives gave the same receipt handle")
	}
	if first[0].Attributes["ApproximateFirstReceiveTimestamp"] != second[0].Attributes["ApproximateFirstReceiveTimestamp"] {
		t.Errorf("first receive timestamp changed: %s then %s", first[0].Attributes["ApproximateFirstReceiveTimestamp"],
			second[0].Attributes["ApproximateFirstReceiveTimestamp"])
	}

	t.Run("a receive's VisibilityTimeout overrides the queue's", func(t *testing.T) {
		deleteMessage(t, c, url, second[0])
		send(t, c, url, "long")
		if got := receive(t, c, url, 1, withVisibility(5)); len(got) != 1 {
			t.Fatalf("received %d, want 1", len(got))
		}
		time.Sleep(1100 * time.Millisecond)
		if got := receive(t, c, url, 1); len(got) != 0 {
			t.Errorf("message visible after the queue's 1 s though received for 5 s")
		}
	})
}

func TestReceiptHandles(t *testing.T) {
	t.Parallel()
	_, c := newServer(t)
	ctx := context.Background()
	url := createQueue(t, c, "handles", map[string]string{"VisibilityTimeout": "300"})
	other := createQueue(t, c, "other", nil)
	change := func(handle *string, secs int32) error {
		_, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: handle, VisibilityTimeout: secs})
		return err
	}
	del := func(queueURL string, handle *string) error {
		_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: handle})
		return err
	}

	t.Run("a malformed handle is ReceiptHandleIsInvalid", func(t *testing.T) {
		var invalid *types.ReceiptHandleIsInvalid
		if err := del(url, aws.String("not-a-handle")); !errors.As(err, &invalid) {
			t.Errorf("DeleteMessage: %v, want ReceiptHandleIsInvalid", err)
		}
		if err := change(aws.String("not-a-handle"), 0); !errors.As(err, &invalid) {
			t.Errorf("ChangeMessageVisibility: %v, want ReceiptHandleIsInvalid", err)
		}
	})
	t.Run("another queue's handle is ReceiptHandleIsInvalid", func(t *testing.T) {
		send(t, c, other, "elsewhere")
		m := receive(t, c, other, 1)[0]
		var invalid *types.ReceiptHandleIsInvalid
		if err := del(url, m.ReceiptHandle); !errors.As(err, &invalid) {
			t.Errorf("DeleteMessage: %v, want ReceiptHandleIsInvalid", err)
		}
	})
	t.Run("ChangeMessageVisibility 0 makes the message visible", func(t *testing.T) {
		send(t, c, url, "retry")
		m := receive(t, c, url, 1)[0]
		if err := change(m.ReceiptHandle, 0); err != nil {
			t.Fatal(err)
		}
		again := receive(t, c, url, 1)
		if len(again) != 1 || again[0].Attributes["ApproximateReceiveCount"] != "2" {
			t.Fatalf("after ChangeMessageVisibility(0) received %v, want the message again", bodies(again))
		}

		// The first receive's handle is stale now that the message was
		// received again: SQS refuses it for a visibility change but
		// accepts it for a delete (which deletes the message).
		if err := change(m.ReceiptHandle, 10); code(err) != "InvalidParameterValue" {
			t.Errorf("change with a stale handle: %v, want InvalidParameterValue", err)
		}
		if err := change(again[0].ReceiptHandle, 10); err != nil {
			t.Errorf("change with the current handle: %v", err)
		}
		if err := change(again[0].ReceiptHandle, 43200); code(err) != "InvalidParameterValue" {
			t.Errorf("change to 12 h more after some time in flight: %v, want InvalidParameterValue", err)
		}
		if err := del(url, m.ReceiptHandle); err != nil {
			t.Errorf("delete with a stale handle: %v, want success", err)
		}
		if got := counts(t, c, url); got != [3]string{"0", "0", "0"} {
			t.Errorf("counts after the delete = %v, want an empty queue", got)
		}
		if err := del(url, again[0].ReceiptHandle); err != nil {
			t.Errorf("second delete: %v, want success", err)
		}
		if err := change(again[0].ReceiptHandle, 10); code(err) != "InvalidParameterValue" {
			t.Errorf("change after the delete: %v, want InvalidParameterValue", err)
		}
	})
	t.Run("an expired handle's visibility change does nothing", func(t *testing.T) {
		send(t, c, url, "expire")
		m := receive(t, c, url, 1, withVisibility(1))[0]
		time.Sleep(1100 * time.Millisecond)
		if err := change(m.ReceiptHandle, 60); err != nil {
			t.Errorf("change after the timeout: %v, want success", err)
		}
		if got := receive(t, c, url, 1); len(got) != 1 {
			t.Errorf("message hidden again by a change on an expired handle")
		} else {
			deleteMessage(t, c, url, got[0])
		}
	})
	t.Run("batches report each entry", func(t *testing.T) {
		send(t, c, url, "b1", "b2")
		msgs := receive(t, c, url, 10)
		if len(msgs) != 2 {
			t.Fatalf("received %d, want 2", len(msgs))
		}
		vout, err := c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url),
			Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
				{Id: aws.String("ok"), ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0},
				{Id: aws.String("junk"), ReceiptHandle: aws.String("junk"), VisibilityTimeout: 0},
			}})
		if err != nil {
			t.Fatal(err)
		}
		if len(vout.Successful) != 1 || len(vout.Failed) != 1 || aws.ToString(vout.Failed[0].Code) != "ReceiptHandleIsInvalid" {
			t.Errorf("ChangeMessageVisibilityBatch = %+v", vout)
		}
		dout, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url),
			Entries: []types.DeleteMessageBatchRequestEntry{
				{Id: aws.String("a"), ReceiptHandle: msgs[0].ReceiptHandle},
				{Id: aws.String("b"), ReceiptHandle: msgs[1].ReceiptHandle},
				{Id: aws.String("c"), ReceiptHandle: aws.String("junk")},
			}})
		if err != nil {
			t.Fatal(err)
		}
		if len(dout.Successful) != 2 || len(dout.Failed) != 1 || aws.ToString(dout.Failed[0].Id) != "c" || !dout.Failed[0].SenderFault {
			t.Errorf("DeleteMessageBatch = %+v", dout)
		}
		if got := counts(t, c, url); got != [3]string{"0", "0", "0"} {
			t.Errorf("counts after the batch delete = %v", got)
		}
	})
}

func TestLongPolling(t *testing.T) {
	t.Parallel()
	srv, c := newServer(t)
	url := createQueue(t, c, "poll", nil)

	t.Run("a send wakes a waiting receive", func(t *testing.T) {
		done := make(chan []types.Message, 1)
		start := time.Now()
		go func() {
			out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 10})
			if err != nil {
				t.Errorf("receive: %v", err)
				out = &sqs.ReceiveMessageOutput{}
			}
			done <- out.Messages
		}()
		time.Sleep(200 * time.Millisecond)
		send(t, c, url, "wake")
		select {
		case got := <-done:
			if len(got) == 0 {
				t.Fatal("long poll returned no message")
			}
			if diff := cmp.Diff([]string{"wake"}, bodies(got)); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("receive returned after %s, want soon after the send", d)
			}
			deleteMessage(t, c, url, got[0])
		case <-time.After(5 * time.Second):
			t.Fatal("long poll not woken by the send")
		}
	})
	t.Run("an empty long poll waits its time", func(t *testing.T) {
		start := time.Now()
		got := receive(t, c, url, 10, withWait(1))
		if d := time.Since(start); len(got) != 0 || d < 900*time.Millisecond || d > 3*time.Second {
			t.Errorf("got %d messages after %s, want none after about 1 s", len(got), d)
		}
	})
	t.Run("a visibility timeout ending wakes a waiting receive", func(t *testing.T) {
		send(t, c, url, "again")
		receive(t, c, url, 1, withVisibility(1))
		start := time.Now()
		got := receive(t, c, url, 1, withWait(5))
		if d := time.Since(start); len(got) != 1 || d > 2500*time.Millisecond {
			t.Errorf("got %v after %s, want the message after about 1 s", bodies(got), d)
		} else {
			deleteMessage(t, c, url, got[0])
		}
	})
	t.Run("the queue's ReceiveMessageWaitTimeSeconds applies", func(t *testing.T) {
		q := createQueue(t, c, "waits", map[string]string{"ReceiveMessageWaitTimeSeconds": "1"})
		start := time.Now()
		if got := receive(t, c, q, 1); len(got) != 0 || time.Since(start) < 900*time.Millisecond {
			t.Errorf("receive on an empty queue returned after %s, want about 1 s", time.Since(start))
		}
	})
	t.Run("Close ends waiting receives", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20})
			done <- err
		}()
		time.Sleep(200 * time.Millisecond)
		start := time.Now()
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %s with a long poll waiting", d)
		}
		select {
		case <-done: // the client's retries against the closed port end too
		case <-time.After(10 * time.Second):
			t.Fatal("long poll still waiting after Close")
		}
	})
}

func TestDelaySeconds(t *testing.T) {
	t.Parallel()
	_, c := newServer(t)
	ctx := context.Background()
	url := createQueue(t, c, "delayed", map[string]string{"DelaySeconds": "1"})
	send(t, c, url, "queue delay")
	// The client leaves a zero DelaySeconds out, so the queue's applies.
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("zero delay"), DelaySeconds: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("two seconds"), DelaySeconds: 2}); err != nil {
		t.Fatal(err)
	}
	if got := counts(t, c, url); got != [3]string{"0", "0", "3"} {
		t.Errorf("counts = %v, want 3 delayed", got)
	}
	if got := receive(t, c, url, 10); len(got) != 0 {
		t.Fatalf("delayed messages received at once: %v", bodies(got))
	}
	time.Sleep(1100 * time.Millisecond)
	var got []string
	for _, m := range receive(t, c, url, 10) {
		got = append(got, aws.ToString(m.Body))
	}
	if diff := cmp.Diff([]string{"queue delay", "zero delay"}, got); diff != "" {
		t.Errorf("after 1 s (-want +got):\n%s", diff)
	}
	msgs := receive(t, c, url, 10, withWait(3))
	if diff := cmp.Diff([]string{"two seconds"}, bodies(msgs)); diff != "" {
		t.Errorf("after 2 s (-want +got):\n%s", diff)
	}
}

// failReceives receives the only message of url n times, making it visible
// again after each, and returns the receive counts seen.
func failReceives(t *testing.T, c *sqs.Client, url string, n int) []string {
	t.Helper()
	var seen []string
	for range n {
		msgs := receive(t, c, url, 1)
		if len(msgs) != 1 {
			t.Fatalf("receive %d gave %d messages, want 1", len(seen)+1, len(msgs))
		}
		seen = append(seen, msgs[0].Attributes["ApproximateReceiveCount"])
		if _, err := c.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(url), ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
			t.Fatal(err)
		}
	}
	return seen
}

func TestRedriveToDeadLetterQueue(t *testing.T) {
	for _, fifo := range []bool{false, true} {
		t.Run(fmt.Sprintf("fifo=%v", fifo), func(t *testing.T) {
			srv, c := newServer(t)
			dlqName, srcName := "dlq", "src"
			attrs := map[string]string{}
			if fifo {
				dlqName, srcName = "dlq.fifo", "src.fifo"
				attrs = map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"}
			}
			dlq := createQueue(t, c, dlqName, attrs)
			src := createQueue(t, c, srcName, merge(attrs, map[string]string{
				"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":3}`, queueARN(t, c, dlq))}))
			in := &sqs.SendMessageInput{QueueUrl: aws.String(src), MessageBody: aws.String("poison")}
			if fifo {
				in.MessageGroupId = aws.String("g")
			}
			sent, err := c.SendMessage(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if fifo {
				sendToGroup(t, c, src, "g", "behind")
			}

			if diff := cmp.Diff([]string{"1", "2", "3"}, failReceives(t, c, src, 3)); diff != "" {
				t.Errorf("receive counts before the DLQ (-want +got):\n%s", diff)
			}
			// The receive after maxReceiveCount moves the message instead
			// of delivering it; on a FIFO queue the group goes on.
			next := receive(t, c, src, 10)
			want := []string{}
			if fifo {
				want = []string{"behind"}
			}
			if diff := cmp.Diff(want, bodies(next)); diff != "" {
				t.Errorf("fourth receive (-want +got):\n%s", diff)
			}
			dead := receive(t, c, dlq, 10)
			if len(dead) != 1 {
				t.Fatalf("DLQ holds %d messages, want 1", len(dead))
			}
			m := dead[0]
			if aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) || aws.ToString(m.Body) != "poison" ||
				m.Attributes["DeadLetterQueueSourceArn"] != queueARN(t, c, src) || m.Attributes["ApproximateReceiveCount"] != "4" {
				t.Errorf("dead-lettered message %s %q attributes %v", aws.ToString(m.MessageId), aws.ToString(m.Body), m.Attributes)
			}
			if fifo && m.Attributes["MessageGroupId"] != "g" {
				t.Errorf("dead-lettered FIFO message lost its group: %v", m.Attributes)
			}
			if n := srv.Stats().DeadLettered; n != 1 {
				t.Errorf("Stats().DeadLettered = %d, want 1", n)
			}
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestFIFOGroups(t *testing.T) {
	t.Parallel()
	_, c := newServer(t)
	url := createQueue(t, c, "groups.fifo", map[string]string{"FifoQueue": "true", "VisibilityTimeout": "1"})
	sendToGroup(t, c, url, "a", "a1", "a2", "a3")
	sendToGroup(t, c, url, "b", "b1", "b2")
	sendToGroup(t, c, url, "a", "a4")

	// One receive fills from the oldest group first, in order.
	first := receive(t, c, url, 2)
	if diff := cmp.Diff([]string{"a1", "a2"}, bodies(first)); diff != "" {
		t.Fatalf("first receive (-want +got):\n%s", diff)
	}
	// Group a is held back while a1 and a2 are in flight; b is not.
	second := receive(t, c, url, 10)
	if diff := cmp.Diff([]string{"b1", "b2"}, bodies(second)); diff != "" {
		t.Fatalf("second receive (-want +got):\n%s", diff)
	}
	if got := receive(t, c, url, 10); len(got) != 0 {
		t.Fatalf("received %v while both groups have messages in flight", bodies(got))
	}
	// Deleting one of a's two in-flight messages does not free the group.
	deleteMessage(t, c, url, first[0])
	for _, m := range second {
		deleteMessage(t, c, url, m)
	}
	if got := receive(t, c, url, 10); len(got) != 0 {
		t.Fatalf("received %v while a2 is still in flight", bodies(got))
	}
	// a2's visibility timeout passes: a2 comes back first, then the rest.
	time.Sleep(1100 * time.Millisecond)
	third := receive(t, c, url, 10)
	if diff := cmp.Diff([]string{"a2", "a3", "a4"}, bodies(third)); diff != "" {
		t.Errorf("third receive (-want +got):\n%s", diff)
	}
	if third[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Errorf("a2 receive count %s, want 2", third[0].Attributes["ApproximateReceiveCount"])
	}
	var seqs []uint64
	for _, m := range append(first, third...) {
		n, err := strconv.ParseUint(m.Attributes["SequenceNumber"], 10, 64)
		if err != nil || len(m.Attributes["SequenceNumber"]) != 20 {
			t.Fatalf("SequenceNumber %q is not 20 digits", m.Attributes["SequenceNumber"])
		}
		seqs = append(seqs, n)
	}
	if !(seqs[0] < seqs[1] && seqs[1] == seqs[2] && seqs[2] < seqs[3] && seqs[3] < seqs[4]) {
		t.Errorf("sequence numbers %v do not follow send order", seqs)
	}

	t.Run("a FIFO delete with an expired handle is refused", func(t *testing.T) {
		time.Sleep(1100 * time.Millisecond)
		_, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: third[0].ReceiptHandle})
		if code(err) != "InvalidParameterValue" {
			t.Errorf("delete after the visibility timeout: %v, want InvalidParameterValue", err)
		}
	})
}

func TestFIFODeduplication(t *testing.T) {
	_, c := newServer(t)
	ctx := context.Background()
	sendTo := func(url, group, body, dedup string) *sqs.SendMessageOutput {
		t.Helper()
		in := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body), MessageGroupId: aws.String(group)}
		if dedup != "" {
			in.MessageDeduplicationId = aws.String(dedup)
		}
		out, err := c.SendMessage(ctx, in)
		if err != nil {
			t.Fatalf("send %q: %v", body, err)
		}
		return out
	}
	drain := func(url string) []string {
		t.Helper()
		var got []string
		for {
			msgs := receive(t, c, url, 10)
			if len(msgs) == 0 {
				return got
			}
			for _, m := range msgs {
				got = append(got, aws.ToString(m.Body))
				deleteMessage(t, c, url, m)
			}
		}
	}

	t.Run("content-based", func(t *testing.T) {
		url := createQueue(t, c, "content.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
		a := sendTo(url, "g", "same", "")
		b := sendTo(url, "g", "same", "")
		sendTo(url, "g", "other", "")
		if aws.ToString(a.MessageId) != aws.ToString(b.MessageId) || aws.ToString(a.SequenceNumber) != aws.ToString(b.SequenceNumber) {
			t.Errorf("duplicate send answered %s/%s, want the first send's %s/%s", aws.ToString(b.MessageId),
				aws.ToString(b.SequenceNumber), aws.ToString(a.MessageId), aws.ToString(a.SequenceNumber))
		}
		if diff := cmp.Diff([]string{"same", "other"}, drain(url)); diff != "" {
			t.Errorf("delivered (-want +got):\n%s", diff)
		}
		// Deduplication outlives the deletion of the first copy.
		sendTo(url, "g", "same", "")
		if got := drain(url); len(got) != 0 {
			t.Errorf("a duplicate within 5 minutes was delivered: %v", got)
		}
	})
	t.Run("explicit ids across the queue", func(t *testing.T) {
		url := createQueue(t, c, "explicit.fifo", map[string]string{"FifoQueue": "true"})
		sendTo(url, "g1", "first", "d1")
		sendTo(url, "g2", "second", "d1")
		sendTo(url, "g1", "third", "d2")
		if diff := cmp.Diff([]string{"first", "third"}, drain(url)); diff != "" {
			t.Errorf("delivered (-want +got):\n%s", diff)
		}
	})
	t.Run("per message group", func(t *testing.T) {
		url := createQueue(t, c, "pergroup.fifo", map[string]string{"FifoQueue": "true", "DeduplicationScope": "messageGroup"})
		sendTo(url, "g1", "first", "d1")
		sendTo(url, "g2", "second", "d1")
		sendTo(url, "g1", "dup", "d1")
		got := drain(url)
		if len(got) != 2 || !contains(got, "first") || !contains(got, "second") {
			t.Errorf("delivered %v, want first and second", got)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestStandardQueueMessageGroups(t *testing.T) {
	_, c := newServer(t)
	url := createQueue(t, c, "fair", nil)
	for i := range 3 {
		_, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url),
			MessageBody: aws.String(fmt.Sprint("m", i)), MessageGroupId: aws.String("tenant-1")})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A fair queue's group orders nothing and holds nothing back.
	msgs := receive(t, c, url, 10)
	if len(msgs) != 3 {
		t.Fatalf("received %d, want all 3 of the group at once", len(msgs))
	}
	for _, m := range msgs {
		if m.Attributes["MessageGroupId"] != "tenant-1" || m.Attributes["SequenceNumber"] != "" {
			t.Errorf("attributes %v, want MessageGroupId tenant-1 and no SequenceNumber", m.Attributes)
		}
	}
}

// TestConcurrentConsumers has producers and consumers race on one queue:
// every message arrives exactly once.
func TestConcurrentConsumers(t *testing.T) {
	srv, c := newServer(t)
	ctx := context.Background()
	url := createQueue(t, c, "race", map[string]string{"VisibilityTimeout": "300"})
	const producers, perProducer, consumers = 4, 500, 4
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perProducer; i += 10 {
				in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(url)}
				for j := i; j < i+10; j++ {
					in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{
						Id: aws.String(fmt.Sprint("e", j)), MessageBody: aws.String(fmt.Sprintf("p%d-%d", p, j))})
				}
				if out, err := c.SendMessageBatch(ctx, in); err != nil || len(out.Failed) > 0 {
					t.Errorf("send batch: %v %v", err, out)
					return
				}
			}
		}()
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var cwg sync.WaitGroup
	for range consumers {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			empty := 0
			for empty < 2 {
				out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
				if err != nil {
					t.Errorf("receive: %v", err)
					return
				}
				if len(out.Messages) == 0 {
					empty++
					continue
				}
				empty = 0
				in := &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url)}
				mu.Lock()
				for i, m := range out.Messages {
					seen[aws.ToString(m.Body)]++
					in.Entries = append(in.Entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle})
				}
				mu.Unlock()
				if out, err := c.DeleteMessageBatch(ctx, in); err != nil || len(out.Failed) > 0 {
					t.Errorf("delete batch: %v %v", err, out)
					return
				}
			}
		}()
	}
	wg.Wait()
	cwg.Wait()
	if len(seen) != producers*perProducer {
		t.Errorf("received %d distinct messages, want %d", len(seen), producers*perProducer)
	}
	for body, n := range seen {
		if n != 1 {
			t.Errorf("%s received %d times", body, n)
		}
	}
	if got := counts(t, c, url); got != [3]string{"0", "0", "0"} {
		t.Errorf("counts at the end = %v", got)
	}
	st := srv.Stats()
	if st.Sent != producers*perProducer || st.Received != st.Sent || st.Deleted != st.Sent {
		t.Errorf("Stats() = %+v, want %d sent, received and deleted", st, producers*perProducer)
	}
}
