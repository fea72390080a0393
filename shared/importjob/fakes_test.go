package importjob_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmfake"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// memStore is an in-memory importjob.Store: every method holds one lock,
// so Apply is atomic as the DynamoDB transaction is.
type memStore struct {
	mu      sync.Mutex
	jobs    map[importjob.Ref]*importjob.Job
	items   map[importjob.Ref]map[string]importjob.Item
	orgs    map[importjob.Ref]map[string]importjob.OrgRecord
	applies int
}

var _ importjob.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{jobs: map[importjob.Ref]*importjob.Job{}, items: map[importjob.Ref]map[string]importjob.Item{},
		orgs: map[importjob.Ref]map[string]importjob.OrgRecord{}}
}

func notFound(what, id string) error { return apperr.New(apperr.NotFound, "no %s %s", what, id) }

func (m *memStore) CreateJob(_ context.Context, j importjob.Job) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[j.Ref()]; ok {
		return apperr.New(apperr.Conflict, "job %s exists", j.ID)
	}
	j.Preview = nil
	m.jobs[j.Ref()] = &j
	return nil
}

func (m *memStore) GetJob(_ context.Context, ref importjob.Ref) (importjob.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[ref]
	if !ok {
		return importjob.Job{}, notFound("import job", ref.JobID)
	}
	return *j, nil
}

func (m *memStore) job(ref importjob.Ref) importjob.Job {
	j, _ := m.GetJob(context.Background(), ref)
	return j
}

