package connectwise_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

// TestRoundTrips drives every client call against the sandbox in the
// order an integration uses them, checking each answer, what the sandbox
// stored, and how many HTTP requests the call cost (picklist lookups are
// cached after first use, so the order matters and is part of the test).
func TestRoundTrips(t *testing.T) {
	srv, c, _ := setup(t, sandbox.Options{Seed: 11, Orgs: []string{"Contoso Ltd"}})
	ctx := context.Background()
	checkIn := time.Date(2025, 5, 4, 3, 2, 1, 0, time.UTC)

	var (
		acct   psa.Account
		branch psa.Location
		asset  psa.Asset
		ticket psa.Ticket
	)
	long := strings.Repeat("Disk C: is almost full on the accounting server ", 4)
	type step struct {
		name string
		want int64 // requests
		run  func(t *testing.T)
	}
	steps := []step{
		{"TestConnection", 1, func(t *testing.T) {
			if err := c.TestConnection(ctx); err != nil {
				t.Fatal(err)
			}
			last := srv.Requests()[len(srv.Requests())-1]
			if last.Path != "/company/companies" || last.Query.Get("pageSize") != "1" || last.Query.Get("fields") != "id" {
				t.Errorf("request = %s %v, want GET /company/companies?pageSize=1&fields=id", last.Path, last.Query)
			}
		}},
		{"ListAccountStatuses", 1, func(t *testing.T) {
			got, err := c.ListAccountStatuses(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := []psa.NamedRef{{ID: "1", Name: "Active"}, {ID: "2", Name: "Inactive"}, {ID: "3", Name: "Not-Approved"}}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("statuses (-want +got):\n%s", d)
			}
		}},
		{"ListAccountTypes", 1, func(t *testing.T) {
			got, err := c.ListAccountTypes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := []psa.NamedRef{{ID: "1", Name: "Client"}, {ID: "2", Name: "Prospect"}, {ID: "3", Name: "Vendor"}, {ID: "4", Name: "Partner"}}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("types (-want +got):\n%s", d)
			}
		}},
		{"CreateAccount", 1, func(t *testing.T) {
			var err error
			acct, err = c.CreateAccount(ctx, psa.NewAccount{
				Name: "Northwind Health, Inc.", Status: psa.NamedRef{Name: "active"}, Type: psa.NamedRef{Name: "Prospect"}, ExternalRef: "org-77",
			})
			if err != nil {
				t.Fatal(err)
			}
			want := psa.Account{ID: acct.ID, Name: "Northwind Health, Inc.", Identifier: "NORTHWINDHEALTHINC",
				Status: psa.NamedRef{ID: "1", Name: "Active"}, Type: psa.NamedRef{ID: "2", Name: "Prospect"}}
			if d := cmp.Diff(want, acct); d != "" {
				t.Errorf("account (-want +got):\n%s", d)
			}
			stored := companyByID(t, srv, acct.ID)
			if stored.CustomFields[sandbox.CompanyRefFieldID] != "org-77" || fmt.Sprint(stored.Sites) != "[Main]" {
				t.Errorf("stored company = %+v, want the RMM reference org-77 and one site Main", stored)
			}
		}},
		{"GetAccount", 1, func(t *testing.T) {
			got, err := c.GetAccount(ctx, acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(acct, got); d != "" {
				t.Errorf("account (-want +got):\n%s", d)
			}
		}},
		{"SearchAccounts", 1, func(t *testing.T) {
			got, err := c.SearchAccounts(ctx, psa.AccountQuery{Search: "northwind HEALTH"})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(psa.Page[psa.Account]{Items: []psa.Account{acct}}, got); d != "" {
				t.Errorf("page (-want +got):\n%s", d)
			}
		}},
		{"FindAccountsByExternalRef", 1, func(t *testing.T) {
			got, err := c.FindAccountsByExternalRef(ctx, "org-77")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]psa.Account{acct}, got); d != "" {
				t.Errorf("accounts (-want +got):\n%s", d)
			}
		}},
		{"CreateLocation", 1, func(t *testing.T) {
			var err error
			branch, err = c.CreateLocation(ctx, acct.ID, psa.NewLocation{Name: "Branch - Denver"})
			if err != nil {
				t.Fatal(err)
			}
			if branch.ID == "" || branch.AccountID != acct.ID || branch.Name != "Branch - Denver" {
				t.Errorf("location = %+v", branch)
			}
		}},
		{"ListLocations", 1, func(t *testing.T) {
			got, err := c.ListLocations(ctx, acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := []psa.Location{{AccountID: acct.ID, Name: "Main"}, branch}
			if d := cmp.Diff(want, got, cmpopts.IgnoreFields(psa.Location{}, "ID")); d != "" || got[1].ID != branch.ID {
				t.Errorf("locations (-want +got):\n%s", d)
			}
		}},
		// First asset write: configuration types, the manufacturer, POST.
		{"CreateAsset", 3, func(t *testing.T) {
			in := psa.Asset{
				AccountID: acct.ID, LocationID: branch.ID, Name: "NW-SRV01", ExternalRef: "ninja-4711",
				SerialNumber: "7XK2Q93", OS: "Windows Server 2022 Standard", Manufacturer: "Dell Inc.",
				Model: "PowerEdge R650", LastLoggedInUser: `NORTHWIND\admin`, LastCheckIn: checkIn,
				IPAddress: "10.0.0.5", MACAddress: "00:11:22:33:44:55", TotalBytes: 960197124096, FreeBytes: 410197124096,
				Volumes: "C: 446.6 GiB, 190.1 GiB free\nD: 447.6 GiB, 192.0 GiB free", DeviceType: "server",
			}
			var err error
			asset, err = c.CreateAsset(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			in.ID = asset.ID
			if d := cmp.Diff(in, asset); d != "" {
				t.Errorf("asset (-want +got):\n%s", d)
			}
		}},
		{"GetAsset", 1, func(t *testing.T) {
			got, err := c.GetAsset(ctx, asset.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(asset, got); d != "" {
				t.Errorf("asset (-want +got):\n%s", d)
			}
		}},
		{"FindAssetsByExternalRef", 1, func(t *testing.T) {
			got, err := c.FindAssetsByExternalRef(ctx, "ninja-4711")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]psa.Asset{asset}, got); d != "" {
				t.Errorf("assets (-want +got):\n%s", d)
			}
		}},
		{"FindAssetsBySerial", 1, func(t *testing.T) {
			got, err := c.FindAssetsBySerial(ctx, "7XK2Q93")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]psa.Asset{asset}, got); d != "" {
				t.Errorf("assets (-want +got):\n%s", d)
			}
		}},
		// A new manufacturer name costs one lookup; types are cached.
		{"UpdateAsset", 2, func(t *testing.T) {
			in := asset
			in.OS, in.Manufacturer, in.FreeBytes, in.LastLoggedInUser = "Windows Server 2025 Standard", "Lenovo", 300197124096, `NORTHWIND\jdoe`
			in.LastCheckIn = checkIn.Add(time.Hour)
			got, err := c.UpdateAsset(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(in, got); d != "" {
				t.Errorf("asset (-want +got):\n%s", d)
			}
			asset = got
		}},
		// First ticket: boards, the board's statuses, priorities, POST,
		// attach the configuration.
		{"CreateTicket", 5, func(t *testing.T) {
			var err error
			ticket, err = c.CreateTicket(ctx, psa.NewTicket{
				AccountID: acct.ID, LocationID: branch.ID, AssetID: asset.ID, Summary: long, Description: "Free space below 10 %.",
				Board: psa.NamedRef{Name: "Help Desk"}, Status: psa.NamedRef{Name: "in progress"}, Priority: psa.NamedRef{Name: "Priority 2 - High"},
				ExternalRef: "series-1",
			})
			if err != nil {
				t.Fatal(err)
			}
			want := psa.Ticket{
				ID: ticket.ID, AccountID: acct.ID, LocationID: branch.ID, AssetID: asset.ID,
				Summary: psa.Truncate(strings.TrimSpace(long), 100), Description: "Free space below 10 %.",
				Status: psa.NamedRef{ID: "2", Name: "In Progress"}, Priority: psa.NamedRef{ID: "2", Name: "Priority 2 - High"},
				Board: psa.NamedRef{ID: "1", Name: "Help Desk"}, CreatedAt: ticket.CreatedAt,
			}
			if d := cmp.Diff(want, ticket); d != "" {
				t.Errorf("ticket (-want +got):\n%s", d)
			}
			if n := len([]rune(ticket.Summary)); n != 100 || !strings.HasSuffix(ticket.Summary, "…") {
				t.Errorf("summary has %d runes (%q), want 100 ending in an ellipsis", n, ticket.Summary)
			}
			if time.Since(ticket.CreatedAt) > time.Minute {
				t.Errorf("createdAt = %v, want about now", ticket.CreatedAt)
			}
			st := ticketByID(t, srv, ticket.ID)
			if st.ExternalXRef != "series-1" || fmt.Sprint(st.ConfigurationIDs) != "["+asset.ID+"]" {
				t.Errorf("stored ticket = %+v, want externalXRef series-1 and configuration %s", st, asset.ID)
			}
		}},
		{"GetTicket", 2, func(t *testing.T) {
			got, err := c.GetTicket(ctx, ticket.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(ticket, got); d != "" {
				t.Errorf("ticket (-want +got):\n%s", d)
			}
		}},
		{"FindTicketsByExternalRef", 1, func(t *testing.T) {
			got, err := c.FindTicketsByExternalRef(ctx, "series-1")
			if err != nil {
				t.Fatal(err)
			}
			want := ticket
			want.AssetID = ""
			if d := cmp.Diff([]psa.Ticket{want}, got); d != "" {
				t.Errorf("tickets (-want +got):\n%s", d)
			}
		}},
		{"AddTicketNote", 1, func(t *testing.T) {
			if err := c.AddTicketNote(ctx, ticket.ID, psa.Note{Text: "Alert fired again at 03:10.", Internal: true}); err != nil {
				t.Fatal(err)
			}
			notes := ticketByID(t, srv, ticket.ID).Notes
			last := notes[len(notes)-1]
			if last.Text != "Alert fired again at 03:10." || !last.Internal || last.CreatedBy != sandbox.DefaultAPIMember {
				t.Errorf("last note = %+v, want our internal note", last)
			}
		}},
		{"TicketTouched", 3, func(t *testing.T) {
			got, err := c.TicketTouched(ctx, ticket.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got {
				t.Error("touched = true for a ticket only rmmbridge changed")
			}
		}},
		// GET the ticket, add the resolution note, PATCH the status (the
		// board's statuses are cached since CreateTicket).
		{"CloseTicket", 3, func(t *testing.T) {
			if err := c.CloseTicket(ctx, ticket.ID, "Cleared by rmmbridge: disk space recovered."); err != nil {
				t.Fatal(err)
			}
			st := ticketByID(t, srv, ticket.ID)
			last := st.Notes[len(st.Notes)-1]
			if !st.Closed || st.Status != "Closed (resolved)" || !last.Resolution || !strings.HasPrefix(last.Text, "Cleared") {
				t.Errorf("stored ticket = %+v, want closed with status Closed (resolved) and a resolution note", st)
			}
		}},
		{"CloseTicket again", 1, func(t *testing.T) {
			if err := c.CloseTicket(ctx, ticket.ID, "again"); err != nil {
				t.Fatal(err)
			}
			if n := len(ticketByID(t, srv, ticket.ID).Notes); n != 3 {
				t.Errorf("ticket has %d notes, want 3 (no second resolution)", n)
			}
		}},
		{"ListMembers", 1, func(t *testing.T) {
			got, err := c.ListMembers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Every member: the inactive one, a second login sharing an
			// address, a kiosk without one; with the security role.
			want := []psa.Member{
				{ID: "150", Name: "John Smith", Email: "jsmith@msp.example", Active: true, Role: "Admin"},
				{ID: "151", Name: "Maria Garcia", Email: "mgarcia@msp.example", Active: true, Role: "Technician"},
				{ID: "152", Name: "Alex Kim", Email: "akim@msp.example", Active: true, Role: "Technician"},
				{ID: "153", Name: "Priya Williams", Email: "pwilliams@msp.example", Active: true, Role: "Dispatcher"},
				{ID: "154", Name: "Thanh Nguyen", Email: "tnguyen@msp.example", Active: false, Role: "Technician"},
				{ID: "155", Name: "John Smith (admin login)", Email: "jsmith@msp.example", Active: true, Role: "Admin"},
				{ID: "156", Name: "Front Desk", Active: true, Role: "Dispatcher"},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("members (-want +got):\n%s", d)
			}
		}},
	}
	var table strings.Builder
	for _, s := range steps {
		var n int64
		ok := t.Run(s.name, func(t *testing.T) {
			n = requestsOf(c, func() { s.run(t) })
			if n != s.want {
				t.Errorf("%s sent %d requests, want %d", s.name, n, s.want)
			}
		})
		fmt.Fprintf(&table, "  %-26s %d\n", s.name, n)
		if !ok {
			break
		}
	}
	t.Logf("requests per call:\n%s", table.String())
}

func companyByID(t *testing.T, srv *sandbox.Server, id string) sandbox.Company {
	t.Helper()
	for _, co := range srv.Companies() {
		if fmt.Sprint(co.ID) == id {
			return co
		}
	}
	t.Fatalf("sandbox has no company %s", id)
	return sandbox.Company{}
}

func ticketByID(t *testing.T, srv *sandbox.Server, id string) sandbox.Ticket {
	t.Helper()
	for _, tk := range srv.Tickets() {
		if fmt.Sprint(tk.ID) == id {
			return tk
		}
	}
	t.Fatalf("sandbox has no ticket %s", id)
	return sandbox.Ticket{}
}

// TestTicketLifecycle is the alert flow: create, our own note (not
// touched), a technician's note (touched), close.
func TestTicketLifecycle(t *testing.T) {
	srv, c, _ := setup(t, sandbox.Options{Seed: 2})
	ctx := context.Background()
	co := srv.Companies()[0]
	tk, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: fmt.Sprint(co.ID), Summary: "CPU above 95 %", Description: "Since 02:00.", Board: psa.NamedRef{Name: "Monitoring"}})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status.Name != "New" || tk.Board.Name != "Monitoring" || tk.Priority.Name != "Priority 3 - Normal" {
		t.Errorf("ticket = %+v, want the board's default status New and the default priority", tk)
	}
	if err := c.AddTicketNote(ctx, tk.ID, psa.Note{Text: "Repeated at 02:05."}); err != nil {
		t.Fatal(err)
	}
	if touched, err := c.TicketTouched(ctx, tk.ID); err != nil || touched {
		t.Fatalf("touched = %v, %v after our own note; want false", touched, err)
	}

	srv.AddAPIKey("mgarcia", "tech-public", "tech-private")
	cfg := clientConfig(srv, &sleeps{})
	cfg.PublicKey, cfg.PrivateKey = "tech-public", "tech-private"
	tech := newClient(t, cfg)
	if err := tech.AddTicketNote(ctx, tk.ID, psa.Note{Text: "Looking into it."}); err != nil {
		t.Fatal(err)
	}
	if touched, err := c.TicketTouched(ctx, tk.ID); err != nil || !touched {
		t.Fatalf("touched = %v, %v after a technician's note; want true", touched, err)
	}

	if err := c.CloseTicket(ctx, tk.ID, ""); err != nil {
		t.Fatal(err)
	}
	st := ticketByID(t, srv, tk.ID)
	if !st.Closed || st.Status != "Closed (resolved)" || len(st.Notes) != 3 {
		t.Errorf("stored ticket = %+v, want closed on Monitoring's closed status with 3 notes (no empty resolution)", st)
	}
}

