package devstack_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rmmbridge/rmmbridge/shared/devtools/apitest"
	"github.com/rmmbridge/rmmbridge/shared/devtools/lambdaset"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
	"github.com/rmmbridge/rmmbridge/shared/user"
	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

// Every password, token and session the tests see is noted here; the
// package's TestMain fails the run if any of them is in the logs.
var (
	secretsMu sync.Mutex
	secrets   []string
)

func noteSecret(ss ...string) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	for _, s := range ss {
		if len(s) >= 8 {
			secrets = append(secrets, s)
		}
	}
}

// leakedSecrets lists the noted secrets (abbreviated) that appear in logs.
func leakedSecrets(logs string) []string {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	var out []string
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			out = append(out, s[:6]+"…")
		}
	}
	return out
}

type tokensView struct {
	IDToken, AccessToken, RefreshToken string
	ExpiresIn                          int
	TokenType                          string
	Challenge, Session                 string
}

// anon is a client without a credential (the sign-in routes).
func anon(t *testing.T) *apitest.Client { return client(t).WithKey("") }

// login posts the sign-in and returns the answer.
func login(t *testing.T, email, password string) (apitest.Response, tokensView) {
	t.Helper()
	noteSecret(password)
	r := anon(t).Do(http.MethodPost, "/v1/auth/login", map[string]string{"email": email, "password": password})
	var tv tokensView
	if r.Status == 200 {
		r.JSON(t, &tv)
		noteSecret(tv.IDToken, tv.AccessToken, tv.RefreshToken, tv.Session)
	}
	return r, tv
}

