package ninjaone

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

func wantOrg(o sandbox.Organization) rmm.Organization {
	org := rmm.Organization{ID: strconv.Itoa(o.ID), Name: o.Name, Description: o.Description, Sites: []rmm.Site{}}
	for _, l := range o.Locations {
		org.Sites = append(org.Sites, rmm.Site{ID: strconv.Itoa(l.ID), OrganizationID: strconv.Itoa(o.ID), Name: l.Name})
	}
	return org
}

// wantDevice is the test's own reading of a sandbox device; full says
// whether volumes and the last logged-on user are expected (GetDevice) or
// not (ListDevices).
func wantDevice(d sandbox.Device, full bool) rmm.Device {
	types := map[string]rmm.DeviceType{"WINDOWS_WORKSTATION": rmm.DeviceWorkstation, "WINDOWS_SERVER": rmm.DeviceServer,
		"LINUX_SERVER": rmm.DeviceServer, "MAC": rmm.DeviceMac, "LINUX_WORKSTATION": rmm.DeviceLinux}
	serial := d.System.SerialNumber
	if rmm.IsPlaceholderSerial(serial) && !rmm.IsPlaceholderSerial(d.System.BIOSSerialNumber) {
		serial = d.System.BIOSSerialNumber
	}
	w := rmm.Device{
		ID: strconv.Itoa(d.ID), OrganizationID: strconv.Itoa(d.OrganizationID), SiteID: strconv.Itoa(d.LocationID),
		Name: d.SystemName, DisplayName: d.DisplayName, DeviceType: types[d.NodeClass],
		OS:           rmm.OS{Name: d.OS.Name, Version: d.OS.ReleaseID, Build: d.OS.BuildNumber, Architecture: d.OS.Architecture},
		Manufacturer: d.System.Manufacturer, Model: d.System.Model, SerialNumber: serial,
		LastCheckIn: time.UnixMilli(int64(d.LastContact*1000 + 0.5)).UTC(),
		IPAddresses: d.IPAddresses, MACAddresses: d.MACAddresses, Offline: d.Offline,
	}
	if full {
		w.LastLoggedInUser = d.LastLoggedUser
		for _, v := range d.Volumes {
			name := v.DriveLetter
			if name == "" {
				name = v.Name
			}
			w.Volumes = append(w.Volumes, rmm.Volume{Name: name, Label: v.Label, CapacityBytes: v.Capacity, FreeBytes: v.FreeSpace})
		}
	}
	return w
}

func TestTestConnection(t *testing.T) {
	tests := []struct {
		name     string
		secret   string
		tokenURL func(base string) string
		wantKind apperr.Kind
		wantMsg  string
	}{
		{name: "ok with /ws/oauth/token"},
		{name: "ok with /oauth/token", tokenURL: func(b string) string { return b + "/oauth/token" }},
		{name: "wrong secret", secret: "nope", wantKind: apperr.Unauthorized, wantMsg: "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{Orgs: 3, Devices: 5}, Config{ClientSecret: tt.secret})
			if tt.tokenURL != nil {
				c, err := New(Config{BaseURL: e.url, TokenURL: tt.tokenURL(e.url), ClientID: "sandbox-client-id", ClientSecret: "sandbox-client-secret"}, nil)
				if err != nil {
					t.Fatal(err)
				}
				e.client = c
			}
			err := e.client.TestConnection(context.Background())
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("TestConnection: %v", err)
				}
				if e.client.Requests() != 1 || e.client.TokenRequests() != 1 {
					t.Errorf("requests = %d, token requests = %d; want 1 and 1", e.client.Requests(), e.client.TokenRequests())
				}
				return
			}
			ae, ok := apperr.As(err)
			if !ok || ae.Kind != tt.wantKind || !strings.Contains(ae.Message, tt.wantMsg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tt.wantKind, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "nope") {
				t.Errorf("the secret leaked into the error: %v", err)
			}
		})
	}
}