// TestTicketTouched covers each way a human shows up, and who counts as us.
func TestTicketTouched(t *testing.T) {
	tests := []struct {
		name string
		// act is what the technician (member mgarcia) does to the ticket.
		act    func(t *testing.T, srv *sandbox.Server, tech *connectwise.Client, id string)
		ignore []string
		want   bool
		// requests TicketTouched sends: it stops at the first sign.
		requests int64
	}{
		{name: "untouched", act: func(*testing.T, *sandbox.Server, *connectwise.Client, string) {}, want: false, requests: 3},
		{name: "technician changed the status", act: func(t *testing.T, _ *sandbox.Server, tech *connectwise.Client, id string) {
			if err := tech.CloseTicket(context.Background(), id, ""); err != nil {
				t.Fatal(err)
			}
		}, want: true, requests: 1},
		{name: "technician wrote a note", act: func(t *testing.T, _ *sandbox.Server, tech *connectwise.Client, id string) {
			if err := tech.AddTicketNote(context.Background(), id, psa.Note{Text: "on it"}); err != nil {
				t.Fatal(err)
			}
		}, want: true, requests: 2},
		{name: "technician attached a configuration (audit trail only)", act: func(t *testing.T, srv *sandbox.Server, _ *connectwise.Client, id string) {
			cfgID := srv.Configurations()[0].ID
			if st := raw(t, srv, "POST", "/service/tickets/"+id+"/configurations", "tech-public", "tech-private", map[string]int{"id": cfgID}, nil); st != 201 {
				t.Fatalf("attach answered %d", st)
			}
		}, want: true, requests: 3},
		{name: "workflow member listed in IgnoreMembers", ignore: []string{"MGARCIA"}, act: func(t *testing.T, _ *sandbox.Server, tech *connectwise.Client, id string) {
			if err := tech.AddTicketNote(context.Background(), id, psa.Note{Text: "auto-assigned"}); err != nil {
				t.Fatal(err)
			}
		}, want: false, requests: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, _ := setup(t, sandbox.Options{Seed: 3, DeviceCount: 3}, func(cfg *connectwise.Config) {
				cfg.APIMember, cfg.IgnoreMembers = sandbox.DefaultAPIMember, tt.ignore
			})
			srv.AddAPIKey("mgarcia", "tech-public", "tech-private")
			cfg := clientConfig(srv, &sleeps{})
			cfg.PublicKey, cfg.PrivateKey = "tech-public", "tech-private"
			tech := newClient(t, cfg)
			ctx := context.Background()
			tk, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: fmt.Sprint(srv.Configurations()[0].CompanyID), Summary: "Backup failed", Description: "Job 12", Board: psa.NamedRef{ID: "1"}})
			if err != nil {
				t.Fatal(err)
			}
			tt.act(t, srv, tech, tk.ID)
			var got bool
			n := requestsOf(c, func() { got, err = c.TicketTouched(ctx, tk.ID) })
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || n != tt.requests {
				t.Errorf("TicketTouched = %v with %d requests, want %v with %d", got, n, tt.want, tt.requests)
			}
		})
	}
}

