package user_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

const tenantA = "t_a"

// members is a PSA roster the way real ones look: duplicates, inactive
// and email-less members.
func members() []psa.Member {
	return []psa.Member{
		{ID: "1", Name: "John Smith", Email: "JSmith@MSP.example", Active: true, Role: "Admin"},
		{ID: "2", Name: "Maria Garcia", Email: "mgarcia@msp.example", Active: true, Role: "Technician"},
		{ID: "3", Name: "Maria Garcia (admin account)", Email: "mgarcia@msp.example", Active: true, Role: "Admin"},
		{ID: "4", Name: "Thanh Nguyen", Email: "tnguyen@msp.example", Active: false},
		{ID: "5", Name: "Front Desk Kiosk", Active: true},
		{ID: "6", Name: "Typo", Email: "not an email", Active: true},
		{ID: "7", Name: "Alex Kim", Email: "akim@msp.example", Active: true},
		{ID: "8", Name: "Priya Williams", Email: "pwilliams@msp.example", Active: true},
	}
}

type fixture struct {
	store *memStore
	dir   *memDirectory
	src   *roster
	mail  *mailbox
	clock *clock
	svc   *user.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: newMemStore(), dir: newMemDirectory(), mail: &mailbox{}, clock: &clock{now: t0},
		src: &roster{r: user.Roster{IntegrationID: "i_1", ConnectionID: "c_psa", Members: members()}}}
	f.svc = user.NewService(f.store, f.dir, f.src, user.Options{Mailbox: f.mail, Now: f.clock.Now})
	return f
}

func results(items []user.ItemResult) map[string]string {
	out := map[string]string{}
	for _, it := range items {
		s := it.Status
		if it.Reason != "" {
			s += ": " + it.Reason
		}
		out[it.MemberID] = s
	}
	return out
}

// TestImport: each member is created or refused with its reason; a dry
// run writes nothing; the created users carry tenant, PSA member and
// connection, role and source; invitations carry a policy-compliant
// temporary password; every change is audited with its actor.
func TestImport(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	// Alex Kim is already a user (created earlier by hand, say).
	if _, err := f.svc.Seed(ctx, user.SeedRequest{TenantID: tenantA, Email: "akim@msp.example", Name: "Alex", Role: user.RoleAdmin, Password: "Seed-password-1"}); err != nil {
		t.Fatal(err)
	}
	choices := []user.MemberChoice{{"1", "admin"}, {"2", "operator"}, {"3", "viewer"}, {"4", "viewer"}, {"5", "viewer"},
		{"6", "viewer"}, {"7", "viewer"}, {"99", "viewer"}}
	want := map[string]string{
		"1":  "created",
		"2":  "created",
		"3":  "refused: member 2 of this import has the same email address",
		"4":  "refused: the member is inactive in the PSA",
		"5":  "refused: the member has no email address in the PSA",
		"6":  "refused: the member's email address is not valid",
		"7":  "refused: the email address is already used by user sub-1",
		"99": "refused: no member with this id in the PSA",
	}
	wantDry := map[string]string{}
	for k, v := range want {
		wantDry[k] = strings.Replace(v, "created", "would_create", 1)
	}
	calls := len(f.dir.calls)
	dry, err := f.svc.Import(ctx, user.ImportRequest{TenantID: tenantA, IntegrationID: "i_1", Actor: "key/k_1 (dev)", Members: choices, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantDry, results(dry.Items)); d != "" || !dry.DryRun {
		t.Errorf("dry run (-want +got):\n%s", d)
	}
	if all, _ := f.store.AllUsers(ctx, tenantA); len(all) != 1 || len(f.dir.calls) != calls || len(f.mail.invs) != 0 {
		t.Fatalf("the dry run wrote: %d users, directory calls %v, %d invitations", len(all), f.dir.calls[calls:], len(f.mail.invs))
	}

	res, err := f.svc.Import(ctx, user.ImportRequest{TenantID: tenantA, IntegrationID: "i_1", Actor: "key/k_1 (dev)", Members: choices})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, results(res.Items)); d != "" {
		t.Errorf("import (-want +got):\n%s", d)
	}
	john, err := f.store.GetUser(ctx, tenantA, res.Items[0].UserID)
	if err != nil {
		t.Fatal(err)
	}
	wantJohn := user.User{ID: res.Items[0].UserID, TenantID: tenantA, Email: "jsmith@msp.example", Name: "John Smith", Role: "admin", State: user.StateActive,
		Source: user.Source{Kind: user.SourcePSA, IntegrationID: "i_1", ConnectionID: "c_psa", MemberID: "1",
			Member: user.MemberSnapshot{Name: "John Smith", Email: "jsmith@msp.example", Active: true, Role: "Admin"}},
		CreatedAt: t0, UpdatedAt: t0, Version: 1}
	if d := cmp.Diff(wantJohn, john); d != "" {
		t.Errorf("stored user (-want +got):\n%s", d)
	}
	if id := f.dir.ids[john.ID]; id.role != "admin" || id.TenantID != tenantA || id.temp == "" {
		t.Errorf("identity = %+v; want in group admin, tenant %s, with a temporary password", id, tenantA)
	}
	if len(f.mail.invs) != 2 { // the two imports' (the seed has its password)
		t.Fatalf("%d invitations, want 2", len(f.mail.invs))
	}
	for _, inv := range f.mail.invs {
		if !policyOK(inv.TemporaryPassword) || inv.TenantID != tenantA || inv.UserID == "" {
			t.Errorf("invitation %+v: want the tenant, the user and a policy-compliant temporary password", inv)
		}
	}
	var actors []string
	for _, e := range f.store.audit {
		actors = append(actors, e.Action+" "+e.Target+" by "+e.Actor)
	}
	wantActors := []string{"user.create user/sub-1 by seed", "user.create user/sub-2 by key/k_1 (dev)", "user.create user/sub-3 by key/k_1 (dev)"}
	if d := cmp.Diff(wantActors, actors); d != "" {
		t.Errorf("audit (-want +got):\n%s", d)
	}
	// Importing the same members again refuses them: already imported.
	again, err := f.svc.Import(ctx, user.ImportRequest{TenantID: tenantA, IntegrationID: "i_1", Members: choices[:2]})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"1": "refused: the member was already imported as user sub-2", "2": "refused: the member was already imported as user sub-3"}, results(again.Items)); d != "" {
		t.Errorf("import again (-want +got):\n%s", d)
	}
}