// firstSignIn signs a new user in with the invitation's temporary
// password and chooses newPassword.
func firstSignIn(t *testing.T, email, temp, newPassword string) tokensView {
	t.Helper()
	r, ch := login(t, email, temp)
	if r.Status != 200 || ch.Challenge != user.ChallengeNewPassword || ch.Session == "" || ch.IDToken != "" {
		t.Fatalf("first sign-in of %s = %d %s; want the NEW_PASSWORD_REQUIRED challenge", email, r.Status, r.Body)
	}
	noteSecret(newPassword)
	r = anon(t).Do(http.MethodPost, "/v1/auth/new-password", map[string]string{"email": email, "session": ch.Session, "newPassword": newPassword})
	var tv tokensView
	r.JSON(t, &tv)
	if r.Status != 200 || tv.IDToken == "" || tv.RefreshToken == "" || tv.TokenType != "Bearer" {
		t.Fatalf("new password of %s = %d %s", email, r.Status, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("tokens answered with Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
	}
	noteSecret(tv.IDToken, tv.AccessToken, tv.RefreshToken)
	return tv
}

func refresh(t *testing.T, refreshToken string) (apitest.Response, tokensView) {
	t.Helper()
	r := anon(t).Do(http.MethodPost, "/v1/auth/refresh", map[string]string{"refreshToken": refreshToken})
	var tv tokensView
	if r.Status == 200 {
		r.JSON(t, &tv)
		noteSecret(tv.IDToken, tv.AccessToken)
	}
	return r, tv
}

// uncached sends a token under another Authorization header than the one
// the gateway's authorizer cache holds (one space more), so the
// authorizer runs: what the gateway does once its 300-second cache runs out.
func uncached(t *testing.T, idToken string) *apitest.Client {
	return apitest.New(t, env.Stack.APIURL(), " "+idToken)
}

func as(t *testing.T, idToken string) *apitest.Client {
	return apitest.New(t, env.Stack.APIURL(), idToken)
}

type itemResult struct {
	MemberID, Name, Email, Role, Action, Status, Reason, UserID string
}

type itemResults struct {
	DryRun bool
	Items  []itemResult
}

func byMember(items []itemResult) map[string]string {
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

type userView struct {
	ID, Email, Name, Role, State string
	Disabled                     bool
	Source                       struct {
		Kind, IntegrationID, ConnectionID, MemberID string
	}
}

func listUsers(t *testing.T, c *apitest.Client) []userView {
	t.Helper()
	var l struct{ Items []userView }
	r := c.Do(http.MethodGet, "/v1/users?limit=500", nil)
	if r.Status != 200 {
		t.Fatalf("GET /v1/users = %d %s", r.Status, r.Body)
	}
	r.JSON(t, &l)
	return l.Items
}

func invitationFor(t *testing.T, email string) user.Invitation {
	t.Helper()
	invs, err := env.Invitations()
	if err != nil {
		t.Fatal(err)
	}
	for i := len(invs) - 1; i >= 0; i-- {
		if invs[i].Email == email {
			noteSecret(invs[i].TemporaryPassword)
			return invs[i]
		}
	}
	t.Fatalf("no invitation for %s in the dev mailbox (%d invitations)", email, len(invs))
	return user.Invitation{}
}

// unmappedOrg returns an RMM organization without a mapping.
func unmappedOrg(t *testing.T, c *apitest.Client) string {
	t.Helper()
	orgs := env.Ninja().Orgs()
	for i := len(orgs) - 1; i >= 0; i-- {
		id := strconv.Itoa(orgs[i].ID)
		if c.Do(http.MethodGet, "/v1/integrations/"+env.IntegrationID+"/mappings/"+id, nil).Status == 404 {
			return id
		}
	}
	t.Fatal("every organization is mapped")
	return ""
}

// TestUsers is issue 13 end to end, through the local stack on moto's
// Cognito: ConnectWise members (an inactive one, two sharing an email, one
// without) are imported as users, refused members get their reason, a dry
// run writes nothing; the invited users sign in with the temporary
// password, choose their own, and call the API as operator and viewer
// (viewer writes are 403); the audit names each actor; a role change, a
// disable and a sign-out take effect on the authorizer's next check; the
// last admin cannot be removed; failed sign-ins are throttled and never
// say whether the email exists; the re-import shows what changed in the
// PSA and applies only what is selected; no password or token reaches the
// logs.
func TestUsers(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	iid := env.IntegrationID
	base := "/v1/integrations/" + iid
	noteSecret(env.Users.AdminPassword)

	// The PSA's members, as the Add-user screen lists them.
	var members struct {
		Items []struct {
			ID, Name, Email, Role string
			Active                bool
		}
	}
	r := c.Do(http.MethodGet, base+"/psa/members?limit=500", nil)
	r.JSON(t, &members)
	seen := map[string]string{}
	for _, m := range members.Items {
		seen[m.ID] = m.Email + "/" + strconv.FormatBool(m.Active) + "/" + m.Role
	}
	for id, want := range map[string]string{"150": "jsmith@msp.example/true/Admin", "154": "tnguyen@msp.example/false/Technician",
		"155": "jsmith@msp.example/true/Admin", "156": "/true/Dispatcher"} {
		if seen[id] != want {
			t.Errorf("member %s = %q, want %q (email/active/role)", id, seen[id], want)
		}
	}

	// A dry run, then the import.
	choices := []map[string]string{{"memberId": "150", "role": "operator"}, {"memberId": "155", "role": "admin"},
		{"memberId": "154", "role": "viewer"}, {"memberId": "156", "role": "viewer"}, {"memberId": "151", "role": "viewer"}}
	want := map[string]string{
		"150": "created",
		"155": "refused: member 150 of this import has the same email address",
		"154": "refused: the member is inactive in the PSA",
		"156": "refused: the member has no email address in the PSA",
		"151": "created",
	}
	before := listUsers(t, c)
	var res itemResults
	r = c.Do(http.MethodPost, "/v1/users/import", map[string]any{"integrationId": iid, "members": choices, "dryRun": true})
	res = itemResults{} // decode afresh: omitted fields would keep old values
	r.JSON(t, &res)
	wantDry := map[string]string{}
	for k, v := range want {
		wantDry[k] = strings.Replace(v, "created", "would_create", 1)
	}
	if r.Status != 200 || !res.DryRun || !mapsEqual(wantDry, byMember(res.Items)) {
		t.Errorf("dry run = %d %v, want 200 %v", r.Status, byMember(res.Items), wantDry)
	}
	if after := listUsers(t, c); len(after) != len(before) {
		t.Fatalf("the dry run created users: %d before, %d after", len(before), len(after))
	}
	r = c.Do(http.MethodPost, "/v1/users/import", map[string]any{"integrationId": iid, "members": choices})
	res = itemResults{} // decode afresh: omitted fields would keep old values
	r.JSON(t, &res)
	if r.Status != 207 || res.DryRun || !mapsEqual(want, byMember(res.Items)) {
		t.Fatalf("import = %d %v, want 207 %v", r.Status, byMember(res.Items), want)
	}
	ids := map[string]string{}
	for _, it := range res.Items {
		ids[it.MemberID] = it.UserID
	}
	jsmith, mgarcia := ids["150"], ids["151"]
	var u userView
	c.Do(http.MethodGet, "/v1/users/"+jsmith, nil).JSON(t, &u)
	if u.Email != "jsmith@msp.example" || u.Role != "operator" || u.Source.Kind != "psa" || u.Source.MemberID != "150" ||
		u.Source.IntegrationID != iid || u.Source.ConnectionID != env.PSAConnection || u.Disabled {
		t.Errorf("imported user = %+v", u)
	}

	// First sign-ins with the invitations' temporary passwords.
	jsInv, mgInv := invitationFor(t, "jsmith@msp.example"), invitationFor(t, "mgarcia@msp.example")
	if jsInv.UserID != jsmith || jsInv.TenantID != lambdaset.DemoTenantID {
		t.Errorf("invitation %+v is not jsmith's", jsInv)
	}
	r, ch := login(t, "jsmith@msp.example", jsInv.TemporaryPassword)
	if r.Status != 200 || ch.Challenge != "NEW_PASSWORD_REQUIRED" {
		t.Fatalf("sign-in with the temporary password = %d %s", r.Status, r.Body)
	}
	var p problem
	r = anon(t).Do(http.MethodPost, "/v1/auth/new-password", map[string]string{"email": "jsmith@msp.example", "session": ch.Session, "newPassword": "weak"})
	r.JSON(t, &p)
	if r.Status != 422 || len(p.Errors) == 0 || p.Errors[0].Field != "newPassword" {
		t.Errorf("weak new password = %d %+v, want 422 naming newPassword", r.Status, p)
	}
	js := firstSignIn(t, "jsmith@msp.example", jsInv.TemporaryPassword, "Js-chosen-pass-2026")
	mg := firstSignIn(t, "mgarcia@msp.example", mgInv.TemporaryPassword, "Mg-chosen-pass-2026")

	// The operator and the viewer at work.
	op, viewer := as(t, js.IDToken), as(t, mg.IDToken)
	org := unmappedOrg(t, c)
	account := strconv.Itoa(env.CW().Companies()[len(env.CW().Companies())-1].ID)
	for _, tc := range []struct {
		name         string
		cl           *apitest.Client
		method, path string
		body         any
		status       int
	}{
		{"operator reads", op, "GET", "/v1/connections", nil, 200},
		{"operator maps an organization", op, "PUT", base + "/mappings/" + org, map[string]any{"accountId": account}, 200},
		{"operator may not create connections", op, "POST", "/v1/connections", map[string]any{}, 403},
		{"operator may not list users", op, "GET", "/v1/users", nil, 403},
		{"viewer reads", viewer, "GET", base + "/mappings/" + org, nil, 200},
		{"viewer may not map", viewer, "PUT", base + "/mappings/" + org, map[string]any{"accountId": account}, 403},
		{"viewer may not unmap", viewer, "DELETE", base + "/mappings/" + org, nil, 403},
		{"viewer may not match", viewer, "POST", base + "/organizations/" + org + "/match", nil, 403},
		{"viewer may not import", viewer, "POST", base + "/imports", map[string]any{"kind": "assets", "dryRun": true}, 403},
		{"viewer may not import users", viewer, "POST", "/v1/users/import", map[string]any{"integrationId": iid, "members": choices}, 403},
		{"viewer may not change users", viewer, "PATCH", "/v1/users/" + mgarcia, map[string]any{"role": "admin"}, 403},
		{"operator unmaps", op, "DELETE", base + "/mappings/" + org, nil, 204},
	} {
		if got := tc.cl.Do(tc.method, tc.path, tc.body); got.Status != tc.status {
			t.Errorf("%s: %s %s = %d %.200s, want %d", tc.name, tc.method, tc.path, got.Status, got.Body, tc.status)
		}
	}

	// The operator imports an organization the import maps without a
	// review (one an earlier test mapped, unmapped first, or one auto-match
	// links or creates): the import job's mapping names the job and who
	// started it.
	importOrg := ""
	for _, o := range env.Ninja().Orgs() {
		id := strconv.Itoa(o.ID)
		if id == org {
			continue
		}
		var mp struct{ Mode string }
		if r := c.Do(http.MethodGet, base+"/mappings/"+id, nil); r.Status == 200 {
			r.JSON(t, &mp)
			if mp.Mode != "linked" && mp.Mode != "created" {
				continue
			}
			if d := c.Do(http.MethodDelete, base+"/mappings/"+id, nil); d.Status != 204 {
				t.Fatalf("unmap %s = %d %s", id, d.Status, d.Body)
			}
			importOrg = id
			break
		}
		var m matchView
		op.Do(http.MethodPost, base+"/organizations/"+id+"/match", nil).JSON(t, &m)
		if m.Outcome == "match_found" || m.Outcome == "no_match" {
			importOrg = id
			break
		}
	}
	if importOrg == "" {
		t.Fatal("no unmapped organization that auto-match links or creates")
	}
	var job struct{ ID string }
	r = op.Do(http.MethodPost, base+"/imports", map[string]any{"kind": "organizations", "organizationIds": []string{importOrg}, "createMissingAccounts": true})
	r.JSON(t, &job)
	if r.Status != 202 {
		t.Fatalf("the operator's import = %d %s", r.Status, r.Body)
	}
	if j := waitJob(t, c, job.ID, time.Minute); j.Status != "succeeded" {
		t.Errorf("the operator's import = %+v", j)
	}

	// Every audit event names its actor: the user (id and email) or the
	// API key (id and name), or the job or function acting for them.
	st := dynamostore.New(dynamodb.NewFromConfig(env.AWS), env.Stack.TableName("Table"))
	trail, err := dynamostore.AuditTrail(ctx, st, lambdaset.DemoTenantID, 500)
	if err != nil {
		t.Fatal(err)
	}
	actorRE := regexp.MustCompile(`^(user/[0-9a-f-]+ \([^@ ]+@[^ )]+\)|key/k_[a-z2-7]+ \(.+\)|seed|scheduler|alert-worker|alert-webhook|asset-refresh|import/j\w+ by (user|key)/.+)$`)
	found := map[string]bool{}
	for _, e := range trail {
		if !actorRE.MatchString(e.Actor) {
			t.Errorf("audit event %s %s names its actor %q", e.Action, e.Target, e.Actor)
		}
		switch {
		case e.Action == "mapping.link" && strings.HasSuffix(e.Target, "/organization/"+org) && e.Actor == "user/"+jsmith+" (jsmith@msp.example)":
			found["operator's mapping"] = true
		case e.Action == "mapping.delete" && e.Actor == "user/"+jsmith+" (jsmith@msp.example)":
			found["operator's unmapping"] = true
		case e.Action == "user.create" && e.Target == "user/"+jsmith && strings.HasPrefix(e.Actor, "key/k_") && strings.HasSuffix(e.Actor, " (dev (generated))"):
			found["key's import"] = true
		case strings.HasSuffix(e.Target, "/organization/"+importOrg) && e.Actor == "import/"+job.ID+" by user/"+jsmith+" (jsmith@msp.example)":
			found["operator's import job's mapping"] = true
		}
	}
	for _, k := range []string{"operator's mapping", "operator's unmapping", "key's import", "operator's import job's mapping"} {
		if !found[k] {
			t.Errorf("no audit event for the %s with its actor", k)
		}
	}
	// The tenant's audit log over the API (GET /v1/audit) shows the same
	// actors, the users' events included (without a made-up mapping).
	var logged struct {
		Items []struct {
			Actor, Action, Target string
			Before, After         map[string]any
		}
	}
	c.Do(http.MethodGet, "/v1/audit?limit=200", nil).JSON(t, &logged)
	apiFound := map[string]bool{}
	for _, e := range logged.Items {
		switch {
		case e.Action == "user.create" && e.Target == "user/"+jsmith:
			apiFound["import"] = strings.HasPrefix(e.Actor, "key/k_") && e.Before == nil && e.After == nil
		case e.Action == "mapping.link" && strings.HasSuffix(e.Target, "/organization/"+org):
			apiFound["mapping"] = e.Actor == "user/"+jsmith+" (jsmith@msp.example)" && e.After != nil
		}
	}
	if !apiFound["import"] || !apiFound["mapping"] {
		t.Errorf("GET /v1/audit: the user's import by the key and the operator's mapping with their actors: %v", apiFound)
	}
	// Who am I, as the operator: the user, not a key.
	var me struct{ TenantID, Role, UserID, Email, KeyID string }
	op.Do(http.MethodGet, "/v1/me", nil).JSON(t, &me)
	if me.TenantID != lambdaset.DemoTenantID || me.Role != "operator" || me.UserID != jsmith || me.Email != "jsmith@msp.example" || me.KeyID != "" {
		t.Errorf("GET /v1/me as the operator = %+v", me)
	}

	// A role change: the old token is refused at the authorizer's next
	// check, a refreshed one carries the new role.
	r = c.Do(http.MethodPatch, "/v1/users/"+mgarcia, map[string]any{"role": "operator"})
	if r.Status != 200 {
		t.Fatalf("role change = %d %s", r.Status, r.Body)
	}
	if got := uncached(t, mg.IDToken).Do(http.MethodGet, "/v1/connections", nil); got.Status != 401 {
		t.Errorf("the viewer token after the role change = %d, want 401", got.Status)
	}
	rr, mg2 := refresh(t, mg.RefreshToken)
	if rr.Status != 200 || mg2.RefreshToken != "" {
		t.Fatalf("refresh = %d %s", rr.Status, rr.Body)
	}
	if got := as(t, mg2.IDToken).Do(http.MethodPost, base+"/organizations/"+org+"/match", nil); got.Status != 200 {
		t.Errorf("operator's match with the refreshed token = %d %.200s", got.Status, got.Body)
	}

	// Disabling: a token the gateway has not cached is refused at once,
	// the cached one at the authorizer's next check; refresh and sign-in
	// are refused, the sign-in like a wrong password.
	_, jsFresh := refresh(t, js.RefreshToken)
	r = c.Do(http.MethodPatch, "/v1/users/"+jsmith, map[string]any{"disabled": true})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"disabled":true`) {
		t.Fatalf("disable = %d %s", r.Status, r.Body)
	}
	if got := as(t, jsFresh.IDToken).Do(http.MethodGet, "/v1/connections", nil); got.Status != 401 {
		t.Errorf("a disabled user's fresh token = %d, want 401", got.Status)
	}
	if got := uncached(t, js.IDToken).Do(http.MethodGet, "/v1/connections", nil); got.Status != 401 {
		t.Errorf("a disabled user's token at the next check = %d, want 401", got.Status)
	}
	if got, _ := refresh(t, js.RefreshToken); got.Status != 401 {
		t.Errorf("a disabled user's refresh = %d, want 401", got.Status)
	}
	disabled, _ := login(t, "jsmith@msp.example", "Js-chosen-pass-2026")
	wrong, _ := login(t, "mgarcia@msp.example", "Not-her-password-1")
	unknown, _ := login(t, "nobody@msp.example", "Not-her-password-1")
	var pd, pw, pu problem
	disabled.JSON(t, &pd)
	wrong.JSON(t, &pw)
	unknown.JSON(t, &pu)
	if disabled.Status != 401 || wrong.Status != 401 || unknown.Status != 401 || pd.Detail != pw.Detail || pw.Detail != pu.Detail {
		t.Errorf("disabled %d %q, wrong password %d %q, unknown email %d %q: want one identical 401",
			disabled.Status, pd.Detail, wrong.Status, pw.Detail, unknown.Status, pu.Detail)
	}
	pool := cip.NewFromConfig(env.AWS)
	if got, err := pool.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(env.Users.PoolID), Username: aws.String(jsmith)}); err != nil || got.Enabled {
		t.Errorf("the pool's identity of a disabled user: %+v, %v", got, err)
	}

	// The last admin: the demo admin is the only enabled admin user.
	admin := env.Users.AdminUserID
	for _, q := range []struct {
		method string
		body   any
	}{{"PATCH", map[string]any{"role": "viewer"}}, {"PATCH", map[string]any{"disabled": true}}, {"DELETE", nil}} {
		r := c.Do(q.method, "/v1/users/"+admin, q.body)
		r.JSON(t, &p)
		if r.Status != 409 || !strings.Contains(p.Detail, "last enabled admin") {
			t.Errorf("%s the last admin %v = %d %s, want 409", q.method, q.body, r.Status, r.Body)
		}
	}
	if r := c.Do(http.MethodPatch, "/v1/users/"+mgarcia, map[string]any{"role": "admin"}); r.Status != 200 {
		t.Fatalf("promote = %d %s", r.Status, r.Body)
	}
	if r := c.Do(http.MethodPatch, "/v1/users/"+mgarcia, map[string]any{"role": "operator"}); r.Status != 200 {
		t.Errorf("demote one of two admins = %d %s, want 200", r.Status, r.Body)
	}

	// The PSA changes after the import: a member inactive, one renamed
	// (with a new address), one hired. The re-import shows it and applies
	// what is selected, nothing else.
	if err := env.CW().SetMemberInactive("mgarcia", true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.CW().SetMemberInactive("mgarcia", false) })
	if err := env.CW().RenameMember("jsmith", "John", "Smith-Jones", "john.smithjones@msp.example"); err != nil {
		t.Fatal(err)
	}
	hired := strconv.Itoa(env.CW().AddMember(cwsandbox.NewMember{Identifier: "slee", FirstName: "Sam", LastName: "Lee", Email: "slee@msp.example", Role: "Technician"}))
	var changes struct {
		IntegrationID, ConnectionID string
		Items                       []struct {
			MemberID, Change, Action, UserID string
			Before, After                    *struct{ Name, Email string }
		}
	}
	r = c.Do(http.MethodGet, "/v1/users/import/changes?integrationId="+iid, nil)
	r.JSON(t, &changes)
	var got []string
	for _, ch := range changes.Items {
		got = append(got, ch.MemberID+" "+ch.Change+" "+ch.Action)
	}
	wantChanges := []string{hired + " new create", "151 inactive disable", "150 renamed update"}
	if r.Status != 200 || !slices.Equal(wantChanges, got) {
		t.Fatalf("changes = %d %v, want %v", r.Status, got, wantChanges)
	}
	r = c.Do(http.MethodPost, "/v1/users/import/changes", map[string]any{"integrationId": iid,
		"changes": []map[string]string{{"memberId": hired, "action": "create", "role": "viewer"}, {"memberId": "150", "action": "update"}}})
	res = itemResults{} // decode afresh: omitted fields would keep old values
	r.JSON(t, &res)
	if r.Status != 207 || !mapsEqual(map[string]string{hired: "applied", "150": "applied"}, byMember(res.Items)) {
		t.Fatalf("apply = %d %v", r.Status, byMember(res.Items))
	}
	slee := res.Items[0].UserID
	u = userView{}
	c.Do(http.MethodGet, "/v1/users/"+jsmith, nil).JSON(t, &u)
	if u.Name != "John Smith-Jones" || u.Email != "john.smithjones@msp.example" {
		t.Errorf("renamed user = %+v", u)
	}
	u = userView{}
	c.Do(http.MethodGet, "/v1/users/"+mgarcia, nil).JSON(t, &u)
	if u.Disabled {
		t.Error("an unselected change (disable the inactive member) was applied")
	}
	r = c.Do(http.MethodGet, "/v1/users/import/changes?integrationId="+iid, nil)
	changes.Items = nil
	r.JSON(t, &changes)
	if len(changes.Items) != 1 || changes.Items[0].MemberID != "151" {
		t.Errorf("pending after applying = %+v, want only 151's", changes.Items)
	}

	// Throttling: five wrong passwords for an address, then even the right
	// one is a 429 until the window ends.
	sl := firstSignIn(t, "slee@msp.example", invitationFor(t, "slee@msp.example").TemporaryPassword, "Sl-chosen-pass-2026")
	if got := as(t, sl.IDToken).Do(http.MethodGet, "/v1/connections", nil); got.Status != 200 {
		t.Errorf("the hired viewer = %d", got.Status)
	}
	for i := 0; i < 5; i++ {
		if r, _ := login(t, "slee@msp.example", "Wrong-pass-000"+strconv.Itoa(i)); r.Status != 401 {
			t.Errorf("wrong password %d = %d, want 401", i, r.Status)
		}
	}
	r, _ = login(t, "slee@msp.example", "Sl-chosen-pass-2026")
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != 429 || ra < 1 || ra > 900 {
		t.Errorf("right password after 5 failures = %d Retry-After %q, want 429 within 15 minutes", r.Status, r.Header.Get("Retry-After"))
	}

	// Sign-out: every token issued until now is refused, and the refresh
	// token; a new sign-in works.
	if r := as(t, mg2.IDToken).Do(http.MethodPost, "/v1/auth/logout", nil); r.Status != 204 {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	if got := uncached(t, mg2.IDToken).Do(http.MethodGet, "/v1/connections", nil); got.Status != 401 {
		t.Errorf("a token after its user signed out = %d, want 401", got.Status)
	}
	if got, _ := refresh(t, mg.RefreshToken); got.Status != 401 {
		t.Errorf("refresh after sign-out = %d, want 401", got.Status)
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond))) // tokens carry whole seconds
	if r, tv := login(t, "mgarcia@msp.example", "Mg-chosen-pass-2026"); r.Status != 200 || as(t, tv.IDToken).Do(http.MethodGet, "/v1/connections", nil).Status != 200 {
		t.Errorf("sign-in after sign-out = %d", r.Status)
	}
	if r := c.Do(http.MethodPost, "/v1/auth/logout", nil); r.Status != 422 {
		t.Errorf("logout with an API key = %d, want 422", r.Status)
	}

	// Deleting a user frees its address: the member can be imported again.
	if r := c.Do(http.MethodDelete, "/v1/users/"+slee, nil); r.Status != 204 {
		t.Fatalf("delete = %d %s", r.Status, r.Body)
	}
	if r := c.Do(http.MethodGet, "/v1/users/"+slee, nil); r.Status != 404 {
		t.Errorf("GET a deleted user = %d, want 404", r.Status)
	}
	if _, err := pool.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(env.Users.PoolID), Username: aws.String(slee)}); err == nil {
		t.Error("the deleted user's identity is still in the pool")
	}
	r = c.Do(http.MethodPost, "/v1/users/import", map[string]any{"integrationId": iid, "members": []map[string]string{{"memberId": hired, "role": "viewer"}}})
	res = itemResults{} // decode afresh: omitted fields would keep old values
	r.JSON(t, &res)
	if r.Status != 207 || res.Items[0].Status != "created" {
		t.Errorf("import a deleted user's member again = %d %v", r.Status, byMember(res.Items))
	}

	// No password, token or session in the logs, nor in the users API.
	if leaked := leakedSecrets(logs.String()); len(leaked) > 0 {
		t.Errorf("secrets in the logs: %v", leaked)
	}
	all := string(c.Do(http.MethodGet, "/v1/users?limit=500", nil).Body)
	if leaked := leakedSecrets(all); len(leaked) > 0 {
		t.Errorf("secrets in GET /v1/users: %v", leaked)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// otherTenant is another MSP on the same stack: its own admin API key and
// admin user.
type otherTenant struct {
	id, key, token, userID string
}

var (
	otherOnce sync.Once
	other     otherTenant
	otherErr  error
)

// theOtherTenant sets up (once) tenant t_other with an admin key and an
// admin user signed in.
func theOtherTenant(t *testing.T) otherTenant {
	t.Helper()
	otherOnce.Do(func() {
		ctx := context.Background()
		tenants := tenant.NewService(dynamostore.NewTenants(dynamostore.New(dynamodb.NewFromConfig(env.AWS), env.Stack.TableName("Table"))))
		if _, otherErr = tenants.EnsureTenant(ctx, "t_other", "Other MSP"); otherErr != nil {
			return
		}
		other.id = "t_other"
		if other.key, _, otherErr = tenants.IssueKey(ctx, "t_other", tenant.RoleAdmin, "other"); otherErr != nil {
			return
		}
		const pw = "Other-boss-pass-2026"
		u, err := lambdaset.SeedUser(ctx, env.AWS, env.Stack.TableName("Table"), env.Users.PoolID, env.Users.ClientID,
			user.SeedRequest{TenantID: "t_other", Email: "boss@other-msp.example", Name: "Other Boss", Role: user.RoleAdmin, Password: pw})
		if otherErr = err; err != nil {
			return
		}
		other.userID = u.ID
		noteSecret(other.key, pw)
	})
	if otherErr != nil {
		t.Fatalf("set up tenant t_other: %v", otherErr)
	}
	if other.token == "" {
		r, tv := login(t, "boss@other-msp.example", "Other-boss-pass-2026")
		if r.Status != 200 || tv.IDToken == "" {
			t.Fatalf("t_other's admin sign-in = %d %s", r.Status, r.Body)
		}
		other.token = tv.IDToken
	}
	return other
}

// TestUsersCrossTenant calls every route of the stack with the other
// tenant's credentials — its admin API key and its admin user's token —
// and the demo tenant's ids: every one is refused (404, or 422 naming the
// foreign id in a body), lists show none of the demo tenant's data, and
// the demo tenant's data is unchanged.
func TestUsersCrossTenant(t *testing.T) {
	c := client(t)
	o := theOtherTenant(t)
	iid := env.IntegrationID
	org := strconv.Itoa(env.Ninja().Orgs()[0].ID)
	var job struct{ ID string }
	r := c.Do(http.MethodPost, "/v1/integrations/"+iid+"/imports", map[string]any{"kind": "organizations", "organizationIds": []string{org}, "dryRun": true})
	r.JSON(t, &job)
	if r.Status != 202 {
		t.Fatalf("a job of the demo tenant = %d %s", r.Status, r.Body)
	}
	users := listUsers(t, c)
	ids := map[string]string{"connectionId": env.RMMConnection, "integrationId": iid, "jobId": job.ID, "orgId": org,
		"accountId": strconv.Itoa(env.CW().Companies()[0].ID), "deviceId": strconv.Itoa(env.Ninja().Devices()[0].ID), "userId": env.Users.AdminUserID,
		"itemKey": importjob.OrgItemKey(org)} // the job's item for its organization
	// What the demo tenant's data looks like in an answer: none of it may
	// show up in the other tenant's.
	mine := []string{env.RMMConnection, env.PSAConnection, iid, job.ID}
	for _, u := range users {
		mine = append(mine, u.ID, u.Email)
	}
	bodies := map[string]any{
		"PATCH /v1/connections/{connectionId}":                                          map[string]any{"name": "taken over"},
		"PATCH /v1/integrations/{integrationId}":                                        map[string]any{"name": "taken over"},
		"PUT /v1/integrations/{integrationId}/mappings/{orgId}":                         map[string]any{"accountId": ids["accountId"]},
		"POST /v1/integrations/{integrationId}/imports":                                 map[string]any{"kind": "assets", "dryRun": true},
		"POST /v1/integrations/{integrationId}/imports/{jobId}/items/{itemKey}/resolve": map[string]any{"accountId": ids["accountId"]},
		"PATCH /v1/users/{userId}":                                                      map[string]any{"role": "viewer"},
		// No path id: the demo tenant's ids are in the body.
		"POST /v1/integrations":         map[string]any{"name": "x", "rmmConnectionId": env.RMMConnection, "psaConnectionId": env.PSAConnection},
		"POST /v1/connections":          map[string]any{},
		"POST /v1/users/import":         map[string]any{"integrationId": iid, "members": []map[string]string{{"memberId": "152", "role": "admin"}}},
		"POST /v1/users/import/changes": map[string]any{"integrationId": iid, "changes": []map[string]string{{"memberId": "151", "action": "disable"}}},
	}
	// What each route without a path id must answer.
	noIDs := map[string]int{
		"GET /v1/connections":           200, // lists: none of the demo tenant's data
		"GET /v1/integrations":          200,
		"GET /v1/users":                 200,
		"GET /v1/audit":                 200, // the caller's own tenant's events only
		"GET /v1/me":                    200, // the caller itself
		"POST /v1/integrations":         422, // the demo tenant's connections are not found for this tenant
		"POST /v1/connections":          422, // nothing of the demo tenant is named; refused as empty
		"POST /v1/users/import":         404,
		"POST /v1/users/import/changes": 404,
		"GET /v1/users/import/changes":  404,
	}
	// Routes that take no tenant credential at all.
	public := map[string]string{
		"GET /v1/health":                        "public",
		"POST /v1/webhooks/{integrationId}/rmm": "the integration's own secret (TestHostileCaller)",
		"POST /v1/auth/login":                   "no tenant before sign-in",
		"POST /v1/auth/new-password":            "no tenant before sign-in",
		"POST /v1/auth/refresh":                 "the refresh token's own user",
		"POST /v1/auth/logout":                  "signs out the caller only",
	}
	covered := 0
	for _, key := range allRoutes() {
		if _, ok := public[key]; ok {
			continue
		}
		method, route, _ := strings.Cut(key, " ")
		path := route
		hasID := false
		for name, v := range ids {
			if strings.Contains(path, "{"+name+"}") {
				path, hasID = strings.ReplaceAll(path, "{"+name+"}", v), true
			}
		}
		if strings.Contains(path, "{") {
			t.Errorf("%s: no demo-tenant id for %s", key, path)
			continue
		}
		wantStatus, ok := noIDs[key]
		switch {
		case hasID:
			wantStatus = 404
		case !ok:
			t.Errorf("%s: the cross-tenant test does not know what this route must answer; add it", key)
			continue
		}
		if key == "GET /v1/users/import/changes" {
			path += "?integrationId=" + iid
		}
		covered++
		for cred, secret := range map[string]string{"API key": o.key, "user token": o.token} {
			t.Run(cred+"/"+key, func(t *testing.T) {
				res := apitest.New(t, env.Stack.APIURL(), secret).Do(method, path, bodies[key])
				if res.Status != wantStatus {
					t.Fatalf("= %d %.300s, want %d", res.Status, res.Body, wantStatus)
				}
				for _, s := range mine {
					// An error may quote the id the caller sent; nothing else
					// of the demo tenant may show.
					if strings.Contains(string(res.Body), s) && (res.Status < 300 || !strings.Contains(path+fmt.Sprint(bodies[key]), s)) {
						t.Errorf("the answer shows the demo tenant's %q: %.300s", s, res.Body)
					}
				}
			})
		}
	}
	if covered < 40 {
		t.Errorf("only %d routes checked", covered)
	}
	// The demo tenant is as it was.
	if body := c.Do(http.MethodGet, "/v1/integrations/"+iid, nil).Body; strings.Contains(string(body), "taken over") {
		t.Errorf("the other tenant renamed the integration: %s", body)
	}
	after := listUsers(t, c)
	if len(after) != len(users) {
		t.Errorf("the demo tenant's users went from %d to %d", len(users), len(after))
	}
	for _, u := range after {
		if u.ID == env.Users.AdminUserID && (u.Role != "admin" || u.Disabled) {
			t.Errorf("the demo admin changed: %+v", u)
		}
	}
	// And the other tenant's own user works in its own tenant.
	var own struct{ Items []userView }
	apitest.New(t, env.Stack.APIURL(), o.token).Do(http.MethodGet, "/v1/users", nil).JSON(t, &own)
	if len(own.Items) != 1 || own.Items[0].ID != o.userID {
		t.Errorf("t_other's users = %+v, want its admin", own.Items)
	}
}
