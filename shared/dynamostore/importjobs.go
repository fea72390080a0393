package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
)

// ImportJobs stores import jobs in their integration's partition
// (T#<tenant>#INT#<integration>):
//
//   - the job at JOB#<id>, its counters changed only with atomic ADD; GSI1
//     lists an integration's jobs newest first (T#…#INT#…#JOBS / <id>, ids
//     sort by creation time);
//   - each item at JOB#<id>#ITEM#<key>; failed, review and pending items
//     are also on GSI1 (T#…#INT#…#JOB#<id>#<status> / <key>), a sparse
//     index, so listing them never reads the job's other items;
//   - each organization of an asset import at JOB#<id>#ORG#<orgId>;
//   - while the job is not finished, its entry on the scheduler's work list
//     at JOB#<id>#ACTIVE: GSI1 partition ImportsIndexPK, the one partition
//     not under a tenant (as Schedules' provisioning list), sorted by
//     T#<tenant>#INT#<integration>#JOB#<id>. It is written with the job and
//     removed in the same transaction as the job's final status (put back
//     when a retry reopens the job).
//
// An item or organization write and its counter deltas are one
// transaction conditioned on the item's previous state (importjob.Change);
// the same write adds one to the job's rev and sets its progressAt.
// Reconcile writes recounted counters only while rev is what it read.
// Everything expires ImportRetention after it was last written.
type ImportJobs struct{ s *Store }

var _ importjob.Store = ImportJobs{}

// NewImportJobs returns the import jobs repository over s.
func NewImportJobs(s *Store) ImportJobs { return ImportJobs{s: s} }

// ImportRetention is how long jobs, items and organization records are kept.
const ImportRetention = 90 * 24 * time.Hour

type jobItem struct {
	PK                    string             `dynamodbav:"pk"`
	SK                    string             `dynamodbav:"sk"`
	GSI1PK                string             `dynamodbav:"gsi1pk"`
	GSI1SK                string             `dynamodbav:"gsi1sk"`
	ID                    string             `dynamodbav:"id"`
	Kind                  string             `dynamodbav:"kind"`
	Status                string             `dynamodbav:"status"`
	DryRun                bool               `dynamodbav:"dryRun"`
	CreateMissingAccounts bool               `dynamodbav:"createMissingAccounts"`
	OrganizationIDs       []string           `dynamodbav:"organizationIds,omitempty"`
	Total                 int                `dynamodbav:"total"`
	Created               int                `dynamodbav:"created"`
	Linked                int                `dynamodbav:"linked"`
	Updated               int                `dynamodbav:"updated"`
	Unchanged             int                `dynamodbav:"unchanged"`
	Skipped               int                `dynamodbav:"skipped"`
	Failed                int                `dynamodbav:"failed"`
	Review                int                `dynamodbav:"review"`
	Orgs                  int                `dynamodbav:"orgs"`
	OrgsDone              int                `dynamodbav:"orgsDone"`
	CreatedAt             time.Time          `dynamodbav:"createdAt"`
	StartedAt             *time.Time         `dynamodbav:"startedAt,omitempty"`
	FinishedAt            *time.Time         `dynamodbav:"finishedAt,omitempty"`
	ProgressAt            *time.Time         `dynamodbav:"progressAt,omitempty"`
	CheckedAt             *time.Time         `dynamodbav:"checkedAt,omitempty"`
	Reconciling           *reconcileProgress `dynamodbav:"reconciling,omitempty"`
	Rev                   int64              `dynamodbav:"rev,omitempty"`
	StartedBy             string             `dynamodbav:"startedBy,omitempty"`
	TTL                   int64              `dynamodbav:"ttl"`
}

