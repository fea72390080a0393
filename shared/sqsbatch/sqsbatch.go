// Package sqsbatch is the SQS edge of the queue workers: it turns a
// Lambda SQS event into plain queuemsg.Messages, runs a worker's function
// over them the way the Lambda event source mapping expects — every
// message that fails is reported in BatchItemFailures so only it comes
// back, and on a FIFO queue the first failure stops the batch and
// everything after it is reported too, so per-group order holds — and
// hands a throttled message back to its queue with the vendor's delay.
//
// What becomes of a failed message (retry, give up, record its failure on
// the last receive) is decided beside it, by queuemsg.Settler, which the
// domain's workers call on plain messages.
package sqsbatch

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// RecordFunc processes one message (an alias, so that domain packages,
// which do not import sqsbatch, can return one).
type RecordFunc = func(ctx context.Context, m queuemsg.Message) error

// Handler is a Lambda SQS handler (lambdafn.SQSHandler).
type Handler = func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

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
	// Lane is the request-budget lane (shared/ratelimit) of every vendor
	// request the worker makes, whatever its caller's context says: the
	// alert worker's is LaneAlert, the import workers' LaneImport. 0
	// keeps the caller's.
	Lane ratelimit.Lane
}

// inLane marks ctx with the processor's lane.
func (p Processor) inLane(ctx context.Context) context.Context {
	if p.Lane == 0 {
		return ctx
	}
	return ratelimit.WithLane(ctx, p.Lane)
}

// Handler returns the SQS handler that runs fn over every batch.
func (p Processor) Handler(fn RecordFunc) Handler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return p.Process(ctx, ev, fn), nil
	}
}

// BatchHandler returns the SQS handler of a worker that looks at the whole
// batch before processing its messages one by one (the alert worker
// applies the records of one alert series together): prepare sees every
// message of the batch and returns the function run over each.
func (p Processor) BatchHandler(prepare func(ctx context.Context, msgs []queuemsg.Message) RecordFunc) Handler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		ctx = p.inLane(ctx)
		return p.Process(ctx, ev, prepare(ctx, Messages(ev))), nil
	}
}

// FinishingHandler is BatchHandler with a closing step: start returns the
// batch's RecordFunc and its finish, which runs once after every message
// was processed and names the messages (by id) whose work it could not
// complete; those are reported as failures too, so they come back. (The
// asset worker records each outcome, then checks each job's completion
// once per batch instead of once per message.)
func (p Processor) FinishingHandler(start func(ctx context.Context, msgs []queuemsg.Message) (RecordFunc, func(ctx context.Context) []string)) Handler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		fn, finish := start(ctx, Messages(ev))
		resp := p.Process(ctx, ev, fn)
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, id := range finish(ctx) {
			if !failed[id] {
				failed[id] = true
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
			}
		}
		return resp, nil
	}
}

// Messages returns the event's records as plain messages.
func Messages(ev events.SQSEvent) []queuemsg.Message {
	out := make([]queuemsg.Message, len(ev.Records))
	for i, rec := range ev.Records {
		out[i] = message(rec)
	}
	return out
}

// message is a record as a plain message; Receives is its
// ApproximateReceiveCount (1 when absent).
func message(rec events.SQSMessage) queuemsg.Message {
	n, err := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		n = 1
	}
	return queuemsg.Message{ID: rec.MessageId, Body: rec.Body, Receives: n}
}

// Process runs fn over ev's records and reports failures; the failure list
// is never null (an empty list tells Lambda the whole batch succeeded). A
// Throttled error with RetryAfter set hands its message back with that
// delay (the vendor asked us to wait longer than the function may sleep)
// before reporting it.
func (p Processor) Process(ctx context.Context, ev events.SQSEvent, fn RecordFunc) events.SQSEventResponse {
	ctx = p.inLane(ctx)
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
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
	return fn(ctx, message(rec))
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
		return p.Process(ctx, ev, func(context.Context, queuemsg.Message) error {
			return apperr.New(apperr.NotImplemented, "%s is not implemented yet; message kept for redelivery", feature)
		}), nil
	}
}