func policyOK(p string) bool {
	var lo, up, di, sy bool
	for _, r := range p {
		switch {
		case unicode.IsLower(r):
			lo = true
		case unicode.IsUpper(r):
			up = true
		case unicode.IsDigit(r):
			di = true
		default:
			sy = true
		}
	}
	return len(p) >= 12 && lo && up && di && sy
}

func TestTemporaryPassword(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		p, err := user.TemporaryPassword(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !policyOK(p) || strings.ContainsAny(p, "\"'`$\\!") || seen[p] {
			t.Fatalf("password %q: not policy-compliant, needs quoting, or repeated", p)
		}
		seen[p] = true
	}
}

// TestImportInput: a bad request is a 422 naming each field; an unknown
// integration is a 404.
func TestImportInput(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	many := make([]user.MemberChoice, user.MaxImport+1)
	for i := range many {
		many[i] = user.MemberChoice{MemberID: "m" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Role: "viewer"}
	}
	for _, tc := range []struct {
		name   string
		in     user.ImportRequest
		fields []string
	}{
		{"nothing", user.ImportRequest{IntegrationID: "i_1"}, []string{"members"}},
		{"bad ids and roles", user.ImportRequest{IntegrationID: "i#1", Members: []user.MemberChoice{{"1#x", "viewer"}, {"2", "root"}, {"2", ""}}},
			[]string{"integrationId", "members[0].memberId", "members[1].role", "members[2].memberId", "members[2].role"}},
		{"too many", user.ImportRequest{IntegrationID: "i_1", Members: many}, []string{"members"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Import(ctx, tc.in)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Invalid {
				t.Fatalf("Import = %v, want Invalid", err)
			}
			var got []string
			for _, fe := range e.Fields {
				got = append(got, fe.Field)
			}
			if d := cmp.Diff(tc.fields, got); d != "" {
				t.Errorf("fields (-want +got):\n%s", d)
			}
		})
	}
	if _, err := f.svc.Import(ctx, user.ImportRequest{TenantID: tenantA, IntegrationID: "i_other", Members: []user.MemberChoice{{"1", "viewer"}}}); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("unknown integration = %v, want NotFound", err)
	}
}

