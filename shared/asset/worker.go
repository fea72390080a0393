package asset

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/metrics"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// Opener opens an integration's clients for a refresh (NotFound for an
// integration the tenant does not have).
type Opener func(ctx context.Context, tenantID, integrationID string) (Clients, error)

// Worker refreshes the devices of AssetQueue messages: one
// queuemsg.AssetRefresh per message, one refresh each (the asset-refresh
// function's SQS edge runs Process over its batches).
//
// Each device of an import job gets its outcome recorded once through the
// Recorder: the refresh's outcome when it ends; "failed" with the reason at
// once when the failure is permanent (an RMM that does not know the device,
// rejected credentials — retrying cannot help, and the job's retry re-queues
// it); and "failed" on the last receive (queuemsg.MaxReceives) when a
// transient failure persists, before the message goes to the dead-letter
// queue (queuemsg.Settler decides which). Messages that name no job or an
// integration that no longer exists cannot be recorded: they are logged
// and reported failed, so they end in the dead-letter queue.
type Worker struct {
	svc  *Service
	open Opener
	rec  importjob.Recorder
	log  *slog.Logger
}

// NewWorker returns the worker. rec may be nil (outcomes are then only
// logged); log may be nil (slog.Default).
func NewWorker(svc *Service, open Opener, rec importjob.Recorder, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.Default()
	}
	return &Worker{svc: svc, open: open, rec: rec, log: log}
}

// Process refreshes the device of one AssetQueue message. A nil error
// acknowledges the message; an error sends it back to the queue.
func (w *Worker) Process(ctx context.Context, m queuemsg.Message) error {
	msg, err := queuemsg.DecodeAssetRefresh(m.Body)
	if err != nil {
		return fmt.Errorf("message %s: %w", m.ID, err)
	}
	log := w.log.With("messageId", m.ID, "tenantId", msg.TenantID, "integrationId", msg.IntegrationID,
		"deviceId", msg.DeviceID, "jobId", msg.JobID, "reason", msg.Reason)
	sc := tenancy.Scope{TenantID: msg.TenantID, IntegrationID: msg.IntegrationID, Actor: "asset-refresh"}

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
			metrics.DeviceProcessed(string(res.Outcome))
			return w.put(ctx, msg, importjob.Item{Key: msg.DeviceID, Status: res.Outcome, Reason: res.Reason})
		}
	}
	if !apperr.KindOf(err).Transient() {
		// The RMM does not know the device, the PSA refused the asset
		// or the credentials: retrying cannot help.
		err = queuemsg.GiveUp(err, "")
		metrics.DeviceProcessed(string(importjob.Failed))
	}
	var record queuemsg.RecordFailure
	if msg.JobID != "" && w.rec != nil {
		record = func(ctx context.Context, reason string) error {
			return w.put(ctx, msg, importjob.Item{Key: msg.DeviceID, Status: importjob.Failed, Reason: reason})
		}
	}
	return queuemsg.Settler{Name: "asset-refresh", Log: log}.Settle(ctx, m, err, record)
}

func (w *Worker) put(ctx context.Context, msg queuemsg.AssetRefresh, it importjob.Item) error {
	if msg.JobID == "" || w.rec == nil {
		return nil
	}
	if err := w.rec.Record(ctx, msg.TenantID, msg.IntegrationID, msg.JobID, it); err != nil {
		return fmt.Errorf("record %s of device %s in job %s: %w", it.Status, it.Key, msg.JobID, err)
	}
	return nil
}