// TestCallErrors checks the answers to calls ConnectWise refuses.
func TestCallErrors(t *testing.T) {
	srv, c, _ := setup(t, sandbox.Options{Seed: 4, Orgs: []string{"Acme"}})
	ctx := context.Background()
	acme := fmt.Sprint(srv.Companies()[0].ID)
	tests := []struct {
		name     string
		call     func() error
		kind     apperr.Kind
		contains string
		requests int64
	}{
		{"missing company", func() error { _, err := c.GetAccount(ctx, "999999"); return err }, apperr.NotFound, "Company 999999 was not found", 1},
		{"id that is not a number", func() error { _, err := c.GetAccount(ctx, "abc"); return err }, apperr.NotFound, `no ConnectWise company "abc"`, 0},
		{"identifier taken", func() error {
			_, err := c.CreateAccount(ctx, psa.NewAccount{Name: "Other", Identifier: srv.Companies()[0].Identifier})
			return err
		}, apperr.Invalid, "identifier: The identifier is already in use", 1},
		{"unknown board", func() error {
			_, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: acme, Summary: "x", Board: psa.NamedRef{Name: "Projects"}})
			return err
		}, apperr.Invalid, `ConnectWise has no service board named "Projects"`, 1},
		{"no board", func() error { _, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: acme, Summary: "x"}); return err }, apperr.Invalid, "board: board is required", 1},
		{"status name without a board", func() error {
			_, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: acme, Summary: "x", Status: psa.NamedRef{Name: "New"}})
			return err
		}, apperr.Invalid, "a status given by name needs a board", 0},
		{"empty summary", func() error { _, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: acme, Summary: " "}); return err }, apperr.Invalid, "summary: is required", 0},
		{"site of another company", func() error {
			_, err := c.CreateAsset(ctx, psa.Asset{AccountID: acme, LocationID: "1000000", Name: "PC"})
			return err
		}, apperr.Invalid, "site: site does not belong to the company", 2},
		{"note on a missing ticket", func() error { return c.AddTicketNote(ctx, "777", psa.Note{Text: "x"}) }, apperr.NotFound, "Ticket 777 was not found", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			n := requestsOf(c, func() { err = tt.call() })
			e, ok := apperr.As(err)
			if !ok || e.Kind != tt.kind || !strings.Contains(e.Message, tt.contains) {
				t.Fatalf("error = %v, want kind %v with message containing %q", err, tt.kind, tt.contains)
			}
			if n != tt.requests {
				t.Errorf("sent %d requests, want %d", n, tt.requests)
			}
		})
	}
}

