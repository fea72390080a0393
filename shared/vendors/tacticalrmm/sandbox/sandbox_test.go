package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

var epoch = time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)

func start(t *testing.T, opt Options) (*Server, string) {
	t.Helper()
	s := New(opt)
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, u
}

// call sends one request with the API key and returns status, body.
func call(t *testing.T, method, url, key, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestWireFormat: authentication, trailing slashes, the list and detail
// shapes, the error bodies and the plain-string create answers.
func TestWireFormat(t *testing.T) {
	s, u := start(t, Options{Seed: 2, Clients: 5, Agents: 30, Epoch: epoch})
	key := s.APIKey()

	if st, body, _ := call(t, "GET", u+"/clients/", "", ""); st != 401 || !strings.Contains(body, "Authentication credentials were not provided.") {
		t.Errorf("no key: %d %s", st, body)
	}
	if st, body, _ := call(t, "GET", u+"/clients/", "wrong", ""); st != 401 || !strings.Contains(body, `"Invalid token."`) {
		t.Errorf("wrong key: %d %s", st, body)
	}
	if st, _, h := call(t, "GET", u+"/clients", key, ""); st != 301 || h.Get("Location") != "/clients/" {
		t.Errorf("no trailing slash: %d to %q, want 301 to /clients/", st, h.Get("Location"))
	}
	if st, body, _ := call(t, "GET", u+"/nothing/here/", key, ""); st != 404 || !strings.Contains(body, "<h1>Not Found</h1>") {
		t.Errorf("unknown path: %d %s", st, body)
	}

	var clients []struct {
		ID    int    `json:"id"`
		Name  string `json:"name"`
		Sites []struct {
			ID     int    `json:"id"`
			Name   string `json:"name"`
			Client int    `json:"client"`
		} `json:"sites"`
	}
	_, body, _ := call(t, "GET", u+"/clients/", key, "")
	if err := json.Unmarshal([]byte(body), &clients); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range clients {
		names = append(names, c.Name)
		if len(c.Sites) == 0 || c.Sites[0].Client != c.ID {
			t.Errorf("client %d: sites %+v", c.ID, c.Sites)
		}
	}
	if d := cmp.Diff(ninjasandbox.OrganizationNames(2, 5), names); d != "" {
		t.Errorf("client names are the NinjaOne sandbox's organization names (-want +got):\n%s", d)
	}

	var light []map[string]any
	_, body, _ = call(t, "GET", u+"/agents/?detail=false&client=1", key, "")
	if err := json.Unmarshal([]byte(body), &light); err != nil || len(light) == 0 {
		t.Fatalf("light list: %v %s", err, body)
	}
	var keys []string
	for k := range light[0] {
		keys = append(keys, k)
	}
	if d := cmp.Diff([]string{"agent_id", "client", "hostname", "id", "site"}, sorted(keys)); d != "" {
		t.Errorf("?detail=false fields (-want +got):\n%s", d)
	}
	if _, ok := light[0]["client"].(string); !ok {
		t.Errorf("?detail=false client is %T, want the client's name", light[0]["client"])
	}

	var det map[string]any
	_, body, _ = call(t, "GET", u+"/agents/"+light[0]["agent_id"].(string)+"/", key, "")
	if err := json.Unmarshal([]byte(body), &det); err != nil {
		t.Fatal(err)
	}
	if _, ok := det["id"]; ok {
		t.Error("the agent detail carries id; AgentSerializer excludes it")
	}
	disk := det["disks"].([]any)[0].(map[string]any)
	if total, _ := disk["total"].(string); !strings.HasSuffix(total, "G") || disk["percent"] == nil {
		t.Errorf("disk %v: want human-readable sizes (\"232.3G\") and percent", disk)
	}
	wmi := det["wmi_detail"].(map[string]any)
	if det["plat"] == "windows" {
		if wmi["bios"].([]any)[0].([]any)[0].(map[string]any)["SerialNumber"] == nil {
			t.Errorf("windows wmi_detail without bios[0][0].SerialNumber: %v", wmi)
		}
	} else if wmi["serialnumber"] == nil {
		t.Errorf("posix wmi_detail without serialnumber: %v", wmi)
	}

	// Creates answer plain strings; refusals are DRF field bodies or bare
	// strings.
	if st, body, _ := call(t, "POST", u+"/clients/", key, `{"client":{"name":"New Co"},"site":{"name":"HQ"},"custom_fields":[]}`); st != 200 || body != "\"New Co was added\"\n" {
		t.Errorf("create client: %d %q", st, body)
	}
	if st, body, _ := call(t, "POST", u+"/clients/", key, `{"client":{"name":"New Co"},"site":{"name":"HQ"}}`); st != 400 || !strings.Contains(body, `{"name":["client with this name already exists."]}`) {
		t.Errorf("duplicate client: %d %s", st, body)
	}
	if st, body, _ := call(t, "POST", u+"/clients/sites/", key, `{"site":{"client":987,"name":"X"}}`); st != 400 || !strings.Contains(body, `"client":["Invalid pk \"987\" - object does not exist."]`) {
		t.Errorf("site of a missing client: %d %s", st, body)
	}
	if st, body, _ := call(t, "POST", u+"/clients/sites/", key, `{"site":{"client":1,"name":"Annex"}}`); st != 200 || body != "\"Site Annex was added!\"\n" {
		t.Errorf("create site: %d %q", st, body)
	}
	if st, body, _ := call(t, "GET", u+"/agents/?monitoring_type=phone", key, ""); st != 400 || body != "\"monitoring type does not exist\"\n" {
		t.Errorf("notify_error: %d %q", st, body)
	}
}

func sorted(ss []string) []string {
	out := append([]string(nil), ss...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestBetaAPI: 404 unless enabled; then DRF page-number paging with the
// page size capped at 1,000 and every model field (site id, wmi_detail).
func TestBetaAPI(t *testing.T) {
	s, u := start(t, Options{Seed: 3, Clients: 2, Agents: 1200, Epoch: epoch})
	if st, _, _ := call(t, "GET", u+"/beta/v1/agent/", s.APIKey(), ""); st != 404 {
		t.Errorf("beta disabled: %d, want 404", st)
	}
	s.SetBetaAPI(true)
	var page struct {
		Count   int              `json:"count"`
		Next    *string          `json:"next"`
		Results []map[string]any `json:"results"`
	}
	_, body, _ := call(t, "GET", u+"/beta/v1/agent/?page_size=5000", s.APIKey(), "")
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	if page.Count != 1200 || len(page.Results) != MaxBetaPageSize || page.Next == nil {
		t.Errorf("count %d, %d results, next %v; want 1200, 1000, a next link", page.Count, len(page.Results), page.Next)
	}
	if r := page.Results[0]; r["site"] == nil || r["wmi_detail"] == nil || r["id"] == nil {
		t.Errorf("beta agent without model fields: %v", r)
	}
	if st, body, _ := call(t, "GET", u+"/beta/v1/agent/?page=3&page_size=1000", s.APIKey(), ""); st != 404 || !strings.Contains(body, "Invalid page.") {
		t.Errorf("page past the end: %d %s", st, body)
	}
}

// TestURLActions: the documented bodies, posted on a failing check and on
// its resolution, with Tactical's substitution quirks: values as text,
// falsy ones None, Python datetimes; a value that breaks the JSON makes
// the whole body a JSON string.
func TestURLActions(t *testing.T) {
	type got struct {
		header http.Header
		body   []byte
	}
	ch := make(chan got, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- got{r.Header.Clone(), b}
	}))
	defer recv.Close()
	s, _ := start(t, Options{Seed: 4, Clients: 2, Agents: 4, Epoch: epoch})
	s.ConfigureURLActions(recv.URL+"/webhooks/x", "s3cret")
	a := s.Agents()[0]
	id, err := s.FailCheck(context.Background(), a.AgentID, "Disk space check: Drive C:", "error")
	if err != nil {
		t.Fatal(err)
	}
	g := <-ch
	if g.header.Get("Authorization") != "Bearer s3cret" {
		t.Errorf("headers %v", g.header)
	}
	var m map[string]string
	if err := json.Unmarshal(g.body, &m); err != nil {
		t.Fatalf("failure body %s: %v", g.body, err)
	}
	if m["event"] != "trigger" || m["agent_id"] != a.AgentID || m["task"] != "None" || m["client_id"] == "" || !strings.HasSuffix(m["alert_time"], "+00:00") || strings.Contains(m["alert_time"], "T") {
		t.Errorf("failure body %v", m)
	}
	if err := s.ResolveAlert(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	g = <-ch
	if err := json.Unmarshal(g.body, &m); err != nil || m["event"] != "resolved" || m["resolved_on"] == "None" {
		t.Errorf("resolved body %s: %v", g.body, err)
	}
	// A quote in a substituted value: Tactical cannot parse the body and
	// posts it as a JSON string.
	if _, err := s.FailCheck(context.Background(), a.AgentID, `Ping "gateway"`, "warning"); err != nil {
		t.Fatal(err)
	}
	g = <-ch
	var text string
	if err := json.Unmarshal(g.body, &text); err != nil || !strings.Contains(text, `"check": "Ping "gateway""`) {
		t.Errorf("broken body: %s (%v), want a JSON string holding the text", g.body, err)
	}
}

// TestSeedIsDeterministic: the same options give the same data.
func TestSeedIsDeterministic(t *testing.T) {
	a, b := New(Options{Seed: 9, Clients: 4, Agents: 20, Epoch: epoch}), New(Options{Seed: 9, Clients: 4, Agents: 20, Epoch: epoch})
	if d := cmp.Diff(a.Agents(), b.Agents()); d != "" {
		t.Errorf("agents differ:\n%s", d)
	}
}
