package alert_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// withPolicy gives the rig's integration settings (rebinding its sync).
func (r *rig) withPolicy(s connection.Settings) {
	r.clients.Integration.Settings = s
	r.clients = withSync(r.clients, r.assets, r.accounts)
}

// TestFilteredAlertIsRecordedNotTicketed: a trigger the policy filters is
// recorded as a filtered series with its rule, the setting and its value,
// writes nothing to the PSA (no ticket, no account, no asset) and is
// listed by state=filtered; its repeats count, its reset closes nothing;
// once the policy lets it through, its next trigger opens a ticket.
func TestFilteredAlertIsRecordedNotTicketed(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.withPolicy(connection.Settings{AutoCreateAccounts: true, AlertPolicy: connection.AlertPolicy{MinSeverity: "critical"}})
	// Organization 13 is unmapped: a filtered alert must not create its account.
	other := deviceEvent(trig("a0", "s-13", 0), "1009", "13")
	r.run(t, []step{
		{event: trig("a1", "s-1", 0), want: alert.Filtered},
		{event: trig("a2", "s-1", time.Minute), want: alert.Filtered},
		{event: other, want: alert.Filtered},
		{event: reset("a3", "s-1", 2*time.Minute), want: alert.Recorded},
	})
	if n := r.psa.TotalCalls(); n != 0 {
		t.Errorf("%d PSA calls (%v), want none", n, r.psa.CallCounts())
	}
	if len(r.accounts.created) != 0 || len(r.assets.ensured) != 0 {
		t.Errorf("accounts created %v, assets ensured %v, want none", r.accounts.created, r.assets.ensured)
	}
	l := r.link(t, "s-1")
	wantFilter := alert.Filter{Rule: alert.RuleMinSeverity, Setting: "settings.alertPolicy.minSeverity", Value: "critical"}
	if l.State != alert.StateFiltered || l.Occurrences != 2 || l.TicketID != "" || l.Filter != wantFilter || !l.ClosedAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("link %+v, want filtered by %+v with 2 occurrences, its reset recorded", l, wantFilter)
	}
	links, _, err := r.svc.List(context.Background(), r.sc, alert.ListQuery{State: alert.StateFiltered})
	if err != nil {
		t.Fatal(err)
	}
	var got []alert.View
	for _, l := range links {
		got = append(got, l.View())
	}
	want := []alert.View{
		{SeriesID: "s-1", DeviceID: "1001", State: alert.StateFiltered, Severity: rmm.SeverityMajor, Occurrences: 2,
			FirstSeenAt: t0, LastSeenAt: t0.Add(2 * time.Minute), Filter: &wantFilter},
		{SeriesID: "s-13", DeviceID: "1009", State: alert.StateFiltered, Severity: rmm.SeverityMajor, Occurrences: 1,
			FirstSeenAt: t0, LastSeenAt: t0, Filter: &wantFilter},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state=filtered (-want +got):\n%s", diff)
	}
	for _, s := range []alert.State{alert.StateOpen, alert.StateClosed, alert.StateUnroutable} {
		if l, _, _ := r.svc.List(context.Background(), r.sc, alert.ListQuery{State: s}); len(l) != 0 {
			t.Errorf("state=%s lists %d series, want none", s, len(l))
		}
	}

	r.withPolicy(connection.Settings{})
	res := r.apply(t, trig("a4", "s-1", 3*time.Minute))
	if res.Outcome != alert.Created || len(r.psa.Tickets()) != 1 {
		t.Fatalf("after the policy changed: %+v, %d tickets; want one created", res, len(r.psa.Tickets()))
	}
	if l := r.link(t, "s-1"); l.State != alert.StateOpen || l.TicketID == "" || l.View().Filter != nil {
		t.Errorf("link %+v, want open with its ticket and no filter shown", l)
	}
}

// TestPolicyAppliesToNewEpisodesOnly: an open series' repeats and reset
// keep working on its ticket whatever the policy says; a new episode
// (after the reopen window) is screened.
func TestPolicyAppliesToNewEpisodesOnly(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.run(t, []step{{event: trig("a1", "s-1", 0), want: alert.Created}})
	r.withPolicy(connection.Settings{AlertPolicy: connection.AlertPolicy{ExcludeTypes: []string{"vmm_cond_memory_usage_ge"}}})
	r.run(t, []step{
		{event: trig("a2", "s-1", time.Minute), want: alert.Noted},
		{event: reset("a3", "s-1", 2*time.Minute), want: alert.Closed},
		{event: trig("a4", "s-1", 3*time.Hour), want: alert.Filtered},
		{event: reset("a5", "s-1", 4*time.Hour), want: alert.Recorded},
	})
	tk := r.psa.Tickets()
	if len(tk) != 1 || tk[0].Closes != 1 {
		t.Fatalf("tickets %+v, want the first episode's, closed once", tk)
	}
	r.withPolicy(connection.Settings{})
	r.run(t, []step{{event: trig("a6", "s-1", 5*time.Hour), want: alert.Created}})
	if tk := r.psa.Tickets(); len(tk) != 2 || tk[1].ExternalRef != "s-1#2" {
		t.Errorf("tickets %+v, want a second with reference s-1#2", tk)
	}
}

