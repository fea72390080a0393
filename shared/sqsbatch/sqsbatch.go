// Package sqsbatch is the SQS edge of the queue workers: it turns a
// Lambda SQS event into plain queuemsg.Messages, runs a worker's function
// over them the way the Lambda event source mapping expects — every
// message that fails is reported in BatchItemFailures so only it comes
// back, and on a FIFO queue the first failure stops the batch and
// everything after it is reported too, so per-group order holds — and
// hands a throttled message back to its queue with the vendor's delay.
//
// Every hand-back is a receive, and a queue moves a message to its
// dead-letter queue after maxReceiveCount receives: a message held back by
// the request budget (the PSA was busy, nothing failed) would end there
// after a few hand-backs. So a throttled message on its ResendAt-th
// receive or later is not handed back but re-sent as a new message (same
// body, group and attributes; on a standard queue delayed by the wait, at
// most 15 minutes) and the received one deleted. The re-sent message
// carries how many receives its earlier copies had (AttrHandBacks) and
// when the first was received (AttrFirstReceived); past MaxHandBacks the
// message is no longer re-sent but handed back as before, and reaches the
// dead-letter queue like any failing message. On a FIFO queue the
// messages skipped behind a throttled one (never tried) are re-sent the
// same way when near the limit. Re-sending is safe when the delete fails
// (both copies are processed; the workers are idempotent by delivery, and
// a FIFO re-send's deduplication id is derived from the received
// message's id, so a repeated re-send is one message).
//
// What becomes of a failed message (retry, give up, record its failure on
// the last receive) is decided beside it, by queuemsg.Settler, which the
// domain's workers call on plain messages.
package sqsbatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
)

// RecordFunc processes one message (an alias, so that domain packages,
// which do not import sqsbatch, can return one).
type RecordFunc = func(ctx context.Context, m queuemsg.Message) error

// Handler is a Lambda SQS handler (lambdafn.SQSHandler).
type Handler = func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// Queue hands a message back to its queue after a delay, or re-sends it
// as a new message and deletes the received one (sqsqueue.Client
// satisfies it).
type Queue interface {
	ChangeVisibility(ctx context.Context, queueURL, receiptHandle string, timeout time.Duration) error
	Send(ctx context.Context, queueURL string, m sqsqueue.Message) error
	Delete(ctx context.Context, queueURL, receiptHandle string) error
}

// Hand-back limits and the attributes of a re-sent message.
const (
	// ResendAt is the receive from which a throttled message is re-sent
	// instead of handed back: one before the queues' maxReceiveCount
	// (queuemsg.MaxReceives), so that neither its last receive (on which
	// an import worker records its item as failed) nor the dead-letter
	// queue is reached by waiting for the budget.
	ResendAt = queuemsg.MaxReceives - 1
	// MaxHandBacks bounds the receives of a message and its re-sent
	// copies: past it a throttled message is handed back without
	// re-sending, and reaches the dead-letter queue. Hand-backs happen
	// only when the wait exceeds a worker's remaining time (tens of
	// seconds), so 200 is hours of a saturated PSA.
	MaxHandBacks = 200
	// AttrHandBacks is the message attribute counting the receives of
	// a re-sent message's earlier copies.
	AttrHandBacks = "rmmbridge-handbacks"
	// AttrFirstReceived is the message attribute holding when the first
	// copy was first received (RFC 3339).
	AttrFirstReceived = "rmmbridge-first-received"
)

// Processor runs RecordFuncs over batches.
type Processor struct {
	Name     string // function name, for logs
	QueueURL string // for hand-backs and re-sends; empty disables them
	Vis      Queue
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
// ApproximateReceiveCount (1 when absent), Earlier its AttrHandBacks.
func message(rec events.SQSMessage) queuemsg.Message {
	n, err := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		n = 1
	}
	return queuemsg.Message{ID: rec.MessageId, Body: rec.Body, Receives: n, Earlier: earlierReceives(rec)}
}

