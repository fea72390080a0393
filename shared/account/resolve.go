package account

import (
	"context"
	"fmt"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// Resolution is the account decision for an organization and, when it
// gives one, the organization's mapping once carried out.
type Resolution struct {
	Decision
	// Mapping is the final mapping (ActionMapped, ActionLink,
	// ActionCreate); zero for ActionReview and ActionSkip.
	Mapping Mapping
}

// LookUp gathers the facts of the account decision about an unmapped
// organization: the accounts carrying its reference, and, when none does,
// the auto-match of its name (MatchName).
func LookUp(ctx context.Context, p PSA, org rmm.Organization) (Facts, error) {
	ours, err := p.FindAccountsByExternalRef(ctx, org.ID)
	if err != nil {
		return Facts{}, fmt.Errorf("look up account of organization %s by reference: %w", org.ID, err)
	}
	if len(ours) > 0 {
		return Facts{Ours: ours}, nil
	}
	match, err := MatchName(ctx, p, org.Name)
	if err != nil {
		return Facts{}, err
	}
	return Facts{Match: match}, nil
}

// Resolve gives org the account the account decision says: it reads the
// organization's mapping; for an unmapped organization it gathers the facts
// (LookUp) and decides (Decide with pol); Apply carries the decision out. Review and skip write nothing: the Resolution has no
// mapping and its Reason says why. A caller that finds another request
// mapping the organization waits for its mapping, up to Options.Wait (then
// Conflict: retry later).
func (s *Service) Resolve(ctx context.Context, sc tenancy.Scope, p PSA, org rmm.Organization, pol Policy, spec NewAccountSpec) (Resolution, error) {
	cur, err := s.settled(ctx, sc, org.ID)
	if err != nil {
		return Resolution{}, err
	}
	f := Facts{Mapping: cur}
	if cur == nil {
		if f, err = LookUp(ctx, p, org); err != nil {
			return Resolution{}, err
		}
	}
	d := Decide(org, f, pol)
	got, err := s.Apply(ctx, sc, p, org, d, spec)
	if err != nil {
		return Resolution{Decision: d}, err
	}
	return Resolution{Decision: d, Mapping: got}, nil
}

// Apply carries out the decision d for org. ActionMapped returns the
// mapping. ActionLink links the organization to d.Target and maps its sites
// to the account's locations (by name, else new ones), under a claim: the
// mapping is written once, never over one another request wrote meanwhile
// (that one is returned). ActionAdopt and ActionCreate go through
// EnsureAccount (with spec): under its claim the account carrying the
// organization's reference is adopted, or one is created, exactly once.
// ActionReview and ActionSkip write nothing and return a zero Mapping.
func (s *Service) Apply(ctx context.Context, sc tenancy.Scope, p PSA, org rmm.Organization, d Decision, spec NewAccountSpec) (Mapping, error) {
	switch d.Action {
	case ActionMapped:
		if d.Mapping == nil {
			return Mapping{}, apperr.New(apperr.Internal, "decision %s for organization %s has no mapping", d.Action, org.ID)
		}
		return *d.Mapping, nil
	case ActionLink:
		m, _, err := s.underClaim(ctx, sc, org, func(owner string) (Mapping, error) {
			return s.linkClaimed(ctx, sc, p, org, d.Target.Account, owner)
		})
		return m, err
	case ActionAdopt, ActionCreate:
		m, _, err := s.EnsureAccount(ctx, sc, p, org, spec)
		return m, err
	}
	return Mapping{}, nil
}

// EnsureMapped is Resolve for a caller that needs the account now (alert
// routing): a decision that gives the organization no account (review, or
// no match with creating not allowed) is a *NoAccountError, which carries
// ErrNoAccount and the decision.
func (s *Service) EnsureMapped(ctx context.Context, sc tenancy.Scope, p PSA, org rmm.Organization, pol Policy, spec NewAccountSpec) (Mapping, error) {
	res, err := s.Resolve(ctx, sc, p, org, pol, spec)
	if err != nil {
		return Mapping{}, err
	}
	switch res.Action {
	case ActionReview, ActionSkip:
		return Mapping{}, &NoAccountError{Decision: res.Decision}
	}
	return res.Mapping, nil
}

// linkClaimed maps org to acct, its sites to the account's locations,
// while owner's claim stands.
func (s *Service) linkClaimed(ctx context.Context, sc tenancy.Scope, p PSA, org rmm.Organization, acct psa.Account, owner string) (Mapping, error) {
	sites, err := s.mapSites(ctx, p, org, acct.ID, nil, nil)
	if err != nil {
		return Mapping{}, err
	}
	m := Mapping{OrganizationID: org.ID, OrganizationName: org.Name, AccountID: acct.ID, AccountName: acct.Name,
		Mode: ModeLinked, Sites: sites, State: StateMapped, UpdatedAt: s.now()}
	if err := s.store.PutMapping(ctx, sc, m, owner, s.event(sc, "mapping.link", org.ID, nil, &m)); err != nil {
		return Mapping{}, fmt.Errorf("record mapping of organization %s: %w", org.ID, err)
	}
	return m, nil
}

// settled returns the organization's final mapping, nil when it has none;
// while another request holds a live claim on it, it waits for that
// request's mapping (up to Options.Wait, then Conflict).
func (s *Service) settled(ctx context.Context, sc tenancy.Scope, orgID string) (*Mapping, error) {
	polls := int(s.o.Wait / s.o.Poll)
	for attempt := 0; ; attempt++ {
		m, err := s.store.GetMapping(ctx, sc, orgID)
		switch {
		case err == nil && m.State == StateMapped:
			return &m, nil
		case apperr.Is(err, apperr.NotFound), err == nil && !m.LeaseUntil.After(s.now()):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("read mapping of organization %s: %w", orgID, err)
		}
		if attempt >= polls {
			return nil, busyError(apperr.New(apperr.Conflict, "organization %s is being mapped by another request; try again shortly", orgID))
		}
		if err := s.o.Sleep(ctx, s.o.Poll); err != nil {
			return nil, err
		}
	}
}
