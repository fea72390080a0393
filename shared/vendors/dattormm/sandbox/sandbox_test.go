package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

var epoch = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// testServer starts a sandbox on loopback and returns it with a token.
func testServer(t *testing.T, opt Options) (*Server, string, string) {
	t.Helper()
	if opt.Epoch.IsZero() {
		opt.Epoch = epoch
	}
	if opt.SlowDelay == 0 {
		opt.SlowDelay = -1
	}
	s := New(opt)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, base, token(t, base, s.opt.APIKey, s.opt.APISecret, PublicClientID, PublicClientSecret, http.StatusOK)
}

func token(t *testing.T, base, key, secret, cid, csecret string, want int) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {key}, "password": {secret}}
	req, _ := http.NewRequest(http.MethodPost, base+"/auth/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(cid, csecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != want {
		t.Fatalf("token: status %d (%s), want %d", resp.StatusCode, body.Error, want)
	}
	if want == http.StatusOK && body.ExpiresIn != 360000 {
		t.Errorf("expires_in %d, want 100 hours", body.ExpiresIn)
	}
	return body.AccessToken
}

func get(t *testing.T, u, tok string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v in %s", u, err, b)
		}
	}
	return resp.StatusCode
}

// TestTokenGrant: only the password grant with the public client's Basic
// authentication and the right API key and secret gets a token; a revoked
// token gets 401.
func TestTokenGrant(t *testing.T) {
	s, base, tok := testServer(t, Options{})
	token(t, base, "sandbox-api-key", "wrong", PublicClientID, PublicClientSecret, http.StatusBadRequest)
	token(t, base, "sandbox-api-key", "sandbox-api-secret", "other-client", "public", http.StatusUnauthorized)
	if st := get(t, base+"/api/v2/account", tok, nil); st != http.StatusOK {
		t.Fatalf("account: %d", st)
	}
	s.RevokeTokens()
	if st := get(t, base+"/api/v2/account", tok, nil); st != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", st)
	}
}

// TestSitesAreTheNinjaOneOrganizations: the seeded sites carry the names
// of the NinjaOne sandbox's organizations for the same seed (so a PSA
// sandbox related to either holds the same matches), and devices keep
// NinjaOne's serials.
func TestSitesAreTheNinjaOneOrganizations(t *testing.T) {
	s := New(Options{Seed: 5, Sites: 30, Devices: 60, Epoch: epoch})
	var got []string
	for _, st := range s.Sites() {
		got = append(got, st.Name)
	}
	if d := cmp.Diff(ninjasandbox.OrganizationNames(5, 30), got); d != "" {
		t.Errorf("site names (-ninjaone +datto):\n%s", d)
	}
	n := ninjasandbox.New(ninjasandbox.Options{Seed: 5, Orgs: 30, Devices: 60, Epoch: epoch})
	nd, dd := n.Devices(), s.Devices()
	if len(dd) != 60 {
		t.Fatalf("%d devices", len(dd))
	}
	for i := range nd {
		if dd[i].Hostname != nd[i].SystemName || dd[i].Audit.Bios.SerialNumber != nd[i].System.SerialNumber || len(dd[i].Audit.LogicalDisks) != len(nd[i].Volumes) {
			t.Errorf("device %d: %s %s %d disks; ninjaone %s %s %d volumes", i, dd[i].Hostname, dd[i].Audit.Bios.SerialNumber,
				len(dd[i].Audit.LogicalDisks), nd[i].SystemName, nd[i].System.SerialNumber, len(nd[i].Volumes))
		}
	}
}

