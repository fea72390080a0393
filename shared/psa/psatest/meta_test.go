package psatest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/internal/conformance"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/psa/psatest"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// The broken clients: the fake with one deliberate bug each.

// firstPageOnly loses every page after the first.
type firstPageOnly struct{ *psafake.Client }

func (c firstPageOnly) SearchAccounts(ctx context.Context, q psa.AccountQuery) (psa.Page[psa.Account], error) {
	p, err := c.Client.SearchAccounts(ctx, q)
	p.NextCursor = ""
	return p, err
}

// firstAssetPageOnly loses every asset page after the first.
type firstAssetPageOnly struct{ *psafake.Client }

func (c firstAssetPageOnly) ListAccountAssets(ctx context.Context, acct, cursor string) (psa.Page[psa.Asset], error) {
	p, err := c.Client.ListAccountAssets(ctx, acct, cursor)
	p.NextCursor = ""
	return p, err
}

// ignoresStatus drops the status filter.
type ignoresStatus struct{ *psafake.Client }

func (c ignoresStatus) SearchAccounts(ctx context.Context, q psa.AccountQuery) (psa.Page[psa.Account], error) {
	q.Status = ""
	return c.Client.SearchAccounts(ctx, q)
}

// leaksSecret puts the credential it sent into its errors.
type leaksSecret struct {
	*psafake.Client
	secret string
}

func (c leaksSecret) TestConnection(ctx context.Context) error {
	if err := c.Client.TestConnection(ctx); err != nil {
		return fmt.Errorf("%w (sent key %s)", err, c.secret)
	}
	return nil
}

// placeholderMatches looks up serials without the placeholder rule.
type placeholderMatches struct{ *psafake.Client }

func (c placeholderMatches) FindAssetsBySerial(ctx context.Context, serial string) ([]psa.Asset, error) {
	if !rmm.IsPlaceholderSerial(serial) || serial == "" {
		return c.Client.FindAssetsBySerial(ctx, serial)
	}
	return c.Fake().Assets(func(a psa.Asset) bool { return strings.EqualFold(a.SerialNumber, serial) }), nil
}

// alwaysTouched counts its own notes as a human's.
type alwaysTouched struct{ *psafake.Client }

func (c alwaysTouched) TicketTouched(context.Context, string) (bool, error) { return true, nil }

// dropsRetryAfter forgets how long the vendor asked to wait.
type dropsRetryAfter struct{ *psafake.Client }

func (c dropsRetryAfter) GetAccount(ctx context.Context, id string) (psa.Account, error) {
	a, err := c.Client.GetAccount(ctx, id)
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Throttled {
		return a, apperr.New(apperr.Throttled, "%s", e.Message)
	}
	return a, err
}

// untypedOutage turns a vendor outage into an unclassified error.
type untypedOutage struct{ *psafake.Client }

func (c untypedOutage) GetAccount(ctx context.Context, id string) (psa.Account, error) {
	a, err := c.Client.GetAccount(ctx, id)
	if apperr.Is(err, apperr.Vendor) {
		return a, errors.New("PSA request failed")
	}
	return a, err
}

// wrap replaces the Env's clients after the fake's Open.
func wrap(h psatest.Harness, change func(e *psatest.Env)) psatest.Harness {
	open := h.Open
	h.Open = func(t psatest.T, f psatest.Fixture) *psatest.Env {
		e := open(t, f)
		change(e)
		return e
	}
	return h
}

func client(e *psatest.Env) *psafake.Client { return e.Client.(*psafake.Client) }

func without(caps []psatest.Capability, c psatest.Capability) []psatest.Capability {
	return slices.DeleteFunc(slices.Clone(caps), func(x psatest.Capability) bool { return x == c })
}

// TestSuiteCatchesBrokenClients runs the suite against deliberately
// broken clients through a recording T and checks that it failed, in the
// subtest that covers the bug; and that the honest fake passes.
func TestSuiteCatchesBrokenClients(t *testing.T) {
	honest := psafake.Harness(false)
	tests := []struct {
		name    string
		harness psatest.Harness
		// failIn are subtests that must report a failure; none for the
		// honest fake.
		failIn []string
	}{
		{name: "the honest fake passes", harness: honest},
		{name: "a search that stops at the first page",
			harness: wrap(honest, func(e *psatest.Env) { e.Client = firstPageOnly{client(e)} }),
			failIn:  []string{"account search pages to the last page"}},
		{name: "an asset listing that stops at the first page",
			harness: wrap(honest, func(e *psatest.Env) { e.Client = firstAssetPageOnly{client(e)} }),
			failIn:  []string{"an account's assets list to the last page"}},
		{name: "a status filter that is ignored",
			harness: wrap(honest, func(e *psatest.Env) { e.Client = ignoresStatus{client(e)} }),
			failIn:  []string{"account search filters by status and type"}},
		{name: "an error that shows the secret it sent",
			harness: wrap(honest, func(e *psatest.Env) {
				e.BadCredentials = leaksSecret{e.BadCredentials.(*psafake.Client), "fake-psa-wrong-secret"}
			}),
			failIn: []string{"rejected credentials", "no error carries a credential"}},
		{name: "a serial search that matches more than the serial",
			harness: psafake.Harness(false, psafake.LooseSerialSearch()),
			failIn:  []string{"serial lookups match whole real serials only"}},
		{name: "placeholder serials that match",
			harness: wrap(honest, func(e *psatest.Env) { e.Client = placeholderMatches{client(e)} }),
			failIn:  []string{"serial lookups match whole real serials only"}},
		{name: "our own notes counted as a human's",
			harness: wrap(honest, func(e *psatest.Env) { e.Client = alwaysTouched{client(e)} }),
			failIn:  []string{"ticket lifecycle"}},
		{name: "a Retry-After that is lost",
			harness: wrap(honest, func(e *psatest.Env) { e.Client = dropsRetryAfter{client(e)} }),
			failIn:  []string{"faults/429 with Retry-After"}},
		{name: "an outage that loses its kind",
			harness: wrap(honest, func(e *psatest.Env) { e.Client = untypedOutage{client(e)} }),
			failIn:  []string{"faults/5xx answers that persist end in a transient error"}},
		{name: "reopen declared but missing",
			harness: func() psatest.Harness {
				h := psafake.Harness(false)
				h.Capabilities = append(h.Capabilities, psatest.TicketsReopen)
				return h
			}(),
			failIn: []string{"ticket lifecycle"}},
		{name: "a role the client has but does not declare",
			harness: func() psatest.Harness {
				h := psafake.Harness(false)
				h.Capabilities = without(h.Capabilities, psatest.AccountsFindByRef)
				return h
			}(),
			failIn: []string{"accounts are found by our reference"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := conformance.Record(t, func(r conformance.T) { psatest.RunT(r, tc.harness) })
			if len(tc.failIn) == 0 {
				if rec.Failed() {
					t.Errorf("the suite failed the honest fake:\n%s", strings.Join(rec.Failures(), "\n"))
				}
				return
			}
			if !rec.Failed() {
				t.Fatalf("the suite passed a broken client")
			}
			for _, sub := range tc.failIn {
				if !rec.FailedIn(sub) {
					t.Errorf("no failure reported in %q; failures:\n%s", sub, strings.Join(rec.Failures(), "\n"))
				}
			}
			t.Logf("the suite reported:\n%s", strings.Join(rec.Failures(), "\n"))
		})
	}
}
