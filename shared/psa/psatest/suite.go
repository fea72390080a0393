package psatest

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/internal/conformance"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// missingID is an id no sandbox ever issued.
const missingID = "987654321"

// suite is one run of the suite.
type suite struct {
	h    Harness
	f    Fixture
	caps map[Capability]bool
	log  *conformance.Errors
	env  *Env
	c    recorded // env.Client, recorded
}

// RunT runs the suite on t, which may be a recorder (see the package's
// meta-tests).
func RunT(t T, h Harness) {
	t.Helper()
	if h.Name == "" || h.Open == nil {
		t.Fatalf("the harness needs a Name and an Open function")
	}
	for _, pair := range [][2]string{h.AccountStatuses, h.AccountTypes} {
		if pair[0] == "" || pair[1] == "" || strings.EqualFold(pair[0], pair[1]) {
			t.Fatalf("the harness must name two different account statuses and two types, got %q", pair)
		}
	}
	s := &suite{h: h, f: newFixture(h), caps: map[Capability]bool{}, log: &conformance.Errors{}}
	for _, c := range h.Capabilities {
		if !slices.Contains(AllCapabilities, c) {
			t.Fatalf("unknown capability %q", c)
		}
		s.caps[c] = true
	}
	s.env = s.open(t)
	s.c = recorded{raw: s.env.Client, log: s.log}

	t.Run("the connection test and account statuses and types", s.picklists)
	t.Run("account search pages to the last page", s.searchPaging)
	t.Run("account search filters by status and type", s.searchFilters)
	t.Run("accounts are read by id", s.getAccount)
	t.Run("locations list to the last page and are created", s.locations)
	t.Run("members list to the last page", s.members)
	t.Run("ticket boards, priorities, statuses and types are listed", s.ticketPicklists)
	t.Run("accounts are found by our reference", s.accountsByRef)
	t.Run("accounts are created", s.createAccount)
	t.Run("accounts created since a time", s.recentAccounts)
	t.Run("assets are found by our reference", s.assetsByRef)
	t.Run("serial lookups match whole real serials only", s.serials)
	t.Run("an account's assets list to the last page", s.listAssets)
	t.Run("assets round-trip every field", s.assetRoundTrip)
	t.Run("ticket lifecycle", s.tickets)
	t.Run("rejected credentials", func(t T) {
		e := s.open(t)
		bad := recorded{raw: e.BadCredentials, log: s.log}
		conformance.AuthSuite(t, conformance.AuthProbe{
			Test:     bad.TestConnection,
			Read:     func(ctx context.Context) error { _, err := bad.GetAccount(ctx, e.AccountIDs[0]); return err },
			Reason:   h.AuthFailureReason,
			Secrets:  e.Secrets,
			Requests: e.BadRequests,
		})
	})
	t.Run("faults", func(t T) {
		conformance.FaultSuite(t, s.f.AttemptTimeout, func(t T) conformance.Probe {
			e := s.open(t)
			c := recorded{raw: e.Client, log: s.log}
			return conformance.Probe{
				Transport: conformance.Transport{Faults: e.Faults, Requests: e.Requests, Waits: e.Waits},
				Read:      func(ctx context.Context) error { _, err := c.GetAccount(ctx, e.AccountIDs[0]); return err },
			}
		})
	})
	t.Run("no error carries a credential", func(t T) { s.log.CheckRedaction(t, 10) })
}

// open starts a fresh sandbox through the harness and checks the Env.
func (s *suite) open(t T) *Env {
	t.Helper()
	e := s.h.Open(t, s.f)
	switch {
	case e == nil || e.Client == nil || e.Other == nil || e.BadCredentials == nil:
		t.Fatalf("the harness returned an Env without Client, Other or BadCredentials")
	case len(e.AccountIDs) != len(s.f.Accounts) || len(e.AssetIDs) != len(s.f.Assets):
		t.Fatalf("the harness seeded %d accounts and %d assets, the fixture has %d and %d", len(e.AccountIDs), len(e.AssetIDs), len(s.f.Accounts), len(s.f.Assets))
	case len(e.Secrets) == 0:
		t.Fatalf("the harness named no secret (Env.Secrets)")
	}
	s.log.Secrets(e.Secrets...)
	return e
}

// gate checks capability c: when declared, supported runs; otherwise the
// client must answer probe with the documented "not supported"
// (apperr.NotImplemented, or no such role at all).
func (s *suite) gate(t T, c Capability, supported func(t T), probe func() error) {
	t.Helper()
	if s.caps[c] {
		supported(t)
		return
	}
	err := probe()
	if !apperr.Is(err, apperr.NotImplemented) {
		t.Fatalf("%s does not declare %s, but the client answered %v; declare the capability or answer apperr.NotImplemented", s.h.Name, c, err)
	}
	t.Logf("%s: not supported by %s (answers %v)", c, s.h.Name, err)
}

// names returns the accounts' names, sorted.
func names(as []psa.Account) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Name
	}
	slices.Sort(out)
	return out
}

