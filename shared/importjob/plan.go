package importjob

import (
	"fmt"

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
	// Decision is the account decision the plan carries out
	// (account.Service.Apply).
	Decision account.Decision
}

// accountPolicy is the account decision's policy of a job.
func accountPolicy(createMissing bool) account.Policy {
	return account.Policy{Create: createMissing, Setting: "createMissingAccounts"}
}

// PlanOrg is an organization import's step for org: the account decision
// (account.Decide: a mapped organization keeps its account, an unmapped
// one adopts the account rmmbridge created for it before, is linked to a
// confident match, sent to review when several accounts could match —
// never guessed — or, with no match, given a new account when
// createMissing is set and skipped otherwise), plus, for a mapped
// organization, its sites the mapping lacks: it is skipped, or updated
// when it has such sites (they are added). f are the decision's facts
// (account.LookUp for an unmapped organization). With dryRun the reasons
// say what would happen.
func PlanOrg(org rmm.Organization, f account.Facts, createMissing, dryRun bool) OrgPlan {
	would := func(done, planned string) string {
		if dryRun {
			return planned
		}
		return done
	}
	d := account.Decide(org, f, accountPolicy(createMissing))
	m := f.Mapping
	p := OrgPlan{Decision: d, Reason: d.Reason}
	switch d.Action {
	case account.ActionMapped:
		acct := fmt.Sprintf("%s (%s)", m.AccountName, m.AccountID)
		p.AccountID, p.AccountName = m.AccountID, m.AccountName
		for _, s := range org.Sites {
			if _, ok := m.Sites[s.ID]; !ok {
				p.NewSites = append(p.NewSites, s)
			}
		}
		p.Action = ActionSkip
		if len(p.NewSites) > 0 {
			p.Action = ActionUpdate
			p.Reason = fmt.Sprintf("already mapped to %s; %d new %s %s", acct, len(p.NewSites),
				plural(len(p.NewSites), "site", "sites"), would("added", "would be added"))
		}
	case account.ActionAdopt:
		c := d.Target
		p.Action, p.AccountID, p.AccountName = ActionLink, c.Account.ID, c.Account.Name
		p.Reason = fmt.Sprintf("%s PSA account %s (%s), which rmmbridge created for it before", would("adopted", "would adopt"), c.Account.Name, c.Account.ID)
	case account.ActionLink:
		c := d.Target
		p.Action, p.AccountID, p.AccountName = ActionLink, c.Account.ID, c.Account.Name
		p.Reason = fmt.Sprintf("%s PSA account %s (%s), score %.2f", would("linked to", "would be linked to"), c.Account.Name, c.Account.ID, c.Score)
	case account.ActionReview:
		p.Action = ActionReview
	case account.ActionCreate:
		p.Action, p.AccountName = ActionCreate, org.Name
		p.Reason = "no matching PSA account; " + would("created account "+org.Name, "an account named "+org.Name+" would be created")
	default:
		p.Action = ActionSkip
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
