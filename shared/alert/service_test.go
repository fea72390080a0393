package alert_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// rig is the alert service over a real table in moto and in-memory
// vendors.
type rig struct {
	svc      *alert.Service
	store    *dynamostore.Store
	links    dynamostore.Alerts
	psa      *fakePSA
	assets   *fakeAssets
	accounts *fakeAccounts
	refresh  *fakeRefresh
	clients  alert.Clients
	sc       tenancy.Scope

	mu  sync.Mutex
	now time.Time
}

type rigOptions struct {
	settings connection.Settings
	reopens  bool // the PSA can reopen tickets
	// atomic runs the table in moto through scripts/moto-server, whose
	// DynamoDB requests run one at a time: races that rely on DynamoDB's
	// per-item atomicity need it (plain moto checks a condition on one
	// thread while another writes).
	atomic bool
}

func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	st, _ := newTable(t)
	if o.atomic {
		st, _ = newTableOn(t, motoserver.SafeForTest(t))
	}
	r := &rig{store: st, links: dynamostore.NewAlerts(st), psa: newFakePSA(), assets: newFakeAssets(), accounts: newFakeAccounts(),
		refresh: &fakeRefresh{}, sc: tenancy.Scope{TenantID: "t_demo", IntegrationID: "i_demo", Actor: "alert-worker"},
		now: t0.Add(time.Minute)}
	// Device 1001 was imported; organization 12 is mapped, site 34 to a location.
	r.assets.links["1001"] = alert.AssetRef{AssetID: "a-1001", AccountID: "acct-12", LocationID: "loc-34"}
	r.accounts.mappings["12"] = account.Mapping{OrganizationID: "12", AccountID: "acct-12", State: account.StateMapped,
		Sites: map[string]string{"34": "loc-34"}}
	var p psa.Client = r.psa.Client()
	if o.reopens {
		p = r.psa.Reopener()
	}
	r.clients = alert.Clients{
		Integration: connection.Integration{ID: "i_demo", TenantID: "t_demo", Settings: o.settings},
		RMM: newFakeRMM(t, []rmm.Organization{{ID: "12", Name: "Acme Dental"}, {ID: "13", Name: "Globex"}},
			rmm.Device{ID: "1009", OrganizationID: "13", SiteID: "77"}),
		PSA: p,
	}
	r.clients = withSync(r.clients, r.assets, r.accounts)
	r.svc = alert.NewService(r.links, r.assets, r.accounts, r.refresh, alert.Options{Now: r.clock, Logger: quiet})
	return r
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = r.now.Add(d)
}

// ev is an alert event of series on device 1001 of organization 12.
func ev(id, series string, state rmm.AlertState, at time.Duration) rmm.Alert {
	return rmm.Alert{SeriesID: series, ActivityID: id, DeviceID: "1001", DeviceName: "PC-1001", OrganizationID: "12", SiteID: "34",
		State: state, Severity: rmm.SeverityMajor, Priority: "high", Code: "vmm_cond_memory_usage_ge",
		Subject: "Memory usage high on PC-1001", Message: "Memory utilization 93% is above the 90% threshold",
		SourceName: "Memory utilization above 90%", Values: map[string]string{"threshold": "90", "value": "93", "unit": "%"},
		OccurredAt: t0.Add(at)}
}

func trig(id, series string, at time.Duration) rmm.Alert {
	return ev(id, series, rmm.AlertTriggered, at)
}
func reset(id, series string, at time.Duration) rmm.Alert { return ev(id, series, rmm.AlertReset, at) }

func (r *rig) apply(t testing.TB, a rmm.Alert) alert.Result {
	t.Helper()
	res, err := r.svc.Apply(context.Background(), r.sc, r.clients, a)
	if err != nil {
		t.Fatalf("apply %s %s: %v", a.ActivityID, a.State, err)
	}
	return res
}

func (r *rig) link(t testing.TB, series string) alert.Link {
	t.Helper()
	l, err := r.links.GetLink(context.Background(), r.sc, series)
	if err != nil {
		t.Fatalf("get link %s: %v", series, err)
	}
	return l
}

// step is one event and what applying it must do.
type step struct {
	event rmm.Alert
	want  alert.Outcome
	// before runs first (a human touches or closes the ticket, time passes).
	before func(r *rig)
}

