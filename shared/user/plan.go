package user

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/limits"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// MaxImport bounds the members of one import request: each created user
// costs a few user pool and table calls, and the API answers within its
// 28-second timeout.
const MaxImport = 50

// MemberChoice is one member an admin ticked, with the role it gets.
type MemberChoice struct {
	MemberID string
	Role     string
}

// Item outcomes of an import or of applying re-import changes.
const (
	Created     = "created"      // the user exists now
	WouldCreate = "would_create" // dry run: it would be created
	Applied     = "applied"      // a re-import change was applied
	WouldApply  = "would_apply"  // dry run: it would be applied
	Refused     = "refused"      // not done, with the reason; retrying will not help
	Failed      = "failed"       // not done because something failed; retry
)

// ItemResult is what happened to one member.
type ItemResult struct {
	MemberID string
	Name     string
	Email    string
	Role     string
	Action   string // re-import changes: create, disable or update
	Status   string
	Reason   string
	UserID   string
}

// checkChoices validates the request's member list: 422 naming the fields.
func checkChoices(field string, choices []MemberChoice, roleRequired func(i int) bool) error {
	var fe []apperr.FieldError
	switch {
	case len(choices) == 0:
		fe = append(fe, apperr.FieldError{Field: field, Message: "must list at least one member"})
	case len(choices) > MaxImport:
		fe = append(fe, apperr.FieldError{Field: field, Message: fmt.Sprintf("lists %d members; the limit is %d per request", len(choices), MaxImport)})
	}
	seen := map[string]int{}
	for i, c := range choices {
		if i >= MaxImport {
			break
		}
		at := fmt.Sprintf("%s[%d]", field, i)
		if e := limits.ID(at+".memberId", c.MemberID); e != nil {
			fe = append(fe, *e)
		} else if j, dup := seen[c.MemberID]; dup {
			fe = append(fe, apperr.FieldError{Field: at + ".memberId", Message: fmt.Sprintf("repeats %s[%d]", field, j)})
		} else {
			seen[c.MemberID] = i
		}
		if (c.Role != "" || roleRequired(i)) && !ValidRole(c.Role) {
			fe = append(fe, apperr.FieldError{Field: at + ".role", Message: roleMessage})
		}
	}
	if len(fe) > 0 {
		return apperr.InvalidFields(limits.Cap(fe)...)
	}
	return nil
}

// planned is one member of an import, checked against what rmmbridge knows.
type planned struct {
	choice MemberChoice
	member psa.Member
	email  string
	// refusal is why the member cannot be imported ("" when it can).
	refusal string
}

// planImport checks each chosen member against the PSA's roster and the
// tenant's users: a member that is unknown, inactive, without a usable
// email, already imported, or whose email a user (or an earlier member of
// the same request) already has, is refused with the reason. The rest can
// be created; only the user pool can still refuse them (an address
// registered with another rmmbridge account).
func planImport(r Roster, users []User, choices []MemberChoice) []planned {
	byID := map[string]psa.Member{}
	for _, m := range r.Members {
		byID[m.ID] = m
	}
	byEmail, byMember := map[string]User{}, map[string]User{}
	for _, u := range users {
		byEmail[u.Email] = u
		if u.Source.Kind == SourcePSA && u.Source.ConnectionID == r.ConnectionID {
			byMember[u.Source.MemberID] = u
		}
	}
	taken := map[string]string{} // email → member id earlier in this request
	out := make([]planned, 0, len(choices))
	for _, c := range choices {
		p := planned{choice: c}
		m, ok := byID[c.MemberID]
		p.member, p.email = m, NormalizeEmail(m.Email)
		switch {
		case !ok:
			p.refusal = "no member with this id in the PSA"
		case !m.Active:
			p.refusal = "the member is inactive in the PSA"
		case checkEmail(p.email) != "":
			p.refusal = checkEmail(p.email)
		}
		if p.refusal == "" {
			if u, ok := byMember[c.MemberID]; ok {
				p.refusal = "the member was already imported as user " + u.ID
			} else if u, ok := byEmail[p.email]; ok {
				p.refusal = "the email address is already used by user " + u.ID
			} else if other, ok := taken[p.email]; ok {
				p.refusal = "member " + other + " of this import has the same email address"
			} else {
				taken[p.email] = c.MemberID
			}
		}
		out = append(out, p)
	}
	return out
}

