package ninjaone

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
	"github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// vendorRequestPutWebhook configures NinjaOne to post condition activities
// to url with a shared-secret header.
func vendorRequestPutWebhook(url string) vendorhttp.Request {
	return vendorhttp.Request{Method: http.MethodPut, Path: "/v2/webhook", Body: map[string]any{
		"url":        url,
		"activities": map[string][]string{"CONDITION": {"TRIGGERED", "RESET"}},
		"expand":     []string{"device", "organization", "location"},
		"headers":    []map[string]string{{"name": "Authorization", "value": "Bearer hook-secret"}},
	}}
}

// triggerBody is shaped like a captured NinjaOne condition webhook.
const triggerBody = `{
  "id": 2233445,
  "activityTime": 1741793638.531,
  "deviceId": 412,
  "severity": "MAJOR",
  "priority": "HIGH",
  "seriesUid": "0b7e6a55-4c0f-4d57-9c1e-5f2a8d1e7c11",
  "activityType": "CONDITION",
  "statusCode": "TRIGGERED",
  "status": "Triggered",
  "activityResult": "SUCCESS",
  "sourceConfigUid": "7d3c1f0e-2a4b-4c6d-8e9f-0a1b2c3d4e5f",
  "sourceName": "Memory utilization above 90%",
  "subject": "Memory utilization is high",
  "message": "Memory utilization is high on ACME-WS-007: 93%",
  "type": "Condition",
  "data": {"message": {"code": "vmm_cond_memory_usage_ge", "params": {"threshold": 90, "value": 93.5, "unit": "%", "duration": 900000}}},
  "device": {"id": 412, "organizationId": 7, "locationId": 19, "systemName": "ACME-WS-007", "displayName": "Front desk PC",
    "references": {"organization": {"id": 7, "name": "Acme, Inc."}, "location": {"id": 19, "name": "Main Office"}}}
}`

