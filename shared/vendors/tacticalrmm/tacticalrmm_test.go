package tacticalrmm

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendors/tacticalrmm/sandbox"
)

func newEnv(t *testing.T, opt sandbox.Options, cfg Config) (*sandbox.Server, *Client) {
	t.Helper()
	if opt.Epoch.IsZero() {
		opt.Epoch = time.Now().Add(-time.Minute)
	}
	sb := sandbox.New(opt)
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	cfg.BaseURL, cfg.APIKey = base+"/", sb.APIKey()
	if cfg.Sleep == nil {
		cfg.Sleep = (&sleeps{}).Sleep
	}
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sb, c
}

// TestErrorShapes: Tactical's three refusal bodies become apperr errors
// with the vendor's message, and a DRF body's field.
func TestErrorShapes(t *testing.T) {
	sb, c := newEnv(t, sandbox.Options{Seed: 1, Clients: 2, Agents: 2}, Config{})
	ctx := context.Background()
	for _, tc := range []struct {
		name, body string
		kind       apperr.Kind
		msg        string
		fields     []apperr.FieldError
	}{
		{"bare string", `"monitoring type does not exist"`, apperr.Invalid, "monitoring type does not exist", nil},
		{"DRF fields", `{"name":["client with this name already exists."],"non_field_errors":["Client/Site name cannot contain the | character"]}`,
			apperr.Invalid, "Client/Site name cannot contain the | character; name: client with this name already exists.",
			[]apperr.FieldError{{Field: "name", Message: "client with this name already exists."}}},
		{"DRF bare field string", `{"client":"Incorrect type."}`, apperr.Invalid, "client: Incorrect type.", []apperr.FieldError{{Field: "client", Message: "Incorrect type."}}},
	} {
		sb.RejectNext(1, 400, tc.body)
		_, err := c.ListOrganizations(ctx)
		e, ok := apperr.As(err)
		if !ok || e.Kind != tc.kind || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s: error %v, want %v containing %q", tc.name, err, tc.kind, tc.msg)
			continue
		}
		if d := cmp.Diff(tc.fields, e.Fields, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s: fields (-want +got):\n%s", tc.name, d)
		}
	}
	sb.RejectNext(1, 403, `{"detail":"You do not have permission to perform this action."}`)
	if _, err := c.ListOrganizations(ctx); !apperr.Is(err, apperr.Unauthorized) || !strings.Contains(err.Error(), "You do not have permission") {
		t.Errorf("403 detail: %v", err)
	}

	// Real refusals from the sandbox: a duplicate client names the field.
	if _, err := c.CreateOrganization(ctx, rmm.NewOrganization{Name: sb.Clients()[0].Name, Sites: []string{"HQ"}}); err == nil {
		t.Fatal("a duplicate client was created")
	} else if e, _ := apperr.As(err); e == nil || e.Kind != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "name" {
		t.Errorf("duplicate client: %v (fields %+v), want Invalid naming name", err, e)
	}
	if _, err := c.CreateOrganization(ctx, rmm.NewOrganization{Name: "Pipe | Co"}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("a name with |: %v, want Invalid before any request", err)
	}
}

// TestEveryCallUsesTrailingSlashes: no call is redirected or unmatched
// (Django answers 301 without the slash, which vendorhttp never follows).
func TestEveryCallUsesTrailingSlashes(t *testing.T) {
	for _, beta := range []bool{false, true} {
		sb, c := newEnv(t, sandbox.Options{Seed: 2, Clients: 3, Agents: 10, BetaAPI: beta}, Config{BetaAPI: beta})
		ctx := context.Background()
		orgs, err := c.ListOrganizations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		steps := []func() error{
			func() error { return c.TestConnection(ctx) },
			func() error { _, err := c.GetOrganization(ctx, orgs[0].ID); return err },
			func() error { _, err := c.ListSites(ctx, orgs[0].ID); return err },
			func() error { _, err := rmm.AllDevices(ctx, c, orgs[0].ID); return err },
			func() error { _, err := c.ListDeviceSnapshots(ctx, orgs[0].ID, ""); return err },
			func() error { _, err := c.GetDevice(ctx, sb.Agents()[0].AgentID); return err },
			func() error {
				_, err := c.CreateOrganization(ctx, rmm.NewOrganization{Name: "Slash Co", Sites: []string{"A", "B"}})
				return err
			},
			func() error { _, err := c.CreateSite(ctx, orgs[0].ID, "Annex"); return err },
			func() error { _, err := c.ListAlerts(ctx, orgs[0].ID); return err },
		}
		for i, step := range steps {
			if err := step(); err != nil && !(i == 4 && !beta && apperr.Is(err, apperr.NotImplemented)) {
				t.Errorf("beta %v, step %d: %v", beta, i, err)
			}
		}
		if r := sb.Requests(); r["redirected"] != 0 || r["unmatched"] != 0 {
			t.Errorf("beta %v: %d redirected, %d unmatched requests", beta, r["redirected"], r["unmatched"])
		}
	}
}

