// Package sqsbatch runs a function over the records of an SQS batch the way
// the Lambda event source mapping expects: every record that fails is
// reported in BatchItemFailures so only it comes back, and on a FIFO queue
// the first failure stops the batch and everything after it is reported too,
// so per-group order holds.
package sqsbatch

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// RecordFunc processes one record.
type RecordFunc func(ctx context.Context, rec events.SQSMessage) error

// VisibilityChanger hands a message back to its queue after a delay
// (sqsqueue.Client satisfies it).
type VisibilityChanger interface {
	ChangeVisibility(ctx context.Context, queueURL, receiptHandle string, timeout time.Duration) error
}

// Processor runs RecordFuncs over batches.
type Processor struct {
	Name     string // function name, for logs
	QueueURL string // for visibility changes; empty disables them
	Vis      VisibilityChanger
	Log      *slog.Logger
}

// Process runs fn over ev's records and reports failures. A Throttled error
// with RetryAfter set hands its message back with that delay (the vendor
// asked us to wait longer than the function may sleep) before reporting it.
func (p Processor) Process(ctx context.Context, ev events.SQSEvent, fn RecordFunc) events.SQSEventResponse {
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	var resp events.SQSEventResponse
	for i, rec := range ev.Records {
		err := p.run(ctx, rec, fn)
		if err == nil {
			continue
		}
		log.ErrorContext(ctx, "message failed", "function", p.Name, "messageId", rec.MessageId,
			"receiveCount", rec.Attributes["ApproximateReceiveCount"], "kind", apperr.KindOf(err).String(), "error", err)
		p.delay(ctx, rec, err, log)
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		if isFIFO(rec) {
			for _, rest := range ev.Records[i+1:] {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rest.MessageId})
			}
			break
		}
	}
	return resp
}

func (p Processor) run(ctx context.Context, rec events.SQSMessage, fn RecordFunc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic processing message %s: %v", rec.MessageId, r)
		}
	}()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("no time left for message %s: %w", rec.MessageId, err)
	}
	return fn(ctx, rec)
}

func (p Processor) delay(ctx context.Context, rec events.SQSMessage, err error, log *slog.Logger) {
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Throttled || e.RetryAfter <= 0 || p.Vis == nil || p.QueueURL == "" {
		return
	}
	if verr := p.Vis.ChangeVisibility(context.WithoutCancel(ctx), p.QueueURL, rec.ReceiptHandle, e.RetryAfter); verr != nil {
		log.WarnContext(ctx, "could not delay throttled message", "messageId", rec.MessageId, "error", verr)
	}
}

// isFIFO tells FIFO queues by their ARN: standard queues carry a
// MessageGroupId too when senders use fair queues.
func isFIFO(rec events.SQSMessage) bool {
	return strings.HasSuffix(rec.EventSourceARN, ".fifo")
}

// NotImplemented is the handler of a worker whose feature is not built yet:
// every message is logged and reported as failed (so it stays in the queue
// and reaches the DLQ), never silently acknowledged.
func NotImplemented(name, feature string, log *slog.Logger) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	p := Processor{Name: name, Log: log}
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return p.Process(ctx, ev, func(context.Context, events.SQSMessage) error {
			return apperr.New(apperr.NotImplemented, "%s is not implemented yet; message kept for redelivery", feature)
		}), nil
	}
}
