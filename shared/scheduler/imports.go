package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
)

// ImportWorkList is the scheduler's list of import jobs that are not
// finished, across tenants (dynamostore.ImportJobs).
type ImportWorkList interface {
	// ActiveJobs lists the jobs on the work list. The list is an
	// eventually consistent index: re-read a job before acting on it.
	ActiveJobs(ctx context.Context) ([]importjob.Ref, error)
	// GetJob reads a job with a strongly consistent read (NotFound).
	GetJob(ctx context.Context, ref importjob.Ref) (importjob.Job, error)
	// Unlist removes a job's entry (a job found finished, or gone).
	Unlist(ctx context.Context, ref importjob.Ref) error
}

// JobReconciler recounts a job from its item records, corrects its
// counters and finishes it when every item has an outcome
// (importjob.Tracker).
type JobReconciler interface {
	Reconcile(ctx context.Context, ref importjob.Ref) (importjob.Job, error)
}

// ImportSweepOptions tune an ImportSweep; zero values take the defaults.
type ImportSweepOptions struct {
	Now func() time.Time
	// StallAfter is how long a job may go without progress before the
	// sweep reconciles it (importjob.DefaultStallAfter).
	StallAfter  time.Duration
	Reserve     time.Duration // DefaultReserve
	Concurrency int           // DefaultConcurrency
	Logger      *slog.Logger
}

// ImportSweep is the scheduler's reconcile pass over import jobs: every job
// on the work list that looks stalled (importjob.Job.Stalled: no progress
// for StallAfter, or counters complete with the status still running) is
// reconciled from its item records, which finishes it when every item has
// an outcome, so no job stays running for ever on a lost counter
// increment, even if nobody reads it. Jobs found finished, or gone, leave
// the list. Reconciliation is idempotent and guarded against workers still
// recording, so overlapping sweeps, and GETs reconciling the same job, are
// harmless.
type ImportSweep struct {
	list ImportWorkList
	rec  JobReconciler
	o    ImportSweepOptions
}

// NewImportSweep returns the reconcile pass.
func NewImportSweep(list ImportWorkList, rec JobReconciler, o ImportSweepOptions) *ImportSweep {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StallAfter <= 0 {
		o.StallAfter = importjob.DefaultStallAfter
	}
	if o.Reserve <= 0 {
		o.Reserve = DefaultReserve
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &ImportSweep{list: list, rec: rec, o: o}
}

// What the sweep did with one job.
const (
	// SweepRunning: the job is progressing; left alone.
	SweepRunning = "running"
	// SweepReconciled: the job looked stalled and was reconciled; it is
	// still running (its items are not all recorded).
	SweepReconciled = "reconciled"
	// SweepFinished: reconciling the job finished it.
	SweepFinished = "finished"
	// SweepUnlisted: the job had finished or was gone; its entry was
	// removed.
	SweepUnlisted = "unlisted"
	// SweepSkipped: the invocation's time ran out before the job.
	SweepSkipped = "skipped"
	// SweepFailed: reading or reconciling the job failed.
	SweepFailed = "failed"
)

// ImportSweepReport is what one sweep did, by outcome.
type ImportSweepReport struct {
	Listed   int
	Outcomes map[string]int
}

// OnTick is the scheduled entry point: one sweep, summarized in one log
// line.
func (s *ImportSweep) OnTick(ctx context.Context, t Tick) error {
	rep, err := s.Run(ctx)
	attrs := []any{"eventId", t.ID, "scheduledAt", t.At, "listed", rep.Listed, "running", rep.Outcomes[SweepRunning],
		"reconciled", rep.Outcomes[SweepReconciled], "finished", rep.Outcomes[SweepFinished], "unlisted", rep.Outcomes[SweepUnlisted],
		"skipped", rep.Outcomes[SweepSkipped], "failed", rep.Outcomes[SweepFailed]}
	if err != nil {
		s.o.Logger.ErrorContext(ctx, "import reconcile sweep failed", append(attrs, "error", err.Error())...)
		return err
	}
	s.o.Logger.InfoContext(ctx, "import reconcile sweep", attrs...)
	return nil
}

// Run visits every job on the work list, a few at a time. It is an error
// when the list cannot be read, or when jobs failed and none was handled.
func (s *ImportSweep) Run(ctx context.Context) (ImportSweepReport, error) {
	refs, err := s.list.ActiveJobs(ctx)
	if err != nil {
		return ImportSweepReport{Outcomes: map[string]int{}}, fmt.Errorf("read the import work list: %w", err)
	}
	outcomes := make([]string, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, s.o.Concurrency)
	var wg sync.WaitGroup
	for i, ref := range refs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			outcomes[i], errs[i] = s.job(ctx, ref)
		})
	}
	wg.Wait()
	rep := ImportSweepReport{Listed: len(refs), Outcomes: map[string]int{}}
	for _, o := range outcomes {
		rep.Outcomes[o]++
	}
	if failed := errors.Join(errs...); failed != nil && rep.Outcomes[SweepFailed] == len(refs) {
		return rep, failed
	}
	return rep, nil
}

