package user_test

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// memStore is an in-memory user.Store with the table's semantics
// (conditional writes, the admin count, all-or-nothing changes).
type memStore struct {
	mu     sync.Mutex
	users  map[string]user.User // tenant/id
	emails map[string]claim     // tenant/email
	admins map[string]int       // tenant
	seen   map[string][]string  // tenant/connection
	audit  []user.AuditEvent
	// failNext makes the next CreateUser fail (a table outage).
	failNext error
}

type claim struct {
	owner, userID string
	until         time.Time
}

func newMemStore() *memStore {
	return &memStore{users: map[string]user.User{}, emails: map[string]claim{}, admins: map[string]int{}, seen: map[string][]string{}}
}

func (m *memStore) ClaimEmail(_ context.Context, tenantID, email, owner string, until, now time.Time) (user.EmailHolder, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := tenantID + "/" + email
	if c, ok := m.emails[k]; ok {
		if c.userID != "" {
			return user.EmailHolder{UserID: c.userID}, apperr.New(apperr.Conflict, "taken")
		}
		if c.until.After(now) {
			return user.EmailHolder{Pending: true}, apperr.New(apperr.Conflict, "pending")
		}
	}
	m.emails[k] = claim{owner: owner, until: until}
	return user.EmailHolder{}, nil
}

func (m *memStore) ReleaseEmail(_ context.Context, tenantID, email, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := tenantID + "/" + email
	if c, ok := m.emails[k]; ok && c.owner == owner && c.userID == "" {
		delete(m.emails, k)
	}
	return nil
}

func counts(u user.User) bool {
	return u.Role == user.RoleAdmin && !u.Disabled && u.State == user.StateActive
}

func (m *memStore) CreateUser(_ context.Context, u user.User, owner string, e user.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failNext; err != nil {
		m.failNext = nil
		return err
	}
	k := u.TenantID + "/" + u.Email
	if c, ok := m.emails[k]; !ok || c.owner != owner || c.userID != "" {
		return apperr.New(apperr.Conflict, "claim lost")
	}
	if _, ok := m.users[u.TenantID+"/"+u.ID]; ok {
		return apperr.New(apperr.Conflict, "exists")
	}
	m.users[u.TenantID+"/"+u.ID] = u
	m.emails[k] = claim{owner: owner, userID: u.ID}
	if counts(u) {
		m.admins[u.TenantID]++
	}
	m.audit = append(m.audit, e)
	return nil
}

func (m *memStore) GetUser(_ context.Context, tenantID, id string) (user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[tenantID+"/"+id]
	if !ok {
		return user.User{}, apperr.New(apperr.NotFound, "not found")
	}
	return u, nil
}

