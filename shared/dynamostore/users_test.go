package dynamostore

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

var userT0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func newUser(tenantID, id, email, role string) user.User {
	return user.User{ID: id, TenantID: tenantID, Email: email, Name: "N " + id, Role: role, State: user.StateActive,
		Source:    user.Source{Kind: user.SourcePSA, IntegrationID: "i_1", ConnectionID: "c_psa", MemberID: "m" + id, Member: user.MemberSnapshot{Name: "N " + id, Email: email, Active: true, Role: "Tech"}},
		CreatedAt: userT0, UpdatedAt: userT0, Version: 1}
}

// create claims the address and creates u.
func create(t *testing.T, r Users, u user.User) {
	t.Helper()
	ctx := context.Background()
	if _, err := r.ClaimEmail(ctx, u.TenantID, u.Email, "own-"+u.ID, userT0.Add(time.Minute), userT0); err != nil {
		t.Fatalf("claim %s: %v", u.Email, err)
	}
	if err := r.CreateUser(ctx, u, "own-"+u.ID, user.AuditEvent{At: userT0, Actor: "key/k_1 (dev)", Action: "user.create", Target: "user/" + u.ID, After: &u}); err != nil {
		t.Fatalf("create %s: %v", u.ID, err)
	}
}

// TestUsersRepository: users round-trip; addresses are reserved and
// leased; updates are conditional on the version; an address cannot be
// used twice; another tenant sees nothing; every key starts with the
// tenant.
func TestUsersRepository(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	r := NewUsers(s)
	alice := newUser("t_a", "u-alice", "alice@msp.example", "admin")
	create(t, r, alice)
	got, err := r.GetUser(ctx, "t_a", alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(alice, got); d != "" {
		t.Errorf("GetUser (-want +got):\n%s", d)
	}
	if _, err := r.GetUser(ctx, "t_b", alice.ID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("another tenant's user = %v, want NotFound", err)
	}
	// The address is taken: by the user for this tenant, free for another.
	h, err := r.ClaimEmail(ctx, "t_a", "alice@msp.example", "other", userT0.Add(time.Minute), userT0)
	if !apperr.Is(err, apperr.Conflict) || h.UserID != alice.ID {
		t.Errorf("claim a user's address = %+v, %v; want Conflict naming the user", h, err)
	}
	if _, err := r.ClaimEmail(ctx, "t_b", "alice@msp.example", "b", userT0.Add(time.Minute), userT0); err != nil {
		t.Errorf("another tenant's claim of the address = %v", err)
	}
	// A pending claim holds until its lease ends.
	if _, err := r.ClaimEmail(ctx, "t_a", "bob@msp.example", "imp-1", userT0.Add(time.Minute), userT0); err != nil {
		t.Fatal(err)
	}
	if h, err := r.ClaimEmail(ctx, "t_a", "bob@msp.example", "imp-2", userT0.Add(2*time.Minute), userT0.Add(30*time.Second)); !apperr.Is(err, apperr.Conflict) || !h.Pending {
		t.Errorf("claim during another's lease = %+v, %v; want pending Conflict", h, err)
	}
	if _, err := r.ClaimEmail(ctx, "t_a", "bob@msp.example", "imp-2", userT0.Add(3*time.Minute), userT0.Add(61*time.Second)); err != nil {
		t.Errorf("claim after the lease = %v", err)
	}
	bob := newUser("t_a", "u-bob", "bob@msp.example", "viewer")
	if err := r.CreateUser(ctx, bob, "imp-1", user.AuditEvent{At: userT0, Action: "user.create", After: &bob}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("create with a lost reservation = %v, want Conflict", err)
	}
	if err := r.CreateUser(ctx, bob, "imp-2", user.AuditEvent{At: userT0, Action: "user.create", Actor: "user/u-alice (alice@msp.example)", Target: "user/u-bob", After: &bob}); err != nil {
		t.Fatal(err)
	}
	// Updates: version-conditional, the address moves with an email change.
	after := bob
	after.Role, after.Email, after.Version = "operator", "robert@msp.example", 2
	if err := r.UpdateUser(ctx, bob, after, user.AuditEvent{At: userT0, Action: "user.update", Actor: "user/u-alice (alice@msp.example)", Target: "user/u-bob", Before: &bob, After: &after}); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateUser(ctx, bob, after, user.AuditEvent{At: userT0, Action: "user.update"}); !apperr.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "changed meanwhile") {
		t.Errorf("stale update = %v, want ChangedError", err)
	}
	if _, err := r.ClaimEmail(ctx, "t_a", "bob@msp.example", "x", userT0.Add(time.Minute), userT0); err != nil {
		t.Errorf("the old address is not free after an email change: %v", err)
	}
	if h, err := r.ClaimEmail(ctx, "t_a", "robert@msp.example", "x", userT0.Add(time.Minute), userT0); !apperr.Is(err, apperr.Conflict) || h.UserID != bob.ID {
		t.Errorf("the new address = %+v, %v; want the user's", h, err)
	}
	clash := after
	clash.Email, clash.Version = "alice@msp.example", 3
	if err := r.UpdateUser(ctx, after, clash, user.AuditEvent{At: userT0, Action: "user.update"}); !apperr.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "already used") {
		t.Errorf("email change to a user's address = %v, want Conflict", err)
	}
	list, next, err := r.ListUsers(ctx, "t_a", 1, "")
	if err != nil || len(list) != 1 || next == "" {
		t.Fatalf("ListUsers page 1 = %d, %q, %v", len(list), next, err)
	}
	rest, next2, err := r.ListUsers(ctx, "t_a", 10, next)
	if err != nil || len(rest) != 1 || next2 != "" || rest[0].ID == list[0].ID {
		t.Fatalf("ListUsers page 2 = %v, %q, %v", rest, next2, err)
	}
	// Sign-out: recorded, and an update read before it is refused.
	if err := r.SignOut(ctx, "t_a", alice.ID, userT0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	st, err := r.UserStatus(ctx, "t_a", alice.ID)
	if err != nil || !st.SignedOutAt.Equal(userT0.Add(time.Hour)) {
		t.Errorf("status after sign-out = %+v, %v", st, err)
	}
	stale := alice
	stale.Name = "Alice"
	if err := r.UpdateUser(ctx, alice, stale, user.AuditEvent{At: userT0, Action: "user.update"}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("update read before the sign-out = %v, want ChangedError", err)
	}
	if err := r.SignOut(ctx, "t_b", alice.ID, userT0); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("sign out another tenant's user = %v, want NotFound", err)
	}
	// Delete.
	cur, _ := r.GetUser(ctx, "t_a", bob.ID)
	del := cur
	del.State, del.Disabled, del.Version = user.StateDeleting, true, cur.Version+1
	if err := r.UpdateUser(ctx, cur, del, user.AuditEvent{At: userT0, Action: "user.delete", Actor: "user/u-alice (alice@msp.example)", Target: "user/u-bob", Before: &cur, After: &del}); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteUser(ctx, cur); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("delete at a stale version = %v, want Conflict", err)
	}
	if err := r.DeleteUser(ctx, del); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetUser(ctx, "t_a", bob.ID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("deleted user = %v", err)
	}
	if _, err := r.ClaimEmail(ctx, "t_a", "robert@msp.example", "y", userT0.Add(time.Minute), userT0); err != nil {
		t.Errorf("a deleted user's address is not free: %v", err)
	}
	// Every item is under a tenant.
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(s.Table())})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		var kk struct {
			PK string `dynamodbav:"pk"`
			SK string `dynamodbav:"sk"`
		}
		if err := attributevalue.UnmarshalMap(it, &kk); err != nil {
			t.Fatal(err)
		}
		k := Key{PK: kk.PK, SK: kk.SK}
		if !strings.HasPrefix(k.PK, "T#t_a") && !strings.HasPrefix(k.PK, "T#t_b") {
			t.Errorf("item %s is not under a tenant", k)
		}
		if strings.Contains(k.String(), "@") {
			t.Errorf("item key %s carries an email address", k)
		}
	}
	trail, err := AuditTrail(ctx, s, "t_a", 50)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range trail {
		if e.Actor == "" {
			t.Errorf("audit event %+v names no actor", e)
		}
		actions = append(actions, e.Action+" "+e.Target)
	}
	sort.Strings(actions)
	// The refused changes (lost reservation, stale version, taken
	// address) wrote no event.
	want := []string{"user.create user/u-alice", "user.create user/u-bob", "user.delete user/u-bob", "user.update user/u-bob"}
	if d := cmp.Diff(want, actions); d != "" {
		t.Errorf("audit (-want +got):\n%s", d)
	}
	// The tenant's audit log (GET /v1/audit) lists the users' events with
	// their actor, and no mapping made up from a user's snapshot.
	logged, _, err := NewMappings(s).ListAudit(ctx, "t_a", 50, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(logged) != len(want) {
		t.Errorf("ListAudit gave %d events, want %d", len(logged), len(want))
	}
	for _, e := range logged {
		if e.Actor == "" || e.Before != nil || e.After != nil {
			t.Errorf("ListAudit %s %s: actor %q, before %+v, after %+v; want an actor and no mapping", e.Action, e.Target, e.Actor, e.Before, e.After)
		}
	}
}