func TestListOrganizationsPagesThroughAll(t *testing.T) {
	tests := []struct {
		orgs, pageSize int
		wantPages      int64
	}{
		{orgs: 23, pageSize: 5, wantPages: 5},
		{orgs: 20, pageSize: 5, wantPages: 5}, // exact multiple: one empty page ends the walk
		{orgs: 3, pageSize: 500, wantPages: 1},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.orgs)+"/"+strconv.Itoa(tt.pageSize), func(t *testing.T) {
			e := newEnv(t, sandbox.Options{Orgs: tt.orgs, Devices: 10}, Config{PageSize: tt.pageSize})
			got, err := e.client.ListOrganizations(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var want []rmm.Organization
			for _, o := range e.sb.Orgs() {
				want = append(want, wantOrg(o))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("organizations (-want +got):\n%s", diff)
			}
			if n := e.sb.Requests()["GET /v2/organizations-detailed"]; n != tt.wantPages {
				t.Errorf("pages fetched = %d, want %d", n, tt.wantPages)
			}
		})
	}
}

func TestGetOrganizationAndSites(t *testing.T) {
	e := newEnv(t, sandbox.Options{Orgs: 5, Devices: 10}, Config{})
	ctx := context.Background()
	want := wantOrg(e.sb.Orgs()[2])
	got, err := e.client.GetOrganization(ctx, "3")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetOrganization (-want +got):\n%s", diff)
	}
	sites, err := e.client.ListSites(ctx, "3")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Sites, sites); diff != "" {
		t.Errorf("ListSites (-want +got):\n%s", diff)
	}
	for _, id := range []string{"999", "abc"} {
		if _, err := e.client.GetOrganization(ctx, id); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("GetOrganization(%q) err = %v, want NotFound", id, err)
		}
	}
	if _, err := e.client.ListSites(ctx, "999"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("ListSites(999) err = %v, want NotFound", err)
	}
}

func TestListDevicesByOrganization(t *testing.T) {
	e := newEnv(t, sandbox.Options{Orgs: 4, Devices: 60}, Config{PageSize: 4})
	ctx := context.Background()
	for _, org := range e.sb.Orgs() {
		t.Run(org.Name, func(t *testing.T) {
			before := e.sb.Requests()["GET /v2/devices-detailed"]
			got, err := rmm.AllDevices(ctx, e.client, strconv.Itoa(org.ID))
			if err != nil {
				t.Fatal(err)
			}
			var want []rmm.Device
			for _, d := range e.sb.Devices() {
				if d.OrganizationID == org.ID {
					want = append(want, wantDevice(d, false))
				}
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("devices (-want +got):\n%s", diff)
			}
			pages := e.sb.Requests()["GET /v2/devices-detailed"] - before
			if wantPages := int64(len(want)/4 + 1); pages != wantPages {
				t.Errorf("pages = %d for %d devices, want %d", pages, len(want), wantPages)
			}
		})
	}
	if _, err := e.client.ListDevices(ctx, "1", "not-an-id"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("bad cursor err = %v, want Invalid", err)
	}
}

func TestGetDevice(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 3, Orgs: 6, Devices: 300}, Config{})
	ctx := context.Background()
	devs := e.sb.Devices()
	// Pick one device of each kind plus the serial edge cases.
	picks := map[string]sandbox.Device{}
	for _, d := range devs {
		key := d.NodeClass
		switch {
		case rmm.IsPlaceholderSerial(d.System.SerialNumber) && !rmm.IsPlaceholderSerial(d.System.BIOSSerialNumber):
			key = "placeholder serial, real BIOS serial"
		case rmm.IsPlaceholderSerial(d.System.SerialNumber):
			key = "placeholder serial"
		case d.LastLoggedUser == "":
			key = "no logged-on user"
		case len(d.Volumes) == 4:
			key += " with 4 volumes"
		}
		if _, ok := picks[key]; !ok {
			picks[key] = d
		}
	}
	for _, must := range []string{"WINDOWS_WORKSTATION", "WINDOWS_SERVER", "MAC", "LINUX_WORKSTATION", "placeholder serial", "no logged-on user"} {
		if _, ok := picks[must]; !ok {
			t.Fatalf("seed 3 has no %s device; pick another seed", must)
		}
	}
	for name, d := range picks {
		t.Run(name, func(t *testing.T) {
			before := e.client.Requests()
			got, err := e.client.GetDevice(ctx, strconv.Itoa(d.ID))
			if err != nil {
				t.Fatal(err)
			}
			want := wantDevice(d, true)
			// Removable media are not the device's storage; the test says
			// so explicitly rather than trusting the client's filter.
			want.Volumes = nil
			for _, v := range d.Volumes {
				if v.Capacity > 0 && v.DeviceType == "Local Disk" {
					name := v.DriveLetter
					if name == "" {
						name = v.Name
					}
					want.Volumes = append(want.Volumes, rmm.Volume{Name: name, Label: v.Label, CapacityBytes: v.Capacity, FreeBytes: v.FreeSpace})
				}
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("device (-want +got):\n%s", diff)
			}
			if n := e.client.Requests() - before; n != 3 {
				t.Errorf("GetDevice sent %d requests, want 3", n)
			}
			if len(got.Volumes) < 1 || len(got.Volumes) > 4 {
				t.Errorf("%d volumes, want 1-4", len(got.Volumes))
			}
			if st := got.Storage(); st.CapacityBytes <= 0 || st.FreeBytes <= 0 || st.FreeBytes > st.CapacityBytes {
				t.Errorf("storage totals = %+v", st)
			}
		})
	}
	if _, err := e.client.GetDevice(ctx, "99999"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("missing device err = %v, want NotFound", err)
	} else if ae, _ := apperr.As(err); !strings.Contains(ae.Message, "Device not found") {
		t.Errorf("message %q lacks NinjaOne's errorMessage", ae.Message)
	}
}