func (m *memStore) ListJobs(_ context.Context, tenantID, integrationID string, limit int, cursor string) ([]importjob.Job, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []importjob.Job
	for ref, j := range m.jobs {
		if ref.TenantID == tenantID && ref.IntegrationID == integrationID {
			all = append(all, *j)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	start, _ := strconv.Atoi(cursor)
	end := min(start+limit, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[start:end], next, nil
}

func (m *memStore) UpdateStatus(_ context.Context, ref importjob.Ref, ch importjob.StatusChange) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[ref]
	if !ok || !slices.Contains(ch.From, j.Status) {
		return apperr.New(apperr.Conflict, "condition failed")
	}
	j.Status = ch.To
	if !ch.StartedAt.IsZero() && j.StartedAt.IsZero() {
		j.StartedAt = ch.StartedAt
	}
	if !ch.FinishedAt.IsZero() {
		j.FinishedAt = ch.FinishedAt
	} else if ch.ClearFinished {
		j.FinishedAt = time.Time{}
	}
	return nil
}

func addCounts(c *importjob.Counts, d importjob.Counts) {
	c.Total += d.Total
	c.Created += d.Created
	c.Linked += d.Linked
	c.Updated += d.Updated
	c.Unchanged += d.Unchanged
	c.Skipped += d.Skipped
	c.Failed += d.Failed
	c.Review += d.Review
}

func (m *memStore) Apply(_ context.Context, ref importjob.Ref, ch importjob.Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applies++
	j, ok := m.jobs[ref]
	if !ok {
		return notFound("import job", ref.JobID)
	}
	items := m.items[ref]
	for _, ic := range ch.Items {
		cur, exists := items[ic.Item.Key]
		if (ic.From == "" && exists) || (ic.From != "" && (!exists || cur.Status != ic.From)) {
			return apperr.New(apperr.Conflict, "item %s condition failed", ic.Item.Key)
		}
	}
	orgs := m.orgs[ref]
	if o := ch.Org; o != nil {
		cur, exists := orgs[o.OrgID]
		if (o.From == "" && exists) || (o.From != "" && (!exists || cur.State != o.From)) {
			return apperr.New(apperr.Conflict, "organization %s condition failed", o.OrgID)
		}
	}
	if items == nil {
		items = map[string]importjob.Item{}
		m.items[ref] = items
	}
	for _, ic := range ch.Items {
		if ic.Delete {
			delete(items, ic.Item.Key)
		} else {
			items[ic.Item.Key] = ic.Item
		}
	}
	if o := ch.Org; o != nil {
		if orgs == nil {
			orgs = map[string]importjob.OrgRecord{}
			m.orgs[ref] = orgs
		}
		orgs[o.OrgID] = importjob.OrgRecord{OrgID: o.OrgID, State: o.To, Devices: o.Devices}
	}
	addCounts(&j.Counts, ch.Delta)
	j.OrgsDone += ch.OrgsDone
	j.Rev++
	j.ProgressAt = time.Now().UTC()
	return nil
}

func (m *memStore) GetItem(_ context.Context, ref importjob.Ref, key string) (importjob.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[ref][key]
	if !ok {
		return importjob.Item{}, notFound("import item", key)
	}
	return it, nil
}

func (m *memStore) sortedItems(ref importjob.Ref, keep func(importjob.Item) bool) []importjob.Item {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []importjob.Item
	for _, it := range m.items[ref] {
		if keep(it) {
			out = append(out, it)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func (m *memStore) ListItems(_ context.Context, ref importjob.Ref, status importjob.Outcome, limit int, cursor string) ([]importjob.Item, string, error) {
	all := m.sortedItems(ref, func(it importjob.Item) bool { return it.Status == status && it.Key > cursor })
	if len(all) > limit {
		return all[:limit], all[limit-1].Key, nil
	}
	return all, "", nil
}

func (m *memStore) PageItems(_ context.Context, ref importjob.Ref, limit int, cursor string) ([]importjob.Item, string, error) {
	all := m.sortedItems(ref, func(it importjob.Item) bool { return it.Key > cursor })
	if len(all) > limit {
		return all[:limit], all[limit-1].Key, nil
	}
	return all, "", nil
}

func (m *memStore) SaveReconcileProgress(_ context.Context, ref importjob.Ref, p importjob.ReconcileProgress) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[ref]
	if !ok || j.Rev != p.Rev || (j.Status != importjob.StatusQueued && j.Status != importjob.StatusRunning) {
		return apperr.New(apperr.Conflict, "condition failed")
	}
	j.Reconciling = &p
	return nil
}

func (m *memStore) PreviewItems(_ context.Context, ref importjob.Ref) ([]importjob.Item, error) {
	return m.sortedItems(ref, func(importjob.Item) bool { return true }), nil
}

func (m *memStore) GetOrg(_ context.Context, ref importjob.Ref, orgID string) (importjob.OrgRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o, ok := m.orgs[ref][orgID]; ok {
		return o, nil
	}
	return importjob.OrgRecord{OrgID: orgID}, nil
}

func (m *memStore) ListOrgs(_ context.Context, ref importjob.Ref) ([]importjob.OrgRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []importjob.OrgRecord
	for _, o := range m.orgs[ref] {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrgID < out[j].OrgID })
	return out, nil
}

func (m *memStore) Reconcile(_ context.Context, ref importjob.Ref, rev int64, t importjob.Tally, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[ref]
	if !ok || j.Rev != rev || (j.Status != importjob.StatusQueued && j.Status != importjob.StatusRunning) {
		return apperr.New(apperr.Conflict, "condition failed")
	}
	j.Counts, j.OrgsDone, j.CheckedAt, j.Reconciling = t.Counts, t.OrgsDone, at, nil
	j.Rev++
	return nil
}

// statuses returns every item's status by key.
func (m *memStore) statuses(ref importjob.Ref) map[string]importjob.Outcome {
	out := map[string]importjob.Outcome{}
	for _, it := range m.sortedItems(ref, func(importjob.Item) bool { return true }) {
		out[it.Key] = it.Status
	}
	return out
}

// memMappings is an in-memory account.Store.
type memMappings struct {
	mu     sync.Mutex
	m      map[string]account.Mapping
	writes int
}

var _ account.Store = (*memMappings)(nil)

func newMemMappings(ms ...account.Mapping) *memMappings {
	s := &memMappings{m: map[string]account.Mapping{}}
	for _, x := range ms {
		x.State = account.StateMapped
		s.m[x.OrganizationID] = x
	}
	return s
}

func (s *memMappings) GetMapping(_ context.Context, _ tenancy.Scope, orgID string) (account.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.m[orgID]
	if !ok {
		return account.Mapping{}, notFound("mapping for organization", orgID)
	}
	return m, nil
}

func (s *memMappings) ListMappings(context.Context, tenancy.Scope) ([]account.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []account.Mapping
	for _, m := range s.m {
		out = append(out, m)
	}
	return out, nil
}

func (s *memMappings) MappingsByAccount(_ context.Context, _ tenancy.Scope, accountID string) ([]account.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []account.Mapping
	for _, m := range s.m {
		if m.AccountID == accountID {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *memMappings) Claim(_ context.Context, _ tenancy.Scope, m account.Mapping, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.m[m.OrganizationID]; ok && !(cur.State == account.StateClaimed && cur.LeaseUntil.Before(now)) {
		return apperr.New(apperr.Conflict, "claimed")
	}
	s.writes++
	s.m[m.OrganizationID] = m
	return nil
}

func (s *memMappings) PutMapping(_ context.Context, _ tenancy.Scope, m account.Mapping, owner string, _ account.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[m.OrganizationID]
	if owner != "" && (!ok || cur.State != account.StateClaimed || cur.LeaseOwner != owner) {
		return apperr.New(apperr.Conflict, "claim lost")
	}
	s.writes++
	s.m[m.OrganizationID] = m
	return nil
}

func (s *memMappings) DeleteMapping(_ context.Context, _ tenancy.Scope, orgID string, _ account.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	delete(s.m, orgID)
	return nil
}

func (s *memMappings) writeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// fakeRMM is the shared in-memory RMM's client (shared/rmm/rmmfake); the
// imports use organizations and devices only (anything else answers
// NotImplemented).
type fakeRMM = rmmfake.Client

// rmmSetup is what a test's RMM holds: organizations, their devices (in
// order), the device page size (default 10) and, when set, the error
// every ListDevices answers.
type rmmSetup struct {
	orgs       []rmm.Organization
	devices    map[string][]rmm.Device
	pageSize   int
	devicesErr error
}

func newFakeRMM(s rmmSetup) *fakeRMM {
	r := rmmfake.New(rmmfake.PageSize(s.pageSize), rmmfake.Only("ListOrganizations", "GetOrganization", "ListDevices"))
	r.AddOrganizations(s.orgs...)
	for _, o := range s.orgs {
		for _, d := range s.devices[o.ID] {
			r.PutDevice(d)
		}
	}
	if s.devicesErr != nil {
		r.Fail("ListDevices", -1, s.devicesErr)
	}
	return r.Client()
}

// putDevices adds devices to the RMM, in order.
func putDevices(r *fakeRMM, lists ...[]rmm.Device) {
	for _, ds := range lists {
		for _, d := range ds {
			r.Fake().PutDevice(d)
		}
	}
}

// devicesIn counts an organization's devices.
func devicesIn(r *fakeRMM, orgID string) int {
	n := 0
	for _, d := range r.Fake().Devices() {
		if d.OrganizationID == orgID {
			n++
		}
	}
	return n
}

func devicesOf(orgID string, n int) []rmm.Device {
	out := make([]rmm.Device, n)
	for i := range out {
		out[i] = rmm.Device{ID: fmt.Sprintf("%s-d%03d", orgID, i), OrganizationID: orgID, Name: fmt.Sprintf("pc-%d", i)}
	}
	return out
}

// fakePSA is the shared in-memory PSA's client (shared/psa/psafake):
// accounts with our reference and locations (anything else answers
// NotImplemented); ids count from 900, locations are "L<n>".
type fakePSA = psafake.Client

func newFakePSA(accts ...psa.Account) *fakePSA {
	f := psafake.New(psafake.FirstID(900), psafake.Only("SearchAccounts", "GetAccount", "CreateAccount",
		"FindAccountsByExternalRef", "ListLocations", "CreateLocation"))
	f.AddAccounts(accts...)
	return f.Client()
}

// psaWrites counts the accounts and locations created in the PSA.
func psaWrites(p *fakePSA) int {
	return p.Fake().Calls("CreateAccount") + p.Fake().Calls("CreateLocation")
}

// fakeOpener opens one integration.
type fakeOpener struct {
	integrationID string
	rmm           *fakeRMM
	psa           *fakePSA
}

func (o *fakeOpener) Open(_ context.Context, _, integrationID string) (importjob.Clients, error) {
	if integrationID != o.integrationID {
		return importjob.Clients{}, apperr.New(apperr.NotFound, "no integration %s", integrationID)
	}
	return importjob.Clients{Integration: connection.Integration{ID: integrationID}, RMM: o.rmm, PSA: o.psa}, nil
}

// fakeSender records what it is asked to send.
type fakeSender struct {
	mu    sync.Mutex
	sent  map[string][]importjob.Message
	calls int
	err   error
}

func newFakeSender() *fakeSender { return &fakeSender{sent: map[string][]importjob.Message{}} }

func (s *fakeSender) SendBatch(_ context.Context, queueURL string, msgs []importjob.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return s.err
	}
	s.sent[queueURL] = append(s.sent[queueURL], msgs...)
	return nil
}

func (s *fakeSender) take(queueURL string) []importjob.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sent[queueURL]
	delete(s.sent, queueURL)
	return out
}

// fakeVisibility records visibility changes.
type fakeVisibility struct {
	mu      sync.Mutex
	changes []string
}

func (v *fakeVisibility) ChangeVisibility(_ context.Context, queueURL, receipt string, timeout time.Duration) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.changes = append(v.changes, fmt.Sprintf("%s %s %s", queueURL, receipt, timeout))
	return nil
}

// Send records a re-sent message (a hand-back near the receive limit).
func (v *fakeVisibility) Send(_ context.Context, queueURL string, m sqsqueue.Message) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.changes = append(v.changes, fmt.Sprintf("%s send %s", queueURL, m.Body))
	return nil
}

// Delete records the deletion of a re-sent message's received copy.
func (v *fakeVisibility) Delete(_ context.Context, queueURL, receipt string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.changes = append(v.changes, fmt.Sprintf("%s delete %s", queueURL, receipt))
	return nil
}

const (
	tenant      = "t1"
	integration = "i1"
	importQ     = "https://sqs.test/123/import"
	assetQ      = "https://sqs.test/123/asset"
)

var queues = importjob.Queues{Import: importQ, Asset: assetQ}

// sqsEvent builds an ImportQueue batch of the messages' bodies, each
// received the given number of times.
func sqsEvent(t *testing.T, receives int, bodies ...importjob.Message) events.SQSEvent {
	t.Helper()
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:      fmt.Sprintf("m-%d", i),
			ReceiptHandle:  fmt.Sprintf("rh-%d", i),
			Body:           b.Body,
			Attributes:     map[string]string{"ApproximateReceiveCount": strconv.Itoa(receives)},
			EventSource:    "aws:sqs",
			EventSourceARN: "arn:aws:sqs:us-east-1:123:import",
		})
	}
	return ev
}

func orgMsg(t *testing.T, jobID string, kind importjob.Kind, orgID string) importjob.Message {
	t.Helper()
	b, err := json.Marshal(importjob.OrgMessage{TenantID: tenant, IntegrationID: integration, JobID: jobID, Kind: kind, OrganizationID: orgID})
	if err != nil {
		t.Fatal(err)
	}
	return importjob.Message{Body: string(b), GroupID: tenant}
}

func failedIDs(resp events.SQSEventResponse) []string {
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}
