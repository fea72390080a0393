package scheduler

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// world is an in-memory PSA, RMM, mapping store and scheduler store for
// the run logic's tests. The account service running on it is the real
// one, so provisioning adopts and refuses as it does in production.
type world struct {
	mu  sync.Mutex
	now time.Time

	// PSA: accounts with their creation time, and the windows listed.
	accounts   []fakeAccount
	sinces     []time.Time
	listErr    error
	beforeList func()

	// RMM: organizations, and per-name failures and hooks on create.
	orgs       []rmm.Organization
	creates    int
	createErr  map[string]error
	beforeCrea func(name string)

	// Mappings by integration and organization id, and the audit trail.
	maps  map[string]account.Mapping
	audit []account.AuditEvent

	// Scheduler store: the work list and watermarks.
	work  []connection.Integration
	marks map[string]*mark
}

type fakeAccount struct {
	psa.Account
	created time.Time
}

type mark struct {
	last  time.Time
	owner string
	until time.Time
}

func newWorld(now time.Time) *world {
	return &world{now: now, maps: map[string]account.Mapping{}, marks: map[string]*mark{}, createErr: map[string]error{}}
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

// addAccount creates a PSA account at the current time plus offset.
func (w *world) addAccount(name string, offset time.Duration) psa.Account {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := psa.Account{ID: strconv.Itoa(100 + len(w.accounts)), Name: name}
	w.accounts = append(w.accounts, fakeAccount{Account: a, created: w.now.Add(offset)})
	return a
}

func (w *world) addOrg(name string) rmm.Organization {
	w.mu.Lock()
	defer w.mu.Unlock()
	o := rmm.Organization{ID: strconv.Itoa(900 + len(w.orgs)), Name: name}
	w.orgs = append(w.orgs, o)
	return o
}

// mappedOrgs returns organization name → account id of every mapping.
func (w *world) mappedOrgs() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	for _, m := range w.maps {
		if m.State == account.StateMapped {
			out[m.OrganizationName] = m.AccountID
		}
	}
	return out
}

func (w *world) orgNames() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, o := range w.orgs {
		out = append(out, o.Name)
	}
	sort.Strings(out)
	return out
}

func (w *world) watermark(integrationID string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if m := w.marks[integrationID]; m != nil {
		return m.last
	}
	return time.Time{}
}

func (w *world) listedSinces() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.sinces...)
}

// --- scheduler.Store

func (w *world) IntegrationsToProvision(context.Context) ([]connection.Integration, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []connection.Integration
	for _, ig := range w.work {
		if ig.Settings.ProvisionRmmOrgs {
			out = append(out, ig)
		}
	}
	return out, nil
}

func (w *world) ClaimProvisionRun(_ context.Context, _, integrationID, owner string, now, until time.Time) (time.Time, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.marks[integrationID]
	if m == nil {
		m = &mark{}
		w.marks[integrationID] = m
	}
	if m.owner != "" && !m.until.Before(now) {
		return time.Time{}, apperr.New(apperr.Conflict, "condition failed")
	}
	m.owner, m.until = owner, until
	return m.last, nil
}

func (w *world) FinishProvisionRun(_ context.Context, _, integrationID, owner string, prev, next time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.marks[integrationID]
	if m == nil || m.owner != owner || !m.last.Equal(prev) {
		return apperr.New(apperr.Conflict, "condition failed")
	}
	m.owner, m.until = "", time.Time{}
	if !next.IsZero() {
		m.last = next
	}
	return nil
}

// --- account.Store

func mapKey(sc tenancy.Scope, orgID string) string { return sc.IntegrationID + "/" + orgID }

func (w *world) GetMapping(_ context.Context, sc tenancy.Scope, orgID string) (account.Mapping, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.maps[mapKey(sc, orgID)]
	if !ok {
		return account.Mapping{}, apperr.New(apperr.NotFound, "no mapping for organization %s", orgID)
	}
	return m, nil
}

func (w *world) ListMappings(_ context.Context, sc tenancy.Scope) ([]account.Mapping, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []account.Mapping
	for _, m := range w.maps {
		if m.IntegrationID == sc.IntegrationID {
			out = append(out, m)
		}
	}
	return out, nil
}

func (w *world) MappingsByAccount(_ context.Context, sc tenancy.Scope, accountID string) ([]account.Mapping, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []account.Mapping
	for _, m := range w.maps {
		if m.IntegrationID == sc.IntegrationID && m.AccountID == accountID {
			out = append(out, m)
		}
	}
	return out, nil
}

