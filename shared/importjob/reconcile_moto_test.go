package importjob_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// testClock is the domain clock of the tracker and service: the real time
// (the store stamps progress with it) moved on by what tests advance it.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func newTestClock() *testClock { return &testClock{} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// stallEnv is the real job repository on moto with a Tracker and Service
// on one test clock.
type stallEnv struct {
	jobs  dynamostore.ImportJobs
	store *dynamostore.Store
	tr    *importjob.Tracker
	svc   *importjob.Service
	clock *testClock
}

const stallAfter = 5 * time.Minute

func newStallEnv(t *testing.T, cfg aws.Config) *stallEnv {
	t.Helper()
	return newStallEnvWith(t, cfg, importjob.Options{})
}

// newStallEnvWith is newStallEnv with o's reconciliation knobs.
func newStallEnvWith(t *testing.T, cfg aws.Config, o importjob.Options) *stallEnv {
	t.Helper()
	ddb := dynamodb.NewFromConfig(cfg)
	st := dynamostore.New(ddb, newMotoTable(t, ddb))
	e := &stallEnv{store: st, jobs: dynamostore.NewImportJobs(st), clock: newTestClock()}
	o.Now, o.StallAfter, o.Logger = e.clock.Now, stallAfter, slog.New(slog.NewJSONHandler(io.Discard, nil))
	e.tr = importjob.NewTracker(e.jobs, o)
	e.svc = importjob.NewService(e.jobs, e.tr, newFakeSender(), queues, o)
	return e
}