// TestCreateAccountIdentifierClash: a derived identifier that is taken is
// retried with a number appended.
func TestCreateAccountIdentifierClash(t *testing.T) {
	_, c, _ := setup(t, sandbox.Options{Seed: 5, Orgs: []string{"Zeta"}})
	ctx := context.Background()
	first, err := c.CreateAccount(ctx, psa.NewAccount{Name: "Blue Sky"})
	if err != nil {
		t.Fatal(err)
	}
	var second psa.Account
	n := requestsOf(c, func() { second, err = c.CreateAccount(ctx, psa.NewAccount{Name: "Blue-Sky"}) })
	if err != nil {
		t.Fatal(err)
	}
	if first.Identifier != "BLUESKY" || second.Identifier != "BLUESKY2" || n != 2 {
		t.Errorf("identifiers %q, %q after %d requests; want BLUESKY, BLUESKY2 after 2", first.Identifier, second.Identifier, n)
	}
}

// TestAttachFailureKeepsTicket: a ticket whose configuration cannot be
// attached is still returned (a retry must not open a second ticket).
func TestAttachFailureKeepsTicket(t *testing.T) {
	srv, c, _ := setup(t, sandbox.Options{Seed: 6, Orgs: []string{"Acme"}})
	tk, err := c.CreateTicket(context.Background(), psa.NewTicket{
		AccountID: fmt.Sprint(srv.Companies()[0].ID), Summary: "x", Board: psa.NamedRef{ID: "1"}, AssetID: "999999",
	})
	if err != nil {
		t.Fatal(err)
	}
	if tk.ID == "" || tk.AssetID != "" || len(srv.Tickets()) != 1 {
		t.Errorf("ticket = %+v with %d tickets stored; want one ticket without an asset", tk, len(srv.Tickets()))
	}
}

