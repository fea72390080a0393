package scheduler

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmfake"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// world is an in-memory PSA, RMM, mapping store and scheduler store for
// the run logic's tests. The account service running on it is the real
// one, so provisioning adopts and refuses as it does in production.
type world struct {
	mu  sync.Mutex
	now time.Time

	// PSA (the shared fake): accounts with their creation time; here the
	// windows listed, a listing failure and a hook before each listing.
	psa        *psafake.PSA
	sinces     []time.Time
	listErr    error
	beforeList func()

	// RMM (the shared fake): organizations; here per-name failures and a
	// hook before each create.
	rmm        *rmmfake.RMM
	createErr  map[string]error
	beforeCrea func(name string)

	// Mappings by integration and organization id, and the audit trail.
	maps  map[string]account.Mapping
	audit []account.AuditEvent

	// Scheduler store: the work list and watermarks.
	work  []connection.Integration
	marks map[string]*mark
}

type mark struct {
	last  time.Time
	owner string
	until time.Time
}

func newWorld(now time.Time) *world {
	return &world{now: now, maps: map[string]account.Mapping{}, marks: map[string]*mark{}, createErr: map[string]error{},
		// The scheduler never searches, creates accounts or locations in
		// the PSA: those calls answer NotImplemented.
		psa: psafake.New(psafake.FirstID(99), psafake.Unsupported("SearchAccounts", "CreateAccount", "CreateLocation")),
		rmm: rmmfake.New(rmmfake.FirstID(899))}
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

// addAccount creates a PSA account (ids from 100) with a location Main
// at the current time plus offset.
func (w *world) addAccount(name string, offset time.Duration) psa.Account {
	a := w.psa.AddAccount(psafake.Account{Account: psa.Account{Name: name}, Created: w.clock().Add(offset)})
	w.psa.AddLocation(psa.Location{ID: "L" + a.ID, AccountID: a.ID, Name: "Main"})
	return a
}

// addOrg adds an RMM organization (ids from 900, shared with the ones
// provisioning creates).
func (w *world) addOrg(name string) rmm.Organization {
	return w.rmm.AddOrganization(rmm.Organization{Name: name})
}

// creates counts the organizations provisioning created.
func (w *world) creates() int { return len(w.rmm.CreatedOrganizations()) }

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
	for _, o := range w.rmm.Organizations() {
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

// --- PSA and RMM: the shared fakes, with the world's hooks

// fakePSA records the windows listed and runs the world's listing hook
// and failure around the shared fake's AccountsCreatedSince.
type fakePSA struct {
	*psafake.Client
	w *world
}

var (
	_ account.PSA        = fakePSA{}
	_ psa.RecentAccounts = fakePSA{}
)

func (w *world) psaClient() fakePSA { return fakePSA{Client: w.psa.Client(), w: w} }

func (p fakePSA) AccountsCreatedSince(ctx context.Context, since time.Time) ([]psa.Account, error) {
	p.w.mu.Lock()
	hook := p.w.beforeList
	p.w.mu.Unlock()
	if hook != nil {
		hook()
	}
	p.w.mu.Lock()
	p.w.sinces = append(p.w.sinces, since)
	listErr := p.w.listErr
	p.w.mu.Unlock()
	if listErr != nil {
		return nil, listErr
	}
	return p.Client.AccountsCreatedSince(ctx, since)
}

// fakeRMM runs the world's create hook and per-name failures around the
// shared fake's CreateOrganization.
type fakeRMM struct {
	*rmmfake.Client
	w *world
}

var _ account.RMM = fakeRMM{}

func (w *world) rmmClient() fakeRMM { return fakeRMM{Client: w.rmm.Client(), w: w} }

func (r fakeRMM) CreateOrganization(ctx context.Context, n rmm.NewOrganization) (rmm.Organization, error) {
	r.w.mu.Lock()
	hook := r.w.beforeCrea
	r.w.mu.Unlock()
	if hook != nil {
		hook(n.Name)
	}
	r.w.mu.Lock()
	err := r.w.createErr[n.Name]
	r.w.mu.Unlock()
	if err != nil {
		return rmm.Organization{}, err
	}
	return r.Client.CreateOrganization(ctx, n)
}