// start creates a job of kind over the organizations (id → devices, in
// order) as the API does, and moves it to running as the first dispatch
// does. For an asset import the organizations in counted have their
// devices counted, as the dispatcher does once it has fanned them out.
func (e *stallEnv) start(t *testing.T, kind importjob.Kind, orgs []string, devices map[string]int, counted ...string) importjob.Job {
	t.Helper()
	ctx := context.Background()
	r := newFakeRMM(rmmSetup{})
	for _, id := range orgs {
		r.Fake().AddOrganization(rmm.Organization{ID: id, Name: "Org " + id})
	}
	j, err := e.svc.Create(ctx, tenant, integration, importjob.CreateInput{Kind: kind}, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.tr.Start(ctx, j.Ref()); err != nil {
		t.Fatal(err)
	}
	for _, id := range counted {
		if err := e.tr.CountOrg(ctx, j.Ref(), id, devices[id]); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

// deviceKeys are the device ids of organization org: "<org>-0" ….
func deviceKeys(org string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = org + "-" + strconv.Itoa(i)
	}
	return keys
}

// record records outcome o for keys as asset-refresh does.
func (e *stallEnv) record(t *testing.T, ref importjob.Ref, o importjob.Outcome, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := e.tr.Record(context.Background(), ref.TenantID, ref.IntegrationID, ref.JobID, importjob.Item{Key: k, Status: o}); err != nil {
			t.Fatalf("record %s: %v", k, err)
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

// loseCounter leaves an item as a transaction whose counter increment was
// lost does: the item record written with its outcome, the job untouched
// (neither its counters nor its progress time).
func (e *stallEnv) loseCounter(t *testing.T, ref importjob.Ref, o importjob.Outcome, key string) {
	t.Helper()
	it := entryItem{PK: dynamostore.IntegrationPK(ref.TenantID, ref.IntegrationID), SK: "JOB#" + ref.JobID + "#ITEM#" + key,
		Key: key, Status: string(o), UpdatedAt: time.Now().UTC()}
	if err := e.store.PutNew(context.Background(), it); err != nil {
		t.Fatalf("write item %s without its counter: %v", key, err)
	}
}

func (e *stallEnv) get(t *testing.T, ref importjob.Ref) importjob.Job {
	t.Helper()
	j, err := e.svc.Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// stored reads the job from the store, bypassing Get's reconciliation.
func (e *stallEnv) stored(t *testing.T, ref importjob.Ref) importjob.Job {
	t.Helper()
	j, err := e.jobs.GetJob(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (e *stallEnv) listed(t *testing.T, ref importjob.Ref) bool {
	t.Helper()
	refs, err := e.jobs.ActiveJobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		if r == ref {
			return true
		}
	}
	return false
}

// checkJob compares a job's status and counts.
func checkJob(t *testing.T, what string, j importjob.Job, status importjob.Status, counts importjob.Counts) {
	t.Helper()
	if diff := cmp.Diff(counts, j.Counts); diff != "" || j.Status != status {
		t.Errorf("%s: job %s, want %s; counts (-want +got):\n%s", what, j.Status, status, diff)
	}
}

// TestStalledImportFinishesOnRead is issue 9's stuck import: an asset
// import of 100 devices whose every item has an outcome, one of them
// written without its counter increment, stays running at 99/100. GET
// reports it as counted while it may still be progressing; once nothing
// has moved for StallAfter, GET recounts the item records, corrects the
// counters, finishes the job and takes it off the scheduler's work list.
// Reading it again changes nothing.
func TestStalledImportFinishesOnRead(t *testing.T) {
	e := newStallEnv(t, motoserver.ForTest(t))
	devices := map[string]int{"1": 60, "2": 40}
	j := e.start(t, importjob.KindAssets, []string{"1", "2"}, devices, "1", "2")
	ref := j.Ref()
	e.record(t, ref, importjob.Created, deviceKeys("1", 60)...)
	e.record(t, ref, importjob.Created, deviceKeys("2", 39)...)
	e.loseCounter(t, ref, importjob.Created, "2-39")

	got := e.get(t, ref)
	checkJob(t, "read at once", got, importjob.StatusRunning, importjob.Counts{Total: 100, Created: 99})

	e.clock.Advance(stallAfter)
	before := e.clock.Now().Truncate(time.Millisecond)
	got = e.get(t, ref)
	after := e.clock.Now()
	checkJob(t, "read after StallAfter", got, importjob.StatusSucceeded, importjob.Counts{Total: 100, Created: 100})
	if got.FinishedAt.Before(before) || got.FinishedAt.After(after) {
		t.Errorf("finishedAt = %v, want the read's time (%v … %v)", got.FinishedAt, before, after)
	}
	stored := e.stored(t, ref)
	checkJob(t, "stored", stored, importjob.StatusSucceeded, importjob.Counts{Total: 100, Created: 100})
	if stored.OrgsDone != 2 {
		t.Errorf("orgsDone = %d, want 2", stored.OrgsDone)
	}
	if e.listed(t, ref) {
		t.Error("the finished job is still on the scheduler's work list")
	}

	e.clock.Advance(time.Hour)
	again := e.get(t, ref)
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("a second read changed the job (-first +second):\n%s", diff)
	}
}

// TestImportWithCountersCompleteFinishesOnRead: every item was recorded
// with its counter, but the job was never finished (the worker died
// between its record and its check). GET finishes it at once: counters
// that add up to the total with the status still running are a stall.
func TestImportWithCountersCompleteFinishesOnRead(t *testing.T) {
	e := newStallEnv(t, motoserver.ForTest(t))
	j := e.start(t, importjob.KindAssets, []string{"1"}, map[string]int{"1": 3}, "1")
	ref := j.Ref()
	for i, o := range []importjob.Outcome{importjob.Created, importjob.Linked, importjob.Failed} {
		ch := importjob.Change{Items: []importjob.ItemChange{{Item: importjob.Item{Key: "1-" + strconv.Itoa(i), Status: o, Reason: "x", Updated: e.clock.Now()}}}}
		ch.Delta.Add(o, 1)
		if err := e.jobs.Apply(context.Background(), ref, ch); err != nil {
			t.Fatal(err)
		}
	}
	checkJob(t, "stored before", e.stored(t, ref), importjob.StatusRunning, importjob.Counts{Total: 3, Created: 1, Linked: 1, Failed: 1})
	checkJob(t, "read", e.get(t, ref), importjob.StatusPartial, importjob.Counts{Total: 3, Created: 1, Linked: 1, Failed: 1})
}

// TestStalledOrganizationImportFinishesOnRead covers jobs with one item per
// organization (the total is fixed when the job is created): a lost
// counter increment on a review item is recounted and the job finishes
// partial.
func TestStalledOrganizationImportFinishesOnRead(t *testing.T) {
	e := newStallEnv(t, motoserver.ForTest(t))
	j := e.start(t, importjob.KindOrganizations, []string{"1", "2", "3"}, nil)
	ref := j.Ref()
	e.record(t, ref, importjob.Linked, "1", "2")
	e.loseCounter(t, ref, importjob.Review, "3")
	checkJob(t, "read at once", e.get(t, ref), importjob.StatusRunning, importjob.Counts{Total: 3, Linked: 2})
	e.clock.Advance(stallAfter + time.Second)
	checkJob(t, "read after StallAfter", e.get(t, ref), importjob.StatusPartial, importjob.Counts{Total: 3, Linked: 2, Review: 1})
}

// TestImportInProgressIsNotFinishedEarly reads jobs that have stalled for
// StallAfter but are not done: devices still without an outcome (one of
// the recorded ones lost its counter increment), and an organization whose
// devices are not counted yet although every counted device has an
// outcome. Reconciling corrects the counters and leaves both running and
// listed; when the remaining work is recorded the way workers record it,
// each job finishes on its own with exact counts.
func TestImportInProgressIsNotFinishedEarly(t *testing.T) {
	e := newStallEnv(t, motoserver.ForTest(t))
	devices := map[string]int{"1": 20, "2": 10}

	waiting := e.start(t, importjob.KindAssets, []string{"1", "2"}, devices, "1", "2")
	wref := waiting.Ref()
	e.record(t, wref, importjob.Created, deviceKeys("1", 20)...)
	e.loseCounter(t, wref, importjob.Updated, "2-0")

	unpaged := e.start(t, importjob.KindAssets, []string{"1", "2"}, devices, "1")
	uref := unpaged.Ref()
	e.record(t, uref, importjob.Unchanged, deviceKeys("1", 20)...)

	e.clock.Advance(stallAfter + time.Minute)
	checkJob(t, "devices outstanding", e.get(t, wref), importjob.StatusRunning, importjob.Counts{Total: 30, Created: 20, Updated: 1})
	checkJob(t, "organization not counted", e.get(t, uref), importjob.StatusRunning, importjob.Counts{Total: 20, Unchanged: 20})
	for _, ref := range []importjob.Ref{wref, uref} {
		if j := e.stored(t, ref); !j.FinishedAt.IsZero() || j.CheckedAt.IsZero() || !e.listed(t, ref) {
			t.Errorf("job %s: finished %v, checked %v, listed %v; want unfinished, checked, listed", ref.JobID, j.FinishedAt, j.CheckedAt, e.listed(t, ref))
		}
	}

	e.record(t, wref, importjob.Updated, deviceKeys("2", 10)[1:]...)
	checkJob(t, "devices recorded", e.stored(t, wref), importjob.StatusSucceeded, importjob.Counts{Total: 30, Created: 20, Updated: 10})

	if err := e.tr.CountOrg(context.Background(), uref, "2", 10); err != nil {
		t.Fatal(err)
	}
	checkJob(t, "organization counted", e.stored(t, uref), importjob.StatusRunning, importjob.Counts{Total: 30, Unchanged: 20})
	e.record(t, uref, importjob.Unchanged, deviceKeys("2", 10)...)
	checkJob(t, "organization's devices recorded", e.stored(t, uref), importjob.StatusSucceeded, importjob.Counts{Total: 30, Unchanged: 30})
}

// recordDuringTally is the job store a reconciliation reads through, with a
// hook: on the first times it counts the job's items, a worker records the
// next device after the count is read and before the reconciliation
// writes — the race between a recount and a worker, made certain.
type recordDuringTally struct {
	importjob.Store
	t      *testing.T
	worker *importjob.Tracker
	ref    importjob.Ref
	next   []string // devices the worker records, one per tally
	times  int      // tallies that still get a record
}

func (s *recordDuringTally) PageItems(ctx context.Context, ref importjob.Ref, limit int, cursor string) ([]importjob.Item, string, error) {
	items, next, err := s.Store.PageItems(ctx, ref, limit, cursor)
	if err == nil && next == "" && s.times > 0 {
		s.times--
		key := s.next[0]
		s.next = s.next[1:]
		if rerr := s.worker.Record(ctx, ref.TenantID, ref.IntegrationID, ref.JobID, importjob.Item{Key: key, Status: importjob.Created}); rerr != nil {
			s.t.Errorf("worker record of %s during a recount: %v", key, rerr)
		}
	}
	return items, next, err
}

// TestReconcileWhileWorkersRecord: a job with a lost counter increment is
// reconciled while a worker records devices between the recount and its
// write, twice. The recount written over the worker's record would lose
// that record's increment, and the job would stay running for ever; the
// write is refused instead (the job's revision moved), the recount is
// redone, and the third round writes exact counts. The worker's remaining
// records then finish the job on their own, every device counted once.
func TestReconcileWhileWorkersRecord(t *testing.T) {
	e := newStallEnv(t, motoserver.SafeForTest(t))
	ctx := context.Background()
	j := e.start(t, importjob.KindAssets, []string{"1"}, map[string]int{"1": 10}, "1")
	ref := j.Ref()
	keys := deviceKeys("1", 10)
	e.record(t, ref, importjob.Created, keys[:5]...)
	e.loseCounter(t, ref, importjob.Created, keys[5])

	hooked := &recordDuringTally{Store: e.jobs, t: t, worker: e.tr, ref: ref, next: keys[6:8], times: 2}
	rec := importjob.NewTracker(hooked, importjob.Options{Now: e.clock.Now, StallAfter: stallAfter, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	got, err := rec.Reconcile(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	checkJob(t, "reconciled beside the worker", got, importjob.StatusRunning, importjob.Counts{Total: 10, Created: 8})
	if hooked.times != 0 {
		t.Fatalf("the worker recorded during %d recounts, want 2", 2-hooked.times)
	}
	e.record(t, ref, importjob.Created, keys[8:]...)
	checkJob(t, "after the worker's last records", e.stored(t, ref), importjob.StatusSucceeded, importjob.Counts{Total: 10, Created: 10})
}

// TestReconcileRacesWorkers is the same race left to chance, at volume: two
// reconcilers loop while four workers record a job's remaining devices.
// No reconciliation finishes the job early, and once the workers are done
// the job has finished on its own with every device counted once.
func TestReconcileRacesWorkers(t *testing.T) {
	e := newStallEnv(t, motoserver.SafeForTest(t))
	ctx := context.Background()
	devices := map[string]int{"1": 60, "2": 60}
	j := e.start(t, importjob.KindAssets, []string{"1", "2"}, devices, "1", "2")
	ref := j.Ref()
	e.record(t, ref, importjob.Created, deviceKeys("1", 30)...)
	e.loseCounter(t, ref, importjob.Created, "1-30")
	fixed, err := e.tr.Reconcile(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	checkJob(t, "first reconciliation", fixed, importjob.StatusRunning, importjob.Counts{Total: 120, Created: 31})

	rest := append(deviceKeys("1", 60)[31:], deviceKeys("2", 60)...)
	const workers = 4
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, workers+2)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(rest); i += workers {
				if err := e.tr.Record(ctx, ref.TenantID, ref.IntegrationID, ref.JobID, importjob.Item{Key: rest[i], Status: importjob.Created}); err != nil {
					errs <- fmt.Errorf("worker %d: %w", w, err)
					return
				}
			}
		})
	}
	var rounds sync.WaitGroup
	reconciled := make([]int, 2)
	for r := range reconciled {
		rounds.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := e.tr.Reconcile(ctx, ref)
				if err != nil {
					errs <- fmt.Errorf("reconciler %d: %w", r, err)
					return
				}
				if got.Status.Final() && got.Counts.Done() < got.Counts.Total {
					errs <- fmt.Errorf("reconciler %d finished the job early: %s %+v", r, got.Status, got.Counts)
				}
				reconciled[r]++
			}
		})
	}
	wg.Wait()
	close(done)
	rounds.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d reconciliations beside %d records", reconciled[0]+reconciled[1], len(rest))
	if reconciled[0]+reconciled[1] < 5 {
		t.Errorf("only %d reconciliations ran beside the workers", reconciled[0]+reconciled[1])
	}
	checkJob(t, "after the workers", e.stored(t, ref), importjob.StatusSucceeded, importjob.Counts{Total: 120, Created: 120})
}

// TestBigStalledImportReconcilesInSteps: a stalled import's recount reads
// its item records a page at a time and stops when its budget is spent
// (here a page size of 10 and a cap of pages, or a budget that one page
// exhausts), keeping its count in the job's record; each GET answers at
// once with the job as it stands and carries the count on, and the read
// that counts the last page corrects the counters and finishes the job.
// A record made between two steps makes the stored count stale (the
// job's rev moved), and the next step starts again from the first page.
func TestBigStalledImportReconcilesInSteps(t *testing.T) {
	const devices = 45
	tests := []struct {
		name     string
		o        importjob.Options
		perStep  int // item records read per GET
		steps    int // GETs up to the one that finishes the job
		restarts bool
	}{
		{name: "two pages per read", o: importjob.Options{ReconcilePageSize: 10, ReconcileMaxPages: 2}, perStep: 20, steps: 3},
		{name: "budget spent by one page", o: importjob.Options{ReconcilePageSize: 10, ReconcileBudget: time.Nanosecond}, perStep: 10, steps: 5},
		{name: "a record between steps restarts the count", o: importjob.Options{ReconcilePageSize: 10, ReconcileMaxPages: 2}, perStep: 20, steps: 4, restarts: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newStallEnvWith(t, motoserver.ForTest(t), tt.o)
			j := e.start(t, importjob.KindAssets, []string{"1"}, map[string]int{"1": devices}, "1")
			ref := j.Ref()
			keys := deviceKeys("1", devices)
			// Every device has its record, one without its counter
			// increment; with restarts the last is recorded by a
			// worker between the first two steps.
			lost := devices - 1
			if tt.restarts {
				lost--
			}
			e.record(t, ref, importjob.Created, keys[:lost]...)
			e.loseCounter(t, ref, importjob.Created, keys[lost])
			counted := lost
			e.clock.Advance(stallAfter)

			for step := 1; step <= tt.steps; step++ {
				got := e.get(t, ref)
				if step == tt.steps {
					checkJob(t, "last step", got, importjob.StatusSucceeded, importjob.Counts{Total: devices, Created: devices})
					if stored := e.stored(t, ref); stored.Reconciling != nil {
						t.Errorf("finished job keeps a reconciliation under way: %+v", *stored.Reconciling)
					}
					break
				}
				checkJob(t, fmt.Sprintf("step %d", step), got, importjob.StatusRunning, importjob.Counts{Total: devices, Created: counted})
				stored := e.stored(t, ref)
				wantItems := tt.perStep * step
				if tt.restarts && step >= 2 {
					wantItems = tt.perStep * (step - 1)
				}
				if stored.Reconciling == nil || stored.Reconciling.Items != wantItems || stored.Reconciling.Rev != stored.Rev {
					t.Fatalf("step %d: reconciliation under way %+v (job rev %d), want %d items counted at the job's rev",
						step, stored.Reconciling, stored.Rev, wantItems)
				}
				if tt.restarts && step == 1 {
					e.record(t, ref, importjob.Created, keys[devices-1])
					counted++
				}
			}
		})
	}
}

// TestReconcileOfUnfinishedBigImportEnds: a stalled import whose last
// devices have no outcome (their queue messages are still in flight) is
// recounted in steps like any other; the last step writes the counts,
// clears the count under way and stamps checkedAt, so that reads within
// StallAfter after it do no recount at all.
func TestReconcileOfUnfinishedBigImportEnds(t *testing.T) {
	e := newStallEnvWith(t, motoserver.ForTest(t), importjob.Options{ReconcilePageSize: 10, ReconcileMaxPages: 1})
	j := e.start(t, importjob.KindAssets, []string{"1"}, map[string]int{"1": 30}, "1")
	ref := j.Ref()
	e.record(t, ref, importjob.Created, deviceKeys("1", 20)...)
	e.clock.Advance(stallAfter)
	// 20 records: two pages, then an empty last one.
	for step := 1; step <= 3; step++ {
		checkJob(t, fmt.Sprintf("step %d", step), e.get(t, ref), importjob.StatusRunning, importjob.Counts{Total: 30, Created: 20})
	}
	stored := e.stored(t, ref)
	if stored.Reconciling != nil || stored.CheckedAt.IsZero() {
		t.Fatalf("after the last step: reconciling %+v, checkedAt %v; want none under way and checkedAt set", stored.Reconciling, stored.CheckedAt)
	}
	rev := stored.Rev
	e.clock.Advance(stallAfter / 2)
	e.get(t, ref)
	if again := e.stored(t, ref); again.Rev != rev || again.Reconciling != nil {
		t.Errorf("a read within StallAfter of the reconciliation recounted: rev %d → %d, reconciling %+v", rev, again.Rev, again.Reconciling)
	}
}