// Change kinds of the re-import diff.
const (
	ChangeNew      = "new"      // a member the PSA did not have at the import
	ChangeInactive = "inactive" // an imported member the PSA made inactive
	ChangeRemoved  = "removed"  // an imported member the PSA no longer has
	ChangeRenamed  = "renamed"  // an imported member whose name or email changed
)

// Actions a change can be applied with.
const (
	ActionCreate  = "create"  // new: import the member (with a role)
	ActionDisable = "disable" // inactive, removed: disable the user
	ActionUpdate  = "update"  // renamed: take the PSA's name and email
)

// Change is one difference between the PSA and what was imported.
type Change struct {
	MemberID string
	Kind     string
	Action   string
	UserID   string          // the imported user ("" for new members)
	Before   *MemberSnapshot // as imported (nil for new members)
	After    *MemberSnapshot // as the PSA has it now (nil when removed)
}

func snapshot(m psa.Member) MemberSnapshot {
	return MemberSnapshot{Name: m.Name, Email: NormalizeEmail(m.Email), Active: m.Active, Role: m.Role}
}

// diff compares the PSA's members with the users imported from the same
// connection and the members seen at the imports. Nothing is applied: the
// admin picks what to apply. A disabled user's inactive or removed member
// is no change (already done); a member seen at an import and not picked
// then is not new.
func diff(r Roster, users []User, seen []string) []Change {
	byID := map[string]psa.Member{}
	for _, m := range r.Members {
		byID[m.ID] = m
	}
	wasSeen := map[string]bool{}
	for _, id := range seen {
		wasSeen[id] = true
	}
	imported := map[string]bool{}
	var out []Change
	for _, u := range users {
		if u.Source.Kind != SourcePSA || u.Source.ConnectionID != r.ConnectionID || u.State != StateActive {
			continue
		}
		imported[u.Source.MemberID] = true
		before := u.Source.Member
		m, ok := byID[u.Source.MemberID]
		switch {
		case !ok && !u.Disabled:
			out = append(out, Change{MemberID: u.Source.MemberID, Kind: ChangeRemoved, Action: ActionDisable, UserID: u.ID, Before: &before})
			continue
		case !ok:
			continue
		}
		now := snapshot(m)
		if !m.Active && !u.Disabled {
			out = append(out, Change{MemberID: m.ID, Kind: ChangeInactive, Action: ActionDisable, UserID: u.ID, Before: &before, After: &now})
			continue
		}
		if now.Name != before.Name || (now.Email != before.Email && now.Email != "") {
			out = append(out, Change{MemberID: m.ID, Kind: ChangeRenamed, Action: ActionUpdate, UserID: u.ID, Before: &before, After: &now})
		}
	}
	for _, m := range r.Members {
		if imported[m.ID] || wasSeen[m.ID] || !m.Active || checkEmail(NormalizeEmail(m.Email)) != "" {
			continue
		}
		now := snapshot(m)
		out = append(out, Change{MemberID: m.ID, Kind: ChangeNew, Action: ActionCreate, After: &now})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return kindOrder(out[i].Kind) < kindOrder(out[j].Kind)
		}
		return lessID(out[i].MemberID, out[j].MemberID)
	})
	return out
}

func kindOrder(k string) int {
	return strings.Index("new inactive removed renamed", k)
}

// lessID orders numeric ids numerically, others as text.
func lessID(a, b string) bool {
	if len(a) != len(b) && strings.Trim(a, "0123456789") == "" && strings.Trim(b, "0123456789") == "" {
		return len(a) < len(b)
	}
	return a < b
}
