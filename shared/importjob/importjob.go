// Package importjob runs bulk imports as jobs: one ImportQueue message per
// organization, fanned out to one AssetQueue message per device for asset
// imports, with progress kept as counters that count every item exactly
// once however often SQS redelivers its message.
//
// Every item (an organization or a device) ends in exactly one outcome. An
// item's record (JOB#<id>#ITEM#<key>) and the job's counter move together
// in one transaction, conditioned on the item's previous outcome, so a
// redelivered message cannot count twice and a retried failure moves from
// "failed" to its new outcome. A message about to exhaust its receives
// records its item as failed with the reason before it goes to the DLQ:
// counted, never lost.
//
// Three types run the jobs: Tracker records outcomes and finishes jobs (it
// is the Recorder asset-refresh calls), Service starts, reads and retries
// jobs for the API, and Dispatcher is the import-dispatch SQS worker that
// handles one organization per message. Store is what they need of the
// database; dynamostore.ImportJobs implements it.
package importjob

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
)

// Kind is what a job imports.
type Kind string

// Kinds.
const (
	KindOrganizations Kind = "organizations"
	KindAssets        Kind = "assets"
)

// Status is a job's state.
type Status string

// Statuses: queued → running → succeeded | partial | failed.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded" // every item created/linked/updated/unchanged/skipped
	StatusPartial   Status = "partial"   // some items failed or need review
	StatusFailed    Status = "failed"    // every item failed
)

// Final reports whether s is an end state (succeeded, partial or failed).
func (s Status) Final() bool {
	return s == StatusSucceeded || s == StatusPartial || s == StatusFailed
}

// Outcome is how one item ended.
type Outcome string

// Outcomes. Review is an item that needs a human (ambiguous match, two PSA
// assets with one serial): never guessed.
const (
	Created   Outcome = "created"
	Linked    Outcome = "linked"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
	Skipped   Outcome = "skipped"
	Failed    Outcome = "failed"
	Review    Outcome = "review"
)

// Pending is not an outcome: it is the state of a failed item that
// POST .../retry queued again. A pending item is not counted (it left
// Failed) until its retried message records an outcome.
const Pending Outcome = "pending"

// Valid reports whether o is one of the seven outcomes (Pending is not).
func (o Outcome) Valid() bool {
	switch o {
	case Created, Linked, Updated, Unchanged, Skipped, Failed, Review:
		return true
	}
	return false
}

// Counts are a job's progress. Total is the number of items known so far
// (organizations for an organization import; devices for an asset import,
// growing as organizations are paged).
type Counts struct {
	Total     int `json:"total"`
	Created   int `json:"created"`
	Linked    int `json:"linked"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"`
	Review    int `json:"review"`
}

// Done is the number of items with an outcome.
func (c Counts) Done() int {
	return c.Created + c.Linked + c.Updated + c.Unchanged + c.Skipped + c.Failed + c.Review
}

// Add adds n to the counter of outcome o (Pending has none).
func (c *Counts) Add(o Outcome, n int) {
	switch o {
	case Created:
		c.Created += n
	case Linked:
		c.Linked += n
	case Updated:
		c.Updated += n
	case Unchanged:
		c.Unchanged += n
	case Skipped:
		c.Skipped += n
	case Failed:
		c.Failed += n
	case Review:
		c.Review += n
	}
}

// IsZero reports whether every counter is zero.
func (c Counts) IsZero() bool { return c == Counts{} }

// FinalStatus is the status of a job whose items all have an outcome:
// succeeded when none failed or waits for review, failed when every item
// failed, partial otherwise.
func FinalStatus(c Counts) Status {
	switch {
	case c.Failed == 0 && c.Review == 0:
		return StatusSucceeded
	case c.Failed > 0 && c.Failed >= c.Total:
		return StatusFailed
	}
	return StatusPartial
}

