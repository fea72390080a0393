package halopsa_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/halopsa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/halopsa/sandbox"
)

func startSandbox(t *testing.T, opt sandbox.Options) *sandbox.Server {
	t.Helper()
	srv := sandbox.New(opt)
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func newClient(t *testing.T, cfg halopsa.Config) *halopsa.Client {
	t.Helper()
	c, err := halopsa.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTokenIsCachedAndRenewedOnceOn401: calls share one token; after the
// server revokes it, the next call fetches one new token and succeeds; a
// server that keeps refusing the token ends Unauthorized after one renewal.
func TestTokenIsCachedAndRenewedOnceOn401(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1})
	c := newClient(t, demoConfig(t, srv, &sleeps{}))
	ctx := context.Background()
	id := strconv.Itoa(srv.Clients()[0].ID)
	for range 3 {
		if _, err := c.GetAccount(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.TokenFetches(); n != 1 {
		t.Errorf("three calls fetched %d tokens, want 1", n)
	}
	srv.RevokeTokens()
	before := c.Requests()
	if _, err := c.GetAccount(ctx, id); err != nil {
		t.Fatalf("after the token was revoked: %v", err)
	}
	if n, sent := srv.TokenFetches(), c.Requests()-before; n != 2 || sent != 2 {
		t.Errorf("after a revoked token: %d token fetches in all, %d API requests; want 2 and 2 (the 401, the repeat)", n, sent)
	}

	// A server whose API refuses every token: one renewal, then final.
	var tokens atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/authinfo":
			_ = json.NewEncoder(w).Encode(map[string]string{"auth_url": "http://" + r.Host + "/auth"})
		case "/auth/token":
			tokens.Add(1)
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok", "expires_in": 3600})
		default:
			http.Error(w, "Authorization has been denied for this request.", http.StatusUnauthorized)
		}
	}))
	defer ts.Close()
	c2 := newClient(t, halopsa.Config{BaseURL: ts.URL, ClientID: "a", ClientSecret: "b", Sleep: (&sleeps{}).sleep})
	_, err := c2.GetAccount(ctx, "1")
	if !apperr.Is(err, apperr.Unauthorized) || tokens.Load() != 2 || c2.Requests() != 2 {
		t.Errorf("a token the API keeps refusing: %v after %d token fetches and %d requests; want Unauthorized after 2 and 2", err, tokens.Load(), c2.Requests())
	}
}

// TestHostedInstanceNeedsTheTenant: against a hosted instance the client
// sends the tenant with the token request; without it "Test & save" says
// authentication failed and names the tenant.
func TestHostedInstanceNeedsTheTenant(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, Tenant: "acme"})
	ctx := context.Background()
	cfg := demoConfig(t, srv, &sleeps{})
	if err := newClient(t, cfg).TestConnection(ctx); err != nil {
		t.Fatalf("with the tenant: %v", err)
	}
	cfg.Tenant = ""
	err := newClient(t, cfg).TestConnection(ctx)
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Unauthorized || !strings.Contains(e.Message, "authentication failed") || !strings.Contains(e.Message, "tenant") {
		t.Errorf("without the tenant: %v, want Unauthorized naming authentication and the tenant", err)
	}
}

// TestTestConnectionNamesTheMissingPermission: credentials that work but
// may not read assets are reported as a permission, not as credentials.
func TestTestConnectionNamesTheMissingPermission(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1})
	srv.Deny(srv.Options().ClientID, "Asset")
	err := newClient(t, demoConfig(t, srv, &sleeps{})).TestConnection(context.Background())
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Unauthorized || !strings.Contains(e.Message, "accepted the credentials") || !strings.Contains(e.Message, "may not read assets") {
		t.Errorf("TestConnection = %v, want Unauthorized saying the credentials work but assets may not be read", err)
	}
}

