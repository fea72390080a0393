package devstack

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDemoSettingsAddTheDevBudget(t *testing.T) {
	spec := map[string]any{"accountRefFieldId": 5}
	tests := []struct {
		name   string
		spec   map[string]any
		budget int
		want   map[string]any
	}{
		{"budget added", spec, 6000, map[string]any{"accountRefFieldId": 5, "requestsPerMinute": 6000}},
		{"no budget: the vendor's default", spec, 0, map[string]any{"accountRefFieldId": 5}},
		{"spec without settings", nil, 6000, map[string]any{"requestsPerMinute": 6000}},
		{"the spec's own budget wins", map[string]any{"requestsPerMinute": 300}, 6000, map[string]any{"requestsPerMinute": 300}},
		{"nothing at all", nil, 0, map[string]any{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, demoSettings(tc.spec, tc.budget)); diff != "" {
				t.Errorf("demoSettings (-want +got):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff(map[string]any{"accountRefFieldId": 5}, spec); diff != "" {
		t.Errorf("the spec's map changed (-want +got):\n%s", diff)
	}
}