// job handles one listed job.
func (s *ImportSweep) job(ctx context.Context, ref importjob.Ref) (string, error) {
	if outOfTime(ctx, s.o.Reserve) {
		return SweepSkipped, nil
	}
	log := s.o.Logger.With("tenantId", ref.TenantID, "integrationId", ref.IntegrationID, "jobId", ref.JobID)
	j, err := s.list.GetJob(ctx, ref)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return s.unlist(ctx, log, ref)
	case err != nil:
		log.ErrorContext(ctx, "import sweep: read the job", "error", err.Error())
		return SweepFailed, fmt.Errorf("job %s of tenant %s: %w", ref.JobID, ref.TenantID, err)
	case j.Status.Final():
		return s.unlist(ctx, log, ref)
	case !j.Stalled(s.o.Now(), s.o.StallAfter):
		return SweepRunning, nil
	}
	before := j.Counts
	j, err = s.rec.Reconcile(ctx, ref)
	if err != nil {
		log.ErrorContext(ctx, "import sweep: reconcile the job", "error", err.Error())
		return SweepFailed, fmt.Errorf("job %s of tenant %s: %w", ref.JobID, ref.TenantID, err)
	}
	if j.Status.Final() {
		log.InfoContext(ctx, "import sweep: stalled job finished", "status", string(j.Status), "counted", before, "recorded", j.Counts)
		return SweepFinished, nil
	}
	return SweepReconciled, nil
}

func (s *ImportSweep) unlist(ctx context.Context, log *slog.Logger, ref importjob.Ref) (string, error) {
	if err := s.list.Unlist(ctx, ref); err != nil {
		log.ErrorContext(ctx, "import sweep: unlist the job", "error", err.Error())
		return SweepFailed, fmt.Errorf("job %s of tenant %s: %w", ref.JobID, ref.TenantID, err)
	}
	return SweepUnlisted, nil
}

// outOfTime reports whether the invocation has less than reserve left.
func outOfTime(ctx context.Context, reserve time.Duration) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < reserve
}

// Tick is one tick of the schedule (the scheduler function's edge reads
// it from the EventBridge event).
type Tick struct {
	// ID is the event's id, At its scheduled time: both are logged.
	ID string
	At time.Time
}

// Pass is one kind of periodic work run on every tick.
type Pass func(ctx context.Context, t Tick) error

// Passes runs each scheduled pass in turn, every one even when an earlier
// one failed, and returns their errors joined: one scheduled function does
// several kinds of periodic work.
func Passes(passes ...Pass) Pass {
	return func(ctx context.Context, t Tick) error {
		var errs []error
		for _, p := range passes {
			errs = append(errs, p(ctx, t))
		}
		return errors.Join(errs...)
	}
}
