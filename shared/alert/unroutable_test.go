package alert_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmfake"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// stateUnroutable is the state GET /alerts?state=unroutable lists.
const stateUnroutable = alert.State("unroutable")

// listSeries lists the series ids of one state.
func (r *rig) listSeries(t testing.TB, state alert.State) []string {
	t.Helper()
	links, _, err := r.svc.List(context.Background(), r.sc, alert.ListQuery{State: state})
	if err != nil {
		t.Fatalf("List state=%q: %v", state, err)
	}
	var ids []string
	for _, l := range links {
		ids = append(ids, l.SeriesID)
	}
	return ids
}

// failingAccounts fails EnsureAccount with err, as the account decision
// does for an organization it must not create an account for.
type failingAccounts struct {
	*fakeAccounts
	err error
}

func (a failingAccounts) EnsureAccount(context.Context, tenancy.Scope, alert.Clients, string) (account.Mapping, error) {
	return account.Mapping{}, a.err
}

// reviewError is how the account decision may say an organization needs a
// person's choice (several candidate accounts).
type reviewError struct{ msg string }

func (e reviewError) Error() string     { return e.msg }
func (e reviewError) NeedsReview() bool { return true }

// TestUnroutableAlerts: an alert whose device and organization are both
// unknown (or whose organization cannot get an account) can never become
// a ticket by retrying. It is recorded at once as an unroutable series with
// a reason, listed by state=unroutable, and the event is done; transient
// failures still fail the event (the queue retries it). A later event of
// the series, once its organization is routable, opens the ticket.
func TestUnroutableAlerts(t *testing.T) {
	unknown := func(id, series string, at time.Duration) rmm.Alert {
		return deviceEvent(trig(id, series, at), "5555", "999") // neither in the RMM nor mapped
	}
	tests := []struct {
		name     string
		settings connection.Settings
		accounts func(r *rig) failingAccounts
		event    rmm.Alert
		reason   string // a part of the reason
		// transient: the event must fail (and be retried), not be recorded.
		transient bool
	}{
		{name: "unknown device and organization, accounts auto-created", settings: connection.Settings{AutoCreateAccounts: true},
			event: unknown("u1", "s", 0), reason: "999"},
		{name: "unknown device and organization, no auto-create", event: unknown("u1", "s", 0), reason: "organization 999 is not mapped"},
		{name: "unknown device, no organization in the payload", settings: connection.Settings{AutoCreateAccounts: true},
			event: deviceEvent(trig("u1", "s", 0), "5555", ""), reason: "organization is unknown"},
		{name: "the PSA cannot create accounts exactly once", settings: connection.Settings{AutoCreateAccounts: true},
			accounts: func(r *rig) failingAccounts {
				return failingAccounts{r.accounts, apperr.New(apperr.NotImplemented, "this PSA cannot create accounts exactly once")}
			},
			event: deviceEvent(trig("u1", "s", 0), "1004", "13"), reason: "this PSA cannot create accounts exactly once"},
		{name: "the account decision refuses to create", settings: connection.Settings{AutoCreateAccounts: true},
			accounts: func(r *rig) failingAccounts {
				return failingAccounts{r.accounts, apperr.New(apperr.Invalid, "organization 13 has no match and accounts may not be created")}
			},
			event: deviceEvent(trig("u1", "s", 0), "1004", "13"), reason: "accounts may not be created"},
		{name: "several candidate accounts: review", settings: connection.Settings{AutoCreateAccounts: true},
			accounts: func(r *rig) failingAccounts {
				return failingAccounts{r.accounts, apperr.Wrap(apperr.Conflict, reviewError{"2 candidates"},
					"organization 13 matches 2 accounts; choose one in the review")}
			},
			event: deviceEvent(trig("u1", "s", 0), "1004", "13"), reason: "matches 2 accounts"},
		{name: "a PSA outage is retried", settings: connection.Settings{AutoCreateAccounts: true},
			accounts: func(r *rig) failingAccounts {
				return failingAccounts{r.accounts, apperr.New(apperr.Unavailable, "PSA down")}
			},
			event: deviceEvent(trig("u1", "s", 0), "1004", "13"), transient: true},
		{name: "a lost race for the mapping is retried", settings: connection.Settings{AutoCreateAccounts: true},
			accounts: func(r *rig) failingAccounts {
				return failingAccounts{r.accounts, apperr.New(apperr.Conflict, "organization 13 is being mapped by another request; try again shortly")}
			},
			event: deviceEvent(trig("u1", "s", 0), "1004", "13"), transient: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{settings: tc.settings})
			if tc.accounts != nil {
				accounts := tc.accounts(r)
				r.svc = alert.NewService(r.links, r.assets, accounts, r.refresh, alert.Options{Now: r.clock, Logger: quiet})
				r.clients = withSync(r.clients, r.assets, accounts)
			}
			res, err := r.svc.Apply(context.Background(), r.sc, r.clients, tc.event)
			if tc.transient {
				if err == nil || !apperr.KindOf(err).Transient() {
					t.Fatalf("Apply = %+v, %v; want a transient error", res, err)
				}
				if got := r.listSeries(t, stateUnroutable); len(got) != 0 {
					t.Errorf("unroutable series %v after a transient failure", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply = %v; want the alert recorded as unroutable, not a failure to retry", err)
			}
			if res.Outcome != alert.Unrouted || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("result %+v, want unrouted with a reason mentioning %q", res, tc.reason)
			}
			if diff := cmp.Diff([]string{"s"}, r.listSeries(t, stateUnroutable)); diff != "" {
				t.Errorf("state=unroutable (-want +got):\n%s", diff)
			}
			if got := r.listSeries(t, alert.StateOpen); len(got) != 0 {
				t.Errorf("state=open lists %v; an unroutable series is not open with a ticket", got)
			}
			l := r.link(t, "s")
			b, _ := json.Marshal(l.View())
			var v map[string]any
			_ = json.Unmarshal(b, &v)
			if v["state"] != "unroutable" || !strings.Contains(v["reason"].(string), tc.reason) || v["ticketId"] != nil || v["occurrences"] != float64(1) {
				t.Errorf("view %s, want state unroutable, the reason, no ticket, one occurrence", b)
			}
			if n := len(r.psa.Tickets()); n != 0 {
				t.Errorf("%d tickets for an unroutable alert", n)
			}
		})
	}

	t.Run("a later event proceeds once the organization is routable", func(t *testing.T) {
		r := newRig(t, rigOptions{settings: connection.Settings{AutoCreateAccounts: true}})
		if res := r.apply(t, unknown("u1", "s", 0)); res.Outcome != alert.Unrouted {
			t.Fatalf("first trigger: %+v", res)
		}
		if res := r.apply(t, unknown("u2", "s", time.Minute)); res.Outcome != alert.Unrouted {
			t.Fatalf("a repeat while still unroutable: %+v", res)
		}
		// The organization appears in the RMM (the account is then
		// created), and the device is synced.
		r.clients.RMM.(*rmmfake.Client).Fake().AddOrganization(rmm.Organization{ID: "999", Name: "Initech"})
		res := r.apply(t, unknown("u3", "s", 2*time.Minute))
		if res.Outcome != alert.Created {
			t.Fatalf("after the organization appeared: %+v", res)
		}
		l := r.link(t, "s")
		if l.State != alert.StateOpen || l.Unrouted != "" || l.Occurrences != 3 || l.TicketID != res.TicketID || !l.OpenedAt.Equal(t0) {
			t.Errorf("link %+v, want open with the ticket, no reason, 3 occurrences, opened at the first trigger", l)
		}
		if got := r.listSeries(t, stateUnroutable); len(got) != 0 {
			t.Errorf("state=unroutable still lists %v", got)
		}
		if diff := cmp.Diff([]string{"s"}, r.listSeries(t, alert.StateOpen)); diff != "" {
			t.Errorf("state=open (-want +got):\n%s", diff)
		}
		if tk := r.psa.Ticket(res.TicketID); tk == nil || tk.AccountID != "acct-new-999" {
			t.Errorf("ticket %+v, want it under the new account", tk)
		}
	})
	t.Run("a reset closes an unroutable series", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.apply(t, unknown("u1", "s", 0))
		res := r.apply(t, deviceEvent(reset("u2", "s", 5*time.Minute), "5555", "999"))
		if res.Outcome != alert.Recorded {
			t.Fatalf("reset: %+v", res)
		}
		if diff := cmp.Diff([]string{"s"}, r.listSeries(t, alert.StateClosed)); diff != "" {
			t.Errorf("state=closed (-want +got):\n%s", diff)
		}
		if got := r.listSeries(t, stateUnroutable); len(got) != 0 {
			t.Errorf("state=unroutable still lists %v", got)
		}
	})
}

