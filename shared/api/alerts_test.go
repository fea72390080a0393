package api

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

const listAlertsRoute = "GET /v1/integrations/{integrationId}/alerts"

func TestAlertRoutes(t *testing.T) {
	ctx := context.Background()
	st := newAssetTable(t)
	conns := dynamostore.NewConnections(st)
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, c := range []connection.Connection{
		{ID: "c_rmm", TenantID: "t_a", Name: "rmm", Kind: connection.KindRMM, Provider: "ninjaone", CreatedAt: now, UpdatedAt: now},
		{ID: "c_psa", TenantID: "t_a", Name: "psa", Kind: connection.KindPSA, Provider: "connectwise", CreatedAt: now, UpdatedAt: now},
	} {
		if err := conns.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := conns.PutIntegration(ctx, connection.Integration{ID: "i_a", TenantID: "t_a", Name: "prod",
		RMMConnectionID: "c_rmm", PSAConnectionID: "c_psa", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	links := dynamostore.NewAlerts(st)
	sc := tenancy.Scope{TenantID: "t_a", IntegrationID: "i_a"}
	for _, l := range []alert.Link{
		{SeriesID: "s-1", DeviceID: "1001", State: alert.StateOpen, Severity: rmm.SeverityMajor, Occurrences: 3, TicketID: "77",
			FirstSeenAt: now.Add(-time.Hour), LastSeenAt: now},
		{SeriesID: "s-2", DeviceID: "1002", State: alert.StateClosed, Severity: rmm.SeverityCritical, Occurrences: 1, TicketID: "78",
			FirstSeenAt: now.Add(-2 * time.Hour), LastSeenAt: now.Add(-time.Hour), ClosedAt: now.Add(-time.Hour)},
		{SeriesID: "s-3", DeviceID: "1003", State: alert.StateUnroutable, Severity: rmm.SeverityMinor, Occurrences: 1,
			FirstSeenAt: now, LastSeenAt: now, Unrouted: "organization 13 is not mapped"},
		{SeriesID: "s-5", DeviceID: "1005", State: alert.StateFiltered, Severity: rmm.SeverityMinor, Occurrences: 2,
			FirstSeenAt: now, LastSeenAt: now, Filter: alert.Filter{Rule: alert.RuleMinSeverity,
				Setting: "settings.alertPolicy.organizations.12.minSeverity", Value: "major"}},
		{SeriesID: "s-6", DeviceID: "1006", State: alert.StateFiltered, Severity: rmm.SeverityMajor, Occurrences: 1,
			FirstSeenAt: now, LastSeenAt: now, Filter: alert.Filter{Rule: alert.RuleFloodGuard,
				Setting: "settings.alertPolicy.maxTicketsPerHour", Value: "5"}, SummaryTicketID: "90"},
		// A reset whose trigger never came: recorded, not listed.
		{SeriesID: "s-4", DeviceID: "1004", State: alert.StateClosed},
	} {
		l.Version = 1
		if err := links.PutLink(ctx, sc, l); err != nil {
			t.Fatal(err)
		}
	}
	svc := alert.NewService(links, nil, nil, nil, alert.Options{})
	rt := New(Deps{Connections: connection.NewService(conns, noSecrets{}, nil, connection.Options{}), Alerts: svc})
	schema := openapiSchema(t, "AlertList")

	type page struct {
		Items      []map[string]any `json:"items"`
		NextCursor string           `json:"nextCursor"`
	}
	serve := func(t *testing.T, iid string, query map[string]string) (int, page, string) {
		t.Helper()
		resp, err := rt.Serve(ctx, assetRequest(listAlertsRoute, map[string]string{"integrationId": iid}, query))
		if err != nil {
			t.Fatal(err)
		}
		var p page
		if resp.StatusCode == 200 {
			var doc any
			if err := json.Unmarshal([]byte(resp.Body), &doc); err != nil {
				t.Fatal(err)
			}
			if err := schema.VisitJSON(doc); err != nil {
				t.Errorf("response does not match openapi AlertList: %v\n%s", err, resp.Body)
			}
			if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, p, resp.Body
	}
	series := func(p page) []string {
		var out []string
		for _, it := range p.Items {
			out = append(out, it["seriesId"].(string))
		}
		return out
	}

	tests := []struct {
		name   string
		iid    string
		query  map[string]string
		status int
		want   []string
	}{
		{"every series", "i_a", nil, 200, []string{"s-1", "s-2", "s-3", "s-5", "s-6"}},
		{"open", "i_a", map[string]string{"state": "open"}, 200, []string{"s-1"}},
		{"closed", "i_a", map[string]string{"state": "closed"}, 200, []string{"s-2"}},
		{"unroutable", "i_a", map[string]string{"state": "unroutable"}, 200, []string{"s-3"}},
		{"filtered", "i_a", map[string]string{"state": "filtered"}, 200, []string{"s-5", "s-6"}},
		{"unknown state", "i_a", map[string]string{"state": "acknowledged"}, 400, nil},
		{"bad limit", "i_a", map[string]string{"limit": "0"}, 400, nil},
		{"another tenant's or unknown integration", "i_zz", nil, 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, p, body := serve(t, tc.iid, tc.query)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if diff := cmp.Diff(tc.want, series(p)); diff != "" {
				t.Errorf("series (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("fields", func(t *testing.T) {
		_, p, _ := serve(t, "i_a", nil)
		want := []map[string]any{
			{"seriesId": "s-1", "deviceId": "1001", "ticketId": "77", "state": "open", "severity": "major", "occurrences": float64(3),
				"firstSeenAt": "2026-11-21T08:00:00Z", "lastSeenAt": "2026-11-21T09:00:00Z"},
			{"seriesId": "s-2", "deviceId": "1002", "ticketId": "78", "state": "closed", "severity": "critical", "occurrences": float64(1),
				"firstSeenAt": "2026-11-21T07:00:00Z", "lastSeenAt": "2026-11-21T08:00:00Z", "closedAt": "2026-11-21T08:00:00Z"},
			{"seriesId": "s-3", "deviceId": "1003", "state": "unroutable", "severity": "minor", "occurrences": float64(1),
				"firstSeenAt": "2026-11-21T09:00:00Z", "lastSeenAt": "2026-11-21T09:00:00Z", "reason": "organization 13 is not mapped"},
			{"seriesId": "s-5", "deviceId": "1005", "state": "filtered", "severity": "minor", "occurrences": float64(2),
				"firstSeenAt": "2026-11-21T09:00:00Z", "lastSeenAt": "2026-11-21T09:00:00Z",
				"filter": map[string]any{"rule": "minSeverity", "setting": "settings.alertPolicy.organizations.12.minSeverity", "value": "major"}},
			{"seriesId": "s-6", "deviceId": "1006", "state": "filtered", "severity": "major", "occurrences": float64(1),
				"firstSeenAt": "2026-11-21T09:00:00Z", "lastSeenAt": "2026-11-21T09:00:00Z", "summaryTicketId": "90",
				"filter": map[string]any{"rule": "floodGuard", "setting": "settings.alertPolicy.maxTicketsPerHour", "value": "5"}},
		}
		if diff := cmp.Diff(want, p.Items); diff != "" {
			t.Errorf("items (-want +got):\n%s", diff)
		}
	})
	t.Run("pages", func(t *testing.T) {
		var got []string
		cursor := ""
		for range 5 {
			q := map[string]string{"limit": "2"}
			if cursor != "" {
				q["cursor"] = cursor
			}
			status, p, body := serve(t, "i_a", q)
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			got = append(got, series(p)...)
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if diff := cmp.Diff([]string{"s-1", "s-2", "s-3", "s-5", "s-6"}, got); diff != "" {
			t.Errorf("series over pages (-want +got):\n%s", diff)
		}
	})
	t.Run("not wired", func(t *testing.T) {
		resp, err := New(Deps{}).Serve(ctx, assetRequest(listAlertsRoute, map[string]string{"integrationId": "i_a"}, nil))
		if err != nil || resp.StatusCode != 501 {
			t.Errorf("without an alert service: %d %v, want 501", resp.StatusCode, err)
		}
	})
}