func (r *rig) run(t *testing.T, steps []step) []alert.Result {
	t.Helper()
	var out []alert.Result
	for i, s := range steps {
		if s.before != nil {
			s.before(r)
		}
		res := r.apply(t, s.event)
		if res.Outcome != s.want {
			t.Fatalf("step %d (%s %s): outcome %s, want %s (%s)", i, s.event.ActivityID, s.event.State, res.Outcome, s.want, res.Reason)
		}
		out = append(out, res)
	}
	return out
}

func TestTriggerRepeatResetRetrigger(t *testing.T) {
	r := newRig(t, rigOptions{settings: connection.Settings{ReopenWindowMinutes: 60}, reopens: true})
	res := r.run(t, []step{{event: trig("a1", "s1", 0), want: alert.Created}})
	first := res[0].TicketID
	res = append(res, r.run(t, []step{
		{event: trig("a2", "s1", time.Minute), want: alert.Noted},
		{event: trig("a3", "s1", 2*time.Minute), want: alert.Noted},
		{event: trig("a2", "s1", time.Minute), want: alert.Duplicate},   // a redelivered message
		{event: reset("a4", "s1", 10*time.Minute), want: alert.Closed},  // nobody touched it
		{event: trig("a5", "s1", 20*time.Minute), want: alert.Reopened}, // inside the 60-minute window
		{event: reset("a6", "s1", 30*time.Minute), want: alert.Noted, before: func(r *rig) { r.psa.Touch(first) }},
		{event: trig("a7", "s1", 4*time.Hour), want: alert.Noted},  // the touched ticket is still open
		{event: reset("a8", "s1", 5*time.Hour), want: alert.Noted}, // still touched
		// Closed by hand, outside the window: a new ticket.
		{event: trig("a9", "s1", 9*time.Hour), want: alert.Created, before: func(r *rig) { r.closeByHand(first) }},
		{event: trig("a10", "s1", 9*time.Hour+time.Minute), want: alert.Noted},
	})...)

	for i := 1; i <= 8; i++ {
		if res[i].TicketID != first {
			t.Errorf("step %d used ticket %q, want the first ticket %s", i, res[i].TicketID, first)
		}
	}
	second := res[9].TicketID
	if second == first || res[10].TicketID != second {
		t.Errorf("after a close outside the window: tickets %s then %s, want a new ticket kept for the repeat", second, res[10].TicketID)
	}
	t1, t2 := r.psa.Ticket(first), r.psa.Ticket(second)
	if len(r.psa.Tickets()) != 2 {
		t.Fatalf("%d tickets, want 2", len(r.psa.Tickets()))
	}
	wantNotes := []string{"occurrence 2", "occurrence 3", "cleared", "triggered again", "cleared", "triggered again", "cleared"}
	if len(t1.Notes) != len(wantNotes) {
		t.Fatalf("first ticket notes:\n%s\nwant %d", strings.Join(t1.Notes, "\n"), len(wantNotes))
	}
	for i, w := range wantNotes {
		if !strings.Contains(t1.Notes[i], w) {
			t.Errorf("note %d = %q, want it to mention %q", i, t1.Notes[i], w)
		}
	}
	if t1.Closes != 1 || t1.Reopens != 1 {
		t.Errorf("first ticket closed %d and reopened %d times, want 1 and 1", t1.Closes, t1.Reopens)
	}
	if t2.ExternalRef != "s1#2" || t1.ExternalRef != "s1" {
		t.Errorf("external refs %q, %q; want s1 and s1#2", t1.ExternalRef, t2.ExternalRef)
	}
	if len(t2.Notes) != 1 || !strings.Contains(t2.Notes[0], "occurrence 7") {
		t.Errorf("second ticket notes %q, want one repeat note (occurrence 7)", t2.Notes)
	}
	l := r.link(t, "s1")
	got := struct {
		State       alert.State
		Occurrences int
		TicketID    string
		Generation  int
		FirstSeen   time.Time
		LastSeen    time.Time
	}{l.State, l.Occurrences, l.TicketID, l.Generation, l.FirstSeenAt, l.LastSeenAt}
	want := got
	want.State, want.Occurrences, want.TicketID, want.Generation = alert.StateOpen, 7, second, 2
	want.FirstSeen, want.LastSeen = t0, t0.Add(9*time.Hour+time.Minute)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("link (-want +got):\n%s", diff)
	}
	// Every event but the duplicate wrote the ticket and asked for a refresh.
	if n := r.refresh.count(); n != 10 {
		t.Errorf("%d asset refreshes requested, want 10", n)
	}
	for _, m := range r.refresh.msgs {
		if m.DeviceID != "1001" || m.Reason != "alert" || m.TenantID != "t_demo" || m.IntegrationID != "i_demo" || m.JobID != "" {
			t.Errorf("refresh message %+v", m)
		}
	}
}

