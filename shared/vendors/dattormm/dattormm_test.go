package dattormm

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendors/dattormm/sandbox"
)

// apiRequests counts the recorded requests below /api.
func apiRequests(e *env) int {
	n := 0
	for _, ex := range e.rec.Exchanges() {
		if strings.HasPrefix(ex.Path, "/api/") {
			n++
		}
	}
	return n
}

// TestA429EndsTheCallAndNothingFollows: when Datto answers 429 (with no
// Retry-After, as far as anyone knows), the call ends at once as Throttled
// with RetryAfter at least the 60 s window, no further request of that call
// (no retry, no next page) is sent, and later calls fail fast without
// sending until the window has passed; so the sandbox never blocks the
// client's address.
func TestA429EndsTheCallAndNothingFollows(t *testing.T) {
	now := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	e := newEnv(t, sandbox.Options{Sites: 20, Devices: 10, ReadLimit: 4}, Config{PageSize: 2,
		Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	ctx := context.Background()
	_, err := e.client.ListOrganizations(ctx) // 10 pages; the 5th request is over the quota
	ae, ok := apperr.As(err)
	if !ok || ae.Kind != apperr.Throttled || ae.RetryAfter < 60*time.Second {
		t.Fatalf("ListOrganizations error = %v, want Throttled with RetryAfter ≥ 60 s", err)
	}
	if n := apiRequests(e); n != 5 {
		t.Errorf("%d API requests, want 5 (4 pages, then the 429 and nothing after it)", n)
	}
	for _, call := range []func() error{
		func() error { _, err := e.client.GetDevice(ctx, e.sb.Devices()[0].UID); return err },
		func() error {
			_, err := e.client.CreateOrganization(ctx, rmm.NewOrganization{Name: "After 429"})
			return err
		},
		func() error { return e.client.TestConnection(ctx) },
	} {
		if err := call(); !apperr.Is(err, apperr.Throttled) {
			t.Errorf("a call during the cool-down: error = %v, want Throttled", err)
		}
	}
	if n := apiRequests(e); n != 5 {
		t.Errorf("%d API requests after the cool-down calls, want still 5", n)
	}
	if b := e.sb.Blocks(); b != 0 {
		t.Errorf("the sandbox blocked the client %d times", b)
	}
	e.sb.SetLimits(100, 100)
	clock.Add(int64(30 * time.Second)) // a refused call half-way does not extend the wait
	err = e.client.TestConnection(ctx)
	if ae, ok := apperr.As(err); !ok || ae.Kind != apperr.Throttled || ae.RetryAfter > 30*time.Second {
		t.Errorf("half-way through the window: %v, want Throttled for the remaining 30 s", err)
	}
	clock.Add(int64(31 * time.Second))
	if err := e.client.TestConnection(ctx); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

// TestA429DuringSnapshotsStopsTheAudits: the snapshot of a page reads one
// audit per device; a 429 on one of them ends the page with Throttled and
// no audit is requested after it.
func TestA429DuringSnapshotsStopsTheAudits(t *testing.T) {
	e := newEnv(t, sandbox.Options{Sites: 1, Devices: 12, ReadLimit: 5}, Config{PageSize: 50})
	site := e.sb.Sites()[0].UID
	_, err := e.client.ListDeviceSnapshots(context.Background(), site, "")
	if !apperr.Is(err, apperr.Throttled) {
		t.Fatalf("error = %v, want Throttled", err)
	}
	got := e.rec.Exchanges()
	last := got[len(got)-1]
	if last.Status != http.StatusTooManyRequests || apiRequests(e) != 6 {
		t.Errorf("%d API requests, the last answered %d; want 6 ending with the 429", apiRequests(e), last.Status)
	}
	if e.sb.Blocks() != 0 {
		t.Error("the sandbox blocked the client")
	}
}

// TestA403BlockIsThrottledForFiveMinutes: a client Datto has blocked gets
// Throttled with a 5 min RetryAfter and sends nothing more.
func TestA403BlockIsThrottledForFiveMinutes(t *testing.T) {
	e := newEnv(t, sandbox.Options{ReadLimit: 1}, Config{})
	// Another caller on the same address spends the quota and calls on.
	tok := e.client.auth
	ctx := context.Background()
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/api/v2/account", nil)
		if err := tok.Apply(ctx, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if e.sb.Blocks() != 1 {
		t.Fatalf("the naive caller was not blocked")
	}
	before := apiRequests(e)
	err := e.client.TestConnection(ctx)
	ae, ok := apperr.As(err)
	if !ok || ae.Kind != apperr.Throttled || ae.RetryAfter != 5*time.Minute {
		t.Fatalf("error = %v, want Throttled for 5 min", err)
	}
	if err := e.client.TestConnection(ctx); !apperr.Is(err, apperr.Throttled) || apiRequests(e) != before+1 {
		t.Errorf("a call after the block: %v, %d requests (want Throttled, 1 request in all)", err, apiRequests(e)-before)
	}
}

// TestPagesReaddMax: Datto's nextPageUrl keeps only page; the client
// re-adds max on every next page, so each page has the asked size and the
// listing reaches every device.
func TestPagesReaddMax(t *testing.T) {
	e := newEnv(t, sandbox.Options{Sites: 1, Devices: 11, PageMax: 250}, Config{PageSize: 2})
	site := e.sb.Sites()[0].UID
	devs, err := rmm.AllDevices(context.Background(), e.client, site)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 11 {
		t.Errorf("%d devices listed, the site has 11", len(devs))
	}
	pages := 0
	for _, ex := range e.rec.Exchanges() {
		if strings.HasSuffix(ex.Path, "/devices") {
			pages++
			if ex.Query.Get("max") != "2" {
				t.Errorf("page request %s?%s lacks max=2", ex.Path, ex.Query.Encode())
			}
		}
	}
	if pages != 6 {
		t.Errorf("%d page requests, want 6", pages)
	}
}

// TestTokenIsCachedAndRenewedOnceOn401: one token serves many calls; a
// revoked token (as after 100 hours) is replaced once and the call
// succeeds; a token endpoint that keeps issuing rejected tokens ends in
// Unauthorized after one renewal.
func TestTokenIsCachedAndRenewedOnceOn401(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, Config{})
	ctx := context.Background()
	for range 3 {
		if err := e.client.TestConnection(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.client.TokenRequests(); n != 1 {
		t.Errorf("%d token requests for 3 calls, want 1", n)
	}
	e.sb.RevokeTokens()
	if err := e.client.TestConnection(ctx); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if n := e.client.TokenRequests(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}

	// An API that rejects every token.
	sb := sandbox.New(sandbox.Options{Epoch: testEpoch})
	var api atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth/oauth/token" {
			sb.Handler().ServeHTTP(w, r)
			return
		}
		api.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_token","error_description":"Access token expired"}`))
	}))
	t.Cleanup(srv.Close)
	key, secret := sb.Credentials()
	c, err := New(Config{BaseURL: srv.URL, APIKey: key, APISecret: secret}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.TestConnection(ctx); !apperr.Is(err, apperr.Unauthorized) {
		t.Errorf("error = %v, want Unauthorized", err)
	}
	if api.Load() != 2 || c.TokenRequests() != 2 {
		t.Errorf("%d API and %d token requests, want 2 and 2", api.Load(), c.TokenRequests())
	}
}

// TestTimesAsEpochMillisOrISO: last seen reads the same whether Datto
// sends epoch milliseconds or ISO strings.
func TestTimesAsEpochMillisOrISO(t *testing.T) {
	var seen [2][]time.Time
	for i, ms := range []bool{false, true} {
		e := newEnv(t, sandbox.Options{Seed: 3, Sites: 2, Devices: 8, EpochMillis: ms}, Config{})
		for _, st := range e.sb.Sites() {
			devs, err := rmm.AllDevices(context.Background(), e.client, st.UID)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range devs {
				if d.LastCheckIn.IsZero() {
					t.Errorf("device %s (epoch ms %v) has no last check-in", d.ID, ms)
				}
				seen[i] = append(seen[i], d.LastCheckIn)
			}
		}
	}
	if d := cmp.Diff(seen[0], seen[1]); d != "" || len(seen[0]) != 8 {
		t.Errorf("ISO vs epoch ms (-iso +ms):\n%s", d)
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2025, 3, 14, 9, 26, 53, 531e6, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{`1741944413531`, want},
		{`"1741944413531"`, want},
		{`1741944413.531`, want},
		{`"2025-03-14T09:26:53.531Z"`, want},
		{`"2025-03-14T11:26:53.531+02:00"`, want},
		{`"2025-03-14T09:26:53.531"`, want},
		{`null`, time.Time{}},
		{`""`, time.Time{}},
		{`"yesterday"`, time.Time{}},
		{`-5`, time.Time{}},
	} {
		var ft flexTime
		if err := ft.UnmarshalJSON([]byte(tc.in)); err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !ft.Time.Equal(tc.want) {
			t.Errorf("%s = %v, want %v", tc.in, ft.Time, tc.want)
		}
	}
}

// TestDeviceFromAudit: the serial is the BIOS one unless it is a
// placeholder and the board's is not; disks are the fixed ones, in bytes;
// addresses come from the NICs.
func TestDeviceFromAudit(t *testing.T) {
	audit := func(bios, board string) *apiAudit {
		a := &apiAudit{}
		a.Bios.SerialNumber, a.BaseBoard.SerialNumber = bios, board
		return a
	}
	for _, tc := range []struct{ bios, board, want string }{
		{"5CG1234ABC", "PF0XYZ12", "5CG1234ABC"},
		{"To be filled by O.E.M.", "PF0XYZ12", "PF0XYZ12"},
		{"", "PF0XYZ12", "PF0XYZ12"},
		{"Default string", "None", "Default string"},
		{" 5CG1234ABC ", "", "5CG1234ABC"},
	} {
		if got := toDevice(apiDevice{UID: "d"}, audit(tc.bios, tc.board)).SerialNumber; got != tc.want {
			t.Errorf("bios %q board %q: serial %q, want %q", tc.bios, tc.board, got, tc.want)
		}
	}
	a := audit("S1", "")
	a.LogicalDisks = append(a.LogicalDisks,
		struct {
			Description    string `json:"description"`
			DiskIdentifier string `json:"diskIdentifier"`
			Freespace      int64  `json:"freespace"`
			Size           int64  `json:"size"`
		}{"Local Fixed Disk", "C:", 100, 1000},
		struct {
			Description    string `json:"description"`
			DiskIdentifier string `json:"diskIdentifier"`
			Freespace      int64  `json:"freespace"`
			Size           int64  `json:"size"`
		}{"Removable Disk", "E:", 5, 31_004_295_168},
		struct {
			Description    string `json:"description"`
			DiskIdentifier string `json:"diskIdentifier"`
			Freespace      int64  `json:"freespace"`
			Size           int64  `json:"size"`
		}{"Local Fixed Disk", "D:", 0, 0},
	)
	d := toDevice(apiDevice{UID: "d", IntIPAddress: "10.0.0.9"}, a)
	if diff := cmp.Diff([]rmm.Volume{{Name: "C:", CapacityBytes: 1000, FreeBytes: 100}}, d.Volumes); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"10.0.0.9"}, d.IPAddresses); diff != "" {
		t.Errorf("addresses without NICs (-want +got):\n%s", diff)
	}
}

