package alert

import (
	"errors"
	"fmt"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

type needsReview struct{}

func (needsReview) Error() string     { return "several candidates: acme (1.00), acme inc (1.00)" }
func (needsReview) NeedsReview() bool { return true }

// TestUnroutableKinds pins the one mapping from account/asset resolution
// errors to "unroutable, with this reason" versus "retry".
func TestUnroutableKinds(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		reason string
		ok     bool
	}{
		{"nil", nil, "", false},
		{"invalid: creating not allowed", apperr.New(apperr.Invalid, "accounts may not be created"), "accounts may not be created", true},
		{"not found, wrapped", fmt.Errorf("read organization 9: %w", apperr.New(apperr.NotFound, "organization 9 not found")), "organization 9 not found", true},
		{"not implemented", apperr.New(apperr.NotImplemented, "this PSA cannot create accounts"), "this PSA cannot create accounts", true},
		{"conflict needing review", apperr.Wrap(apperr.Conflict, needsReview{}, "organization 9 matches 2 accounts"), "organization 9 matches 2 accounts", true},
		{"review without a safe message", fmt.Errorf("decide: %w", needsReview{}), "the choice of its PSA account waits for a review", true},
		{"conflict: a lost race", apperr.New(apperr.Conflict, "being mapped; try again"), "", false},
		{"unavailable", apperr.New(apperr.Unavailable, "PSA down"), "", false},
		{"throttled", apperr.New(apperr.Throttled, "slow down"), "", false},
		{"vendor 5xx", apperr.New(apperr.Vendor, "502"), "", false},
		{"rejected credentials", apperr.New(apperr.Unauthorized, "bad keys"), "", false},
		{"unclassified", errors.New("connection reset"), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reason, ok := unroutable(tc.err)
			if reason != tc.reason || ok != tc.ok {
				t.Errorf("unroutable = %q, %v; want %q, %v", reason, ok, tc.reason, tc.ok)
			}
		})
	}
}