// TestSnapshots: with the beta API one request reads a page of up to
// 1,000 devices with every attribute, the same devices GetDevice reads;
// an install without the beta API (setting on) falls back to the classic
// list plus one detail per device, with the same result and a warning;
// without the setting the role is not offered.
func TestSnapshots(t *testing.T) {
	ctx := context.Background()
	opt := sandbox.Options{Seed: 5, Clients: 1, Agents: 1500, BetaAPI: true}
	sb, c := newEnv(t, opt, Config{BetaAPI: true})
	orgID := strconv.Itoa(sb.Clients()[0].ID)
	var got []rmm.Device
	before, pages := c.Requests(), 0
	for cur := ""; ; {
		p, err := c.ListDeviceSnapshots(ctx, orgID, cur)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, p.Devices...)
		if cur = p.NextCursor; cur == "" {
			break
		}
	}
	if n := c.Requests() - before; n != int64(pages) || len(got) <= MaxBetaPageSize || pages != 2 {
		t.Errorf("%d devices in %d pages with %d requests; want more than 1,000 in 2 pages, one request each", len(got), pages, n)
	}
	for _, i := range []int{0, len(got) / 2, len(got) - 1} {
		one, err := c.GetDevice(ctx, got[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(one, got[i]); d != "" {
			t.Errorf("snapshot of %s differs from GetDevice (-get +snapshot):\n%s", got[i].ID, d)
		}
	}

	// The setting is on, the install does not serve the beta API.
	var logs bytes.Buffer
	sb2, c2 := newEnv(t, sandbox.Options{Seed: 5, Clients: 2, Agents: 40}, Config{BetaAPI: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	orgID = strconv.Itoa(sb2.Clients()[0].ID)
	snap, err := c2.ListDeviceSnapshots(ctx, orgID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Devices) == 0 || !strings.Contains(logs.String(), "beta API not served") {
		t.Fatalf("fallback: %d devices, log %q", len(snap.Devices), logs.String())
	}
	for _, d := range snap.Devices {
		one, err := c2.GetDevice(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(one, d); diff != "" {
			t.Errorf("fallback snapshot of %s (-get +snapshot):\n%s", d.ID, diff)
		}
	}
	if r := sb2.Requests(); r["GET /beta/v1/agent/{$}"] != 1 {
		t.Errorf("the missing beta API was asked %d times, want once", r["GET /beta/v1/agent/{$}"])
	}

	// A client that does not exist is NotFound, not a client without
	// devices (the beta filter answers an empty page for it).
	if _, err := c.ListDeviceSnapshots(ctx, "987654", ""); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("snapshots of a missing client: %v, want NotFound", err)
	}
	if _, err := c.ListDevices(ctx, "987654", ""); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("devices of a missing client: %v, want NotFound", err)
	}

	_, c3 := newEnv(t, sandbox.Options{Seed: 5, Clients: 2, Agents: 4}, Config{})
	if _, err := c3.ListDeviceSnapshots(ctx, orgID, ""); !apperr.Is(err, apperr.NotImplemented) {
		t.Errorf("snapshots without the setting: %v, want NotImplemented", err)
	}
}

// TestGetDeviceReadsWMI: the Windows serial comes from the BIOS table, or
// comp_sys_prod when the BIOS has a placeholder; MACs from network_config;
// a POSIX agent's from serialnumber and make_model; "None" is no user.
func TestGetDeviceReadsWMI(t *testing.T) {
	sb, c := newEnv(t, sandbox.Options{Seed: 1, Clients: 1, Agents: 1}, Config{})
	site := sb.Sites()[0].ID
	ctx := context.Background()
	win, _ := sb.AddAgent(sandbox.Agent{Site: site, Hostname: "WIN-1", Plat: "windows", MonitoringType: "workstation",
		OperatingSystem: "Windows 11 Pro, 64 bit v23H2 (build 22631.3447)", Manufacturer: "Dell Inc.", Model: "OptiPlex 7010",
		Serial: "7XK2M93", MACs: []string{"D4:81:D7:01:02:03"}, LocalIPs: []string{"10.0.0.5"}, LoggedInUsername: "None",
		LastLoggedInUser: `ACME\jdoe`, LastSeen: time.Now().UTC().Truncate(time.Microsecond)})
	mac, _ := sb.AddAgent(sandbox.Agent{Site: site, Hostname: "Janes-MacBook", Plat: "darwin", MonitoringType: "workstation",
		OperatingSystem: "darwin 14.5 arm64 23.5.0", Manufacturer: "Apple Inc.", Model: "Mac14,2", Serial: "C02XK0AAJGH5",
		LocalIPs: []string{"10.0.0.6"}, LoggedInUsername: "jane", LastSeen: time.Now().UTC().Truncate(time.Microsecond),
		Disks: []sandbox.Disk{{Device: "/dev/disk3s1", Fstype: "apfs", Total: 494_384_795_648, Free: 100 << 30}}})
	d, err := c.GetDevice(ctx, win)
	if err != nil {
		t.Fatal(err)
	}
	if d.SerialNumber != "7XK2M93" || d.Manufacturer != "Dell Inc." || d.Model != "OptiPlex 7010" || d.LastLoggedInUser != `ACME\jdoe` ||
		len(d.MACAddresses) != 1 || d.OS.Name != "Windows 11 Pro" || d.DeviceType != rmm.DeviceWorkstation || d.OrganizationID != strconv.Itoa(sb.Clients()[0].ID) {
		t.Errorf("windows device %+v", d)
	}
	m, err := c.GetDevice(ctx, mac)
	if err != nil {
		t.Fatal(err)
	}
	if m.SerialNumber != "C02XK0AAJGH5" || m.Manufacturer != "Apple Inc." || m.Model != "Mac14,2" || m.DeviceType != rmm.DeviceMac ||
		len(m.Volumes) != 1 || m.Volumes[0].CapacityBytes < 494_000_000_000 || m.LastLoggedInUser != "jane" {
		t.Errorf("mac device %+v", m)
	}
	if _, err := c.GetDevice(ctx, "../clients"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("a hostile agent id: %v, want NotFound without a request", err)
	}
}

// TestListAlerts reads the open alerts of one client through the alerts
// query.
func TestListAlerts(t *testing.T) {
	sb, c := newEnv(t, sandbox.Options{Seed: 1, Clients: 2, Agents: 6}, Config{})
	ctx := context.Background()
	a := sb.Agents()[0]
	id, _ := sb.FailCheck(ctx, a.AgentID, "Ping check: gateway", "warning")
	org := strconv.Itoa(sb.ClientOfAgent(a.AgentID))
	got, err := c.ListAlerts(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	var found *rmm.Alert
	for i := range got {
		if got[i].SeriesID == strconv.Itoa(id) {
			found = &got[i]
		}
	}
	if found == nil || found.DeviceID != a.AgentID || found.Severity != rmm.SeverityModerate || found.SourceName != "Ping check: gateway" || found.OrganizationID != org {
		t.Fatalf("alerts %+v: want alert %d of %s", got, id, a.AgentID)
	}
	if err := sb.ResolveAlert(ctx, id); err != nil {
		t.Fatal(err)
	}
	got, _ = c.ListAlerts(ctx, org)
	for _, al := range got {
		if al.SeriesID == strconv.Itoa(id) {
			t.Errorf("a resolved alert is listed")
		}
	}
}

// TestGetDeviceSiteCache: once a list has shown a site's client, GetDevice
// is one request; after siteCacheTTL the site is read again.
func TestGetDeviceSiteCache(t *testing.T) {
	sb, c := newEnv(t, sandbox.Options{Seed: 1, Clients: 3, Agents: 9}, Config{})
	ctx := context.Background()
	now := time.Now()
	c.now = func() time.Time { return now }
	a := sb.Agents()[0]
	cost := func() (rmm.Device, int64) {
		before := c.Requests()
		d, err := c.GetDevice(ctx, a.AgentID)
		if err != nil {
			t.Fatal(err)
		}
		return d, c.Requests() - before
	}
	cold, n := cost()
	if n != 2 || cold.OrganizationID != strconv.Itoa(sb.ClientOfAgent(a.AgentID)) {
		t.Fatalf("cold GetDevice: %d requests, organization %q", n, cold.OrganizationID)
	}
	if warm, n := cost(); n != 1 || warm.OrganizationID != cold.OrganizationID {
		t.Errorf("warm GetDevice: %d requests, organization %q; want 1, %s", n, warm.OrganizationID, cold.OrganizationID)
	}
	now = now.Add(siteCacheTTL + time.Second)
	if _, n := cost(); n != 2 {
		t.Errorf("GetDevice after the cache's TTL: %d requests, want 2 (the site read again)", n)
	}
	if _, err := c.ListOrganizations(ctx); err != nil {
		t.Fatal(err)
	}
	if _, n := cost(); n != 1 {
		t.Errorf("GetDevice after ListOrganizations: %d requests, want 1", n)
	}
}
