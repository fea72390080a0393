package dynamostore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// memPSA is an in-memory stand-in for the PSA's account calls, counting
// creates (the end-to-end test runs the same race against the sandbox).
type memPSA struct {
	mu      sync.Mutex
	accts   []psa.Account
	refs    map[string]string // account id → external ref
	creates atomic.Int64
	locs    map[string][]psa.Location
	// crashAfterCreate makes the next create "crash" after the PSA write.
	crashAfterCreate bool
}

func newMemPSA() *memPSA {
	return &memPSA{refs: map[string]string{}, locs: map[string][]psa.Location{}}
}

func (m *memPSA) SearchAccounts(context.Context, psa.AccountQuery) (psa.Page[psa.Account], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return psa.Page[psa.Account]{Items: append([]psa.Account{}, m.accts...)}, nil
}

func (m *memPSA) GetAccount(_ context.Context, id string) (psa.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.accts {
		if a.ID == id {
			return a, nil
		}
	}
	return psa.Account{}, apperr.New(apperr.NotFound, "no account %s", id)
}

func (m *memPSA) CreateAccount(_ context.Context, a psa.NewAccount) (psa.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.creates.Add(1)
	acct := psa.Account{ID: fmt.Sprint(100 + n), Name: a.Name}
	m.accts = append(m.accts, acct)
	m.refs[acct.ID] = a.ExternalRef
	if m.crashAfterCreate {
		m.crashAfterCreate = false
		return psa.Account{}, apperr.New(apperr.Unavailable, "worker died after the PSA create")
	}
	return acct, nil
}

func (m *memPSA) FindAccountsByExternalRef(_ context.Context, ref string) ([]psa.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []psa.Account
	for _, a := range m.accts {
		if m.refs[a.ID] == ref {
			out = append(out, a)
		}
	}
	return out, nil
}

func (m *memPSA) ListLocations(_ context.Context, accountID string) ([]psa.Location, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]psa.Location{}, m.locs[accountID]...), nil
}

func (m *memPSA) CreateLocation(_ context.Context, accountID string, l psa.NewLocation) (psa.Location, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	loc := psa.Location{ID: fmt.Sprintf("L%d", len(m.locs[accountID])+1), AccountID: accountID, Name: l.Name}
	m.locs[accountID] = append(m.locs[accountID], loc)
	return loc, nil
}

var testOrg = rmm.Organization{ID: "12", Name: "Acme, Inc.", Sites: []rmm.Site{{ID: "s1", Name: "Main Office"}, {ID: "s2", Name: "Warehouse"}}}

func TestEnsureAccountRaceCreatesOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	repo := NewMappings(s)
	svc := account.NewService(repo, account.Options{Poll: 20 * time.Millisecond, Wait: 30 * time.Second})
	p := newMemPSA()
	sc := tenancy.Scope{TenantID: "t_a", IntegrationID: "i_1", Actor: "test"}

	const n = 20
	var wg sync.WaitGroup
	ids := make(chan string, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, _, err := svc.EnsureAccount(ctx, sc, p, testOrg, account.NewAccountSpec{})
			if err != nil {
				errs <- err
				return
			}
			ids <- m.AccountID
		}()
	}
	wg.Wait()
	close(ids)
	close(errs)
	for err := range errs {
		t.Errorf("EnsureAccount: %v", err)
	}
	seen := map[string]int{}
	for id := range ids {
		seen[id]++
	}
	if got := p.creates.Load(); got != 1 {
		t.Errorf("PSA creates = %d, want exactly 1", got)
	}
	if len(seen) != 1 {
		t.Errorf("callers saw accounts %v, want one account for all", seen)
	}
	events, err := repo.AuditEvents(ctx, "t_a", 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Action != "mapping.create" || events[0].After == nil {
		t.Errorf("audit events = %+v, want one mapping.create with an after image", events)
	}
}

