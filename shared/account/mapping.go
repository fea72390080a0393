package account

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/lease"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Mapping modes.
const (
	ModeLinked  = "linked"  // mapped to an account that existed
	ModeCreated = "created" // rmmbridge created the account
)

// Mapping states: a claim is held while an account is being created for
// the organization; mapped is final.
const (
	StateClaimed = "claimed"
	StateMapped  = "mapped"
)

// Mapping links an RMM organization to a PSA account, and its sites to
// the account's locations.
type Mapping struct {
	TenantID       string
	IntegrationID  string
	OrganizationID string
	// OrganizationName is the RMM name when the mapping was written.
	OrganizationName string
	AccountID        string
	AccountName      string
	Mode             string
	Sites            map[string]string // RMM site id → PSA location id
	State            string
	LeaseOwner       string
	LeaseUntil       time.Time
	UpdatedAt        time.Time
}

// Scope is tenancy.Scope under its old name.
//
// Deprecated: use tenancy.Scope; this alias only keeps code written
// against the old name compiling until it is merged and moved.
type Scope = tenancy.Scope

// PSA is what the account service needs of the PSA.
type PSA interface {
	psa.AccountSearcher
	psa.AccountGetter
	psa.AccountCreator
	psa.LocationLister
	psa.LocationCreator
	// FindAccountsByExternalRef returns the accounts carrying our
	// reference (the RMM organization id): how a create that crashed
	// before it was recorded is found and adopted instead of repeated.
	FindAccountsByExternalRef(ctx context.Context, ref string) ([]psa.Account, error)
}

// PSAOf returns a PSA client as the account service's PSA. Its
// FindAccountsByExternalRef is the vendor's when the connection has
// accounts.findByRef, and otherwise answers that capability's 422: linking
// an organization to an account and provisioning one never look accounts
// up by reference, so they work with any PSA; creating an account and
// the account decision ask for the capability first.
func PSAOf(p psa.Client) PSA {
	if f, err := vendorspec.Require[PSA](p, vendorspec.AccountsFindByRef, "finding accounts by rmmbridge's reference"); err == nil {
		return f
	}
	return withoutRefs{p}
}

// withoutRefs is a PSA whose connection cannot find accounts by our
// reference.
type withoutRefs struct{ psa.Client }

func (w withoutRefs) FindAccountsByExternalRef(context.Context, string) ([]psa.Account, error) {
	_, err := vendorspec.Require[PSA](w.Client, vendorspec.AccountsFindByRef, "finding accounts by rmmbridge's reference")
	if err == nil {
		err = apperr.New(apperr.Internal, "the PSA client lost its accounts.findByRef capability")
	}
	return nil, err
}

// RMM is what the account service needs of the RMM.
type RMM interface {
	rmm.OrganizationLister
	rmm.OrganizationGetter
	rmm.OrganizationCreator
}

// Store persists mappings and the audit trail.
type Store interface {
	GetMapping(ctx context.Context, sc tenancy.Scope, orgID string) (Mapping, error)
	ListMappings(ctx context.Context, sc tenancy.Scope) ([]Mapping, error)
	// MappingsByAccount returns the mappings that point at a PSA account.
	MappingsByAccount(ctx context.Context, sc tenancy.Scope, accountID string) ([]Mapping, error)
	// Claim writes a claim for m.OrganizationID owned by m.LeaseOwner
	// until m.LeaseUntil, when there is no mapping or only an expired
	// claim; Conflict otherwise.
	Claim(ctx context.Context, sc tenancy.Scope, m Mapping, now time.Time) error
	// PutMapping writes a final mapping and its audit event atomically.
	// With owner set, only while that owner's claim stands (Conflict
	// otherwise).
	PutMapping(ctx context.Context, sc tenancy.Scope, m Mapping, owner string, e AuditEvent) error
	// DeleteMapping deletes a mapping and writes its audit event atomically.
	DeleteMapping(ctx context.Context, sc tenancy.Scope, orgID string, e AuditEvent) error
}

// AuditEvent records one change: who, what, before and after.
type AuditEvent struct {
	At     time.Time
	Actor  string
	Action string // e.g. "mapping.create", "mapping.link", "mapping.delete"
	Target string // e.g. "organization/12"
	Before *Mapping
	After  *Mapping
}

