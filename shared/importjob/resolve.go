package importjob

import (
	"context"
	"fmt"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Item returns one of a job's items (NotFound when the job or the item
// does not exist).
func (s *Service) Item(ctx context.Context, ref Ref, key string) (Item, error) {
	if _, err := s.store.GetJob(ctx, ref); err != nil {
		return Item{}, err
	}
	it, err := s.store.GetItem(ctx, ref, key)
	if apperr.Is(err, apperr.NotFound) {
		return Item{}, apperr.Wrap(apperr.NotFound, err, "import %s has no item %s", ref.JobID, key)
	}
	return it, err
}

// Resolve settles a finished job's review items once a person has mapped
// their organization to the account of their choice (the caller maps it
// first): in an organization import the items (the organization) become
// Linked, with reason, and the job's final status is recomputed; in an
// asset import the items (the organization's devices) are queued again
// like a retry, to be imported into the mapped account. Keys that are not
// waiting for review are left alone. It returns the job and how many items
// it resolved; Conflict when the job is not finished or none of keys is in
// review, Invalid for a dry run (which writes nothing).
func (s *Service) Resolve(ctx context.Context, ref Ref, keys []string, reason string) (Job, int, error) {
	j, err := s.store.GetJob(ctx, ref)
	if err != nil {
		return Job{}, 0, err
	}
	if j.DryRun {
		return Job{}, 0, apperr.New(apperr.Invalid, "import %s is a dry run, which writes nothing: map the organization, then run the import", ref.JobID)
	}
	if !j.Status.Final() {
		return Job{}, 0, apperr.New(apperr.Conflict, "import %s is still %s; resolve its review items once it has finished", ref.JobID, j.Status)
	}
	var review []Item
	for _, k := range unique(keys) {
		it, err := s.store.GetItem(ctx, ref, k)
		switch {
		case apperr.Is(err, apperr.NotFound):
			continue
		case err != nil:
			return Job{}, 0, fmt.Errorf("read item %s of job %s: %w", k, ref.JobID, err)
		}
		if it.Status == Review {
			review = append(review, it)
		}
	}
	if len(review) == 0 {
		return Job{}, 0, apperr.New(apperr.Conflict, "import %s has no item of this organization waiting for review", ref.JobID)
	}
	if j.PerOrganizationItems() {
		return s.resolveOrgs(ctx, j, review, reason)
	}
	return s.requeueDevices(ctx, j, review)
}

// moveItems moves items from one state to another, MaxChangeItems per
// write (one at a time for a chunk in which an item changed meanwhile),
// and returns those it moved.
func (s *Service) moveItems(ctx context.Context, ref Ref, items []Item, from, to Outcome, reason string) ([]Item, error) {
	now := s.o.Now().UTC().Truncate(time.Millisecond)
	change := func(its []Item) Change {
		ch := Change{}
		ch.Delta.Add(from, -len(its))
		ch.Delta.Add(to, len(its))
		for _, it := range its {
			r := it.Reason
			if reason != "" {
				r = reason
			}
			ch.Items = append(ch.Items, ItemChange{Item: Item{Key: it.Key, Status: to, Reason: r, OrganizationID: it.OrganizationID, Updated: now}, From: from})
		}
		return ch
	}
	var done []Item
	for start := 0; start < len(items); start += MaxChangeItems {
		chunk := items[start:min(start+MaxChangeItems, len(items))]
		err := s.store.Apply(ctx, ref, change(chunk))
		if err == nil {
			done = append(done, chunk...)
			continue
		}
		if !apperr.Is(err, apperr.Conflict) {
			return done, fmt.Errorf("move items of job %s to %s: %w", ref.JobID, to, err)
		}
		for _, it := range chunk {
			err := s.store.Apply(ctx, ref, change([]Item{it}))
			switch {
			case err == nil:
				done = append(done, it)
			case !apperr.Is(err, apperr.Conflict):
				return done, fmt.Errorf("move item %s of job %s to %s: %w", it.Key, ref.JobID, to, err)
			}
		}
	}
	return done, nil
}

// resolveOrgs records an organization import's review items as Linked and
// sets the job's final status anew from its counters.
func (s *Service) resolveOrgs(ctx context.Context, j Job, review []Item, reason string) (Job, int, error) {
	ref := j.Ref()
	moved, err := s.moveItems(ctx, ref, review, Review, Linked, reason)
	if err != nil {
		return Job{}, 0, err
	}
	if len(moved) == 0 {
		return Job{}, 0, apperr.New(apperr.Conflict, "the review items of import %s changed meanwhile (resolved already?)", ref.JobID)
	}
	cur, err := s.store.GetJob(ctx, ref)
	if err != nil {
		return Job{}, 0, fmt.Errorf("read job %s: %w", ref.JobID, err)
	}
	if to := FinalStatus(cur.Counts); cur.Status.Final() && to != cur.Status {
		now := s.o.Now().UTC().Truncate(time.Millisecond)
		err := s.store.UpdateStatus(ctx, ref, StatusChange{From: []Status{cur.Status}, To: to, FinishedAt: now})
		switch {
		case err == nil:
			cur.Status, cur.FinishedAt = to, now
		case !apperr.Is(err, apperr.Conflict): // a concurrent resolve set it
			return Job{}, 0, fmt.Errorf("set status of job %s: %w", ref.JobID, err)
		}
	}
	s.o.Logger.InfoContext(ctx, "import review resolved", "tenantId", ref.TenantID, "integrationId", ref.IntegrationID,
		"jobId", ref.JobID, "items", len(moved), "status", string(cur.Status))
	return cur, len(moved), nil
}

// requeueDevices queues an asset import's review devices again: each
// becomes Pending (leaving Review) and the job queued, so it finishes again
// once every device has an outcome.
func (s *Service) requeueDevices(ctx context.Context, j Job, review []Item) (Job, int, error) {
	ref := j.Ref()
	err := s.store.UpdateStatus(ctx, ref, StatusChange{From: []Status{j.Status}, To: StatusQueued, ClearFinished: true})
	if apperr.Is(err, apperr.Conflict) {
		return Job{}, 0, apperr.Wrap(apperr.Conflict, err, "import %s changed meanwhile (retried or resolved already?)", ref.JobID)
	}
	if err != nil {
		return Job{}, 0, fmt.Errorf("reopen job %s: %w", ref.JobID, err)
	}
	pending, err := s.moveItems(ctx, ref, review, Review, Pending, "")
	if err == nil && len(pending) > 0 {
		msgs := make([]Message, 0, len(pending))
		for _, it := range pending {
			msgs = append(msgs, assetMessage(ref, it.Key, "resolve"))
		}
		err = s.sender.SendBatch(ctx, s.queues.Asset, msgs)
	}
	if err != nil || len(pending) == 0 {
		// Back to review (items a sent message recorded meanwhile keep
		// their outcome), and the job finished again.
		cctx := context.WithoutCancel(ctx)
		for _, it := range pending {
			it.Status = Review
			if _, rerr := s.tracker.record(cctx, ref, it); rerr != nil {
				s.o.Logger.ErrorContext(cctx, "could not put a device back to review", "jobId", ref.JobID, "key", it.Key, "error", rerr)
			}
		}
		if _, cerr := s.tracker.CheckDone(cctx, ref); cerr != nil {
			s.o.Logger.ErrorContext(cctx, "could not finish job after a failed resolve", "jobId", ref.JobID, "error", cerr)
		}
		if err == nil {
			err = apperr.New(apperr.Conflict, "the review items of import %s changed meanwhile (resolved already?)", ref.JobID)
		}
		return Job{}, 0, fmt.Errorf("queue resolved devices of job %s: %w", ref.JobID, err)
	}
	j.Status, j.FinishedAt = StatusQueued, time.Time{}
	j.Counts.Review -= len(pending)
	s.o.Logger.InfoContext(ctx, "import review resolved", "tenantId", ref.TenantID, "integrationId", ref.IntegrationID,
		"jobId", ref.JobID, "items", len(pending), "requeued", true)
	return j, len(pending), nil
}
