package vendorspec_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// TestBudget: every vendor's connections have the budget settings, typed
// and bounded like any setting; unset, the vendor's defaults apply; a
// vendor cannot declare them itself, nor a nonsensical budget.
func TestBudget(t *testing.T) {
	autotaskLike := base()
	autotaskLike.Budget = vendorspec.Budget{RequestsPerMinute: 80, MaxConcurrency: 3, Share: 0.5}
	plain := base()
	tests := []struct {
		name     string
		spec     vendorspec.Spec
		settings map[string]any
		want     ratelimit.Budget
		wantErr  []string // fields at fault
	}{
		{name: "defaults of a vendor that declares none", spec: plain, settings: map[string]any{"board": "b"},
			want: ratelimit.Budget{Name: "Acme PSA", Requests: vendorspec.DefaultRequestsPerMinute, Window: time.Minute}},
		{name: "the vendor's defaults", spec: autotaskLike, settings: map[string]any{"board": "b"},
			want: ratelimit.Budget{Name: "Acme PSA", Requests: 80, Window: time.Minute, MaxConcurrency: 3, Share: 0.5}},
		{name: "the settings win (JSON numbers); a set budget is not calibrated", spec: autotaskLike,
			settings: map[string]any{"board": "b", "requestsPerMinute": float64(300), "maxConcurrency": float64(2)},
			want:     ratelimit.Budget{Name: "Acme PSA", Requests: 300, Window: time.Minute, MaxConcurrency: 2}},
		{name: "out of bounds and wrong types are 422s naming the setting", spec: plain,
			settings: map[string]any{"board": "b", "requestsPerMinute": 1, "maxConcurrency": "many"},
			wantErr:  []string{"settings.requestsPerMinute", "settings.maxConcurrency"}},
		{name: "zero concurrency is refused (unset means the default)", spec: plain,
			settings: map[string]any{"board": "b", "maxConcurrency": 0}, wantErr: []string{"settings.maxConcurrency"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cat, err := vendorspec.NewCatalog(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := cat.Vendor("acme")
			typed, fe := v.CheckSettings(tc.settings)
			var fields []string
			for _, f := range fe {
				fields = append(fields, f.Field)
			}
			if diff := cmp.Diff(tc.wantErr, fields); diff != "" {
				t.Fatalf("fields at fault (-want +got):\n%s", diff)
			}
			if len(fe) > 0 {
				return
			}
			if diff := cmp.Diff(tc.want, v.Budget(typed)); diff != "" {
				t.Errorf("budget (-want +got):\n%s", diff)
			}
		})
	}

	for _, bad := range []func(*vendorspec.Spec){
		func(s *vendorspec.Spec) {
			s.Settings = append(s.Settings, vendorspec.Setting{Name: "requestsPerMinute", Type: vendorspec.Integer})
		},
		func(s *vendorspec.Spec) {
			s.Settings = append(s.Settings, vendorspec.Setting{Name: "maxConcurrency", Type: vendorspec.Integer})
		},
		func(s *vendorspec.Spec) { s.Budget.MaxConcurrency = -1 },
		func(s *vendorspec.Spec) { s.Budget.Share = 1.5 },
	} {
		s := base()
		bad(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("spec with settings %v, budget %+v: valid, want an error", s.Settings[len(s.Settings)-1].Name, s.Budget)
		}
	}
}

// TestParamsLimiterWithoutBudgets: a client opened without budgets gets a
// nil limiter, which permits every request.
func TestParamsLimiterWithoutBudgets(t *testing.T) {
	l := vendorspec.Params{}.Limiter("")
	if l != nil {
		t.Fatalf("limiter %v, want nil", l)
	}
	release, err := l.Acquire(t.Context(), "all")
	if err != nil {
		t.Fatal(err)
	}
	release(ratelimit.Outcome{Status: 200})
}