// TestLastAdminRace: two admins demote each other at the same moment: the
// count lets exactly one through, and the tenant keeps an admin. It runs
// on moto through scripts/moto-server (as the local stack does): plain
// moto's rollback of the refused transaction can undo the concurrent one
// that went through, which DynamoDB never does.
func TestLastAdminRace(t *testing.T) {
	ctx := context.Background()
	s, _ := newFastTestStore(t)
	r := NewUsers(s)
	a, b := newUser("t_a", "u-a", "a@msp.example", "admin"), newUser("t_a", "u-b", "b@msp.example", "admin")
	create(t, r, a)
	create(t, r, b)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, u := range []user.User{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			after := u
			after.Role, after.Version = "viewer", u.Version+1
			errs[i] = r.UpdateUser(ctx, u, after, user.AuditEvent{At: userT0, Action: "user.update", Actor: "user/x"})
		}()
	}
	wg.Wait()
	ok, last := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case user.IsLastAdmin(err):
			last++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || last != 1 {
		t.Errorf("%d demotions went through and %d were refused as the last admin; want 1 and 1", ok, last)
	}
	all, _ := r.AllUsers(ctx, "t_a")
	admins := 0
	for _, u := range all {
		if u.Role == "admin" {
			admins++
		}
	}
	if admins != 1 {
		t.Errorf("%d admins left, want 1", admins)
	}
	// Disabling and deleting the last one are refused too; a new admin
	// (created, then enabled) makes room.
	var lastOne user.User
	for _, u := range all {
		if u.Role == "admin" {
			lastOne = u
		}
	}
	off := lastOne
	off.Disabled, off.Version = true, lastOne.Version+1
	if err := r.UpdateUser(ctx, lastOne, off, user.AuditEvent{At: userT0, Action: "user.disable"}); !user.IsLastAdmin(err) {
		t.Errorf("disable the last admin = %v", err)
	}
	c := newUser("t_a", "u-c", "c@msp.example", "admin")
	create(t, r, c)
	if err := r.UpdateUser(ctx, lastOne, off, user.AuditEvent{At: userT0, Action: "user.disable"}); err != nil {
		t.Errorf("disable one of two admins = %v", err)
	}
}