// Options tune the service.
type Options struct {
	Now func() time.Time
	// Lease is how long a create claim is held (default 30 s): a worker
	// that dies holding it delays the organization by at most this long.
	Lease time.Duration
	// Wait is how long a caller that lost a claim waits for the winner to
	// finish (default 10 s) before answering Conflict (retry later).
	Wait time.Duration
	// Poll is the interval of that wait (default 100 ms).
	Poll time.Duration
	// Sleep waits; tests may replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Service is account sync: matching, mapping, creating and provisioning.
type Service struct {
	store Store
	o     Options
}

// NewService returns a Service.
func NewService(store Store, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lease == 0 {
		o.Lease = 30 * time.Second
	}
	if o.Wait == 0 {
		o.Wait = 10 * time.Second
	}
	if o.Poll == 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.Sleep == nil {
		o.Sleep = lease.Sleep
	}
	return &Service{store: store, o: o}
}

func (s *Service) now() time.Time { return s.o.Now().UTC().Truncate(time.Millisecond) }

// NewAccountSpec describes an account to create for an organization.
type NewAccountSpec struct {
	Name   string `json:"name,omitempty"`
	Status string `json:"status,omitempty"`
	Type   string `json:"type,omitempty"`
	// Sites is the explicit site map applied when the account is created
	// (see Map); it is set by the caller, not read from the request.
	Sites map[string]string `json:"-"`
}

// EnsureAccount returns the organization's mapping, creating its PSA
// account exactly once however many callers race: a claim with a lease in
// the store, a lookup by our external reference in the PSA before any
// create (so a create whose worker died before recording it is adopted),
// then the final mapping, written only while the claim stands. Callers
// that lose the claim wait for the winner's mapping.
func (s *Service) EnsureAccount(ctx context.Context, sc tenancy.Scope, p PSA, org rmm.Organization, spec NewAccountSpec) (Mapping, bool, error) {
	return s.underClaim(ctx, sc, org, func(owner string) (Mapping, error) {
		return s.createClaimed(ctx, sc, p, org, spec, owner)
	})
}

// underClaim returns the organization's final mapping, or runs work under
// a claim on the organization (work writes the mapping with the claim's
// owner) and returns its mapping with true. A caller that loses the claim
// waits for the winner's mapping, up to Options.Wait (then Conflict).
func (s *Service) underClaim(ctx context.Context, sc tenancy.Scope, org rmm.Organization, work func(owner string) (Mapping, error)) (Mapping, bool, error) {
	var (
		m       Mapping
		created bool
		lost    error // the last claim lost
	)
	busy, err := s.wait().Until(ctx, func() (bool, error) {
		cur, err := s.store.GetMapping(ctx, sc, org.ID)
		switch {
		case err == nil && cur.State == StateMapped:
			m = cur
			return true, nil
		case err != nil && !apperr.Is(err, apperr.NotFound):
			return true, fmt.Errorf("read mapping of organization %s: %w", org.ID, err)
		}
		owner := lease.NewOwner()
		claim := Mapping{OrganizationID: org.ID, OrganizationName: org.Name, State: StateClaimed,
			LeaseOwner: owner, LeaseUntil: s.now().Add(s.o.Lease), UpdatedAt: s.now()}
		err = s.store.Claim(ctx, sc, claim, s.now())
		if err == nil {
			m, err = work(owner)
			created = err == nil
			return true, err
		}
		if !apperr.Is(err, apperr.Conflict) {
			return true, fmt.Errorf("claim organization %s: %w", org.ID, err)
		}
		lost = err
		return false, nil
	})
	switch {
	case busy:
		return Mapping{}, false, busyError(apperr.Wrap(apperr.Conflict, lost, "organization %s is being mapped by another request; try again shortly", org.ID))
	case err != nil:
		return Mapping{}, false, err
	}
	return m, created, nil
}

// wait is how a caller that lost a claim waits for its winner.
// BusyRetryAfter is the wait a caller is told (Retry-After) when another
// request is still mapping the organization after Options.Wait: the
// winner's PSA create may be queued behind the PSA's request budget.
const BusyRetryAfter = 3 * time.Second

// busyError marks a Conflict with another request's live claim as worth
// retrying after BusyRetryAfter.
func busyError(e *apperr.Error) *apperr.Error {
	e.RetryAfter = BusyRetryAfter
	return e
}

func (s *Service) wait() lease.Wait {
	return lease.Wait{For: s.o.Wait, Poll: s.o.Poll, Now: s.o.Now, Sleep: s.o.Sleep}
}

func (s *Service) createClaimed(ctx context.Context, sc tenancy.Scope, p PSA, org rmm.Organization, spec NewAccountSpec, owner string) (Mapping, error) {
	acct, _, err := lease.FindOrCreate(ctx,
		func(ctx context.Context) ([]psa.Account, error) {
			found, err := p.FindAccountsByExternalRef(ctx, org.ID)
			if err != nil {
				return nil, fmt.Errorf("look up account of organization %s by reference: %w", org.ID, err)
			}
			return found, nil
		},
		accountID,
		func(ctx context.Context) (psa.Account, error) {
			name := strings.TrimSpace(spec.Name)
			if name == "" {
				name = org.Name
			}
			acct, err := p.CreateAccount(ctx, psa.NewAccount{Name: name, ExternalRef: org.ID,
				Status: psa.NamedRef{ID: spec.Status}, Type: psa.NamedRef{ID: spec.Type}})
			if err != nil {
				return psa.Account{}, fmt.Errorf("create account for organization %s: %w", org.ID, err)
			}
			return acct, nil
		})
	if err != nil {
		return Mapping{}, err
	}
	// The sites are mapped while the claim is held, so racing callers
	// never create locations twice.
	sites, err := s.mapSites(ctx, p, org, acct.ID, nil, spec.Sites)
	if err != nil {
		return Mapping{}, err
	}
	m := Mapping{OrganizationID: org.ID, OrganizationName: org.Name, AccountID: acct.ID, AccountName: acct.Name,
		Mode: ModeCreated, Sites: sites, State: StateMapped, UpdatedAt: s.now()}
	if err := s.store.PutMapping(ctx, sc, m, owner, s.event(sc, "mapping.create", org.ID, nil, &m)); err != nil {
		return Mapping{}, fmt.Errorf("record mapping of organization %s: %w", org.ID, err)
	}
	return m, nil
}

// accountID is an account's id, for lease's oldest-wins rule: every caller
// adopting duplicates picks the same one.
func accountID(a psa.Account) string { return a.ID }

func (s *Service) event(sc tenancy.Scope, action, orgID string, before, after *Mapping) AuditEvent {
	return AuditEvent{At: s.now(), Actor: sc.Actor, Action: action, Target: "organization/" + orgID, Before: before, After: after}
}