// Job is one import.
type Job struct {
	ID                    string
	TenantID              string
	IntegrationID         string
	Kind                  Kind
	Status                Status
	DryRun                bool
	CreateMissingAccounts bool
	OrganizationIDs       []string // empty: all
	Counts                Counts
	// Orgs and OrgsDone count the job's ImportQueue messages and those
	// finished (their devices counted into Total and fanned out).
	Orgs, OrgsDone int
	Preview        []PreviewItem
	CreatedAt      time.Time
	StartedAt      time.Time
	FinishedAt     time.Time
	// ProgressAt is when the store last applied a Change (an item or an
	// organization recorded); zero before the first.
	ProgressAt time.Time
	// CheckedAt is when the job was last reconciled (Tracker.Reconcile).
	CheckedAt time.Time
	// Reconciling is a reconciliation under way: the item records counted
	// so far, page by page (Tracker.Reconcile). It is nil when none is,
	// and stale when its Rev is not the job's (a Change was applied since:
	// the job moved, the count starts again if it stalls again).
	Reconciling *ReconcileProgress
	// Rev counts the Changes applied to the job; a reconciliation writes
	// its counts only if no Change was applied since it read the job.
	Rev int64
	// StartedBy is who started the job ("user/<id> (<email>)" or
	// "key/<id> (<name>)"); the audit events of its mappings name it.
	StartedBy string
}

// Ref names a job.
type Ref struct {
	TenantID, IntegrationID, JobID string
}

// Ref returns the job's reference.
func (j Job) Ref() Ref {
	return Ref{TenantID: j.TenantID, IntegrationID: j.IntegrationID, JobID: j.ID}
}

// PerOrganizationItems reports whether the job's items are its
// organizations (organization imports, and asset dry runs, which preview
// one item per organization) rather than devices.
func (j Job) PerOrganizationItems() bool {
	return j.Kind == KindOrganizations || j.DryRun
}

// Finished reports whether every item has an outcome: for jobs with one
// item per organization, when Done reaches Total; for asset imports, also
// only once every organization has been paged and counted into Total.
func (j Job) Finished() bool {
	if j.Counts.Done() < j.Counts.Total {
		return false
	}
	return j.PerOrganizationItems() || j.OrgsDone >= j.Orgs
}

// DefaultStallAfter is how long a job that is not finished may go without
// progress before it is reconciled from its item records.
const DefaultStallAfter = 5 * time.Minute

// Stalled reports whether a job that has not finished looks stuck at now:
// its counters say every item has an outcome but its status is not final
// (a lost finish), or nothing was recorded, nor the job reconciled, for
// after (a lost counter increment leaves the counters short of the items
// for good). Tracker.Reconcile finishes such a job if its items say so.
func (j Job) Stalled(now time.Time, after time.Duration) bool {
	if j.Status.Final() {
		return false
	}
	if j.Finished() || j.reconcileUnderWay() {
		return true
	}
	last := j.CreatedAt
	for _, t := range []time.Time{j.StartedAt, j.ProgressAt, j.CheckedAt} {
		if t.After(last) {
			last = t
		}
	}
	return now.Sub(last) >= after
}

// ReconcileProgress is how far a reconciliation has counted a job's item
// records: they are read a page at a time (by key), so that a job of any
// size is recounted in bounded steps, each within its caller's time budget
// (an API request, a scheduler run), the count carried from one step to
// the next in the job's record.
type ReconcileProgress struct {
	// Rev is the job's Rev when the count began; it is valid while no
	// Change has been applied since.
	Rev int64
	// Cursor is where the next page starts ("" before the first).
	Cursor string
	// Counts are the outcomes of the items counted so far (Total unused).
	Counts Counts
	// Items is how many item records were read so far.
	Items int
	// StartedAt is when the count began.
	StartedAt time.Time
}

// reconcileUnderWay reports whether a reconciliation has counted part of
// the job's records and no Change was applied since.
func (j Job) reconcileUnderWay() bool {
	return j.Reconciling != nil && j.Reconciling.Rev == j.Rev
}

// Tally is a job's progress as its records tell it, for reconciliation:
// the counters and, in an asset import, the organizations done.
type Tally struct {
	Counts   Counts
	OrgsDone int
}

