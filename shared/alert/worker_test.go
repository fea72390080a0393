package alert_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
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

func (r *rig) worker() *alert.Worker {
	open := func(_ context.Context, tenantID, integrationID string) (providers.Clients, error) {
		if tenantID != r.sc.TenantID || integrationID != r.sc.IntegrationID {
			return providers.Clients{}, apperr.New(apperr.NotFound, "no integration %s", integrationID)
		}
		return r.clients, nil
	}
	return alert.NewWorker(r.svc, open, sqsbatch.Processor{Name: "alert-worker", Log: quiet})
}

func TestWorkerAppliesTheFixture(t *testing.T) {
	r := newRig(t, rigOptions{})
	var ev events.SQSEvent
	if err := json.Unmarshal(fixture(t, "sqs-alert.json"), &ev); err != nil {
		t.Fatal(err)
	}
	resp, err := r.worker().Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch item failures %#v, want an empty list", resp.BatchItemFailures)
	}
	tickets := r.psa.all()
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
			setup:   func(r *rig) { r.psa.failCreate = apperr.New(apperr.Unavailable, "PSA down") },
			records: []events.SQSMessage{record("m1", trigger(1, "s")), record("m2", trigger(2, "s"))},
			failed:  []string{"m1", "m2"}},
		{name: "rejected PSA credentials keep the record for the dead-letter queue",
			setup:   func(r *rig) { r.psa.failCreate = apperr.New(apperr.Unauthorized, "bad keys") },
			records: []events.SQSMessage{record("m1", trigger(1, "s"))},
			failed:  []string{"m1"}},
		{name: "records before a failure are kept done",
			setup: func(r *rig) { r.psa.failNotes = 1 },
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
			resp, err := r.worker().Handle(context.Background(), events.SQSEvent{Records: tc.records})
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
			if n := len(r.psa.all()); n != tc.tickets {
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
	resp, err := r.worker().Handle(context.Background(), batch)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	// Per series: one read, the claim, one final write.
	if n := r.store.Ops() - before; n != 6 {
		t.Errorf("%d database requests for two series, want 6", n)
	}
	a, b := r.link(t, "A"), r.link(t, "B")
	ta, tb := r.psa.ticket(a.TicketID), r.psa.ticket(b.TicketID)
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

// TestWorkerRunsInTheAlertLane: every vendor request the alert worker
// makes carries the alert lane, whatever lane its caller's context had,
// so that the PSA's request budget serves it before Sync-button refreshes
// and imports.
func TestWorkerRunsInTheAlertLane(t *testing.T) {
	r := newRig(t, rigOptions{})
	var mu sync.Mutex
	var lanes []ratelimit.Lane
	open := func(ctx context.Context, _, _ string) (providers.Clients, error) {
		mu.Lock()
		lanes = append(lanes, ratelimit.LaneFrom(ctx))
		mu.Unlock()
		return r.clients, nil
	}
	w := alert.NewWorker(r.svc, open, sqsbatch.Processor{Name: "alert-worker", Log: quiet})
	var ev events.SQSEvent
	if err := json.Unmarshal(fixture(t, "sqs-alert.json"), &ev); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Handle(ratelimit.WithLane(context.Background(), ratelimit.LaneImport), ev); err != nil {
		t.Fatal(err)
	}
	if len(lanes) == 0 {
		t.Fatal("the worker opened no clients")
	}
	for _, l := range lanes {
		if l != ratelimit.LaneAlert {
			t.Errorf("clients opened in lane %s, want alert", l)
		}
	}
}
