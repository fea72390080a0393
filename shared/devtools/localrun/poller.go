package localrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// eventQueue is what a poller needs from a queue. The moto-backed sqsQueue
// implements it; a faster in-memory queue with the same semantics
// (visibility timeout, receive count, redrive to a DLQ after
// maxReceiveCount, FIFO message groups locked while in flight) can replace
// it for bulk local runs, where moto's receive slows down with depth.
type eventQueue interface {
	// receive returns up to max messages, waiting up to wait for the
	// first. Each is a complete Lambda SQS record (attributes, message
	// attributes, event source ARN, region).
	receive(ctx context.Context, max int, wait time.Duration) ([]events.SQSMessage, error)
	// delete removes received messages by receipt handle.
	delete(ctx context.Context, msgs []events.SQSMessage) error
}

// sqsAPI is the part of the SQS API the pollers use.
type sqsAPI interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// sqsQueue is an eventQueue over an SQS (moto) queue.
type sqsQueue struct {
	api    sqsAPI
	url    string
	arn    string
	region string
	fifo   bool
}

// receive returns one batch. On a FIFO queue it takes the batch one
// message per ReceiveMessage call, which gives at most one message per
// message group: moto (5.2.1) redelivers a group whose messages were in
// flight together last-first once their visibility timeout passes (it
// skips each expired message while a later one of its group is still in
// flight), so a FIFO batch must never leave two of a group in flight. SQS
// promises nothing about how many messages of a group one receive
// returns, so such batches are ones SQS could give too.
func (q *sqsQueue) receive(ctx context.Context, max int, wait time.Duration) ([]events.SQSMessage, error) {
	if !q.fifo {
		return q.receiveOnce(ctx, max, wait)
	}
	var batch []events.SQSMessage
	for len(batch) < max {
		if len(batch) > 0 {
			wait = 0
		}
		msgs, err := q.receiveOnce(ctx, 1, wait)
		if err != nil {
			if len(batch) > 0 {
				return batch, nil // in flight already: process what we have
			}
			return nil, err
		}
		if len(msgs) == 0 {
			break
		}
		batch = append(batch, msgs...)
	}
	return batch, nil
}

func (q *sqsQueue) receiveOnce(ctx context.Context, max int, wait time.Duration) ([]events.SQSMessage, error) {
	out, err := q.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(q.url),
		MaxNumberOfMessages:         int32(max),
		WaitTimeSeconds:             int32(min(wait/time.Second, 20)), // SQS's maximum
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.url, err)
	}
	msgs := make([]events.SQSMessage, 0, len(out.Messages))
	for _, m := range out.Messages {
		rec := events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             m.Attributes,
			MessageAttributes:      map[string]events.SQSMessageAttribute{},
			EventSourceARN:         q.arn,
			EventSource:            "aws:sqs",
			AWSRegion:              q.region,
		}
		if rec.Attributes == nil {
			rec.Attributes = map[string]string{}
		}
		for k, v := range m.MessageAttributes {
			a := events.SQSMessageAttribute{
				StringValue:      v.StringValue,
				BinaryValue:      v.BinaryValue,
				StringListValues: v.StringListValues,
				BinaryListValues: v.BinaryListValues,
				DataType:         aws.ToString(v.DataType),
			}
			// Lambda sends empty lists, not nulls.
			if a.StringListValues == nil {
				a.StringListValues = []string{}
			}
			if a.BinaryListValues == nil {
				a.BinaryListValues = [][]byte{}
			}
			rec.MessageAttributes[k] = a
		}
		msgs = append(msgs, rec)
	}
	return msgs, nil
}

func (q *sqsQueue) delete(ctx context.Context, msgs []events.SQSMessage) error {
	var errs []error
	for start := 0; start < len(msgs); start += 10 {
		end := min(start+10, len(msgs))
		in := &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.url)}
		for i, m := range msgs[start:end] {
			in.Entries = append(in.Entries, sqstypes.DeleteMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.ReceiptHandle)})
		}
		out, err := q.api.DeleteMessageBatch(ctx, in)
		if err != nil {
			errs = append(errs, fmt.Errorf("delete from %s: %w", q.url, err))
			continue
		}
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("delete message %s from %s: %s %s", aws.ToString(f.Id), q.url, aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return errors.Join(errs...)
}

// consumer is one SQS event: a function polling a queue like the Lambda
// event source mapping.
type consumer struct {
	s              *Stack
	fn             *function
	event          string
	queueID        string
	q              eventQueue
	fifo           bool
	batchSize      int
	window         time.Duration
	reportFailures bool
	pollers        int
	pollWait       time.Duration
}