// TestImportAdoptsAfterCrash: an import that created the identity and then
// failed leaves the address reserved; once the reservation runs out, the
// next import adopts the identity (a new invitation) instead of refusing
// the address. Another tenant's identity with the address is refused.
func TestImportAdoptsAfterCrash(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.store.failNext = apperr.New(apperr.Unavailable, "table down")
	res, err := f.svc.Import(ctx, user.ImportRequest{TenantID: tenantA, IntegrationID: "i_1", Members: []user.MemberChoice{{"1", "operator"}}})
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Items[0].Status; st != user.Failed || !strings.Contains(res.Items[0].Reason, "import the member again") {
		t.Fatalf("first attempt = %+v, want failed asking to retry", res.Items[0])
	}
	// Right away: the reservation holds.
	res, _ = f.svc.Import(ctx, user.ImportRequest{TenantID: tenantA, IntegrationID: "i_1", Members: []user.MemberChoice{{"1", "operator"}}})
	if res.Items[0].Status != user.Refused || !strings.Contains(res.Items[0].Reason, "under way") {
		t.Fatalf("retry during the reservation = %+v, want refused: under way", res.Items[0])
	}
	f.clock.add(3 * time.Minute)
	res, _ = f.svc.Import(ctx, user.ImportRequest{TenantID: tenantA, IntegrationID: "i_1", Members: []user.MemberChoice{{"1", "operator"}}})
	if res.Items[0].Status != user.Created || res.Items[0].UserID != "sub-1" {
		t.Fatalf("retry after the reservation = %+v, want created adopting sub-1", res.Items[0])
	}
	if len(f.dir.ids) != 1 || !strings.Contains(strings.Join(f.dir.calls, ","), "reinvite sub-1") {
		t.Errorf("identities %d, calls %v; want one identity, re-invited", len(f.dir.ids), f.dir.calls)
	}
	// Another tenant imports a member with the same address.
	res, _ = f.svc.Import(ctx, user.ImportRequest{TenantID: "t_b", IntegrationID: "i_1", Members: []user.MemberChoice{{"1", "admin"}}})
	if res.Items[0].Status != user.Refused || res.Items[0].Reason != "the email address is already registered with rmmbridge" {
		t.Errorf("another tenant's address = %+v, want refused: already registered", res.Items[0])
	}
	if all, _ := f.store.AllUsers(ctx, "t_b"); len(all) != 0 {
		t.Errorf("tenant t_b got users %v", all)
	}
}

