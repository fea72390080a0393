package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var epoch = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// start runs a sandbox on a loopback port for the test.
func start(t *testing.T, opt Options) (*Server, string) {
	t.Helper()
	if opt.Epoch.IsZero() {
		opt.Epoch = epoch
	}
	s := New(opt)
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, u
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

func call(t *testing.T, method, u, tok string, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func tokenCall(t *testing.T, base, path, id, secret, scope string) answer {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	if scope != "" {
		form.Set("scope", scope)
	}
	resp, err := http.PostForm(base+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func accessToken(t *testing.T, base, scope string) string {
	t.Helper()
	a := tokenCall(t, base, "/ws/oauth/token", "sandbox-client-id", "sandbox-client-secret", scope)
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	a.json(t, &tr)
	if a.status != 200 || tr.AccessToken == "" {
		t.Fatalf("token: %d %s", a.status, a.body)
	}
	return tr.AccessToken
}

func TestSeedIsDeterministic(t *testing.T) {
	a := New(Options{Seed: 42, Orgs: 12, Devices: 150, Epoch: epoch})
	b := New(Options{Seed: 42, Orgs: 12, Devices: 150, Epoch: epoch})
	if diff := cmp.Diff(a.Orgs(), b.Orgs()); diff != "" {
		t.Errorf("orgs differ for one seed (-a +b):\n%s", diff)
	}
	if diff := cmp.Diff(a.Devices(), b.Devices()); diff != "" {
		t.Errorf("devices differ for one seed (-a +b):\n%s", diff)
	}
	c := New(Options{Seed: 43, Orgs: 12, Devices: 150, Epoch: epoch})
	if cmp.Equal(a.Devices(), c.Devices()) {
		t.Error("seeds 42 and 43 gave the same devices")
	}
}

func TestOrganizationNames(t *testing.T) {
	got := OrganizationNames(1, 6)
	want := []string{"Acme, Inc.", "Smith & Sons LLC", "Müller GmbH", "Northwind Traders", "Contoso Ltd", "Blue Sky Dental"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("first names (-want +got):\n%s", diff)
	}
	many := OrganizationNames(9, 700)
	seen := map[string]bool{}
	for _, n := range many {
		if seen[n] {
			t.Errorf("duplicate name %q", n)
		}
		seen[n] = true
	}
	if diff := cmp.Diff(many, OrganizationNames(9, 700)); diff != "" {
		t.Errorf("names are not deterministic:\n%s", diff)
	}
	var names []string
	for _, o := range New(Options{Seed: 9, Orgs: 30, Devices: 1}).Orgs() {
		names = append(names, o.Name)
	}
	if diff := cmp.Diff(OrganizationNames(9, 30), names); diff != "" {
		t.Errorf("server orgs do not follow OrganizationNames (-want +got):\n%s", diff)
	}
}

func TestSeedLooksReal(t *testing.T) {
	s := New(Options{Seed: 7, Orgs: 25, Devices: 1500, Epoch: epoch})
	classes := map[string]int{}
	placeholders := 0
	locOrg := map[int]int{}
	for _, o := range s.Orgs() {
		if n := len(o.Locations); n < 2 || n > 4 {
			t.Errorf("%s has %d locations, want 2-4", o.Name, n)
		}
		for _, l := range o.Locations {
			locOrg[l.ID] = o.ID
		}
	}
	hostnames := map[string]bool{}
	for _, d := range s.Devices() {
		classes[d.NodeClass]++
		if isPlaceholder(d.System.SerialNumber) {
			placeholders++
		}
		if n := len(d.Volumes); n < 1 || n > 4 {
			t.Errorf("device %d has %d volumes, want 1-4", d.ID, n)
		}
		if locOrg[d.LocationID] != d.OrganizationID {
			t.Errorf("device %d is in location %d of another organization", d.ID, d.LocationID)
		}
		key := strconv.Itoa(d.OrganizationID) + "/" + d.SystemName
		if hostnames[key] {
			t.Errorf("duplicate hostname %s", key)
		}
		hostnames[key] = true
		last := time.UnixMilli(int64(d.LastContact * 1000))
		if last.After(epoch) || d.LastContact != float64(int64(d.LastContact*1000))/1000 {
			t.Errorf("device %d lastContact %v is not epoch seconds with milliseconds before the epoch", d.ID, d.LastContact)
		}
		if d.OS == nil || d.OS.Name == "" || d.System.Manufacturer == "" || d.System.Model == "" || len(d.IPAddresses) == 0 || len(d.MACAddresses) == 0 {
			t.Errorf("device %d lacks fields: %+v", d.ID, d)
		}
	}
	for _, c := range []string{"WINDOWS_WORKSTATION", "WINDOWS_SERVER", "MAC", "LINUX_WORKSTATION"} {
		if classes[c] == 0 {
			t.Errorf("no %s devices: %v", c, classes)
		}
	}
	if share := float64(placeholders) / 1500; share < 0.01 || share > 0.07 {
		t.Errorf("placeholder serial share = %.3f, want about 3%%", share)
	}
}

func isPlaceholder(s string) bool {
	for _, p := range placeholderSerials {
		if s == p {
			return true
		}
	}
	return false
}

func TestTokenEndpoint(t *testing.T) {
	_, base := start(t, Options{Orgs: 2, Devices: 2})
	tests := []struct {
		name, path, id, secret, scope string
		status                        int
		wantError                     string
	}{
		{name: "ws path", path: "/ws/oauth/token", id: "sandbox-client-id", secret: "sandbox-client-secret", scope: "monitoring management", status: 200},
		{name: "oauth path", path: "/oauth/token", id: "sandbox-client-id", secret: "sandbox-client-secret", status: 200},
		{name: "wrong secret", path: "/ws/oauth/token", id: "sandbox-client-id", secret: "x", status: 401, wantError: "invalid_client"},
		{name: "wrong id", path: "/ws/oauth/token", id: "x", secret: "sandbox-client-secret", status: 401, wantError: "invalid_client"},
		{name: "offline_access", path: "/ws/oauth/token", id: "sandbox-client-id", secret: "sandbox-client-secret", scope: "monitoring offline_access", status: 400, wantError: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tokenCall(t, base, tt.path, tt.id, tt.secret, tt.scope)
			if a.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", a.status, tt.status, a.body)
			}
			var body map[string]any
			a.json(t, &body)
			if tt.wantError != "" {
				if body["error"] != tt.wantError {
					t.Errorf("error = %v, want %s", body["error"], tt.wantError)
				}
				return
			}
			if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["access_token"] == "" {
				t.Errorf("token response = %v", body)
			}
		})
	}
}

func TestAPIAuthentication(t *testing.T) {
	s, base := start(t, Options{Orgs: 2, Devices: 2})
	read := accessToken(t, base, "monitoring")
	tests := []struct {
		name, method, path, tok, body string
		status                        int
	}{
		{name: "no token", method: "GET", path: "/v2/organizations", status: 401},
		{name: "unknown token", method: "GET", path: "/v2/organizations", tok: "forged", status: 401},
		{name: "read with monitoring", method: "GET", path: "/v2/organizations", tok: read, status: 200},
		{name: "write without management", method: "POST", path: "/v2/organizations", tok: read, body: `{"name":"X"}`, status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a := call(t, tt.method, base+tt.path, tt.tok, tt.body); a.status != tt.status {
				t.Errorf("status = %d, want %d: %s", a.status, tt.status, a.body)
			}
		})
	}
	t.Run("revoked", func(t *testing.T) {
		s.RevokeTokens()
		if a := call(t, "GET", base+"/v2/organizations", read, ""); a.status != 401 {
			t.Errorf("status = %d, want 401", a.status)
		}
	})
}

func TestKeysetPagingAndFilters(t *testing.T) {
	s, base := start(t, Options{Seed: 3, Orgs: 9, Devices: 80})
	tok := accessToken(t, base, "monitoring")
	var ids []int
	after := 0
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("paging does not end")
		}
		var page []struct {
			ID int `json:"id"`
		}
		call(t, "GET", fmt.Sprintf("%s/v2/organizations?pageSize=4&after=%d", base, after), tok, "").json(t, &page)
		for _, o := range page {
			ids = append(ids, o.ID)
		}
		if len(page) < 4 {
			break
		}
		after = page[len(page)-1].ID
	}
	if diff := cmp.Diff([]int{1, 2, 3, 4, 5, 6, 7, 8, 9}, ids); diff != "" {
		t.Errorf("paged ids (-want +got):\n%s", diff)
	}

	devs := s.Devices()
	count := func(f func(Device) bool) int {
		n := 0
		for _, d := range devs {
			if f(d) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		df   string
		want int
	}{
		{"org = 2", count(func(d Device) bool { return d.OrganizationID == 2 })},
		{"org in (1, 3)", count(func(d Device) bool { return d.OrganizationID == 1 || d.OrganizationID == 3 })},
		{"class = MAC AND org = 1", count(func(d Device) bool { return d.NodeClass == "MAC" && d.OrganizationID == 1 })},
		{"loc = 3", count(func(d Device) bool { return d.LocationID == 3 })},
		{"", len(devs)},
	}
	for _, tt := range tests {
		t.Run(tt.df, func(t *testing.T) {
			var got []map[string]any
			call(t, "GET", base+"/v2/devices-detailed?df="+url.QueryEscape(tt.df), tok, "").json(t, &got)
			if len(got) != tt.want {
				t.Errorf("%d devices, want %d", len(got), tt.want)
			}
			for _, d := range got {
				if _, ok := d["volumes"]; ok {
					t.Error("devices-detailed carries volumes; they are served by /v2/device/{id}/volumes")
				}
				if _, ok := d["system"]; !ok {
					t.Error("devices-detailed lacks the system block")
				}
			}
		})
	}
	for _, bad := range []string{"/v2/devices-detailed?df=" + url.QueryEscape("owner = 1"), "/v2/devices?pageSize=0", "/v2/organizations?after=x"} {
		a := call(t, "GET", base+bad, tok, "")
		var e apiError
		a.json(t, &e)
		if a.status != 400 || e.ErrorMessage == "" || e.ResultCode == "" || e.IncidentID == "" {
			t.Errorf("GET %s = %d %s, want 400 with a NinjaOne error body", bad, a.status, a.body)
		}
	}
	if a := call(t, "GET", base+"/v2/device/99999", tok, ""); a.status != 404 {
		t.Errorf("missing device = %d, want 404", a.status)
	}
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	s, base := start(t, Options{Orgs: 2, Devices: 2, RateLimit: 2})
	tok := accessToken(t, base, "monitoring") // takes one of the two tokens
	var statuses []int
	var retryAfter string
	for range 3 {
		a := call(t, "GET", base+"/v2/organizations", tok, "")
		statuses = append(statuses, a.status)
		if a.status == 429 {
			retryAfter = a.header.Get("Retry-After")
		}
	}
	if diff := cmp.Diff([]int{200, 429, 429}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if n, err := strconv.Atoi(retryAfter); err != nil || n < 1 {
		t.Errorf("Retry-After = %q, want whole seconds ≥ 1", retryAfter)
	}
	if got := s.Requests()["GET /v2/organizations"]; got != 3 {
		t.Errorf("counted %d requests, want 3", got)
	}
}

func TestInjectedFailures(t *testing.T) {
	t.Run("5xx", func(t *testing.T) {
		s, base := start(t, Options{Orgs: 2, Devices: 2, FailRate5xx: 1})
		tok := accessToken(t, base, "monitoring") // the token endpoint is not failed
		for range 10 {
			if a := call(t, "GET", base+"/v2/organizations", tok, ""); a.status < 502 || a.status > 504 {
				t.Errorf("status = %d, want 502-504", a.status)
			}
		}
		s.SetFailures(0, 0)
		if a := call(t, "GET", base+"/v2/organizations", tok, ""); a.status != 200 {
			t.Errorf("after healing status = %d", a.status)
		}
	})
	t.Run("share of failures follows the rate", func(t *testing.T) {
		_, base := start(t, Options{Seed: 11, Orgs: 2, Devices: 2, FailRate5xx: 0.3})
		tok := accessToken(t, base, "monitoring")
		failed := 0
		for range 200 {
			if call(t, "GET", base+"/v2/organizations", tok, "").status >= 500 {
				failed++
			}
		}
		if failed < 40 || failed > 80 {
			t.Errorf("%d of 200 failed, want about 60", failed)
		}
	})
	t.Run("hang", func(t *testing.T) {
		_, base := start(t, Options{Orgs: 2, Devices: 2, TimeoutRate: 1, TimeoutDelay: 50 * time.Millisecond})
		tok := accessToken(t, base, "monitoring")
		startAt := time.Now()
		if a := call(t, "GET", base+"/v2/organizations", tok, ""); a.status != 504 {
			t.Errorf("status = %d, want 504", a.status)
		}
		if time.Since(startAt) < 50*time.Millisecond {
			t.Error("the request did not hang")
		}
	})
	t.Run("latency", func(t *testing.T) {
		_, base := start(t, Options{Orgs: 2, Devices: 2, Latency: 40 * time.Millisecond})
		startAt := time.Now()
		accessToken(t, base, "monitoring")
		if time.Since(startAt) < 40*time.Millisecond {
			t.Error("no latency was added")
		}
	})
}

func TestCreateEndpoints(t *testing.T) {
	s, base := start(t, Options{Orgs: 2, Devices: 2})
	tok := accessToken(t, base, "monitoring management")
	a := call(t, "POST", base+"/v2/organizations", tok, `{"name":"New Co","description":"d","locations":[{"name":"HQ"},{"name":"Shop"}]}`)
	var org Organization
	a.json(t, &org)
	if a.status != 200 || org.ID != 3 || len(org.Locations) != 2 || org.Locations[0].ID == 0 {
		t.Fatalf("create = %d %s", a.status, a.body)
	}
	a = call(t, "POST", base+"/v2/organization/3/locations", tok, `{"name":"Annex"}`)
	var loc Location
	a.json(t, &loc)
	if a.status != 200 || loc.Name != "Annex" || loc.ID <= org.Locations[1].ID {
		t.Errorf("create location = %d %s", a.status, a.body)
	}
	if got := len(s.Orgs()[2].Locations); got != 3 {
		t.Errorf("org 3 has %d locations, want 3", got)
	}
	for _, bad := range []struct{ path, body string }{
		{"/v2/organizations", `{"name":""}`},
		{"/v2/organizations", `{"name":"new co"}`},
		{"/v2/organizations", `{"name":`},
		{"/v2/organization/3/locations", `{"name":"annex"}`},
	} {
		if a := call(t, "POST", base+bad.path, tok, bad.body); a.status != 400 {
			t.Errorf("POST %s %s = %d, want 400", bad.path, bad.body, a.status)
		}
	}
}

func TestWebhookDelivery(t *testing.T) {
	s, _ := start(t, Options{Orgs: 2, Devices: 5})
	if _, err := s.TriggerCondition(context.Background(), 1, 0); err == nil {
		t.Error("TriggerCondition without a webhook configuration succeeded")
	}
	if _, err := s.ConditionActivity(999, true, "", 0); err == nil {
		t.Error("an activity for a missing device was built")
	}
	a, err := s.ConditionActivity(2, true, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if a.ActivityType != "CONDITION" || a.StatusCode != "TRIGGERED" || a.SeriesUID == "" || a.Device == nil ||
		a.Device.References.Organization.Name == "" || a.ActivityTime < 1e9 {
		t.Errorf("activity = %+v", a)
	}
	if n := len(s.Alerts()); n == 0 || s.Alerts()[n-1].UID != a.SeriesUID {
		t.Error("the trigger did not add an active alert")
	}
	r, err := s.ConditionActivity(2, false, a.SeriesUID, 1)
	if err != nil || r.StatusCode != "RESET" || r.SeriesUID != a.SeriesUID {
		t.Errorf("reset = %+v, %v", r, err)
	}
	for _, al := range s.Alerts() {
		if al.UID == a.SeriesUID {
			t.Error("the reset left the alert active")
		}
	}
}
