package connectwise_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

// likeMatch is the test's own reading of ConnectWise's `like "%text%"`:
// case-insensitive, % any run, _ one character.
func likeMatch(text, s string) bool {
	var b strings.Builder
	for _, r := range text {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	return regexp.MustCompile("(?is)" + b.String()).MatchString(s)
}

// expectAccounts filters the sandbox's companies the way SearchAccounts
// asks ConnectWise to, ordered by name.
func expectAccounts(srv *sandbox.Server, search, statusID, typeID string, statuses, types map[string]string) []psa.Account {
	var out []psa.Account
	for _, co := range srv.Companies() {
		if co.Deleted {
			continue
		}
		if search != "" && !likeMatch(search, co.Name) && !likeMatch(search, co.Identifier) {
			continue
		}
		// A filter is an id, or else a name (case-insensitive).
		if statusID != "" && statuses[co.Status] != statusID && !strings.EqualFold(co.Status, statusID) {
			continue
		}
		if typeID != "" && !slices.ContainsFunc(co.Types, func(n string) bool { return types[n] == typeID || strings.EqualFold(n, typeID) }) {
			continue
		}
		a := psa.Account{ID: fmt.Sprint(co.ID), Name: co.Name, Identifier: co.Identifier, Status: psa.NamedRef{ID: statuses[co.Status], Name: co.Status}}
		if len(co.Types) > 0 {
			a.Type = psa.NamedRef{ID: types[co.Types[0]], Name: co.Types[0]}
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b psa.Account) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out
}

func picklists(t *testing.T, c *connectwise.Client) (statuses, types map[string]string) {
	t.Helper()
	statuses, types = map[string]string{}, map[string]string{}
	ss, err := c.ListAccountStatuses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		statuses[s.Name] = s.ID
	}
	ts, err := c.ListAccountTypes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range ts {
		types[tp.Name] = tp.ID
	}
	return statuses, types
}

// TestSearchAccounts: text search with status and type filters over the
// seeded companies.
func TestSearchAccounts(t *testing.T) {
	srv, c, _ := setup(t, sandbox.Options{Seed: 21, OrgCount: 30})
	statuses, types := picklists(t, c)
	tests := []struct {
		name, search, status, typ string
	}{
		{name: "everything"},
		{name: "text", search: "an"},
		{name: "text in upper case", search: "AN"},
		{name: "inactive", status: statuses["Inactive"]},
		{name: "not approved", status: statuses["Not-Approved"]},
		{name: "vendors", typ: types["Vendor"]},
		{name: "active prospects", status: statuses["Active"], typ: types["Prospect"]},
		{name: "active clients named like r", search: "r", status: statuses["Active"], typ: types["Client"]},
		{name: "status and type by name", status: "inactive", typ: "CLIENT"},
		{name: "no match", search: "zzzz-no-such-company"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.SearchAccounts(context.Background(), psa.AccountQuery{Search: tt.search, Status: tt.status, Type: tt.typ, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			want := expectAccounts(srv, tt.search, tt.status, tt.typ, statuses, types)
			if d := cmp.Diff(want, got.Items, cmpopts.EquateEmpty()); d != "" || got.NextCursor != "" {
				t.Errorf("accounts (-want +got):\n%s\nnext cursor %q", d, got.NextCursor)
			}
			if tt.name != "no match" && len(want) == 0 {
				t.Errorf("the seed has no company for %q; the case tests nothing", tt.name)
			}
		})
	}
}

// TestConditionsEscaping: names with quotes, backslashes, ampersands,
// percent signs and grammar words survive the trip through conditions and
// URL encoding. A % or _ in the search text stays a wildcard (ConnectWise
// has no documented escape), so those searches may also find others.
func TestConditionsEscaping(t *testing.T) {
	srv, c, _ := setup(t, sandbox.Options{Seed: 31, Orgs: []string{"Alpha"}})
	statuses, types := picklists(t, c)
	names := []string{`Quote "Q" Corp`, `Back\slash Ltd`, `Smith & Sons Plumbing`, `100% Uptime LLC`, `100 Percent Partners`,
		`A+ Tutoring`, `This or That (Holdings)`, `O'Brien & Co`, `Under_score Co`, `#1 Pizza`, `Ünïcode Straße GmbH`}
	for _, n := range names {
		if _, err := c.CreateAccount(context.Background(), psa.NewAccount{Name: n}); err != nil {
			t.Fatalf("create %q: %v", n, err)
		}
	}
	tests := []struct {
		search string
		must   []string // names the result must include
	}{
		{`"Q"`, []string{`Quote "Q" Corp`}},
		{`k\s`, []string{`Back\slash Ltd`}},
		{`\`, []string{`Back\slash Ltd`}},
		{`h & S`, []string{`Smith & Sons Plumbing`}},
		{`A+`, []string{`A+ Tutoring`}},
		{`or That (`, []string{`This or That (Holdings)`}},
		{`O'Brien`, []string{`O'Brien & Co`}},
		{`#1`, []string{`#1 Pizza`}},
		{`straße`, []string{`Ünïcode Straße GmbH`}},
		{`100%`, []string{`100% Uptime LLC`, `100 Percent Partners`}}, // % is a wildcard
		{`r_s`, []string{`Under_score Co`}},                           // _ is a wildcard
	}
	for _, tt := range tests {
		t.Run(tt.search, func(t *testing.T) {
			got, err := c.SearchAccounts(context.Background(), psa.AccountQuery{Search: tt.search, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			want := expectAccounts(srv, tt.search, "", "", statuses, types)
			if d := cmp.Diff(want, got.Items); d != "" {
				t.Errorf("accounts (-want +got):\n%s", d)
			}
			for _, m := range tt.must {
				if !slices.ContainsFunc(got.Items, func(a psa.Account) bool { return a.Name == m }) {
					t.Errorf("result lacks %q", m)
				}
			}
		})
	}
}

// TestPaging: listings follow Link rel="next" across pages, in both paging
// modes, and fall back to numbered pages where forward-only is ignored.
func TestPaging(t *testing.T) {
	srv, seeder, _ := setup(t, sandbox.Options{Seed: 41, OrgCount: 30})
	ctx := context.Background()
	var made []psa.Account
	for i := range 8 {
		a, err := seeder.CreateAccount(ctx, psa.NewAccount{Name: fmt.Sprintf("Duplicate %d", i), ExternalRef: "dup-ref"})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, a)
	}
	paging := func(forward bool, size int) *connectwise.Client {
		cfg := clientConfig(srv, &sleeps{})
		cfg.PageSize, cfg.ForwardOnly = size, forward
		return newClient(t, cfg)
	}

	for _, forward := range []bool{false, true} {
		t.Run(fmt.Sprintf("find by reference, forward-only %v", forward), func(t *testing.T) {
			c := paging(forward, 3)
			before := len(srv.Requests())
			var got []psa.Account
			var err error
			n := requestsOf(c, func() { got, err = c.FindAccountsByExternalRef(ctx, "dup-ref") })
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(made, got); d != "" || n != 3 {
				t.Errorf("accounts (-want +got):\n%s\nrequests %d, want 3", d, n)
			}
			key := "page"
			if forward {
				key = "pageId"
			}
			for i, r := range srv.Requests()[before+1:] {
				if r.Query.Get(key) == "" || r.Query.Get("pageSize") != "3" {
					t.Errorf("request %d query %v lacks %s and pageSize=3", i+2, r.Query, key)
				}
			}
		})
	}

	t.Run("forward-only ignored by the audit trail", func(t *testing.T) {
		c := paging(true, 2)
		tk, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: made[0].ID, Summary: "Paging", Description: "first note", Board: psa.NamedRef{ID: "1"}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := c.AddTicketNote(ctx, tk.ID, psa.Note{Text: fmt.Sprint("note ", i)}); err != nil {
				t.Fatal(err)
			}
		}
		// Ticket 1; notes (4, keyset) 2; audit trail (4 entries): one
		// forward-only page without a link, then numbered pages 1 and 2.
		var touched bool
		n := requestsOf(c, func() { touched, err = c.TicketTouched(ctx, tk.ID) })
		if err != nil || touched || n != 6 {
			t.Errorf("TicketTouched = %v, %v with %d requests; want false, nil with 6", touched, err, n)
		}
	})

	t.Run("search cursor", func(t *testing.T) {
		all, err := seeder.SearchAccounts(ctx, psa.AccountQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var got []psa.Account
		cursor, pages := "", 0
		for {
			p, err := seeder.SearchAccounts(ctx, psa.AccountQuery{Limit: 4, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			got, pages = append(got, p.Items...), pages+1
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if d := cmp.Diff(all.Items, got); d != "" || pages != (len(all.Items)+3)/4 {
			t.Errorf("paged search (-want +got):\n%s\n%d pages for %d accounts", d, pages, len(all.Items))
		}
	})

	t.Run("members one per page", func(t *testing.T) {
		c := paging(false, 1)
		var got []psa.Member
		var err error
		n := requestsOf(c, func() { got, err = c.ListMembers(ctx) })
		if err != nil || len(got) != 7 || n != 7 {
			t.Errorf("ListMembers = %d members, %v with %d requests; want 7 in 7", len(got), err, n)
		}
	})
}

// TestConditionBuilders pins the query text the client sends.
func TestConditionBuilders(t *testing.T) {
	tests := []struct {
		name string
		got  connectwise.Cond
		want string
	}{
		{"plain", connectwise.Eq("name", "Acme"), `name="Acme"`},
		{"quote and backslash", connectwise.Eq("name", `Say "hi" \ bye`), `name="Say \"hi\" \\ bye"`},
		{"number", connectwise.EqInt("status/id", 3), `status/id=3`},
		{"bool", connectwise.EqBool("deletedFlag", false), `deletedFlag=false`},
		{"contains", connectwise.Contains("name", `50% "off"`), `name like "%50% \"off\"%"`},
		{"and skips empty", connectwise.And("", connectwise.EqInt("id", 1), ""), `id=1`},
		{"or is parenthesized", connectwise.And(connectwise.EqBool("deletedFlag", false), connectwise.Or(connectwise.Contains("name", "a"), connectwise.Contains("identifier", "a"))),
			`deletedFlag=false and (name like "%a%" or identifier like "%a%")`},
		{"single or operand", connectwise.Or(connectwise.Eq("a", "b")), `a="b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got) != tt.want {
				t.Errorf("got %s, want %s", tt.got, tt.want)
			}
		})
	}
	if got := connectwise.DeriveIdentifier("Müller Maschinenbau GmbH & Co. KG"); got != "MULLERMASCHINENBAUGMBHCOK" {
		t.Errorf("DeriveIdentifier = %q", got)
	}
}