// fixtureNames returns the names of the fixture accounts keep selects.
func (s *suite) fixtureNames(keep func(i int, a FixtureAccount) bool) []string {
	var out []string
	for i, a := range s.f.Accounts {
		if keep(i, a) {
			out = append(out, a.Name)
		}
	}
	slices.Sort(out)
	return out
}

// withPrefix keeps the fixture's accounts (the sandbox may hold others).
func withPrefix(as []psa.Account, p string) []psa.Account {
	var out []psa.Account
	for _, a := range as {
		if strings.HasPrefix(a.Name, p) {
			out = append(out, a)
		}
	}
	return out
}

// searchAll pages through a search to its end, checking every page.
func (s *suite) searchAll(t T, q psa.AccountQuery) ([]psa.Account, int) {
	t.Helper()
	var all []psa.Account
	seen := map[string]bool{}
	pages := 0
	for {
		p, err := s.c.SearchAccounts(context.Background(), q)
		if err != nil {
			t.Fatalf("SearchAccounts(%+v): %v", q, err)
		}
		pages++
		if q.Limit > 0 && len(p.Items) > q.Limit {
			t.Errorf("a page holds %d accounts, more than the limit %d", len(p.Items), q.Limit)
		}
		all = append(all, p.Items...)
		if p.NextCursor == "" {
			return all, pages
		}
		if seen[p.NextCursor] || pages > 100 {
			t.Fatalf("the search does not end: cursor %q came back after %d pages", p.NextCursor, pages)
		}
		seen[p.NextCursor] = true
		q.Cursor = p.NextCursor
	}
}

func (s *suite) picklists(t T) {
	ctx := context.Background()
	if err := s.c.TestConnection(ctx); err != nil {
		t.Fatalf("TestConnection with good credentials: %v", err)
	}
	for _, pl := range []struct {
		what string
		list func(context.Context) ([]psa.NamedRef, error)
		want [2]string
	}{
		{"statuses", s.c.ListAccountStatuses, s.h.AccountStatuses},
		{"types", s.c.ListAccountTypes, s.h.AccountTypes},
	} {
		got, err := pl.list(ctx)
		if err != nil {
			t.Fatalf("list account %s: %v", pl.what, err)
		}
		for _, name := range pl.want {
			r, ok := findRef(got, name)
			if !ok || r.ID == "" {
				t.Errorf("account %s %v lack %q with an id", pl.what, got, name)
			}
		}
	}
}

// findRef finds a picklist entry by name, case-insensitively.
func findRef(refs []psa.NamedRef, name string) (psa.NamedRef, bool) {
	for _, r := range refs {
		if strings.EqualFold(strings.TrimSpace(r.Name), name) {
			return r, true
		}
	}
	return psa.NamedRef{}, false
}

func (s *suite) searchPaging(t T) {
	n := len(s.f.Accounts)
	got, pages := s.searchAll(t, psa.AccountQuery{Search: strings.ToLower(prefix) + " account", Limit: s.f.PageSize})
	want := s.fixtureNames(func(int, FixtureAccount) bool { return true })
	if d := gocmp.Diff(want, names(got)); d != "" {
		t.Errorf("search for the fixture's %d accounts with pages of %d (-want +got):\n%s", n, s.f.PageSize, d)
	}
	if least := (n + s.f.PageSize - 1) / s.f.PageSize; pages < least {
		t.Errorf("%d accounts came in %d pages of at most %d; a search that stops early loses accounts", n, pages, s.f.PageSize)
	}

	// Part of a name, in another case: every answer contains it.
	part := "ACCOUNT 05"
	got, _ = s.searchAll(t, psa.AccountQuery{Search: part, Limit: s.f.PageSize})
	for _, a := range got {
		if !strings.Contains(strings.ToLower(a.Name+" "+a.Identifier), strings.ToLower(part)) {
			t.Errorf("search %q returned %q", part, a.Name)
		}
	}
	if d := gocmp.Diff([]string{s.f.Accounts[4].Name}, names(withPrefix(got, prefix))); d != "" {
		t.Errorf("search %q (-want +got):\n%s", part, d)
	}

	// Quotes, ampersands, apostrophes, backslashes and accents.
	for _, part := range []string{`"Q" & O'Brien`, `\ söhne`} {
		got, _ = s.searchAll(t, psa.AccountQuery{Search: part, Limit: s.f.PageSize})
		if d := gocmp.Diff([]string{s.f.Accounts[specialAccount].Name}, names(withPrefix(got, prefix))); d != "" {
			t.Errorf("search %q (-want +got):\n%s", part, d)
		}
	}

	if _, err := s.c.SearchAccounts(context.Background(), psa.AccountQuery{Search: prefix, Cursor: "not-a-cursor"}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("a cursor the listing never returned: error = %v, want Invalid", err)
	}
}

