package alert_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// TestScreen checks every filtering rule of the alert policy and their
// precedence: an excluded organization first, then maintenance, then the
// minimum severity (an organization's override beats the integration's),
// then excluded types (beating included ones), then included types.
func TestScreen(t *testing.T) {
	on, off := true, false
	alertOf := func(sev rmm.Severity, code, name string) rmm.Alert {
		return rmm.Alert{SeriesID: "s", State: rmm.AlertTriggered, Severity: sev, Code: code, SourceName: name, OrganizationID: "12"}
	}
	major := alertOf(rmm.SeverityMajor, "vmm_cond_memory_usage_ge", "Memory utilization above 90%")
	org12 := alert.Facts{OrganizationID: "12"}
	tests := []struct {
		name   string
		policy connection.AlertPolicy
		alert  rmm.Alert
		facts  alert.Facts
		want   *alert.Filter // nil: the alert may become a ticket
	}{
		{name: "the zero policy lets everything through", alert: major, facts: org12},
		{name: "an alert without severity passes when there is no minimum", alert: alertOf("", "x", ""), facts: org12},
		{name: "below the minimum severity", policy: connection.AlertPolicy{MinSeverity: "critical"}, alert: major, facts: org12,
			want: &alert.Filter{Rule: alert.RuleMinSeverity, Setting: "settings.alertPolicy.minSeverity", Value: "critical"}},
		{name: "at the minimum severity", policy: connection.AlertPolicy{MinSeverity: "major"}, alert: major, facts: org12},
		{name: "an alert without severity is below minor", policy: connection.AlertPolicy{MinSeverity: "minor"}, alert: alertOf("", "x", ""),
			facts: org12, want: &alert.Filter{Rule: alert.RuleMinSeverity, Setting: "settings.alertPolicy.minSeverity", Value: "minor"}},
		{name: "the organization's minimum beats the integration's (lower)",
			policy: connection.AlertPolicy{MinSeverity: "critical", Organizations: map[string]connection.OrgPolicy{"12": {MinSeverity: "minor"}}},
			alert:  major, facts: org12},
		{name: "the organization's minimum beats the integration's (higher)",
			policy: connection.AlertPolicy{MinSeverity: "minor", Organizations: map[string]connection.OrgPolicy{"12": {MinSeverity: "critical"}}},
			alert:  major, facts: org12,
			want: &alert.Filter{Rule: alert.RuleMinSeverity, Setting: "settings.alertPolicy.organizations.12.minSeverity", Value: "critical"}},
		{name: "another organization's override does not apply",
			policy: connection.AlertPolicy{MinSeverity: "minor", Organizations: map[string]connection.OrgPolicy{"13": {MinSeverity: "critical", Exclude: true}}},
			alert:  major, facts: org12},
		{name: "an excluded organization",
			policy: connection.AlertPolicy{Organizations: map[string]connection.OrgPolicy{"12": {Exclude: true}}}, alert: major, facts: org12,
			want: &alert.Filter{Rule: alert.RuleOrganizationExcluded, Setting: "settings.alertPolicy.organizations.12.exclude", Value: "true"}},
		{name: "an excluded organization comes before every other rule",
			policy: connection.AlertPolicy{MinSeverity: "critical", SkipMaintenance: true, ExcludeTypes: []string{"vmm_cond_memory_usage_ge"},
				Organizations: map[string]connection.OrgPolicy{"12": {Exclude: true}}},
			alert: major, facts: alert.Facts{OrganizationID: "12", Maintenance: &on},
			want: &alert.Filter{Rule: alert.RuleOrganizationExcluded, Setting: "settings.alertPolicy.organizations.12.exclude", Value: "true"}},
		{name: "the organization is the one the facts found (the alert names none)",
			policy: connection.AlertPolicy{Organizations: map[string]connection.OrgPolicy{"13": {Exclude: true}}},
			alert:  rmm.Alert{SeriesID: "s", Severity: rmm.SeverityMajor}, facts: alert.Facts{OrganizationID: "13"},
			want: &alert.Filter{Rule: alert.RuleOrganizationExcluded, Setting: "settings.alertPolicy.organizations.13.exclude", Value: "true"}},
		{name: "device in maintenance", policy: connection.AlertPolicy{SkipMaintenance: true, MinSeverity: "critical"}, alert: major,
			facts: alert.Facts{OrganizationID: "12", Maintenance: &on},
			want:  &alert.Filter{Rule: alert.RuleMaintenance, Setting: "settings.alertPolicy.skipMaintenance", Value: "true"}},
		{name: "device not in maintenance", policy: connection.AlertPolicy{SkipMaintenance: true}, alert: major,
			facts: alert.Facts{OrganizationID: "12", Maintenance: &off}},
		{name: "maintenance unknown to the RMM: the rule is inert", policy: connection.AlertPolicy{SkipMaintenance: true}, alert: major, facts: org12},
		{name: "in maintenance but the rule is off", alert: major, facts: alert.Facts{OrganizationID: "12", Maintenance: &on}},
		{name: "excluded by condition code", policy: connection.AlertPolicy{ExcludeTypes: []string{"VMM_COND_MEMORY_USAGE_GE"}}, alert: major, facts: org12,
			want: &alert.Filter{Rule: alert.RuleExcludeTypes, Setting: "settings.alertPolicy.excludeTypes", Value: "VMM_COND_MEMORY_USAGE_GE"}},
		{name: "excluded by condition name", policy: connection.AlertPolicy{ExcludeTypes: []string{"disk", " memory utilization above 90% "}}, alert: major, facts: org12,
			want: &alert.Filter{Rule: alert.RuleExcludeTypes, Setting: "settings.alertPolicy.excludeTypes", Value: "memory utilization above 90%"}},
		{name: "exclude beats include (the code is included, the name excluded)",
			policy: connection.AlertPolicy{IncludeTypes: []string{"vmm_cond_memory_usage_ge"}, ExcludeTypes: []string{"Memory utilization above 90%"}},
			alert:  major, facts: org12,
			want: &alert.Filter{Rule: alert.RuleExcludeTypes, Setting: "settings.alertPolicy.excludeTypes", Value: "Memory utilization above 90%"}},
		{name: "severity is tried before the type lists",
			policy: connection.AlertPolicy{MinSeverity: "critical", ExcludeTypes: []string{"vmm_cond_memory_usage_ge"}},
			alert:  major, facts: org12,
			want: &alert.Filter{Rule: alert.RuleMinSeverity, Setting: "settings.alertPolicy.minSeverity", Value: "critical"}},
		{name: "included", policy: connection.AlertPolicy{IncludeTypes: []string{"disk_free", "vmm_cond_memory_usage_ge"}}, alert: major, facts: org12},
		{name: "not included", policy: connection.AlertPolicy{IncludeTypes: []string{"disk_free", "cpu"}}, alert: major, facts: org12,
			want: &alert.Filter{Rule: alert.RuleIncludeTypes, Setting: "settings.alertPolicy.includeTypes", Value: "disk_free, cpu"}},
		{name: "an alert without code or name is not included", policy: connection.AlertPolicy{IncludeTypes: []string{"cpu"}},
			alert: alertOf(rmm.SeverityCritical, "", ""), facts: org12,
			want: &alert.Filter{Rule: alert.RuleIncludeTypes, Setting: "settings.alertPolicy.includeTypes", Value: "cpu"}},
		{name: "the flood guard is not a screening rule", policy: connection.AlertPolicy{MaxTicketsPerHour: 1}, alert: major, facts: org12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, filtered := alert.Screen(tc.policy, tc.alert, tc.facts)
			var got *alert.Filter
			if filtered {
				got = &f
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
		})
	}
}
