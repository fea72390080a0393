package dattormm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendors/dattormm/sandbox"
)

// TestBodiesAgreeWithTheSandbox: the bodies the README documents are the
// ones the sandbox posts.
func TestBodiesAgreeWithTheSandbox(t *testing.T) {
	if TriggeredBody != sandbox.TriggeredTemplate || ResolvedBody != sandbox.ResolvedTemplate {
		t.Error("the client's webhook bodies differ from the sandbox's templates")
	}
}

// render substitutes variables as Datto does: as text, unescaped.
func render(template string, vars map[string]string) []byte {
	for k, v := range vars {
		template = strings.ReplaceAll(template, "["+k+"]", v)
	}
	return []byte(template)
}

var fullVars = map[string]string{
	"alert_uid": "4f6c2e9a-1b2c-4d5e-8f90-123456789abc", "platform": "merlot",
	"device_uid": "a1b2c3d4-0000-4000-8000-000000000001", "site_uid": "5e6f7a8b-0000-4000-8000-000000000002",
	"device_hostname": "ACME-WS-001", "alert_priority": "High", "alert_message": "Disk usage on C: is above 90%",
	"timestamp": "2025-03-14T09:26:53Z",
}

func TestParseWebhook(t *testing.T) {
	uid := fullVars["alert_uid"]
	full := rmm.Alert{SeriesID: uid, ActivityID: uid + ":triggered", State: rmm.AlertTriggered,
		DeviceID: fullVars["device_uid"], OrganizationID: fullVars["site_uid"], SiteID: fullVars["site_uid"],
		DeviceName: "ACME-WS-001", Priority: "high", Severity: rmm.SeverityMajor,
		Subject: "Disk usage on C: is above 90%", Message: "Disk usage on C: is above 90%",
		OccurredAt: time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC), Values: map[string]string{"platform": "merlot"}}
	resolved := full
	resolved.State, resolved.ActivityID = rmm.AlertReset, uid+":reset"
	onlyUID := rmm.Alert{SeriesID: uid, ActivityID: uid + ":triggered", State: rmm.AlertTriggered, Severity: rmm.SeverityNone}

	for _, tc := range []struct {
		name    string
		body    []byte
		want    rmm.Alert
		isAlert bool
		kind    *apperr.Kind
	}{
		{name: "triggered", body: render(TriggeredBody, fullVars), want: full, isAlert: true},
		{name: "resolved", body: render(ResolvedBody, fullVars), want: resolved, isAlert: true},
		{name: "only the alert uid substituted", body: render(TriggeredBody, map[string]string{"alert_uid": uid}), want: onlyUID, isAlert: true},
		{name: "minimal body", body: []byte(`{"event":"Triggered","alertUid":"` + uid + `"}`), want: onlyUID, isAlert: true},
		{name: "message with an unescaped quote", body: render(TriggeredBody, map[string]string{"alert_uid": uid, "alert_message": `Service "Spooler" stopped`}),
			want: onlyUID, isAlert: true},
		{name: "unquoted numeric variable", body: []byte(`{"event":"resolved","alertUid":"` + uid + `","priority":3}`),
			want: rmm.Alert{SeriesID: uid, ActivityID: uid + ":reset", State: rmm.AlertReset, Priority: "3", Severity: rmm.SeverityNone}, isAlert: true},
		{name: "test send with the uid unsubstituted", body: []byte(TriggeredBody)},
		{name: "another event", body: []byte(`{"event":"test","platform":"merlot"}`)},
		{name: "alert uid that is no uid", body: []byte(`{"event":"triggered","alertUid":"../../v2/account"}`), kind: ptr(apperr.Invalid)},
		{name: "alert event without uid", body: []byte(`{"event":"triggered"}`), kind: ptr(apperr.Invalid)},
		{name: "object without event or uid", body: []byte(`{"text":"hello"}`), kind: ptr(apperr.Malformed)},
		{name: "array", body: []byte(`[{"event":"triggered"}]`), kind: ptr(apperr.Malformed)},
		{name: "broken JSON without the fields", body: []byte(`{"event": triggered`), kind: ptr(apperr.Malformed)},
		{name: "object field", body: []byte(`{"event":"triggered","alertUid":{"x":1}}`), kind: ptr(apperr.Malformed)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := ParseWebhook(tc.body)
			if tc.kind != nil {
				if ok || !apperr.Is(err, *tc.kind) {
					t.Fatalf("= %v, %v; want apperr %v", ok, err, *tc.kind)
				}
				return
			}
			if err != nil || ok != tc.isAlert {
				t.Fatalf("= %v, %v; want %v, nil", ok, err, tc.isAlert)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("alert (-want +got):\n%s", d)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestResolveAlertReadsDattosRecord: a body with only the alert uid gets
// its device, site, priority and condition from GET /v2/alert/{uid}.
func TestResolveAlertReadsDattosRecord(t *testing.T) {
	e := newEnv(t, sandbox.Options{Sites: 2, Devices: 4}, Config{})
	dev := e.sb.Devices()[1]
	id, err := e.sb.NewAlert(dev.UID, "", 3) // device offline: Critical
	if err != nil {
		t.Fatal(err)
	}
	parsed, ok, err := ParseWebhook(render(TriggeredBody, map[string]string{"alert_uid": id}))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	a, err := e.client.ResolveAlert(context.Background(), parsed)
	if err != nil {
		t.Fatal(err)
	}
	if a.DeviceID != dev.UID || a.OrganizationID != dev.SiteUID || a.SiteID != dev.SiteUID || a.Severity != rmm.SeverityCritical ||
		a.Priority != "critical" || a.Code != "online_offline_status_ctx" || a.Values["status"] != "OFFLINE" || a.State != rmm.AlertTriggered ||
		a.DeviceName != dev.Hostname || a.Message == "" {
		t.Errorf("resolved alert = %+v", a)
	}
	if _, err := e.client.ResolveAlert(context.Background(), rmm.Alert{SeriesID: "no-such-alert"}); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("missing alert: %v", err)
	}
}

// FuzzParseWebhook: whatever Datto's text substitution makes of the body,
// the parser returns an alert with a valid series and state, a
// well-formed non-alert, or a Malformed/Invalid error; it never panics.
func FuzzParseWebhook(f *testing.F) {
	f.Add(render(TriggeredBody, fullVars))
	f.Add(render(ResolvedBody, fullVars))
	f.Add([]byte(TriggeredBody))
	f.Add(render(TriggeredBody, map[string]string{"alert_uid": "x", "alert_message": `a "quoted" \ message`}))
	f.Add([]byte(`{"event":"triggered","alertUid":"abc","timestamp":1741944413531}`))
	f.Add([]byte(`{"event":null,"alertUid":true}`))
	f.Add([]byte(`{"event":"resolved","alertUid":"abc"`))
	f.Add([]byte("\xff\xfe{"))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, ok, err := ParseWebhook(body)
		if err != nil {
			if ok {
				t.Fatal("an error with isAlert")
			}
			if k := apperr.KindOf(err); k != apperr.Malformed && k != apperr.Invalid {
				t.Fatalf("error kind %v: %v", k, err)
			}
			return
		}
		if !ok {
			return
		}
		if !isUID(a.SeriesID) || (a.State != rmm.AlertTriggered && a.State != rmm.AlertReset) {
			t.Fatalf("alert with series %q state %q", a.SeriesID, a.State)
		}
		for _, id := range []string{a.DeviceID, a.OrganizationID} {
			if id != "" && !isUID(id) {
				t.Fatalf("id %q is not a uid", id)
			}
		}
	})
}

// TestREADMEDocumentsTheBodies: the README shows the two bodies exactly
// as the parser expects them.
func TestREADMEDocumentsTheBodies(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{TriggeredBody, ResolvedBody} {
		if !strings.Contains(string(b), "\n"+body+"\n") {
			t.Errorf("README.md does not show the body %s on a line of its own", body)
		}
	}
}