// closeByHand closes a ticket the way a technician would.
func (r *rig) closeByHand(id string) {
	r.psa.EditTicket(id, func(t *psafake.Ticket) { t.Closed, t.Touched = true, true })
}

func TestReopenWindow(t *testing.T) {
	tests := []struct {
		name        string
		reopens     bool
		window      int
		gap         time.Duration
		want        alert.Outcome
		tickets     int
		stillClosed bool
	}{
		{"inside the window, the PSA reopens", true, 60, 30 * time.Minute, alert.Reopened, 1, false},
		{"inside the window, the PSA cannot reopen: a note", false, 60, 30 * time.Minute, alert.Noted, 1, true},
		{"exactly at the window's end", true, 60, 60 * time.Minute, alert.Reopened, 1, false},
		{"after the window: a new ticket", true, 60, 61 * time.Minute, alert.Created, 2, false},
		{"no window: a new ticket", true, 0, time.Minute, alert.Created, 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{settings: connection.Settings{ReopenWindowMinutes: tc.window}, reopens: tc.reopens})
			res := r.run(t, []step{
				{event: trig("b1", "s", 0), want: alert.Created},
				{event: reset("b2", "s", 5*time.Minute), want: alert.Closed},
				{event: trig("b3", "s", 5*time.Minute+tc.gap), want: tc.want},
			})
			if got := len(r.psa.Tickets()); got != tc.tickets {
				t.Errorf("%d tickets, want %d", got, tc.tickets)
			}
			if tc.tickets == 1 {
				tk := r.psa.Ticket(res[0].TicketID)
				if tk.Closed != tc.stillClosed {
					t.Errorf("ticket closed = %v, want %v", tk.Closed, tc.stillClosed)
				}
				last := tk.Notes[len(tk.Notes)-1]
				if tc.stillClosed && !strings.Contains(last, "please reopen") {
					t.Errorf("note %q does not ask for a reopen", last)
				}
			}
			if l := r.link(t, "s"); l.State != alert.StateOpen || l.Occurrences != 2 {
				t.Errorf("link state %s occurrences %d, want open and 2", l.State, l.Occurrences)
			}
		})
	}
}

func TestOutOfOrderWithinSeries(t *testing.T) {
	t.Run("a reset before its trigger: the late trigger opens nothing", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.run(t, []step{
			{event: reset("c2", "s", 5*time.Minute), want: alert.Recorded},
			{event: trig("c1", "s", 0), want: alert.Stale},
		})
		if n := len(r.psa.Tickets()); n != 0 {
			t.Errorf("%d tickets, want none", n)
		}
		links, _, err := r.svc.List(context.Background(), r.sc, alert.ListQuery{})
		if err != nil || len(links) != 0 {
			t.Errorf("List = %v, %v; want nothing listed (no occurrence)", links, err)
		}
	})
	t.Run("a reset without trigger, then a newer trigger: a ticket", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.run(t, []step{
			{event: reset("c2", "s", 0), want: alert.Recorded},
			{event: trig("c3", "s", 10*time.Minute), want: alert.Created},
		})
		if l := r.link(t, "s"); l.State != alert.StateOpen || l.Occurrences != 1 {
			t.Errorf("link %+v", l)
		}
	})
	t.Run("a second reset changes nothing", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.run(t, []step{
			{event: trig("c1", "s", 0), want: alert.Created},
			{event: reset("c2", "s", time.Minute), want: alert.Closed},
			{event: reset("c3", "s", 2*time.Minute), want: alert.Superseded},
		})
		if tk := r.psa.Tickets()[0]; tk.Closes != 1 {
			t.Errorf("closed %d times, want 1", tk.Closes)
		}
	})
	t.Run("a reset older than the trigger that reopened the series", func(t *testing.T) {
		r := newRig(t, rigOptions{settings: connection.Settings{ReopenWindowMinutes: 60}, reopens: true})
		r.run(t, []step{
			{event: trig("c1", "s", 0), want: alert.Created},
			{event: reset("c2", "s", time.Minute), want: alert.Closed},
			{event: trig("c3", "s", 10*time.Minute), want: alert.Reopened},
			{event: reset("c4", "s", 5*time.Minute), want: alert.Stale},
		})
		if l := r.link(t, "s"); l.State != alert.StateOpen {
			t.Errorf("state %s, want open", l.State)
		}
	})
}

