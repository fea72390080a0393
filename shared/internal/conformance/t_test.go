package conformance

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRecorder: failures are recorded with their subtest, reach the
// parents, a Fatal ends only its own subtest, and a Skip is a failure.
func TestRecorder(t *testing.T) {
	var ran []string
	rec := Record(t, func(r T) {
		r.Run("passes", func(r T) { ran = append(ran, "passes") })
		r.Run("errors", func(r T) {
			r.Errorf("first %d", 1)
			ran = append(ran, "after Errorf")
		})
		r.Run("fatal", func(r T) {
			r.Fatalf("stop")
			ran = append(ran, "after Fatalf")
		})
		r.Run("skips", func(r T) {
			r.Skip("not today")
			ran = append(ran, "after Skip")
		})
		ran = append(ran, "parent goes on")
	})
	if d := cmp.Diff([]string{"passes", "after Errorf", "parent goes on"}, ran); d != "" {
		t.Errorf("what ran (-want +got):\n%s", d)
	}
	if !rec.Failed() || rec.FailedIn("passes") || !rec.FailedIn("errors") || !rec.FailedIn("fatal") || !rec.FailedIn("skips") {
		t.Errorf("failures = %q", rec.Failures())
	}
	if got := strings.Join(rec.Failures(), "\n"); !strings.Contains(got, "/errors: first 1") || !strings.Contains(got, "/skips: skipped: not today") {
		t.Errorf("failures = %q", got)
	}
	clean := Record(t, func(r T) { r.Run("ok", func(T) {}) })
	if clean.Failed() || len(clean.Failures()) != 0 {
		t.Errorf("a passing run recorded %q", clean.Failures())
	}
}
