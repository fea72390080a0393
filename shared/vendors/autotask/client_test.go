package autotask_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask"
	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask/sandbox"
)

func newClient(t *testing.T, cfg autotask.Config) *autotask.Client {
	t.Helper()
	c, err := autotask.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConnectionSaysWhichCredentialIsWrong: "Test & save" with a wrong
// user name, integration code or secret is a 422 that names which one
// (Autotask answers the first two with HTTP 500), without retrying and
// without echoing the secret.
func TestConnectionSaysWhichCredentialIsWrong(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	svc := connection.NewService(nil, nil, providers.Registry{AllowLoopback: true}, connection.Options{AllowLoopback: true})
	for _, tc := range []struct {
		name   string
		mutate func(*autotask.Config)
		want   string
	}{
		{"unknown user name", func(c *autotask.Config) { c.Username = "nobody@msp.example" }, "Autotask does not know the API user name (zone lookup): Zone information could not be determined"},
		{"wrong integration code", func(c *autotask.Config) { c.IntegrationCode = "WRONGCODE" }, "Autotask refused the integration code (API tracking identifier): IntegrationCode is invalid."},
		{"wrong secret", func(c *autotask.Config) { c.Secret = "wrong-secret-value" }, "Autotask refused the API user's secret: Authentication failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := clientConfig(srv, nil)
			tc.mutate(&cfg)
			c := newClient(t, cfg)
			err := c.TestConnection(t.Context())
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Unauthorized || !strings.Contains(e.Message, tc.want) {
				t.Errorf("TestConnection = %v, want Unauthorized saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), cfg.Secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
			if n := c.Requests(); n > 2 {
				t.Errorf("%d requests; a refusal is final", n)
			}
			_, err = svc.Create(t.Context(), "t_1", connection.CreateInput{Name: "at", Kind: "psa", Provider: "autotask", BaseURL: srv.URL(),
				Credentials: connection.Credentials{"username": cfg.Username, "secret": cfg.Secret, "integrationCode": cfg.IntegrationCode},
				Settings:    sandbox.DemoSettings})
			e, ok = apperr.As(err)
			if !ok || e.Kind != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "credentials" || !strings.Contains(e.Fields[0].Message, tc.want) {
				t.Errorf("Test & save = %v (fields %+v), want a 422 on credentials saying %q", err, e.Fields, tc.want)
			}
		})
	}
}

// TestSettingsAreCheckedOnTestAndSave: a default the tenant requires but
// the settings lack, a default naming no picklist value and a reference
// UDF the tenant does not have are each a 422 naming the setting.
func TestSettingsAreCheckedOnTestAndSave(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	o := srv.Options()
	creds := connection.Credentials{"username": o.Username, "secret": o.Secret, "integrationCode": o.IntegrationCode}
	svc := connection.NewService(nil, nil, providers.Registry{AllowLoopback: true}, connection.Options{AllowLoopback: true})
	with := func(edit map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range sandbox.DemoSettings {
			out[k] = v
		}
		for k, v := range edit {
			if v == nil {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		settings map[string]any
		want     map[string]string // field → text of its message
	}{
		{"missing defaults", with(map[string]any{"ownerResourceId": nil, "productId": nil, "ticketQueue": nil}), map[string]string{
			"settings.ownerResourceId": "requires an owner resource", "settings.productId": "requires a product",
			"settings.ticketQueue": "Tickets.queueID"}},
		{"values the picklists lack", with(map[string]any{"ticketQueue": "Nowhere", "companyType": "Client", "completeStatus": "99"}), map[string]string{
			"settings.ticketQueue": `"Nowhere" is not a Tickets queueID`, "settings.companyType": "one of Customer, Lead",
			"settings.completeStatus": `"99" is not a Tickets status`}},
		{"a UDF the tenant lacks", with(map[string]any{"accountRefUdf": "RMM Org Id"}), map[string]string{
			"settings.accountRefUdf": `no company user-defined field "RMM Org Id": create it`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Create(t.Context(), "t_1", connection.CreateInput{Name: "at", Kind: "psa", Provider: "autotask",
				BaseURL: srv.URL(), Credentials: creds, Settings: tc.settings})
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Invalid {
				t.Fatalf("Test & save = %v, want a 422", err)
			}
			got := map[string]string{}
			for _, f := range e.Fields {
				got[f.Field] = f.Message
			}
			if len(got) != len(tc.want) {
				t.Errorf("fields %v, want %v", got, tc.want)
			}
			for f, text := range tc.want {
				if !strings.Contains(got[f], text) {
					t.Errorf("field %s = %q, want it to say %q", f, got[f], text)
				}
			}
		})
	}
	// Labels and values both name picklist entries; the demo settings fit.
	cfg := clientConfig(srv, nil)
	cfg.TicketQueue, cfg.TicketPriority = "29683354", "high"
	if err := newClient(t, cfg).TestConnection(t.Context()); err != nil {
		t.Errorf("TestConnection with a queue value and a priority label in another case: %v", err)
	}
}

// TestPicklistsAreCachedFor15Minutes: metadata is read once per
// LookupTTL, then again.
func TestPicklistsAreCachedFor15Minutes(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := clientConfig(srv, nil)
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := newClient(t, cfg)
	ctx := t.Context()
	if err := c.TestConnection(ctx); err != nil {
		t.Fatal(err)
	}
	first := c.Requests()
	if first != 7 {
		t.Errorf("first TestConnection: %d requests, want 7 (zone, then fields and UDFs of three entities)", first)
	}
	for range 3 {
		if err := c.TestConnection(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListBoards(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Requests() - first; n != 0 {
		t.Errorf("%d requests within the 15 minutes, want 0", n)
	}
	mu.Lock()
	now = now.Add(15*time.Minute + time.Second)
	mu.Unlock()
	if err := c.TestConnection(ctx); err != nil {
		t.Fatal(err)
	}
	if n := c.Requests() - first; n != 6 {
		t.Errorf("%d requests after 15 minutes, want 6 (the metadata again, not the zone)", n)
	}
}

// TestListingsFollowNextPageURLToTheEnd: listings longer than Autotask's
// 500-record page come whole, and the bulk asset listing pages by cursor.
func TestListingsFollowNextPageURLToTheEnd(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	ctx := t.Context()
	for i := range 1100 {
		srv.AddResource(sandbox.NewResource{UserName: fmt.Sprintf("bulk%04d", i), FirstName: "Bulk", LastName: strconv.Itoa(i), Email: fmt.Sprintf("bulk%04d@msp.example", i)})
	}
	co, err := srv.AddCompany(sandbox.NewCompany{Name: "Many Devices Ltd"})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 1203 {
		id, err := srv.AddConfigurationItem(sandbox.NewConfigurationItem{CompanyID: co, Title: fmt.Sprintf("MD-%04d", i), Serial: fmt.Sprintf("MDSN%04d", i)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, strconv.Itoa(id))
	}
	c := newClient(t, clientConfig(srv, nil))
	members, err := c.ListMembers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bulk := 0
	for _, m := range members {
		if strings.HasPrefix(m.Email, "bulk") {
			bulk++
		}
		if strings.EqualFold(m.Email, srv.Options().Username) {
			t.Errorf("member %+v: the API user", m)
		}
		if m.Email == "tnguyen@msp.example" && m.Active {
			t.Errorf("member %+v: inactive resource listed as active", m)
		}
	}
	if bulk != 1100 {
		t.Errorf("%d of 1100 added resources listed", bulk)
	}
	if got := countEmail(members, "helpdesk@msp.example"); got != 2 {
		t.Errorf("the two resources sharing an address: %d listed", got)
	}
	var got []string
	cursor, pages := "", 0
	for {
		p, err := c.ListAccountAssets(ctx, strconv.Itoa(co), cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, a := range p.Items {
			got = append(got, a.ID)
			if a.AccountID != strconv.Itoa(co) || a.SerialNumber == "" {
				t.Fatalf("asset %+v", a)
			}
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if d := cmp.Diff(want, got); d != "" || pages != 3 {
		t.Errorf("%d pages; assets (-want +got):\n%s", pages, d)
	}
	if _, err := c.ListAccountAssets(ctx, strconv.Itoa(co), "https://elsewhere.example/page2"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("a cursor the listing never gave: %v, want Invalid", err)
	}
}

func countEmail(ms []psa.Member, email string) int {
	n := 0
	for _, m := range ms {
		if m.Email == email {
			n++
		}
	}
	return n
}

// TestLimitsAreThrottled: over the hourly threshold Autotask's refusal is
// Throttled with the wait it asks for, at once (not slept on); a thread
// limit refusal is waited out and retried.
func TestLimitsAreThrottled(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2, Threshold: 50})
	c := newClient(t, clientConfig(srv, &sleeps{}))
	ctx := t.Context()
	acct := strconv.Itoa(srv.Companies()[0].ID)
	if _, err := c.GetAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	srv.UseRequests(50)
	before := c.Requests()
	_, err := c.GetAccount(ctx, acct)
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Throttled || e.RetryAfter < 59*time.Minute || !strings.Contains(e.Error(), "threshold") {
		t.Errorf("over the threshold: %v, want Throttled for about an hour", err)
	}
	if n := c.Requests() - before; n != 1 {
		t.Errorf("%d requests over the threshold, want 1", n)
	}

	// A 500 whose errors[] mention the threshold (reported by some
	// integrators [U]) is Throttled too.
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		_, _ = io.WriteString(w, `{"errors":["Request rejected: the API request threshold for this database has been exceeded"]}`)
	}))
	defer fake.Close()
	fc := newClient(t, autotask.Config{BaseURL: fake.URL + "/ATServicesRest", FixedBase: true, Username: "u", Secret: "s", IntegrationCode: "c"})
	_, err = fc.GetAccount(ctx, "1")
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.Throttled || e.RetryAfter <= 0 {
		t.Errorf("a 500 about the threshold: %v, want Throttled with a wait", err)
	}
}

// TestVendorRefusalsAreInvalid: a write Autotask refuses with errors[]
// (HTTP 500) is a final 422-kind error with Autotask's reason, sent once.
func TestVendorRefusalsAreInvalid(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	cfg := clientConfig(srv, &sleeps{})
	cfg.OwnerResourceID = 999
	c := newClient(t, cfg)
	if err := c.TestConnection(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := c.Requests()
	_, err := c.CreateAccount(t.Context(), psa.NewAccount{Name: "Refused Co"})
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid || !strings.Contains(e.Message, "ownerResourceID 999 on Companies does not reference an existing record") {
		t.Errorf("CreateAccount with an unknown owner = %v, want Invalid with Autotask's reason", err)
	}
	if n := c.Requests() - before; n != 1 {
		t.Errorf("%d requests, want 1 (a refusal is not retried)", n)
	}
}

// zoneTransport answers the zone lookup offline and records every other
// request (none must leave when the zone's url is refused).
type zoneTransport struct {
	zoneURL string
	mu      sync.Mutex
	others  []string
	secrets int
}

func (z *zoneTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if r.Header.Get("Secret") != "" {
		z.secrets++
	}
	if strings.HasSuffix(r.URL.Path, "/V1.0/ZoneInformation") {
		body := fmt.Sprintf(`{"zoneName":"Z","url":%q,"webUrl":"","ci":0}`, z.zoneURL)
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}
	z.others = append(z.others, r.URL.Host)
	return &http.Response{StatusCode: 404, Body: io.NopCloser(strings.NewReader(`{"errors":["x"]}`)), Request: r}, nil
}

// TestZoneURLIsCheckedBeforeTheSecretGoesThere: the zone lookup carries
// no secret, and a zone url outside autotask.net or on another scheme is
// refused before any request is sent to it (offline: the transport never
// dials).
func TestZoneURLIsCheckedBeforeTheSecretGoesThere(t *testing.T) {
	for _, tc := range []struct {
		zone string
		ok   bool
	}{
		{"https://webservices5.autotask.net/ATServicesRest/", true},
		{"https://evil.example.com/ATServicesRest/", false},
		{"https://webservices5.autotask.net.evil.example/ATServicesRest/", false},
		{"http://webservices5.autotask.net/ATServicesRest/", false},
		{"not a url", false},
	} {
		zt := &zoneTransport{zoneURL: tc.zone}
		c, err := autotask.New(autotask.Config{Username: "api@msp.example", Secret: "s3cr3t-value", IntegrationCode: "CODE"}, &http.Client{Transport: zt})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetAccount(context.Background(), "1")
		zt.mu.Lock()
		switch {
		case tc.ok && (len(zt.others) != 1 || zt.others[0] != "webservices5.autotask.net" || zt.secrets != 1):
			t.Errorf("zone %s: requests to %v with %d secrets, want one to the zone", tc.zone, zt.others, zt.secrets)
		case !tc.ok && (len(zt.others) != 0 || zt.secrets != 0 || !apperr.Is(err, apperr.Vendor)):
			t.Errorf("zone %s: %v; requests to %v with %d secrets, want a Vendor error and none", tc.zone, err, zt.others, zt.secrets)
		}
		zt.mu.Unlock()
	}
}

// TestTicketTouchedByOtherResources: a time entry or a note by another
// resource counts, our own notes and status changes do not.
func TestTicketTouchedByOtherResources(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	c := newClient(t, clientConfig(srv, nil))
	ctx := t.Context()
	acct := strconv.Itoa(srv.Companies()[0].ID)
	tk, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: acct, Summary: "disk full", ExternalRef: "series-1"})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Board.Name != "Monitoring Alert" || tk.Status.Name != "New" || tk.Priority.Name != "Medium" {
		t.Errorf("ticket defaults from the settings: %+v", tk)
	}
	if err := c.AddTicketNote(ctx, tk.ID, psa.Note{Text: "again"}); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseTicket(ctx, tk.ID, "cleared"); err != nil {
		t.Fatal(err)
	}
	if err := c.ReopenTicket(ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	if touched, err := c.TicketTouched(ctx, tk.ID); err != nil || touched {
		t.Fatalf("after our own note, close and reopen: %v, %v", touched, err)
	}
	tech := srv.AddResource(sandbox.NewResource{UserName: "tech", FirstName: "T", LastName: "Ech", Email: "tech@msp.example"})
	srv.AddAPIUser(tech, "tech-api@msp.example", "tech-secret")
	// The technician logs time (through the API here), then we add a note:
	// the last activity is ours again, the time entry still counts.
	if err := postTimeEntry(srv, "tech-api@msp.example", "tech-secret", tk.ID, tech); err != nil {
		t.Fatal(err)
	}
	if err := c.AddTicketNote(ctx, tk.ID, psa.Note{Text: "still firing"}); err != nil {
		t.Fatal(err)
	}
	if touched, err := c.TicketTouched(ctx, tk.ID); err != nil || !touched {
		t.Errorf("after a technician's time entry: %v, %v; want touched", touched, err)
	}
}

func postTimeEntry(srv *sandbox.Server, user, secret, ticketID string, resource int) error {
	body := fmt.Sprintf(`{"ticketID":%s,"resourceID":%d,"hoursWorked":0.5,"summaryNotes":"looked at it"}`, ticketID, resource)
	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/V1.0/TimeEntries", strings.NewReader(body))
	req.Header.Set("ApiIntegrationCode", srv.Options().IntegrationCode)
	req.Header.Set("UserName", user)
	req.Header.Set("Secret", secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("time entry: %d %s", resp.StatusCode, b)
	}
	return nil
}

// TestLongSeriesReferencesFitExternalID: a series reference longer than
// Autotask's 50-character externalID still opens its ticket and finds it
// again, and another long reference sharing its first 50 characters does
// not.
func TestLongSeriesReferencesFitExternalID(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	c := newClient(t, clientConfig(srv, nil))
	ctx := t.Context()
	acct := strconv.Itoa(srv.Companies()[0].ID)
	long := strings.Repeat("0123456789", 6) + "#2"
	other := strings.Repeat("0123456789", 6) + "#3"
	tk, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: acct, Summary: "long ref", ExternalRef: long})
	if err != nil {
		t.Fatalf("CreateTicket with a %d-character reference: %v", len(long), err)
	}
	if _, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: acct, Summary: "other ref", ExternalRef: other}); err != nil {
		t.Fatal(err)
	}
	found, err := c.FindTicketsByExternalRef(ctx, long)
	if err != nil || len(found) != 1 || found[0].ID != tk.ID {
		t.Errorf("FindTicketsByExternalRef(long) = %+v, %v; want ticket %s only", found, err, tk.ID)
	}
}

// TestBaseURLWithoutPathGetsTheRESTRoot: a base URL naming only the
// webservices host looks the zone up below /ATServicesRest.
func TestBaseURLWithoutPathGetsTheRESTRoot(t *testing.T) {
	zt := &zoneTransport{zoneURL: "https://webservices5.autotask.net/ATServicesRest/"}
	var paths []string
	c, err := autotask.New(autotask.Config{BaseURL: "https://webservices2.autotask.net", Username: "u@x", Secret: "s", IntegrationCode: "c"},
		&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			paths = append(paths, r.URL.Host+r.URL.Path)
			return zt.RoundTrip(r)
		})})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.GetAccount(t.Context(), "5")
	want := []string{"webservices2.autotask.net/ATServicesRest/V1.0/ZoneInformation", "webservices5.autotask.net/ATServicesRest/V1.0/Companies/5"}
	if d := cmp.Diff(want, paths); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestFieldsTheTenantRequires: a field the tenant made required gets its