func TestOutOfOrderAcrossSeries(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.run(t, []step{
		{event: trig("A1", "A", 0), want: alert.Created},
		{event: trig("B1", "B", time.Second), want: alert.Created},
		{event: reset("C9", "C", 2*time.Second), want: alert.Recorded}, // C's trigger was never seen
		{event: reset("B2", "B", 3*time.Second), want: alert.Closed},
		{event: trig("A2", "A", 4*time.Second), want: alert.Noted},
		{event: trig("B3", "B", 5*time.Second), want: alert.Created}, // no reopen window: a new ticket
		{event: reset("A3", "A", 6*time.Second), want: alert.Closed},
	})
	links, _, err := r.svc.List(context.Background(), r.sc, alert.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range links {
		got = append(got, l.SeriesID+":"+string(l.State))
	}
	if diff := cmp.Diff([]string{"A:closed", "B:open"}, got); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
	open, _, _ := r.svc.List(context.Background(), r.sc, alert.ListQuery{State: alert.StateOpen})
	if len(open) != 1 || open[0].SeriesID != "B" || open[0].Occurrences != 2 {
		t.Errorf("open series %+v, want B with 2 occurrences", open)
	}
	if _, _, err := r.svc.List(context.Background(), r.sc, alert.ListQuery{State: "pending"}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("List state=pending = %v, want Invalid", err)
	}
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name     string
		settings connection.Settings
		event    rmm.Alert
		setup    func(r *rig)
		want     alert.Outcome
		// the ticket's account, location, asset
		account, location, asset string
		ensured                  []string // devices synced before the ticket
		created                  []string // accounts created
		linked                   []string // organizations linked to their match
		reason                   string   // part of the unrouted reason
	}{
		{name: "imported device", event: trig("r1", "s", 0), want: alert.Created,
			account: "acct-12", location: "loc-34", asset: "a-1001"},
		{name: "device never imported: its asset first", event: deviceEvent(trig("r1", "s", 0), "1002", "12"),
			want: alert.Created, account: "acct-12", location: "loc-synced", asset: "asset-1002", ensured: []string{"1002"}},
		{name: "device that cannot be synced: a ticket without asset", event: deviceEvent(trig("r1", "s", 0), "1003", "12"),
			setup: func(r *rig) { r.assets.unsyncable["1003"] = true },
			want:  alert.Created, account: "acct-12", location: "loc-34", ensured: []string{"1003"}},
		{name: "unmapped organization, accounts auto-created", settings: connection.Settings{AutoCreateAccounts: true},
			event: deviceEvent(trig("r1", "s", 0), "1004", "13"), want: alert.Created,
			account: "acct-new-13", location: "loc-synced", asset: "asset-1004", ensured: []string{"1004"}, created: []string{"13"}},
		{name: "unmapped organization, catch-all account", settings: connection.Settings{CatchAllAccountID: "acct-catchall"},
			event: deviceEvent(trig("r1", "s", 0), "1004", "13"), want: alert.Created, account: "acct-catchall"},
		{name: "organization unknown in the payload, read from the RMM", settings: connection.Settings{CatchAllAccountID: "acct-catchall"},
			event: deviceEvent(trig("r1", "s", 0), "1009", ""), want: alert.Created, account: "acct-catchall"},
		{name: "unmapped organization, nowhere to go", event: deviceEvent(trig("r1", "s", 0), "1004", "13"), want: alert.Unrouted,
			reason: "organization 13 is not mapped: no matching PSA account and autoCreateAccounts is false; the integration has no catch-all account"},
		{name: "unmapped organization with a confident match: linked, even without auto-create",
			event: deviceEvent(trig("r1", "s", 0), "1004", "13"), setup: matchFor("13", account.MatchFound, "acct-globex"),
			want: alert.Created, account: "acct-globex", location: "loc-synced", asset: "asset-1004", ensured: []string{"1004"}, linked: []string{"13"}},
		{name: "unmapped organization with several candidates: no account created though accounts are auto-created",
			settings: connection.Settings{AutoCreateAccounts: true}, event: deviceEvent(trig("r1", "s", 0), "1004", "13"),
			setup: matchFor("13", account.MultipleMatches, "acct-g1", "acct-g2"), want: alert.Unrouted,
			reason: "organization 13 is not mapped: several PSA accounts could match; choose one with PUT /mappings/13: Globex acct-g1 (acct-g1, score 1.00), Globex acct-g2 (acct-g2, score 1.00); the integration has no catch-all account"},
		{name: "unmapped organization with several candidates, catch-all account",
			settings: connection.Settings{AutoCreateAccounts: true, CatchAllAccountID: "acct-catchall"}, event: deviceEvent(trig("r1", "s", 0), "1004", "13"),
			setup: matchFor("13", account.MultipleMatches, "acct-g1", "acct-g2"), want: alert.Created, account: "acct-catchall"},
		{name: "unmapped organization the RMM does not know", settings: connection.Settings{AutoCreateAccounts: true},
			event: deviceEvent(trig("r1", "s", 0), "1004", "66"), want: alert.Unrouted, reason: "organization 66 is not mapped, and the RMM does not know it; the integration has no catch-all account"},
		{name: "organization unknown to the RMM, accounts auto-created: the catch-all account",
			settings: connection.Settings{AutoCreateAccounts: true, CatchAllAccountID: "acct-catchall"},
			event:    deviceEvent(trig("r1", "s", 0), "5555", "999"), want: alert.Created, account: "acct-catchall"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{settings: tc.settings})
			if tc.setup != nil {
				tc.setup(r)
			}
			res := r.apply(t, tc.event)
			if res.Outcome != tc.want {
				t.Fatalf("outcome %s, want %s (%s)", res.Outcome, tc.want, res.Reason)
			}
			if diff := cmp.Diff(tc.ensured, r.assets.ensured); diff != "" {
				t.Errorf("devices synced (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.created, r.accounts.created); diff != "" {
				t.Errorf("accounts created (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.linked, r.accounts.linked); diff != "" {
				t.Errorf("organizations linked (-want +got):\n%s", diff)
			}
			if tc.want == alert.Unrouted {
				if n := len(r.psa.Tickets()); n != 0 {
					t.Fatalf("%d tickets for an unrouted alert", n)
				}
				if res.Reason != tc.reason || r.link(t, "s").Unrouted != tc.reason {
					t.Errorf("unrouted reason %q, recorded %q; want %q", res.Reason, r.link(t, "s").Unrouted, tc.reason)
				}
				return
			}
			tk := r.psa.Ticket(res.TicketID)
			got := [3]string{tk.AccountID, tk.LocationID, tk.AssetID}
			if diff := cmp.Diff([3]string{tc.account, tc.location, tc.asset}, got); diff != "" {
				t.Errorf("ticket account, location, asset (-want +got):\n%s", diff)
			}
		})
	}
}

