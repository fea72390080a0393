package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
)

// Opener opens an integration's clients (NotFound for an integration that
// no longer exists).
type Opener func(ctx context.Context, tenantID, integrationID string) (providers.Clients, error)

// Worker is the alert-worker SQS consumer of the FIFO AlertQueue: one
// Message per record, applied in order within each series. The records of
// one series in a batch are applied as one run (Service.ApplyRun: one read
// and one write of the series' link), at the place of the first of them.
//
// Only an activity that is not an alert is acknowledged without effect.
// An alert that can never be routed to a PSA account (see Service.ApplyRun)
// is not a failure: it is recorded as an unroutable series with its reason
// and acknowledged, so it neither comes back every visibility timeout nor
// blocks its series' FIFO group. Every failure — vendor outages,
// throttling, rejected credentials, a ticket the PSA refuses, and also a
// body that is not a Message, an integration deleted since the delivery,
// an activity the RMM client no longer parses — is logged and reported
// as a batch item failure: the
// record (and, FIFO, those after it) comes back, and after the queue's
// five receives it rests in the dead-letter queue, whose alarm says
// tickets may be missing, ready to be redriven. Nothing accepted is
// dropped.
type Worker struct {
	svc  *Service
	open Opener
	proc sqsbatch.Processor
	log  *slog.Logger
}

// NewWorker returns the worker; proc carries the queue URL and visibility
// changer for throttled records.
func NewWorker(svc *Service, open Opener, proc sqsbatch.Processor) *Worker {
	if proc.Name == "" {
		proc.Name = "alert-worker"
	}
	log := proc.Log
	if log == nil {
		log = slog.Default()
	}
	return &Worker{svc: svc, open: open, proc: proc, log: log}
}

// Handle is the SQS handler. The failure list is never null: an empty list
// tells Lambda the whole batch succeeded.
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	ctx = ratelimit.WithLane(ctx, ratelimit.LaneAlert) // vendor requests go first
	b := w.prepare(ctx, ev.Records)
	resp := w.proc.Process(ctx, ev, b.record)
	if resp.BatchItemFailures == nil {
		resp.BatchItemFailures = []events.SQSBatchItemFailure{}
	}
	return resp, nil
}

// item is one record, decoded.
type item struct {
	msg     Message
	log     *slog.Logger
	clients providers.Clients
	alert   rmm.Alert
	// key is the record's series ("tenant/integration/series"); empty for
	// a record that is dropped or failed before its series is known.
	key string
	// done is set once the record's outcome is known, with err its
	// failure (nil: processed or dropped).
	done bool
	err  error
}

// batch is one SQS batch being processed.
type batch struct {
	w     *Worker
	items map[string]*item // by message id
	order []string         // message ids in record order
}

// prepare decodes every record and opens each integration once. Records
// that cannot be applied ever are marked done (dropped, logged).
func (w *Worker) prepare(ctx context.Context, recs []events.SQSMessage) *batch {
	b := &batch{w: w, items: map[string]*item{}}
	type opened struct {
		c   providers.Clients
		err error
	}
	clients := map[string]opened{}
	for _, rec := range recs {
		it := &item{log: w.log.With("messageId", rec.MessageId)}
		b.items[rec.MessageId] = it
		b.order = append(b.order, rec.MessageId)
		msg, err := DecodeMessage([]byte(rec.Body))
		if err != nil {
			it.done, it.err = true, fmt.Errorf("record %s: %w", rec.MessageId, err)
			continue
		}
		it.msg = msg
		it.log = it.log.With("tenantId", msg.TenantID, "integrationId", msg.IntegrationID, "deliveryId", msg.DeliveryID)
		ik := msg.TenantID + "/" + msg.IntegrationID
		o, ok := clients[ik]
		if !ok {
			c, err := w.open(ctx, msg.TenantID, msg.IntegrationID)
			o = opened{c: c, err: err}
			clients[ik] = o
		}
		if o.err != nil {
			it.done, it.err = true, fmt.Errorf("open integration %s: %w", msg.IntegrationID, o.err)
			continue
		}
		it.clients = o.c
		a, isAlert, err := parseActivity(o.c.RMM, msg.Activity)
		switch {
		case err != nil:
			it.done, it.err = true, err
			continue
		case !isAlert:
			it.log.InfoContext(ctx, "activity is not an alert; ignored")
			it.done = true
			continue
		}
		if a.OccurredAt.IsZero() {
			a.OccurredAt = msg.ReceivedAt
		}
		it.alert, it.key = a, ik+"/"+a.SeriesID
	}
	return b
}

// record is the Processor's function: the outcome of a record, applying
// its series' run when the record is the first of it still pending.
func (b *batch) record(ctx context.Context, rec events.SQSMessage) error {
	it, ok := b.items[rec.MessageId]
	if !ok {
		return apperr.New(apperr.Internal, "record %s was not prepared", rec.MessageId)
	}
	if !it.done {
		b.applyRun(ctx, it.key)
	}
	return it.err
}

// applyRun applies the pending records of one series, in record order.
func (b *batch) applyRun(ctx context.Context, key string) {
	var run []*item
	for _, id := range b.order {
		if it := b.items[id]; !it.done && it.key == key {
			run = append(run, it)
		}
	}
	first := run[0]
	sc := account.Scope{TenantID: first.msg.TenantID, IntegrationID: first.msg.IntegrationID, Actor: "alert-worker"}
	events := make([]rmm.Alert, len(run))
	for i, it := range run {
		events[i] = it.alert
	}
	results, err := b.safeApply(ctx, sc, first.clients, events)
	for i, it := range run {
		it.done = true
		switch {
		case i < len(results):
			res := results[i]
			it.log.InfoContext(ctx, "alert applied", "seriesId", it.alert.SeriesID, "activityId", it.alert.ActivityID,
				"state", string(it.alert.State), "outcome", string(res.Outcome), "ticketId", res.TicketID, "detail", res.Reason)
		case i == len(results):
			it.err = fmt.Errorf("apply %s of alert series %s: %w", it.alert.State, it.alert.SeriesID, err)
		default:
			it.err = apperr.Wrap(apperr.KindOf(err), err, "an earlier event of alert series %s failed", it.alert.SeriesID)
		}
	}
}

// safeApply runs the service, turning a panic into an error for the run.
func (b *batch) safeApply(ctx context.Context, sc account.Scope, c providers.Clients, events []rmm.Alert) (res []Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, apperr.New(apperr.Internal, "panic applying alert series %s: %v", events[0].SeriesID, r)
		}
	}()
	return b.w.svc.ApplyRun(ctx, sc, c, events)
}

// DecodeMessage reads an AlertQueue message body; it needs the tenant,
// the integration and an activity.
func DecodeMessage(body []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return Message{}, apperr.Wrap(apperr.Malformed, err, "the alert message is not JSON")
	}
	if m.TenantID == "" || m.IntegrationID == "" || len(m.Activity) == 0 || string(m.Activity) == "null" {
		return Message{}, apperr.New(apperr.Malformed, "the alert message lacks tenantId, integrationId or activity")
	}
	return m, nil
}