// TestSnapshotsMatchGetDevice: ListDeviceSnapshots gives every device as
// GetDevice reads it, with one request per device plus the page.
func TestSnapshotsMatchGetDevice(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 6, Sites: 2, Devices: 14}, Config{PageSize: 4})
	ctx := context.Background()
	for _, st := range e.sb.Sites() {
		var snaps []rmm.Device
		cursor := ""
		for {
			p, err := e.client.ListDeviceSnapshots(ctx, st.UID, cursor)
			if err != nil {
				t.Fatal(err)
			}
			snaps = append(snaps, p.Devices...)
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		for _, s := range snaps {
			d, err := e.client.GetDevice(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(d, s); diff != "" {
				t.Errorf("device %s (-GetDevice +snapshot):\n%s", s.ID, diff)
			}
			if s.SerialNumber == "" || len(s.Volumes) == 0 || s.Manufacturer == "" {
				t.Errorf("snapshot %s lacks audit data: %+v", s.ID, s)
			}
		}
	}
}

// TestCreateOrganizationAdoptsALostWrite: when the answer to PUT
// /v2/site is lost after Datto created the site (a 504 from a proxy),
// vendorhttp repeats the PUT, Datto answers 409, and the client returns
// the site it created: one site, not two.
func TestCreateOrganizationAdoptsALostWrite(t *testing.T) {
	sb := sandbox.New(sandbox.Options{Epoch: testEpoch, Sites: 2, Devices: 2, SlowDelay: -1})
	var lost atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && lost.CompareAndSwap(false, true) {
			sb.Handler().ServeHTTP(httptest.NewRecorder(), r) // applied, answer dropped
			w.WriteHeader(http.StatusGatewayTimeout)
			return
		}
		sb.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	key, secret := sb.Credentials()
	sl := &sleeps{}
	c, err := New(Config{BaseURL: srv.URL, APIKey: key, APISecret: secret, Sleep: sl.Sleep}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.CreateOrganization(context.Background(), rmm.NewOrganization{Name: "Harbor Dental", Description: "from the PSA", Sites: []string{"HQ"}})
	if err != nil {
		t.Fatal(err)
	}
	var named []sandbox.Site
	for _, st := range sb.Sites() {
		if st.Name == "Harbor Dental" {
			named = append(named, st)
		}
	}
	if len(named) != 1 || o.ID != named[0].UID {
		t.Fatalf("%d sites named Harbor Dental, created %+v", len(named), o)
	}
	want := rmm.Organization{ID: o.ID, Name: "Harbor Dental", Description: "from the PSA", Sites: []rmm.Site{{ID: o.ID, OrganizationID: o.ID, Name: "Harbor Dental"}}}
	if d := cmp.Diff(want, o); d != "" {
		t.Errorf("organization (-want +got):\n%s", d)
	}
}

// TestLinkAssetWritesTheChosenUDF: with assetUdf set the PSA asset id goes
// to that field; without it nothing is sent.
func TestLinkAssetWritesTheChosenUDF(t *testing.T) {
	e := newEnv(t, sandbox.Options{Sites: 1, Devices: 2}, Config{AssetUDF: 7})
	dev := e.sb.Devices()[0].UID
	if err := e.client.LinkAsset(context.Background(), dev, "CW-4711"); err != nil {
		t.Fatal(err)
	}
	if got := e.sb.Devices()[0].UDF["udf7"]; got != "CW-4711" {
		t.Errorf("udf7 = %q", got)
	}
	none := newEnv(t, sandbox.Options{Sites: 1, Devices: 2}, Config{})
	if err := none.client.LinkAsset(context.Background(), none.sb.Devices()[0].UID, "CW-1"); err != nil || apiRequests(none) != 0 {
		t.Errorf("without assetUdf: %v, %d requests", err, apiRequests(none))
	}
	if _, err := New(Config{BaseURL: "https://merlot-api.centrastage.net", APIKey: "k", APISecret: "s", AssetUDF: 31}, nil); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("udf 31: %v", err)
	}
}

// TestRequestRate reads Datto's counters in the budget's terms.
func TestRequestRate(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, Config{})
	ctx := context.Background()
	for range 3 {
		if err := e.client.TestConnection(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.client.SetDeviceUDF(ctx, e.sb.Devices()[0].UID, 1, "x"); err != nil {
		t.Fatal(err)
	}
	r, err := e.client.RequestRate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := RequestRate{Limit: 600, Used: 4, Window: time.Minute, CutOff: 0.9, WriteLimit: 600, WriteUsed: 1, HasWrites: true}
	if d := cmp.Diff(want, r); d != "" {
		t.Errorf("request rate (-want +got):\n%s", d)
	}
}

// TestBaseURLForms: the platform URL is accepted with or without /api and
// a trailing slash; other URLs are refused as baseUrl.
func TestBaseURLForms(t *testing.T) {
	for _, u := range []string{"https://merlot-api.centrastage.net", "https://merlot-api.centrastage.net/", "https://merlot-api.centrastage.net/api", "https://merlot-api.centrastage.net/api/"} {
		c, err := New(Config{BaseURL: u, APIKey: "k", APISecret: "s"}, nil)
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		if got := c.http.BaseURL(); got != "https://merlot-api.centrastage.net/api" {
			t.Errorf("%s: API root %s", u, got)
		}
		if c.auth.tokenURL != "https://merlot-api.centrastage.net/auth/oauth/token" {
			t.Errorf("%s: token URL %s", u, c.auth.tokenURL)
		}
	}
	if _, err := New(Config{BaseURL: "merlot", APIKey: "k", APISecret: "s"}, nil); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("a bare platform name: %v", err)
	}
}