func (s *suite) searchFilters(t T) {
	ctx := context.Background()
	statuses, err := s.c.ListAccountStatuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	types, err := s.c.ListAccountTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := func(refs []psa.NamedRef, name string) string {
		r, ok := findRef(refs, name)
		if !ok {
			t.Fatalf("no %q among %v", name, refs)
		}
		return r.ID
	}
	search := strings.ToLower(prefix) + " account"
	for _, st := range s.h.AccountStatuses {
		for _, ty := range append([]string{""}, s.h.AccountTypes[:]...) {
			q := psa.AccountQuery{Search: search, Limit: s.f.PageSize, Status: id(statuses, st)}
			if ty != "" {
				q.Type = id(types, ty)
			}
			got, _ := s.searchAll(t, q)
			want := s.fixtureNames(func(i int, a FixtureAccount) bool {
				return a.Status == st && (ty == "" || a.Type == ty)
			})
			if d := gocmp.Diff(want, names(got)); d != "" {
				t.Errorf("status %q, type %q (-want +got):\n%s", st, ty, d)
			}
			for _, a := range got {
				if !strings.EqualFold(a.Status.Name, st) || (ty != "" && !strings.EqualFold(a.Type.Name, ty)) {
					t.Errorf("status %q, type %q filter returned %+v", st, ty, a)
				}
			}
		}
	}
	for _, ty := range s.h.AccountTypes {
		got, _ := s.searchAll(t, psa.AccountQuery{Search: search, Limit: s.f.PageSize, Type: id(types, ty)})
		want := s.fixtureNames(func(_ int, a FixtureAccount) bool { return a.Type == ty })
		if d := gocmp.Diff(want, names(got)); d != "" {
			t.Errorf("type %q (-want +got):\n%s", ty, d)
		}
	}
}

func (s *suite) getAccount(t T) {
	ctx := context.Background()
	for i, fa := range s.f.Accounts {
		got, err := s.c.GetAccount(ctx, s.env.AccountIDs[i])
		if err != nil {
			t.Errorf("GetAccount(%s): %v", s.env.AccountIDs[i], err)
			continue
		}
		if got.ID != s.env.AccountIDs[i] || got.Name != fa.Name || !strings.EqualFold(got.Status.Name, fa.Status) ||
			!strings.EqualFold(got.Type.Name, fa.Type) || got.Status.ID == "" || got.Type.ID == "" {
			t.Errorf("GetAccount(%s) = %+v, want %q with status %q and type %q (ids set)", s.env.AccountIDs[i], got, fa.Name, fa.Status, fa.Type)
		}
	}
	for _, id := range []string{missingID, "not-an-id"} {
		if _, err := s.c.GetAccount(ctx, id); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("GetAccount(%q) error = %v, want NotFound", id, err)
		}
	}
}

func (s *suite) locations(t T) {
	ctx := context.Background()
	first, second := s.env.AccountIDs[0], s.env.AccountIDs[1]
	got, err := s.c.ListLocations(ctx, first)
	if err != nil {
		t.Fatalf("ListLocations(%s): %v", first, err)
	}
	count := map[string]int{}
	ids := map[string]bool{}
	for _, l := range got {
		count[l.Name]++
		if l.AccountID != first || l.ID == "" || ids[l.ID] {
			t.Errorf("location %+v: want a unique id and account %s", l, first)
		}
		ids[l.ID] = true
	}
	for _, name := range s.f.Accounts[0].Locations {
		if count[name] != 1 {
			t.Errorf("location %q listed %d times, want once (%d locations with pages of %d)", name, count[name], len(s.f.Accounts[0].Locations), s.f.PageSize)
		}
	}
	other, err := s.c.ListLocations(ctx, second)
	if err != nil {
		t.Fatalf("ListLocations(%s): %v", second, err)
	}
	if !slices.ContainsFunc(other, func(l psa.Location) bool { return l.Name == "QF Depot" }) ||
		slices.ContainsFunc(other, func(l psa.Location) bool { return strings.HasPrefix(l.Name, "QF Site") }) {
		t.Errorf("locations of the second account = %+v, want QF Depot and none of the first account's", other)
	}

	created, err := s.c.CreateLocation(ctx, second, psa.NewLocation{Name: "QF Annex"})
	if err != nil {
		t.Fatalf("CreateLocation: %v", err)
	}
	if created.ID == "" || created.Name != "QF Annex" || created.AccountID != second {
		t.Errorf("CreateLocation = %+v, want QF Annex with an id in account %s", created, second)
	}
	again, err := s.c.ListLocations(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(again, created) {
		t.Errorf("locations after the create = %+v, want %+v among them", again, created)
	}
	if _, err := s.c.CreateLocation(ctx, second, psa.NewLocation{Name: " "}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("CreateLocation without a name: error = %v, want Invalid", err)
	}
	if _, err := s.c.ListLocations(ctx, missingID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("ListLocations of a missing account: error = %v, want NotFound", err)
	}
}

// ticketPicklists checks psa.TicketPicklists: every list holds the
// harness's ticket default (by id or name), and a missing board is NotFound
// or an empty list, never another board's values.
func (s *suite) ticketPicklists(t T) {
	ctx := context.Background()
	p, ok := s.env.Client.(psa.TicketPicklists)
	s.gate(t, TicketsPicklists, func(t T) {
		if !ok {
			t.Fatalf("%s declares %s but its client does not implement psa.TicketPicklists", s.h.Name, TicketsPicklists)
		}
		d := s.h.TicketDefaults
		holds := func(what string, list []psa.NamedRef, err error, want psa.NamedRef) {
			t.Helper()
			if err != nil {
				t.Errorf("listing %s: %v", what, err)
				return
			}
			if len(list) == 0 {
				t.Errorf("%s: empty list", what)
				return
			}
			for _, r := range list {
				if r.ID == "" || strings.TrimSpace(r.Name) == "" {
					t.Errorf("%s: entry %+v lacks an id or a name", what, r)
				}
			}
			if want.IsZero() {
				return
			}
			for _, r := range list {
				if (want.ID != "" && r.ID == want.ID) || (want.ID == "" && strings.EqualFold(r.Name, want.Name)) {
					return
				}
			}
			t.Errorf("%s = %+v, want %+v among them", what, list, want)
		}
		boards, err := p.ListBoards(ctx)
		holds("boards", boards, err, d.Board)
		prios, err := p.ListPriorities(ctx)
		holds("priorities", prios, err, d.Priority)
		board := d.Board
		if board.IsZero() && len(boards) > 0 {
			board = boards[0]
		}
		sts, err := p.ListTicketStatuses(ctx, board)
		holds("statuses of board "+board.Name+board.ID, sts, err, d.Status)
		if !d.Type.IsZero() {
			types, err := p.ListTicketTypes(ctx, board)
			holds("types of board "+board.Name+board.ID, types, err, d.Type)
		}
		missing := psa.NamedRef{ID: missingID}
		if got, err := p.ListTicketStatuses(ctx, missing); err == nil && len(got) > 0 {
			t.Errorf("statuses of a missing board = %+v, want NotFound or none", got)
		} else if err != nil && !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Invalid) {
			t.Errorf("statuses of a missing board: error = %v, want NotFound", err)
		}
	}, func() error {
		if ok {
			_, err := p.ListBoards(ctx)
			return err
		}
		return errNoRole("psa.TicketPicklists")
	})
}

