package scheduler_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/scheduler"
)

// newJobTable creates a table with the template's layout in moto.
func newJobTable(t *testing.T, client *dynamodb.Client) string {
	t.Helper()
	table := testtable.Create(t, client, "sweep")
	return table
}

// sweepEnv is the real job repository on moto and the tracker workers
// record with.
type sweepEnv struct {
	store *dynamostore.Store
	jobs  dynamostore.ImportJobs
	tr    *importjob.Tracker
	quiet *slog.Logger
}

func newSweepEnv(t *testing.T) *sweepEnv {
	t.Helper()
	ddb := dynamodb.NewFromConfig(motoserver.ForTest(t))
	st := dynamostore.New(ddb, newJobTable(t, ddb))
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	jobs := dynamostore.NewImportJobs(st)
	return &sweepEnv{store: st, jobs: jobs, tr: importjob.NewTracker(jobs, importjob.Options{Logger: quiet}), quiet: quiet}
}

// assetJob creates a running asset import of one organization of n
// devices, counted, in tenant tenantID.
func (e *sweepEnv) assetJob(t *testing.T, tenantID string, n int) importjob.Ref {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	j := importjob.Job{ID: importjob.NewJobID(now), TenantID: tenantID, IntegrationID: "i_1", Kind: importjob.KindAssets,
		Status: importjob.StatusQueued, Orgs: 1, CreatedAt: now}
	if err := e.jobs.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := e.tr.Start(ctx, j.Ref()); err != nil {
		t.Fatal(err)
	}
	if err := e.tr.CountOrg(ctx, j.Ref(), "o1", n); err != nil {
		t.Fatal(err)
	}
	return j.Ref()
}

// record records device i (of keys d0 …) as created, as asset-refresh does.
func (e *sweepEnv) record(t *testing.T, ref importjob.Ref, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := e.tr.Record(context.Background(), ref.TenantID, ref.IntegrationID, ref.JobID, importjob.Item{Key: "d" + strconv.Itoa(i), Status: importjob.Created}); err != nil {
			t.Fatal(err)
		}
	}
}

// entryItem is an item record as dynamostore writes it.
type entryItem struct {
	PK        string    `dynamodbav:"pk"`
	SK        string    `dynamodbav:"sk"`
	Key       string    `dynamodbav:"key"`
	Status    string    `dynamodbav:"status"`
	UpdatedAt time.Time `dynamodbav:"updatedAt"`
}

// loseCounter writes device i's item record without the counter increment
// that goes with it, as a lost update leaves it.
func (e *sweepEnv) loseCounter(t *testing.T, ref importjob.Ref, i int) {
	t.Helper()
	key := "d" + strconv.Itoa(i)
	it := entryItem{PK: dynamostore.IntegrationPK(ref.TenantID, ref.IntegrationID), SK: "JOB#" + ref.JobID + "#ITEM#" + key,
		Key: key, Status: string(importjob.Created), UpdatedAt: time.Now().UTC()}
	if err := e.store.PutNew(context.Background(), it); err != nil {
		t.Fatal(err)
	}
}