// TestRosterAndFailures: the seen member ids accumulate; failure counters
// count per key and window and expire with the TTL.
func TestRosterAndFailures(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewUsers(s)
	if got, err := r.SeenMembers(ctx, "t_a", "c_1"); err != nil || len(got) != 0 {
		t.Fatalf("no roster yet = %v, %v", got, err)
	}
	_ = r.AddSeenMembers(ctx, "t_a", "c_1", []string{"1", "2"})
	_ = r.AddSeenMembers(ctx, "t_a", "c_1", []string{"2", "3"})
	got, err := r.SeenMembers(ctx, "t_a", "c_1")
	sort.Strings(got)
	if err != nil || !cmp.Equal(got, []string{"1", "2", "3"}) {
		t.Errorf("roster = %v, %v", got, err)
	}
	if got, _ := r.SeenMembers(ctx, "t_b", "c_1"); len(got) != 0 {
		t.Errorf("another tenant's roster = %v", got)
	}
	f := NewSignInFailures(s)
	w := userT0.Truncate(15 * time.Minute)
	for i := 0; i < 3; i++ {
		if err := f.AddFailure(ctx, []string{"email#aa", "source#bb"}, w, w.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	_ = f.AddFailure(ctx, []string{"source#bb"}, w, w.Add(time.Hour))
	n, err := f.Failures(ctx, []string{"email#aa", "source#bb", "email#cc"}, w)
	if err != nil || !cmp.Equal(n, map[string]int{"email#aa": 3, "source#bb": 4}) {
		t.Errorf("failures = %v, %v", n, err)
	}
	if n, _ := f.Failures(ctx, []string{"email#aa"}, w.Add(15*time.Minute)); n["email#aa"] != 0 {
		t.Errorf("next window = %v, want empty", n)
	}
	var it struct {
		TTL int64 `dynamodbav:"ttl"`
	}
	if err := s.Get(ctx, failureKey("email#aa", w), &it); err != nil || it.TTL != w.Add(time.Hour).Unix() {
		t.Errorf("counter ttl = %d, %v", it.TTL, err)
	}
}
