package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/metrics"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Opener opens an integration's clients (NotFound for an integration that
// no longer exists).
type Opener func(ctx context.Context, tenantID, integrationID string) (Clients, error)

// Worker applies the messages of the FIFO AlertQueue (the alert-worker
// function's SQS edge runs it over its batches): one Message per queue
// message, applied in order within each series. The messages of one series
// in a batch are applied as one run (Service.ApplyRun: one read and one
// write of the series' link), at the place of the first of them.
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
// tickets may be missing, ready to be redriven. An alert held back by
// the PSA's request budget is not failing: shared/sqsbatch re-sends it as
// a new message before its receives reach the dead-letter queue (bounded
// by sqsbatch.MaxHandBacks). Nothing accepted is dropped.
type Worker struct {
	svc  *Service
	open Opener
	log  *slog.Logger
}

// NewWorker returns the worker; log may be nil (slog.Default).
func NewWorker(svc *Service, open Opener, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.Default()
	}
	return &Worker{svc: svc, open: open, log: log}
}

// item is one record, decoded.
type item struct {
	msg     Message
	log     *slog.Logger
	clients Clients
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

// Prepare decodes every message of a batch and opens each integration
// once; it returns the function that gives each message its outcome (nil:
// applied, or dropped because it is not an alert), applying its series'
// run when the message is the first of it still pending. Messages that
// cannot be applied ever are marked done (dropped, logged).
func (w *Worker) Prepare(ctx context.Context, msgs []queuemsg.Message) func(context.Context, queuemsg.Message) error {
	b := &batch{w: w, items: map[string]*item{}}
	type opened struct {
		c   Clients
		err error
	}
	clients := map[string]opened{}
	for _, rec := range msgs {
		it := &item{log: w.log.With("messageId", rec.ID)}
		b.items[rec.ID] = it
		b.order = append(b.order, rec.ID)
		msg, err := DecodeMessage([]byte(rec.Body))
		if err != nil {
			it.done, it.err = true, fmt.Errorf("record %s: %w", rec.ID, err)
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
		if a, err = resolve(ctx, o.c.RMM, a, it.log); err != nil {
			it.done, it.err = true, err
			continue
		}
		if a.OccurredAt.IsZero() {
			a.OccurredAt = msg.ReceivedAt
		}
		it.alert, it.key = a, ik+"/"+a.SeriesID
	}
	return b.record
}

// record is the outcome of a message, applying its series' run when the
// message is the first of it still pending.
func (b *batch) record(ctx context.Context, rec queuemsg.Message) error {
	it, ok := b.items[rec.ID]
	if !ok {
		return apperr.New(apperr.Internal, "record %s was not prepared", rec.ID)
	}
	if !it.done {
		b.applyRun(ctx, it.key)
	}
	// The one retry rule, with nothing to record into: an alert that can
	// never be routed is recorded by the service as unroutable (no
	// error); every failure goes back to the queue and, after its last
	// receive, to the dead-letter queue.
	return queuemsg.Settler{Name: "alert-worker", Log: it.log}.Settle(ctx, rec, it.err, nil)
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
	sc := tenancy.Scope{TenantID: first.msg.TenantID, IntegrationID: first.msg.IntegrationID, Actor: "alert-worker"}
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
			if res.Outcome == Created && !it.msg.ReceivedAt.IsZero() {
				metrics.AlertTicketLatency(time.Since(it.msg.ReceivedAt))
			}
		case i == len(results):
			it.err = fmt.Errorf("apply %s of alert series %s: %w", it.alert.State, it.alert.SeriesID, err)
		default:
			it.err = apperr.Wrap(apperr.KindOf(err), err, "an earlier event of alert series %s failed", it.alert.SeriesID)
		}
	}
}

// safeApply runs the service, turning a panic into an error for the run.
func (b *batch) safeApply(ctx context.Context, sc tenancy.Scope, c Clients, events []rmm.Alert) (res []Result, err error) {
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

// resolve completes a parsed alert with the RMM's own record of it when
// the RMM client offers that (AlertResolver); the series stays the body's.
func resolve(ctx context.Context, r RMM, a rmm.Alert, log *slog.Logger) (rmm.Alert, error) {
	res, ok := vendorspec.Role[AlertResolver](r)
	if !ok {
		return a, nil
	}
	full, err := res.ResolveAlert(ctx, a)
	switch {
	case err == nil:
		full.SeriesID, full.ActivityID, full.State = a.SeriesID, a.ActivityID, a.State
		return full, nil
	case apperr.KindOf(err) == apperr.NotFound:
		log.WarnContext(ctx, "the RMM has no record of the alert; routed by the webhook body", "seriesId", a.SeriesID, "error", err.Error())
		return a, nil
	default:
		return rmm.Alert{}, fmt.Errorf("read the RMM's record of alert %s: %w", a.SeriesID, err)
	}
}