// TestNextPageURLDropsMax: nextPageUrl keeps only page, so following it
// as is gives pages of the account's default size; re-adding max gives
// the asked size to the end.
func TestNextPageURLDropsMax(t *testing.T) {
	s, base, tok := testServer(t, Options{Sites: 2, Devices: 40, PageMax: 10})
	site := s.Sites()[0].UID
	total := 0
	for _, d := range s.Devices() {
		if d.SiteUID == site {
			total++
		}
	}
	type page struct {
		PageDetails struct {
			Count       int    `json:"count"`
			NextPageURL string `json:"nextPageUrl"`
		} `json:"pageDetails"`
		Devices []map[string]any `json:"devices"`
	}
	var p page
	get(t, base+"/api/v2/site/"+site+"/devices?max=3", tok, &p)
	if len(p.Devices) != 3 || !strings.Contains(p.PageDetails.NextPageURL, "page=1") || strings.Contains(p.PageDetails.NextPageURL, "max=") {
		t.Fatalf("first page: %d devices, next %q", len(p.Devices), p.PageDetails.NextPageURL)
	}
	seen := len(p.Devices)
	next := p.PageDetails.NextPageURL
	for next != "" {
		var q page
		get(t, next+"&max=3", tok, &q)
		seen += len(q.Devices)
		next = q.PageDetails.NextPageURL
	}
	if seen != total {
		t.Errorf("re-adding max: %d devices seen, site has %d", seen, total)
	}
	var raw page
	get(t, p.PageDetails.NextPageURL, tok, &raw)
	if want := min(10, max(0, total-10)); len(raw.Devices) != want {
		t.Errorf("following nextPageUrl as is: %d devices, want %d (page 1 of the default size 10)", len(raw.Devices), want)
	}
}

// TestLimits: reads and writes have their own quota; past it the answer
// is 429; a caller that calls again while the quota is spent is blocked
// with 403 (even for writes); request_rate reports the counts.
func TestLimits(t *testing.T) {
	s, base, tok := testServer(t, Options{ReadLimit: 5, WriteLimit: 2})
	for i := range 5 {
		if st := get(t, base+"/api/v2/account", tok, nil); st != http.StatusOK {
			t.Fatalf("read %d: %d", i, st)
		}
	}
	site := s.Sites()[0].UID
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v2/device/"+s.Devices()[0].UID+"/udf", strings.NewReader(`{"udf5":"asset-1"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || s.Devices()[0].UDF["udf5"] != "asset-1" {
		t.Errorf("a write with the read quota spent: %d, udf5 %q", resp.StatusCode, s.Devices()[0].UDF["udf5"])
	}
	if st := get(t, base+"/api/v2/site/"+site, tok, nil); st != http.StatusTooManyRequests {
		t.Fatalf("read past the quota: %d, want 429", st)
	}
	if s.Blocks() != 0 {
		t.Fatal("blocked before calling on")
	}
	if st := get(t, base+"/api/v2/site/"+site, tok, nil); st != http.StatusForbidden {
		t.Fatalf("read after a 429: %d, want 403", st)
	}
	if st := get(t, base+"/api/v2/account", tok, nil); st != http.StatusForbidden || s.Blocks() != 1 {
		t.Errorf("while blocked: %d, %d blocks; want 403, 1", st, s.Blocks())
	}
	s.SetLimits(100, 100)
	var rate map[string]any
	if st := get(t, base+"/api/v2/system/request_rate", tok, &rate); st != http.StatusOK {
		t.Fatalf("request_rate: %d", st)
	}
	if rate["accountRateLimit"] != 100.0 || rate["accountCount"] != 1.0 || rate["slidingTimeWindowSizeSeconds"] != 60.0 || rate["accountWriteRateLimit"] != 100.0 {
		t.Errorf("request_rate = %v", rate)
	}
}

// TestSlowPast90Percent: past 90 % of the quota each answer is delayed.
func TestSlowPast90Percent(t *testing.T) {
	_, base, tok := testServer(t, Options{ReadLimit: 10, SlowDelay: 150 * time.Millisecond})
	for i := range 10 {
		start := time.Now()
		get(t, base+"/api/v2/account", tok, nil)
		if slow := time.Since(start) >= 150*time.Millisecond; slow != (i >= 9) {
			t.Errorf("request %d: slow %v", i+1, slow)
		}
	}
}

// TestWebhookBodies: the rendered bodies are JSON with every variable
// substituted, and the resolved one resolves the alert.
func TestWebhookBodies(t *testing.T) {
	s := New(Options{Epoch: epoch})
	d := s.Devices()[0]
	id, err := s.NewAlert(d.UID, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, triggered := range []bool{true, false} {
		b, err := s.WebhookBody(id, triggered)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil || strings.Contains(string(b), "[") {
			t.Fatalf("body %s: %v", b, err)
		}
		want := map[bool]string{true: "triggered", false: "resolved"}[triggered]
		if m["event"] != want || m["alertUid"] != id || m["deviceUid"] != d.UID || m["siteUid"] != d.SiteUID || m["platform"] != "merlot" {
			t.Errorf("body %s", b)
		}
	}
	for _, a := range s.Alerts() {
		if a.UID == id && !a.Resolved {
			t.Error("the resolved body left the alert open")
		}
	}
}