func TestCreateOrganizationAndSite(t *testing.T) {
	e := newEnv(t, sandbox.Options{Orgs: 3, Devices: 5}, Config{})
	ctx := context.Background()
	got, err := e.client.CreateOrganization(ctx, rmm.NewOrganization{Name: "Hilltop Brewing Co.", Description: "from the PSA", Sites: []string{"Taproom", "Brewery"}})
	if err != nil {
		t.Fatal(err)
	}
	orgs := e.sb.Orgs()
	created := orgs[len(orgs)-1]
	if diff := cmp.Diff(wantOrg(created), got); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if created.Name != "Hilltop Brewing Co." || len(created.Locations) != 2 || created.Locations[1].Name != "Brewery" {
		t.Errorf("sandbox holds %+v", created)
	}
	if n := e.sb.Requests()["POST /v2/organizations"]; n != 1 || e.client.Requests() != 1 {
		t.Errorf("create took %d POSTs and %d requests, want 1 and 1", n, e.client.Requests())
	}

	site, err := e.client.CreateSite(ctx, got.ID, "Warehouse 2")
	if err != nil {
		t.Fatal(err)
	}
	sites, _ := e.client.ListSites(ctx, got.ID)
	if diff := cmp.Diff(rmm.Site{ID: site.ID, OrganizationID: got.ID, Name: "Warehouse 2"}, sites[len(sites)-1]); diff != "" || site.ID == "" {
		t.Errorf("new site (-want +got):\n%s", diff)
	}

	t.Run("duplicate name is invalid with NinjaOne's reason", func(t *testing.T) {
		_, err := e.client.CreateOrganization(ctx, rmm.NewOrganization{Name: "hilltop brewing co."})
		ae, ok := apperr.As(err)
		if !ok || ae.Kind != apperr.Invalid || ae.VendorStatus != http.StatusBadRequest || !strings.Contains(ae.Message, "already exists") {
			t.Errorf("err = %v, want Invalid 400 'already exists'", err)
		}
	})
	t.Run("empty name is rejected before any request", func(t *testing.T) {
		before := e.client.Requests()
		if _, err := e.client.CreateOrganization(ctx, rmm.NewOrganization{Name: " "}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("err = %v, want Invalid", err)
		}
		if e.client.Requests() != before {
			t.Error("a request was sent")
		}
	})
	t.Run("site in a missing organization", func(t *testing.T) {
		if _, err := e.client.CreateSite(ctx, "999", "X"); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("err = %v, want NotFound", err)
		}
	})
}

