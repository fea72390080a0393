package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendors/halopsa/sandbox"
)

func start(t *testing.T, opt sandbox.Options) (*sandbox.Server, string) {
	t.Helper()
	s := sandbox.New(opt)
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, u
}

func call(t *testing.T, method, u, tok string, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, body)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if method == http.MethodPost && strings.Contains(u, "/auth/token") {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// tokenFor runs the discovery and the grant as a client does.
func tokenFor(t *testing.T, base, tenant, id, secret string) (int, string) {
	t.Helper()
	st, _, b := call(t, http.MethodGet, base+"/api/authinfo", "", nil)
	var info struct {
		AuthURL string `json:"auth_url"`
	}
	if st != 200 || json.Unmarshal(b, &info) != nil || info.AuthURL == "" {
		t.Fatalf("authinfo = %d %s", st, b)
	}
	tu := info.AuthURL + "/token"
	if tenant != "" {
		tu += "?tenant=" + url.QueryEscape(tenant)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {"all"}}
	st, _, b = call(t, http.MethodPost, tu, "", strings.NewReader(form.Encode()))
	var tr struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	_ = json.Unmarshal(b, &tr)
	if st != 200 {
		return st, tr.Error
	}
	return st, tr.AccessToken
}

// TestTokenGrantNeedsTheTenantOfAHostedInstance: the discovered token URL
// grants a token to the right application, only with the tenant when the
// instance is hosted; the token opens the API and nothing else does.
func TestTokenGrantNeedsTheTenantOfAHostedInstance(t *testing.T) {
	_, base := start(t, sandbox.Options{Seed: 1, Tenant: "acme"})
	for _, tc := range []struct {
		name, tenant, secret string
		want                 int
		wantErr              string
	}{
		{"right tenant and secret", "acme", sandbox.DefaultClientSecret, 200, ""},
		{"no tenant", "", sandbox.DefaultClientSecret, 400, "invalid_request"},
		{"wrong secret", "acme", "nope", 401, "invalid_client"},
	} {
		st, got := tokenFor(t, base, tc.tenant, sandbox.DefaultClientID, tc.secret)
		if st != tc.want || (tc.wantErr != "" && got != tc.wantErr) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, st, got, tc.want, tc.wantErr)
		}
	}
	_, tok := tokenFor(t, base, "acme", sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	if st, _, _ := call(t, http.MethodGet, base+"/api/Client/1", tok+"x", nil); st != 401 {
		t.Errorf("a wrong token: %d, want 401", st)
	}
	if st, _, b := call(t, http.MethodGet, base+"/api/Agent/me", tok, nil); st != 200 || !strings.Contains(string(b), `"is_api_only":true`) {
		t.Errorf("Agent/me = %d %s, want the API-only agent", st, b)
	}
}

