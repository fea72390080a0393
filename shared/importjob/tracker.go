package importjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/lease"
)

// Options tune Tracker, Service and Dispatcher.
type Options struct {
	Now    func() time.Time
	Logger *slog.Logger
	// Sleep waits between attempts of a write that lost a race; tests
	// may replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// StallAfter is how long a job that is not finished may go without
	// progress before reading it reconciles it from its item records
	// (DefaultStallAfter when zero).
	StallAfter time.Duration
	// ReconcilePageSize is how many item records a reconciliation reads
	// per page (DefaultReconcilePageSize when zero).
	ReconcilePageSize int
	// ReconcileBudget is how long one Tracker.Reconcile call may read
	// pages before it stores how far it got and returns
	// (DefaultReconcileBudget when zero). It reads at least one page.
	ReconcileBudget time.Duration
	// ReconcileMaxPages, when positive, also caps the pages one call reads.
	ReconcileMaxPages int
}

// DefaultReconcilePageSize and DefaultReconcileBudget bound one step of a
// reconciliation: an API request (28 s) reads for at most about 5 s, a
// page or so beyond it, and answers with the job as it stands.
const (
	DefaultReconcilePageSize = 1000
	DefaultReconcileBudget   = 5 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.StallAfter <= 0 {
		o.StallAfter = DefaultStallAfter
	}
	if o.Sleep == nil {
		o.Sleep = lease.Sleep
	}
	if o.ReconcilePageSize <= 0 {
		o.ReconcilePageSize = DefaultReconcilePageSize
	}
	if o.ReconcileBudget <= 0 {
		o.ReconcileBudget = DefaultReconcileBudget
	}
	return o
}

// maxAttempts bounds the read-and-retry loops of a write that lost a race.
const maxAttempts = 8

// Tracker records item outcomes and organization progress and finishes
// jobs. It implements Recorder.
type Tracker struct {
	store Store
	o     Options
}

var _ Recorder = (*Tracker)(nil)

// NewTracker returns a Tracker over store.
func NewTracker(store Store, o Options) *Tracker {
	return &Tracker{store: store, o: o.withDefaults()}
}

func (t *Tracker) now() time.Time { return t.o.Now().UTC().Truncate(time.Millisecond) }

// transition says whether an item in state from may take outcome to, and
// how the job's counters move if it does. from is "" for a new item.
func transition(from, to Outcome) (bool, Counts) {
	var d Counts
	switch {
	case from == to:
		return false, d // the same outcome again: a no-op
	case from == "", from == Pending:
	case from == Failed:
		d.Add(Failed, -1)
	default:
		return false, d // the first outcome stands
	}
	d.Add(to, 1)
	return true, d
}

// Record implements Recorder. An empty jobID (a refresh outside an import)
// records nothing. After a record the job is finished if every item has an
// outcome.
func (t *Tracker) Record(ctx context.Context, tenantID, integrationID, jobID string, it Item) error {
	if jobID == "" {
		return nil
	}
	if it.Key == "" || !it.Status.Valid() {
		return apperr.New(apperr.Invalid, "an item needs a key and one of the outcomes (got %q, %q)", it.Key, it.Status)
	}
	ref := Ref{TenantID: tenantID, IntegrationID: integrationID, JobID: jobID}
	it.Updated = t.now()
	if _, err := t.record(ctx, ref, it); err != nil {
		return err
	}
	_, err := t.CheckDone(ctx, ref)
	return err
}

// RecordUnchecked is Record without the completion check: the caller
// must call CheckDone after its last record (the asset worker does once
// per batch and job).
func (t *Tracker) RecordUnchecked(ctx context.Context, tenantID, integrationID, jobID string, it Item) error {
	if jobID == "" {
		return nil
	}
	if it.Key == "" || !it.Status.Valid() {
		return apperr.New(apperr.Invalid, "an item needs a key and one of the outcomes (got %q, %q)", it.Key, it.Status)
	}
	it.Updated = t.now()
	_, err := t.record(ctx, Ref{TenantID: tenantID, IntegrationID: integrationID, JobID: jobID}, it)
	return err
}

