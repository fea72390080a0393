package user

import (
	"context"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// Store keeps user records, their email reservations, the per-tenant count
// of enabled admins and the audit trail (DynamoDB: dynamostore.Users).
// Every key starts with the tenant.
type Store interface {
	// ClaimEmail reserves a tenant's email address for one import (owner)
	// until leaseUntil. When the address belongs to a user, or to another
	// import whose lease has not run out at now, it is a Conflict and the
	// holder says whose it is.
	ClaimEmail(ctx context.Context, tenantID, email, owner string, leaseUntil, now time.Time) (EmailHolder, error)
	// ReleaseEmail drops owner's reservation (not a user's address).
	ReleaseEmail(ctx context.Context, tenantID, email, owner string) error
	// CreateUser writes a new user whose address owner reserved, turns the
	// reservation into the user's, counts an admin and records e — all or
	// nothing.
	CreateUser(ctx context.Context, u User, owner string, e AuditEvent) error
	// GetUser reads a user (apperr NotFound when the tenant has none with
	// that id).
	GetUser(ctx context.Context, tenantID, id string) (User, error)
	// ListUsers reads one page of a tenant's users, in id order.
	ListUsers(ctx context.Context, tenantID string, limit int, cursor string) ([]User, string, error)
	// AllUsers reads every user of a tenant.
	AllUsers(ctx context.Context, tenantID string) ([]User, error)
	// UpdateUser replaces before with after when before.Version is still
	// current (else ChangedError), moving the admin count by
	// AdminDelta(before, after) and refusing with LastAdminError a change
	// that would take it below one; an email change moves the address
	// (the new one must be free); records e. All or nothing.
	UpdateUser(ctx context.Context, before, after User, e AuditEvent) error
	// DeleteUser removes u (at u.Version, in StateDeleting: the deletion
	// was recorded and audited when it started) and its address.
	DeleteUser(ctx context.Context, u User) error
	// SignOut records that the user signed out at at.
	SignOut(ctx context.Context, tenantID, id string, at time.Time) error
	// SeenMembers lists the PSA member ids a connection had when its
	// members were last imported; AddSeenMembers adds to it.
	SeenMembers(ctx context.Context, tenantID, connectionID string) ([]string, error)
	AddSeenMembers(ctx context.Context, tenantID, connectionID string, ids []string) error
}

// EmailHolder says who holds an email address: a user, or an import in
// progress.
type EmailHolder struct {
	UserID  string
	Pending bool
}

// Directory is the identity store (the Cognito user pool): sign-in names,
// passwords, the tenant attribute and the role groups.
type Directory interface {
	// CreateUser creates an identity. With a TemporaryPassword the
	// directory sends nothing (rmmbridge delivers the invitation); without
	// one it generates a temporary password and mails the invitation
	// itself. An address already in the pool is a Conflict.
	CreateUser(ctx context.Context, n NewIdentity) (id string, err error)
	// FindUser looks an identity up by email (apperr NotFound).
	FindUser(ctx context.Context, email string) (Identity, error)
	// Reinvite starts the invitation again: a new temporary password
	// (given, or generated and mailed by the directory when "").
	Reinvite(ctx context.Context, id, email, temporaryPassword string) error
	// SetRole puts the identity in the role's group and in no other role
	// group.
	SetRole(ctx context.Context, id, role string) error
	// SetEnabled enables or disables sign-in.
	SetEnabled(ctx context.Context, id string, enabled bool) error
	// SignOut revokes the identity's refresh tokens (a global sign-out).
	SignOut(ctx context.Context, id string) error
	// UpdateProfile changes the sign-in email and the name. An address
	// already in the pool is a Conflict.
	UpdateProfile(ctx context.Context, id, email, name string) error
	// DeleteUser deletes the identity (apperr NotFound when it is gone).
	DeleteUser(ctx context.Context, id string) error
	// SetPassword sets a permanent password (the local stack's demo admin).
	SetPassword(ctx context.Context, id, password string) error
}

// NewIdentity is an identity to create.
type NewIdentity struct {
	Email             string
	Name              string
	TenantID          string
	TemporaryPassword string
}

// Identity is an identity as the directory has it.
type Identity struct {
	ID       string
	Email    string
	TenantID string
	Enabled  bool
}

// Roster is a PSA's members as one integration reaches them.
type Roster struct {
	IntegrationID string
	// ConnectionID is the integration's PSA connection: users are tied to
	// it (and to the member id), not to the integration.
	ConnectionID string
	Members      []psa.Member
}

// MemberSource reads an integration's PSA members (apperr NotFound for an
// unknown integration; a PSA that cannot list members is refused by it).
type MemberSource interface {
	Roster(ctx context.Context, tenantID, integrationID string) (Roster, error)
}

// Mailbox delivers invitations that rmmbridge sends itself (the local
// stack's dev mailbox, printed by `make dev`). In AWS there is none: the
// user pool mails its own invitations.
type Mailbox interface {
	Deliver(ctx context.Context, inv Invitation) error
}

// Invitation is a new user's first sign-in.
type Invitation struct {
	At                time.Time `json:"at"`
	TenantID          string    `json:"tenantId"`
	UserID            string    `json:"userId"`
	Email             string    `json:"email"`
	Name              string    `json:"name"`
	TemporaryPassword string    `json:"temporaryPassword"`
}
