package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/devtools/apitest"
	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// syncBuffer collects every log line of the whole test run, to prove no
// secret ever reaches a log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	env  *devstack.Env
	logs syncBuffer
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	slog.SetDefault(log)
	ctx := context.Background()
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	var err error
	env, err = devstack.Start(ctx, devstack.Options{
		Template: "../../../template.yaml", StackName: motoserver.UniqueName("e2e"),
		APIAddr: "127.0.0.1:0", RMMAddr: "127.0.0.1:0", PSAAddr: "127.0.0.1:0",
		Endpoint: endpoint, Orgs: 30, Devices: 120, Logger: log, PollWait: 200 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start dev environment:", err)
		return 1
	}
	noteSecret(env.APIKey, env.WebhookSecret, env.Users.AdminPassword)
	code := m.Run()
	// Every password, token, session and key any test noted: none may be
	// in any log line of the whole run.
	if leaked := leakedSecrets(logs.String()); len(leaked) > 0 {
		fmt.Fprintln(os.Stderr, "FAIL: secrets in the logs:", leaked)
		code = 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := env.Stop(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "stop dev environment:", err)
	}
	return code
}

func client(t *testing.T) *apitest.Client {
	return apitest.New(t, env.Stack.APIURL(), env.APIKey)
}

type problem struct {
	Status int
	Detail string
	Errors []struct{ Field, Message string }
}