// matchFor sets the auto-match result of an organization: its candidates
// are accounts named "Globex <id>", each scoring 1.
func matchFor(orgID string, o account.Outcome, accountIDs ...string) func(r *rig) {
	return func(r *rig) {
		res := account.MatchResult{Outcome: o, Candidates: []account.Candidate{}}
		for _, id := range accountIDs {
			res.Candidates = append(res.Candidates, account.Candidate{Account: psa.Account{ID: id, Name: "Globex " + id}, Score: 1})
		}
		r.accounts.matches[orgID] = res
	}
}

func deviceEvent(a rmm.Alert, deviceID, orgID string) rmm.Alert {
	a.DeviceID, a.DeviceName, a.OrganizationID = deviceID, "PC-"+deviceID, orgID
	return a
}

func TestUnroutedIsRecordedAndRetried(t *testing.T) {
	r := newRig(t, rigOptions{})
	res := r.apply(t, deviceEvent(trig("u1", "s", 0), "1004", "13"))
	if res.Outcome != alert.Unrouted || !strings.Contains(res.Reason, "organization 13 is not mapped") {
		t.Fatalf("result %+v", res)
	}
	links, _, err := r.svc.List(context.Background(), r.sc, alert.ListQuery{State: alert.StateUnroutable})
	if err != nil || len(links) != 1 {
		t.Fatalf("List = %v, %v", links, err)
	}
	v := links[0].View()
	if v.TicketID != "" || v.Reason == "" || v.Occurrences != 1 || v.State != alert.StateUnroutable {
		t.Errorf("view %+v, want unroutable, no ticket, a reason, one occurrence", v)
	}
	// Someone maps the organization; the next trigger opens the ticket.
	r.accounts.mappings["13"] = account.Mapping{OrganizationID: "13", AccountID: "acct-13", State: account.StateMapped}
	res = r.apply(t, deviceEvent(trig("u2", "s", time.Minute), "1004", "13"))
	if res.Outcome != alert.Created {
		t.Fatalf("after mapping: %+v", res)
	}
	if l := r.link(t, "s"); l.Unrouted != "" || l.Occurrences != 2 || l.TicketID == "" {
		t.Errorf("link %+v", l)
	}
}

