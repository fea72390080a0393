package alert_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// fixture reads a file of the repository's events/ folder.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
	b, err := os.ReadFile(filepath.Join(dir, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// worker is the alert-worker function's SQS handler over the rig's
// service (sqsbatch's edge over alert.Worker).
func (r *rig) worker() sqsbatch.Handler {
	open := func(_ context.Context, tenantID, integrationID string) (alert.Clients, error) {
		if tenantID != r.sc.TenantID || integrationID != r.sc.IntegrationID {
			return alert.Clients{}, apperr.New(apperr.NotFound, "no integration %s", integrationID)
		}
		return r.clients, nil
	}
	return sqsbatch.Processor{Name: "alert-worker", Log: quiet}.BatchHandler(alert.NewWorker(r.svc, open, quiet).Prepare)
}

func TestWorkerAppliesTheFixture(t *testing.T) {
	r := newRig(t, rigOptions{})
	var ev events.SQSEvent
	if err := json.Unmarshal(fixture(t, "sqs-alert.json"), &ev); err != nil {
		t.Fatal(err)
	}
	resp, err := r.worker()(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch item failures %#v, want an empty list", resp.BatchItemFailures)
	}
	tickets := r.psa.Tickets()
	if len(tickets) != 1 {
		t.Fatalf("%d tickets, want 1", len(tickets))
	}
	tk := tickets[0]
	if tk.Summary != "[MAJOR] Memory usage high on ACME-WS-0042" || !tk.Closed || tk.AssetID != "a-1001" ||
		tk.ExternalRef != "3f1c6a2e-8d4b-4f0e-9a57-2b7c1d9e6f10" {
		t.Errorf("ticket %+v, want the trigger's ticket, closed by the reset", tk)
	}
	if !strings.Contains(tk.Description, "Values: duration=5 minutes, threshold=90, unit=%, value=93") {
		t.Errorf("description:\n%s", tk.Description)
	}
	l := r.link(t, "3f1c6a2e-8d4b-4f0e-9a57-2b7c1d9e6f10")
	if l.State != alert.StateClosed || l.Occurrences != 1 || l.DeviceName != "ACME-WS-0042" {
		t.Errorf("link %+v", l)
	}
}

func TestWorkerFailures(t *testing.T) {
	trigger := func(id int64, series string) string {
		b, _ := json.Marshal(alert.Message{TenantID: "t_demo", IntegrationID: "i_demo", DeliveryID: "d",
			Activity: condition(id, series, 1001, true, 0).body(t)})
		return string(b)
	}
	record := func(id, body string) events.SQSMessage {
		return events.SQSMessage{MessageId: id, Body: body, EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:alerts.fifo",
			Attributes: map[string]string{"MessageGroupId": "i_demo#s"}}
	}
	tests := []struct {
		name    string
		setup   func(r *rig)
		records []events.SQSMessage
		failed  []string
		tickets int
	}{
		{name: "a body that is not a message waits in the dead-letter queue",
			records: []events.SQSMessage{record("m1", "not json"), record("m2", `{"tenantId":"t_demo"}`)}, failed: []string{"m1", "m2"}},
		{name: "an alert of an integration deleted since is kept too",
			records: []events.SQSMessage{record("m1", strings.Replace(trigger(1, "s"), "i_demo", "i_gone", 1))}, failed: []string{"m1"}},
		{name: "an activity the parser now refuses is kept",
			records: []events.SQSMessage{record("m1", `{"tenantId":"t_demo","integrationId":"i_demo","activity":{"id":5,"activityType":"CONDITION","statusCode":"TRIGGERED"}}`)},
			failed:  []string{"m1"}},
		{name: "an activity that is not an alert is acknowledged",
			records: []events.SQSMessage{record("m1", `{"tenantId":"t_demo","integrationId":"i_demo","activity":{"id":5,"activityType":"ACTION","statusCode":"NODE_CREATED"}}`)}},
		{name: "a PSA outage fails the record and, FIFO, the ones after it",
			setup:   func(r *rig) { r.psa.Fail("CreateTicket", -1, apperr.New(apperr.Unavailable, "PSA down")) },
			records: []events.SQSMessage{record("m1", trigger(1, "s")), record("m2", trigger(2, "s"))},
			failed:  []string{"m1", "m2"}},
		{name: "rejected PSA credentials keep the record for the dead-letter queue",
			setup:   func(r *rig) { r.psa.Fail("CreateTicket", -1, apperr.New(apperr.Unauthorized, "bad keys")) },
			records: []events.SQSMessage{record("m1", trigger(1, "s"))},
			failed:  []string{"m1"}},
		{name: "records before a failure are kept done",
			setup: func(r *rig) { r.psa.Fail("AddTicketNote", 1, apperr.New(apperr.Unavailable, "PSA down")) },
			records: []events.SQSMessage{record("m1", trigger(1, "s")), record("m2", trigger(2, "s")),
				record("m3", trigger(3, "s"))},
			failed: []string{"m2", "m3"}, tickets: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			if tc.setup != nil {
				tc.setup(r)
			}
			resp, err := r.worker()(context.Background(), events.SQSEvent{Records: tc.records})
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, f := range resp.BatchItemFailures {
				failed = append(failed, f.ItemIdentifier)
			}
			if diff := cmp.Diff(tc.failed, failed); diff != "" {
				t.Errorf("failed records (-want +got):\n%s", diff)
			}
			if n := len(r.psa.Tickets()); n != tc.tickets {
				t.Errorf("%d tickets, want %d", n, tc.tickets)
			}
		})
	}
}

func TestWorkerAppliesEachSeriesAsOneRun(t *testing.T) {
	r := newRig(t, rigOptions{})
	rec := func(id string, a activity) events.SQSMessage {
		b, _ := json.Marshal(alert.Message{TenantID: "t_demo", IntegrationID: "i_demo", DeliveryID: id, Activity: a.body(t)})
		return events.SQSMessage{MessageId: id, Body: string(b), EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:alerts.fifo"}
	}
	batch := events.SQSEvent{Records: []events.SQSMessage{
		rec("A1", condition(1, "A", 1001, true, 0)),
		rec("B1", condition(2, "B", 1001, true, time.Second)),
		rec("A2", condition(3, "A", 1001, true, 2*time.Second)),
		rec("A3", condition(4, "A", 1001, true, 3*time.Second)),
		rec("B2", condition(5, "B", 1001, false, 4*time.Second)),
	}}
	before := r.store.Ops()
	resp, err := r.worker()(context.Background(), batch)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	// Per series: one read, the claim, one final write.
	if n := r.store.Ops() - before; n != 6 {
		t.Errorf("%d database requests for two series, want 6", n)
	}
	a, b := r.link(t, "A"), r.link(t, "B")
	ta, tb := r.psa.Ticket(a.TicketID), r.psa.Ticket(b.TicketID)
	if a.Occurrences != 3 || len(ta.Notes) != 2 || ta.Closed {
		t.Errorf("series A: %d occurrences, notes %q, closed %v; want 3, two notes, open", a.Occurrences, ta.Notes, ta.Closed)
	}
	if b.State != alert.StateClosed || !tb.Closed {
		t.Errorf("series B: %s, ticket closed %v; want closed", b.State, tb.Closed)
	}
	// One refresh per series run that wrote a ticket.
	if n := r.refresh.count(); n != 2 {
		t.Errorf("%d refreshes, want 2", n)
	}
}

// resolvingRMM is an RMM client that also reads its own record of an
// alert (alert.AlertResolver), as Datto RMM's does: here the record puts
// the alert on device 1001 of organization 12, whatever the body said.
type resolvingRMM struct {
	rmm.Client
	err   error
	calls int
}

func (r *resolvingRMM) ResolveAlert(_ context.Context, a rmm.Alert) (rmm.Alert, error) {
	r.calls++
	if r.err != nil {
		return a, r.err
	}
	full := a
	full.DeviceID, full.DeviceName, full.OrganizationID, full.SiteID, full.Priority = "1001", "PC-1001", "12", "34", "critical"
	full.SeriesID, full.State = "not-the-series", rmm.AlertReset // the worker keeps the webhook's own
	return full, nil
}

// TestWorkerRoutesByTheRMMsRecord: when the RMM client offers
// ResolveAlert, the worker routes by the RMM's record of the alert (the
// authoritative device), not by the webhook body; the series and the
// state stay the body's. A record the RMM no longer has falls back to the
// body; any other failure keeps the message for a retry.
func TestWorkerRoutesByTheRMMsRecord(t *testing.T) {
	rec := func(id string, a activity) events.SQSMessage {
		b, _ := json.Marshal(alert.Message{TenantID: "t_demo", IntegrationID: "i_demo", DeliveryID: id, Activity: a.body(t)})
		return events.SQSMessage{MessageId: id, Body: string(b), EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:alerts.fifo"}
	}
	tests := []struct {
		name       string
		err        error
		wantFailed int
		wantState  alert.State
		wantAsset  string
	}{
		// The body names device 1009 of organization 13, unmapped: by the
		// body the alert would be unroutable; by the record it is 1001's.
		{name: "routed by the record", wantState: alert.StateOpen, wantAsset: "a-1001"},
		{name: "no record: the body's device", err: apperr.New(apperr.NotFound, "no Datto RMM alert"), wantState: alert.StateUnroutable},
		{name: "RMM down: retried", err: apperr.New(apperr.Unavailable, "Datto down"), wantFailed: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			res := &resolvingRMM{Client: r.clients.RMM.(rmm.Client), err: tc.err}
			// As the providers open it: wrapped with its capabilities.
			r.clients.RMM = vendorspec.WithRMM(res, vendorspec.Set{Provider: "dattormm", Kind: vendorspec.KindRMM})
			a := condition(1, "S", 1009, true, 0)
			a.Device = json.RawMessage(`{"id":1009,"organizationId":13,"locationId":77,"systemName":"PC-1009"}`)
			resp, err := r.worker()(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec("m1", a)}})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.BatchItemFailures) != tc.wantFailed || res.calls != 1 {
				t.Fatalf("failures %+v, resolver calls %d; want %d failures, one call", resp.BatchItemFailures, res.calls, tc.wantFailed)
			}
			if tc.wantFailed > 0 {
				if n := len(r.psa.Tickets()); n != 0 {
					t.Errorf("%d tickets for a record kept for a retry", n)
				}
				return
			}
			l := r.link(t, "S")
			if l.State != tc.wantState {
				t.Fatalf("series state %s (%+v), want %s", l.State, l, tc.wantState)
			}
			if tc.wantAsset != "" {
				tk := r.psa.Ticket(l.TicketID)
				if tk.AssetID != tc.wantAsset || tk.Closed {
					t.Errorf("ticket %+v, want an open ticket on asset %s (the record's device, the body's trigger state)", tk, tc.wantAsset)
				}
			}
		})
	}
}
