package importjob

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// MaxOrganizations caps the organizations one job may name.
const MaxOrganizations = 10000

// MaxPreviewItems caps the preview a dry run reports.
const MaxPreviewItems = 5000

// Service starts, reads and retries jobs (the API's side).
type Service struct {
	store   Store
	tracker *Tracker
	sender  Sender
	queues  Queues
	o       Options
}

// NewService returns a Service.
func NewService(store Store, tracker *Tracker, sender Sender, queues Queues, o Options) *Service {
	return &Service{store: store, tracker: tracker, sender: sender, queues: queues, o: o.withDefaults()}
}

// CreateInput is a POST .../imports body.
type CreateInput struct {
	Kind            Kind     `json:"kind"`
	OrganizationIDs []string `json:"organizationIds,omitempty"`
	DryRun          bool     `json:"dryRun"`
	// CreateMissingAccounts defaults to true.
	CreateMissingAccounts *bool `json:"createMissingAccounts,omitempty"`
	// StartedBy names who starts the job (the API's principal), for the
	// audit events of the mappings it writes; not part of the body.
	StartedBy string `json:"-"`
}

// Create validates in, records a queued job and sends one OrgMessage per
// organization: the ones named, or every organization orgs lists. An RMM
// without organizations is Invalid (there is nothing to import).
func (s *Service) Create(ctx context.Context, tenantID, integrationID string, in CreateInput, orgs rmm.OrganizationLister) (Job, error) {
	var fe []apperr.FieldError
	if in.Kind != KindOrganizations && in.Kind != KindAssets {
		fe = append(fe, apperr.FieldError{Field: "kind", Message: "must be organizations or assets"})
	}
	if len(in.OrganizationIDs) > MaxOrganizations {
		fe = append(fe, apperr.FieldError{Field: "organizationIds", Message: fmt.Sprintf("at most %d organizations per job", MaxOrganizations)})
	}
	ids := make([]string, 0, len(in.OrganizationIDs))
	seen := map[string]bool{}
	for i, id := range in.OrganizationIDs {
		id = strings.TrimSpace(id)
		if id == "" {
			fe = append(fe, apperr.FieldError{Field: fmt.Sprintf("organizationIds[%d]", i), Message: "must not be empty"})
			continue
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(fe) > 0 {
		return Job{}, apperr.InvalidFields(fe...)
	}
	if len(ids) == 0 {
		all, err := orgs.ListOrganizations(ctx)
		if err != nil {
			return Job{}, fmt.Errorf("list organizations: %w", err)
		}
		for _, o := range all {
			ids = append(ids, o.ID)
		}
		if len(ids) == 0 {
			return Job{}, apperr.New(apperr.Invalid, "the RMM has no organizations to import")
		}
	}
	now := s.o.Now().UTC().Truncate(time.Millisecond)
	j := Job{ID: NewJobID(now), TenantID: tenantID, IntegrationID: integrationID, Kind: in.Kind, Status: StatusQueued,
		DryRun: in.DryRun, CreateMissingAccounts: in.CreateMissingAccounts == nil || *in.CreateMissingAccounts,
		Orgs: len(ids), CreatedAt: now, StartedBy: in.StartedBy}
	if len(in.OrganizationIDs) > 0 {
		j.OrganizationIDs = ids
	}
	if j.PerOrganizationItems() {
		j.Counts.Total = len(ids)
	}
	if err := s.store.CreateJob(ctx, j); err != nil {
		return Job{}, fmt.Errorf("create job: %w", err)
	}
	msgs := make([]Message, 0, len(ids))
	for _, id := range ids {
		msgs = append(msgs, orgMessage(j.Ref(), j.Kind, id))
	}
	if err := s.sender.SendBatch(ctx, s.queues.Import, msgs); err != nil {
		// Messages already sent still run; the job reports the failure.
		ferr := s.store.UpdateStatus(context.WithoutCancel(ctx), j.Ref(), StatusChange{From: []Status{StatusQueued, StatusRunning},
			To: StatusFailed, FinishedAt: s.o.Now().UTC().Truncate(time.Millisecond)})
		if ferr != nil {
			s.o.Logger.ErrorContext(ctx, "could not mark unqueued job failed", "jobId", j.ID, "error", ferr)
		}
		return Job{}, fmt.Errorf("queue organizations of job %s: %w", j.ID, err)
	}
	s.o.Logger.InfoContext(ctx, "import queued", "tenantId", tenantID, "integrationId", integrationID, "jobId", j.ID,
		"kind", string(j.Kind), "dryRun", j.DryRun, "organizations", len(ids))
	return j, nil
}

func orgMessage(ref Ref, kind Kind, orgID string) Message {
	b, _ := json.Marshal(OrgMessage{TenantID: ref.TenantID, IntegrationID: ref.IntegrationID, JobID: ref.JobID, Kind: kind, OrganizationID: orgID})
	return Message{Body: string(b), GroupID: ref.TenantID}
}

func assetMessage(ref Ref, deviceID, reason string) Message {
	b, _ := json.Marshal(queuemsg.AssetRefresh{TenantID: ref.TenantID, IntegrationID: ref.IntegrationID, JobID: ref.JobID, DeviceID: deviceID, Reason: reason})
	return Message{Body: string(b), GroupID: ref.TenantID}
}

// Get returns a job; a dry run's comes with its preview (at most
// MaxPreviewItems items). A job that looks stalled (Job.Stalled) is first
// reconciled from its item records, so a job whose every item has an
// outcome is reported finished however its counters drifted; a big job is
// recounted over several reads, each bounded by the tracker's
// ReconcileBudget; when that fails the job is returned as read, and the
// failure logged.
func (s *Service) Get(ctx context.Context, ref Ref) (Job, error) {
	j, err := s.store.GetJob(ctx, ref)
	if err != nil {
		return Job{}, err
	}
	if j.Stalled(s.o.Now(), s.o.StallAfter) {
		// One bounded step (Tracker.Reconcile reads for its budget and
		// keeps its count); the deadline guards against a page that
		// hangs, so the caller always gets the job as it stands.
		rctx, cancel := context.WithTimeout(ctx, 2*s.tracker.o.ReconcileBudget+5*time.Second)
		rj, rerr := s.tracker.Reconcile(rctx, ref)
		cancel()
		if rerr != nil {
			s.o.Logger.WarnContext(ctx, "could not reconcile a stalled import", "tenantId", ref.TenantID,
				"integrationId", ref.IntegrationID, "jobId", ref.JobID, "error", rerr)
		} else {
			j = rj
		}
	}
	if !j.DryRun {
		return j, nil
	}
	items, err := s.store.PreviewItems(ctx, ref)
	if err != nil {
		return Job{}, fmt.Errorf("read preview of job %s: %w", ref.JobID, err)
	}
	j.Preview = []PreviewItem{}
	for _, it := range items {
		if it.Preview != nil && len(j.Preview) < MaxPreviewItems {
			j.Preview = append(j.Preview, *it.Preview)
		}
	}
	return j, nil
}

// List pages an integration's jobs, newest first.
func (s *Service) List(ctx context.Context, tenantID, integrationID string, limit int, cursor string) ([]Job, string, error) {
	return s.store.ListJobs(ctx, tenantID, integrationID, limit, cursor)
}

// Items pages a job's items with status Failed or Review, or both (status
// ""): failed ones first. NotFound for an unknown job.
func (s *Service) Items(ctx context.Context, ref Ref, status Outcome, limit int, cursor string) ([]Item, string, error) {
	statuses := []Outcome{Failed, Review}
	switch status {
	case "":
	case Failed, Review:
		statuses = []Outcome{status}
	default:
		return nil, "", apperr.InvalidFields(apperr.FieldError{Field: "status", Message: "must be failed or review"})
	}
	if _, err := s.store.GetJob(ctx, ref); err != nil {
		return nil, "", err
	}
	// The cursor is "<status>:<store cursor>".
	start, inner := 0, ""
	if cursor != "" {
		st, rest, ok := strings.Cut(cursor, ":")
		start = -1
		for i, x := range statuses {
			if ok && string(x) == st {
				start = i
			}
		}
		if start < 0 {
			return nil, "", apperr.InvalidFields(apperr.FieldError{Field: "cursor", Message: "is not a cursor this list returned"})
		}
		inner = rest
	}
	out := []Item{}
	for i := start; i < len(statuses); i++ {
		if len(out) == limit {
			return out, string(statuses[i]) + ":", nil
		}
		items, next, err := s.store.ListItems(ctx, ref, statuses[i], limit-len(out), inner)
		if err != nil {
			return nil, "", err
		}
		out = append(out, items...)
		if next != "" {
			return out, string(statuses[i]) + ":" + next, nil
		}
		inner = ""
	}
	return out, "", nil
}

// Retry queues a finished job's failed items again: each becomes Pending
// (leaving Failed) and the job queued, so the job finishes again once
// every retried item has an outcome. Failed organizations are sent as
// OrgMessages, failed devices as AssetMessages with reason "retry". It
// returns the job and how many items were queued; Conflict when the job is
// not finished or has no failed items.
func (s *Service) Retry(ctx context.Context, ref Ref) (Job, int, error) {
	j, err := s.store.GetJob(ctx, ref)
	if err != nil {
		return Job{}, 0, err
	}
	if !j.Status.Final() {
		return Job{}, 0, apperr.New(apperr.Conflict, "import %s is still %s; retry it once it has finished", ref.JobID, j.Status)
	}
	var failed []Item
	cursor := ""
	for {
		page, next, err := s.store.ListItems(ctx, ref, Failed, 500, cursor)
		if err != nil {
			return Job{}, 0, fmt.Errorf("list failed items of job %s: %w", ref.JobID, err)
		}
		failed = append(failed, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(failed) == 0 {
		return Job{}, 0, apperr.New(apperr.Conflict, "import %s has no failed items to retry", ref.JobID)
	}
	err = s.store.UpdateStatus(ctx, ref, StatusChange{From: []Status{j.Status}, To: StatusQueued, ClearFinished: true})
	if apperr.Is(err, apperr.Conflict) {
		return Job{}, 0, apperr.Wrap(apperr.Conflict, err, "import %s changed meanwhile (retried already?)", ref.JobID)
	}
	if err != nil {
		return Job{}, 0, fmt.Errorf("reopen job %s: %w", ref.JobID, err)
	}
	// Every item is pending before any message goes out, so the job cannot
	// finish while some are still to be sent.
	pending, err := s.markPending(ctx, ref, failed)
	if err != nil {
		s.revert(ctx, ref, pending)
		return Job{}, 0, err
	}
	msgs := map[string][]Message{}
	for _, it := range pending {
		switch orgID, isOrg := OrgOfItemKey(it.Key); {
		case j.Kind == KindOrganizations || j.DryRun:
			msgs[s.queues.Import] = append(msgs[s.queues.Import], orgMessage(ref, j.Kind, it.Key))
		case isOrg:
			msgs[s.queues.Import] = append(msgs[s.queues.Import], orgMessage(ref, j.Kind, orgID))
		default:
			msgs[s.queues.Asset] = append(msgs[s.queues.Asset], assetMessage(ref, it.Key, "retry"))
		}
	}
	for _, q := range []string{s.queues.Import, s.queues.Asset} {
		if err := s.sender.SendBatch(ctx, q, msgs[q]); err != nil {
			// Items whose message did go out move from failed to their
			// outcome when processed.
			s.revert(ctx, ref, pending)
			return Job{}, 0, fmt.Errorf("queue retried items of job %s: %w", ref.JobID, err)
		}
	}
	j.Status, j.FinishedAt = StatusQueued, time.Time{}
	j.Counts.Failed -= len(pending)
	s.o.Logger.InfoContext(ctx, "import retried", "tenantId", ref.TenantID, "integrationId", ref.IntegrationID, "jobId", ref.JobID, "items", len(pending))
	return j, len(pending), nil
}

// markPending moves failed items to Pending, MaxChangeItems per write
// (one at a time for a chunk in which an item changed meanwhile), and
// returns those it moved.
func (s *Service) markPending(ctx context.Context, ref Ref, failed []Item) ([]Item, error) {
	var done []Item
	now := s.o.Now().UTC().Truncate(time.Millisecond)
	toPending := func(its []Item) Change {
		ch := Change{Delta: Counts{Failed: -len(its)}}
		for _, it := range its {
			ch.Items = append(ch.Items, ItemChange{Item: Item{Key: it.Key, Status: Pending, Reason: it.Reason, Updated: now}, From: Failed})
		}
		return ch
	}
	for start := 0; start < len(failed); start += MaxChangeItems {
		chunk := failed[start:min(start+MaxChangeItems, len(failed))]
		err := s.store.Apply(ctx, ref, toPending(chunk))
		if err == nil {
			done = append(done, chunk...)
			continue
		}
		if !apperr.Is(err, apperr.Conflict) {
			return done, fmt.Errorf("mark items of job %s pending: %w", ref.JobID, err)
		}
		for _, it := range chunk {
			err := s.store.Apply(ctx, ref, toPending([]Item{it}))
			switch {
			case err == nil:
				done = append(done, it)
			case !apperr.Is(err, apperr.Conflict):
				return done, fmt.Errorf("mark item %s of job %s pending: %w", it.Key, ref.JobID, err)
			}
		}
	}
	return done, nil
}

// revert puts pending items back to Failed (those a retried message has
// recorded meanwhile keep their outcome) and finishes the job again.
func (s *Service) revert(ctx context.Context, ref Ref, pending []Item) {
	ctx = context.WithoutCancel(ctx)
	for _, it := range pending {
		it.Status = Failed
		if _, err := s.tracker.record(ctx, ref, it); err != nil {
			s.o.Logger.ErrorContext(ctx, "could not revert pending item", "jobId", ref.JobID, "key", it.Key, "error", err)
		}
	}
	if _, err := s.tracker.CheckDone(ctx, ref); err != nil {
		s.o.Logger.ErrorContext(ctx, "could not finish job after a failed retry", "jobId", ref.JobID, "error", err)
	}
}
