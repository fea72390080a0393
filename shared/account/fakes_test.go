package account_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// memStore is an in-memory account.Store with the same conditions as the
// DynamoDB one: a claim only over nothing or an expired claim, an owned
// write only while the owner's claim stands.
type memStore struct {
	mu     sync.Mutex
	m      map[string]account.Mapping
	writes int
}

var _ account.Store = (*memStore)(nil)

func newMemStore(ms ...account.Mapping) *memStore {
	s := &memStore{m: map[string]account.Mapping{}}
	for _, x := range ms {
		if x.State == "" {
			x.State = account.StateMapped
		}
		s.m[x.OrganizationID] = x
	}
	return s
}

func (s *memStore) GetMapping(_ context.Context, _ tenancy.Scope, orgID string) (account.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.m[orgID]
	if !ok {
		return account.Mapping{}, apperr.New(apperr.NotFound, "no mapping for organization %s", orgID)
	}
	return m, nil
}

func (s *memStore) ListMappings(context.Context, tenancy.Scope) ([]account.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []account.Mapping
	for _, m := range s.m {
		out = append(out, m)
	}
	return out, nil
}

func (s *memStore) MappingsByAccount(_ context.Context, _ tenancy.Scope, accountID string) ([]account.Mapping, error) {
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

func (s *memStore) Claim(_ context.Context, _ tenancy.Scope, m account.Mapping, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.m[m.OrganizationID]; ok && !(cur.State == account.StateClaimed && cur.LeaseUntil.Before(now)) {
		return apperr.New(apperr.Conflict, "organization %s is claimed or mapped", m.OrganizationID)
	}
	s.writes++
	s.m[m.OrganizationID] = m
	return nil
}

func (s *memStore) PutMapping(_ context.Context, _ tenancy.Scope, m account.Mapping, owner string, _ account.AuditEvent) error {
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

func (s *memStore) DeleteMapping(_ context.Context, _ tenancy.Scope, orgID string, _ account.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	delete(s.m, orgID)
	return nil
}

func (s *memStore) get(orgID string) (account.Mapping, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.m[orgID]
	return m, ok
}

func (s *memStore) writeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// fakePSA holds accounts (with our reference) and locations, searches
// names by substring as the vendors do, and counts its writes.
type fakePSA struct {
	mu       sync.Mutex
	accounts []psa.Account
	refs     map[string]string // account id → external reference
	locs     map[string][]psa.Location
	created  []psa.NewAccount
	locWrite int
	searches int
	nextID   int
	// slow, when set, delays each create (widening race windows).
	slow time.Duration
}

var _ account.PSA = (*fakePSA)(nil)

func newFakePSA(accts ...psa.Account) *fakePSA {
	return &fakePSA{accounts: accts, refs: map[string]string{}, locs: map[string][]psa.Location{}, nextID: 900}
}

func (f *fakePSA) SearchAccounts(_ context.Context, q psa.AccountQuery) (psa.Page[psa.Account], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.searches++
	out := psa.Page[psa.Account]{Items: []psa.Account{}}
	for _, a := range f.accounts {
		if strings.Contains(strings.ToLower(a.Name), strings.ToLower(q.Search)) {
			out.Items = append(out.Items, a)
		}
	}
	return out, nil
}

func (f *fakePSA) GetAccount(_ context.Context, id string) (psa.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.accounts {
		if a.ID == id {
			return a, nil
		}
	}
	return psa.Account{}, apperr.New(apperr.NotFound, "no account %s", id)
}

func (f *fakePSA) CreateAccount(_ context.Context, a psa.NewAccount) (psa.Account, error) {
	if f.slow > 0 {
		time.Sleep(f.slow)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	acct := psa.Account{ID: strconv.Itoa(f.nextID), Name: a.Name}
	f.accounts = append(f.accounts, acct)
	f.refs[acct.ID] = a.ExternalRef
	f.created = append(f.created, a)
	return acct, nil
}

func (f *fakePSA) FindAccountsByExternalRef(_ context.Context, ref string) ([]psa.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []psa.Account
	for _, a := range f.accounts {
		if f.refs[a.ID] == ref {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakePSA) ListLocations(_ context.Context, accountID string) ([]psa.Location, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]psa.Location(nil), f.locs[accountID]...), nil
}

func (f *fakePSA) CreateLocation(_ context.Context, accountID string, l psa.NewLocation) (psa.Location, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.locWrite++
	f.nextID++
	loc := psa.Location{ID: "L" + strconv.Itoa(f.nextID), AccountID: accountID, Name: l.Name}
	f.locs[accountID] = append(f.locs[accountID], loc)
	return loc, nil
}

// writes is every account and location created.
func (f *fakePSA) writes() (accounts []psa.NewAccount, locations int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]psa.NewAccount(nil), f.created...), f.locWrite
}

// fakeRMM holds organizations and counts creates.
type fakeRMM struct {
	mu      sync.Mutex
	orgs    []rmm.Organization
	creates []string
}

var _ account.RMM = (*fakeRMM)(nil)

func (r *fakeRMM) ListOrganizations(context.Context) ([]rmm.Organization, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rmm.Organization(nil), r.orgs...), nil
}

func (r *fakeRMM) GetOrganization(_ context.Context, id string) (rmm.Organization, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.orgs {
		if o.ID == id {
			return o, nil
		}
	}
	return rmm.Organization{}, apperr.New(apperr.NotFound, "no organization %s", id)
}

func (r *fakeRMM) CreateOrganization(_ context.Context, n rmm.NewOrganization) (rmm.Organization, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := rmm.Organization{ID: strconv.Itoa(700 + len(r.orgs)), Name: n.Name}
	for i, s := range n.Sites {
		o.Sites = append(o.Sites, rmm.Site{ID: o.ID + "-" + strconv.Itoa(i), OrganizationID: o.ID, Name: s})
	}
	r.orgs = append(r.orgs, o)
	r.creates = append(r.creates, n.Name)
	return o, nil
}
