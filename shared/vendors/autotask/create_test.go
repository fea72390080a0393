package autotask_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask/sandbox"
)

// sandboxCalls runs call and returns the requests the sandbox served
// meanwhile, as "METHOD path".
func sandboxCalls(t *testing.T, srv *sandbox.Server, call func() error) []string {
	t.Helper()
	before := len(srv.Requests())
	if err := call(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range srv.Requests()[before:] {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// TestWritesAreOneRequest: with the metadata cached, each create (and a
// CI update) is exactly one Autotask request, its write (Autotask's
// database allows 10,000 an hour), and what it answers is what a read of
// the record answers afterwards, field for field. The one exception is the
// ticket's CreatedAt: the client's clock at the create, Autotask's
// createDate (to the millisecond) on a read; it is compared to within a
// second.
func TestWritesAreOneRequest(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	ctx := context.Background()
	acct, err := srv.AddCompany(sandbox.NewCompany{Name: "Contoso Dental", Locations: []string{"Main", "Lab"}})
	if err != nil {
		t.Fatal(err)
	}
	acctID := strconv.Itoa(acct)
	c := newClient(t, clientConfig(srv, nil))
	locs, err := c.ListLocations(ctx, acctID)
	if err != nil || len(locs) != 2 {
		t.Fatalf("ListLocations = %+v, %v", locs, err)
	}
	// The metadata of the entities written, read once per LookupTTL.
	if err := c.TestConnection(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateLocation(ctx, acctID, psa.NewLocation{Name: "Warm-up"}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("Ünïcode wörkstation ", 20) // 400 characters: the client truncates to the field's length
	server, err := c.CreateAsset(ctx, psa.Asset{AccountID: acctID, LocationID: locs[0].ID, Name: "CD-SRV-01", ExternalRef: "dev-102",
		SerialNumber: "SN-102", OS: "Windows Server 2022", TotalBytes: 1 << 40, DeviceType: "server"})
	if err != nil {
		t.Fatal(err)
	}
	update := server
	update.LocationID, update.Name, update.SerialNumber, update.OS, update.TotalBytes, update.ExternalRef, update.DeviceType =
		"", "CD-SRV-01B", "", "Windows Server 2025", 0, "", "network"

	for _, tc := range []struct {
		name  string
		write string // the one request
		run   func() (any, error)
		read  func(got any) (any, error)
		opts  []cmp.Option
	}{
		{"CreateAsset with every stored field", "POST /V1.0/ConfigurationItems", func() (any, error) {
			return c.CreateAsset(ctx, psa.Asset{AccountID: acctID, LocationID: locs[1].ID, Name: "CD-WS-01", ExternalRef: "dev-101",
				SerialNumber: "SN-101", OS: "macOS 14.5", LastLoggedInUser: `CD\reception`, IPAddress: "10.0.0.5",
				MACAddress: "00:11:22:33:44:55", TotalBytes: 512_110_190_592, DeviceType: "mac",
				Manufacturer: "Apple", Model: "Mac mini", FreeBytes: 1, Volumes: "/ 476 GiB", LastCheckIn: time.Now()})
		}, func(got any) (any, error) { return c.GetAsset(ctx, got.(psa.Asset).ID) }, nil},
		{"CreateAsset with the least", "POST /V1.0/ConfigurationItems", func() (any, error) {
			return c.CreateAsset(ctx, psa.Asset{AccountID: acctID, Name: long, DeviceType: "toaster"})
		}, func(got any) (any, error) { return c.GetAsset(ctx, got.(psa.Asset).ID) }, nil},
		{"UpdateAsset", "PATCH /V1.0/ConfigurationItems", func() (any, error) {
			return c.UpdateAsset(ctx, update)
		}, func(got any) (any, error) { return c.GetAsset(ctx, got.(psa.Asset).ID) }, nil},
		{"CreateAccount", "POST /V1.0/Companies", func() (any, error) {
			return c.CreateAccount(ctx, psa.NewAccount{Name: "  Fabrikam Vet  ", ExternalRef: "org-9",
				Status: psa.NamedRef{Name: "Inactive"}, Type: psa.NamedRef{Name: "Prospect"}})
		}, func(got any) (any, error) { return c.GetAccount(ctx, got.(psa.Account).ID) }, nil},
		{"CreateAccount with the defaults", "POST /V1.0/Companies", func() (any, error) {
			return c.CreateAccount(ctx, psa.NewAccount{Name: long})
		}, func(got any) (any, error) { return c.GetAccount(ctx, got.(psa.Account).ID) }, nil},
		{"CreateLocation", "POST /V1.0/Companies/" + acctID + "/Locations", func() (any, error) {
			return c.CreateLocation(ctx, acctID, psa.NewLocation{Name: "Annex"})
		}, func(got any) (any, error) {
			all, err := c.ListLocations(ctx, acctID)
			for _, l := range all {
				if l.ID == got.(psa.Location).ID {
					return l, err
				}
			}
			return nil, err
		}, nil},
		{"CreateTicket", "POST /V1.0/Tickets", func() (any, error) {
			return c.CreateTicket(ctx, psa.NewTicket{AccountID: acctID, LocationID: locs[0].ID, AssetID: server.ID,
				Summary: "Disk C: is almost full", Description: "92 % used", ExternalRef: "series-1", Priority: psa.NamedRef{Name: "High"}})
		}, func(got any) (any, error) { return c.GetTicket(ctx, got.(psa.Ticket).ID) }, []cmp.Option{cmpopts.EquateApproxTime(time.Second)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			calls := sandboxCalls(t, srv, func() (err error) { got, err = tc.run(); return err })
			if len(calls) != 1 || calls[0] != tc.write {
				t.Errorf("requests = %q, want the write alone (%s)", calls, tc.write)
			}
			read, err := tc.read(got)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(read, got, tc.opts...); d != "" {
				t.Errorf("the answer differs from a read of the record (-read +answer):\n%s", d)
			}
		})
	}
}

// TestUpdateReadsWhatTheTenantKeeps: on a tenant whose RMM integration
// owns an audit field (read-only to the API user), a CI update answers the
// value Autotask holds there, not the one asked, at the cost of a GET; a
// create there is still one request (a new CI has no audit values).
func TestUpdateReadsWhatTheTenantKeeps(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2, ReadOnly: []string{"ConfigurationItems.rmmDeviceAuditOperatingSystem"}})
	ctx := context.Background()
	acct, err := srv.AddCompany(sandbox.NewCompany{Name: "Contoso Dental"})
	if err != nil {
		t.Fatal(err)
	}
	ci, err := srv.AddConfigurationItem(sandbox.NewConfigurationItem{CompanyID: acct, Title: "CD-WS-07", OS: "Windows 11 Pro (from Datto RMM)"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, clientConfig(srv, nil))
	a, err := c.GetAsset(ctx, strconv.Itoa(ci))
	if err != nil {
		t.Fatal(err)
	}
	a.Name, a.OS, a.IPAddress = "CD-WS-07B", "Windows 11 Pro 24H2", "10.0.0.7"
	var got psa.Asset
	calls := sandboxCalls(t, srv, func() (err error) { got, err = c.UpdateAsset(ctx, a); return err })
	if d := cmp.Diff([]string{"PATCH /V1.0/ConfigurationItems", "GET /V1.0/ConfigurationItems/" + a.ID}, calls); d != "" {
		t.Errorf("UpdateAsset requests (-want +got):\n%s", d)
	}
	read, err := c.GetAsset(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(read, got); d != "" {
		t.Errorf("UpdateAsset's answer differs from a read (-read +answer):\n%s", d)
	}
	if got.OS != "Windows 11 Pro (from Datto RMM)" || got.IPAddress != "10.0.0.7" {
		t.Errorf("UpdateAsset = %+v, want the integration's OS kept and the IP address written", got)
	}

	var created psa.Asset
	calls = sandboxCalls(t, srv, func() (err error) {
		created, err = c.CreateAsset(ctx, psa.Asset{AccountID: strconv.Itoa(acct), Name: "CD-WS-08", OS: "Windows 11 Pro", DeviceType: "workstation"})
		return err
	})
	if d := cmp.Diff([]string{"POST /V1.0/ConfigurationItems"}, calls); d != "" {
		t.Errorf("CreateAsset requests (-want +got):\n%s", d)
	}
	if read, err = c.GetAsset(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(read, created); d != "" {
		t.Errorf("CreateAsset's answer differs from a read (-read +answer):\n%s", d)
	}
}