func (w *world) Claim(_ context.Context, sc tenancy.Scope, m account.Mapping, _ time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.maps[mapKey(sc, m.OrganizationID)]; ok {
		return apperr.New(apperr.Conflict, "condition failed")
	}
	m.TenantID, m.IntegrationID = sc.TenantID, sc.IntegrationID
	w.maps[mapKey(sc, m.OrganizationID)] = m
	return nil
}

func (w *world) PutMapping(_ context.Context, sc tenancy.Scope, m account.Mapping, _ string, e account.AuditEvent) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	m.TenantID, m.IntegrationID = sc.TenantID, sc.IntegrationID
	w.maps[mapKey(sc, m.OrganizationID)] = m
	w.audit = append(w.audit, e)
	return nil
}

func (w *world) DeleteMapping(_ context.Context, sc tenancy.Scope, orgID string, e account.AuditEvent) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.maps, mapKey(sc, orgID))
	w.audit = append(w.audit, e)
	return nil
}

// --- PSA

type fakePSA struct{ w *world }

var (
	_ account.PSA        = fakePSA{}
	_ psa.RecentAccounts = fakePSA{}
)

func (p fakePSA) AccountsCreatedSince(_ context.Context, since time.Time) ([]psa.Account, error) {
	p.w.mu.Lock()
	hook := p.w.beforeList
	p.w.mu.Unlock()
	if hook != nil {
		hook()
	}
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	p.w.sinces = append(p.w.sinces, since)
	if p.w.listErr != nil {
		return nil, p.w.listErr
	}
	var out []psa.Account
	for _, a := range p.w.accounts {
		if a.created.After(since) {
			out = append(out, a.Account)
		}
	}
	return out, nil
}

func (p fakePSA) GetAccount(_ context.Context, id string) (psa.Account, error) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	for _, a := range p.w.accounts {
		if a.ID == id {
			return a.Account, nil
		}
	}
	return psa.Account{}, apperr.New(apperr.NotFound, "no account %s", id)
}

func (p fakePSA) ListLocations(_ context.Context, accountID string) ([]psa.Location, error) {
	return []psa.Location{{ID: "L" + accountID, AccountID: accountID, Name: "Main"}}, nil
}

func (p fakePSA) SearchAccounts(context.Context, psa.AccountQuery) (psa.Page[psa.Account], error) {
	return psa.Page[psa.Account]{}, apperr.New(apperr.NotImplemented, "not in this fake")
}

func (p fakePSA) CreateAccount(context.Context, psa.NewAccount) (psa.Account, error) {
	return psa.Account{}, apperr.New(apperr.NotImplemented, "the scheduler never creates PSA accounts")
}

func (p fakePSA) CreateLocation(context.Context, string, psa.NewLocation) (psa.Location, error) {
	return psa.Location{}, apperr.New(apperr.NotImplemented, "the scheduler never creates PSA locations")
}

func (p fakePSA) FindAccountsByExternalRef(context.Context, string) ([]psa.Account, error) {
	return nil, nil
}

// --- RMM

type fakeRMM struct{ w *world }

var _ account.RMM = fakeRMM{}

func (r fakeRMM) ListOrganizations(context.Context) ([]rmm.Organization, error) {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	return append([]rmm.Organization(nil), r.w.orgs...), nil
}

func (r fakeRMM) GetOrganization(_ context.Context, id string) (rmm.Organization, error) {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	for _, o := range r.w.orgs {
		if o.ID == id {
			return o, nil
		}
	}
	return rmm.Organization{}, apperr.New(apperr.NotFound, "no organization %s", id)
}

func (r fakeRMM) CreateOrganization(_ context.Context, n rmm.NewOrganization) (rmm.Organization, error) {
	r.w.mu.Lock()
	hook := r.w.beforeCrea
	r.w.mu.Unlock()
	if hook != nil {
		hook(n.Name)
	}
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	if err := r.w.createErr[n.Name]; err != nil {
		return rmm.Organization{}, err
	}
	r.w.creates++
	o := rmm.Organization{ID: strconv.Itoa(900 + len(r.w.orgs)), Name: n.Name}
	for i, s := range n.Sites {
		o.Sites = append(o.Sites, rmm.Site{ID: fmt.Sprintf("%s-%d", o.ID, i), OrganizationID: o.ID, Name: s})
	}
	r.w.orgs = append(r.w.orgs, o)
	return o, nil
}