// reconcileProgress is a job's reconciliation under way
// (importjob.ReconcileProgress), a map attribute of the job.
type reconcileProgress struct {
	Rev       int64     `dynamodbav:"rev"`
	Cursor    string    `dynamodbav:"cursor"`
	Items     int       `dynamodbav:"items"`
	Created   int       `dynamodbav:"created"`
	Linked    int       `dynamodbav:"linked"`
	Updated   int       `dynamodbav:"updated"`
	Unchanged int       `dynamodbav:"unchanged"`
	Skipped   int       `dynamodbav:"skipped"`
	Failed    int       `dynamodbav:"failed"`
	Review    int       `dynamodbav:"review"`
	StartedAt time.Time `dynamodbav:"startedAt"`
}

// activeJobItem is a job's entry on the scheduler's work list of jobs that
// are not finished.
type activeJobItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	GSI1PK        string `dynamodbav:"gsi1pk"`
	GSI1SK        string `dynamodbav:"gsi1sk"`
	TenantID      string `dynamodbav:"tenantId"`
	IntegrationID string `dynamodbav:"integrationId"`
	JobID         string `dynamodbav:"jobId"`
	TTL           int64  `dynamodbav:"ttl"`
}

// ImportsIndexPK is the GSI1 partition listing the import jobs, of every
// tenant, that are not finished: the scheduler's reconcile work list.
const ImportsIndexPK = "SCHEDULE#IMPORTS"

func activeJobKey(ref importjob.Ref) Key {
	return Key{PK: IntegrationPK(ref.TenantID, ref.IntegrationID), SK: "JOB#" + ref.JobID + "#ACTIVE"}
}

func toActiveJobItem(ref importjob.Ref, now time.Time) activeJobItem {
	k := activeJobKey(ref)
	return activeJobItem{PK: k.PK, SK: k.SK, GSI1PK: ImportsIndexPK, GSI1SK: IntegrationPK(ref.TenantID, ref.IntegrationID) + "#JOB#" + ref.JobID,
		TenantID: ref.TenantID, IntegrationID: ref.IntegrationID, JobID: ref.JobID, TTL: now.Add(ImportRetention).Unix()}
}

type jobEntryItem struct {
	PK        string    `dynamodbav:"pk"`
	SK        string    `dynamodbav:"sk"`
	GSI1PK    string    `dynamodbav:"gsi1pk,omitempty"`
	GSI1SK    string    `dynamodbav:"gsi1sk,omitempty"`
	Key       string    `dynamodbav:"key"`
	Status    string    `dynamodbav:"status"`
	Reason    string    `dynamodbav:"reason,omitempty"`
	Action    string    `dynamodbav:"action,omitempty"`
	Name      string    `dynamodbav:"name,omitempty"`
	TargetID  string    `dynamodbav:"targetId,omitempty"`
	OrgID     string    `dynamodbav:"organizationId,omitempty"`
	UpdatedAt time.Time `dynamodbav:"updatedAt"`
	TTL       int64     `dynamodbav:"ttl"`
}

type jobOrgItem struct {
	PK        string    `dynamodbav:"pk"`
	SK        string    `dynamodbav:"sk"`
	OrgID     string    `dynamodbav:"organizationId"`
	State     string    `dynamodbav:"state"`
	Devices   int       `dynamodbav:"devices"`
	UpdatedAt time.Time `dynamodbav:"updatedAt"`
	TTL       int64     `dynamodbav:"ttl"`
}

// counterAttrs names the job's counter attributes.
var counterAttrs = []string{"total", "created", "linked", "updated", "unchanged", "skipped", "failed", "review"}

func counterValues(c importjob.Counts) []int {
	return []int{c.Total, c.Created, c.Linked, c.Updated, c.Unchanged, c.Skipped, c.Failed, c.Review}
}

func jobKey(ref importjob.Ref) Key {
	return Key{PK: IntegrationPK(ref.TenantID, ref.IntegrationID), SK: "JOB#" + ref.JobID}
}

func jobsIndexPK(tenantID, integrationID string) string {
	return IntegrationPK(tenantID, integrationID) + "#JOBS"
}

