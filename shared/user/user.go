// Package user manages rmmbridge's people: technicians imported once from
// the PSA (ConnectWise members, Autotask resources, HaloPSA agents) as users
// who sign in with an email and a password and act with a role.
//
// The identity store is a user pool (Amazon Cognito, behind Directory and
// Authenticator); the user records, the per-tenant admin count that keeps
// the last admin from being removed, and the audit trail live in the
// table (Store). The records are what authorization trusts: a token is
// admitted only when its user's record exists, is enabled, carries the
// token's role and was not signed out after the token was issued (Admits).
//
// This package holds the rules — import planning with a result per member,
// the re-import diff, role rules, the last-admin rule, sign-in throttling —
// and declares the small interfaces it needs. It imports no AWS package.
package user

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
)

// Roles a user can have; the same three an API key can carry, and the names
// of the user pool's groups.
const (
	RoleAdmin    = tenant.RoleAdmin
	RoleOperator = tenant.RoleOperator
	RoleViewer   = tenant.RoleViewer
)

// Roles lists the roles, most powerful first.
var Roles = []string{RoleAdmin, RoleOperator, RoleViewer}

// ValidRole reports whether r is a role.
func ValidRole(r string) bool { return slices.Contains(Roles, r) }

// roleMessage is the field message for a bad role.
const roleMessage = "must be admin, operator or viewer"

// States of a user record.
const (
	// StateActive is a normal user (enabled or disabled).
	StateActive = "active"
	// StateDeleting is a user whose deletion started: refused everywhere,
	// finished by the next DELETE.
	StateDeleting = "deleting"
)

// Source kinds.
const (
	SourcePSA  = "psa"  // imported from a PSA member
	SourceSeed = "seed" // created by the local stack's seed (the demo admin)
)

// User is one person who signs in.
type User struct {
	// ID is the identity store's id for the user (Cognito's sub).
	ID       string
	TenantID string
	// Email is the sign-in name, lower case.
	Email    string
	Name     string
	Role     string
	Disabled bool
	State    string
	Source   Source
	// SignedOutAt: tokens issued at or before it are refused (a global
	// sign-out). Zero when the user never signed out.
	SignedOutAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Version increases with every change; updates are conditional on it.
	Version int64
}

// Source is where a user came from. For PSA users it keeps what the member
// looked like when it was imported (or when a re-import change was last
// applied): the re-import diff compares the PSA with this snapshot.
type Source struct {
	Kind          string
	IntegrationID string
	ConnectionID  string
	MemberID      string
	Member        MemberSnapshot
}

// MemberSnapshot is what rmmbridge knows of a PSA member.
type MemberSnapshot struct {
	Name   string `json:"name"`
	Email  string `json:"email,omitempty"`
	Active bool   `json:"active"`
	Role   string `json:"role,omitempty"` // the PSA's own role or security level
}

// countsAsAdmin: an enabled, live admin; what the admin count counts.
func (u User) countsAsAdmin() bool {
	return u.Role == RoleAdmin && !u.Disabled && u.State == StateActive && u.ID != ""
}

// AdminDelta is how a change from before to after moves the tenant's count
// of enabled admins (-1, 0 or +1). A change that takes it below one is the
// last-admin rule's business (Store.UpdateUser refuses it atomically).
func AdminDelta(before, after User) int {
	d := 0
	if before.countsAsAdmin() {
		d--
	}
	if after.countsAsAdmin() {
		d++
	}
	return d
}

// LastAdminError is the refusal of a change that would leave a tenant
// without an enabled admin user.
func LastAdminError() *apperr.Error {
	return apperr.New(apperr.Conflict, "this is the tenant's last enabled admin: make another user admin first")
}

// IsLastAdmin reports whether err is the last-admin refusal.
func IsLastAdmin(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Kind == apperr.Conflict && e.Message == LastAdminError().Message
}

// ChangedError is the refusal of an update based on a stale read (another
// change came first).
func ChangedError(id string) *apperr.Error {
	return apperr.New(apperr.Conflict, "user %s changed meanwhile; read it again", id)
}

// Status is what the authorizer needs of a user record.
type Status struct {
	Role        string
	Disabled    bool
	State       string
	SignedOutAt time.Time
}

// Status returns the user's status.
func (u User) Status() Status {
	return Status{Role: u.Role, Disabled: u.Disabled, State: u.State, SignedOutAt: u.SignedOutAt}
}

// Admits says whether a token of this user with the given role, issued at
// issuedAt, may be used: nil, or an Unauthorized error naming why. A token
// whose role is not the record's (the role changed since it was issued) is
// refused: the client refreshes and gets one with the new role.
func (s Status) Admits(role string, issuedAt time.Time) error {
	switch {
	case s.State != StateActive:
		return apperr.New(apperr.Unauthorized, "the user is being deleted")
	case s.Disabled:
		return apperr.New(apperr.Unauthorized, "the user is disabled")
	case role != s.Role:
		return apperr.New(apperr.Unauthorized, "the token's role is not the user's role; refresh the token")
	case !s.SignedOutAt.IsZero() && !issuedAt.After(s.SignedOutAt.Truncate(time.Second)):
		// Token times are whole seconds: a token of the sign-out's own
		// second is refused too.
		return apperr.New(apperr.Unauthorized, "the user signed out after this token was issued")
	}
	return nil
}

// RoleOf returns the role named by a token's groups: exactly one of the
// role groups must be present (other groups are ignored).
func RoleOf(groups []string) (string, error) {
	role := ""
	for _, g := range groups {
		if !ValidRole(g) {
			continue
		}
		if role != "" && role != g {
			return "", apperr.New(apperr.Unauthorized, "the token names more than one role")
		}
		role = g
	}
	if role == "" {
		return "", apperr.New(apperr.Unauthorized, "the token names no role")
	}
	return role, nil
}

// NormalizeEmail returns the sign-in form of an email address: trimmed,
// lower case. Sign-in names are case-insensitive.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// maxEmail bounds an email address (RFC 5321's path limit).
const maxEmail = 254

// checkEmail returns "" for a usable address, else why not.
func checkEmail(email string) string {
	if email == "" {
		return "the member has no email address in the PSA"
	}
	if len(email) > maxEmail {
		return "the member's email address is longer than 254 characters"
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") {
		return "the member's email address is not valid"
	}
	return ""
}

// EmailKey is a stable key for an email address that does not put the
// address itself in a table key or a log line.
func EmailKey(email string) string {
	sum := sha256.Sum256([]byte(NormalizeEmail(email)))
	return hex.EncodeToString(sum[:16])
}

// AuditEvent records one change to a user: who, what, before and after.
type AuditEvent struct {
	At     time.Time
	Actor  string // "user/<id> (<email>)", "key/<id> (<name>)", or a function
	Action string // user.create, user.update, user.disable, user.enable, user.delete
	Target string // "user/<id>"
	Before *User
	After  *User
}

func event(at time.Time, actor, action string, before, after *User) AuditEvent {
	id := ""
	if after != nil {
		id = after.ID
	} else if before != nil {
		id = before.ID
	}
	return AuditEvent{At: at, Actor: actor, Action: action, Target: "user/" + id, Before: before, After: after}
}

// String names the user by id only (never the email), for logs.
func (u User) String() string { return fmt.Sprintf("user %s", u.ID) }