// picklist's default value; one without a default is a clear Invalid
// naming it, and nothing is sent.
func TestFieldsTheTenantRequires(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2, Require: []string{"Tickets.ticketType", "ConfigurationItems.installDate"}})
	c := newClient(t, clientConfig(srv, nil))
	ctx := t.Context()
	acct := strconv.Itoa(srv.Companies()[0].ID)
	tk, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: acct, Summary: "needs a type"})
	if err != nil {
		t.Fatalf("CreateTicket with ticketType required (default Service Request): %v", err)
	}
	id, _ := strconv.Atoi(tk.ID)
	if got := srv.Record("Tickets", id)["ticketType"]; got != float64(1) {
		t.Errorf("ticketType = %v, want the picklist default 1 (Service Request)", got)
	}
	before := len(srv.ConfigurationItems())
	_, err = c.CreateAsset(ctx, psa.Asset{AccountID: acct, Name: "WS-1", DeviceType: "workstation"})
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid || !strings.Contains(e.Message, "requires ConfigurationItems.installDate on new records") {
		t.Errorf("CreateAsset with installDate required = %v, want Invalid naming the field", err)
	}
	if n := len(srv.ConfigurationItems()); n != before {
		t.Errorf("%d configuration items, want %d: nothing is sent", n, before)
	}
}

// TestFixedBaseURLSkipsTheZoneLookup: with zoneLookup false the base URL
// is the zone's REST root and no lookup is sent.
func TestFixedBaseURLSkipsTheZoneLookup(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	o := srv.Options()
	c, err := autotask.Spec.OpenPSA(vendorspecParams(srv.URL(), map[string]string{"username": o.Username, "secret": o.Secret, "integrationCode": o.IntegrationCode},
		map[string]any{"zoneLookup": false}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetAccount(t.Context(), strconv.Itoa(srv.Companies()[0].ID)); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests() {
		if strings.Contains(strings.ToLower(r.Path), "zoneinformation") {
			t.Errorf("a zone lookup was sent: %s", r.Path)
		}
	}
}