func (s *suite) members(t T) {
	s.gate(t, MembersList, func(t T) {
		got, err := s.c.ListMembers(context.Background())
		if err != nil {
			t.Fatalf("ListMembers: %v", err)
		}
		for i, m := range s.f.Members {
			var found []psa.Member
			for _, g := range got {
				if strings.EqualFold(g.Email, m.Email) {
					found = append(found, g)
				}
			}
			// Every member is listed, inactive ones too (Active false):
			// importing users refuses them with the reason, a re-import
			// shows members that became inactive.
			switch {
			case len(found) != 1:
				t.Errorf("member %s listed %d times, want once (%d members with pages of %d)", m.Identifier, len(found), len(got), s.f.PageSize)
			case found[0].Active == m.Inactive:
				t.Errorf("member %s = %+v, want active %v", m.Identifier, found[0], !m.Inactive)
			case found[0].Name != m.Name() || found[0].ID == "":
				t.Errorf("member %s = %+v, want name %q and an id", m.Identifier, found[0], m.Name())
			case len(s.env.MemberIDs) > i && s.env.MemberIDs[i] != "" && found[0].ID != s.env.MemberIDs[i]:
				t.Errorf("member %s has id %s, the sandbox gave %s", m.Identifier, found[0].ID, s.env.MemberIDs[i])
			}
		}
	}, func() error { _, err := s.c.ListMembers(context.Background()); return err })
}

func (s *suite) accountsByRef(t T) {
	ctx := context.Background()
	s.gate(t, AccountsFindByRef, func(t T) {
		for _, tc := range []struct {
			ref  string
			want []string
		}{
			{s.f.Accounts[0].ExternalRef, []string{s.env.AccountIDs[0]}},
			{s.f.Accounts[1].ExternalRef, []string{s.env.AccountIDs[1]}},
			{s.f.Accounts[specialAccount].ExternalRef, []string{s.env.AccountIDs[specialAccount]}},
			{"qf-org-0", nil}, // a prefix of both
			{"qf-org-unknown", nil},
			{"", nil},
		} {
			got, err := s.c.FindAccountsByExternalRef(ctx, tc.ref)
			if err != nil {
				t.Errorf("FindAccountsByExternalRef(%q): %v", tc.ref, err)
				continue
			}
			var ids []string
			for _, a := range got {
				ids = append(ids, a.ID)
			}
			if d := gocmp.Diff(tc.want, ids, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("FindAccountsByExternalRef(%q) (-want +got):\n%s", tc.ref, d)
			}
		}
	}, func() error { _, err := s.c.FindAccountsByExternalRef(ctx, s.f.Accounts[0].ExternalRef); return err })
}

