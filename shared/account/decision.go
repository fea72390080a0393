package account

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/lease"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// The account decision is the one rule every path that gives an RMM
// organization a PSA account follows — the organization import, the asset
// import and its dry run, alert routing and reverse provisioning:
//
//   - mapped: the mapping stands;
//   - an account carries the organization's reference: rmmbridge created
//     it for the organization before (a create whose mapping was never
//     written); it is adopted, never created again;
//   - auto-match match_found: link to the candidate (its sites mapped as Map
//     maps them);
//   - multiple_matches: review — a person chooses among the candidates;
//     nothing is linked or created;
//   - no_match: create one account, exactly once (EnsureAccount), when the
//     caller's setting allows it; otherwise the organization stays
//     unmapped.
//
// LookUp gathers the facts, Decide makes the decision, Service.Apply
// carries it out and Service.Resolve does all three.

// Action is what the account decision does with an organization.
type Action string

// The actions of Decide.
const (
	// ActionMapped: the organization is mapped; its mapping stands.
	ActionMapped Action = "mapped"
	// ActionAdopt: an account carries the organization's reference
	// (rmmbridge created it before); it is adopted.
	ActionAdopt Action = "adopt"
	// ActionLink: auto-match found one confident candidate; the
	// organization is linked to it.
	ActionLink Action = "link"
	// ActionReview: several accounts could match; a person chooses.
	ActionReview Action = "review"
	// ActionCreate: nothing matches and creating is allowed: one account
	// is created for the organization.
	ActionCreate Action = "create"
	// ActionSkip: nothing matches and creating is not allowed: the
	// organization stays unmapped.
	ActionSkip Action = "skip"
)

// Policy is what the caller allows when nothing matches.
type Policy struct {
	// Create allows creating an account for an organization that nothing
	// matches.
	Create bool
	// Setting names the setting behind Create ("createMissingAccounts",
	// "autoCreateAccounts"), for the reason of ActionSkip.
	Setting string
}

// Decision is the account decision for one organization.
type Decision struct {
	OrganizationID string
	Action         Action
	// Mapping is the organization's mapping (ActionMapped).
	Mapping *Mapping
	// Target is the account adopted (ActionAdopt) or the candidate linked
	// to (ActionLink). In reverse provisioning (DecideOrganization) it is
	// the RMM organization, its id and name in Account.
	Target Candidate
	// Candidates are auto-match's plausible candidates, best first (the
	// ones a person chooses from in ActionReview).
	Candidates []Candidate
	// Reason says why, for an import item, a preview or an alert.
	Reason string
}

// maxListedCandidates bounds the candidates a reason names.
const maxListedCandidates = 5

// Facts are what the decision knows about an organization.
type Facts struct {
	// Mapping is its final mapping, nil when unmapped.
	Mapping *Mapping
	// Ours are the PSA accounts carrying its reference (see
	// PSA.FindAccountsByExternalRef).
	Ours []psa.Account
	// Match is the auto-match of its name (needed only when it is
	// unmapped and no account is ours).
	Match MatchResult
}

// action is the rule itself, in either direction.
func action(mapped, ours bool, outcome Outcome, create bool) Action {
	switch {
	case mapped:
		return ActionMapped
	case ours:
		return ActionAdopt
	case outcome == MatchFound:
		return ActionLink
	case outcome == MultipleMatches:
		return ActionReview
	case create:
		return ActionCreate
	}
	return ActionSkip
}

// Decide is the account decision for org from the facts f.
func Decide(org rmm.Organization, f Facts, pol Policy) Decision {
	m, match := f.Mapping, f.Match
	d := Decision{OrganizationID: org.ID, Action: action(m != nil, len(f.Ours) > 0, match.Outcome, pol.Create), Candidates: match.Candidates}
	switch d.Action {
	case ActionMapped:
		d.Mapping, d.Candidates = m, nil
		d.Reason = fmt.Sprintf("already mapped to %s (%s)", m.AccountName, m.AccountID)
	case ActionAdopt:
		d.Target, d.Candidates = Candidate{Account: lease.Oldest(f.Ours, accountID), Score: 1}, nil
		d.Reason = fmt.Sprintf("PSA account %s (%s) carries the organization's reference: rmmbridge created it before; it is adopted",
			d.Target.Account.Name, d.Target.Account.ID)
	case ActionLink:
		d.Target = match.Candidates[0]
		d.Reason = fmt.Sprintf("auto-match found PSA account %s (%s), score %.2f", d.Target.Account.Name, d.Target.Account.ID, d.Target.Score)
	case ActionReview:
		d.Reason = "several PSA accounts could match; choose one with PUT /mappings/" + org.ID + ": " + listCandidates(match.Candidates)
	case ActionCreate:
		d.Reason = "no matching PSA account; an account named " + org.Name + " is created"
	default:
		d.Reason = "no matching PSA account and " + notAllowed(pol.Setting)
	}
	return d
}