// earlierReceives is a re-sent message's AttrHandBacks (0 when absent).
func earlierReceives(rec events.SQSMessage) int {
	a, ok := rec.MessageAttributes[AttrHandBacks]
	if !ok || a.StringValue == nil {
		return 0
	}
	n, err := strconv.Atoi(*a.StringValue)
	if err != nil || n < 0 {
		return 0
	}
	return n
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
		wait, held := p.handBack(ctx, rec, err, log)
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		if isFIFO(rec) {
			for _, rest := range ev.Records[i+1:] {
				if held {
					// Never tried, only kept behind a throttled message:
					// no nearer the dead-letter queue for it.
					p.resendNear(ctx, rest, wait, log)
				}
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

// handBack returns a throttled message (apperr Throttled with RetryAfter)
// to its queue: re-sent from its ResendAt-th receive on, handed back with
// ChangeMessageVisibility for the wait otherwise. It reports the wait and
// whether err was such a throttle.
func (p Processor) handBack(ctx context.Context, rec events.SQSMessage, err error, log *slog.Logger) (time.Duration, bool) {
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Throttled || e.RetryAfter <= 0 {
		return 0, false
	}
	if p.Vis == nil || p.QueueURL == "" {
		return e.RetryAfter, true
	}
	if p.resendNear(ctx, rec, e.RetryAfter, log) {
		return e.RetryAfter, true
	}
	if verr := p.Vis.ChangeVisibility(context.WithoutCancel(ctx), p.QueueURL, rec.ReceiptHandle, e.RetryAfter); verr != nil {
		log.WarnContext(ctx, "could not delay throttled message", "messageId", rec.MessageId, "error", verr)
	}
	return e.RetryAfter, true
}

// resendNear re-sends a message held back by the budget as a new one and
// deletes the received one, when it has been received ResendAt times and
// its copies at most MaxHandBacks times in all. It reports whether the
// message was re-sent (the received copy is then gone or, if its delete
// failed, a harmless duplicate).
func (p Processor) resendNear(ctx context.Context, rec events.SQSMessage, wait time.Duration, log *slog.Logger) bool {
	receives := message(rec).Receives
	if p.Vis == nil || p.QueueURL == "" || receives < ResendAt {
		return false
	}
	ctx = context.WithoutCancel(ctx)
	first := firstReceived(rec)
	total := earlierReceives(rec) + receives
	log = log.With("function", p.Name, "messageId", rec.MessageId, "receiveCount", receives, "handBacks", total, "firstReceived", first)
	if total > MaxHandBacks {
		log.ErrorContext(ctx, "message held back by the request budget too often; no longer re-sent: it goes on to the dead-letter queue",
			"maxHandBacks", MaxHandBacks)
		return false
	}
	m := sqsqueue.Message{Body: rec.Body, GroupID: rec.Attributes["MessageGroupId"], Attributes: map[string]string{}}
	for k, v := range rec.MessageAttributes {
		if v.DataType == "String" && v.StringValue != nil {
			m.Attributes[k] = *v.StringValue
		}
	}
	m.Attributes[AttrHandBacks] = strconv.Itoa(total)
	m.Attributes[AttrFirstReceived] = first
	if sqsqueue.IsFIFO(p.QueueURL) {
		// Not the received message's own deduplication id: the queue
		// would drop the re-send as a copy of it.
		sum := sha256.Sum256([]byte("resend#" + rec.MessageId))
		m.DedupID = hex.EncodeToString(sum[:])
	} else {
		m.Delay = min(max(wait, 0), sqsqueue.MaxDelay)
	}
	if err := p.Vis.Send(ctx, p.QueueURL, m); err != nil {
		log.WarnContext(ctx, "could not re-send a message held back by the request budget; handed back instead", "error", err)
		return false
	}
	if err := p.Vis.Delete(ctx, p.QueueURL, rec.ReceiptHandle); err != nil {
		log.WarnContext(ctx, "re-sent a message held back by the request budget, but could not delete the received copy; it will be processed twice", "error", err)
		return true
	}
	log.InfoContext(ctx, "message held back by the request budget; re-sent as a new message", "delay", m.Delay.String())
	return true
}

// firstReceived is when the message's first copy was first received
// (RFC 3339): the attribute a re-send carries, or this copy's
// ApproximateFirstReceiveTimestamp.
func firstReceived(rec events.SQSMessage) string {
	if a, ok := rec.MessageAttributes[AttrFirstReceived]; ok && a.StringValue != nil && *a.StringValue != "" {
		return *a.StringValue
	}
	if ms, err := strconv.ParseInt(rec.Attributes["ApproximateFirstReceiveTimestamp"], 10, 64); err == nil && ms > 0 {
		return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
	}
	return time.Now().UTC().Format(time.RFC3339Nano)
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
