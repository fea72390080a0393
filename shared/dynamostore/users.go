package dynamostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// Users stores users and everything their rules need, all under the
// tenant's partition T#<tenant>:
//
//	USER#<id>            the user (the authorizer reads it: disabled, role, sign-out)
//	USEREMAIL#<hash>     the address, reserved by an import, then the user's
//	USERS                the count of enabled admins (the last-admin rule)
//	USERROSTER#<conn>    the PSA member ids seen at the imports of a connection
//
// and the audit trail at T#<tenant>#AUDIT. Every change to a user, its
// address, the admin count and its audit event is one transaction.
type Users struct{ s *Store }

var _ user.Store = Users{}

// NewUsers returns the users repository over s.
func NewUsers(s *Store) Users { return Users{s: s} }

type userItem struct {
	PK          string              `dynamodbav:"pk"`
	SK          string              `dynamodbav:"sk"`
	ID          string              `dynamodbav:"id"`
	Email       string              `dynamodbav:"email"`
	Name        string              `dynamodbav:"name"`
	Role        string              `dynamodbav:"role"`
	Disabled    bool                `dynamodbav:"disabled"`
	State       string              `dynamodbav:"state"`
	Source      string              `dynamodbav:"source"`
	Integration string              `dynamodbav:"integrationId,omitempty"`
	Connection  string              `dynamodbav:"connectionId,omitempty"`
	MemberID    string              `dynamodbav:"memberId,omitempty"`
	Member      user.MemberSnapshot `dynamodbav:"member"`
	SignedOutAt time.Time           `dynamodbav:"signedOutAt,omitempty"`
	CreatedAt   time.Time           `dynamodbav:"createdAt"`
	UpdatedAt   time.Time           `dynamodbav:"updatedAt"`
	Version     int64               `dynamodbav:"version"`
}

type emailItem struct {
	PK           string `dynamodbav:"pk"`
	SK           string `dynamodbav:"sk"`
	State        string `dynamodbav:"state"` // pending | user
	Owner        string `dynamodbav:"owner,omitempty"`
	UserID       string `dynamodbav:"userId,omitempty"`
	LeaseUntilMs int64  `dynamodbav:"leaseUntilMs,omitempty"`
}

// userAuditItem is an audit event about a user (same partition and shape
// as the mappings' events, with user snapshots).
type userAuditItem struct {
	PK     string     `dynamodbav:"pk"`
	SK     string     `dynamodbav:"sk"`
	At     time.Time  `dynamodbav:"at"`
	Actor  string     `dynamodbav:"actor"`
	Action string     `dynamodbav:"action"`
	Target string     `dynamodbav:"target"`
	Before *auditUser `dynamodbav:"before,omitempty"`
	After  *auditUser `dynamodbav:"after,omitempty"`
	TTL    int64      `dynamodbav:"ttl"`
}

// auditUser is what the audit keeps of a user.
type auditUser struct {
	Email    string `dynamodbav:"email"`
	Name     string `dynamodbav:"name"`
	Role     string `dynamodbav:"role"`
	Disabled bool   `dynamodbav:"disabled"`
	State    string `dynamodbav:"state"`
	MemberID string `dynamodbav:"memberId,omitempty"`
}

const (
	emailPending = "pending"
	emailUser    = "user"
)

func tenantPartition(tenantID string) string { return "T#" + tenantID }

func userKey(tenantID, id string) Key { return Key{PK: tenantPartition(tenantID), SK: "USER#" + id} }

func emailKey(tenantID, email string) Key {
	return Key{PK: tenantPartition(tenantID), SK: "USEREMAIL#" + user.EmailKey(email)}
}

func adminCountKey(tenantID string) Key { return Key{PK: tenantPartition(tenantID), SK: "USERS"} }

func rosterKey(tenantID, connectionID string) Key {
	return Key{PK: tenantPartition(tenantID), SK: "USERROSTER#" + connectionID}
}

func toUserItem(u user.User) userItem {
	k := userKey(u.TenantID, u.ID)
	return userItem{PK: k.PK, SK: k.SK, ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled, State: u.State,
		Source: u.Source.Kind, Integration: u.Source.IntegrationID, Connection: u.Source.ConnectionID, MemberID: u.Source.MemberID,
		Member: u.Source.Member, SignedOutAt: u.SignedOutAt, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Version: u.Version}
}

