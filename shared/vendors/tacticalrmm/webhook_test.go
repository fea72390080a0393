package tacticalrmm

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendors/tacticalrmm/sandbox"
)

// webhookSandbox is a sandbox with one known agent, to render URL Action
// bodies exactly as Tactical does.
func webhookSandbox(t testing.TB) (*sandbox.Server, sandbox.Agent, string, string) {
	sb := sandbox.New(sandbox.Options{Seed: 1, Clients: 1, Agents: 0, Epoch: testEpoch})
	site := sb.Sites()[0]
	id, err := sb.AddAgent(sandbox.Agent{Site: site.ID, Hostname: "ACME-WS-001", Plat: "windows", MonitoringType: "workstation"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range sb.Agents() {
		if a.AgentID == id {
			return sb, a, strconv.Itoa(site.Client), strconv.Itoa(site.ID)
		}
	}
	t.Fatal("agent not added")
	return nil, sandbox.Agent{}, "", ""
}

// TestParseWebhook reads the documented bodies as Tactical posts them,
// with the substitution quirks.
func TestParseWebhook(t *testing.T) {
	sb, a, clientID, siteID := webhookSandbox(t)
	at := time.Date(2025, 3, 14, 9, 26, 53, 531234000, time.UTC)
	render := func(tmpl string, ev sandbox.AlertEvent) []byte {
		ev.AgentID = a.AgentID
		b, err := sb.Render(tmpl, ev)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	base := rmm.Alert{SeriesID: "42", ActivityID: "42:triggered", DeviceID: a.AgentID, DeviceName: "ACME-WS-001",
		OrganizationID: clientID, SiteID: siteID, State: rmm.AlertTriggered, Severity: rmm.SeverityMajor, Priority: "error",
		Code: "check", Subject: "Disk space check failing", Message: "Disk space check failing", SourceName: "Disk space check: Drive C:",
		Values:     map[string]string{"alert_type": "check", "check": "Disk space check: Drive C:", "client": sb.Clients()[0].Name, "site": "Main Office"},
		OccurredAt: at}
	ev := sandbox.AlertEvent{ID: "42", AlertType: "check", Severity: "error", Message: "Disk space check failing", CheckDesc: "Disk space check: Drive C:", AlertTime: at}
	with := func(f func(a *rmm.Alert)) rmm.Alert {
		x := base
		x.Values = map[string]string{}
		for k, v := range base.Values {
			x.Values[k] = v
		}
		f(&x)
		return x
	}
	resolvedEv := ev
	resolvedEv.ResolvedOn = at.Add(time.Hour)
	quoted := ev
	quoted.Message = `Ping "gateway" \ failed` + "\x01\n"
	availability := sandbox.AlertEvent{ID: "7", AlertType: "availability", Severity: "error", Message: "ACME-WS-001 is overdue", AlertTime: at}
	for _, tc := range []struct {
		name string
		body []byte
		want rmm.Alert
	}{
		{"failure action", render(sandbox.FailureBody, ev), base},
		{"resolved action", render(sandbox.ResolvedBody, resolvedEv), with(func(x *rmm.Alert) {
			x.State, x.ActivityID, x.OccurredAt = rmm.AlertReset, "42:reset", at.Add(time.Hour)
		})},
		{"a quote in the message: the body comes as a JSON string", render(sandbox.FailureBody, quoted), with(func(x *rmm.Alert) {
			x.Subject, x.Message = `Ping "gateway" \ failed`, `Ping "gateway" \ failed`
		})},
		{"an availability alert: no check, no task (None)", render(sandbox.FailureBody, availability), with(func(x *rmm.Alert) {
			x.SeriesID, x.ActivityID, x.Code, x.SourceName = "7", "7:triggered", "availability", "availability"
			x.Subject, x.Message = "ACME-WS-001 is overdue", "ACME-WS-001 is overdue"
			x.Values = map[string]string{"alert_type": "availability", "client": base.Values["client"], "site": "Main Office"}
		})},
		{"placeholders outside quotes", []byte(`{"event": "trigger", "alert_id": 42, "client_id": ` + clientID + `, "site_id": null, "agent_id": "` + a.AgentID + `", "severity": "warning", "snoozed": false}`),
			rmm.Alert{SeriesID: "42", ActivityID: "42:triggered", DeviceID: a.AgentID, OrganizationID: clientID, State: rmm.AlertTriggered,
				Severity: rmm.SeverityModerate, Priority: "warning"}},
	} {
		got, ok, err := ParseWebhook(tc.body)
		if err != nil || !ok {
			t.Errorf("%s: %v, %v\n%s", tc.name, ok, err, tc.body)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s\nbody %s", tc.name, d, tc.body)
		}
	}

	// Well-formed non-alerts: the Web Hook's Test button (no alert), other
	// events.
	for _, body := range [][]byte{
		render(sandbox.FailureBody, sandbox.AlertEvent{}),
		[]byte(`{"event": "heartbeat", "alert_id": "1"}`),
	} {
		if _, ok, err := ParseWebhook(body); ok || err != nil {
			t.Errorf("%s: %v, %v; want no alert, no error", body, ok, err)
		}
	}
	for _, body := range []string{``, `{`, `[1,2]`, `"just text"`, `{"alert_id": "1"}`, `"{\"alert_id\": \"1\"}"`, `null`, `42`} {
		if _, ok, err := ParseWebhook([]byte(body)); ok || !apperr.Is(err, apperr.Malformed) {
			t.Errorf("%q: %v, %v; want Malformed", body, ok, err)
		}
	}
	if _, ok, err := ParseWebhook([]byte(`{"event":"trigger","alert_id":"1","client_id":"Acme"}`)); ok || !apperr.Is(err, apperr.Invalid) {
		t.Errorf("a client name as client_id: %v, %v; want Invalid", ok, err)
	}
}

// FuzzParseWebhook renders the documented failure body through Tactical's
// substitution (values as text, sanitized, re-encoded or posted as a JSON
// string when a value breaks the JSON) with fuzzed message and check
// texts, and parses it: never a panic; without a double quote in the
// texts the alert's ids come back exactly; whatever the texts, an alert
// has its series and a state, and errors are Malformed or Invalid. Raw
// fuzzed bodies must not panic either.
func FuzzParseWebhook(f *testing.F) {
	sb, a, clientID, _ := webhookSandbox(f)
	for _, s := range []string{"Disk space check failing", `C:\Windows\Temp`, `say "hi"`, "None", "{{alert.id}}", "tab\there\nnewline",
		"\x00\x1f\x7f", "ünïcödé ✓ 😀", `\`, `","client_id":"9`, "", "  "} {
		f.Add(s, s, []byte(`{"event":"trigger","alert_id":"1"}`))
	}
	f.Fuzz(func(t *testing.T, message, check string, raw []byte) {
		checkResult := func(al rmm.Alert, ok bool, err error) {
			if err != nil && !apperr.Is(err, apperr.Malformed) && !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("error kind %v: %v", apperr.KindOf(err), err)
			}
			if ok && (al.SeriesID == "" || (al.State != rmm.AlertTriggered && al.State != rmm.AlertReset)) {
				t.Fatalf("alert without series or state: %+v", al)
			}
		}
		checkResult(ParseWebhook(raw))
		if !utf8.ValidString(message) || !utf8.ValidString(check) {
			return
		}
		body, err := sb.Render(sandbox.FailureBody, sandbox.AlertEvent{ID: "42", AgentID: a.AgentID, AlertType: "check",
			Severity: "error", Message: message, CheckDesc: check, AlertTime: testEpoch})
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(body) {
			t.Fatalf("the sandbox posted invalid JSON: %s", body)
		}
		al, ok, err := ParseWebhook(body)
		checkResult(al, ok, err)
		if strings.ContainsRune(message+check, '"') {
			return
		}
		if err != nil || !ok || al.SeriesID != "42" || al.DeviceID != a.AgentID || al.OrganizationID != clientID || al.State != rmm.AlertTriggered {
			t.Fatalf("message %q, check %q: %+v, %v, %v\nbody %s", message, check, al, ok, err, body)
		}
	})
}