func (m *memStore) AllUsers(_ context.Context, tenantID string) ([]user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []user.User
	for _, u := range m.users {
		if u.TenantID == tenantID {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memStore) ListUsers(ctx context.Context, tenantID string, limit int, cursor string) ([]user.User, string, error) {
	all, _ := m.AllUsers(ctx, tenantID)
	start, _ := strconv.Atoi(cursor)
	end := min(start+limit, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[start:end], next, nil
}

func (m *memStore) UpdateUser(_ context.Context, before, after user.User, e user.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.users[before.TenantID+"/"+before.ID]
	if !ok || cur.Version != before.Version {
		return user.ChangedError(before.ID)
	}
	d := user.AdminDelta(before, after)
	if d < 0 && m.admins[before.TenantID]+d < 1 {
		return user.LastAdminError()
	}
	if after.Email != before.Email {
		nk := after.TenantID + "/" + after.Email
		if _, taken := m.emails[nk]; taken {
			return apperr.New(apperr.Conflict, "the email address is already used")
		}
		delete(m.emails, before.TenantID+"/"+before.Email)
		m.emails[nk] = claim{userID: after.ID}
	}
	m.admins[before.TenantID] += d
	m.users[after.TenantID+"/"+after.ID] = after
	m.audit = append(m.audit, e)
	return nil
}

func (m *memStore) DeleteUser(_ context.Context, u user.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.users[u.TenantID+"/"+u.ID]
	if !ok || cur.Version != u.Version || cur.State != user.StateDeleting {
		return user.ChangedError(u.ID)
	}
	delete(m.users, u.TenantID+"/"+u.ID)
	delete(m.emails, u.TenantID+"/"+u.Email)
	return nil
}

func (m *memStore) SignOut(_ context.Context, tenantID, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[tenantID+"/"+id]
	if !ok {
		return apperr.New(apperr.NotFound, "not found")
	}
	u.SignedOutAt = at
	m.users[tenantID+"/"+id] = u
	return nil
}

func (m *memStore) SeenMembers(_ context.Context, tenantID, conn string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen[tenantID+"/"+conn]...), nil
}

func (m *memStore) AddSeenMembers(_ context.Context, tenantID, conn string, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	have := map[string]bool{}
	for _, id := range m.seen[tenantID+"/"+conn] {
		have[id] = true
	}
	for _, id := range ids {
		if !have[id] {
			m.seen[tenantID+"/"+conn] = append(m.seen[tenantID+"/"+conn], id)
			have[id] = true
		}
	}
	return nil
}

// memDirectory is an in-memory identity store (one pool, every tenant).
type memDirectory struct {
	mu      sync.Mutex
	n       int
	byEmail map[string]string
	ids     map[string]*identity
	calls   []string
	// failSetRole makes SetRole fail (a user pool outage).
	failSetRole error
}

type identity struct {
	user.Identity
	role, password, temp string
	signedOut            int
}

func newMemDirectory() *memDirectory {
	return &memDirectory{byEmail: map[string]string{}, ids: map[string]*identity{}}
}

func (d *memDirectory) CreateUser(_ context.Context, n user.NewIdentity) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, "create "+n.Email)
	if _, ok := d.byEmail[n.Email]; ok {
		return "", apperr.New(apperr.Conflict, "exists")
	}
	d.n++
	id := "sub-" + strconv.Itoa(d.n)
	d.byEmail[n.Email] = id
	d.ids[id] = &identity{Identity: user.Identity{ID: id, Email: n.Email, TenantID: n.TenantID, Enabled: true}, temp: n.TemporaryPassword}
	return id, nil
}

func (d *memDirectory) FindUser(_ context.Context, email string) (user.Identity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id, ok := d.byEmail[email]
	if !ok {
		return user.Identity{}, apperr.New(apperr.NotFound, "no identity")
	}
	return d.ids[id].Identity, nil
}

func (d *memDirectory) get(id string) (*identity, error) {
	i, ok := d.ids[id]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no identity")
	}
	return i, nil
}

func (d *memDirectory) Reinvite(_ context.Context, id, _, temp string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, err := d.get(id)
	if err == nil {
		i.temp = temp
		d.calls = append(d.calls, "reinvite "+id)
	}
	return err
}

func (d *memDirectory) SetRole(_ context.Context, id, role string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failSetRole != nil {
		return d.failSetRole
	}
	i, err := d.get(id)
	if err == nil {
		i.role = role
	}
	return err
}

func (d *memDirectory) SetEnabled(_ context.Context, id string, on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, err := d.get(id)
	if err == nil {
		i.Enabled = on
	}
	return err
}

func (d *memDirectory) SignOut(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, err := d.get(id)
	if err == nil {
		i.signedOut++
	}
	return err
}

func (d *memDirectory) UpdateProfile(_ context.Context, id, email, _ string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, err := d.get(id)
	if err != nil {
		return err
	}
	if other, ok := d.byEmail[email]; ok && other != id {
		return apperr.New(apperr.Conflict, "exists")
	}
	delete(d.byEmail, i.Email)
	i.Email = email
	d.byEmail[email] = id
	return nil
}

func (d *memDirectory) DeleteUser(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, err := d.get(id)
	if err != nil {
		return err
	}
	delete(d.byEmail, i.Email)
	delete(d.ids, id)
	return nil
}

func (d *memDirectory) SetPassword(_ context.Context, id, pw string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, err := d.get(id)
	if err == nil {
		i.password = pw
	}
	return err
}

// roster is a fixed MemberSource.
type roster struct{ r user.Roster }

func (r *roster) Roster(_ context.Context, _, integrationID string) (user.Roster, error) {
	if integrationID != r.r.IntegrationID {
		return user.Roster{}, apperr.New(apperr.NotFound, "no integration %s", integrationID)
	}
	return r.r, nil
}

// mailbox records deliveries.
type mailbox struct {
	mu   sync.Mutex
	invs []user.Invitation
}

func (m *mailbox) Deliver(_ context.Context, inv user.Invitation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.invs = append(m.invs, inv)
	return nil
}
