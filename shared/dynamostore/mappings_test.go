package dynamostore

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmfake"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// memPSA is the shared in-memory PSA's client (shared/psa/psafake);
// accounts it creates are 101, 102, ... unless opts say otherwise (the
// end-to-end test runs the same race against the sandbox).
type memPSA = psafake.Client

func newMemPSA(opts ...psafake.Option) *memPSA {
	return psafake.New(append([]psafake.Option{psafake.FirstID(100)}, opts...)...).Client()
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
	if got := p.Fake().Calls("CreateAccount"); got != 1 {
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
	p.Fake().FailAfter("CreateAccount", 1, apperr.New(apperr.Unavailable, "worker died after the PSA create"))
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
	if p.Fake().Calls("CreateAccount") != 1 || m.AccountID != "101" || !created {
		t.Errorf("after the lease: account %s, creates %d, created %v; want the crashed create (101) adopted, 1 create", m.AccountID, p.Fake().Calls("CreateAccount"), created)
	}
}

func TestMapSitesAndUnmap(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	repo := NewMappings(s)
	svc := account.NewService(repo, account.Options{})
	p := newMemPSA(psafake.FirstID(2)) // the next location is L3
	p.Fake().AddAccounts(psa.Account{ID: "7", Name: "ACME Inc"})
	p.Fake().AddLocation(psa.Location{ID: "L1", AccountID: "7", Name: "main office"})
	p.Fake().AddLocation(psa.Location{ID: "L2", AccountID: "7", Name: "Branch"})
	r := newFakeRMM(testOrg)
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

// newFakeRMM is the shared in-memory RMM's client (shared/rmm/rmmfake)
// holding org; it creates no organization.
func newFakeRMM(org rmm.Organization) *rmmfake.Client {
	r := rmmfake.New(rmmfake.Unsupported("CreateOrganization"))
	r.AddOrganization(org)
	return r.Client()
}