func TestRoutingWhileOrganizationIsBeingMapped(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.accounts.mappings["13"] = account.Mapping{OrganizationID: "13", State: account.StateClaimed}
	_, err := r.svc.Apply(context.Background(), r.sc, r.clients, deviceEvent(trig("m1", "s", 0), "1004", "13"))
	if !apperr.Is(err, apperr.Conflict) || !apperr.KindOf(err).Transient() {
		t.Fatalf("Apply = %v, want a transient Conflict", err)
	}
}

func TestTicketContent(t *testing.T) {
	settings := connection.Settings{
		PriorityMap:    map[string]string{"major": "Priority 2 - High", "critical": "1"},
		TicketDefaults: map[string]string{"board": "Service Board", "status": "7", "priority": "Priority 4 - Low"},
	}
	long := strings.Repeat("Disk space on volume D: is running out ", 5)
	tests := []struct {
		name     string
		event    rmm.Alert
		summary  string
		priority psa.NamedRef
	}{
		{"subject names the device", trig("t1", "s1", 0), "[MAJOR] Memory usage high on PC-1001", psa.NamedRef{Name: "Priority 2 - High"}},
		{"subject without the device", func() rmm.Alert { a := trig("t2", "s2", 0); a.Subject = "Memory high"; return a }(),
			"[MAJOR] Memory high on PC-1001", psa.NamedRef{Name: "Priority 2 - High"}},
		{"critical maps to a priority id", func() rmm.Alert { a := trig("t3", "s3", 0); a.Severity = rmm.SeverityCritical; return a }(),
			"[CRITICAL] Memory usage high on PC-1001", psa.NamedRef{ID: "1"}},
		{"unmapped severity uses the default priority", func() rmm.Alert { a := trig("t4", "s4", 0); a.Severity = rmm.SeverityMinor; return a }(),
			"[MINOR] Memory usage high on PC-1001", psa.NamedRef{Name: "Priority 4 - Low"}},
		{"no subject: the condition's name", func() rmm.Alert { a := trig("t5", "s5", 0); a.Subject = ""; return a }(),
			"[MAJOR] Memory utilization above 90% on PC-1001", psa.NamedRef{Name: "Priority 2 - High"}},
		{"long subject is cut at 100 characters", func() rmm.Alert { a := trig("t6", "s6", 0); a.Subject = long; return a }(),
			"", psa.NamedRef{Name: "Priority 2 - High"}},
	}
	r := newRig(t, rigOptions{settings: settings})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := r.apply(t, tc.event)
			tk := r.psa.Ticket(res.TicketID)
			if tc.summary != "" && tk.Summary != tc.summary {
				t.Errorf("summary %q, want %q", tk.Summary, tc.summary)
			}
			if n := utf8.RuneCountInString(tk.Summary); n > 100 {
				t.Errorf("summary has %d characters, more than 100", n)
			}
			if tc.summary == "" && !strings.HasSuffix(tk.Summary, "…") {
				t.Errorf("summary %q does not show the cut", tk.Summary)
			}
			if tk.Priority != tc.priority {
				t.Errorf("priority %+v, want %+v", tk.Priority, tc.priority)
			}
			if tk.Board != (psa.NamedRef{Name: "Service Board"}) || tk.Status != (psa.NamedRef{ID: "7"}) {
				t.Errorf("board %+v status %+v", tk.Board, tk.Status)
			}
			if tk.ExternalRef != tc.event.SeriesID {
				t.Errorf("external ref %q, want the series id", tk.ExternalRef)
			}
			for _, want := range []string{"Device: PC-1001 (RMM device 1001)", "Organization: RMM organization 12, site 34",
				"Condition: Memory utilization above 90% (vmm_cond_memory_usage_ge)", "Values: threshold=90, unit=%, value=93",
				"Triggered at: 2026-01-06T14:08:32Z", "Alert series: " + tc.event.SeriesID,
				"/v1/integrations/i_demo/assets/1001", "Memory utilization 93% is above the 90% threshold"} {
				if !strings.Contains(tk.Description, want) {
					t.Errorf("description lacks %q:\n%s", want, tk.Description)
				}
			}
		})
	}
}