// TestTestConnectionChecksSettingsAgainstTheInstance: an asset type, a
// status or a reference custom field the instance lacks is a 422 naming
// the setting.
func TestTestConnectionChecksSettingsAgainstTheInstance(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1})
	for _, tc := range []struct {
		field  string
		mutate func(*halopsa.Config)
	}{
		{"settings.assetTypeMap", func(c *halopsa.Config) {
			c.AssetTypes = append(c.AssetTypes, halopsa.AssetType{DeviceType: "mac", TypeID: 555})
		}},
		{"settings.closedStatusId", func(c *halopsa.Config) { c.ClosedStatusID = 77 }},
		{"settings.reopenStatusId", func(c *halopsa.Config) { c.ReopenStatusID = 78 }},
		{"settings.accountRefFieldId", func(c *halopsa.Config) { c.AccountRefFieldID = 9142 }},
		{"settings.ticketRefFieldId", func(c *halopsa.Config) { c.TicketRefFieldID = 9143 }},
		// An existing field of the other entity's id is still a field: only
		// existence is known (§6 [U] on the definition's kind).
	} {
		cfg := demoConfig(t, srv, &sleeps{})
		tc.mutate(&cfg)
		err := newClient(t, cfg).TestConnection(context.Background())
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
			t.Errorf("%s: TestConnection = %v (%+v), want Invalid naming it", tc.field, err, e)
		}
	}
	if err := newClient(t, demoConfig(t, srv, &sleeps{})).TestConnection(context.Background()); err != nil {
		t.Errorf("the demo settings (custom fields %d and %d exist): %v", sandbox.ClientRefFieldID, sandbox.TicketRefFieldID, err)
	}
}

// TestCustomFieldCheckFailsClosed: an instance whose FieldInfo answer does
// not carry the asked id (an unknown endpoint answering an empty object,
// §6 [U]) does not confirm the reference field, so Test & save refuses it
// naming the setting; a refusal to read definitions is a permission.
func TestCustomFieldCheckFailsClosed(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1})
	mux := http.NewServeMux()
	mux.HandleFunc("/api/FieldInfo/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	})
	mux.Handle("/", srv.Handler())
	front := httptest.NewServer(mux)
	t.Cleanup(front.Close)
	cfg := demoConfig(t, srv, &sleeps{})
	cfg.BaseURL = front.URL
	err := newClient(t, cfg).TestConnection(context.Background())
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid || len(e.Fields) != 2 || e.Fields[0].Field != "settings.accountRefFieldId" || e.Fields[1].Field != "settings.ticketRefFieldId" {
		t.Errorf("TestConnection with an empty FieldInfo answer = %v (%+v), want Invalid naming both reference fields", err, e)
	}
	srv.Deny(srv.Options().ClientID, "FieldInfo")
	err = newClient(t, demoConfig(t, srv, &sleeps{})).TestConnection(context.Background())
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.Unauthorized || !strings.Contains(e.Message, "custom field definitions") {
		t.Errorf("TestConnection without permission on FieldInfo = %v, want Unauthorized naming custom field definitions", err)
	}
}

// TestTokenURLOnAnotherHostIsRefused: when an instance's authinfo points
// the token request at another host (here another loopback port), the
// client refuses it: the client secret is never posted off the instance.
func TestTokenURLOnAnotherHostIsRefused(t *testing.T) {
	var posted atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { posted.Add(1) }))
	defer other.Close()
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"auth_url": other.URL + "/auth"})
	}))
	defer inst.Close()
	c := newClient(t, halopsa.Config{BaseURL: inst.URL, ClientID: "a", ClientSecret: "the-secret", Sleep: (&sleeps{}).sleep})
	err := c.TestConnection(context.Background())
	if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "another host") || posted.Load() != 0 {
		t.Errorf("TestConnection = %v with %d requests to the other host; want Invalid and none", err, posted.Load())
	}
}