// TestLastAdmin: the tenant's last enabled admin cannot be demoted,
// disabled or deleted; with two admins either one can.
func TestLastAdmin(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	res, err := f.svc.Import(ctx, user.ImportRequest{TenantID: tenantA, IntegrationID: "i_1", Members: []user.MemberChoice{{"1", "admin"}, {"2", "admin"}, {"7", "operator"}}})
	if err != nil {
		t.Fatal(err)
	}
	a, b, op := res.Items[0].UserID, res.Items[1].UserID, res.Items[2].UserID
	viewer, yes := "viewer", true
	if _, err := f.svc.Update(ctx, tenantA, a, user.Patch{Role: &viewer}, "user/x"); err != nil {
		t.Fatalf("demote one of two admins: %v", err)
	}
	for name, do := range map[string]func() error{
		"demote": func() error { _, err := f.svc.Update(ctx, tenantA, b, user.Patch{Role: &viewer}, "user/x"); return err },
		"disable": func() error {
			_, err := f.svc.Update(ctx, tenantA, b, user.Patch{Disabled: &yes}, "user/x")
			return err
		},
		"delete": func() error { return f.svc.Delete(ctx, tenantA, b, "user/x") },
	} {
		if err := do(); !user.IsLastAdmin(err) {
			t.Errorf("%s the last admin = %v, want the last-admin refusal", name, err)
		}
	}
	if u, _ := f.store.GetUser(ctx, tenantA, b); u.Role != "admin" || u.Disabled || u.State != user.StateActive || f.dir.ids[b].role != "admin" || !f.dir.ids[b].Enabled {
		t.Errorf("a refused change touched the last admin: %+v", u)
	}
	// Promote the operator: now b can go.
	admin := "admin"
	if _, err := f.svc.Update(ctx, tenantA, op, user.Patch{Role: &admin}, "user/x"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(ctx, tenantA, b, "user/x"); err != nil {
		t.Fatalf("delete one of two admins: %v", err)
	}
	if _, err := f.store.GetUser(ctx, tenantA, b); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("deleted user still there: %v", err)
	}
	if _, ok := f.dir.ids[b]; ok {
		t.Error("deleted user's identity still there")
	}
	// Disabling revokes the refresh tokens and blocks sign-in.
	if _, err := f.svc.Update(ctx, tenantA, a, user.Patch{Disabled: &yes}, "user/x"); err != nil {
		t.Fatal(err)
	}
	if id := f.dir.ids[a]; id.Enabled || id.signedOut != 1 {
		t.Errorf("disabled identity = %+v; want sign-in off and signed out once", id)
	}
	if _, err := f.svc.Update(ctx, tenantA, a, user.Patch{}, "user/x"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("empty patch = %v, want Invalid", err)
	}
	bad := "root"
	if _, err := f.svc.Update(ctx, tenantA, a, user.Patch{Role: &bad}, "user/x"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("bad role = %v, want Invalid", err)
	}
	if _, err := f.svc.Update(ctx, "t_b", a, user.Patch{Role: &admin}, "user/x"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("another tenant's user = %v, want NotFound", err)
	}
}

// TestUpdateRepairsPool: when the user pool fails after the record
// changed, the request says so and repeating it makes the pool follow.
func TestUpdateRepairsPool(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	res, _ := f.svc.Import(ctx, user.ImportRequest{TenantID: tenantA, IntegrationID: "i_1", Members: []user.MemberChoice{{"1", "admin"}, {"2", "viewer"}}})
	id := res.Items[1].UserID
	op := "operator"
	f.dir.failSetRole = errors.New("pool down")
	if _, err := f.svc.Update(ctx, tenantA, id, user.Patch{Role: &op}, "user/x"); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("update with the pool down = %v, want Unavailable", err)
	}
	if u, _ := f.store.GetUser(ctx, tenantA, id); u.Role != "operator" || f.dir.ids[id].role != "viewer" {
		t.Fatalf("record %s, pool %s; want the record changed first", u.Role, f.dir.ids[id].role)
	}
	f.dir.failSetRole = nil
	if _, err := f.svc.Update(ctx, tenantA, id, user.Patch{Role: &op}, "user/x"); err != nil {
		t.Fatal(err)
	}
	if f.dir.ids[id].role != "operator" {
		t.Errorf("pool role %s after the repeat, want operator", f.dir.ids[id].role)
	}
}