// TestAssetTypeMapping: device types map to configuration types, falling
// back to "Other", and fail clearly when neither exists.
func TestAssetTypeMapping(t *testing.T) {
	tests := []struct {
		name       string
		deviceType string
		types      map[string]string
		fallback   string
		wantType   string // stored configuration type; "" means an error
	}{
		{name: "workstation", deviceType: "workstation", wantType: "Workstation"},
		{name: "mobile", deviceType: "mobile", wantType: "Mobile Device"},
		{name: "unknown device type", deviceType: "toaster", wantType: "Other"},
		{name: "mapped type missing in the PSA", deviceType: "vm", types: map[string]string{"vm": "Virtual Machine"}, wantType: "Other"},
		{name: "nothing fits", deviceType: "vm", types: map[string]string{"vm": "Virtual Machine"}, fallback: "Appliance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, _ := setup(t, sandbox.Options{Seed: 8, Orgs: []string{"Acme"}}, func(cfg *connectwise.Config) {
				cfg.ConfigTypes, cfg.FallbackConfigType = tt.types, tt.fallback
			})
			a, err := c.CreateAsset(context.Background(), psa.Asset{AccountID: fmt.Sprint(srv.Companies()[0].ID), Name: "X1", DeviceType: tt.deviceType})
			if tt.wantType == "" {
				if !apperr.Is(err, apperr.Invalid) {
					t.Fatalf("error = %v, want Invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, cf := range srv.Configurations() {
				if fmt.Sprint(cf.ID) == a.ID && cf.Type != tt.wantType {
					t.Errorf("stored type %q, want %q", cf.Type, tt.wantType)
				}
			}
		})
	}
}