// TestAssetListPagesThroughOneClient: ListAccountAssets pages to the end
// of one client's assets (inactive ones included) with our reference and
// the serial, and nothing of another client.
func TestAssetListPagesThroughOneClient(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	a, _ := srv.AddClient(sandbox.NewClient{Name: "Lister A"})
	b, _ := srv.AddClient(sandbox.NewClient{Name: "Lister B"})
	want := map[string]psa.Asset{}
	for i := range 7 {
		ref, serial := "dev-"+strconv.Itoa(i), "SN-"+strconv.Itoa(i)
		id, err := srv.AddAsset(sandbox.NewAsset{ClientID: a, Tag: "A-" + strconv.Itoa(i), ThirdPartyID: ref, Serial: serial})
		if err != nil {
			t.Fatal(err)
		}
		want[strconv.Itoa(id)] = psa.Asset{ID: strconv.Itoa(id), ExternalRef: ref, SerialNumber: serial}
	}
	if _, err := srv.AddAsset(sandbox.NewAsset{ClientID: b, Tag: "B-1", ThirdPartyID: "dev-b", Serial: "SN-B"}); err != nil {
		t.Fatal(err)
	}
	cfg := demoConfig(t, srv, &sleeps{})
	cfg.PageSize = 3
	c := newClient(t, cfg)
	got := map[string]psa.Asset{}
	cursor, pages := "", 0
	for {
		p, err := c.ListAccountAssets(context.Background(), strconv.Itoa(a), cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, x := range p.Items {
			if x.AccountID != strconv.Itoa(a) {
				t.Errorf("asset %+v of another client", x)
			}
			got[x.ID] = psa.Asset{ID: x.ID, ExternalRef: x.ExternalRef, SerialNumber: x.SerialNumber}
		}
		if cursor = p.NextCursor; cursor == "" || pages > 10 {
			break
		}
	}
	if d := cmp.Diff(want, got); d != "" || pages != 3 {
		t.Errorf("%d pages (-want +got):\n%s", pages, d)
	}
	if _, err := c.ListAccountAssets(context.Background(), strconv.Itoa(a), "bogus"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("a bogus cursor: %v, want Invalid", err)
	}
}

// TestAssetWithoutATypeIsRefused: a device class neither mapped nor
// defaulted is Invalid naming the setting, and nothing is created.
func TestAssetWithoutATypeIsRefused(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	cfg := demoConfig(t, srv, &sleeps{})
	cfg.DefaultAssetTypeID = 0
	c := newClient(t, cfg)
	before := len(srv.Assets())
	_, err := c.CreateAsset(context.Background(), psa.Asset{AccountID: strconv.Itoa(srv.Clients()[0].ID), Name: "PHONE", DeviceType: "mobile"})
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "settings.assetTypeMap" || len(srv.Assets()) != before {
		t.Errorf("CreateAsset of an unmapped class = %v; want Invalid naming settings.assetTypeMap and no asset", err)
	}
}

// TestMembersAreHumanAgents: the seeded agents come back without the
// API-only one; the inactive one (Active false), the one without an e-mail
// and the two sharing an address are kept (the import decides about them).
func TestMembersAreHumanAgents(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1})
	got, err := newClient(t, demoConfig(t, srv, &sleeps{})).ListMembers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want []psa.Member
	for _, a := range srv.Agents() {
		if !a.APIOnly {
			want = append(want, psa.Member{ID: strconv.Itoa(a.ID), Name: a.Name(), Email: a.Email, Active: !a.Inactive})
		}
	}
	if d := cmp.Diff(want, got); d != "" || len(want) != 7 {
		t.Errorf("members (-want +got):\n%s", d)
	}
}

// TestRateLimitReading: no reading before an answer carried the headers;
// then the last limit and the count used, over the configured window; a
// reading older than the window is dropped.
func TestRateLimitReading(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, ReportLimit: 60})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := demoConfig(t, srv, &sleeps{})
	cfg.Now = func() time.Time { return now }
	cfg.RateWindow = time.Minute
	c := newClient(t, cfg)
	ctx := context.Background()
	if _, err := c.RateLimitReading(ctx); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("before any request: %v, want NotFound", err)
	}
	for range 2 {
		if _, err := c.ListAccountTypes(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListBoards(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.RateLimitReading(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(halopsa.RateReading{Limit: 60, Used: 2, Window: time.Minute}, got); d != "" {
		t.Errorf("reading (-want +got):\n%s", d)
	}
	now = now.Add(2 * time.Minute)
	if _, err := c.RateLimitReading(ctx); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("a stale reading: %v, want NotFound", err)
	}
}

// TestVendorRefusalCarriesHalosText: Halo's error bodies are opaque text
// (§6.4 [U]); a refused save is Invalid with that text as its message.
func TestVendorRefusalCarriesHalosText(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 3})
	cls := srv.Clients()
	other, err := srv.AddAsset(sandbox.NewAsset{ClientID: cls[1].ID, Tag: "ELSEWHERE"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, demoConfig(t, srv, &sleeps{}))
	_, err = c.CreateTicket(context.Background(), psa.NewTicket{AccountID: strconv.Itoa(cls[0].ID), AssetID: strconv.Itoa(other), Summary: "disk full"})
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid || !strings.Contains(e.Message, "does not belong to client") {
		t.Errorf("a ticket on another client's asset: %v, want Invalid with Halo's text", err)
	}
	if _, err := c.CreateTicket(context.Background(), psa.NewTicket{AccountID: strconv.Itoa(cls[0].ID), Summary: "x", Board: psa.NamedRef{Name: "No Such Team"}}); !apperr.Is(err, apperr.Invalid) || len(srv.Tickets()) != 0 {
		t.Errorf("an unknown team: %v with %d tickets, want Invalid and none", err, len(srv.Tickets()))
	}
}

// TestSlimListsAreCompletedByReads: when Halo's lists leave out the
// custom fields, asset fields and third_party_id_string, lookups by our
// references and by serial still find their records exactly (by reading
// each candidate), instead of finding nothing.
func TestSlimListsAreCompletedByReads(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2, SlimLists: true})
	ctx := context.Background()
	cid, _ := srv.AddClient(sandbox.NewClient{Name: "Slim Co", Ref: "org-slim"})
	aid, _ := srv.AddAsset(sandbox.NewAsset{ClientID: cid, Tag: "SLIM-1", ThirdPartyID: "dev-slim", Serial: "SN-SLIM"})
	c := newClient(t, demoConfig(t, srv, &sleeps{}))
	tk, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: strconv.Itoa(cid), Summary: "slim", ExternalRef: "series-slim"})
	if err != nil {
		t.Fatal(err)
	}
	accts, err := c.FindAccountsByExternalRef(ctx, "org-slim")
	if err != nil || len(accts) != 1 || accts[0].ID != strconv.Itoa(cid) {
		t.Errorf("FindAccountsByExternalRef = %+v, %v; want client %d", accts, err, cid)
	}
	for name, find := range map[string]func(context.Context, string) ([]psa.Asset, error){"ref": c.FindAssetsByExternalRef, "serial": c.FindAssetsBySerial} {
		q := map[string]string{"ref": "dev-slim", "serial": "SN-SLIM"}[name]
		got, err := find(ctx, q)
		if err != nil || len(got) != 1 || got[0].ID != strconv.Itoa(aid) || got[0].SerialNumber != "SN-SLIM" || got[0].ExternalRef != "dev-slim" {
			t.Errorf("find asset by %s = %+v, %v; want asset %d with its serial and reference", name, got, err, aid)
		}
	}
	tks, err := c.FindTicketsByExternalRef(ctx, "series-slim")
	if err != nil || len(tks) != 1 || tks[0].ID != tk.ID {
		t.Errorf("FindTicketsByExternalRef = %+v, %v; want ticket %s", tks, err, tk.ID)
	}
}