func jobItemPrefix(ref importjob.Ref) string { return "JOB#" + ref.JobID + "#ITEM#" }

func jobEntryKey(ref importjob.Ref, key string) Key {
	return Key{PK: IntegrationPK(ref.TenantID, ref.IntegrationID), SK: jobItemPrefix(ref) + key}
}

func jobStatusIndexPK(ref importjob.Ref, status importjob.Outcome) string {
	return IntegrationPK(ref.TenantID, ref.IntegrationID) + "#JOB#" + ref.JobID + "#" + string(status)
}

func jobOrgKey(ref importjob.Ref, orgID string) Key {
	return Key{PK: IntegrationPK(ref.TenantID, ref.IntegrationID), SK: "JOB#" + ref.JobID + "#ORG#" + orgID}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func toJobItem(j importjob.Job) jobItem {
	k := jobKey(j.Ref())
	c := j.Counts
	return jobItem{PK: k.PK, SK: k.SK, GSI1PK: jobsIndexPK(j.TenantID, j.IntegrationID), GSI1SK: j.ID,
		ID: j.ID, Kind: string(j.Kind), Status: string(j.Status), DryRun: j.DryRun, CreateMissingAccounts: j.CreateMissingAccounts,
		OrganizationIDs: j.OrganizationIDs, Total: c.Total, Created: c.Created, Linked: c.Linked, Updated: c.Updated,
		Unchanged: c.Unchanged, Skipped: c.Skipped, Failed: c.Failed, Review: c.Review, Orgs: j.Orgs, OrgsDone: j.OrgsDone,
		CreatedAt: j.CreatedAt.UTC(), StartedAt: optTime(j.StartedAt), FinishedAt: optTime(j.FinishedAt),
		StartedBy: j.StartedBy, TTL: j.CreatedAt.Add(ImportRetention).Unix()}
}

func (it jobItem) job(tenantID, integrationID string) importjob.Job {
	j := importjob.Job{ID: it.ID, TenantID: tenantID, IntegrationID: integrationID, Kind: importjob.Kind(it.Kind),
		Status: importjob.Status(it.Status), DryRun: it.DryRun, CreateMissingAccounts: it.CreateMissingAccounts,
		OrganizationIDs: it.OrganizationIDs,
		Counts: importjob.Counts{Total: it.Total, Created: it.Created, Linked: it.Linked, Updated: it.Updated,
			Unchanged: it.Unchanged, Skipped: it.Skipped, Failed: it.Failed, Review: it.Review},
		Orgs: it.Orgs, OrgsDone: it.OrgsDone, CreatedAt: it.CreatedAt, StartedBy: it.StartedBy}
	if it.StartedAt != nil {
		j.StartedAt = *it.StartedAt
	}
	if it.FinishedAt != nil {
		j.FinishedAt = *it.FinishedAt
	}
	if it.ProgressAt != nil {
		j.ProgressAt = *it.ProgressAt
	}
	if it.CheckedAt != nil {
		j.CheckedAt = *it.CheckedAt
	}
	if p := it.Reconciling; p != nil {
		j.Reconciling = &importjob.ReconcileProgress{Rev: p.Rev, Cursor: p.Cursor, Items: p.Items, StartedAt: p.StartedAt,
			Counts: importjob.Counts{Created: p.Created, Linked: p.Linked, Updated: p.Updated, Unchanged: p.Unchanged,
				Skipped: p.Skipped, Failed: p.Failed, Review: p.Review}}
	}
	j.Rev = it.Rev
	return j
}

// indexedStatuses are the item statuses GSI1 lists.
var indexedStatuses = []importjob.Outcome{importjob.Failed, importjob.Review, importjob.Pending}

func toEntryItem(ref importjob.Ref, it importjob.Item) jobEntryItem {
	k := jobEntryKey(ref, it.Key)
	e := jobEntryItem{PK: k.PK, SK: k.SK, Key: it.Key, Status: string(it.Status), Reason: it.Reason, OrgID: it.OrganizationID,
		UpdatedAt: it.Updated.UTC(), TTL: it.Updated.Add(ImportRetention).Unix()}
	if slices.Contains(indexedStatuses, it.Status) {
		e.GSI1PK, e.GSI1SK = jobStatusIndexPK(ref, it.Status), it.Key
	}
	if p := it.Preview; p != nil {
		e.Action, e.Name, e.TargetID = p.Action, p.Name, p.TargetID
	}
	return e
}

func (e jobEntryItem) item() importjob.Item {
	it := importjob.Item{Key: e.Key, Status: importjob.Outcome(e.Status), Reason: e.Reason, OrganizationID: e.OrgID, Updated: e.UpdatedAt}
	if e.Action != "" {
		it.Preview = &importjob.PreviewItem{Key: e.Key, Action: e.Action, Name: e.Name, TargetID: e.TargetID, Reason: e.Reason}
	}
	return it
}

// CreateJob implements importjob.Store: the job and, unless it is created
// finished, its work-list entry, in one transaction.
func (r ImportJobs) CreateJob(ctx context.Context, j importjob.Job) error {
	ops := []TxOp{TxPutNew(toJobItem(j))}
	if !j.Status.Final() {
		ops = append(ops, TxPut(toActiveJobItem(j.Ref(), j.CreatedAt), nil))
	}
	if err := r.s.Transact(ctx, ops...); err != nil {
		return fmt.Errorf("create import job %s: %w", j.ID, err)
	}
	return nil
}

// GetJob implements importjob.Store.
func (r ImportJobs) GetJob(ctx context.Context, ref importjob.Ref) (importjob.Job, error) {
	var it jobItem
	if err := r.s.Get(ctx, jobKey(ref), &it); err != nil {
		return importjob.Job{}, fmt.Errorf("get import job %s: %w", ref.JobID, namedNotFound(err, "import job", ref.JobID))
	}
	return it.job(ref.TenantID, ref.IntegrationID), nil
}

// ListJobs implements importjob.Store.
func (r ImportJobs) ListJobs(ctx context.Context, tenantID, integrationID string, limit int, cursor string) ([]importjob.Job, string, error) {
	var items []jobItem
	next, err := r.s.Query(ctx, Query{PK: jobsIndexPK(tenantID, integrationID), Index: IndexGSI1, Descending: true,
		Limit: int32(limit), Cursor: cursor}, &items)
	if err != nil {
		return nil, "", fmt.Errorf("list import jobs: %w", err)
	}
	out := make([]importjob.Job, 0, len(items))
	for _, it := range items {
		out = append(out, it.job(tenantID, integrationID))
	}
	return out, next, nil
}

// UpdateStatus implements importjob.Store.
func (r ImportJobs) UpdateStatus(ctx context.Context, ref importjob.Ref, ch importjob.StatusChange) error {
	if len(ch.From) == 0 {
		return apperr.New(apperr.Internal, "a status change needs the statuses it moves from")
	}
	upd := expression.Set(expression.Name("status"), expression.Value(string(ch.To)))
	if !ch.StartedAt.IsZero() {
		upd = upd.Set(expression.Name("startedAt"), expression.IfNotExists(expression.Name("startedAt"), expression.Value(ch.StartedAt.UTC())))
	}
	if !ch.FinishedAt.IsZero() {
		upd = upd.Set(expression.Name("finishedAt"), expression.Value(ch.FinishedAt.UTC()))
	} else if ch.ClearFinished {
		upd = upd.Remove(expression.Name("finishedAt"))
	}
	from := make([]expression.OperandBuilder, 0, len(ch.From))
	for _, s := range ch.From {
		from = append(from, expression.Value(string(s)))
	}
	cond := expression.Name("status").In(from[0], from[1:]...)
	// The work list holds the jobs that are not finished: a final status
	// takes the job off it, a retry that reopens a finished job puts it
	// back, in the same transaction.
	var err error
	switch {
	case ch.To.Final():
		err = r.s.Transact(ctx, TxUpdate(jobKey(ref), upd, &cond), TxDelete(activeJobKey(ref), nil))
	case slices.ContainsFunc(ch.From, importjob.Status.Final):
		err = r.s.Transact(ctx, TxUpdate(jobKey(ref), upd, &cond), TxPut(toActiveJobItem(ref, time.Now()), nil))
	default:
		err = r.s.Update(ctx, jobKey(ref), upd, &cond, nil)
	}
	if err != nil {
		return fmt.Errorf("set import job %s %s: %w", ref.JobID, ch.To, err)
	}
	return nil
}

// Apply implements importjob.Store: one TransactWriteItems with a
// conditional put (or delete) per item, the organization's conditional
// put, and the job's counters (ADD), conditioned on the job existing.
func (r ImportJobs) Apply(ctx context.Context, ref importjob.Ref, ch importjob.Change) error {
	if len(ch.Items) > importjob.MaxChangeItems {
		return apperr.New(apperr.Internal, "a change holds at most %d items, not %d", importjob.MaxChangeItems, len(ch.Items))
	}
	ops := make([]TxOp, 0, len(ch.Items)+2)
	for _, ic := range ch.Items {
		var cond expression.ConditionBuilder
		if ic.From == "" {
			cond = NotExists()
		} else {
			cond = expression.Name("status").Equal(expression.Value(string(ic.From)))
		}
		if ic.Delete {
			ops = append(ops, TxDelete(jobEntryKey(ref, ic.Item.Key), &cond))
		} else {
			ops = append(ops, TxPut(toEntryItem(ref, ic.Item), &cond))
		}
	}
	if o := ch.Org; o != nil {
		var cond expression.ConditionBuilder
		if o.From == "" {
			cond = NotExists()
		} else {
			cond = expression.Name("state").Equal(expression.Value(string(o.From)))
		}
		k := jobOrgKey(ref, o.OrgID)
		now := time.Now().UTC()
		ops = append(ops, TxPut(jobOrgItem{PK: k.PK, SK: k.SK, OrgID: o.OrgID, State: string(o.To), Devices: o.Devices,
			UpdatedAt: now, TTL: now.Add(ImportRetention).Unix()}, &cond))
	}
	jobOp := len(ops)
	exists := Exists()
	upd := expression.Add(expression.Name("rev"), expression.Value(1)).
		Set(expression.Name("progressAt"), expression.Value(time.Now().UTC()))
	for i, v := range counterValues(ch.Delta) {
		if v != 0 {
			upd = upd.Add(expression.Name(counterAttrs[i]), expression.Value(v))
		}
	}
	if ch.OrgsDone != 0 {
		upd = upd.Add(expression.Name("orgsDone"), expression.Value(ch.OrgsDone))
	}
	ops = append(ops, TxUpdate(jobKey(ref), upd, &exists))
	err := r.s.Transact(ctx, ops...)
	if err == nil {
		return nil
	}
	var tx *TxCanceledError
	if errors.As(err, &tx) && slices.Contains(tx.Failed, jobOp) {
		return fmt.Errorf("update import job %s: %w", ref.JobID, apperr.Wrap(apperr.NotFound, err, "no import job %s", ref.JobID))
	}
	return fmt.Errorf("update import job %s: %w", ref.JobID, err)
}

// GetItem implements importjob.Store.
func (r ImportJobs) GetItem(ctx context.Context, ref importjob.Ref, key string) (importjob.Item, error) {
	var e jobEntryItem
	if err := r.s.Get(ctx, jobEntryKey(ref, key), &e); err != nil {
		return importjob.Item{}, fmt.Errorf("get item %s of import job %s: %w", key, ref.JobID, namedNotFound(err, "import item", key))
	}
	return e.item(), nil
}

// ListItems implements importjob.Store.
func (r ImportJobs) ListItems(ctx context.Context, ref importjob.Ref, status importjob.Outcome, limit int, cursor string) ([]importjob.Item, string, error) {
	if !slices.Contains(indexedStatuses, status) {
		return nil, "", apperr.New(apperr.Internal, "items with status %q are not indexed", status)
	}
	var es []jobEntryItem
	next, err := r.s.Query(ctx, Query{PK: jobStatusIndexPK(ref, status), Index: IndexGSI1, Limit: int32(limit), Cursor: cursor}, &es)
	if err != nil {
		return nil, "", fmt.Errorf("list %s items of import job %s: %w", status, ref.JobID, err)
	}
	out := make([]importjob.Item, 0, len(es))
	for _, e := range es {
		out = append(out, e.item())
	}
	return out, next, nil
}

// PreviewItems implements importjob.Store.
func (r ImportJobs) PreviewItems(ctx context.Context, ref importjob.Ref) ([]importjob.Item, error) {
	var es []jobEntryItem
	q := Query{PK: IntegrationPK(ref.TenantID, ref.IntegrationID), SKPrefix: jobItemPrefix(ref), ConsistentRead: true}
	if err := r.s.QueryAll(ctx, q, &es); err != nil {
		return nil, fmt.Errorf("list preview of import job %s: %w", ref.JobID, err)
	}
	out := make([]importjob.Item, 0, len(es))
	for _, e := range es {
		out = append(out, e.item())
	}
	return out, nil
}

// PageItems implements importjob.Store.
func (r ImportJobs) PageItems(ctx context.Context, ref importjob.Ref, limit int, cursor string) ([]importjob.Item, string, error) {
	var es []jobEntryItem
	q := Query{PK: IntegrationPK(ref.TenantID, ref.IntegrationID), SKPrefix: jobItemPrefix(ref), ConsistentRead: true,
		Limit: int32(min(max(limit, 1), 10000)), Cursor: cursor}
	next, err := r.s.Query(ctx, q, &es)
	if err != nil {
		return nil, "", fmt.Errorf("page items of import job %s: %w", ref.JobID, err)
	}
	out := make([]importjob.Item, 0, len(es))
	for _, e := range es {
		out = append(out, e.item())
	}
	return out, next, nil
}

// SaveReconcileProgress implements importjob.Store: one conditional
// UpdateItem that SETs the job's reconciling attribute while rev is the
// count's and the job is queued or running.
func (r ImportJobs) SaveReconcileProgress(ctx context.Context, ref importjob.Ref, p importjob.ReconcileProgress) error {
	c := p.Counts
	v := reconcileProgress{Rev: p.Rev, Cursor: p.Cursor, Items: p.Items, StartedAt: p.StartedAt.UTC(),
		Created: c.Created, Linked: c.Linked, Updated: c.Updated, Unchanged: c.Unchanged, Skipped: c.Skipped, Failed: c.Failed, Review: c.Review}
	upd := expression.Set(expression.Name("reconciling"), expression.Value(v))
	cond := expression.And(revIs(p.Rev),
		expression.Name("status").In(expression.Value(string(importjob.StatusQueued)), expression.Value(string(importjob.StatusRunning))))
	if err := r.s.Update(ctx, jobKey(ref), upd, &cond, nil); err != nil {
		return fmt.Errorf("save reconciliation of import job %s: %w", ref.JobID, err)
	}
	return nil
}

// revIs is the condition that no Change was applied since the job was
// read with rev (absent for a job no Change touched yet).
func revIs(rev int64) expression.ConditionBuilder {
	if rev == 0 {
		return expression.AttributeNotExists(expression.Name("rev"))
	}
	return expression.Name("rev").Equal(expression.Value(rev))
}

// GetOrg implements importjob.Store.
func (r ImportJobs) GetOrg(ctx context.Context, ref importjob.Ref, orgID string) (importjob.OrgRecord, error) {
	var o jobOrgItem
	err := r.s.Get(ctx, jobOrgKey(ref, orgID), &o)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return importjob.OrgRecord{OrgID: orgID}, nil
	case err != nil:
		return importjob.OrgRecord{}, fmt.Errorf("get organization %s of import job %s: %w", orgID, ref.JobID, err)
	}
	return importjob.OrgRecord{OrgID: o.OrgID, State: importjob.OrgState(o.State), Devices: o.Devices}, nil
}

