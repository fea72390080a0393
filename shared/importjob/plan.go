package importjob

import (
	"fmt"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// Preview actions.
const (
	ActionCreate    = "create"
	ActionLink      = "link"
	ActionUpdate    = "update"
	ActionUnchanged = "unchanged"
	ActionSkip      = "skip"
	ActionReview    = "review"
)

// actionOutcome is the outcome an action counts as.
var actionOutcome = map[string]Outcome{
	ActionCreate: Created, ActionLink: Linked, ActionUpdate: Updated, ActionUnchanged: Unchanged,
	ActionSkip: Skipped, ActionReview: Review,
}

// OrgPlan is what an organization import does with one organization.
type OrgPlan struct {
	Action  string
	Outcome Outcome
	// AccountID and AccountName are the account linked to (or already
	// mapped); empty when one is to be created or a human must choose.
	AccountID   string
	AccountName string
	// NewSites are the organization's sites the mapping lacks.
	NewSites []rmm.Site
	// Reason says why, for the item and the preview.
	Reason string
}

// maxListedCandidates bounds the candidates a review reason names.
const maxListedCandidates = 5

// PlanOrg decides an organization import's step for org: a mapped
// organization is skipped, or updated when it has sites the mapping lacks
// (they are added); an unmapped one is linked to a confident match, sent
// to review when several accounts could match (never guessed), or, with no
// match, given a new account when createMissing is set and skipped
// otherwise. m is the organization's mapping (nil when unmapped); match is
// consulted only for unmapped organizations. With dryRun the reasons say
// what would happen.
func PlanOrg(org rmm.Organization, m *account.Mapping, match account.MatchResult, createMissing, dryRun bool) OrgPlan {
	would := func(done, planned string) string {
		if dryRun {
			return planned
		}
		return done
	}
	if m != nil {
		acct := fmt.Sprintf("%s (%s)", m.AccountName, m.AccountID)
		p := OrgPlan{AccountID: m.AccountID, AccountName: m.AccountName}
		for _, s := range org.Sites {
			if _, ok := m.Sites[s.ID]; !ok {
				p.NewSites = append(p.NewSites, s)
			}
		}
		if len(p.NewSites) == 0 {
			p.Action, p.Reason = ActionSkip, "already mapped to "+acct
		} else {
			p.Action = ActionUpdate
			p.Reason = fmt.Sprintf("already mapped to %s; %d new %s %s", acct, len(p.NewSites),
				plural(len(p.NewSites), "site", "sites"), would("added", "would be added"))
		}
		p.Outcome = actionOutcome[p.Action]
		return p
	}
	var p OrgPlan
	switch match.Outcome {
	case account.MatchFound:
		c := match.Candidates[0]
		p = OrgPlan{Action: ActionLink, AccountID: c.Account.ID, AccountName: c.Account.Name,
			Reason: fmt.Sprintf("%s PSA account %s (%s), score %.2f", would("linked to", "would be linked to"), c.Account.Name, c.Account.ID, c.Score)}
	case account.MultipleMatches:
		var names []string
		for i, c := range match.Candidates {
			if i == maxListedCandidates {
				names = append(names, fmt.Sprintf("and %d more", len(match.Candidates)-maxListedCandidates))
				break
			}
			names = append(names, fmt.Sprintf("%s (%s, score %.2f)", c.Account.Name, c.Account.ID, c.Score))
		}
		p = OrgPlan{Action: ActionReview,
			Reason: "several PSA accounts could match; choose one with PUT /mappings/" + org.ID + ": " + strings.Join(names, ", ")}
	default:
		if createMissing {
			p = OrgPlan{Action: ActionCreate, AccountName: org.Name,
				Reason: "no matching PSA account; " + would("created account "+org.Name, "an account named "+org.Name+" would be created")}
		} else {
			p = OrgPlan{Action: ActionSkip, Reason: "no matching PSA account and createMissingAccounts is false"}
		}
	}
	p.Outcome = actionOutcome[p.Action]
	return p
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
