package asset

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

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
	return w.process(ctx, m, w.put)
}

// deferredRecorder records an outcome without checking the job's
// completion, and checks it separately (importjob.Tracker).
type deferredRecorder interface {
	RecordUnchecked(ctx context.Context, tenantID, integrationID, jobID string, it importjob.Item) error
	CheckDone(ctx context.Context, ref importjob.Ref) (importjob.Job, error)
}

// Batch is the work of one SQS batch (sqsbatch.FinishingHandler): each
// message is processed as Process does, but its outcome is recorded
// without the job's completion check, which finish runs once per job of
// the batch. A check that fails hands that job's messages back (their
// outcomes are recorded; the redelivery records nothing new and checks
// again), so the job's last outcome is always followed by a check.
func (w *Worker) Batch(_ context.Context, _ []queuemsg.Message) (func(context.Context, queuemsg.Message) error, func(context.Context) []string) {
	dr, ok := w.rec.(deferredRecorder)
	if !ok {
		return w.Process, func(context.Context) []string { return nil }
	}
	var (
		mu   sync.Mutex
		jobs = map[importjob.Ref][]string{}
	)
	fn := func(ctx context.Context, m queuemsg.Message) error {
		return w.process(ctx, m, func(ctx context.Context, msg queuemsg.AssetRefresh, it importjob.Item) error {
			if msg.JobID == "" {
				return nil
			}
			if err := dr.RecordUnchecked(ctx, msg.TenantID, msg.IntegrationID, msg.JobID, it); err != nil {
				return fmt.Errorf("record %s of device %s in job %s: %w", it.Status, it.Key, msg.JobID, err)
			}
			ref := importjob.Ref{TenantID: msg.TenantID, IntegrationID: msg.IntegrationID, JobID: msg.JobID}
			mu.Lock()
			jobs[ref] = append(jobs[ref], m.ID)
			mu.Unlock()
			return nil
		})
	}
	finish := func(ctx context.Context) []string {
		mu.Lock()
		defer mu.Unlock()
		var back []string
		for ref, ids := range jobs {
			if _, err := dr.CheckDone(ctx, ref); err != nil {
				w.log.ErrorContext(ctx, "could not check the import's completion; its messages come back", "tenantId", ref.TenantID,
					"integrationId", ref.IntegrationID, "jobId", ref.JobID, "error", err)
				back = append(back, ids...)
			}
		}
		return back
	}
	return fn, finish
}

func (w *Worker) process(ctx context.Context, m queuemsg.Message, put func(context.Context, queuemsg.AssetRefresh, importjob.Item) error) error {
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
		k := Known{Device: msg.Device, Import: msg.JobID != ""}
		if !m.Redelivered() {
			// A redelivered message (a re-sent copy too) runs the full
			// ladder: its first delivery may have created the asset
			// and died before recording it.
			k.Match = msg.Match
		}
		var res Result
		res, err = w.svc.RefreshKnown(ctx, sc, c, msg.DeviceID, k)
		if err == nil {
			log.InfoContext(ctx, "asset refreshed", "outcome", string(res.Outcome), "assetId", res.Link.AssetID, "detail", res.Reason)
			metrics.DeviceProcessed(string(res.Outcome))
			return put(ctx, msg, importjob.Item{Key: msg.DeviceID, Status: res.Outcome, Reason: res.Reason})
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
			return put(ctx, msg, importjob.Item{Key: msg.DeviceID, Status: importjob.Failed, Reason: reason})
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
