package dynamostore

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
)

// TestImportJobsWorkList follows a job's entry on the scheduler's
// cross-tenant work list: written with the job, kept while it runs, gone
// with its final status, back when a retry reopens it; Unlist removes it.
// Entries of every tenant are listed; each entry's own key is under its
// tenant.
func TestImportJobsWorkList(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewImportJobs(s)
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	a := testJob("ja", now)
	b := testJob("jb", now)
	b.TenantID = "t_b"
	for _, j := range []importjob.Job{a, b} {
		if err := r.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	listed := func(t *testing.T) []importjob.Ref {
		t.Helper()
		refs, err := r.ActiveJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return refs
	}
	if diff := cmp.Diff([]importjob.Ref{a.Ref(), b.Ref()}, listed(t)); diff != "" {
		t.Errorf("work list after create (-want +got):\n%s", diff)
	}
	var entry activeJobItem
	if err := s.Get(ctx, activeJobKey(b.Ref()), &entry); err != nil || entry.PK != IntegrationPK("t_b", "i_1") || entry.GSI1PK != ImportsIndexPK {
		t.Errorf("entry of t_b's job = %+v, %v; want it under T#t_b on the work-list partition", entry, err)
	}

	step := func(t *testing.T, ref importjob.Ref, from, to importjob.Status) {
		t.Helper()
		ch := importjob.StatusChange{From: []importjob.Status{from}, To: to}
		if to.Final() {
			ch.FinishedAt = now
		}
		if err := r.UpdateStatus(ctx, ref, ch); err != nil {
			t.Fatalf("%s → %s: %v", from, to, err)
		}
	}
	step(t, a.Ref(), importjob.StatusQueued, importjob.StatusRunning)
	if diff := cmp.Diff([]importjob.Ref{a.Ref(), b.Ref()}, listed(t)); diff != "" {
		t.Errorf("work list while running (-want +got):\n%s", diff)
	}
	step(t, a.Ref(), importjob.StatusRunning, importjob.StatusPartial)
	if diff := cmp.Diff([]importjob.Ref{b.Ref()}, listed(t)); diff != "" {
		t.Errorf("work list after a finish (-want +got):\n%s", diff)
	}
	// A lost condition changes neither the job nor the list.
	err := r.UpdateStatus(ctx, b.Ref(), importjob.StatusChange{From: []importjob.Status{importjob.StatusRunning}, To: importjob.StatusSucceeded, FinishedAt: now})
	if !apperr.Is(err, apperr.Conflict) {
		t.Errorf("finish from the wrong status = %v, want Conflict", err)
	}
	if diff := cmp.Diff([]importjob.Ref{b.Ref()}, listed(t)); diff != "" {
		t.Errorf("work list after a lost finish (-want +got):\n%s", diff)
	}
	// A retry reopens a: listed again.
	if err := r.UpdateStatus(ctx, a.Ref(), importjob.StatusChange{From: []importjob.Status{importjob.StatusPartial}, To: importjob.StatusQueued, ClearFinished: true}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]importjob.Ref{a.Ref(), b.Ref()}, listed(t)); diff != "" {
		t.Errorf("work list after a retry (-want +got):\n%s", diff)
	}
	if err := r.Unlist(ctx, b.Ref()); err != nil {
		t.Fatal(err)
	}
	if err := r.Unlist(ctx, b.Ref()); err != nil {
		t.Errorf("second Unlist = %v, want nil", err)
	}
	if diff := cmp.Diff([]importjob.Ref{a.Ref()}, listed(t)); diff != "" {
		t.Errorf("work list after Unlist (-want +got):\n%s", diff)
	}
}

// TestImportJobsReconcile checks the reconcile write's guards: it lands
// only on the revision read (any Change since makes it a Conflict) and
// only while the job runs; a Change moves the revision and the progress
// time.
func TestImportJobsReconcile(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewImportJobs(s)
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	j := testJob("j1", now)
	if err := r.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	ref := j.Ref()
	get := func(t *testing.T) importjob.Job {
		t.Helper()
		got, err := r.GetJob(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := get(t); got.Rev != 0 || !got.ProgressAt.IsZero() {
		t.Fatalf("new job has rev %d, progress %v; want 0 and none", got.Rev, got.ProgressAt)
	}
	before := time.Now().UTC().Add(-time.Second)
	err := r.Apply(ctx, ref, importjob.Change{Items: []importjob.ItemChange{{Item: importjob.Item{Key: "d1", Status: importjob.Created, Updated: now}}},
		Org: &importjob.OrgChange{OrgID: "o1", To: importjob.OrgCounted, Devices: 3}, Delta: importjob.Counts{Total: 3, Created: 1}, OrgsDone: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := get(t)
	if got.Rev != 1 || got.ProgressAt.Before(before) {
		t.Errorf("after a Change: rev %d, progress %v; want 1 and now", got.Rev, got.ProgressAt)
	}
	orgs, err := r.ListOrgs(ctx, ref)
	if err != nil || len(orgs) != 1 || orgs[0] != (importjob.OrgRecord{OrgID: "o1", State: importjob.OrgCounted, Devices: 3}) {
		t.Errorf("ListOrgs = %+v, %v; want o1 counted with 3 devices", orgs, err)
	}

	tally := importjob.Tally{Counts: importjob.Counts{Total: 3, Created: 2}, OrgsDone: 1}
	checked := now.Add(time.Hour)
	if err := r.Reconcile(ctx, ref, 0, tally, checked); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("reconcile on a stale revision = %v, want Conflict", err)
	}
	if err := r.Reconcile(ctx, ref, 1, tally, checked); err != nil {
		t.Fatal(err)
	}
	got = get(t)
	if diff := cmp.Diff(tally.Counts, got.Counts); diff != "" || got.OrgsDone != 1 || !got.CheckedAt.Equal(checked) || got.Rev != 2 {
		t.Errorf("after reconcile: counts (-want +got):\n%s orgsDone %d checked %v rev %d", diff, got.OrgsDone, got.CheckedAt, got.Rev)
	}
	if err := r.Reconcile(ctx, ref, 1, tally, checked); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("a second reconcile on the revision it replaced = %v, want Conflict", err)
	}
	if err := r.UpdateStatus(ctx, ref, importjob.StatusChange{From: []importjob.Status{importjob.StatusQueued}, To: importjob.StatusSucceeded, FinishedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := r.Reconcile(ctx, ref, 2, importjob.Tally{}, checked); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("reconcile of a finished job = %v, want Conflict", err)
	}
	if diff := cmp.Diff(tally.Counts, get(t).Counts); diff != "" {
		t.Errorf("a finished job's counts changed (-want +got):\n%s", diff)
	}
}