// TestConcurrentFirstCallsShareOneDiscoveryAndToken: twenty calls racing
// on a fresh client discover the token URL once and fetch one token.
func TestConcurrentFirstCallsShareOneDiscoveryAndToken(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	c := newClient(t, demoConfig(t, srv, &sleeps{}))
	id := strconv.Itoa(srv.Clients()[0].ID)
	errs := make(chan error, 20)
	for range 20 {
		go func() { _, err := c.GetAccount(context.Background(), id); errs <- err }()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	discoveries := 0
	for _, r := range srv.Requests() {
		if r.Path == "/api/authinfo" {
			discoveries++
		}
	}
	if srv.TokenFetches() != 1 || discoveries != 1 {
		t.Errorf("20 concurrent first calls: %d token fetches, %d discoveries; want 1 and 1", srv.TokenFetches(), discoveries)
	}
}

// TestPagingWithoutRecordCountOrWithRepeatedPages: a list without
// record_count is read until a short page (not cut at the first page);
// a server that ignores page_no is an error, not an endless or doubled
// list.
func TestPagingWithoutRecordCountOrWithRepeatedPages(t *testing.T) {
	sites := func(no int) []map[string]any {
		var out []map[string]any
		if no <= 2 { // two full pages of 2, then a short one
			for i := range 2 {
				out = append(out, map[string]any{"id": no*10 + i, "name": "S", "client_id": 7})
			}
		} else if no == 3 {
			out = append(out, map[string]any{"id": 99, "name": "S", "client_id": 7})
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		answer    func(no int) map[string]any
		wantSites int
		wantErr   bool
	}{
		{"no record_count", func(no int) map[string]any { return map[string]any{"sites": sites(no)} }, 5, false},
		{"page_no ignored", func(int) map[string]any { return map[string]any{"sites": sites(1)} }, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/api/authinfo":
					_ = json.NewEncoder(w).Encode(map[string]string{"auth_url": "http://" + r.Host + "/auth"})
				case "/auth/token":
					_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok", "expires_in": 3600})
				case "/api/Site":
					no, _ := strconv.Atoi(r.URL.Query().Get("page_no"))
					_ = json.NewEncoder(w).Encode(tc.answer(no))
				default:
					http.NotFound(w, r)
				}
			}))
			defer ts.Close()
			c := newClient(t, halopsa.Config{BaseURL: ts.URL, ClientID: "a", ClientSecret: "b", PageSize: 2, Sleep: (&sleeps{}).sleep})
			got, err := c.ListLocations(context.Background(), "7")
			if (err != nil) != tc.wantErr || len(got) != tc.wantSites {
				t.Errorf("ListLocations = %d sites, %v; want %d (error %v)", len(got), err, tc.wantSites, tc.wantErr)
			}
		})
	}
}