// record applies one item's outcome, reading the item and trying again
// when its state was not what the write assumed. It reports whether the
// outcome was applied (false: a no-op or the first outcome stands).
func (t *Tracker) record(ctx context.Context, ref Ref, it Item) (bool, error) {
	from := Outcome("")
	for attempt := 1; ; attempt++ {
		ok, delta := transition(from, it.Status)
		if !ok {
			return false, nil
		}
		err := t.store.Apply(ctx, ref, Change{Items: []ItemChange{{Item: it, From: from}}, Delta: delta})
		switch {
		case err == nil:
			return true, nil
		case apperr.Is(err, apperr.Conflict):
			cur, gerr := t.store.GetItem(ctx, ref, it.Key)
			switch {
			case apperr.Is(gerr, apperr.NotFound):
				from = ""
			case gerr != nil:
				return false, fmt.Errorf("record item %s of job %s: %w", it.Key, ref.JobID, gerr)
			default:
				from = cur.Status
			}
		case retryable(err):
		default:
			return false, fmt.Errorf("record item %s of job %s: %w", it.Key, ref.JobID, err)
		}
		if attempt == maxAttempts {
			return false, fmt.Errorf("record item %s of job %s: %w", it.Key, ref.JobID, apperr.Wrap(apperr.Conflict, err, "the item kept changing; try again"))
		}
		if err := t.backoff(ctx, attempt); err != nil {
			return false, err
		}
	}
}

// retryable reports whether a write failed for a reason worth an immediate
// second try (a concurrent transaction on the same item, throttling).
func retryable(err error) bool {
	k := apperr.KindOf(err)
	return k == apperr.Unavailable || k == apperr.Throttled
}

func (t *Tracker) backoff(ctx context.Context, attempt int) error {
	d := time.Duration(5<<min(attempt, 6)) * time.Millisecond
	return t.o.Sleep(ctx, rand.N(d)+time.Millisecond)
}

// RecordAll records outcome o with reason for every key, in as few writes
// as possible (MaxChangeItems per write; keys that already have a state
// fall back to one write each), then finishes the job if it is done.
func (t *Tracker) RecordAll(ctx context.Context, ref Ref, keys []string, o Outcome, reason string) error {
	return t.RecordOrgDevices(ctx, ref, "", keys, o, reason)
}

// RecordOrgDevices is RecordAll for devices of organization orgID, which
// their records keep (the review items of an asset import name it).
func (t *Tracker) RecordOrgDevices(ctx context.Context, ref Ref, orgID string, keys []string, o Outcome, reason string) error {
	if !o.Valid() {
		return apperr.New(apperr.Invalid, "unknown outcome %q", o)
	}
	now := t.now()
	keys = unique(keys)
	for start := 0; start < len(keys); start += MaxChangeItems {
		chunk := keys[start:min(start+MaxChangeItems, len(keys))]
		ch := Change{}
		for _, k := range chunk {
			ch.Items = append(ch.Items, ItemChange{Item: Item{Key: k, Status: o, Reason: reason, OrganizationID: orgID, Updated: now}})
		}
		ch.Delta.Add(o, len(chunk))
		err := t.store.Apply(ctx, ref, ch)
		if err == nil {
			continue
		}
		if !apperr.Is(err, apperr.Conflict) && !retryable(err) {
			return fmt.Errorf("record %d items of job %s: %w", len(chunk), ref.JobID, err)
		}
		// Some items exist already (a redelivery): one at a time.
		for _, k := range chunk {
			if _, err := t.record(ctx, ref, Item{Key: k, Status: o, Reason: reason, OrganizationID: orgID, Updated: now}); err != nil {
				return err
			}
		}
	}
	_, err := t.CheckDone(ctx, ref)
	return err
}

// Start moves a queued job to running, recording when it started.
func (t *Tracker) Start(ctx context.Context, ref Ref) error {
	err := t.store.UpdateStatus(ctx, ref, StatusChange{From: []Status{StatusQueued}, To: StatusRunning, StartedAt: t.now()})
	if err != nil && !apperr.Is(err, apperr.Conflict) {
		return fmt.Errorf("start job %s: %w", ref.JobID, err)
	}
	return nil
}

// CountOrg records, once, that an asset import's organization was paged
// and its devices fanned out: devices is added to Total and the
// organization to OrgsDone. An organization that had failed (a retry) has
// its failed item replaced by its devices. Call it only after every device
// was sent (or recorded): a redelivered message of a counted organization
// is not processed again.
func (t *Tracker) CountOrg(ctx context.Context, ref Ref, orgID string, devices int) error {
	return t.countOrg(ctx, ref, orgID, devices, nil)
}