// TestReimport: the diff shows new, inactive, removed and renamed members
// since the import, and only the selected changes are applied.
func TestReimport(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	res, err := f.svc.Import(ctx, user.ImportRequest{TenantID: tenantA, IntegrationID: "i_1", Actor: "user/u0 (boss@msp.example)",
		Members: []user.MemberChoice{{"1", "admin"}, {"2", "operator"}, {"7", "viewer"}}})
	if err != nil {
		t.Fatal(err)
	}
	john, maria, alex := res.Items[0].UserID, res.Items[1].UserID, res.Items[2].UserID
	// The PSA changes: John renamed, Maria made inactive, Alex removed,
	// a new member 9; Priya (8) was there at the import and not picked.
	ms := members()
	ms[0].Name, ms[0].Email = "John Smith-Jones", "john.smithjones@msp.example"
	ms[1].Active = false
	ms = append(ms[:6], ms[7:]...)
	ms = append(ms, psa.Member{ID: "9", Name: "Sam Lee", Email: "slee@msp.example", Active: true, Role: "Technician"},
		psa.Member{ID: "10", Name: "No Mail", Active: true})
	f.src.r.Members = ms
	_, changes, err := f.svc.Changes(ctx, tenantA, "i_1")
	if err != nil {
		t.Fatal(err)
	}
	want := []user.Change{
		{MemberID: "9", Kind: "new", Action: "create", After: &user.MemberSnapshot{Name: "Sam Lee", Email: "slee@msp.example", Active: true, Role: "Technician"}},
		{MemberID: "2", Kind: "inactive", Action: "disable", UserID: maria,
			Before: &user.MemberSnapshot{Name: "Maria Garcia", Email: "mgarcia@msp.example", Active: true, Role: "Technician"},
			After:  &user.MemberSnapshot{Name: "Maria Garcia", Email: "mgarcia@msp.example", Active: false, Role: "Technician"}},
		{MemberID: "7", Kind: "removed", Action: "disable", UserID: alex,
			Before: &user.MemberSnapshot{Name: "Alex Kim", Email: "akim@msp.example", Active: true}},
		{MemberID: "1", Kind: "renamed", Action: "update", UserID: john,
			Before: &user.MemberSnapshot{Name: "John Smith", Email: "jsmith@msp.example", Active: true, Role: "Admin"},
			After:  &user.MemberSnapshot{Name: "John Smith-Jones", Email: "john.smithjones@msp.example", Active: true, Role: "Admin"}},
	}
	if d := cmp.Diff(want, changes); d != "" {
		t.Fatalf("changes (-want +got):\n%s", d)
	}
	// Nothing changed by looking.
	if u, _ := f.store.GetUser(ctx, tenantA, maria); u.Disabled {
		t.Fatal("reading the changes disabled a user")
	}
	// The admin applies two of them (plus a stale one and a dry run).
	dry, err := f.svc.ApplyChanges(ctx, user.ApplyRequest{TenantID: tenantA, IntegrationID: "i_1", DryRun: true,
		Changes: []user.ChangeChoice{{MemberID: "2", Action: "disable"}}})
	if err != nil || dry.Items[0].Status != user.WouldApply {
		t.Fatalf("dry run = %+v, %v", dry, err)
	}
	if u, _ := f.store.GetUser(ctx, tenantA, maria); u.Disabled {
		t.Fatal("a dry run disabled a user")
	}
	applied, err := f.svc.ApplyChanges(ctx, user.ApplyRequest{TenantID: tenantA, IntegrationID: "i_1", Actor: "user/u0 (boss@msp.example)",
		Changes: []user.ChangeChoice{{MemberID: "2", Action: "disable"}, {MemberID: "9", Action: "create", Role: "viewer"}, {MemberID: "1", Action: "disable"}}})
	if err != nil {
		t.Fatal(err)
	}
	wantRes := map[string]string{"2": "applied", "9": "applied", "1": "refused: no pending disable change for this member; read the changes again"}
	if d := cmp.Diff(wantRes, results(applied.Items)); d != "" {
		t.Errorf("apply (-want +got):\n%s", d)
	}
	if u, _ := f.store.GetUser(ctx, tenantA, maria); !u.Disabled || f.dir.ids[maria].Enabled {
		t.Errorf("maria = %+v, want disabled in the record and the pool", u)
	}
	if u, _ := f.store.GetUser(ctx, tenantA, john); u.Name != "John Smith" || u.Email != "jsmith@msp.example" {
		t.Errorf("john = %+v; an unselected rename was applied", u)
	}
	if u, _ := f.store.GetUser(ctx, tenantA, alex); u.Disabled {
		t.Error("an unselected removal was applied")
	}
	_, changes, _ = f.svc.Changes(ctx, tenantA, "i_1")
	var left []string
	for _, c := range changes {
		left = append(left, c.MemberID+" "+c.Kind)
	}
	if d := cmp.Diff([]string{"7 removed", "1 renamed"}, left); d != "" {
		t.Errorf("pending after applying (-want +got):\n%s", d)
	}
	// The rename, applied: record and pool take the PSA's name and email.
	if _, err := f.svc.ApplyChanges(ctx, user.ApplyRequest{TenantID: tenantA, IntegrationID: "i_1", Changes: []user.ChangeChoice{{MemberID: "1", Action: "update"}}}); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.store.GetUser(ctx, tenantA, john); u.Name != "John Smith-Jones" || u.Email != "john.smithjones@msp.example" || f.dir.ids[john].Email != u.Email {
		t.Errorf("john after the update = %+v (pool %s)", u, f.dir.ids[john].Email)
	}
	for _, tc := range []struct {
		name string
		in   []user.ChangeChoice
	}{
		{"create without a role", []user.ChangeChoice{{MemberID: "9", Action: "create"}}},
		{"unknown action", []user.ChangeChoice{{MemberID: "9", Action: "erase"}}},
		{"role on a disable", []user.ChangeChoice{{MemberID: "7", Action: "disable", Role: "admin"}}},
	} {
		if _, err := f.svc.ApplyChanges(ctx, user.ApplyRequest{TenantID: tenantA, IntegrationID: "i_1", Changes: tc.in}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%s = %v, want Invalid", tc.name, err)
		}
	}
}