func (s *suite) createAccount(t T) {
	ctx := context.Background()
	s.gate(t, AccountsCreate, func(t T) {
		na := psa.NewAccount{
			Name:        prefix + " Created 01",
			Status:      psa.NamedRef{Name: s.h.AccountStatuses[1]},
			Type:        psa.NamedRef{Name: s.h.AccountTypes[1]},
			ExternalRef: "qf-org-created",
		}
		a, err := s.c.CreateAccount(ctx, na)
		if err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
		if a.ID == "" || a.Name != na.Name || !strings.EqualFold(a.Status.Name, na.Status.Name) || !strings.EqualFold(a.Type.Name, na.Type.Name) {
			t.Errorf("CreateAccount = %+v, want %q with status %q and type %q", a, na.Name, na.Status.Name, na.Type.Name)
		}
		got, err := s.c.GetAccount(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := gocmp.Diff(a, got); d != "" {
			t.Errorf("GetAccount of the new account (-created +read):\n%s", d)
		}
		found, _ := s.searchAll(t, psa.AccountQuery{Search: strings.ToLower(prefix) + " created"})
		if !slices.ContainsFunc(found, func(x psa.Account) bool { return x.ID == a.ID }) {
			t.Errorf("search does not find the new account %s: %+v", a.ID, found)
		}
		if s.caps[AccountsFindByRef] {
			refs, err := s.c.FindAccountsByExternalRef(ctx, na.ExternalRef)
			if err != nil {
				t.Fatal(err)
			}
			if len(refs) != 1 || refs[0].ID != a.ID {
				t.Errorf("FindAccountsByExternalRef(%q) = %+v, want the new account %s: a create whose mapping was lost must be found", na.ExternalRef, refs, a.ID)
			}
		}
		if _, err := s.c.CreateAccount(ctx, psa.NewAccount{Name: "  "}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("CreateAccount without a name: error = %v, want Invalid", err)
		}
	}, func() error {
		_, err := s.c.CreateAccount(ctx, psa.NewAccount{Name: prefix + " Not Supported"})
		return err
	})
}

func (s *suite) recentAccounts(t T) {
	ctx := context.Background()
	s.gate(t, AccountsRecent, func(t T) {
		ids := func(as []psa.Account) map[string]bool {
			m := map[string]bool{}
			for _, a := range as {
				m[a.ID] = true
			}
			return m
		}
		got, err := s.c.AccountsCreatedSince(ctx, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatalf("AccountsCreatedSince: %v", err)
		}
		in := ids(got)
		for i, fa := range s.f.Accounts {
			id := s.env.AccountIDs[i]
			if fa.ExternalRef != "" && in[id] {
				t.Errorf("account %s carries our reference %q (rmmbridge created it) but is listed as new", id, fa.ExternalRef)
			}
			if fa.ExternalRef == "" && !in[id] {
				t.Errorf("account %s (%s) is missing from the accounts created since 2000", id, fa.Name)
			}
		}
		if !sortedByID(got) {
			t.Errorf("accounts are not ordered by id: %v", accountIDs(got))
		}
		later, err := s.c.AccountsCreatedSince(ctx, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(withPrefix(later, prefix)) != 0 {
			t.Errorf("accounts created after the next hour: %+v", later)
		}
		if !s.caps[AccountsCreate] {
			return
		}
		start := time.Now().Add(-time.Minute)
		plain, err := s.c.CreateAccount(ctx, psa.NewAccount{Name: prefix + " Recent 01"})
		if err != nil {
			t.Fatal(err)
		}
		ours, err := s.c.CreateAccount(ctx, psa.NewAccount{Name: prefix + " Recent 02", ExternalRef: "qf-org-recent"})
		if err != nil {
			t.Fatal(err)
		}
		got, err = s.c.AccountsCreatedSince(ctx, start)
		if err != nil {
			t.Fatal(err)
		}
		if in := ids(got); !in[plain.ID] || in[ours.ID] {
			t.Errorf("accounts created in the last minute = %v, want %s and not %s (ours)", accountIDs(got), plain.ID, ours.ID)
		}
	}, func() error { _, err := s.c.AccountsCreatedSince(ctx, time.Time{}); return err })
}

func accountIDs(as []psa.Account) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// sortedByID reports whether accounts are in id order (numeric ids
// compared as numbers).
func sortedByID(as []psa.Account) bool {
	return slices.IsSortedFunc(as, func(a, b psa.Account) int {
		x, errA := strconv.Atoi(a.ID)
		y, errB := strconv.Atoi(b.ID)
		if errA == nil && errB == nil {
			return cmp.Compare(x, y)
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func assetIDs(as []psa.Asset) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	slices.Sort(out)
	return out
}

func (s *suite) assetsByRef(t T) {
	ctx := context.Background()
	s.gate(t, AssetsFindByRef, func(t T) {
		for _, tc := range []struct {
			ref  string
			want []int
		}{
			{fixtureAsset, []int{assetRef}},
			{"qf-dev-00", nil}, // a prefix
			{"qf-dev-unknown", nil},
			{"", nil},
		} {
			got, err := s.c.FindAssetsByExternalRef(ctx, tc.ref)
			if err != nil {
				t.Errorf("FindAssetsByExternalRef(%q): %v", tc.ref, err)
				continue
			}
			if d := gocmp.Diff(s.assetIDs(tc.want), assetIDs(got), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("FindAssetsByExternalRef(%q) (-want +got):\n%s", tc.ref, d)
			}
			for _, a := range got {
				fa := s.f.Assets[tc.want[0]]
				if a.Name != fa.Name || a.ExternalRef != fa.ExternalRef || a.AccountID != s.env.AccountIDs[fa.Account] {
					t.Errorf("asset %+v, want %s of account %s with reference %s", a, fa.Name, s.env.AccountIDs[fa.Account], fa.ExternalRef)
				}
			}
		}
	}, func() error { _, err := s.c.FindAssetsByExternalRef(ctx, fixtureAsset); return err })
}

// assetIDs returns the sandbox ids of fixture assets, sorted.
func (s *suite) assetIDs(idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, s.env.AssetIDs[i])
	}
	slices.Sort(out)
	return out
}

func (s *suite) serials(t T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, serial string
		want         []int
	}{
		{"a unique serial", "QFSN-0001", []int{assetRef}},
		{"a serial in another case", "qfsn-0001", []int{assetRef}},
		{"a serial two assets share: both, not the longer look-alike", "QFSN-0002", []int{assetTieA, assetTieB}},
		{"a prefix of real serials", "QFSN-000", nil},
		{"a firmware placeholder", s.f.Assets[assetOEM].SerialNumber, nil},
		{"zeros", s.f.Assets[assetZeroes].SerialNumber, nil},
		{"empty", "", nil},
	} {
		got, err := s.c.FindAssetsBySerial(ctx, tc.serial)
		if err != nil {
			t.Errorf("%s: FindAssetsBySerial(%q): %v", tc.name, tc.serial, err)
			continue
		}
		if d := gocmp.Diff(s.assetIDs(tc.want), assetIDs(got), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s: FindAssetsBySerial(%q) (-want +got):\n%s", tc.name, tc.serial, d)
		}
		for _, a := range got {
			if !strings.EqualFold(a.SerialNumber, tc.serial) {
				t.Errorf("%s: asset %s has serial %q", tc.name, a.ID, a.SerialNumber)
			}
		}
	}
	if got, err := s.c.FindAssetsBySerial(ctx, s.f.Assets[assetLonger].SerialNumber); err != nil || len(got) != 1 || got[0].ID != s.env.AssetIDs[assetLonger] {
		t.Errorf("FindAssetsBySerial(%q) = %+v, %v; want the one asset", s.f.Assets[assetLonger].SerialNumber, got, err)
	}
}

func (s *suite) assetRoundTrip(t T) {
	ctx := context.Background()
	acct := s.env.AccountIDs[0]
	locs, err := s.c.ListLocations(ctx, acct)
	if err != nil || len(locs) == 0 {
		t.Fatalf("ListLocations(%s) = %v, %v", acct, locs, err)
	}
	ignore := cmpopts.IgnoreFields(psa.Asset{}, s.h.UnstoredAssetFields...)
	in := psa.Asset{
		AccountID: acct, LocationID: locs[0].ID, Name: "QF-RT-001", ExternalRef: "qf-dev-rt",
		SerialNumber: "QFSN-RT-1", OS: "Windows Server 2022 Standard 21H2 (20348)", Manufacturer: s.h.AssetManufacturer,
		Model: "PowerEdge R650", LastLoggedInUser: `QF\administrator`, LastCheckIn: time.Date(2025, 5, 4, 3, 2, 1, 0, time.UTC),
		IPAddress: "10.11.12.13", MACAddress: "00:11:22:33:44:55", TotalBytes: 1_022_999_998_464, FreeBytes: 411_000_000_000,
		Volumes: "C: 952.7 GiB (382.8 GiB free, OS)", DeviceType: "server",
	}
	created, err := s.c.CreateAsset(ctx, in)
	if err != nil {
		t.Fatalf("CreateAsset: %v", err)
	}
	want := in
	want.ID = created.ID
	if created.ID == "" {
		t.Fatalf("CreateAsset returned no id: %+v", created)
	}
	if d := gocmp.Diff(want, created, ignore); d != "" {
		t.Errorf("CreateAsset (-want +got):\n%s", d)
	}
	got, err := s.c.GetAsset(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := gocmp.Diff(want, got, ignore); d != "" {
		t.Errorf("GetAsset after the create (-want +got):\n%s", d)
	}
	if s.caps[AssetsFindByRef] {
		byRef, err := s.c.FindAssetsByExternalRef(ctx, in.ExternalRef)
		if err != nil {
			t.Fatal(err)
		}
		if d := gocmp.Diff([]psa.Asset{want}, byRef, ignore); d != "" {
			t.Errorf("FindAssetsByExternalRef(%q) (-want +got):\n%s", in.ExternalRef, d)
		}
	}
	bySerial, err := s.c.FindAssetsBySerial(ctx, in.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	if d := gocmp.Diff([]psa.Asset{want}, bySerial, ignore); d != "" {
		t.Errorf("FindAssetsBySerial(%q) (-want +got):\n%s", in.SerialNumber, d)
	}

	upd := want
	upd.Name, upd.SerialNumber, upd.OS = "QF-RT-001B", "QFSN-RT-2", "Windows Server 2025 Standard 24H2 (26100)"
	upd.LastLoggedInUser, upd.IPAddress, upd.FreeBytes = `QF\jdoe`, "10.11.12.14", 399_000_000_000
	upd.Volumes, upd.LastCheckIn, upd.DeviceType = "C: 952.7 GiB (371.6 GiB free, OS)", in.LastCheckIn.Add(90*time.Minute), "workstation"
	updated, err := s.c.UpdateAsset(ctx, upd)
	if err != nil {
		t.Fatalf("UpdateAsset: %v", err)
	}
	if d := gocmp.Diff(upd, updated, ignore); d != "" {
		t.Errorf("UpdateAsset (-want +got):\n%s", d)
	}
	got, err = s.c.GetAsset(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := gocmp.Diff(upd, got, ignore); d != "" {
		t.Errorf("GetAsset after the update (-want +got):\n%s", d)
	}
	if old, err := s.c.FindAssetsBySerial(ctx, in.SerialNumber); err != nil || len(old) != 0 {
		t.Errorf("FindAssetsBySerial(old serial) = %+v, %v; want nothing after the update", old, err)
	}
	if _, err := s.c.GetAsset(ctx, missingID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("GetAsset(%s) error = %v, want NotFound", missingID, err)
	}
}

func (s *suite) newTicket(summary, ref string) psa.NewTicket {
	nt := s.h.TicketDefaults
	nt.AccountID, nt.AssetID = s.env.AccountIDs[0], s.env.AssetIDs[assetRef]
	nt.Summary, nt.Description, nt.ExternalRef = summary, "Raised by the conformance suite.", ref
	return nt
}

func (s *suite) tickets(t T) {
	ctx := context.Background()
	other := recorded{raw: s.env.Other, log: s.log}
	nt := s.newTicket(prefix+": disk C: is almost full", "qf-series-1")
	locs, err := s.c.ListLocations(ctx, nt.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range locs {
		if l.Name == s.f.Accounts[0].Locations[0] {
			nt.LocationID = l.ID
		}
	}
	if nt.LocationID == "" {
		t.Fatalf("no location %q among %+v", s.f.Accounts[0].Locations[0], locs)
	}
	tk, err := s.c.CreateTicket(ctx, nt)
	if err != nil {
		t.Fatalf("CreateTicket: %v", err)
	}
	if tk.ID == "" || tk.AccountID != nt.AccountID || tk.LocationID != nt.LocationID || tk.AssetID != nt.AssetID || tk.Summary != nt.Summary || tk.Closed {
		t.Errorf("CreateTicket = %+v, want an open ticket of account %s at location %s on asset %s", tk, nt.AccountID, nt.LocationID, nt.AssetID)
	}
	if nt.Board.Name != "" && !strings.EqualFold(tk.Board.Name, nt.Board.Name) {
		t.Errorf("ticket board = %+v, want %q", tk.Board, nt.Board.Name)
	}
	got, err := s.c.GetTicket(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tk.ID || got.AccountID != nt.AccountID || got.LocationID != nt.LocationID || got.AssetID != nt.AssetID || got.Summary != nt.Summary || got.Closed {
		t.Errorf("GetTicket = %+v, want %+v", got, tk)
	}

	long := strings.Repeat("Disk C: is almost full on the accounting server. ", 40)
	trunc, err := s.c.CreateTicket(ctx, s.newTicket(long, "qf-series-long"))
	if err != nil {
		t.Errorf("a %d-character summary: %v (the client truncates what the vendor cannot hold)", len(long), err)
	} else if trunc.Summary == "" || !strings.HasPrefix(long, strings.TrimSuffix(trunc.Summary, "…")) {
		t.Errorf("long summary became %q", trunc.Summary)
	}

	s.gate(t, TicketsFindByRef, func(t T) {
		for _, tc := range []struct {
			ref  string
			want []string
		}{{"qf-series-1", []string{tk.ID}}, {"qf-series-", nil}, {"qf-series-unknown", nil}, {"", nil}} {
			found, err := s.c.FindTicketsByExternalRef(ctx, tc.ref)
			if err != nil {
				t.Errorf("FindTicketsByExternalRef(%q): %v", tc.ref, err)
				continue
			}
			var ids []string
			for _, f := range found {
				ids = append(ids, f.ID)
			}
			if d := gocmp.Diff(tc.want, ids, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("FindTicketsByExternalRef(%q) (-want +got):\n%s", tc.ref, d)
			}
		}
	}, func() error { _, err := s.c.FindTicketsByExternalRef(ctx, "qf-series-1"); return err })

	touched := func(id string, want bool, why string) {
		t.Helper()
		got, err := s.c.TicketTouched(ctx, id)
		if err != nil {
			t.Errorf("TicketTouched(%s) %s: %v", id, why, err)
		} else if got != want {
			t.Errorf("TicketTouched(%s) = %v %s, want %v", id, got, why, want)
		}
	}
	if err := s.c.AddTicketNote(ctx, tk.ID, psa.Note{Text: "The alert fired again at 03:10.", Internal: true}); err != nil {
		t.Fatalf("AddTicketNote: %v", err)
	}
	touched(tk.ID, false, "after our own note")

	tk2, err := s.c.CreateTicket(ctx, s.newTicket(prefix+": backup failed", "qf-series-2"))
	if err != nil {
		t.Fatal(err)
	}
	touched(tk2.ID, false, "on a new ticket")
	if err := other.AddTicketNote(ctx, tk2.ID, psa.Note{Text: "Looking into it."}); err != nil {
		t.Fatalf("a technician's note (Env.Other): %v", err)
	}
	touched(tk2.ID, true, "after a technician's note")
	touched(tk.ID, false, "after another ticket was touched")

	if err := s.c.CloseTicket(ctx, tk.ID, "Cleared by rmmbridge: disk space recovered."); err != nil {
		t.Fatalf("CloseTicket: %v", err)
	}
	if got, err := s.c.GetTicket(ctx, tk.ID); err != nil || !got.Closed {
		t.Errorf("after CloseTicket: %+v, %v; want closed", got, err)
	}
	if err := s.c.CloseTicket(ctx, tk.ID, "again"); err != nil {
		t.Errorf("closing a closed ticket: %v, want no error", err)
	}
	touched(tk.ID, false, "after our own close")

	s.gate(t, TicketsReopen, func(t T) {
		if err := s.c.ReopenTicket(ctx, tk.ID); err != nil {
			t.Fatalf("ReopenTicket: %v", err)
		}
		if got, err := s.c.GetTicket(ctx, tk.ID); err != nil || got.Closed {
			t.Errorf("after ReopenTicket: %+v, %v; want open", got, err)
		}
		touched(tk.ID, false, "after our own reopen")
		if err := s.c.ReopenTicket(ctx, missingID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("ReopenTicket(%s) error = %v, want NotFound", missingID, err)
		}
	}, func() error { return s.c.ReopenTicket(ctx, tk.ID) })

	if _, err := s.c.GetTicket(ctx, missingID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("GetTicket(%s) error = %v, want NotFound", missingID, err)
	}
	if err := s.c.AddTicketNote(ctx, missingID, psa.Note{Text: "x"}); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("AddTicketNote(%s) error = %v, want NotFound", missingID, err)
	}
}

// listAssets checks psa.AssetLister: each fixture account's assets, paged
// to the end, are exactly its fixture assets, each once, with our
// reference and serial, equal to GetAsset's answer.
func (s *suite) listAssets(t T) {
	ctx := context.Background()
	al, ok := s.env.Client.(psa.AssetLister)
	s.gate(t, AssetsList, func(t T) {
		if !ok {
			t.Fatalf("%s declares %s but its client is no psa.AssetLister", s.h.Name, AssetsList)
		}
		for _, acct := range []int{0, 1, 2} {
			acctID := s.env.AccountIDs[acct]
			var want []int
			for i, fa := range s.f.Assets {
				if fa.Account == acct {
					want = append(want, i)
				}
			}
			var got []psa.Asset
			cursor, pages, seen := "", 0, map[string]bool{}
			for {
				p, err := al.ListAccountAssets(ctx, acctID, cursor)
				s.log.Add(err)
				if err != nil {
					t.Fatalf("ListAccountAssets(%s, %q): %v", acctID, cursor, err)
				}
				pages++
				if len(p.Items) > s.f.PageSize {
					t.Errorf("a page holds %d assets, more than the page size %d", len(p.Items), s.f.PageSize)
				}
				got = append(got, p.Items...)
				if p.NextCursor == "" {
					break
				}
				if seen[p.NextCursor] || pages > 100 {
					t.Fatalf("the listing does not end: cursor %q came back after %d pages", p.NextCursor, pages)
				}
				seen[p.NextCursor] = true
				cursor = p.NextCursor
			}
			if d := gocmp.Diff(s.assetIDs(want), assetIDs(got), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("assets of account %s (%d, pages of %d) (-want +got):\n%s", acctID, len(want), s.f.PageSize, d)
			}
			byID := map[string]psa.Asset{}
			for _, a := range got {
				byID[a.ID] = a
			}
			for _, i := range want {
				fa, a := s.f.Assets[i], byID[s.env.AssetIDs[i]]
				if a.ID == "" {
					continue
				}
				if a.Name != fa.Name || a.ExternalRef != fa.ExternalRef || a.SerialNumber != fa.SerialNumber || a.AccountID != acctID {
					t.Errorf("listed asset %+v, want %s of account %s with reference %q and serial %q", a, fa.Name, acctID, fa.ExternalRef, fa.SerialNumber)
				}
				live, err := s.c.GetAsset(ctx, a.ID)
				if err != nil {
					t.Errorf("GetAsset(%s): %v", a.ID, err)
					continue
				}
				if d := gocmp.Diff(live, a); d != "" {
					t.Errorf("asset %s: listed differs from GetAsset (-get +listed):\n%s", a.ID, d)
				}
			}
		}
		_, err := al.ListAccountAssets(ctx, s.env.AccountIDs[0], "not-a-cursor")
		s.log.Add(err)
		if !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a cursor the listing never returned: error = %v, want Invalid", err)
		}
	}, func() error {
		if !ok {
			return apperr.New(apperr.NotImplemented, "%s is no psa.AssetLister", s.h.Name)
		}
		_, err := al.ListAccountAssets(ctx, s.env.AccountIDs[0], "")
		return s.log.Add(err)
	})
}
