package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/connection"
)

// TestAlertPolicyValidation saves alert policies through the API, as a
// clumsy or hostile caller would write them: each refusal is a 422 naming
// the field (documented in openapi.yaml) and leaves the integration as
// it was; a valid policy is saved and answered whole, matching the
// schema.
func TestAlertPolicyValidation(t *testing.T) {
	e := newInputEnv(t)
	ids := map[string]string{"integrationId": "i_a"}
	patch := func(policy string) string { return `{"settings":{"alertPolicy":` + policy + `}}` }
	tests := []struct {
		name   string
		policy string
		field  string
	}{
		{"unknown severity", `{"minSeverity":"urgent"}`, "settings.alertPolicy.minSeverity"},
		{"severity in capitals", `{"minSeverity":"MAJOR"}`, "settings.alertPolicy.minSeverity"},
		{"negative flood limit", `{"maxTicketsPerHour":-1}`, "settings.alertPolicy.maxTicketsPerHour"},
		{"flood limit too large", `{"maxTicketsPerHour":1001}`, "settings.alertPolicy.maxTicketsPerHour"},
		{"a type included and excluded", `{"includeTypes":["cpu","Disk_Free"],"excludeTypes":["disk_free"]}`, "settings.alertPolicy.excludeTypes[0]"},
		{"an empty type", `{"excludeTypes":["cpu"," "]}`, "settings.alertPolicy.excludeTypes[1]"},
		{"a 201-character type", `{"includeTypes":["` + strings.Repeat("x", 201) + `"]}`, "settings.alertPolicy.includeTypes[0]"},
		{"101 types", `{"includeTypes":[` + strings.TrimSuffix(strings.Repeat(`"x",`, 101), ",") + `]}`, "settings.alertPolicy.includeTypes"},
		{"a malformed organization id", `{"organizations":{"12#ITEM#3":{"exclude":true}}}`, "settings.alertPolicy.organizations.12#ITEM#3"},
		{"an empty organization id", `{"organizations":{"":{"exclude":true}}}`, "settings.alertPolicy.organizations."},
		{"a 2,000-character organization id", `{"organizations":{"` + strings.Repeat("9", 2000) + `":{}}}`, "settings.alertPolicy.organizations.999*"},
		{"an override's unknown severity", `{"organizations":{"12":{"minSeverity":"high"}}}`, "settings.alertPolicy.organizations.12.minSeverity"},
		{"an override's unknown priority key", `{"organizations":{"12":{"priorityMap":{"urgent":"1"}}}}`, "settings.alertPolicy.organizations.12.priorityMap.urgent"},
		{"an override's huge board", `{"organizations":{"12":{"ticketDefaults":{"board":"` + strings.Repeat("b", 201) + `"}}}}`, "settings.alertPolicy.organizations.12.ticketDefaults.board"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, detail, fe := e.call(t, request{method: "PATCH", route: intRoute, params: ids, body: patch(tc.policy)})
			if st != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422 (%s %+v)", st, detail, fe)
			}
			if !hasField(fe, tc.field) {
				t.Errorf("errors %+v do not name %s", fe, tc.field)
			}
			for _, f := range fe {
				if len(f.Field) > 200 {
					t.Errorf("field name of %d bytes echoes the caller's key", len(f.Field))
				}
			}
		})
	}
	ig, err := e.conns.GetIntegration(context.Background(), "t_a", "i_a")
	if err != nil || !ig.Settings.AlertPolicy.IsZero() || !ig.UpdatedAt.Equal(ig.CreatedAt) {
		t.Fatalf("a refused policy was saved: %+v, %v", ig.Settings.AlertPolicy, err)
	}

	valid := `{"minSeverity":"moderate","includeTypes":["cpu","disk_free"],"excludeTypes":["patch"],"skipMaintenance":true,` +
		`"maxTicketsPerHour":20,"organizations":{"12":{"minSeverity":"critical","ticketDefaults":{"board":"Dental"},"priorityMap":{"major":"1"}},"13":{"exclude":true}}}`
	st, body, fe := e.call(t, request{method: "PATCH", route: intRoute, params: ids, body: patch(valid)})
	if st != http.StatusOK {
		t.Fatalf("valid policy: status %d (%s %+v)", st, body, fe)
	}
	var got struct {
		Settings struct {
			AlertPolicy connection.AlertPolicy `json:"alertPolicy"`
		} `json:"settings"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := connection.AlertPolicy{MinSeverity: "moderate", IncludeTypes: []string{"cpu", "disk_free"}, ExcludeTypes: []string{"patch"},
		SkipMaintenance: true, MaxTicketsPerHour: 20, Organizations: map[string]connection.OrgPolicy{
			"12": {MinSeverity: "critical", TicketDefaults: map[string]string{"board": "Dental"}, PriorityMap: map[string]string{"major": "1"}},
			"13": {Exclude: true}}}
	if diff := cmp.Diff(want, got.Settings.AlertPolicy); diff != "" {
		t.Errorf("answered policy (-want +got):\n%s", diff)
	}
	stored, err := e.conns.GetIntegration(context.Background(), "t_a", "i_a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, stored.Settings.AlertPolicy); diff != "" {
		t.Errorf("stored policy (-want +got):\n%s", diff)
	}
	// Read back through GET, checked against the schema by serve.
	if st, body, _ := e.call(t, request{method: "GET", route: intRoute, params: ids}); st != http.StatusOK || !strings.Contains(body, `"maxTicketsPerHour":20`) {
		t.Errorf("GET integration: %d %s", st, body)
	}
}