func TestAdmits(t *testing.T) {
	out := t0.Add(-time.Hour).Add(300 * time.Millisecond)
	for _, tc := range []struct {
		name   string
		s      user.Status
		role   string
		iat    time.Time
		reason string
	}{
		{"ok", user.Status{Role: "operator", State: "active"}, "operator", t0, ""},
		{"disabled", user.Status{Role: "operator", State: "active", Disabled: true}, "operator", t0, "disabled"},
		{"being deleted", user.Status{Role: "operator", State: "deleting"}, "operator", t0, "deleted"},
		{"role changed since the token", user.Status{Role: "viewer", State: "active"}, "operator", t0, "role"},
		{"issued before the sign-out", user.Status{Role: "viewer", State: "active", SignedOutAt: out}, "viewer", out.Add(-time.Minute), "signed out"},
		{"issued in the sign-out's second", user.Status{Role: "viewer", State: "active", SignedOutAt: out}, "viewer", out.Truncate(time.Second), "signed out"},
		{"issued after the sign-out", user.Status{Role: "viewer", State: "active", SignedOutAt: out}, "viewer", out.Truncate(time.Second).Add(time.Second), ""},
	} {
		err := tc.s.Admits(tc.role, tc.iat)
		if tc.reason == "" && err != nil || tc.reason != "" && (!apperr.Is(err, apperr.Unauthorized) || !strings.Contains(err.Error(), tc.reason)) {
			t.Errorf("%s: Admits = %v, want %q", tc.name, err, tc.reason)
		}
	}
}

func TestRoleOf(t *testing.T) {
	for _, tc := range []struct {
		groups []string
		want   string
	}{
		{[]string{"admin"}, "admin"},
		{[]string{"us-east-1_x_Google", "viewer"}, "viewer"},
		{[]string{"viewer", "viewer"}, "viewer"},
		{[]string{"viewer", "admin"}, ""},
		{nil, ""},
		{[]string{"root"}, ""},
	} {
		got, err := user.RoleOf(tc.groups)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("RoleOf(%v) = %q, %v; want %q", tc.groups, got, err, tc.want)
		}
	}
}

// fakeAuth is an Authenticator with one user.
type fakeAuth struct {
	email, password string
	calls           int
}

func (a *fakeAuth) SignIn(_ context.Context, email, password string) (user.AuthResult, error) {
	a.calls++
	if email != a.email || password != a.password {
		return user.AuthResult{}, apperr.New(apperr.Unauthorized, "Incorrect username or password.")
	}
	return user.AuthResult{Tokens: &user.Tokens{IDToken: "id-token"}}, nil
}

func (a *fakeAuth) AnswerNewPassword(context.Context, string, string, string) (user.Tokens, error) {
	return user.Tokens{}, errors.New("unused")
}

func (a *fakeAuth) Refresh(context.Context, string) (user.Tokens, error) {
	return user.Tokens{}, errors.New("unused")
}

type fakeTokens struct{ tu user.TokenUser }

func (f fakeTokens) Read(context.Context, string) (user.TokenUser, error) { return f.tu, nil }

type memCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *memCounter) Failures(_ context.Context, keys []string, w time.Time) (map[string]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, k := range keys {
		out[k] = c.n[k+w.String()]
	}
	return out, nil
}

func (c *memCounter) AddFailure(_ context.Context, keys []string, w, _ time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		c.n[k+w.String()]++
	}
	return nil
}

