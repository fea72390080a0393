package user

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/limits"
)

// Options configure a Service.
type Options struct {
	// Mailbox delivers invitations with a temporary password rmmbridge
	// chose (the local stack). Nil: the user pool generates the password
	// and mails the invitation itself (AWS).
	Mailbox Mailbox
	// ClaimLease is how long an import holds an email address it is
	// creating a user for (default 2 minutes); an import that dies leaves
	// it to the next attempt after that.
	ClaimLease time.Duration
	Now        func() time.Time
	Rand       io.Reader
}

// Service imports, lists and manages users.
type Service struct {
	store   Store
	dir     Directory
	members MemberSource
	o       Options
}

// NewService returns a Service.
func NewService(store Store, dir Directory, members MemberSource, o Options) *Service {
	if o.ClaimLease <= 0 {
		o.ClaimLease = 2 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Service{store: store, dir: dir, members: members, o: o}
}

func (s *Service) now() time.Time { return s.o.Now().UTC().Truncate(time.Millisecond) }

// ImportRequest is POST /v1/users/import.
type ImportRequest struct {
	TenantID      string
	IntegrationID string
	Actor         string
	Members       []MemberChoice
	DryRun        bool
}

// ImportResult has one item per requested member, in request order.
type ImportResult struct {
	DryRun bool
	Items  []ItemResult
}

// Import creates a user for each chosen member of the integration's PSA:
// in the user pool (with an invitation and a temporary password) and in
// the table (tenant, PSA member and connection, role, source). Members
// that cannot be imported are refused one by one with the reason; the rest
// go through. A dry run says what would happen and writes nothing.
func (s *Service) Import(ctx context.Context, in ImportRequest) (ImportResult, error) {
	var fe []apperr.FieldError
	if e := limits.ID("integrationId", in.IntegrationID); e != nil {
		fe = append(fe, *e)
	}
	if err := checkChoices("members", in.Members, func(int) bool { return true }); err != nil {
		e, _ := apperr.As(err)
		fe = append(fe, e.Fields...)
	}
	if len(fe) > 0 {
		return ImportResult{}, apperr.InvalidFields(limits.Cap(fe)...)
	}
	roster, err := s.members.Roster(ctx, in.TenantID, in.IntegrationID)
	if err != nil {
		return ImportResult{}, fmt.Errorf("read the PSA members of integration %s: %w", in.IntegrationID, err)
	}
	users, err := s.store.AllUsers(ctx, in.TenantID)
	if err != nil {
		return ImportResult{}, fmt.Errorf("read the users of tenant %s: %w", in.TenantID, err)
	}
	if !in.DryRun {
		// What the PSA had at this import: the re-import diff's baseline.
		if err := s.store.AddSeenMembers(ctx, in.TenantID, roster.ConnectionID, memberIDs(roster)); err != nil {
			return ImportResult{}, fmt.Errorf("record the imported roster: %w", err)
		}
	}
	out := ImportResult{DryRun: in.DryRun}
	for _, p := range planImport(roster, users, in.Members) {
		out.Items = append(out.Items, s.importOne(ctx, in.TenantID, in.Actor, roster, p, in.DryRun))
	}
	return out, nil
}

func memberIDs(r Roster) []string {
	ids := make([]string, 0, len(r.Members))
	for _, m := range r.Members {
		ids = append(ids, m.ID)
	}
	return ids
}

func (s *Service) importOne(ctx context.Context, tenantID, actor string, r Roster, p planned, dry bool) ItemResult {
	res := ItemResult{MemberID: p.choice.MemberID, Name: p.member.Name, Email: p.email, Role: p.choice.Role}
	switch {
	case p.refusal != "":
		res.Status, res.Reason = Refused, p.refusal
		return res
	case dry:
		res.Status = WouldCreate
		return res
	}
	now := s.now()
	u := User{TenantID: tenantID, Email: p.email, Name: p.member.Name, Role: p.choice.Role, State: StateActive,
		Source:    Source{Kind: SourcePSA, IntegrationID: r.IntegrationID, ConnectionID: r.ConnectionID, MemberID: p.member.ID, Member: snapshot(p.member)},
		CreatedAt: now, UpdatedAt: now, Version: 1}
	temp := ""
	if s.o.Mailbox != nil {
		var err error
		if temp, err = TemporaryPassword(s.o.Rand); err != nil {
			res.Status, res.Reason = Failed, "the user could not be created now; import the member again"
			return res
		}
	}
	id, err := s.create(ctx, u, actor, temp, s.o.Mailbox != nil)
	switch {
	case err == nil:
		res.Status, res.UserID = Created, id
	case apperr.Is(err, apperr.Conflict) || apperr.Is(err, apperr.Invalid):
		e, _ := apperr.As(err)
		res.Status, res.Reason = Refused, e.Message
	default:
		res.Status, res.Reason = Failed, "the user could not be created now; import the member again"
		if e, ok := apperr.As(err); ok && e.Kind != apperr.Internal {
			res.Reason = e.Message + "; import the member again"
		}
	}
	return res
}

// create makes one user: reserve the address in the table, create the
// identity with the temporary password temp ("" lets the pool generate
// and mail one), adopting one a failed attempt of this tenant left behind,
// put it in its role group, write the record, and (deliver) put the
// invitation in the mailbox. A failure after the reservation leaves it to
// run out, so a retry adopts the identity instead of tripping over it. It
// returns the user's id.
func (s *Service) create(ctx context.Context, u User, actor, temp string, deliver bool) (string, error) {
	owner, err := s.randomID("import/")
	if err != nil {
		return "", err
	}
	now := s.now()
	holder, err := s.store.ClaimEmail(ctx, u.TenantID, u.Email, owner, now.Add(s.o.ClaimLease), now)
	if apperr.Is(err, apperr.Conflict) {
		if holder.UserID != "" {
			return "", apperr.New(apperr.Conflict, "the email address is already used by user %s", holder.UserID)
		}
		return "", apperr.New(apperr.Conflict, "another import of this email address is under way; try again in a few minutes")
	}
	if err != nil {
		return "", fmt.Errorf("reserve the email address: %w", err)
	}
	id, err := s.dir.CreateUser(ctx, NewIdentity{Email: u.Email, Name: u.Name, TenantID: u.TenantID, TemporaryPassword: temp})
	if apperr.Is(err, apperr.Conflict) {
		id, err = s.adopt(ctx, u, temp)
	}
	if err != nil {
		if apperr.Is(err, apperr.Conflict) {
			_ = s.store.ReleaseEmail(ctx, u.TenantID, u.Email, owner)
		}
		return "", err
	}
	u.ID = id
	if err := s.dir.SetRole(ctx, id, u.Role); err != nil {
		return "", fmt.Errorf("put user %s in group %s: %w", id, u.Role, err)
	}
	if err := s.store.CreateUser(ctx, u, owner, event(now, actor, "user.create", nil, &u)); err != nil {
		return "", fmt.Errorf("store user %s: %w", id, err)
	}
	if deliver {
		inv := Invitation{At: now, TenantID: u.TenantID, UserID: id, Email: u.Email, Name: u.Name, TemporaryPassword: temp}
		if err := s.o.Mailbox.Deliver(ctx, inv); err != nil {
			return id, fmt.Errorf("deliver the invitation of user %s: %w", id, err)
		}
	}
	return id, nil
}

// adopt takes over the identity an earlier attempt of the same tenant
// created for this address and could not finish (no user record holds
// it): its invitation starts again. An identity of another tenant, or one
// a user record holds, is a Conflict.
func (s *Service) adopt(ctx context.Context, u User, temp string) (string, error) {
	taken := apperr.New(apperr.Conflict, "the email address is already registered with rmmbridge")
	ident, err := s.dir.FindUser(ctx, u.Email)
	if apperr.Is(err, apperr.NotFound) {
		return "", taken
	}
	if err != nil {
		return "", fmt.Errorf("look up the existing identity: %w", err)
	}
	if ident.TenantID != u.TenantID {
		return "", taken
	}
	if _, err := s.store.GetUser(ctx, u.TenantID, ident.ID); err == nil {
		return "", apperr.New(apperr.Conflict, "the email address is already used by user %s", ident.ID)
	} else if !apperr.Is(err, apperr.NotFound) {
		return "", err
	}
	if err := s.dir.Reinvite(ctx, ident.ID, u.Email, temp); err != nil {
		return "", fmt.Errorf("restart the invitation of identity %s: %w", ident.ID, err)
	}
	if !ident.Enabled {
		if err := s.dir.SetEnabled(ctx, ident.ID, true); err != nil {
			return "", err
		}
	}
	return ident.ID, nil
}

// Changes compares the integration's PSA members with the users imported
// from its PSA connection: new, inactive, removed and renamed members.
// Nothing is applied.
func (s *Service) Changes(ctx context.Context, tenantID, integrationID string) (Roster, []Change, error) {
	if e := limits.ID("integrationId", integrationID); e != nil {
		return Roster{}, nil, apperr.InvalidFields(*e)
	}
	roster, err := s.members.Roster(ctx, tenantID, integrationID)
	if err != nil {
		return Roster{}, nil, fmt.Errorf("read the PSA members of integration %s: %w", integrationID, err)
	}
	users, err := s.store.AllUsers(ctx, tenantID)
	if err != nil {
		return Roster{}, nil, fmt.Errorf("read the users of tenant %s: %w", tenantID, err)
	}
	seen, err := s.store.SeenMembers(ctx, tenantID, roster.ConnectionID)
	if err != nil {
		return Roster{}, nil, fmt.Errorf("read the imported roster: %w", err)
	}
	return roster, diff(roster, users, seen), nil
}

// ChangeChoice is one change the admin selected.
type ChangeChoice struct {
	MemberID string
	Action   string
	Role     string // for ActionCreate
}

// ApplyRequest applies selected re-import changes.
type ApplyRequest struct {
	TenantID      string
	IntegrationID string
	Actor         string
	Changes       []ChangeChoice
	DryRun        bool
}

// ApplyChanges applies the selected changes, and nothing else: each must
// still be pending (the PSA may have changed again since they were shown),
// else it is refused. New members are imported with their role, inactive
// and removed members' users are disabled, renamed members' users take the
// PSA's name and email.
func (s *Service) ApplyChanges(ctx context.Context, in ApplyRequest) (ImportResult, error) {
	var fe []apperr.FieldError
	if e := limits.ID("integrationId", in.IntegrationID); e != nil {
		fe = append(fe, *e)
	}
	choices := make([]MemberChoice, len(in.Changes))
	for i, c := range in.Changes {
		choices[i] = MemberChoice{MemberID: c.MemberID, Role: c.Role}
		switch c.Action {
		case ActionCreate, ActionDisable, ActionUpdate:
		default:
			fe = append(fe, apperr.FieldError{Field: fmt.Sprintf("changes[%d].action", i), Message: "must be create, disable or update"})
		}
		if c.Action != ActionCreate && c.Role != "" {
			fe = append(fe, apperr.FieldError{Field: fmt.Sprintf("changes[%d].role", i), Message: "is only for create"})
		}
	}
	if err := checkChoices("changes", choices, func(i int) bool { return in.Changes[i].Action == ActionCreate }); err != nil {
		e, _ := apperr.As(err)
		fe = append(fe, e.Fields...)
	}
	if len(fe) > 0 {
		return ImportResult{}, apperr.InvalidFields(limits.Cap(fe)...)
	}
	roster, changes, err := s.Changes(ctx, in.TenantID, in.IntegrationID)
	if err != nil {
		return ImportResult{}, err
	}
	pending := map[string]Change{}
	for _, c := range changes {
		pending[c.MemberID] = c
	}
	out := ImportResult{DryRun: in.DryRun}
	var users []User
	for _, c := range in.Changes {
		ch, ok := pending[c.MemberID]
		res := ItemResult{MemberID: c.MemberID, Action: c.Action, Role: c.Role, UserID: ch.UserID}
		if ch.After != nil {
			res.Name, res.Email = ch.After.Name, ch.After.Email
		} else if ch.Before != nil {
			res.Name, res.Email = ch.Before.Name, ch.Before.Email
		}
		switch {
		case !ok || ch.Action != c.Action:
			res.Status, res.Reason = Refused, "no pending "+c.Action+" change for this member; read the changes again"
		case in.DryRun:
			res.Status = WouldApply
		case c.Action == ActionCreate:
			if users == nil {
				if users, err = s.store.AllUsers(ctx, in.TenantID); err != nil {
					return ImportResult{}, fmt.Errorf("read the users of tenant %s: %w", in.TenantID, err)
				}
			}
			if err := s.store.AddSeenMembers(ctx, in.TenantID, roster.ConnectionID, []string{c.MemberID}); err != nil {
				return ImportResult{}, fmt.Errorf("record the imported roster: %w", err)
			}
			r := s.importOne(ctx, in.TenantID, in.Actor, roster, planImport(roster, users, []MemberChoice{{MemberID: c.MemberID, Role: c.Role}})[0], false)
			res.Status, res.Reason, res.UserID = r.Status, r.Reason, r.UserID
			if r.Status == Created {
				res.Status = Applied
				users = append(users, User{ID: r.UserID, Email: r.Email, Source: Source{Kind: SourcePSA, ConnectionID: roster.ConnectionID, MemberID: c.MemberID}})
			}
		default:
			res.Status, res.Reason = s.applyToUser(ctx, in.TenantID, in.Actor, ch)
		}
		out.Items = append(out.Items, res)
	}
	return out, nil
}

// applyToUser applies a disable or update change to its user.
func (s *Service) applyToUser(ctx context.Context, tenantID, actor string, ch Change) (status, reason string) {
	u, err := s.store.GetUser(ctx, tenantID, ch.UserID)
	if err != nil {
		return outcome(err)
	}
	after := u
	action := "user.disable"
	switch ch.Action {
	case ActionDisable:
		after.Disabled = true
		after.Source.Member.Active = false
		if ch.After != nil {
			after.Source.Member = *ch.After
		}
	case ActionUpdate:
		action = "user.update"
		after.Name, after.Source.Member = ch.After.Name, *ch.After
		if ch.After.Email != "" {
			if why := checkEmail(ch.After.Email); why != "" {
				return Refused, why
			}
			after.Email = ch.After.Email
		}
	}
	if _, err := s.change(ctx, u, after, actor, action); err != nil {
		return outcome(err)
	}
	return Applied, ""
}

// outcome turns an error into an item status and a safe reason.
func outcome(err error) (string, string) {
	e, ok := apperr.As(err)
	switch {
	case ok && (e.Kind == apperr.Conflict || e.Kind == apperr.Invalid || e.Kind == apperr.NotFound):
		return Refused, e.Message
	case ok && e.Kind != apperr.Internal:
		return Failed, e.Message
	}
	return Failed, "the change could not be applied now; try again"
}

// Get returns one user of the tenant.
func (s *Service) Get(ctx context.Context, tenantID, id string) (User, error) {
	u, err := s.store.GetUser(ctx, tenantID, id)
	if err != nil {
		return User{}, fmt.Errorf("read user %s: %w", id, notFound(err, id))
	}
	return u, nil
}

func notFound(err error, id string) error {
	if apperr.Is(err, apperr.NotFound) {
		return apperr.New(apperr.NotFound, "no user %s", id)
	}
	return err
}

// List returns a page of the tenant's users.
func (s *Service) List(ctx context.Context, tenantID string, limit int, cursor string) ([]User, string, error) {
	return s.store.ListUsers(ctx, tenantID, limit, cursor)
}

// Patch is PATCH /v1/users/{id}: the fields to change.
type Patch struct {
	Role     *string
	Disabled *bool
}

// Update changes a user's role or disables or enables it. The record
// changes first — it is what authorization trusts, and the tenant's last
// enabled admin cannot be demoted or disabled (LastAdminError) — then the
// user pool follows (groups, sign-in, refresh tokens revoked on disable).
// Repeating a request repairs a user pool that did not follow.
func (s *Service) Update(ctx context.Context, tenantID, id string, p Patch, actor string) (User, error) {
	if p.Role == nil && p.Disabled == nil {
		return User{}, apperr.InvalidFields(apperr.FieldError{Field: "(body)", Message: "give role or disabled"})
	}
	if p.Role != nil && !ValidRole(*p.Role) {
		return User{}, apperr.InvalidFields(apperr.FieldError{Field: "role", Message: roleMessage})
	}
	u, err := s.Get(ctx, tenantID, id)
	if err != nil {
		return User{}, err
	}
	after := u
	if p.Role != nil {
		after.Role = *p.Role
	}
	if p.Disabled != nil {
		after.Disabled = *p.Disabled
	}
	action := "user.update"
	switch {
	case after.Disabled && !u.Disabled:
		action = "user.disable"
	case !after.Disabled && u.Disabled:
		action = "user.enable"
	}
	return s.change(ctx, u, after, actor, action)
}

// change writes before → after, then makes the user pool agree.
func (s *Service) change(ctx context.Context, before, after User, actor, action string) (User, error) {
	if before.State != StateActive {
		return User{}, apperr.New(apperr.Conflict, "user %s is being deleted; delete it again to finish", before.ID)
	}
	if after != before {
		after.UpdatedAt, after.Version = s.now(), before.Version+1
		if err := s.store.UpdateUser(ctx, before, after, event(after.UpdatedAt, actor, action, &before, &after)); err != nil {
			return User{}, fmt.Errorf("update user %s: %w", before.ID, err)
		}
	}
	if err := s.follow(ctx, before, after); err != nil {
		return User{}, apperr.Wrap(apperr.Unavailable, err, "user %s was changed, but the user pool did not follow; repeat the request", before.ID)
	}
	return after, nil
}

// follow makes the user pool agree with the record after.
func (s *Service) follow(ctx context.Context, before, after User) error {
	if after.Email != before.Email || after.Name != before.Name {
		if err := s.dir.UpdateProfile(ctx, after.ID, after.Email, after.Name); err != nil {
			return fmt.Errorf("update the profile: %w", err)
		}
	}
	if err := s.dir.SetRole(ctx, after.ID, after.Role); err != nil {
		return fmt.Errorf("set the role group: %w", err)
	}
	if err := s.dir.SetEnabled(ctx, after.ID, !after.Disabled); err != nil {
		return fmt.Errorf("enable or disable sign-in: %w", err)
	}
	if after.Disabled && !before.Disabled {
		if err := s.dir.SignOut(ctx, after.ID); err != nil {
			return fmt.Errorf("revoke the refresh tokens: %w", err)
		}
	}
	return nil
}

// Delete deletes a user: the record is marked deleting (refused
// everywhere from then on; the last admin cannot be deleted), the identity
// is deleted, then the record. A DELETE of a user whose deletion was
// interrupted finishes it.
func (s *Service) Delete(ctx context.Context, tenantID, id, actor string) error {
	u, err := s.Get(ctx, tenantID, id)
	if err != nil {
		return err
	}
	if u.State == StateActive {
		after := u
		after.State, after.Disabled, after.UpdatedAt, after.Version = StateDeleting, true, s.now(), u.Version+1
		if err := s.store.UpdateUser(ctx, u, after, event(after.UpdatedAt, actor, "user.delete", &u, &after)); err != nil {
			return fmt.Errorf("delete user %s: %w", id, err)
		}
		u = after
	}
	if err := s.dir.DeleteUser(ctx, id); err != nil && !apperr.Is(err, apperr.NotFound) {
		return apperr.Wrap(apperr.Unavailable, err, "user %s is disabled, but the user pool could not delete it; delete it again", id)
	}
	if err := s.store.DeleteUser(ctx, u); err != nil && !apperr.Is(err, apperr.NotFound) {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	return nil
}

// SeedRequest is a user the local stack creates with a known password.
type SeedRequest struct {
	TenantID string
	Email    string
	Name     string
	Role     string
	Password string
}

// Seed makes sure a user exists with a permanent password (the local
// stack's demo admin), creating or repairing it; re-running it resets the
// password.
func (s *Service) Seed(ctx context.Context, in SeedRequest) (User, error) {
	email := NormalizeEmail(in.Email)
	if why := checkEmail(email); why != "" || !ValidRole(in.Role) {
		return User{}, apperr.New(apperr.Invalid, "seed user %q: bad email or role", in.Email)
	}
	users, err := s.store.AllUsers(ctx, in.TenantID)
	if err != nil {
		return User{}, err
	}
	var u User
	for _, x := range users {
		if x.Email == email {
			u = x
		}
	}
	if u.ID == "" {
		now := s.now()
		u = User{TenantID: in.TenantID, Email: email, Name: in.Name, Role: in.Role, State: StateActive,
			Source: Source{Kind: SourceSeed}, CreatedAt: now, UpdatedAt: now, Version: 1}
		// Created with the password as its temporary one (no invitation
		// mail), made permanent below.
		id, err := s.create(ctx, u, "seed", in.Password, false)
		if err != nil {
			return User{}, fmt.Errorf("seed user %s: %w", email, err)
		}
		if u, err = s.store.GetUser(ctx, in.TenantID, id); err != nil {
			return User{}, err
		}
	}
	if err := s.dir.SetPassword(ctx, u.ID, in.Password); err != nil {
		return User{}, fmt.Errorf("set the password of seed user %s: %w", u.ID, err)
	}
	if err := s.follow(ctx, u, u); err != nil {
		return User{}, err
	}
	return u, nil
}

func (s *Service) randomID(prefix string) (string, error) {
	b := make([]byte, 8)
	if _, err := io.ReadFull(s.o.Rand, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}

// Password alphabets: TemporaryPassword draws at least one of each, so the
// result meets the user pool's policy (template.yaml: 12+ characters with
// upper and lower case letters, digits and symbols). The symbols are ones
// that need no quoting in a shell or JSON string.
const (
	lowerChars  = "abcdefghijkmnopqrstuvwxyz"
	upperChars  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	digitChars  = "23456789"
	symbolChars = "-_.=+@%"
)

// TemporaryPassword returns a random 16-character password that meets the
// pool's policy.
func TemporaryPassword(r io.Reader) (string, error) {
	sets := []string{lowerChars, upperChars, digitChars, symbolChars}
	all := lowerChars + upperChars + digitChars + symbolChars
	const n = 16
	b := make([]byte, n+n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	out := make([]byte, n)
	for i := range out {
		set := all
		if i < len(sets) {
			set = sets[i]
		}
		out[i] = set[int(b[i])%len(set)]
	}
	// Shuffle so the classes are not in fixed places.
	for i := n - 1; i > 0; i-- {
		j := int(b[n+i]) % (i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}