func (s *Stack) buildConsumers() ([]*consumer, error) {
	var out []*consumer
	for _, tf := range s.tmpl.Functions {
		for _, e := range tf.Events {
			ev := e.SQS
			if ev == nil || !ev.Enabled {
				continue
			}
			if ev.QueueRef == "" {
				return nil, apperr.New(apperr.NotImplemented, "%s event %s: a queue outside the template cannot be polled locally", tf.LogicalID, e.Name)
			}
			tq, _ := s.tmpl.Queue(ev.QueueRef)
			// Lambda refuses such a mapping: a batch could become visible
			// again while the function still works on it.
			if tf.Timeout > tq.VisibilityTimeout {
				return nil, apperr.New(apperr.Invalid, "%s event %s: function timeout %ds exceeds the visibility timeout %ds of %s",
					tf.LogicalID, e.Name, tf.Timeout, tq.VisibilityTimeout, ev.QueueRef)
			}
			if tq.Fifo && ev.BatchSize > 10 {
				return nil, apperr.New(apperr.Invalid, "%s event %s: BatchSize %d exceeds 10 for a FIFO queue", tf.LogicalID, e.Name, ev.BatchSize)
			}
			info := s.queues[ev.QueueRef]
			c := &consumer{
				s: s, fn: s.funcs[tf.LogicalID], event: e.Name, queueID: ev.QueueRef,
				q:         &sqsQueue{api: s.sqs, url: info.url, arn: info.arn, region: s.region, fifo: tq.Fifo},
				fifo:      tq.Fifo,
				batchSize: max(ev.BatchSize, 1), window: time.Duration(ev.MaximumBatchingWindowInSeconds) * time.Second,
				reportFailures: ev.ReportBatchItemFailures, pollers: s.o.Pollers, pollWait: s.o.PollWait,
			}
			if ev.MaximumConcurrency > 0 && c.pollers > ev.MaximumConcurrency {
				c.pollers = ev.MaximumConcurrency
			}
			if c.fifo {
				// One poller keeps batches in queue order; SQS keeps a
				// group's later messages back while one is in flight.
				// Lambda has no batching window for FIFO queues.
				c.pollers, c.window = 1, 0
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// run polls until ctx ends: receive a batch, invoke, delete what succeeded.
func (c *consumer) run(ctx context.Context) {
	backoff := c.pollWait
	for ctx.Err() == nil {
		batch, err := c.collect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.s.log.Warn("poll queue", "function", c.fn.id, "queue", c.queueID, "error", err.Error())
			sleep(ctx, backoff)
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = c.pollWait
		if len(batch) > 0 {
			c.process(batch)
		}
	}
}

// collect receives one batch: up to BatchSize messages, gathering for up
// to the batching window once the first message is in.
func (c *consumer) collect(ctx context.Context) ([]events.SQSMessage, error) {
	batch, err := c.receive(ctx, min(c.batchSize, 10), c.pollWait)
	if err != nil || len(batch) == 0 || c.window == 0 {
		return batch, err
	}
	deadline := time.Now().Add(c.window)
	for len(batch) < c.batchSize && time.Now().Before(deadline) {
		more, err := c.receive(ctx, min(c.batchSize-len(batch), 10), min(time.Until(deadline), c.pollWait))
		if err != nil {
			// Keep what we have: it is in flight and must be processed.
			if ctx.Err() == nil {
				c.s.log.Warn("poll queue", "function", c.fn.id, "queue", c.queueID, "error", err.Error())
			}
			break
		}
		batch = append(batch, more...)
	}
	return batch, nil
}

// receive long-polls for whole seconds of wait; below a second (SQS waits
// whole seconds only) it short-polls and pauses for wait when nothing came.
func (c *consumer) receive(ctx context.Context, max int, wait time.Duration) ([]events.SQSMessage, error) {
	msgs, err := c.q.receive(ctx, max, wait)
	if err == nil && len(msgs) == 0 && wait < time.Second {
		sleep(ctx, wait)
	}
	return msgs, err
}

// process invokes the function with a batch and deletes the records that
// succeeded, with Lambda's rules: an error (or panic, or timeout) fails the
// whole batch; with ReportBatchItemFailures the records listed fail, and a
// failure naming no record of the batch fails the whole batch; without it
// the response is ignored.
func (c *consumer) process(batch []events.SQSMessage) {
	res := invoke(c.s, c.fn, 0, events.SQSEvent{Records: batch}, c.fn.h.SQS)
	attrs := []slog.Attr{slog.String("queue", c.queueID), slog.String("event", c.event), slog.Int("records", len(batch))}
	if res.outcome != outcomeOK {
		logInvocation(c.s, c.fn, "sqs", res, append(attrs, slog.Int("failed", len(batch)))...)
		return
	}
	keep := map[string]bool{}
	if c.reportFailures {
		inBatch := map[string]bool{}
		for _, m := range batch {
			inBatch[m.MessageId] = true
		}
		for _, f := range res.resp.BatchItemFailures {
			if !inBatch[f.ItemIdentifier] {
				res.outcome = outcomeError
				res.err = fmt.Errorf("batchItemFailures names %q, not a message of the batch: the whole batch fails", f.ItemIdentifier)
				logInvocation(c.s, c.fn, "sqs", res, append(attrs, slog.Int("failed", len(batch)))...)
				return
			}
			keep[f.ItemIdentifier] = true
		}
	}
	var done []events.SQSMessage
	for _, m := range batch {
		if !keep[m.MessageId] {
			done = append(done, m)
		}
	}
	// Deletion must not be cut short by Stop: these messages are done.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.q.delete(ctx, done); err != nil {
		res.err = err
	}
	logInvocation(c.s, c.fn, "sqs", res, append(attrs, slog.Int("failed", len(keep)))...)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