// TestConnections covers issue 3's connections API: seeded connections test
// ok, a wrong secret is a readable 422 and nothing is saved, credentials
// never appear in responses or logs, deletes are refused while in use.
func TestConnections(t *testing.T) {
	c := client(t)
	iid := env.IntegrationID
	for _, id := range []string{env.RMMConnection, env.PSAConnection} {
		r := c.Do(http.MethodPost, "/v1/connections/"+id+"/test", nil)
		var res struct{ Status, Detail string }
		r.JSON(t, &res)
		if r.Status != 200 || res.Status != "ok" {
			t.Errorf("test %s = %d %+v, want 200 ok", id, r.Status, res)
		}
	}
	before := c.Do(http.MethodGet, "/v1/connections", nil)
	const wrongSecret = "this-is-the-wrong-secret-42"
	r := c.Do(http.MethodPost, "/v1/connections", map[string]any{"name": "Ninja typo", "kind": "rmm", "provider": "ninjaone",
		"baseUrl": env.RMM.BaseURL, "credentials": map[string]string{"clientId": devstack.NinjaClientID, "clientSecret": wrongSecret}})
	var p problem
	r.JSON(t, &p)
	if r.Status != 422 || !strings.Contains(p.Detail, "connection test failed") || len(p.Errors) == 0 || p.Errors[0].Field != "credentials" {
		t.Errorf("wrong secret = %d %+v; want 422 naming credentials with the vendor's reason", r.Status, p)
	}
	t.Logf("wrong secret → %d: %s", r.Status, p.Detail)
	after := c.Do(http.MethodGet, "/v1/connections", nil)
	if !bytes.Equal(before.Body, after.Body) {
		t.Errorf("a failed create changed the connection list:\nbefore %s\nafter  %s", before.Body, after.Body)
	}
	r = c.Do(http.MethodPost, "/v1/connections", map[string]any{"name": "CW wrong key", "kind": "psa", "provider": "connectwise",
		"baseUrl": env.PSA.BaseURL, "credentials": map[string]string{"companyId": devstack.CWCompanyID, "publicKey": devstack.CWPublicKey,
			"privateKey": wrongSecret, "clientId": devstack.CWClientID}})
	r.JSON(t, &p)
	if r.Status != 422 {
		t.Errorf("ConnectWise wrong private key = %d %s, want 422", r.Status, r.Body)
	}
	r = c.Do(http.MethodPost, "/v1/connections", map[string]any{"name": "x", "kind": "psa", "provider": "ninjaone",
		"baseUrl": "http://169.254.169.254", "credentials": map[string]string{}})
	r.JSON(t, &p)
	if r.Status != 422 || len(p.Errors) < 3 {
		t.Errorf("bad kind, metadata URL, missing credentials = %d %+v; want 422 listing every field", r.Status, p)
	}

	// Update: a rename needs no test; new credentials are tested first.
	r = c.Do(http.MethodPatch, "/v1/connections/"+env.RMMConnection, map[string]any{"credentials": map[string]string{"clientId": devstack.NinjaClientID, "clientSecret": wrongSecret}})
	if r.Status != 422 {
		t.Errorf("PATCH with a wrong secret = %d, want 422", r.Status)
	}
	r = c.Do(http.MethodPatch, "/v1/connections/"+env.RMMConnection, map[string]any{"name": "NinjaOne (sandbox)", "settings": map[string]any{"note": "renamed"}})
	if r.Status != 200 {
		t.Errorf("PATCH name = %d %s, want 200", r.Status, r.Body)
	}
	if r := c.Do(http.MethodPost, "/v1/connections/"+env.RMMConnection+"/test", nil); !strings.Contains(string(r.Body), `"ok"`) {
		t.Errorf("after a refused PATCH the saved credentials must still work: %s", r.Body)
	}
	r = c.Do(http.MethodDelete, "/v1/connections/"+env.PSAConnection, nil)
	if r.Status != 409 {
		t.Errorf("DELETE a connection in use = %d, want 409", r.Status)
	}

	// Issue 9 §4: bad input is a 4xx naming the field (checked against
	// openapi.yaml by the client), and nothing is saved.
	deep := strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000)
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"900,000-character name", http.MethodPost, "/v1/connections", map[string]any{"name": strings.Repeat("n", 900_000), "kind": "rmm",
			"provider": "ninjaone", "baseUrl": env.RMM.BaseURL, "credentials": map[string]string{"clientId": devstack.NinjaClientID, "clientSecret": devstack.NinjaClientSecret}}, 422, "name"},
		{"settings 5,000 deep", http.MethodPost, "/v1/connections", []byte(`{"name":"deep","kind":"rmm","provider":"ninjaone","baseUrl":"` + env.RMM.BaseURL +
			`","credentials":{"clientId":"` + devstack.NinjaClientID + `","clientSecret":"` + devstack.NinjaClientSecret + `"},"settings":` + deep + `}`), 422, "settings.a.a.a.a*"},
		{"empty PATCH", http.MethodPatch, "/v1/connections/" + env.RMMConnection, map[string]any{}, 422, "(body)"},
		{"nested unknown field", http.MethodPatch, "/v1/integrations/" + iid, map[string]any{"settings": map[string]any{"zzz": 1}}, 400, "settings.zzz"},
		{"bad limit", http.MethodGet, "/v1/connections?limit=0", nil, 400, "limit"},
		{"bad cursor", http.MethodGet, "/v1/integrations?cursor=garbage", nil, 400, "cursor"},
		{"path id with an encoded key separator", http.MethodGet, "/v1/connections/" + env.RMMConnection + "%23INT%23" + iid, nil, 400, "connectionId"},
	} {
		r := c.Do(tc.method, tc.path, tc.body)
		var p problem
		_ = json.Unmarshal(r.Body, &p) // a success is not a problem: the status check below reports it
		field := ""
		if len(p.Errors) > 0 {
			field = p.Errors[0].Field
		}
		if r.Status != tc.status || (field != tc.field && !(strings.HasSuffix(tc.field, "*") && strings.HasPrefix(field, strings.TrimSuffix(tc.field, "*")))) {
			t.Errorf("%s = %d %.300s; want %d naming %s", tc.name, r.Status, r.Body, tc.status, tc.field)
		}
	}
	if after := c.Do(http.MethodGet, "/v1/connections", nil); !strings.Contains(string(after.Body), `"NinjaOne (sandbox)"`) || strings.Contains(string(after.Body), `"deep"`) {
		t.Errorf("refused requests changed the connections: %.500s", after.Body)
	}
	// Another tenant's resource is a 404, and so is a missing one.
	if r := c.Do(http.MethodGet, "/v1/connections/c_doesnotexist", nil); r.Status != 404 {
		t.Errorf("GET unknown connection = %d, want 404", r.Status)
	}
	if r := c.WithKey("").Do(http.MethodGet, "/v1/connections", nil); r.Status != 401 {
		t.Errorf("no key = %d, want 401", r.Status)
	}

	// Integrations: the secret is shown once, rotation shows a new one.
	r = c.Do(http.MethodGet, "/v1/integrations/"+iid, nil)
	if r.Status != 200 || strings.Contains(string(r.Body), "whsec_") {
		t.Errorf("GET integration = %d %s; want 200 without the secret", r.Status, r.Body)
	}
	r = c.Do(http.MethodPost, "/v1/integrations/"+iid+"/webhook-secret", nil)
	var rot struct{ URL, Secret string }
	r.JSON(t, &rot)
	if r.Status != 200 || !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == env.WebhookSecret {
		t.Errorf("rotate = %d %+v; want a new whsec_ secret", r.Status, rot)
	}
	env.WebhookSecret = rot.Secret

	// A throwaway integration can be created and deleted, releasing its connections.
	r = c.Do(http.MethodPost, "/v1/integrations", map[string]any{"name": "temp", "rmmConnectionId": env.RMMConnection, "psaConnectionId": env.PSAConnection})
	var tmp struct{ ID string }
	r.JSON(t, &tmp)
	if r.Status != 201 {
		t.Fatalf("create integration = %d %s", r.Status, r.Body)
	}
	if r := c.Do(http.MethodPost, "/v1/integrations", map[string]any{"name": "bad", "rmmConnectionId": env.PSAConnection, "psaConnectionId": env.PSAConnection}); r.Status != 422 {
		t.Errorf("integration with two PSA connections = %d, want 422", r.Status)
	}
	if r := c.Do(http.MethodDelete, "/v1/integrations/"+tmp.ID, nil); r.Status != 204 {
		t.Errorf("DELETE integration = %d %s", r.Status, r.Body)
	}

	secrets := []string{devstack.NinjaClientSecret, devstack.CWPrivateKey, wrongSecret, env.WebhookSecret, env.APIKey}
	all := logs.String()
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("a secret (%.6s…) appears in the logs", s)
		}
	}
	for _, path := range []string{"/v1/connections", "/v1/connections/" + env.RMMConnection, "/v1/connections/" + env.PSAConnection, "/v1/integrations"} {
		body := string(c.Do(http.MethodGet, path, nil).Body)
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("GET %s returns a secret (%.6s…)", path, s)
			}
		}
	}
}

