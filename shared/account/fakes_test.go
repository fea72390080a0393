package account_test

import (
	"context"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmfake"
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

// fakePSA is the shared in-memory PSA's client (shared/psa/psafake):
// accounts with our reference, locations, names searched by substring as
// the vendors do, every write counted. Ids count from 900; locations are
// "L<n>".
type fakePSA = psafake.Client

var _ account.PSA = (*fakePSA)(nil)

func newFakePSA(accts ...psa.Account) *fakePSA {
	f := psafake.New(psafake.FirstID(900))
	f.AddAccounts(accts...)
	return f.Client()
}

// psaWrites is every account and location created.
func psaWrites(p *fakePSA) (accounts []psa.NewAccount, locations int) {
	return p.Fake().CreatedAccounts(), p.Fake().Calls("CreateLocation")
}

// fakeRMM is the shared in-memory RMM's client (shared/rmm/rmmfake);
// organizations it creates get ids from 701.
type fakeRMM = rmmfake.Client

var _ account.RMM = (*fakeRMM)(nil)

func newFakeRMM(orgs ...rmm.Organization) *fakeRMM {
	r := rmmfake.New(rmmfake.FirstID(700))
	r.AddOrganizations(orgs...)
	return r.Client()
}

// createdOrgs names the organizations the RMM was asked to create.
func createdOrgs(r *fakeRMM) []string {
	var out []string
	for _, o := range r.Fake().CreatedOrganizations() {
		out = append(out, o.Name)
	}
	return out
}