// PreviewItem is what a dry run would do with one item.
type PreviewItem struct {
	Key      string `json:"key"`
	Action   string `json:"action"` // create | link | update | unchanged | skip | review
	Name     string `json:"name,omitempty"`
	TargetID string `json:"targetId,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Item is one item's recorded outcome (failed and review items are listed
// by the API). Keys are RMM organization ids in organization imports and
// asset dry runs, and RMM device ids in asset imports, where an
// organization whose devices could not be listed is the item
// OrgItemKey(orgID).
type Item struct {
	Key     string    `json:"key"`
	Status  Outcome   `json:"status"`
	Reason  string    `json:"reason,omitempty"`
	Updated time.Time `json:"-"`
	// OrganizationID is the RMM organization a device item of an asset
	// import belongs to, when it was recorded with it (review items), so a
	// person can resolve them; empty otherwise.
	OrganizationID string `json:"-"`
	// Preview is what a dry run would do with the item (dry runs only).
	Preview *PreviewItem `json:"-"`
}

// orgItemPrefix marks the item of an organization in an asset import.
const orgItemPrefix = "org:"

// OrgItemKey is the item key of an organization in an asset import: the
// item that stands for its devices when they could not be listed.
func OrgItemKey(orgID string) string { return orgItemPrefix + orgID }

// OrgOfItemKey returns the organization of an OrgItemKey, and whether key
// is one.
func OrgOfItemKey(key string) (string, bool) {
	if id, ok := strings.CutPrefix(key, orgItemPrefix); ok && id != "" {
		return id, true
	}
	return "", false
}

// OrgMessage is an ImportQueue message body: one organization of a job.
type OrgMessage struct {
	TenantID       string `json:"tenantId"`
	IntegrationID  string `json:"integrationId"`
	JobID          string `json:"jobId"`
	Kind           Kind   `json:"kind"`
	OrganizationID string `json:"organizationId"`
}

// Ref returns the job the message belongs to.
func (m OrgMessage) Ref() Ref {
	return Ref{TenantID: m.TenantID, IntegrationID: m.IntegrationID, JobID: m.JobID}
}

// DecodeOrgMessage parses and checks an ImportQueue message body; a body
// that is not a complete OrgMessage is apperr Malformed.
func DecodeOrgMessage(body []byte) (OrgMessage, error) {
	var m OrgMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return OrgMessage{}, apperr.Wrap(apperr.Malformed, err, "the message is not an organization import message")
	}
	var missing []string
	for name, v := range map[string]string{"tenantId": m.TenantID, "integrationId": m.IntegrationID, "jobId": m.JobID, "organizationId": m.OrganizationID} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return OrgMessage{}, apperr.New(apperr.Malformed, "the message lacks %s", strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	}
	if m.Kind != KindOrganizations && m.Kind != KindAssets {
		return OrgMessage{}, apperr.New(apperr.Malformed, "the message has unknown kind %q", m.Kind)
	}
	return m, nil
}

// AssetMessage is queuemsg.AssetRefresh under its old name.
//
// Deprecated: use queuemsg.AssetRefresh; this alias only keeps code written
// against the old name compiling until it is merged and moved.
type AssetMessage = queuemsg.AssetRefresh

// MaxReceives is queuemsg.MaxReceives under its old name.
//
// Deprecated: use queuemsg.MaxReceives.
const MaxReceives = queuemsg.MaxReceives

// Recorder records item outcomes exactly once and finishes the job when
// every item is accounted for.
type Recorder interface {
	// Record sets an item's outcome. A second record of the same outcome is
	// a no-op; an item recorded as failed may move to any outcome (retry);
	// any other change is ignored (the first outcome stands).
	Record(ctx context.Context, tenantID, integrationID, jobID string, it Item) error
}

// ItemChange is one item write of a Change: put Item (or, with Delete,
// delete it) if the item's current status is From ("" when it must not
// exist yet).
type ItemChange struct {
	Item   Item
	From   Outcome
	Delete bool
}

// OrgState is the state of an organization of an asset import.
type OrgState string

// Organization states: counted (its devices are in Total and fanned out)
// or failed (its devices could not be listed; OrgItemKey(id) is a failed
// item). An organization with no record has not finished yet.
const (
	OrgCounted OrgState = "counted"
	OrgFailed  OrgState = "failed"
)

// OrgRecord is an organization's progress in an asset import.
type OrgRecord struct {
	OrgID   string
	State   OrgState // "" when there is no record
	Devices int      // counted into Total
}

// OrgChange writes an organization's record if its state is From ("" when
// it must not exist yet).
type OrgChange struct {
	OrgID   string
	From    OrgState
	To      OrgState
	Devices int
}

// MaxChangeItems is the most item writes one Change may hold (a DynamoDB
// transaction holds 100 operations: the items, an organization and the
// job's counters).
const MaxChangeItems = 98

// Change is one atomic step of a job: item writes, an organization write
// and counter deltas, all applied or none.
type Change struct {
	Items    []ItemChange
	Org      *OrgChange
	Delta    Counts
	OrgsDone int
}

// StatusChange moves a job from one of From to To. StartedAt, when set,
// is written only if the job has none yet; FinishedAt, when set, is
// written; ClearFinished removes FinishedAt.
type StatusChange struct {
	From          []Status
	To            Status
	StartedAt     time.Time
	FinishedAt    time.Time
	ClearFinished bool
}

// Store persists jobs, their items and organizations.
type Store interface {
	// CreateJob writes a new job (Conflict if its id exists).
	CreateJob(ctx context.Context, j Job) error
	// GetJob reads a job with a strongly consistent read (NotFound).
	GetJob(ctx context.Context, ref Ref) (Job, error)
	// ListJobs pages an integration's jobs, newest first.
	ListJobs(ctx context.Context, tenantID, integrationID string, limit int, cursor string) ([]Job, string, error)
	// UpdateStatus applies ch; Conflict when the job's status is not in
	// ch.From.
	UpdateStatus(ctx context.Context, ref Ref, ch StatusChange) error
	// Apply applies ch atomically: NotFound when the job does not exist,
	// Conflict when an item or the organization is not in its From state.
	Apply(ctx context.Context, ref Ref, ch Change) error
	// GetItem reads an item with a strongly consistent read (NotFound).
	GetItem(ctx context.Context, ref Ref, key string) (Item, error)
	// ListItems pages the items with status (Failed, Review or Pending),
	// by key.
	ListItems(ctx context.Context, ref Ref, status Outcome, limit int, cursor string) ([]Item, string, error)
	// PreviewItems returns every item of a job, by key, with a strongly
	// consistent read (a dry run's items carry their preview).
	PreviewItems(ctx context.Context, ref Ref) ([]Item, error)
	// PageItems returns one page of at most limit of a job's items, every
	// status, by key, with a strongly consistent read, and the cursor of
	// the next page ("" after the last).
	PageItems(ctx context.Context, ref Ref, limit int, cursor string) ([]Item, string, error)
	// SaveReconcileProgress stores p as the job's reconciliation under way
	// if no Change was applied since the count began (the job's rev is
	// still p.Rev) and its status is still queued or running; Conflict
	// otherwise. It changes neither rev nor progressAt nor checkedAt.
	SaveReconcileProgress(ctx context.Context, ref Ref, p ReconcileProgress) error
	// GetOrg reads an organization's record; a missing one has State "".
	GetOrg(ctx context.Context, ref Ref, orgID string) (OrgRecord, error)
	// ListOrgs returns every organization record of an asset import, with
	// a strongly consistent read.
	ListOrgs(ctx context.Context, ref Ref) ([]OrgRecord, error)
	// Reconcile sets the job's counters and organizations done to t and
	// its CheckedAt to at, and clears its reconciliation under way, if no
	// Change was applied since the job was read with Rev rev and its
	// status is still queued or running; Conflict otherwise.
	Reconcile(ctx context.Context, ref Ref, rev int64, t Tally, at time.Time) error
}

// Message is one queue message to send.
type Message struct {
	Body string
	// GroupID is the message group: the tenant id, which on a standard
	// queue makes SQS share the consumers fairly between tenants.
	GroupID string
}

// Sender sends messages to a queue in batches (at most 10 per request).
type Sender interface {
	SendBatch(ctx context.Context, queueURL string, msgs []Message) error
}

// Queues are the queue URLs jobs send to.
type Queues struct {
	Import string // ImportQueue: OrgMessages
	Asset  string // AssetQueue: AssetMessages
}

// crockford is the base-32 alphabet of job ids (lower case, no i l o u).
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// NewJobID returns a job id that sorts by creation time: "j" followed by
// 10 base-32 digits of the Unix millisecond and 16 random ones (a
// lower-case ULID).
func NewJobID(now time.Time) string {
	var b [27]byte
	b[0] = 'j'
	ms := uint64(now.UnixMilli())
	for i := 10; i >= 1; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	var r [16]byte
	_, _ = rand.Read(r[:])
	for i, x := range r {
		b[11+i] = crockford[x&31]
	}
	return string(b[:])
}