// TestWorkerFinishesUnroutableAlerts: through the worker, an unroutable
// alert is acknowledged (not returned to the queue to fail every visibility
// timeout until the dead-letter queue, blocking its series' FIFO group),
// and the reset behind it in the same group is applied.
func TestWorkerFinishesUnroutableAlerts(t *testing.T) {
	r := newRig(t, rigOptions{settings: connection.Settings{AutoCreateAccounts: true}})
	rec := func(id string, a activity) events.SQSMessage {
		b, _ := json.Marshal(alert.Message{TenantID: "t_demo", IntegrationID: "i_demo", DeliveryID: id, Activity: a.body(t)})
		return events.SQSMessage{MessageId: id, Body: string(b), EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:alerts.fifo",
			Attributes: map[string]string{"MessageGroupId": "i_demo#lost-series"}}
	}
	trigger := condition(1, "lost-series", 5555, true, 0)
	trigger.Device = json.RawMessage(`{"id":5555,"organizationId":999,"locationId":1,"systemName":"GHOST-PC"}`)
	resetAct := condition(2, "lost-series", 5555, false, time.Minute)
	resetAct.Device = trigger.Device

	resp, err := r.worker()(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec("m1", trigger)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch item failures %+v, want none: the alert cannot be routed, retrying cannot help", resp.BatchItemFailures)
	}
	if diff := cmp.Diff([]string{"lost-series"}, r.listSeries(t, stateUnroutable)); diff != "" {
		t.Errorf("state=unroutable (-want +got):\n%s", diff)
	}
	resp, err = r.worker()(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec("m2", resetAct)}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("the reset: %+v, %v", resp, err)
	}
	if l := r.link(t, "lost-series"); l.State != alert.StateClosed {
		t.Errorf("after the reset the series is %s, want closed", l.State)
	}
}

