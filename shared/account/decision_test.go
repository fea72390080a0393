package account_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

func cand(id, name string, score float64) account.Candidate {
	return account.Candidate{Account: psa.Account{ID: id, Name: name}, Score: score}
}

// TestDecide is the account decision's table: every auto-match outcome,
// with creating allowed and not, an organization already mapped, and one
// an account already carries the reference of.
func TestDecide(t *testing.T) {
	org := rmm.Organization{ID: "7", Name: "Müller GmbH"}
	mapped := &account.Mapping{OrganizationID: "7", AccountID: "200", AccountName: "Mueller GmbH", State: account.StateMapped}
	found := account.MatchResult{Outcome: account.MatchFound, Candidates: []account.Candidate{cand("300", "Mueller GmbH", 1), cand("301", "Muller Logistics", 0.55)}}
	several := account.MatchResult{Outcome: account.MultipleMatches, Candidates: []account.Candidate{cand("12", "Müller GmbH", 1), cand("13", "Mueller GmbH", 1)}}
	none := account.MatchResult{Outcome: account.NoMatch, Candidates: []account.Candidate{}}
	var many []account.Candidate
	for i := range 7 {
		many = append(many, cand(fmt.Sprint(40+i), fmt.Sprintf("Müller %d", i), 0.6))
	}
	allow := account.Policy{Create: true, Setting: "createMissingAccounts"}
	deny := account.Policy{Setting: "createMissingAccounts"}
	tests := []struct {
		name  string
		m     *account.Mapping
		ours  []psa.Account
		match account.MatchResult
		pol   account.Policy
		want  account.Decision
	}{
		{name: "mapped, creating allowed: the mapping stands", m: mapped, match: several, pol: allow,
			want: account.Decision{OrganizationID: "7", Action: account.ActionMapped, Mapping: mapped, Reason: "already mapped to Mueller GmbH (200)"}},
		{name: "mapped, creating not allowed: the mapping stands", m: mapped, match: none, pol: deny,
			want: account.Decision{OrganizationID: "7", Action: account.ActionMapped, Mapping: mapped, Reason: "already mapped to Mueller GmbH (200)"}},
		{name: "account carrying its reference: adopted (the oldest), never matched or created again", ours: []psa.Account{{ID: "905", Name: "Müller GmbH"}, {ID: "93", Name: "Müller GmbH"}},
			match: several, pol: allow,
			want: account.Decision{OrganizationID: "7", Action: account.ActionAdopt, Target: cand("93", "Müller GmbH", 1),
				Reason: "PSA account Müller GmbH (93) carries the organization's reference: rmmbridge created it before; it is adopted"}},
		{name: "account carrying its reference, creating not allowed: adopted (nothing is created)", ours: []psa.Account{{ID: "905", Name: "Müller GmbH"}},
			match: none, pol: deny,
			want: account.Decision{OrganizationID: "7", Action: account.ActionAdopt, Target: cand("905", "Müller GmbH", 1),
				Reason: "PSA account Müller GmbH (905) carries the organization's reference: rmmbridge created it before; it is adopted"}},
		{name: "mapped and an account carrying its reference: the mapping stands", m: mapped, ours: []psa.Account{{ID: "905", Name: "Müller GmbH"}}, pol: allow,
			want: account.Decision{OrganizationID: "7", Action: account.ActionMapped, Mapping: mapped, Reason: "already mapped to Mueller GmbH (200)"}},
		{name: "match_found: link to the candidate", match: found, pol: allow,
			want: account.Decision{OrganizationID: "7", Action: account.ActionLink, Target: found.Candidates[0], Candidates: found.Candidates,
				Reason: "auto-match found PSA account Mueller GmbH (300), score 1.00"}},
		{name: "match_found, creating not allowed: still linked (linking creates nothing)", match: found, pol: deny,
			want: account.Decision{OrganizationID: "7", Action: account.ActionLink, Target: found.Candidates[0], Candidates: found.Candidates,
				Reason: "auto-match found PSA account Mueller GmbH (300), score 1.00"}},
		{name: "multiple_matches: review naming the candidates, never created", match: several, pol: allow,
			want: account.Decision{OrganizationID: "7", Action: account.ActionReview, Candidates: several.Candidates,
				Reason: "several PSA accounts could match; choose one with PUT /mappings/7: Müller GmbH (12, score 1.00), Mueller GmbH (13, score 1.00)"}},
		{name: "multiple_matches, creating not allowed: review", match: several, pol: deny,
			want: account.Decision{OrganizationID: "7", Action: account.ActionReview, Candidates: several.Candidates,
				Reason: "several PSA accounts could match; choose one with PUT /mappings/7: Müller GmbH (12, score 1.00), Mueller GmbH (13, score 1.00)"}},
		{name: "multiple_matches: at most five candidates named", match: account.MatchResult{Outcome: account.MultipleMatches, Candidates: many}, pol: allow,
			want: account.Decision{OrganizationID: "7", Action: account.ActionReview, Candidates: many,
				Reason: "several PSA accounts could match; choose one with PUT /mappings/7: Müller 0 (40, score 0.60), Müller 1 (41, score 0.60), " +
					"Müller 2 (42, score 0.60), Müller 3 (43, score 0.60), Müller 4 (44, score 0.60), and 2 more"}},
		{name: "no_match, creating allowed: create", match: none, pol: allow,
			want: account.Decision{OrganizationID: "7", Action: account.ActionCreate, Candidates: none.Candidates,
				Reason: "no matching PSA account; an account named Müller GmbH is created"}},
		{name: "no_match, creating not allowed: skip naming the setting", match: none, pol: deny,
			want: account.Decision{OrganizationID: "7", Action: account.ActionSkip, Candidates: none.Candidates,
				Reason: "no matching PSA account and createMissingAccounts is false"}},
		{name: "no_match, creating not allowed, no setting named", match: none, pol: account.Policy{},
			want: account.Decision{OrganizationID: "7", Action: account.ActionSkip, Candidates: none.Candidates,
				Reason: "no matching PSA account and creating accounts is not allowed"}},
		{name: "no auto-match ran (zero result) counts as no_match", pol: allow,
			want: account.Decision{OrganizationID: "7", Action: account.ActionCreate, Reason: "no matching PSA account; an account named Müller GmbH is created"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := account.Decide(org, account.Facts{Mapping: tc.m, Ours: tc.ours, Match: tc.match}, tc.pol)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecideOrganization is the same decision in reverse provisioning,
// over real auto-match of a PSA account's name against RMM organizations.
func TestDecideOrganization(t *testing.T) {
	acct := psa.Account{ID: "500", Name: "Acme, Inc."}
	tests := []struct {
		name   string
		mapped bool
		orgs   []rmm.Organization
		want   account.Action
		target string
		reason string
	}{
		{name: "mapped account stays", mapped: true, orgs: []rmm.Organization{{ID: "1", Name: "Acme"}},
			want: account.ActionMapped, reason: "account 500 is already mapped"},
		{name: "similarly written organization is adopted", orgs: []rmm.Organization{{ID: "1", Name: "ACME Inc"}, {ID: "2", Name: "Contoso"}},
			want: account.ActionLink, target: "1", reason: "auto-match found RMM organization ACME Inc (1), score 1.00"},
		{name: "two organizations could be it: review", orgs: []rmm.Organization{{ID: "1", Name: "ACME Inc"}, {ID: "2", Name: "Acme LLC"}},
			want: account.ActionReview, reason: "several RMM organizations could be account Acme, Inc. (500); map it by hand: ACME Inc (1, score 1.00), Acme LLC (2, score 1.00)"},
		{name: "nothing matches: create", orgs: []rmm.Organization{{ID: "2", Name: "Contoso"}},
			want: account.ActionCreate, reason: "no matching RMM organization; an organization named Acme, Inc. is created"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := account.DecideOrganization(acct, tc.mapped, account.MatchOrganizations(acct.Name, tc.orgs))
			got := []string{string(d.Action), d.Target.Account.ID, d.Reason}
			if diff := cmp.Diff([]string{string(tc.want), tc.target, tc.reason}, got); diff != "" {
				t.Errorf("DecideOrganization action, target, reason (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNoAccountError: the error alert routing gets when the decision gives
// no account is recognisable (errors.Is, errors.As), permanent (Invalid,
// not retried) and says why with the candidates in its client-safe text.
func TestNoAccountError(t *testing.T) {
	org := rmm.Organization{ID: "7", Name: "Müller GmbH"}
	d := account.Decide(org, account.Facts{Match: account.MatchResult{Outcome: account.MultipleMatches,
		Candidates: []account.Candidate{cand("12", "Müller GmbH", 1), cand("13", "Mueller GmbH", 1)}}}, account.Policy{Create: true})
	err := fmt.Errorf("route alert: %w", &account.NoAccountError{Decision: d})
	var na *account.NoAccountError
	if !errors.Is(err, account.ErrNoAccount) || !errors.As(err, &na) || na.Decision.Action != account.ActionReview {
		t.Fatalf("%v: want errors.Is ErrNoAccount and errors.As *NoAccountError with the review decision", err)
	}
	if k := apperr.KindOf(err); k != apperr.Invalid || k.Transient() {
		t.Errorf("kind = %s (transient %v), want invalid, not transient", k, k.Transient())
	}
	e, ok := apperr.As(err)
	want := "organization 7 is not mapped: several PSA accounts could match; choose one with PUT /mappings/7: Müller GmbH (12, score 1.00), Mueller GmbH (13, score 1.00)"
	if !ok || e.Message != want {
		t.Errorf("client-safe message = %q, want %q", e.Message, want)
	}
}