func TestListAlerts(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 5, Orgs: 5, Devices: 200}, Config{})
	ctx := context.Background()
	seeded := e.sb.Alerts()
	if len(seeded) == 0 {
		t.Fatal("seed 5 has no active alerts")
	}
	all, err := e.client.ListAlerts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(seeded) {
		t.Fatalf("got %d alerts, want %d", len(all), len(seeded))
	}
	a, s := all[0], seeded[0]
	want := rmm.Alert{
		SeriesID: s.UID, DeviceID: strconv.Itoa(s.DeviceID), DeviceName: s.Device.SystemName,
		OrganizationID: strconv.Itoa(s.Device.OrganizationID), SiteID: strconv.Itoa(s.Device.LocationID),
		State: rmm.AlertTriggered, Severity: rmm.SeverityNone, Code: s.Data["message"].(map[string]any)["code"].(string),
		Subject: s.Subject, Message: s.Message, SourceName: s.SourceName,
		OccurredAt: time.UnixMilli(int64(s.CreateTime*1000 + 0.5)).UTC(),
	}
	if diff := cmp.Diff(want, a, cmpopts.IgnoreFields(rmm.Alert{}, "Values")); diff != "" {
		t.Errorf("alert (-want +got):\n%s", diff)
	}
	if a.Values["threshold"] == "" || a.Values["unit"] == "" {
		t.Errorf("values = %v, want threshold and unit", a.Values)
	}
	org := a.OrganizationID
	byOrg, err := e.client.ListAlerts(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range byOrg {
		if x.OrganizationID != org {
			t.Errorf("alert of org %s in org %s's list", x.OrganizationID, org)
		}
	}
	if len(byOrg) == 0 || len(byOrg) > len(all) {
		t.Errorf("org filter returned %d of %d", len(byOrg), len(all))
	}
}

func TestReauthenticatesAfterRevokedToken(t *testing.T) {
	e := newEnv(t, sandbox.Options{Orgs: 3, Devices: 5}, Config{})
	ctx := context.Background()
	if err := e.client.TestConnection(ctx); err != nil {
		t.Fatal(err)
	}
	e.sb.RevokeTokens()
	if _, err := e.client.GetOrganization(ctx, "1"); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if e.client.TokenRequests() != 2 {
		t.Errorf("token requests = %d, want 2", e.client.TokenRequests())
	}
	// 1 test call + the 401 + the repeat.
	if e.client.Requests() != 3 {
		t.Errorf("requests = %d, want 3", e.client.Requests())
	}
}

func TestRateLimitRetryAfterIsHonoured(t *testing.T) {
	// One request per second: the token request uses the only token, so the
	// API call gets 429 + Retry-After: 1, waits for real, then succeeds.
	sl := &sleeps{real: true}
	e := newEnv(t, sandbox.Options{Orgs: 2, Devices: 2, RateLimit: 1}, Config{Sleep: sl.Sleep})
	start := time.Now()
	if err := e.client.TestConnection(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Duration{time.Second}, sl.Waits()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond {
		t.Errorf("finished after %v, before Retry-After", elapsed)
	}
	if n := e.sb.Requests()["GET /v2/organizations"]; n != 2 {
		t.Errorf("API requests = %d, want 2 (429 then 200)", n)
	}

	t.Run("beyond the deadline the caller gets Throttled", func(t *testing.T) {
		e.sb.SetRateLimit(0.01) // one per 100 s; the first call takes the burst
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := e.client.GetOrganization(ctx, "1"); err != nil {
			t.Fatal(err)
		}
		before := len(sl.Waits())
		_, err := e.client.GetOrganization(ctx, "1")
		ae, ok := apperr.As(err)
		if !ok || ae.Kind != apperr.Throttled || ae.RetryAfter < 90*time.Second {
			t.Fatalf("err = %v, want Throttled with RetryAfter ≈ 100 s", err)
		}
		if len(sl.Waits()) != before {
			t.Errorf("the client slept %v", sl.Waits()[before:])
		}
	})
}

func TestServerErrorsAreRetriedThenTyped(t *testing.T) {
	t.Run("recovers", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Orgs: 2, Devices: 2, FailRate5xx: 1}, Config{})
		e.sleeps.hook = func() { e.sb.SetFailures(0, 0) } // healthy after the first failure
		if _, err := e.client.GetOrganization(context.Background(), "1"); err != nil {
			t.Fatal(err)
		}
		if n := e.sb.Requests()["GET /v2/organization/{id}"]; n != 2 {
			t.Errorf("attempts = %d, want 2", n)
		}
	})
	t.Run("gives up with a vendor error", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Orgs: 2, Devices: 2, FailRate5xx: 1}, Config{})
		_, err := e.client.GetOrganization(context.Background(), "1")
		ae, ok := apperr.As(err)
		if !ok || ae.Kind != apperr.Vendor || ae.VendorStatus < 502 || ae.VendorStatus > 504 {
			t.Fatalf("err = %v, want Vendor with a 502-504 status", err)
		}
		if n := e.sb.Requests()["GET /v2/organization/{id}"]; n != 4 {
			t.Errorf("attempts = %d, want 4", n)
		}
		if len(e.sleeps.Waits()) != 3 {
			t.Errorf("waits = %v, want 3 backoffs", e.sleeps.Waits())
		}
	})
	t.Run("hanging server hits the deadline", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{Orgs: 2, Devices: 2, TimeoutRate: 1, TimeoutDelay: 10 * time.Second}, Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := e.client.GetOrganization(ctx, "1")
		if !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("err = %v, want Unavailable", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("took %v; the deadline was not honoured", time.Since(start))
		}
	})
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no secret", Config{BaseURL: "https://app.ninjarmm.com", ClientID: "id"}},
		{"relative base", Config{BaseURL: "app.ninjarmm.com", ClientID: "id", ClientSecret: "s"}},
		{"bad token url", Config{BaseURL: "https://app.ninjarmm.com", TokenURL: "/oauth/token", ClientID: "id", ClientSecret: "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg, nil); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("err = %v, want Invalid", err)
			}
		})
	}
}