// TestResetRecordsClosedAtAndLastSeenAt: a reset is the series' last
// sighting and its close time, whatever happens to the ticket.
func TestResetRecordsClosedAtAndLastSeenAt(t *testing.T) {
	tests := []struct {
		name   string
		before func(r *rig)
		want   alert.Outcome
	}{
		{name: "untouched ticket closed", want: alert.Closed},
		{name: "touched ticket noted", before: func(r *rig) { r.psa.Touch(r.psa.Tickets()[0].ID) }, want: alert.Noted},
		{name: "ticket deleted in the PSA", before: func(r *rig) {
			for _, tk := range r.psa.Tickets() {
				r.psa.DeleteTicket(tk.ID)
			}
		}, want: alert.Recorded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			r.run(t, []step{
				{event: trig("c1", "s", 0), want: alert.Created},
				{event: trig("c2", "s", time.Minute), want: alert.Noted},
				{event: reset("c3", "s", 7*time.Minute), want: tc.want, before: tc.before},
			})
			l := r.link(t, "s")
			if !l.LastSeenAt.Equal(t0.Add(7*time.Minute)) || !l.ClosedAt.Equal(t0.Add(7*time.Minute)) || !l.FirstSeenAt.Equal(t0) {
				t.Errorf("link first %v last %v closed %v; want the trigger's first, the reset's last and closed (%v)",
					l.FirstSeenAt, l.LastSeenAt, l.ClosedAt, t0.Add(7*time.Minute))
			}
			b, _ := json.Marshal(l.View())
			var v map[string]any
			_ = json.Unmarshal(b, &v)
			if v["closedAt"] != "2026-01-06T14:15:32Z" || v["lastSeenAt"] != "2026-01-06T14:15:32Z" || v["state"] != "closed" {
				t.Errorf("view %s, want closedAt and lastSeenAt the reset's time", b)
			}
			// A trigger again (a note on the touched ticket, else a new
			// ticket): open, no closedAt shown.
			r.apply(t, trig("c4", "s", 9*time.Minute))
			b, _ = json.Marshal(r.link(t, "s").View())
			v = nil
			_ = json.Unmarshal(b, &v)
			if _, ok := v["closedAt"]; ok || v["state"] != "open" || v["lastSeenAt"] != "2026-01-06T14:17:32Z" {
				t.Errorf("view after a new trigger %s, want open without closedAt", b)
			}
		})
	}
}