// TestSignInThrottle: a wrong password and an unknown email get the same
// answer; five failures for an email, or twenty from one source, throttle
// every attempt (the right password too, and unknown emails alike) until
// the window ends, with Retry-After.
func TestSignInThrottle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.svc.Seed(ctx, user.SeedRequest{TenantID: tenantA, Email: "boss@msp.example", Name: "Boss", Role: "admin", Password: "Right-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	auth := &fakeAuth{email: "boss@msp.example", password: "Right-password-1"}
	c := &clock{now: t0.Add(time.Minute)}
	si := user.NewSignIn(auth, fakeTokens{user.TokenUser{UserID: u.ID, TenantID: tenantA, Role: "admin", IssuedAt: c.Now()}}, f.store, f.dir, &memCounter{n: map[string]int{}}, user.Throttle{}, c.Now)

	_, wrong := si.Login(ctx, "boss@msp.example", "wrong", "10.0.0.1")
	_, unknown := si.Login(ctx, "nobody@msp.example", "wrong", "10.0.0.1")
	if wrong == nil || unknown == nil || wrong.Error() != unknown.Error() || !apperr.Is(wrong, apperr.Unauthorized) {
		t.Fatalf("wrong password %v vs unknown email %v: want the same 401", wrong, unknown)
	}
	if _, err := si.Login(ctx, " BOSS@msp.example ", "Right-password-1", "10.0.0.1"); err != nil {
		t.Fatalf("right password (email in another case) = %v", err)
	}
	for i := 0; i < 4; i++ {
		_, _ = si.Login(ctx, "boss@msp.example", "wrong", "10.0.0.2")
	}
	calls := auth.calls
	_, err = si.Login(ctx, "boss@msp.example", "Right-password-1", "10.0.0.3")
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Throttled || e.RetryAfter <= 0 || e.RetryAfter > 15*time.Minute {
		t.Fatalf("6th attempt for the email = %v, want Throttled with Retry-After", err)
	}
	if auth.calls != calls {
		t.Error("a throttled attempt reached the user pool")
	}
	// An unknown email is throttled the same way.
	for i := 0; i < 5; i++ {
		_, _ = si.Login(ctx, "ghost@msp.example", "x", "10.0.0.4")
	}
	if _, err := si.Login(ctx, "ghost@msp.example", "x", "10.0.0.5"); !apperr.Is(err, apperr.Throttled) {
		t.Errorf("unknown email after 5 failures = %v, want Throttled", err)
	}
	// One source trying many emails.
	for i := 0; i < 20; i++ {
		_, _ = si.Login(ctx, "guess"+string(rune('a'+i))+"@msp.example", "x", "10.9.9.9")
	}
	if _, err := si.Login(ctx, "fresh@msp.example", "x", "10.9.9.9"); !apperr.Is(err, apperr.Throttled) {
		t.Errorf("21st failure from one source = %v, want Throttled", err)
	}
	if _, err := si.Login(ctx, "fresh@msp.example", "x", "10.9.9.8"); !apperr.Is(err, apperr.Unauthorized) {
		t.Errorf("another source = %v, want a plain 401", err)
	}
	// The window ends.
	c.add(15 * time.Minute)
	if _, err := si.Login(ctx, "boss@msp.example", "Right-password-1", "10.0.0.3"); err != nil {
		t.Errorf("after the window = %v, want signed in", err)
	}
	// A disabled user with the right password gets the same 401.
	yes := true
	if _, err := f.svc.Update(ctx, tenantA, u.ID, user.Patch{Disabled: &yes}, "x"); !user.IsLastAdmin(err) {
		t.Fatalf("disable the only admin = %v", err)
	}
	f.store.mu.Lock()
	nu := f.store.users[tenantA+"/"+u.ID]
	nu.Disabled = true
	f.store.users[tenantA+"/"+u.ID] = nu
	f.store.mu.Unlock()
	if _, err := si.Login(ctx, "boss@msp.example", "Right-password-1", "10.0.0.3"); err == nil || err.Error() != wrong.Error() {
		t.Errorf("disabled user = %v, want %v", err, wrong)
	}
}
