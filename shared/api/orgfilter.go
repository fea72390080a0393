package api

import (
	"context"
	"fmt"
	"sync"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// Values of GET /organizations?mapping=.
const (
	FilterMapped   = "mapped"
	FilterUnmapped = "unmapped"
	// FilterReview keeps the unmapped organizations that auto-match finds
	// several plausible PSA accounts for (multiple_matches): a person must
	// choose, as the imports' review items say.
	FilterReview = "review"
)

// MaxReviewScan caps the unmapped organizations one ?mapping=review
// request matches (each costs one to three PSA searches).
const MaxReviewScan = 200

// reviewConcurrency is how many organizations are matched at once.
const reviewConcurrency = 4

// mappingFilter reads ?mapping=; a value other than mapped, unmapped or
// review is a 400 naming it.
func mappingFilter(r *httpapi.Request) (string, error) {
	switch v := r.Query("mapping"); v {
	case "", FilterMapped, FilterUnmapped, FilterReview:
		return v, nil
	}
	return "", httpapi.BadRequest(apperr.FieldError{Field: "mapping", Message: "must be mapped, unmapped or review"})
}

// filterOrganizations keeps the organizations the filter selects.
func filterOrganizations(ctx context.Context, p psa.AccountSearcher, views []organizationView, filter string) ([]organizationView, error) {
	if filter == "" {
		return views, nil
	}
	var out []organizationView
	for _, v := range views {
		if (v.Mapping != nil) == (filter == FilterMapped) {
			out = append(out, v)
		}
	}
	if filter != FilterReview {
		return out, nil
	}
	if len(out) > MaxReviewScan {
		return nil, apperr.New(apperr.Invalid, "%d organizations are unmapped; the review filter matches at most %d at once: run an organization import, whose review items list them", len(out), MaxReviewScan)
	}
	review := make([]bool, len(out))
	errs := make([]error, len(out))
	sem := make(chan struct{}, reviewConcurrency)
	var wg sync.WaitGroup
	for i, v := range out {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			res, err := account.MatchName(ctx, p, v.Name)
			if err != nil {
				errs[i] = fmt.Errorf("match organization %s: %w", v.ID, err)
				return
			}
			review[i] = res.Outcome == account.MultipleMatches
		}()
	}
	wg.Wait()
	var kept []organizationView
	for i, v := range out {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if review[i] {
			kept = append(kept, v)
		}
	}
	return kept, nil
}