func TestTicketCreationExactlyOnce(t *testing.T) {
	ctx := context.Background()
	t.Run("a ticket created by a crashed worker is adopted", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		// The crashed worker claimed the series and created the ticket,
		// but died before recording it.
		crashed, err := r.psa.Client().CreateTicket(ctx, psa.NewTicket{AccountID: "acct-12", Summary: "x", ExternalRef: "s"})
		if err != nil {
			t.Fatal(err)
		}
		claim := alert.Link{SeriesID: "s", LeaseOwner: "dead", LeaseUntil: r.clock().Add(-time.Second), Version: 1}
		if err := r.links.PutLink(ctx, r.sc, claim); err != nil {
			t.Fatal(err)
		}
		res := r.apply(t, trig("x1", "s", 0))
		if res.Outcome != alert.Adopted || res.TicketID != crashed.ID || len(r.psa.Tickets()) != 1 {
			t.Fatalf("result %+v with %d tickets, want the crashed worker's ticket adopted", res, len(r.psa.Tickets()))
		}
		if l := r.link(t, "s"); l.Occurrences != 1 || l.LeaseOwner != "" {
			t.Errorf("link %+v", l)
		}
	})
	t.Run("a live claim makes others wait", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		claim := alert.Link{SeriesID: "s", LeaseOwner: "alive", LeaseUntil: r.clock().Add(time.Minute), Version: 1}
		if err := r.links.PutLink(ctx, r.sc, claim); err != nil {
			t.Fatal(err)
		}
		_, err := r.svc.Apply(ctx, r.sc, r.clients, trig("x1", "s", 0))
		if !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("Apply = %v, want Conflict", err)
		}
		if len(r.psa.Tickets()) != 0 {
			t.Error("a ticket was created under another worker's claim")
		}
	})
	t.Run("a failed create releases its claim and is retried without counting twice", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.psa.Fail("CreateTicket", -1, apperr.New(apperr.Unavailable, "PSA down"))
		if _, err := r.svc.Apply(ctx, r.sc, r.clients, trig("x1", "s", 0)); !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("Apply with the PSA down = %v, want Unavailable", err)
		}
		if l := r.link(t, "s"); l.LeaseOwner != "" || l.Occurrences != 0 {
			t.Errorf("link after the failure %+v, want no claim and no occurrence", l)
		}
		r.psa.Fail("CreateTicket", 0, nil)
		if res := r.apply(t, trig("x1", "s", 0)); res.Outcome != alert.Created {
			t.Fatalf("retry: %+v", res)
		}
		if l := r.link(t, "s"); l.Occurrences != 1 || len(r.psa.Tickets()) != 1 {
			t.Errorf("occurrences %d, tickets %d; want 1 and 1", l.Occurrences, len(r.psa.Tickets()))
		}
	})
	t.Run("racing workers open one ticket", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		var wg sync.WaitGroup
		outcomes := make([]alert.Outcome, 8)
		for i := range outcomes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := r.svc.Apply(ctx, r.sc, r.clients, trig("x1", "s", 0))
				if err != nil && !apperr.Is(err, apperr.Conflict) {
					t.Errorf("Apply: %v", err)
				}
				outcomes[i] = res.Outcome
			}()
		}
		wg.Wait()
		if n := len(r.psa.Tickets()); n != 1 {
			t.Errorf("%d tickets, want 1 (outcomes %v)", n, outcomes)
		}
	})
	t.Run("a ticket deleted in the PSA is replaced on the next repeat", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		first := r.apply(t, trig("x1", "s", 0)).TicketID
		r.psa.DeleteTicket(first)
		res := r.apply(t, trig("x2", "s", time.Minute))
		if res.Outcome != alert.Created || res.TicketID == first {
			t.Fatalf("repeat after deletion: %+v", res)
		}
		if tk := r.psa.Ticket(res.TicketID); tk.ExternalRef != "s#2" {
			t.Errorf("replacement ticket ref %q, want s#2", tk.ExternalRef)
		}
	})
	t.Run("a failed note is retried, noted once", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		id := r.apply(t, trig("x1", "s", 0)).TicketID
		r.psa.Fail("AddTicketNote", 1, apperr.New(apperr.Unavailable, "PSA down"))
		if _, err := r.svc.Apply(ctx, r.sc, r.clients, trig("x2", "s", time.Minute)); !apperr.KindOf(err).Transient() {
			t.Fatalf("Apply with notes failing = %v, want a transient error", err)
		}
		if res := r.apply(t, trig("x2", "s", time.Minute)); res.Outcome != alert.Noted {
			t.Fatalf("retry: %+v", res)
		}
		if tk := r.psa.Ticket(id); len(tk.Notes) != 1 {
			t.Errorf("notes %q, want one", tk.Notes)
		}
		if l := r.link(t, "s"); l.Occurrences != 2 {
			t.Errorf("occurrences %d, want 2", l.Occurrences)
		}
	})
}