func notAllowed(setting string) string {
	if setting == "" {
		return "creating accounts is not allowed"
	}
	return setting + " is false"
}

// listCandidates names candidates as "Name (id, score 0.98)", at most
// maxListedCandidates of them.
func listCandidates(cs []Candidate) string {
	var names []string
	for i, c := range cs {
		if i == maxListedCandidates {
			names = append(names, fmt.Sprintf("and %d more", len(cs)-maxListedCandidates))
			break
		}
		names = append(names, fmt.Sprintf("%s (%s, score %.2f)", c.Account.Name, c.Account.ID, c.Score))
	}
	return strings.Join(names, ", ")
}

// MatchOrganizations matches a PSA account's name against RMM
// organizations: auto-match in the reverse direction, with the same
// scoring and thresholds. Each candidate carries an organization's id and
// name in Account.
func MatchOrganizations(accountName string, orgs []rmm.Organization) MatchResult {
	pool := make([]psa.Account, 0, len(orgs))
	for _, o := range orgs {
		pool = append(pool, psa.Account{ID: o.ID, Name: o.Name})
	}
	return Match(accountName, pool)
}

// DecideOrganization is the account decision in reverse provisioning:
// which RMM organization a PSA account gets. mapped says the account is
// mapped already; match is MatchOrganizations of its name. The same rule:
// a mapped account is left as it is, a confident match is adopted (Target
// is the organization), several candidates go to review, and with no match
// an organization is created (provisioning is what creates).
func DecideOrganization(acct psa.Account, mapped bool, match MatchResult) Decision {
	d := Decision{Action: action(mapped, false, match.Outcome, true), Candidates: match.Candidates}
	switch d.Action {
	case ActionMapped:
		d.Candidates = nil
		d.Reason = "account " + acct.ID + " is already mapped"
	case ActionLink:
		d.Target = match.Candidates[0]
		d.OrganizationID = d.Target.Account.ID
		d.Reason = fmt.Sprintf("auto-match found RMM organization %s (%s), score %.2f", d.Target.Account.Name, d.Target.Account.ID, d.Target.Score)
	case ActionReview:
		d.Reason = fmt.Sprintf("several RMM organizations could be account %s (%s); map it by hand: %s", acct.Name, acct.ID, listCandidates(match.Candidates))
	default:
		d.Reason = "no matching RMM organization; an organization named " + acct.Name + " is created"
	}
	return d
}

// ErrNoAccount is in the chain of the error EnsureMapped returns when the
// account decision gives an unmapped organization no account: several
// accounts could match (review), or none does and creating is not
// allowed. errors.As finds the *NoAccountError with the decision.
var ErrNoAccount = errors.New("the account decision gives the organization no PSA account")

// NoAccountError is why an organization has no account: its decision
// (ActionReview with the candidates, or ActionSkip). Its kind is
// apperr.Invalid — not transient: retrying cannot help until a person maps
// the organization or the setting changes — and its client-safe message
// names the organization, the reason and the candidates.
type NoAccountError struct {
	Decision Decision
}

// Error implements error.
func (e *NoAccountError) Error() string {
	return "organization " + e.Decision.OrganizationID + " is not mapped: " + e.Decision.Reason
}

// Is makes errors.Is(err, ErrNoAccount) true.
func (e *NoAccountError) Is(target error) bool { return target == ErrNoAccount }

// Unwrap classifies the error for apperr.KindOf and apperr.As.
func (e *NoAccountError) Unwrap() error { return apperr.New(apperr.Invalid, "%s", e.Error()) }