// TestOrganizationOverridesTicketFields: an organization's ticket
// defaults (board) and priority map are merged over the integration's.
func TestOrganizationOverridesTicketFields(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.withPolicy(connection.Settings{
		AutoCreateAccounts: true,
		TicketDefaults:     map[string]string{"board": "Service", "status": "New"},
		PriorityMap:        map[string]string{"major": "2", "critical": "1"},
		AlertPolicy: connection.AlertPolicy{Organizations: map[string]connection.OrgPolicy{
			"12": {TicketDefaults: map[string]string{"board": "Dental"}, PriorityMap: map[string]string{"major": "1"}},
		}},
	})
	r.run(t, []step{
		{event: trig("a1", "s-12", 0), want: alert.Created},
		{event: deviceEvent(trig("a2", "s-13", 0), "1009", "13"), want: alert.Created},
	})
	type fields struct{ Board, Status, Priority string }
	var got []fields
	for _, tk := range r.psa.Tickets() {
		got = append(got, fields{tk.Board.Name, tk.Status.Name, tk.Priority.ID})
	}
	want := []fields{{"Dental", "New", "1"}, {"Service", "New", "2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ticket fields (-want +got):\n%s", diff)
	}
	if r.clients.Integration.Settings.TicketDefaults["board"] != "Service" {
		t.Error("the override changed the integration's settings")
	}
}

// TestMaintenanceFromTheRMM: a device the RMM reports in maintenance gets
// no ticket when skipMaintenance is on; one the RMM reports nothing about
// (or does not know) does.
func TestMaintenanceFromTheRMM(t *testing.T) {
	on, off := true, false
	r := newRig(t, rigOptions{})
	r.clients.RMM = newFakeRMM(t, []rmm.Organization{{ID: "12", Name: "Acme Dental"}},
		rmm.Device{ID: "2001", OrganizationID: "12", Maintenance: &on},
		rmm.Device{ID: "2002", OrganizationID: "12", Maintenance: &off},
		rmm.Device{ID: "2003", OrganizationID: "12"})
	r.withPolicy(connection.Settings{AlertPolicy: connection.AlertPolicy{SkipMaintenance: true}})
	r.run(t, []step{
		{event: deviceEvent(trig("a1", "s-1", 0), "2001", "12"), want: alert.Filtered},
		{event: deviceEvent(trig("a2", "s-2", 0), "2002", "12"), want: alert.Created},
		{event: deviceEvent(trig("a3", "s-3", 0), "2003", "12"), want: alert.Created},
		{event: deviceEvent(trig("a4", "s-4", 0), "2999", "12"), want: alert.Created},
	})
	if f := r.link(t, "s-1").Filter; f.Rule != alert.RuleMaintenance {
		t.Errorf("filter %+v, want maintenance", f)
	}
}

// TestFloodGuardConcurrentWorkers: 20 workers apply the first triggers of
// 20 series of one organization at once, against the real conditional
// counter in moto, retrying what comes back (as the queue does): exactly
// maxTicketsPerHour tickets and one summary ticket are opened, every
// other alert is a note on the summary and recorded as filtered by the
// flood guard. A redelivery of an admitted series is not counted again;
// the next hour has its own budget. The table is in moto through
// scripts/moto-server (rigOptions.atomic): DynamoDB applies the writes of
// one item one at a time, and plain moto does not (measured: 6 tickets
// admitted of 5 with plain moto's threaded server).
func TestFloodGuardConcurrentWorkers(t *testing.T) {
	const workers, max = 20, 5
	r := newRig(t, rigOptions{atomic: true})
	r.withPolicy(connection.Settings{AlertPolicy: connection.AlertPolicy{MaxTicketsPerHour: max}})
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := trig(fmt.Sprintf("a%d", i), fmt.Sprintf("s-%02d", i), time.Duration(i)*time.Second)
			for try := 0; ; try++ {
				_, err := r.svc.Apply(context.Background(), r.sc, r.clients, a)
				if err == nil {
					return
				}
				if !apperr.Is(err, apperr.Conflict) || try == 200 {
					errs <- err
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("apply: %v", err)
	}
	var own, summaries []string
	summaryID := ""
	for _, tk := range r.psa.Tickets() {
		if strings.HasPrefix(tk.ExternalRef, "flood#") {
			summaries, summaryID = append(summaries, tk.ExternalRef), tk.ID
			if len(tk.Notes) != workers-max-1 {
				t.Errorf("summary ticket has %d notes, want %d (the first alert over the limit is its description)", len(tk.Notes), workers-max-1)
			}
			continue
		}
		own = append(own, tk.ExternalRef)
	}
	if len(own) != max || len(summaries) != 1 || summaries[0] != "flood#12#2026-01-06T14" {
		t.Fatalf("own tickets %v, summaries %v; want %d and one for organization 12's hour", own, summaries, max)
	}
	filtered, _, err := r.svc.List(context.Background(), r.sc, alert.ListQuery{State: alert.StateFiltered})
	if err != nil {
		t.Fatal(err)
	}
	if len(filtered) != workers-max {
		t.Errorf("%d filtered series, want %d", len(filtered), workers-max)
	}
	for _, l := range filtered {
		v := l.View()
		if v.Filter == nil || v.Filter.Rule != alert.RuleFloodGuard || v.Filter.Value != "5" || v.SummaryTicketID != summaryID {
			t.Errorf("filtered %+v, want the flood guard (5) and summary ticket %s", v, summaryID)
		}
	}

	// A repeat of an admitted series notes its own ticket; a later trigger
	// of a summarized series notes the summary again.
	r.run(t, []step{{event: trig("b1", own[0], time.Minute), want: alert.Noted}})
	sl := filtered[0]
	r.run(t, []step{{event: trig("b2", sl.SeriesID, time.Minute), want: alert.Summarized}})
	if n := len(r.psa.Ticket(summaryID).Notes); n != workers-max {
		t.Errorf("summary notes %d, want %d", n, workers-max)
	}
	// The next hour has its own budget.
	r.run(t, []step{{event: trig("c1", "s-next", time.Hour), want: alert.Created}})
}