func (e *sweepEnv) job(t *testing.T, ref importjob.Ref) importjob.Job {
	t.Helper()
	j, err := e.jobs.GetJob(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestImportSweepFinishesStalledJobs runs the scheduler's import sweep over
// the real work list in moto, across tenants:
//   - stuck: every device recorded, one without its counter increment,
//     stalled at 9/10 → recounted and finished, off the list;
//   - waiting: 6 of 10 devices recorded, one without its increment, stalled
//     → counters corrected, still running and listed (not finished early);
//   - gone: a list entry whose job no longer exists → unlisted;
//   - busy: a job that recorded a moment ago → left alone, not even recounted.
//
// A second sweep finds only the two running jobs and changes nothing.
func TestImportSweepFinishesStalledJobs(t *testing.T) {
	ctx := context.Background()
	e := newSweepEnv(t)
	const stallAfter = 2 * time.Second

	stuck := e.assetJob(t, "t_a", 10)
	e.record(t, stuck, 0, 9)
	e.loseCounter(t, stuck, 9)
	waiting := e.assetJob(t, "t_b", 10)
	e.record(t, waiting, 0, 5)
	e.loseCounter(t, waiting, 5)
	gone := e.assetJob(t, "t_c", 1)
	if err := e.store.Delete(ctx, dynamostore.Key{PK: dynamostore.IntegrationPK(gone.TenantID, gone.IntegrationID), SK: "JOB#" + gone.JobID}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(stallAfter + 500*time.Millisecond)
	busy := e.assetJob(t, "t_d", 10)
	e.record(t, busy, 0, 3)
	busyBefore := e.job(t, busy)
	// The sweeps judge staleness at this instant, so a slow machine
	// between here and the second sweep cannot make the busy job stall.
	sweepAt := time.Now()

	sweep := scheduler.NewImportSweep(e.jobs, importjob.NewTracker(e.jobs, importjob.Options{Logger: e.quiet}),
		scheduler.ImportSweepOptions{StallAfter: stallAfter, Logger: e.quiet, Now: func() time.Time { return sweepAt }})
	rep, err := sweep.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{scheduler.SweepFinished: 1, scheduler.SweepReconciled: 1, scheduler.SweepUnlisted: 1, scheduler.SweepRunning: 1}
	if diff := cmp.Diff(want, rep.Outcomes); diff != "" || rep.Listed != 4 {
		t.Errorf("sweep listed %d; outcomes (-want +got):\n%s", rep.Listed, diff)
	}

	check := func(name string, ref importjob.Ref, status importjob.Status, counts importjob.Counts) {
		t.Helper()
		j := e.job(t, ref)
		if diff := cmp.Diff(counts, j.Counts); diff != "" || j.Status != status {
			t.Errorf("%s: job %s, want %s; counts (-want +got):\n%s", name, j.Status, status, diff)
		}
	}
	check("stuck", stuck, importjob.StatusSucceeded, importjob.Counts{Total: 10, Created: 10})
	check("waiting", waiting, importjob.StatusRunning, importjob.Counts{Total: 10, Created: 6})
	if j := e.job(t, busy); j.Rev != busyBefore.Rev || !j.CheckedAt.IsZero() {
		t.Errorf("busy job was touched: rev %d → %d, checked %v", busyBefore.Rev, j.Rev, j.CheckedAt)
	}
	listed, err := e.jobs.ActiveJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]importjob.Ref{waiting, busy}, listed); diff != "" {
		t.Errorf("work list after the sweep (-want +got):\n%s", diff)
	}

	// The waiting job's last devices finish it on their own.
	e.record(t, waiting, 6, 10)
	check("waiting, done", waiting, importjob.StatusSucceeded, importjob.Counts{Total: 10, Created: 10})

	rep, err = sweep.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{scheduler.SweepRunning: 1}, rep.Outcomes); diff != "" {
		t.Errorf("second sweep outcomes (-want +got):\n%s", diff)
	}
	check("stuck, swept again", stuck, importjob.StatusSucceeded, importjob.Counts{Total: 10, Created: 10})
}

// TestImportSweepHandle runs the scheduled entry point the way the
// scheduler function does, beside a failing provisioning pass: the sweep
// finishes the stalled job although the other pass fails, and the
// invocation reports that failure.
func TestImportSweepHandle(t *testing.T) {
	ctx := context.Background()
	e := newSweepEnv(t)
	stuck := e.assetJob(t, "t_a", 3)
	e.record(t, stuck, 0, 2)
	e.loseCounter(t, stuck, 2)
	sweep := scheduler.NewImportSweep(e.jobs, importjob.NewTracker(e.jobs, importjob.Options{Logger: e.quiet}),
		scheduler.ImportSweepOptions{StallAfter: time.Nanosecond, Logger: e.quiet})
	boom := errors.New("provisioning is down")
	provisioning := func(context.Context, scheduler.Tick) error { return boom }
	err := scheduler.Passes(provisioning, sweep.OnTick)(ctx, scheduler.Tick{ID: "tick-1"})
	if !errors.Is(err, boom) {
		t.Errorf("Passes = %v, want the provisioning pass's error", err)
	}
	if j := e.job(t, stuck); j.Status != importjob.StatusSucceeded || j.Counts != (importjob.Counts{Total: 3, Created: 3}) {
		t.Errorf("stalled job after the tick: %s %+v, want succeeded with 3 created", j.Status, j.Counts)
	}
}