func TestEpochToTime(t *testing.T) {
	tests := []struct {
		in   float64
		want time.Time
	}{
		{1741793638.531, time.Date(2025, 3, 12, 15, 33, 58, 531e6, time.UTC)},
		{1741793638, time.Date(2025, 3, 12, 15, 33, 58, 0, time.UTC)},
		{1741793638531, time.Date(2025, 3, 12, 15, 33, 58, 531e6, time.UTC)}, // milliseconds
		{0, time.Time{}},
	}
	for _, tt := range tests {
		if got := epochToTime(tt.in); !got.Equal(tt.want) {
			t.Errorf("epochToTime(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestRequestCountsPerCall pins how many API requests each client call
// costs (the package documentation's table) and measures GetDevice's
// parallel fetch against a sandbox with added latency.
func TestRequestCountsPerCall(t *testing.T) {
	const latency = 40 * time.Millisecond
	e := newEnv(t, sandbox.Options{Seed: 2, Orgs: 12, Devices: 50, Latency: latency}, Config{PageSize: 5})
	ctx := context.Background()
	if err := e.client.TestConnection(ctx); err != nil { // also fetches the token
		t.Fatal(err)
	}
	var firstDevice string
	tests := []struct {
		name string
		call func() error
		want int64
	}{
		{"TestConnection", func() error { return e.client.TestConnection(ctx) }, 1},
		{"ListOrganizations (12 orgs, pageSize 5)", func() error { _, err := e.client.ListOrganizations(ctx); return err }, 3},
		{"GetOrganization", func() error { _, err := e.client.GetOrganization(ctx, "1"); return err }, 1},
		{"ListSites", func() error { _, err := e.client.ListSites(ctx, "1"); return err }, 1},
		{"ListDevices (one page)", func() error {
			p, err := e.client.ListDevices(ctx, "1", "")
			if err == nil && len(p.Devices) > 0 {
				firstDevice = p.Devices[0].ID
			}
			return err
		}, 1},
		{"GetDevice", func() error { _, err := e.client.GetDevice(ctx, firstDevice); return err }, 3},
		{"CreateOrganization (2 sites)", func() error {
			_, err := e.client.CreateOrganization(ctx, rmm.NewOrganization{Name: "Count Co", Sites: []string{"A", "B"}})
			return err
		}, 1},
		{"CreateSite", func() error { _, err := e.client.CreateSite(ctx, "1", "Counted"); return err }, 1},
		{"ListAlerts", func() error { _, err := e.client.ListAlerts(ctx, "1"); return err }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.client.Requests()
			start := time.Now()
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			if got := e.client.Requests() - before; got != tt.want {
				t.Errorf("%d requests, want %d", got, tt.want)
			}
			t.Logf("%s: %d request(s), %v with %v sandbox latency", tt.name, tt.want, elapsed.Round(time.Millisecond), latency)
		})
	}
	if e.client.TokenRequests() != 1 {
		t.Errorf("token requests = %d, want 1 for the whole run", e.client.TokenRequests())
	}
}
