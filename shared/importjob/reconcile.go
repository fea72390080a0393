package importjob

import (
	"context"
	"fmt"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// A job's counters move in the same transaction as its item records, so
// they agree with the items — as long as every write lands as DynamoDB
// promises. When one does not (moto's rollback of a cancelled transaction
// undid a concurrent counter increment; an operator restored a backup; a
// bug), the counters fall short of the items and the job never finishes.
// Reconciliation makes the records the truth: it counts the job's item
// records by outcome (and, in an asset import, its organization records
// for the total), writes those counts if they differ, and finishes the job
// if every item has an outcome. GET on a stalled job and the scheduler's
// sweep both run it.

// Reconcile recounts a job that is not finished from its records, corrects
// its counters if they drifted, and finishes it if every item has an
// outcome. It is idempotent and safe beside workers still recording: the
// counts are written only if no Change was applied between the start of
// the count and writing them (the job's Rev), so a record made meanwhile
// sends it round again, and after a few such rounds it gives up for now
// (the job is moving) and returns the job as read. A finished job is
// returned as is.
//
// The item records are read a page at a time (Options.ReconcilePageSize)
// and the count is kept in the job's record after each page, so one call
// is bounded whatever the job's size: once it has read for
// Options.ReconcileBudget (or Options.ReconcileMaxPages pages) it returns
// the job as it stands with the count under way (Job.Reconciling), and the
// next call — the next GET, the scheduler's next sweep — carries on from
// there. A job under reconciliation counts as Stalled until it is done.
func (t *Tracker) Reconcile(ctx context.Context, ref Ref) (Job, error) {
	began := time.Now()
	spent := func(pages int) bool {
		return time.Since(began) >= t.o.ReconcileBudget || (t.o.ReconcileMaxPages > 0 && pages >= t.o.ReconcileMaxPages)
	}
	pages := 0
	for attempt := 1; ; attempt++ {
		j, err := t.store.GetJob(ctx, ref)
		if err != nil {
			return Job{}, fmt.Errorf("reconcile job %s: %w", ref.JobID, err)
		}
		if j.Status.Final() {
			return j, nil
		}
		p := ReconcileProgress{Rev: j.Rev, StartedAt: t.now()}
		if j.reconcileUnderWay() {
			p = *j.Reconciling
		}
		done := false
		for !done {
			if pages > 0 && spent(pages) {
				// Out of budget with pages left: the count so far is
				// stored (below, after each page); the next call goes on.
				j.Reconciling = &p
				return j, nil
			}
			items, next, err := t.store.PageItems(ctx, ref, t.o.ReconcilePageSize, p.Cursor)
			if err != nil {
				return j, fmt.Errorf("reconcile job %s: read items after %d: %w", ref.JobID, p.Items, err)
			}
			pages++
			for _, it := range items {
				p.Counts.Add(it.Status, 1)
			}
			p.Items += len(items)
			p.Cursor = next
			if done = next == ""; done {
				break
			}
			switch err := t.store.SaveReconcileProgress(ctx, ref, p); {
			case apperr.Is(err, apperr.Conflict):
				// A record or a status change since the count began:
				// the job is moving (or finished); not stalled now.
				return t.store.GetJob(ctx, ref)
			case err != nil:
				return j, fmt.Errorf("reconcile job %s: %w", ref.JobID, err)
			}
		}
		tally, err := t.tally(ctx, j, p.Counts)
		if err != nil {
			return j, fmt.Errorf("reconcile job %s: %w", ref.JobID, err)
		}
		now := t.now()
		err = t.store.Reconcile(ctx, ref, p.Rev, tally, now)
		switch {
		case err == nil:
			if tally.Counts != j.Counts || (!j.PerOrganizationItems() && tally.OrgsDone != j.OrgsDone) {
				t.o.Logger.WarnContext(ctx, "import counters corrected from the item records", "tenantId", ref.TenantID,
					"integrationId", ref.IntegrationID, "jobId", ref.JobID, "status", string(j.Status),
					"counted", j.Counts, "recorded", tally.Counts, "orgsDoneCounted", j.OrgsDone, "orgsDoneRecorded", tally.OrgsDone,
					"items", p.Items)
			}
			return t.CheckDone(ctx, ref)
		case !apperr.Is(err, apperr.Conflict) && !retryable(err):
			return j, fmt.Errorf("reconcile job %s: %w", ref.JobID, err)
		case attempt == reconcileAttempts || spent(pages):
			// Records keep arriving: the job is not stalled.
			return t.store.GetJob(ctx, ref)
		}
		if err := t.backoff(ctx, attempt); err != nil {
			return j, err
		}
	}
}

// reconcileAttempts bounds Reconcile's rounds against concurrent records.
const reconcileAttempts = 3

// tally completes a job's count from its records: items holds its items
// by outcome (pending items have none), and for an asset import the total
// and organizations done come from its organization records (a counted one
// adds its devices, a failed one its own item). A job with one item per
// organization keeps the total it was created with.
func (t *Tracker) tally(ctx context.Context, j Job, items Counts) (Tally, error) {
	ref := j.Ref()
	out := Tally{Counts: items}
	out.Counts.Total = 0
	if j.PerOrganizationItems() {
		out.Counts.Total, out.OrgsDone = j.Counts.Total, j.OrgsDone
		return out, nil
	}
	orgs, err := t.store.ListOrgs(ctx, ref)
	if err != nil {
		return Tally{}, err
	}
	for _, o := range orgs {
		switch o.State {
		case OrgCounted:
			out.Counts.Total += o.Devices
		case OrgFailed:
			out.Counts.Total++
		default:
			return Tally{}, apperr.New(apperr.Internal, "organization %s of job %s is in unknown state %q", o.OrgID, j.ID, o.State)
		}
		out.OrgsDone++
	}
	return out, nil
}

// ReconcileIfStalled reconciles the job when it looks stalled at now
// (Job.Stalled with Options.StallAfter). It returns the job (as read when
// it was not stalled) and whether it was reconciled.
func (t *Tracker) ReconcileIfStalled(ctx context.Context, ref Ref) (Job, bool, error) {
	j, err := t.store.GetJob(ctx, ref)
	if err != nil {
		return Job{}, false, err
	}
	if !j.Stalled(t.o.Now(), t.o.StallAfter) {
		return j, false, nil
	}
	j, err = t.Reconcile(ctx, ref)
	return j, err == nil, err
}