// ListOrgs implements importjob.Store.
func (r ImportJobs) ListOrgs(ctx context.Context, ref importjob.Ref) ([]importjob.OrgRecord, error) {
	var os []jobOrgItem
	q := Query{PK: IntegrationPK(ref.TenantID, ref.IntegrationID), SKPrefix: "JOB#" + ref.JobID + "#ORG#", ConsistentRead: true}
	if err := r.s.QueryAll(ctx, q, &os); err != nil {
		return nil, fmt.Errorf("list organizations of import job %s: %w", ref.JobID, err)
	}
	out := make([]importjob.OrgRecord, 0, len(os))
	for _, o := range os {
		out = append(out, importjob.OrgRecord{OrgID: o.OrgID, State: importjob.OrgState(o.State), Devices: o.Devices})
	}
	return out, nil
}

// Reconcile implements importjob.Store: one conditional UpdateItem that
// SETs every counter, orgsDone and checkedAt, adds one to rev and REMOVEs
// the reconciliation under way, if rev
// is still the one read (absent for a job no Change touched yet) and the
// job is queued or running.
func (r ImportJobs) Reconcile(ctx context.Context, ref importjob.Ref, rev int64, t importjob.Tally, at time.Time) error {
	upd := expression.Set(expression.Name("orgsDone"), expression.Value(t.OrgsDone)).
		Set(expression.Name("checkedAt"), expression.Value(at.UTC())).
		Add(expression.Name("rev"), expression.Value(1)).
		Remove(expression.Name("reconciling"))
	for i, v := range counterValues(t.Counts) {
		upd = upd.Set(expression.Name(counterAttrs[i]), expression.Value(v))
	}
	cond := expression.And(revIs(rev),
		expression.Name("status").In(expression.Value(string(importjob.StatusQueued)), expression.Value(string(importjob.StatusRunning))))
	if err := r.s.Update(ctx, jobKey(ref), upd, &cond, nil); err != nil {
		return fmt.Errorf("reconcile import job %s: %w", ref.JobID, err)
	}
	return nil
}

// ActiveJobs returns the import jobs, of every tenant, that are not
// finished (the work list), ordered by tenant, integration and job. GSI1
// is eventually consistent: a job that finished a moment ago may still be
// listed, so callers re-read a job before acting on it.
func (r ImportJobs) ActiveJobs(ctx context.Context) ([]importjob.Ref, error) {
	var items []activeJobItem
	if err := r.s.QueryAll(ctx, Query{PK: ImportsIndexPK, Index: IndexGSI1}, &items); err != nil {
		return nil, fmt.Errorf("list active import jobs: %w", err)
	}
	out := make([]importjob.Ref, 0, len(items))
	for _, it := range items {
		out = append(out, importjob.Ref{TenantID: it.TenantID, IntegrationID: it.IntegrationID, JobID: it.JobID})
	}
	return out, nil
}

// Unlist removes a job's work-list entry (a job found finished or gone);
// removing a missing entry succeeds.
func (r ImportJobs) Unlist(ctx context.Context, ref importjob.Ref) error {
	if err := r.s.Delete(ctx, activeJobKey(ref), nil); err != nil {
		return fmt.Errorf("unlist import job %s: %w", ref.JobID, err)
	}
	return nil
}
