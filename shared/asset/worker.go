package asset

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
)

// Opener opens an integration's clients for a refresh (NotFound for an
// integration the tenant does not have).
type Opener func(ctx context.Context, tenantID, integrationID string) (Clients, error)

// Worker is the asset-refresh SQS consumer: one importjob.AssetMessage per
// record, one refresh each.
//
// Each device of an import job gets its outcome recorded once through the
// Recorder: the refresh's outcome when it ends; "failed" with the reason at
// once when the failure is permanent (an RMM that does not know the device,
// rejected credentials — retrying cannot help, and the job's retry re-queues
// it); and "failed" on the last receive (importjob.MaxReceives) when a
// transient failure persists, before the message goes to the dead-letter
// queue. A throttled refresh whose vendor asks for a longer wait than the
// function may sleep goes back to its queue with that delay (the
// Processor's visibility change) instead of failing. Messages that name no
// job or an integration that no longer exists cannot be recorded: they are
// logged and reported failed, so they end in the dead-letter queue.
type Worker struct {
	svc  *Service
	open Opener
	rec  importjob.Recorder
	proc sqsbatch.Processor
	log  *slog.Logger
}

// NewWorker returns the worker. rec may be nil (outcomes are then only
// logged); proc carries the queue URL and visibility changer for throttled
// messages.
func NewWorker(svc *Service, open Opener, rec importjob.Recorder, proc sqsbatch.Processor) *Worker {
	log := proc.Log
	if log == nil {
		log = slog.Default()
	}
	if proc.Name == "" {
		proc.Name = "asset-refresh"
	}
	return &Worker{svc: svc, open: open, rec: rec, proc: proc, log: log}
}

// Handle is the SQS handler.
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	ctx = ratelimit.WithLane(ctx, ratelimit.LaneImport) // after alerts and the Sync button
	return w.proc.Process(ctx, ev, w.record), nil
}

func (w *Worker) record(ctx context.Context, rec events.SQSMessage) error {
	var msg importjob.AssetMessage
	if err := json.Unmarshal([]byte(rec.Body), &msg); err != nil {
		return apperr.Wrap(apperr.Malformed, err, "message %s is not an asset message", rec.MessageId)
	}
	if msg.TenantID == "" || msg.IntegrationID == "" || msg.DeviceID == "" {
		return apperr.New(apperr.Malformed, "message %s lacks tenantId, integrationId or deviceId", rec.MessageId)
	}
	log := w.log.With("messageId", rec.MessageId, "tenantId", msg.TenantID, "integrationId", msg.IntegrationID,
		"deviceId", msg.DeviceID, "jobId", msg.JobID, "reason", msg.Reason)
	sc := account.Scope{TenantID: msg.TenantID, IntegrationID: msg.IntegrationID, Actor: "asset-refresh"}

	c, err := w.open(ctx, msg.TenantID, msg.IntegrationID)
	if apperr.Is(err, apperr.NotFound) {
		// The integration is gone, and its jobs with it: nothing to
		// record into.
		return fmt.Errorf("open integration %s: %w", msg.IntegrationID, err)
	}
	if err == nil {
		var res Result
		res, err = w.svc.Refresh(ctx, sc, c, msg.DeviceID)
		if err == nil {
			log.InfoContext(ctx, "asset refreshed", "outcome", string(res.Outcome), "assetId", res.Link.AssetID, "detail", res.Reason)
			return w.put(ctx, msg, importjob.Item{Key: msg.DeviceID, Status: res.Outcome, Reason: res.Reason})
		}
	}
	kind := apperr.KindOf(err)
	last := receiveCount(rec) >= importjob.MaxReceives
	if kind.Transient() && !last {
		return err
	}
	if msg.JobID == "" {
		if !kind.Transient() {
			log.WarnContext(ctx, "asset refresh failed permanently", "kind", kind.String(), "error", err)
			return nil
		}
		return err
	}
	if rerr := w.put(ctx, msg, importjob.Item{Key: msg.DeviceID, Status: importjob.Failed, Reason: reason(err)}); rerr != nil {
		return fmt.Errorf("%w; and recording the failure: %w", err, rerr)
	}
	if !kind.Transient() {
		log.WarnContext(ctx, "asset refresh failed permanently; recorded as failed", "kind", kind.String(), "error", err)
		return nil
	}
	return err
}

func (w *Worker) put(ctx context.Context, msg importjob.AssetMessage, it importjob.Item) error {
	if msg.JobID == "" || w.rec == nil {
		return nil
	}
	if err := w.rec.Record(ctx, msg.TenantID, msg.IntegrationID, msg.JobID, it); err != nil {
		return fmt.Errorf("record %s of device %s in job %s: %w", it.Status, it.Key, msg.JobID, err)
	}
	return nil
}

// receiveCount is the record's ApproximateReceiveCount (1 when absent).
func receiveCount(rec events.SQSMessage) int {
	n, err := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// reason is the client-safe text of a failure, for the job's item list.
func reason(err error) string {
	if e, ok := apperr.As(err); ok && e.Kind != apperr.Internal && e.Message != "" {
		return e.Message
	}
	return "internal error; see the asset-refresh logs"
}