// TestListsPageToRecordCount: pageinate/page_size/page_no pages reach
// record_count without repeats; without pageinate only a limited set comes.
func TestListsPageToRecordCount(t *testing.T) {
	s, base := start(t, sandbox.Options{Seed: 3, OrgCount: 40})
	_, tok := tokenFor(t, base, "", sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	var ids []int
	total := -1
	for page := 1; page < 100; page++ {
		_, _, b := call(t, http.MethodGet, base+"/api/Client?pageinate=true&page_size=7&includeinactive=true&page_no="+strconv.Itoa(page), tok, nil)
		var p struct {
			RecordCount int `json:"record_count"`
			Clients     []struct {
				ID int `json:"id"`
			} `json:"clients"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		total = p.RecordCount
		for _, c := range p.Clients {
			ids = append(ids, c.ID)
		}
		if page*7 >= p.RecordCount {
			break
		}
	}
	if len(ids) != total || total != len(s.Clients()) {
		t.Errorf("paged %d clients, record_count %d, the sandbox holds %d", len(ids), total, len(s.Clients()))
	}
	_, _, b := call(t, http.MethodGet, base+"/api/Client?includeinactive=true", tok, nil)
	var unpaged struct {
		Clients []any `json:"clients"`
	}
	_ = json.Unmarshal(b, &unpaged)
	if len(unpaged.Clients) != sandbox.UnpagedLimit {
		t.Errorf("an unpaged list held %d clients, want the limited %d", len(unpaged.Clients), sandbox.UnpagedLimit)
	}
}

// TestRelationshipTableIsConnectWises: for the same organizations and
// devices, the clients and assets have the ConnectWise sandbox's names and
// ids, so matching outcomes agree between the two PSAs.
func TestRelationshipTableIsConnectWises(t *testing.T) {
	orgs := []string{"Acme Inc.", "Northwind Traders", "Contoso Ltd", "Smith & Sons LLC", "Blue Ridge Dental", "Harbor Logistics", "Riverside Law P.C."}
	var devs []sandbox.Device
	var cwDevs []cwsandbox.Device
	for i := range 30 {
		d := sandbox.Device{ID: strconv.Itoa(1000 + i), Org: orgs[i%len(orgs)], Name: "WS-" + strconv.Itoa(i), Serial: "SN" + strconv.Itoa(i)}
		devs = append(devs, d)
		cwDevs = append(cwDevs, cwsandbox.Device(d))
	}
	halo := sandbox.New(sandbox.Options{Seed: 11, Orgs: orgs, Devices: devs})
	cw := cwsandbox.New(cwsandbox.Options{Seed: 11, Orgs: orgs, Devices: cwDevs})
	if d := cmp.Diff(cw.Truth(), halo.Truth()); d != "" {
		t.Errorf("truth (-cw +halo):\n%s", d)
	}
	if d := cmp.Diff(cw.AssetTruth(), halo.AssetTruth()); d != "" {
		t.Errorf("asset truth (-cw +halo):\n%s", d)
	}
	names := map[int]string{}
	for _, c := range halo.Clients() {
		names[c.ID] = c.Name
	}
	for _, co := range cw.Companies() {
		if names[co.ID] != co.Name {
			t.Errorf("client %d = %q, ConnectWise company %q", co.ID, names[co.ID], co.Name)
		}
	}
	if len(halo.Truth()) == 0 || len(halo.LookAlikes()) == 0 {
		t.Errorf("no ground truth: %v %v", halo.Truth(), halo.LookAlikes())
	}
}

// TestAgentsSeeded: active agents with emails and roles, one without an
// email, two sharing an address, an inactive one (listed only with
// includeinactive) and the API-only agent.
func TestAgentsSeeded(t *testing.T) {
	_, base := start(t, sandbox.Options{Seed: 1})
	_, tok := tokenFor(t, base, "", sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	list := func(q string) []map[string]any {
		_, _, b := call(t, http.MethodGet, base+"/api/Agent"+q, tok, nil)
		var out []map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return out
	}
	active, all := list(""), list("?includeinactive=true")
	emails := map[string]int{}
	noEmail, api := 0, 0
	for _, a := range active {
		emails[a["email"].(string)]++
		if a["email"] == "" && a["is_api_only"] != true {
			noEmail++
		}
		if a["is_api_only"] == true {
			api++
		}
		if a["inactive"] == true {
			t.Errorf("inactive agent listed by default: %v", a)
		}
	}
	if emails["helpdesk@msp.example"] != 2 || noEmail != 1 || api != 1 || len(all) != len(active)+1 {
		t.Errorf("agents: %d active, %d in all, shared address %d, no email %d, API-only %d", len(active), len(all), emails["helpdesk@msp.example"], noEmail, api)
	}
}

// TestActionsAreNumberedPerTicketAndStatusChangesAreActions: two tickets
// both have action 1, 2; a status change by another agent is an action of
// that agent.
func TestActionsAreNumberedPerTicketAndStatusChangesAreActions(t *testing.T) {
	s, base := start(t, sandbox.Options{Seed: 1})
	s.AddApp("tech", "tech-secret", 1)
	_, tok := tokenFor(t, base, "", sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	_, tech := tokenFor(t, base, "", "tech", "tech-secret")
	cid := s.Clients()[0].ID
	var ids []int
	for range 2 {
		st, _, b := call(t, http.MethodPost, base+"/api/Tickets", tok, strings.NewReader(`[{"summary":"x","client_id":`+strconv.Itoa(cid)+`}]`))
		var tk struct{ ID int }
		if st != 201 || json.Unmarshal(b, &tk) != nil {
			t.Fatalf("create ticket: %d %s", st, b)
		}
		ids = append(ids, tk.ID)
		if st, _, b := call(t, http.MethodPost, base+"/api/Actions", tok, strings.NewReader(`[{"ticket_id":`+strconv.Itoa(tk.ID)+`,"outcome":"Note","note":"n"}]`)); st != 201 || !strings.Contains(string(b), `"id":2`) {
			t.Errorf("second action of ticket %d: %d %s", tk.ID, st, b)
		}
	}
	if st, _, b := call(t, http.MethodPost, base+"/api/Tickets", tech, strings.NewReader(`[{"id":`+strconv.Itoa(ids[0])+`,"status_id":2}]`)); st != 201 {
		t.Fatalf("status change: %d %s", st, b)
	}
	for _, tk := range s.Tickets() {
		if tk.ID != ids[0] {
			continue
		}
		if len(tk.Notes()) != 1 || tk.Notes()[0].ID != 2 || tk.Closed() {
			t.Errorf("ticket %d: notes %+v, closed %v; want the one note (action 2), open", tk.ID, tk.Notes(), tk.Closed())
		}
		last := tk.Actions[len(tk.Actions)-1]
		if last.ID != 3 || last.AgentID != 1 || last.NewStatus != 2 {
			t.Errorf("status change action = %+v, want action 3 by agent 1 to status 2", last)
		}
	}
	if st, _, _ := call(t, http.MethodPost, base+"/api/Actions", tok, strings.NewReader(`{"ticket_id":1}`)); st != 400 {
		t.Errorf("an object instead of an array: %d, want 400", st)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("ticket ids %v", ids)
	}
}

// TestRateLimitHeadersAnd429: the reported limit counts down and is
// enforced; a throttled request answers 429 with Retry-After.
func TestRateLimitHeadersAnd429(t *testing.T) {
	s, base := start(t, sandbox.Options{Seed: 1, ReportLimit: 60})
	_, tok := tokenFor(t, base, "", sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	_, h1, _ := call(t, http.MethodGet, base+"/api/TopLevel", tok, nil)
	_, h2, _ := call(t, http.MethodGet, base+"/api/TopLevel", tok, nil)
	if h1.Get("X-RateLimit-Limit") != "60" || h1.Get("X-RateLimit-Remaining") != "59" || h2.Get("X-RateLimit-Remaining") != "58" {
		t.Errorf("headers %v then %v", h1, h2)
	}
	for range 58 {
		call(t, http.MethodGet, base+"/api/TopLevel", tok, nil)
	}
	if st, h, _ := call(t, http.MethodGet, base+"/api/TopLevel", tok, nil); st != 429 || h.Get("X-RateLimit-Remaining") != "0" || h.Get("Retry-After") == "" {
		t.Errorf("request 61 of a limit of 60: %d, headers %v; want 429 with Retry-After", st, h)
	}
	s.ThrottleNext(1, 7e9)
	if st, h, _ := call(t, http.MethodGet, base+"/api/TopLevel", tok, nil); st != 429 || h.Get("Retry-After") != "7" {
		t.Errorf("throttled: %d Retry-After %q", st, h.Get("Retry-After"))
	}
}
