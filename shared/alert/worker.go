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
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
)

// Opener opens an integration's clients (NotFound for an integration that
// no longer exists).
type Opener func(ctx context.Context, tenantID, integrationID string) (providers.Clients, error)

// Worker is the alert-worker SQS consumer of the FIFO AlertQueue: one
// Message per record, applied in order within each series.
//
// A record that can never be applied is logged and acknowledged: a body
// that is not a Message, an integration that was deleted, an activity
// that is not an alert. Every other failure — vendor outages, throttling,
// rejected credentials, a ticket the PSA refuses — is reported as a batch
// item failure: the record (and, FIFO, those after it) comes back, and
// after the queue's five receives it rests in the dead-letter queue, whose
// alarm says tickets may be missing. Nothing accepted is dropped silently.
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
	resp := w.proc.Process(ctx, ev, w.Record)
	if resp.BatchItemFailures == nil {
		resp.BatchItemFailures = []events.SQSBatchItemFailure{}
	}
	return resp, nil
}

// Record applies one AlertQueue record.
func (w *Worker) Record(ctx context.Context, rec events.SQSMessage) error {
	log := w.log.With("messageId", rec.MessageId)
	msg, err := DecodeMessage([]byte(rec.Body))
	if err != nil {
		log.ErrorContext(ctx, "dropping an alert message that cannot be decoded", "error", err)
		return nil
	}
	log = log.With("tenantId", msg.TenantID, "integrationId", msg.IntegrationID, "deliveryId", msg.DeliveryID)
	c, err := w.open(ctx, msg.TenantID, msg.IntegrationID)
	if apperr.Is(err, apperr.NotFound) {
		log.WarnContext(ctx, "dropping an alert of an integration that no longer exists", "error", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("open integration %s: %w", msg.IntegrationID, err)
	}
	a, isAlert, err := parseActivity(c.RMM, msg.Activity)
	if err != nil {
		if apperr.Is(err, apperr.Malformed) {
			log.ErrorContext(ctx, "dropping an alert activity the RMM client cannot parse", "error", err)
			return nil
		}
		return err
	}
	if !isAlert {
		log.InfoContext(ctx, "activity is not an alert; ignored")
		return nil
	}
	sc := account.Scope{TenantID: msg.TenantID, IntegrationID: msg.IntegrationID, Actor: "alert-worker"}
	res, err := w.svc.Apply(ctx, sc, c, a, msg.ReceivedAt)
	if err != nil {
		return fmt.Errorf("apply %s of alert series %s: %w", a.State, a.SeriesID, err)
	}
	log.InfoContext(ctx, "alert applied", "seriesId", a.SeriesID, "activityId", a.ActivityID, "state", string(a.State),
		"outcome", string(res.Outcome), "ticketId", res.TicketID, "detail", res.Reason)
	return nil
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