type orgView struct {
	ID      string
	Name    string
	Sites   []struct{ ID, Name string }
	Mapping *struct {
		AccountID string
		Mode      string
		Sites     map[string]string
	}
}

type matchView struct {
	Outcome    string
	Candidates []struct {
		AccountID string
		Name      string
		Score     float64
		Reasons   []string
	}
}

func organizations(t *testing.T, c *apitest.Client) []orgView {
	t.Helper()
	var out struct{ Items []orgView }
	c.Do(http.MethodGet, "/v1/integrations/"+env.IntegrationID+"/organizations?limit=500", nil).JSON(t, &out)
	return out.Items
}

// TestAccountSync covers issue 4 end to end against the sandboxes: match
// every organization (all three outcomes occur, never a look-alike),
// link, create, site mapping with an explicit map, unmap, manual search
// with filters, reverse provisioning (a new organization, or the matching
// one adopted), and 20 racing creates → one company.
func TestAccountSync(t *testing.T) {
	c := client(t)
	base := "/v1/integrations/" + env.IntegrationID
	orgs := organizations(t, c)
	if len(orgs) != 30 {
		t.Fatalf("organizations = %d, want 30", len(orgs))
	}
	truth, lookAlikes := env.CW().Truth(), env.CW().LookAlikes()
	outcomes := map[string][]orgView{}
	for _, o := range orgs {
		var m matchView
		r := c.Do(http.MethodPost, base+"/organizations/"+o.ID+"/match", nil)
		r.JSON(t, &m)
		if r.Status != 200 {
			t.Fatalf("match %s = %d %s", o.Name, r.Status, r.Body)
		}
		outcomes[m.Outcome] = append(outcomes[m.Outcome], o)
		if m.Outcome == "match_found" {
			got, _ := strconv.Atoi(m.Candidates[0].AccountID)
			if !contains(truth[o.Name], got) {
				t.Errorf("%q matched company %d (%s), not one of the true ones %v", o.Name, got, m.Candidates[0].Name, truth[o.Name])
			}
			if contains(lookAlikes[o.Name], got) {
				t.Errorf("%q matched a look-alike %d", o.Name, got)
			}
			if len(m.Candidates[0].Reasons) == 0 {
				t.Errorf("%q: match without reasons", o.Name)
			}
		}
	}
	t.Logf("match outcomes over %d organizations: match_found %d, multiple_matches %d, no_match %d",
		len(orgs), len(outcomes["match_found"]), len(outcomes["multiple_matches"]), len(outcomes["no_match"]))
	for _, want := range []string{"match_found", "multiple_matches", "no_match"} {
		if len(outcomes[want]) == 0 {
			t.Errorf("no organization came out %s", want)
		}
	}
	if t.Failed() {
		return
	}

	// Link a matched org, mapping its first site explicitly to a new location.
	linked := outcomes["match_found"][0]
	var m matchView
	c.Do(http.MethodPost, base+"/organizations/"+linked.ID+"/match", nil).JSON(t, &m)
	acct := m.Candidates[0].AccountID
	r := c.Do(http.MethodPut, base+"/mappings/"+linked.ID, map[string]any{"accountId": acct, "sites": map[string]string{linked.Sites[0].ID: "create"}})
	var mp struct {
		OrganizationID, AccountID, Mode string
		Sites                           map[string]string
	}
	r.JSON(t, &mp)
	if r.Status != 200 || mp.Mode != "linked" || mp.AccountID != acct || len(mp.Sites) != len(linked.Sites) {
		t.Fatalf("link = %d %s", r.Status, r.Body)
	}
	var locs struct{ Items []struct{ ID, Name string } }
	c.Do(http.MethodGet, base+"/psa/accounts/"+acct+"/locations", nil).JSON(t, &locs)
	found := false
	for _, l := range locs.Items {
		found = found || l.ID == mp.Sites[linked.Sites[0].ID]
	}
	if !found {
		t.Errorf("site %s mapped to %s, which is not among the account's locations %v", linked.Sites[0].ID, mp.Sites[linked.Sites[0].ID], locs.Items)
	}

	// Create an account for an org with no match; its name is the org's.
	lonely := outcomes["no_match"][0]
	companiesBefore := len(env.CW().Companies())
	r = c.Do(http.MethodPut, base+"/mappings/"+lonely.ID, map[string]any{"createAccount": map[string]any{}})
	r.JSON(t, &mp)
	if r.Status != 200 || mp.Mode != "created" || len(env.CW().Companies()) != companiesBefore+1 {
		t.Fatalf("create = %d %s (companies %d → %d)", r.Status, r.Body, companiesBefore, len(env.CW().Companies()))
	}
	// Repeating the create is idempotent.
	if r := c.Do(http.MethodPut, base+"/mappings/"+lonely.ID, map[string]any{"createAccount": map[string]any{}}); r.Status != 200 || len(env.CW().Companies()) != companiesBefore+1 {
		t.Errorf("repeated create = %d, companies %d; want the same account", r.Status, len(env.CW().Companies()))
	}

	// The organization list shows both mappings; unmapping keeps the PSA data.
	mapped := 0
	for _, o := range organizations(t, c) {
		if o.Mapping != nil {
			mapped++
		}
	}
	if mapped != 2 {
		t.Errorf("mapped organizations = %d, want 2", mapped)
	}
	if r := c.Do(http.MethodDelete, base+"/mappings/"+linked.ID, nil); r.Status != 204 {
		t.Errorf("unmap = %d %s", r.Status, r.Body)
	}
	if r := c.Do(http.MethodGet, base+"/mappings/"+linked.ID, nil); r.Status != 404 {
		t.Errorf("GET after unmap = %d, want 404", r.Status)
	}
	if r := c.Do(http.MethodGet, base+"/psa/accounts/"+acct+"/locations", nil); r.Status != 200 {
		t.Errorf("the account is gone after unmap: %d", r.Status)
	}

	// Manual search with status and type filters.
	var statuses, types struct{ Items []struct{ ID, Name string } }
	c.Do(http.MethodGet, base+"/psa/account-statuses", nil).JSON(t, &statuses)
	c.Do(http.MethodGet, base+"/psa/account-types", nil).JSON(t, &types)
	if len(statuses.Items) == 0 || len(types.Items) == 0 {
		t.Fatalf("statuses %v types %v", statuses, types)
	}
	var all, filtered struct {
		Items []struct{ ID, Name, Status, Type string }
	}
	c.Do(http.MethodGet, base+"/psa/accounts?limit=500", nil).JSON(t, &all)
	c.Do(http.MethodGet, base+"/psa/accounts?limit=500&status="+statuses.Items[0].ID, nil).JSON(t, &filtered)
	if len(filtered.Items) == 0 || len(filtered.Items) > len(all.Items) {
		t.Errorf("status filter: %d of %d accounts", len(filtered.Items), len(all.Items))
	}
	for _, a := range filtered.Items {
		if a.Status != statuses.Items[0].Name {
			t.Errorf("status filter %s returned %s with status %s", statuses.Items[0].Name, a.Name, a.Status)
		}
	}
	word := strings.Fields(linked.Name)[0]
	var search struct{ Items []struct{ Name string } }
	c.Do(http.MethodGet, base+"/psa/accounts?search="+word, nil).JSON(t, &search)
	for _, a := range search.Items {
		if !strings.Contains(strings.ToLower(a.Name), strings.ToLower(strings.Trim(word, ",."))) {
			t.Errorf("search %q returned %q", word, a.Name)
		}
	}

	// Reverse provisioning follows the account decision in reverse: an
	// unmapped company that no organization matches gets a new RMM
	// organization; one auto-match finds an unmapped organization for
	// adopts it, and no organization is created.
	ninjaBefore := len(env.Ninja().Orgs())
	current := organizations(t, c)
	var rmmOrgs []rmm.Organization
	used, mappedOrg := map[string]bool{}, map[string]bool{}
	for _, o := range current {
		rmmOrgs = append(rmmOrgs, rmm.Organization{ID: o.ID, Name: o.Name})
		if o.Mapping != nil {
			used[o.Mapping.AccountID], mappedOrg[o.ID] = true, true
		}
	}
	var target, adopt, adoptOrg string
	for _, a := range all.Items {
		if used[a.ID] {
			continue
		}
		switch res := account.MatchOrganizations(a.Name, rmmOrgs); {
		case res.Outcome == account.NoMatch && target == "":
			target = a.ID
		case res.Outcome == account.MatchFound && adopt == "" && !mappedOrg[res.Candidates[0].Account.ID]:
			adopt, adoptOrg = a.ID, res.Candidates[0].Account.ID
		}
	}
	if target == "" || adopt == "" {
		t.Fatalf("no unmapped company without a matching organization (%q) or with one (%q)", target, adopt)
	}
	r = c.Do(http.MethodPost, base+"/psa/accounts/"+target+"/provision-rmm", nil)
	var prov struct {
		OrganizationID, AccountID string
		Sites                     map[string]string
	}
	r.JSON(t, &prov)
	if r.Status != 201 || prov.AccountID != target || prov.OrganizationID == "" {
		t.Fatalf("provision = %d %s", r.Status, r.Body)
	}
	if len(env.Ninja().Orgs()) != ninjaBefore+1 {
		t.Errorf("NinjaOne organizations %d → %d, want one more", ninjaBefore, len(env.Ninja().Orgs()))
	}
	r = c.Do(http.MethodPost, base+"/psa/accounts/"+adopt+"/provision-rmm", nil)
	r.JSON(t, &prov)
	if r.Status != 201 || prov.AccountID != adopt || prov.OrganizationID != adoptOrg || len(env.Ninja().Orgs()) != ninjaBefore+1 {
		t.Errorf("provision of account %s = %d %s, NinjaOne organizations %d; want organization %s adopted, none created",
			adopt, r.Status, r.Body, len(env.Ninja().Orgs()), adoptOrg)
	}
	if r := c.Do(http.MethodPost, base+"/psa/accounts/"+target+"/provision-rmm", nil); r.Status != 409 {
		t.Errorf("provision twice = %d, want 409", r.Status)
	}
}