// countOrg is CountOrg starting from a record read before (nil: read it).
func (t *Tracker) countOrg(ctx context.Context, ref Ref, orgID string, devices int, known *OrgRecord) error {
	for attempt := 1; ; attempt++ {
		var rec OrgRecord
		if known != nil && attempt == 1 {
			rec = *known
		} else {
			var err error
			if rec, err = t.store.GetOrg(ctx, ref, orgID); err != nil {
				return fmt.Errorf("count organization %s of job %s: %w", orgID, ref.JobID, err)
			}
		}
		var ch Change
		switch rec.State {
		case OrgCounted:
			_, err := t.CheckDone(ctx, ref)
			return err
		case "":
			ch = Change{Org: &OrgChange{OrgID: orgID, To: OrgCounted, Devices: devices}, Delta: Counts{Total: devices}, OrgsDone: 1}
		case OrgFailed:
			key := OrgItemKey(orgID)
			it, err := t.store.GetItem(ctx, ref, key)
			if err != nil {
				return fmt.Errorf("count organization %s of job %s: %w", orgID, ref.JobID, err)
			}
			ch = Change{Items: []ItemChange{{Item: Item{Key: key}, From: it.Status, Delete: true}},
				Org: &OrgChange{OrgID: orgID, From: OrgFailed, To: OrgCounted, Devices: devices}, Delta: Counts{Total: devices - 1}}
			if it.Status.Valid() {
				ch.Delta.Add(it.Status, -1)
			}
		default:
			return apperr.New(apperr.Internal, "organization %s of job %s is in unknown state %q", orgID, ref.JobID, rec.State)
		}
		err := t.store.Apply(ctx, ref, ch)
		if err == nil {
			_, err := t.CheckDone(ctx, ref)
			return err
		}
		if !apperr.Is(err, apperr.Conflict) && !retryable(err) {
			return fmt.Errorf("count organization %s of job %s: %w", orgID, ref.JobID, err)
		}
		if attempt == maxAttempts {
			return fmt.Errorf("count organization %s of job %s: %w", orgID, ref.JobID, err)
		}
		if err := t.backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// FailOrg records, once, that an asset import's organization failed before
// its devices could be listed: the item OrgItemKey(orgID) fails with
// reason, adding one to Total, and the organization counts as done.
func (t *Tracker) FailOrg(ctx context.Context, ref Ref, orgID, reason string) error {
	key := OrgItemKey(orgID)
	for attempt := 1; ; attempt++ {
		rec, err := t.store.GetOrg(ctx, ref, orgID)
		if err != nil {
			return fmt.Errorf("fail organization %s of job %s: %w", orgID, ref.JobID, err)
		}
		switch rec.State {
		case OrgCounted:
			return nil
		case OrgFailed:
			// Failed before; a retry made its item pending.
			if _, err := t.record(ctx, ref, Item{Key: key, Status: Failed, Reason: reason, Updated: t.now()}); err != nil {
				return err
			}
			_, err := t.CheckDone(ctx, ref)
			return err
		}
		err = t.store.Apply(ctx, ref, Change{
			Items:    []ItemChange{{Item: Item{Key: key, Status: Failed, Reason: reason, Updated: t.now()}}},
			Org:      &OrgChange{OrgID: orgID, To: OrgFailed},
			Delta:    Counts{Total: 1, Failed: 1},
			OrgsDone: 1,
		})
		if err == nil {
			_, err := t.CheckDone(ctx, ref)
			return err
		}
		if !apperr.Is(err, apperr.Conflict) && !retryable(err) || attempt == maxAttempts {
			return fmt.Errorf("fail organization %s of job %s: %w", orgID, ref.JobID, err)
		}
		if err := t.backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// CheckDone finishes the job if every item has an outcome: its final
// status is set once (a conditional write from queued or running), with
// the time it finished. A queued job with outcomes arriving (a retry of
// devices only) becomes running. It returns the job as read.
func (t *Tracker) CheckDone(ctx context.Context, ref Ref) (Job, error) {
	j, err := t.store.GetJob(ctx, ref)
	if err != nil {
		return Job{}, fmt.Errorf("check job %s: %w", ref.JobID, err)
	}
	if j.Status.Final() {
		return j, nil
	}
	if !j.Finished() {
		if j.Status == StatusQueued && j.Counts.Done() > 0 {
			if err := t.Start(ctx, ref); err != nil {
				return j, err
			}
			j.Status = StatusRunning
		}
		return j, nil
	}
	to := FinalStatus(j.Counts)
	now := t.now()
	err = t.store.UpdateStatus(ctx, ref, StatusChange{From: []Status{StatusQueued, StatusRunning}, To: to, FinishedAt: now})
	switch {
	case err == nil:
		j.Status, j.FinishedAt = to, now
		t.o.Logger.InfoContext(ctx, "import finished", "tenantId", ref.TenantID, "integrationId", ref.IntegrationID,
			"jobId", ref.JobID, "status", string(to), "total", j.Counts.Total, "failed", j.Counts.Failed, "review", j.Counts.Review)
	case errors.Is(err, context.Canceled):
		return j, err
	case !apperr.Is(err, apperr.Conflict):
		return j, fmt.Errorf("finish job %s: %w", ref.JobID, err)
	}
	return j, nil
}

// unique returns keys without repeats, in order.
func unique(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