func (it userItem) user(tenantID string) user.User {
	return user.User{ID: it.ID, TenantID: tenantID, Email: it.Email, Name: it.Name, Role: it.Role, Disabled: it.Disabled, State: it.State,
		Source:      user.Source{Kind: it.Source, IntegrationID: it.Integration, ConnectionID: it.Connection, MemberID: it.MemberID, Member: it.Member},
		SignedOutAt: it.SignedOutAt, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, Version: it.Version}
}

func toAuditUser(u *user.User) *auditUser {
	if u == nil {
		return nil
	}
	return &auditUser{Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled, State: u.State, MemberID: u.Source.MemberID}
}

func userAuditOp(tenantID string, e user.AuditEvent) (TxOp, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return TxOp{}, fmt.Errorf("audit id: %w", err)
	}
	return TxPutNew(userAuditItem{PK: "T#" + tenantID + "#AUDIT", SK: e.At.UTC().Format(auditTimeLayout) + "#" + hex.EncodeToString(b),
		At: e.At, Actor: e.Actor, Action: e.Action, Target: e.Target, Before: toAuditUser(e.Before), After: toAuditUser(e.After),
		TTL: e.At.Add(AuditRetention).Unix()}), nil
}

// adminCountOp moves the admin count by delta; a decrease is conditional on
// leaving at least one.
func adminCountOp(tenantID string, delta int) TxOp {
	upd := expression.Add(expression.Name("admins"), expression.Value(delta))
	if delta >= 0 {
		return TxUpdate(adminCountKey(tenantID), upd, nil)
	}
	cond := expression.Name("admins").GreaterThanEqual(expression.Value(1 - delta))
	return TxUpdate(adminCountKey(tenantID), upd, &cond)
}

// failedOp reports whether the transaction's condition failed on op i.
func failedOp(err error, i int) bool {
	var tx *TxCanceledError
	return errors.As(err, &tx) && slices.Contains(tx.Failed, i)
}

// ClaimEmail implements user.Store.
func (r Users) ClaimEmail(ctx context.Context, tenantID, email, owner string, leaseUntil, now time.Time) (user.EmailHolder, error) {
	k := emailKey(tenantID, email)
	cond := NotExists().Or(expression.And(
		expression.Name("state").Equal(expression.Value(emailPending)),
		expression.Name("leaseUntilMs").LessThan(expression.Value(now.UnixMilli()))))
	err := r.s.Put(ctx, emailItem{PK: k.PK, SK: k.SK, State: emailPending, Owner: owner, LeaseUntilMs: leaseUntil.UnixMilli()}, &cond)
	if apperr.Is(err, apperr.Conflict) {
		var it emailItem
		if gerr := r.s.Get(ctx, k, &it); gerr != nil {
			return user.EmailHolder{Pending: true}, fmt.Errorf("reserve an email address: %w", err)
		}
		return user.EmailHolder{UserID: it.UserID, Pending: it.State == emailPending}, fmt.Errorf("reserve an email address: %w", err)
	}
	if err != nil {
		return user.EmailHolder{}, fmt.Errorf("reserve an email address: %w", err)
	}
	return user.EmailHolder{}, nil
}

// ReleaseEmail implements user.Store.
func (r Users) ReleaseEmail(ctx context.Context, tenantID, email, owner string) error {
	cond := expression.And(expression.Name("state").Equal(expression.Value(emailPending)), expression.Name("owner").Equal(expression.Value(owner)))
	err := r.s.Delete(ctx, emailKey(tenantID, email), &cond)
	if err != nil && !apperr.Is(err, apperr.Conflict) {
		return fmt.Errorf("release an email address: %w", err)
	}
	return nil
}