func TestResetOfTouchedTicketNotes(t *testing.T) {
	r := newRig(t, rigOptions{})
	res := r.run(t, []step{
		{event: trig("d1", "s", 0), want: alert.Created},
		{event: reset("d2", "s", time.Minute), want: alert.Noted, before: func(r *rig) {
			for _, tk := range r.psa.Tickets() {
				r.psa.Touch(tk.ID)
			}
		}},
	})
	tk := r.psa.Ticket(res[0].TicketID)
	if tk.Closed || len(tk.Notes) != 1 || !strings.Contains(tk.Notes[0], "stays open because it has been worked on") {
		t.Errorf("ticket closed=%v notes=%q; want open with a cleared note", tk.Closed, tk.Notes)
	}
	if l := r.link(t, "s"); l.State != alert.StateClosed || l.TicketClosed {
		t.Errorf("link state %s ticketClosed %v, want closed series, open ticket", l.State, l.TicketClosed)
	}
}

// lostAnswerLinks writes every link twice, as the SDK does when the answer
// to a write that happened is lost and it retries: the retry's condition
// fails.
type lostAnswerLinks struct{ alert.Store }

func (s lostAnswerLinks) PutLink(ctx context.Context, sc tenancy.Scope, l alert.Link) error {
	if err := s.Store.PutLink(ctx, sc, l); err != nil {
		return err
	}
	return s.Store.PutLink(ctx, sc, l)
}

func TestLostWriteAnswers(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.svc = alert.NewService(lostAnswerLinks{r.links}, r.assets, r.accounts, r.refresh, alert.Options{Now: r.clock, Logger: quiet})
	r.run(t, []step{
		{event: trig("l1", "s", 0), want: alert.Created},
		{event: trig("l2", "s", time.Minute), want: alert.Noted},
		{event: reset("l3", "s", 2*time.Minute), want: alert.Closed},
	})
	if l := r.link(t, "s"); l.Occurrences != 2 || l.State != alert.StateClosed || l.LeaseOwner != "" || len(r.psa.Tickets()) != 1 {
		t.Errorf("link %+v with %d tickets", l, len(r.psa.Tickets()))
	}
}