// The 20-way create race runs for every pair in TestPairs
// (pairs_e2e_test.go).

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

type jobView struct {
	ID, Kind, Status string
	DryRun           bool
	Counts           map[string]int
	Preview          []struct{ Key, Action, Name, TargetID, Reason string }
}

// waitJob polls an import until it reaches a final status.
func waitJob(t *testing.T, c *apitest.Client, id string, limit time.Duration) jobView {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var j jobView
		c.Do(http.MethodGet, "/v1/integrations/"+env.IntegrationID+"/imports/"+id, nil).JSON(t, &j)
		switch j.Status {
		case "succeeded", "partial", "failed":
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("import %s still %s after %s: %+v", id, j.Status, limit, j.Counts)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestOrganizationImport covers issue 4's bulk organization import through
// the queues: a dry run previews and writes nothing, then the real run
// links confident matches, sends ambiguous ones to review, and creates
// accounts for the rest.
func TestOrganizationImport(t *testing.T) {
	c := client(t)
	base := "/v1/integrations/" + env.IntegrationID
	companies := len(env.CW().Companies())
	orgs := organizations(t, c)
	total := len(orgs)
	mappedBefore := 0
	for _, o := range orgs {
		if o.Mapping != nil {
			mappedBefore++
		}
	}

	var queued struct{ ID, Status string }
	r := c.Do(http.MethodPost, base+"/imports", map[string]any{"kind": "organizations", "dryRun": true, "createMissingAccounts": true})
	r.JSON(t, &queued)
	if r.Status != 202 || queued.Status != "queued" {
		t.Fatalf("dry run = %d %s", r.Status, r.Body)
	}
	dry := waitJob(t, c, queued.ID, 2*time.Minute)
	if !dry.DryRun || dry.Counts["total"] != total || len(dry.Preview) == 0 {
		t.Errorf("dry run = %+v; want %d organizations with a preview", dry, total)
	}
	actions := map[string]int{}
	for _, p := range dry.Preview {
		actions[p.Action]++
	}
	t.Logf("dry run: status %s, counts %v, preview actions %v", dry.Status, dry.Counts, actions)
	if len(env.CW().Companies()) != companies {
		t.Errorf("the dry run created %d companies", len(env.CW().Companies())-companies)
	}
	mappedAfterDry := 0
	for _, o := range organizations(t, c) {
		if o.Mapping != nil {
			mappedAfterDry++
		}
	}
	if mappedAfterDry != mappedBefore {
		t.Errorf("the dry run changed mappings: %d → %d", mappedBefore, mappedAfterDry)
	}

	r = c.Do(http.MethodPost, base+"/imports", map[string]any{"kind": "organizations", "createMissingAccounts": true})
	r.JSON(t, &queued)
	real := waitJob(t, c, queued.ID, 3*time.Minute)
	t.Logf("organization import: status %s, counts %v", real.Status, real.Counts)
	n := real.Counts
	if sum := n["created"] + n["linked"] + n["updated"] + n["unchanged"] + n["skipped"] + n["failed"] + n["review"]; sum != n["total"] || n["total"] != total {
		t.Errorf("counts %v do not add up to %d organizations", n, total)
	}
	if n["linked"] == 0 || n["created"] == 0 || n["review"] == 0 || n["failed"] != 0 {
		t.Errorf("counts %v; want links, creates and review items and no failures", n)
	}
	if real.Status != "partial" {
		t.Errorf("status %s; with review items the job is partial", real.Status)
	}
	var review struct {
		Items []struct{ Key, Status, Reason string }
	}
	c.Do(http.MethodGet, base+"/imports/"+queued.ID+"/items?status=review", nil).JSON(t, &review)
	if len(review.Items) != n["review"] {
		t.Errorf("review items listed %d, counted %d", len(review.Items), n["review"])
	}
	for _, it := range review.Items {
		if it.Reason == "" {
			t.Errorf("review item %s has no reason", it.Key)
		}
	}
	mapped := 0
	for _, o := range organizations(t, c) {
		if o.Mapping != nil {
			mapped++
		}
	}
	if mapped != total-n["review"] {
		t.Errorf("mapped organizations = %d, want %d - %d review", mapped, total, n["review"])
	}
	if got := len(env.CW().Companies()) - companies; got != n["created"] {
		t.Errorf("companies created %d, counted %d", got, n["created"])
	}
}

// TestAlertToTicket is issue 6 as a user would try it: the NinjaOne
// sandbox posts a trigger, a repeat and a reset of one condition to the
// webhook; one ConnectWise ticket appears, gets a note, and closes. It also
// measures the end-to-end alert → ticket latency.
func TestAlertToTicket(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	base := "/v1/integrations/" + env.IntegrationID
	// The device's organization must be mapped (or auto-created: the demo
	// integration has autoCreateAccounts on).
	dev := env.Ninja().Devices()[0]
	url := env.Stack.APIURL() + "/v1/webhooks/" + env.IntegrationID + "/rmm"
	hdr := map[string]string{"Authorization": "Bearer " + env.WebhookSecret}
	ticketsBefore := len(env.CW().Tickets())

	trigger, err := env.Ninja().ConditionActivity(dev.ID, true, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := env.Ninja().EmitWebhook(ctx, url, hdr, trigger); err != nil {
		t.Fatalf("emit trigger: %v", err)
	}
	var ticketLatency time.Duration
	waitUntil(t, 60*time.Second, "a ticket for the trigger", func() bool {
		if len(env.CW().Tickets()) > ticketsBefore {
			ticketLatency = time.Since(start)
			return true
		}
		return false
	})
	t.Logf("alert → ticket latency through the local stack: %s", ticketLatency.Round(time.Millisecond))

	// A duplicate delivery of the same activity is acknowledged as such.
	if err := env.Ninja().EmitWebhook(ctx, url, hdr, trigger); err != nil {
		t.Fatalf("emit duplicate: %v", err)
	}
	// A repeat of the series (a new activity, same seriesUid) adds a note.
	repeat, err := env.Ninja().ConditionActivity(dev.ID, true, trigger.SeriesUID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Ninja().EmitWebhook(ctx, url, hdr, repeat); err != nil {
		t.Fatalf("emit repeat: %v", err)
	}
	ticket := func() (found bool, notes int, closed bool) {
		tickets := env.CW().Tickets()
		if len(tickets) != ticketsBefore+1 {
			return false, 0, false
		}
		tk := tickets[len(tickets)-1]
		return true, len(tk.Notes), tk.Closed
	}
	_, notesAfterCreate, _ := ticket()
	waitUntil(t, 60*time.Second, "a note for the repeat", func() bool {
		_, n, _ := ticket()
		return n > notesAfterCreate
	})
	reset, err := env.Ninja().ConditionActivity(dev.ID, false, trigger.SeriesUID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Ninja().EmitWebhook(ctx, url, hdr, reset); err != nil {
		t.Fatalf("emit reset: %v", err)
	}
	waitUntil(t, 60*time.Second, "the ticket closed on reset", func() bool {
		_, _, closed := ticket()
		return closed
	})
	if got := len(env.CW().Tickets()) - ticketsBefore; got != 1 {
		t.Errorf("tickets created = %d, want exactly 1 for trigger, duplicate, repeat and reset", got)
	}
	tk := env.CW().Tickets()[len(env.CW().Tickets())-1]
	if tk.Type != "Incident" || tk.Status != "Closed (resolved)" {
		t.Errorf("ticket type %q status %q, want the integration's ticketDefaults type Incident, closed", tk.Type, tk.Status)
	}
	type alertItem struct {
		SeriesID, State, Reason string
		Occurrences             int
		LastSeenAt, ClosedAt    time.Time
	}
	listAlerts := func(state string) map[string]alertItem {
		var alerts struct{ Items []alertItem }
		c.Do(http.MethodGet, base+"/alerts?limit=500&state="+state, nil).JSON(t, &alerts)
		out := map[string]alertItem{}
		for _, a := range alerts.Items {
			out[a.SeriesID] = a
		}
		return out
	}
	resetAt := time.UnixMilli(int64(reset.ActivityTime * 1000)).UTC()
	if a, ok := listAlerts("closed")[trigger.SeriesUID]; !ok {
		t.Errorf("GET /alerts?state=closed does not list series %s", trigger.SeriesUID)
	} else if a.Occurrences != 2 || a.ClosedAt.Sub(resetAt).Abs() > time.Millisecond || !a.LastSeenAt.Equal(a.ClosedAt) {
		t.Errorf("closed series %+v, want 2 occurrences (trigger + repeat), closedAt and lastSeenAt the reset's time %v", a, resetAt)
	}

	// Inside the integration's reopen window a new trigger of the series
	// reopens the same ticket: the PSA connection has tickets.reopen, so
	// the worker sets the ticket back to the board's default status (and
	// notes it) instead of asking a person to reopen it.
	var ig struct {
		Settings map[string]any `json:"settings"`
	}
	c.Do(http.MethodGet, base, nil).JSON(t, &ig)
	withWindow := maps.Clone(ig.Settings)
	withWindow["reopenWindowMinutes"] = 60
	if r := c.Do(http.MethodPatch, base, map[string]any{"settings": withWindow}); r.Status != http.StatusOK {
		t.Fatalf("PATCH reopenWindowMinutes = %d %s", r.Status, r.Body)
	}
	t.Cleanup(func() { c.Do(http.MethodPatch, base, map[string]any{"settings": ig.Settings}) })
	again, err := env.Ninja().ConditionActivity(dev.ID, true, trigger.SeriesUID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Ninja().EmitWebhook(ctx, url, hdr, again); err != nil {
		t.Fatalf("emit the new trigger: %v", err)
	}
	waitUntil(t, 60*time.Second, "the closed ticket reopened by a trigger inside the reopen window", func() bool {
		_, _, closed := ticket()
		return !closed
	})
	reopened := env.CW().Tickets()[len(env.CW().Tickets())-1]
	lastNote := ""
	if n := len(reopened.Notes); n > 0 {
		lastNote = reopened.Notes[n-1].Text
	}
	waitUntil(t, 30*time.Second, "the reopen noted", func() bool {
		tk := env.CW().Tickets()[len(env.CW().Tickets())-1]
		if n := len(tk.Notes); n > 0 {
			lastNote = tk.Notes[n-1].Text
		}
		return strings.Contains(lastNote, "rmmbridge reopened this ticket")
	})
	if reopened.ID != tk.ID || reopened.Status != "New" || len(env.CW().Tickets()) != ticketsBefore+1 {
		t.Errorf("after the new trigger: ticket %d on %q, %d tickets; want ticket %d reopened on New and no new ticket",
			reopened.ID, reopened.Status, len(env.CW().Tickets())-ticketsBefore, tk.ID)
	}

	// A wrong secret is refused.
	if err := env.Ninja().EmitWebhook(ctx, url, map[string]string{"Authorization": "Bearer whsec_wrong"}, trigger); err == nil {
		t.Error("a delivery with a wrong secret was accepted")
	}

	// Issue 9: an alert of a device and an organization the RMM does not
	// know (the demo integration auto-creates accounts, which needs the
	// organization) is recorded as unroutable with a reason, at once, and
	// creates nothing; its reset then closes it, in its turn.
	ticketsNow := len(env.CW().Tickets())
	ghost, err := env.Ninja().ConditionActivity(dev.ID, true, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	ghost.ID += 1 << 40
	ghost.DeviceID = 990001
	ghost.Device.ID, ghost.Device.OrganizationID, ghost.Device.LocationID = 990001, 990002, 0
	ghost.Device.References.Organization.ID, ghost.Device.References.Location.ID = 990002, 0
	if err := env.Ninja().EmitWebhook(ctx, url, hdr, ghost); err != nil {
		t.Fatalf("emit the unroutable trigger: %v", err)
	}
	var ghostItem alertItem
	waitUntil(t, 30*time.Second, "the unknown device's alert listed as unroutable", func() bool {
		a, ok := listAlerts("unroutable")[ghost.SeriesUID]
		ghostItem = a
		return ok
	})
	if !strings.Contains(ghostItem.Reason, "990002") || ghostItem.Occurrences != 1 {
		t.Errorf("unroutable series %+v, want a reason naming organization 990002", ghostItem)
	}
	ghostReset := ghost
	ghostReset.ID++
	ghostReset.StatusCode, ghostReset.Status, ghostReset.ActivityTime = "RESET", "Reset", ghost.ActivityTime+60
	if err := env.Ninja().EmitWebhook(ctx, url, hdr, ghostReset); err != nil {
		t.Fatalf("emit the unroutable series' reset: %v", err)
	}
	waitUntil(t, 30*time.Second, "the unroutable series closed by its reset (its FIFO group not blocked)", func() bool {
		_, ok := listAlerts("closed")[ghost.SeriesUID]
		return ok
	})
	if n := len(env.CW().Tickets()) - ticketsNow; n != 0 {
		t.Errorf("%d tickets created for an unroutable alert", n)
	}

	// Issue 9: a 100 KB seriesUid is refused at the door (400 naming the
	// field), not accepted and then failing forever on DynamoDB's key limit.
	huge := trigger
	huge.ID += 1 << 41
	huge.SeriesUID = strings.Repeat("s", 100<<10)
	body, err := json.Marshal(huge)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", hdr["Authorization"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var prob problem
	if err := json.NewDecoder(resp.Body).Decode(&prob); err != nil {
		t.Fatalf("decode the answer to a 100 KB seriesUid: %v", err)
	}
	if resp.StatusCode != http.StatusBadRequest || len(prob.Errors) != 1 || prob.Errors[0].Field != "seriesId" {
		t.Errorf("a 100 KB seriesUid: %d %+v, want 400 naming seriesId", resp.StatusCode, prob)
	}
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkAlertToTicket measures the end-to-end latency from a NinjaOne
// sandbox webhook delivery to the ConnectWise sandbox ticket, through the
// local stack (webhook function, FIFO queue, worker): one new alert series
// per iteration.
func BenchmarkAlertToTicket(b *testing.B) {
	ctx := context.Background()
	url := env.Stack.APIURL() + "/v1/webhooks/" + env.IntegrationID + "/rmm"
	hdr := map[string]string{"Authorization": "Bearer " + env.WebhookSecret}
	devices := env.Ninja().Devices()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		before := len(env.CW().Tickets())
		a, err := env.Ninja().ConditionActivity(devices[i%len(devices)].ID, true, "", i)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := env.Ninja().EmitWebhook(ctx, url, hdr, a); err != nil {
			b.Fatal(err)
		}
		for len(env.CW().Tickets()) == before {
			if time.Since(start) > time.Minute {
				b.Fatalf("no ticket after a minute for series %s", a.SeriesUID)
			}
			time.Sleep(5 * time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/alert-to-ticket")
}