// CreateUser implements user.Store.
func (r Users) CreateUser(ctx context.Context, u user.User, owner string, e user.AuditEvent) error {
	claimed := expression.And(expression.Name("state").Equal(expression.Value(emailPending)), expression.Name("owner").Equal(expression.Value(owner)))
	mine := emailItem{State: emailUser, UserID: u.ID}
	ek := emailKey(u.TenantID, u.Email)
	mine.PK, mine.SK = ek.PK, ek.SK
	audit, err := userAuditOp(u.TenantID, e)
	if err != nil {
		return err
	}
	ops := []TxOp{TxPutNew(toUserItem(u)), TxPut(mine, &claimed), audit}
	if d := user.AdminDelta(user.User{}, u); d != 0 {
		ops = append(ops, adminCountOp(u.TenantID, d))
	}
	if err := r.s.Transact(ctx, ops...); err != nil {
		if failedOp(err, 1) {
			return fmt.Errorf("create user %s: %w", u.ID, apperr.Wrap(apperr.Conflict, err, "the email address reservation ran out; import the member again"))
		}
		return fmt.Errorf("create user %s: %w", u.ID, err)
	}
	return nil
}

// GetUser implements user.Store.
func (r Users) GetUser(ctx context.Context, tenantID, id string) (user.User, error) {
	var it userItem
	if err := r.s.Get(ctx, userKey(tenantID, id), &it); err != nil {
		return user.User{}, fmt.Errorf("get user %s: %w", id, err)
	}
	return it.user(tenantID), nil
}

// UserStatus reads what the authorizer needs of a user (strongly
// consistent: a disable is seen at once).
func (r Users) UserStatus(ctx context.Context, tenantID, id string) (user.Status, error) {
	u, err := r.GetUser(ctx, tenantID, id)
	if err != nil {
		return user.Status{}, err
	}
	return u.Status(), nil
}

// ListUsers implements user.Store.
func (r Users) ListUsers(ctx context.Context, tenantID string, limit int, cursor string) ([]user.User, string, error) {
	var items []userItem
	next, err := r.s.Query(ctx, Query{PK: tenantPartition(tenantID), SKPrefix: "USER#", Limit: int32(limit), Cursor: cursor}, &items)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	out := make([]user.User, 0, len(items))
	for _, it := range items {
		out = append(out, it.user(tenantID))
	}
	return out, next, nil
}

// AllUsers implements user.Store.
func (r Users) AllUsers(ctx context.Context, tenantID string) ([]user.User, error) {
	var items []userItem
	if err := r.s.QueryAll(ctx, Query{PK: tenantPartition(tenantID), SKPrefix: "USER#", ConsistentRead: true}, &items); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]user.User, 0, len(items))
	for _, it := range items {
		out = append(out, it.user(tenantID))
	}
	return out, nil
}

// UpdateUser implements user.Store.
func (r Users) UpdateUser(ctx context.Context, before, after user.User, e user.AuditEvent) error {
	if before.ID != after.ID || before.TenantID != after.TenantID {
		return apperr.New(apperr.Internal, "update user %s: the id and tenant cannot change", before.ID)
	}
	current := expression.Name("version").Equal(expression.Value(before.Version))
	audit, err := userAuditOp(before.TenantID, e)
	if err != nil {
		return err
	}
	ops := []TxOp{TxPut(toUserItem(after), &current), audit}
	countAt, emailAt := -1, -1
	if d := user.AdminDelta(before, after); d != 0 {
		countAt = len(ops)
		ops = append(ops, adminCountOp(before.TenantID, d))
	}
	if after.Email != before.Email {
		nk := emailKey(after.TenantID, after.Email)
		emailAt = len(ops)
		ops = append(ops, TxPutNew(emailItem{PK: nk.PK, SK: nk.SK, State: emailUser, UserID: after.ID}))
		ownedBy := expression.Name("userId").Equal(expression.Value(before.ID))
		ops = append(ops, TxDelete(emailKey(before.TenantID, before.Email), &ownedBy))
	}
	err = r.s.Transact(ctx, ops...)
	switch {
	case err == nil:
		return nil
	case failedOp(err, 0):
		return fmt.Errorf("update user %s: %w", before.ID, user.ChangedError(before.ID))
	case countAt >= 0 && failedOp(err, countAt):
		return fmt.Errorf("update user %s: %w", before.ID, user.LastAdminError())
	case emailAt >= 0 && failedOp(err, emailAt):
		return fmt.Errorf("update user %s: %w", before.ID, apperr.New(apperr.Conflict, "the email address is already used by another user"))
	}
	return fmt.Errorf("update user %s: %w", before.ID, err)
}