func TestEnsureAccountAdoptsAfterACrash(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	svc := account.NewService(NewMappings(s), account.Options{Now: clock, Lease: 30 * time.Second, Wait: time.Millisecond})
	p := newMemPSA()
	p.crashAfterCreate = true
	sc := tenancy.Scope{TenantID: "t_a", IntegrationID: "i_1"}
	if _, _, err := svc.EnsureAccount(ctx, sc, p, testOrg, account.NewAccountSpec{}); err == nil {
		t.Fatal("the crashing create reported success")
	}
	// Within the lease nobody may take over.
	if _, _, err := svc.EnsureAccount(ctx, sc, p, testOrg, account.NewAccountSpec{}); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("during the lease: %v, want Conflict", err)
	}
	now = now.Add(31 * time.Second)
	m, created, err := svc.EnsureAccount(ctx, sc, p, testOrg, account.NewAccountSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if p.creates.Load() != 1 || m.AccountID != "101" || !created {
		t.Errorf("after the lease: account %s, creates %d, created %v; want the crashed create (101) adopted, 1 create", m.AccountID, p.creates.Load(), created)
	}
}

func TestMapSitesAndUnmap(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	repo := NewMappings(s)
	svc := account.NewService(repo, account.Options{})
	p := newMemPSA()
	p.accts = []psa.Account{{ID: "7", Name: "ACME Inc"}}
	p.locs["7"] = []psa.Location{{ID: "L1", AccountID: "7", Name: "main office"}, {ID: "L2", AccountID: "7", Name: "Branch"}}
	r := fakeRMM{org: testOrg}
	sc := tenancy.Scope{TenantID: "t_a", IntegrationID: "i_1", Actor: "key/k1"}

	// Explicit map wins; unlisted sites are matched by normalized name, else created.
	m, err := svc.Map(ctx, sc, r, p, "12", account.MapInput{AccountID: "7", Sites: map[string]string{"s2": "L2"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Sites["s1"] != "L1" || m.Sites["s2"] != "L2" || m.Mode != account.ModeLinked {
		t.Errorf("sites %v mode %s; want s1→L1 (by name), s2→L2 (explicit), linked", m.Sites, m.Mode)
	}
	m, err = svc.Map(ctx, sc, r, p, "12", account.MapInput{AccountID: "7", Sites: map[string]string{"s2": account.SiteCreate}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Sites["s2"] != "L3" {
		t.Errorf(`"create" for s2 gave %q, want the new location L3`, m.Sites["s2"])
	}
	if _, err := svc.Map(ctx, sc, r, p, "12", account.MapInput{AccountID: "7", Sites: map[string]string{"s9": "L1"}}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("unknown site: %v, want Invalid", err)
	}
	if _, err := svc.Map(ctx, sc, r, p, "12", account.MapInput{AccountID: "7", Sites: map[string]string{"s1": "L99"}}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("unknown location: %v, want Invalid", err)
	}
	if _, err := svc.Map(ctx, sc, r, p, "12", account.MapInput{AccountID: "nope"}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("unknown account: %v, want Invalid", err)
	}
	byAcct, err := repo.MappingsByAccount(ctx, sc, "7")
	if err != nil || len(byAcct) != 1 {
		t.Errorf("MappingsByAccount = %v, %v; want the one mapping", byAcct, err)
	}
	if err := svc.Unmap(ctx, sc, "12"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, sc, "12"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("after unmap: %v, want NotFound", err)
	}
	if err := svc.Unmap(ctx, sc, "12"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("unmap twice: %v, want NotFound", err)
	}
	events, _ := repo.AuditEvents(ctx, "t_a", 50)
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); got != "mapping.delete,mapping.link,mapping.link" {
		t.Errorf("audit actions (newest first) = %s", got)
	}
	if events[0].Before == nil || events[0].After != nil || events[0].Actor != "key/k1" {
		t.Errorf("delete event = %+v, want before image, no after, actor key/k1", events[0])
	}
}

type fakeRMM struct{ org rmm.Organization }

func (f fakeRMM) ListOrganizations(context.Context) ([]rmm.Organization, error) {
	return []rmm.Organization{f.org}, nil
}

func (f fakeRMM) GetOrganization(_ context.Context, id string) (rmm.Organization, error) {
	if id != f.org.ID {
		return rmm.Organization{}, apperr.New(apperr.NotFound, "no organization %s", id)
	}
	return f.org, nil
}

func (f fakeRMM) CreateOrganization(context.Context, rmm.NewOrganization) (rmm.Organization, error) {
	return rmm.Organization{}, apperr.New(apperr.NotImplemented, "not in this test")
}