// TestTicketType creates tickets with a board type given by name (the
// integration's ticketDefaults.type), and refuses a type the board lacks.
func TestTicketType(t *testing.T) {
	srv, c, _ := setup(t, sandbox.Options{Seed: 2})
	ctx := context.Background()
	co := srv.Companies()[0]
	tk, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: fmt.Sprint(co.ID), Summary: "Disk full",
		Board: psa.NamedRef{Name: "Help Desk"}, Type: psa.NamedRef{Name: "problem"}})
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, st := range srv.Tickets() {
		if fmt.Sprint(st.ID) == tk.ID {
			got = st.Type
		}
	}
	if got != "Problem" {
		t.Errorf("ticket type in ConnectWise = %q, want Problem", got)
	}
	_, err = c.CreateTicket(ctx, psa.NewTicket{AccountID: fmt.Sprint(co.ID), Summary: "Disk full",
		Board: psa.NamedRef{Name: "Help Desk"}, Type: psa.NamedRef{Name: "Change Request"}})
	if !apperr.Is(err, apperr.Invalid) {
		t.Errorf("unknown type: %v, want Invalid", err)
	}
	if _, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: fmt.Sprint(co.ID), Summary: "No type", Board: psa.NamedRef{Name: "Help Desk"}}); err != nil {
		t.Errorf("ticket without a type: %v", err)
	}
}