// DeleteUser implements user.Store.
func (r Users) DeleteUser(ctx context.Context, u user.User) error {
	cond := expression.And(expression.Name("version").Equal(expression.Value(u.Version)), expression.Name("state").Equal(expression.Value(user.StateDeleting)))
	ownedBy := expression.Name("userId").Equal(expression.Value(u.ID))
	err := r.s.Transact(ctx, TxDelete(userKey(u.TenantID, u.ID), &cond), TxDelete(emailKey(u.TenantID, u.Email), &ownedBy))
	switch {
	case err == nil:
		return nil
	case failedOp(err, 0):
		return fmt.Errorf("delete user %s: %w", u.ID, user.ChangedError(u.ID))
	case failedOp(err, 1):
		// The address is not the user's (an interrupted change): delete
		// the user alone.
		if err := r.s.Delete(ctx, userKey(u.TenantID, u.ID), &cond); err != nil {
			return fmt.Errorf("delete user %s: %w", u.ID, err)
		}
		return nil
	}
	return fmt.Errorf("delete user %s: %w", u.ID, err)
}

// SignOut implements user.Store.
func (r Users) SignOut(ctx context.Context, tenantID, id string, at time.Time) error {
	cond := Exists()
	// The version moves too: an update read before the sign-out must not
	// put the old sign-out time back.
	upd := expression.Set(expression.Name("signedOutAt"), expression.Value(at.UTC().Format(time.RFC3339Nano))).
		Add(expression.Name("version"), expression.Value(1))
	if err := r.s.Update(ctx, userKey(tenantID, id), upd, &cond, nil); err != nil {
		if apperr.Is(err, apperr.Conflict) {
			return fmt.Errorf("sign user %s out: %w", id, apperr.New(apperr.NotFound, "no user %s", id))
		}
		return fmt.Errorf("sign user %s out: %w", id, err)
	}
	return nil
}

type rosterItem struct {
	PK      string   `dynamodbav:"pk"`
	SK      string   `dynamodbav:"sk"`
	Members []string `dynamodbav:"members,stringset,omitempty"`
}

// maxRosterIDs bounds the member ids kept per connection (an item holds at
// most 400 KB).
const maxRosterIDs = 20000

// SeenMembers implements user.Store.
func (r Users) SeenMembers(ctx context.Context, tenantID, connectionID string) ([]string, error) {
	var it rosterItem
	err := r.s.Get(ctx, rosterKey(tenantID, connectionID), &it)
	if apperr.Is(err, apperr.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the imported roster: %w", err)
	}
	return it.Members, nil
}

// AddSeenMembers implements user.Store.
func (r Users) AddSeenMembers(ctx context.Context, tenantID, connectionID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > maxRosterIDs {
		ids = ids[:maxRosterIDs]
	}
	upd := expression.Add(expression.Name("members"), expression.Value(types.AttributeValueMemberSS{Value: ids}))
	if err := r.s.Update(ctx, rosterKey(tenantID, connectionID), upd, nil, nil); err != nil {
		return fmt.Errorf("record the imported roster: %w", err)
	}
	return nil
}

// AuditEvent is a stored audit event, as tests and support read it.
type AuditEvent struct {
	At     time.Time
	Actor  string
	Action string
	Target string
}

// AuditTrail returns a tenant's audit events of every kind (mappings and
// users), newest first.
func AuditTrail(ctx context.Context, s *Store, tenantID string, limit int32) ([]AuditEvent, error) {
	var items []struct {
		At     time.Time `dynamodbav:"at"`
		Actor  string    `dynamodbav:"actor"`
		Action string    `dynamodbav:"action"`
		Target string    `dynamodbav:"target"`
	}
	if _, err := s.Query(ctx, Query{PK: "T#" + tenantID + "#AUDIT", Limit: limit, Descending: true}, &items); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	out := make([]AuditEvent, 0, len(items))
	for _, it := range items {
		out = append(out, AuditEvent{At: it.At, Actor: it.Actor, Action: it.Action, Target: it.Target})
	}
	return out, nil
}