func TestParseWebhook(t *testing.T) {
	trigger := rmm.Alert{
		SeriesID: "0b7e6a55-4c0f-4d57-9c1e-5f2a8d1e7c11", ActivityID: "2233445", DeviceID: "412", DeviceName: "ACME-WS-007",
		OrganizationID: "7", SiteID: "19", State: rmm.AlertTriggered, Severity: rmm.SeverityMajor, Priority: "high",
		Code: "vmm_cond_memory_usage_ge", Subject: "Memory utilization is high", Message: "Memory utilization is high on ACME-WS-007: 93%",
		SourceName: "Memory utilization above 90%",
		Values:     map[string]string{"threshold": "90", "value": "93.5", "unit": "%", "duration": "900000"},
		OccurredAt: time.Date(2025, 3, 12, 15, 33, 58, 531e6, time.UTC),
	}
	tests := []struct {
		name      string
		body      string
		want      rmm.Alert
		wantAlert bool
		wantErr   apperr.Kind // checked when wantErrSet
		errSet    bool
	}{
		{name: "trigger", body: triggerBody, want: trigger, wantAlert: true},
		{
			name: "reset in lower case, strings for ids, references only",
			body: `{"id":"2233460","activityTime":1741794538,"deviceId":"412","severity":"NONE","priority":"NONE",
				"seriesUid":"0b7e6a55-4c0f-4d57-9c1e-5f2a8d1e7c11","activityType":"condition","statusCode":"reset","status":"Reset",
				"subject":"Memory utilization is high","device":{"id":412,"references":{"organization":{"id":7},"location":{"id":19}}}}`,
			want: rmm.Alert{SeriesID: "0b7e6a55-4c0f-4d57-9c1e-5f2a8d1e7c11", ActivityID: "2233460", DeviceID: "412",
				OrganizationID: "7", SiteID: "19", State: rmm.AlertReset, Severity: rmm.SeverityNone, Priority: "none",
				Subject: "Memory utilization is high", OccurredAt: time.Date(2025, 3, 12, 15, 48, 58, 0, time.UTC)},
			wantAlert: true,
		},
		{
			name: "series falls back to source config and device, millisecond time",
			body: `{"id":1,"activityTime":1741793638531,"deviceId":5,"activityType":"CONDITION","statusCode":"TRIGGERED",
				"sourceConfigUid":"7d3c1f0e-2a4b-4c6d-8e9f-0a1b2c3d4e5f","severity":"CRITICAL"}`,
			want: rmm.Alert{SeriesID: "7d3c1f0e-2a4b-4c6d-8e9f-0a1b2c3d4e5f:5", ActivityID: "1", DeviceID: "5",
				State: rmm.AlertTriggered, Severity: rmm.SeverityCritical, OccurredAt: time.Date(2025, 3, 12, 15, 33, 58, 531e6, time.UTC)},
			wantAlert: true,
		},
		{name: "status display text is ignored", body: `{"activityType":"CONDITION","statusCode":"ACKNOWLEDGED","status":"Triggered","seriesUid":"x"}`},
		{name: "not a condition", body: `{"id":9,"activityType":"ACTIONSET","statusCode":"COMPLETED","deviceId":5}`},
		{name: "system activity", body: `{"id":10,"activityType":"SYSTEM","statusCode":"NODE_CREATED","deviceId":5}`},
		{name: "malformed JSON", body: `{"activityType":"CONDITION",`, errSet: true, wantErr: apperr.Malformed},
		{name: "not an activity", body: `{"hello":"world"}`, errSet: true, wantErr: apperr.Malformed},
		{name: "array", body: `[1,2]`, errSet: true, wantErr: apperr.Malformed},
		{name: "condition without any series key", body: `{"activityType":"CONDITION","statusCode":"TRIGGERED"}`, errSet: true, wantErr: apperr.Invalid},
		{name: "activityTime not a number", body: `{"activityType":"CONDITION","statusCode":"TRIGGERED","seriesUid":"s","activityTime":"soon"}`, errSet: true, wantErr: apperr.Malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, isAlert, err := ParseWebhook([]byte(tt.body))
			if tt.errSet {
				if !apperr.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if isAlert != tt.wantAlert {
				t.Fatalf("isAlert = %v, want %v", isAlert, tt.wantAlert)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("alert (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSandboxWebhooksParse drives the sandbox's webhook delivery into a
// receiver and parses what arrives: a trigger, then its reset.
func TestSandboxWebhooksParse(t *testing.T) {
	got := make(chan []byte, 2)
	var auth []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		auth = append(auth, r.Header.Get("Authorization"))
		got <- b
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)

	e := newEnv(t, sandbox.Options{Orgs: 3, Devices: 10}, Config{})
	ctx := context.Background()
	// Configure the webhook through the API like an operator would.
	if _, err := e.client.http.Do(ctx, vendorRequestPutWebhook(recv.URL), nil); err != nil {
		t.Fatalf("PUT /v2/webhook: %v", err)
	}
	dev := e.sb.Devices()[3]
	act, err := e.sb.TriggerCondition(ctx, dev.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	alert, isAlert, err := ParseWebhook(<-got)
	if err != nil || !isAlert {
		t.Fatalf("trigger: isAlert %v, err %v", isAlert, err)
	}
	if alert.State != rmm.AlertTriggered || alert.SeriesID != act.SeriesUID || alert.DeviceID != strconv.Itoa(dev.ID) ||
		alert.OrganizationID != strconv.Itoa(dev.OrganizationID) || alert.Severity != rmm.SeverityMajor || alert.Code == "" {
		t.Errorf("trigger parsed as %+v", alert)
	}
	active, _ := e.client.ListAlerts(ctx, "")
	found := false
	for _, a := range active {
		found = found || a.SeriesID == act.SeriesUID
	}
	if !found {
		t.Error("the triggered condition is not among the active alerts")
	}

	if _, err := e.sb.ResetCondition(ctx, dev.ID, act.SeriesUID, 0); err != nil {
		t.Fatal(err)
	}
	reset, isAlert, err := ParseWebhook(<-got)
	if err != nil || !isAlert || reset.State != rmm.AlertReset || reset.SeriesID != alert.SeriesID {
		t.Errorf("reset parsed as %+v (isAlert %v, err %v)", reset, isAlert, err)
	}
	if diff := cmp.Diff([]string{"Bearer hook-secret", "Bearer hook-secret"}, auth); diff != "" {
		t.Errorf("webhook Authorization headers (-want +got):\n%s", diff)
	}
}
