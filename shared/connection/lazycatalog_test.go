package connection

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// catalogedTester is a tester that knows the vendor catalog (as
// providers.Registry does) and counts how often it is asked for it.
type catalogedTester struct {
	countingTester
	asked int
}

func (c *catalogedTester) Catalog() *vendorspec.Catalog {
	c.asked++
	return testVendors()
}

// TestServiceAsksForTheCatalogOnFirstUse: building the service (a
// function's cold start) does not build the vendor catalog; the first use
// that needs it does, and it is the tester's.
func TestServiceAsksForTheCatalogOnFirstUse(t *testing.T) {
	tester := &catalogedTester{}
	s := NewService(newMemStore(), nopSecrets{}, tester, Options{Resolver: testResolver()})
	if tester.asked != 0 {
		t.Fatalf("NewService asked for the catalog %d times, want 0 (at first use)", tester.asked)
	}
	in := acmePSA(nil)
	in.Provider = "nosuch"
	_, err := s.Create(t.Context(), "t_1", in)
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid {
		t.Fatalf("Create = %v, want a 422", err)
	}
	want := []apperr.FieldError{{Field: "provider", Message: "must be one of acmepsa, acmermm, plannedpsa"}}
	if d := cmp.Diff(want, e.Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	if tester.asked == 0 {
		t.Error("Create did not ask the tester for the catalog")
	}
}
