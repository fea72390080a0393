package connection

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// boardPSA are the lists of a PSA whose statuses are per board (as
// ConnectWise's): Service has New and Closed, Dental only Open; without a
// board it lists none (Invalid). It counts calls.
type boardPSA struct{ calls int }

func (p *boardPSA) ListBoards(context.Context) ([]psa.NamedRef, error) {
	p.calls++
	return []psa.NamedRef{{ID: "1", Name: "Service"}, {ID: "2", Name: "Dental"}}, nil
}

func (p *boardPSA) ListPriorities(context.Context) ([]psa.NamedRef, error) {
	p.calls++
	return []psa.NamedRef{{ID: "7", Name: "High"}}, nil
}

func (p *boardPSA) ListTicketStatuses(_ context.Context, b psa.NamedRef) ([]psa.NamedRef, error) {
	p.calls++
	switch {
	case b.IsZero():
		return nil, apperr.New(apperr.Invalid, "statuses are per board: name a board")
	case strings.EqualFold(b.Name, "dental") || b.ID == "2":
		return []psa.NamedRef{{ID: "20", Name: "Open"}}, nil
	}
	return []psa.NamedRef{{ID: "10", Name: "New"}, {ID: "11", Name: "Closed"}}, nil
}

func (p *boardPSA) ListTicketTypes(context.Context, psa.NamedRef) ([]psa.NamedRef, error) {
	p.calls++
	return []psa.NamedRef{{ID: "30", Name: "Alert"}}, nil
}

// listsTester accepts any credentials and opens lists.
type listsTester struct{ lists *boardPSA }

func (listsTester) Test(context.Context, string, string, Credentials) error { return nil }

func (l listsTester) TicketPicklists(context.Context, string, string, Credentials, map[string]any) (psa.TicketPicklists, bool, error) {
	return l.lists, true, nil
}

// TestBoardScopedValuesFollowTheOrganizationsBoard: statuses are checked
// among the board they will be used with: an organization whose own board
// lacks the integration's status is refused naming the organization's
// status (the value it inherits); an organization setting its own valid
// status passes; a status without any board, on a PSA that lists statuses
// per board, is refused naming the status; a patch that leaves the ticket
// values alone does not ask the PSA.
func TestBoardScopedValuesFollowTheOrganizationsBoard(t *testing.T) {
	ctx := t.Context()
	lists := &boardPSA{}
	cat := vendorspec.MustCatalog(
		vendorspec.Spec{Name: "acmermm", Kind: KindRMM, DisplayName: "Acme RMM",
			OpenRMM: func(vendorspec.Params) (rmm.Client, error) { return nil, nil }},
		vendorspec.Spec{Name: "listpsa", Kind: KindPSA, DisplayName: "PSA with lists",
			Capabilities: []vendorspec.Offer{{Capability: vendorspec.TicketsPicklists}},
			OpenPSA:      func(vendorspec.Params) (psa.Client, error) { return nil, nil }},
	)
	store := newMemStore()
	s := NewService(store, &memSecrets{m: map[string][]byte{"ref": []byte(`{"k":"v"}`)}}, listsTester{lists}, Options{Resolver: testResolver(), Vendors: cat})
	for _, c := range []Connection{{ID: "c_r", Kind: KindRMM, Provider: "acmermm"}, {ID: "c_p", Kind: KindPSA, Provider: "listpsa"}} {
		c.TenantID, c.Name, c.BaseURL, c.Settings, c.SecretRef = "t_1", c.ID, "https://na.myconnectwise.net", map[string]any{}, "ref"
		if err := store.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	in := func(set Settings) IntegrationInput {
		return IntegrationInput{Name: "ig", RMMConnectionID: "c_r", PSAConnectionID: "c_p", Settings: set}
	}
	base := Settings{TicketDefaults: map[string]string{"board": "Service", "status": "New"}}
	withOrgs := base
	withOrgs.AlertPolicy.Organizations = map[string]OrgPolicy{
		"12": {TicketDefaults: map[string]string{"board": "Dental"}},
		"13": {TicketDefaults: map[string]string{"board": "2", "status": "open"}},
	}
	_, _, err := s.CreateIntegration(ctx, "t_1", in(withOrgs))
	e, _ := apperr.As(err)
	if e == nil || len(e.Fields) != 1 || e.Fields[0].Field != "settings.alertPolicy.organizations.12.ticketDefaults.status" ||
		!strings.Contains(e.Fields[0].Message, "inherited from settings.ticketDefaults.status") {
		t.Fatalf("an organization's board lacking the inherited status: %v (%+v), want one error naming organization 12's status", err, e)
	}
	_, _, err = s.CreateIntegration(ctx, "t_1", in(Settings{TicketDefaults: map[string]string{"status": "New"}}))
	if e, _ := apperr.As(err); e == nil || len(e.Fields) != 1 || e.Fields[0].Field != "settings.ticketDefaults.status" || !strings.Contains(e.Fields[0].Message, "without a board") {
		t.Errorf("a status without a board: %v, want an error naming settings.ticketDefaults.status", err)
	}
	ig, _, err := s.CreateIntegration(ctx, "t_1", in(base))
	if err != nil {
		t.Fatal(err)
	}
	before := lists.calls
	name := "renamed"
	same := base
	same.ReopenWindowMinutes = 30
	if _, err := s.UpdateIntegration(ctx, "t_1", ig.ID, IntegrationPatch{Name: &name, Settings: &same}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, lists.calls); d != "" {
		t.Errorf("list calls for a patch leaving ticket values alone (-want +got):\n%s", d)
	}
}

// failingLists is a PSA whose lists fail with err.
type failingLists struct{ err error }

func (f failingLists) ListBoards(context.Context) ([]psa.NamedRef, error)     { return nil, f.err }
func (f failingLists) ListPriorities(context.Context) ([]psa.NamedRef, error) { return nil, f.err }
func (f failingLists) ListTicketStatuses(context.Context, psa.NamedRef) ([]psa.NamedRef, error) {
	return nil, f.err
}
func (f failingLists) ListTicketTypes(context.Context, psa.NamedRef) ([]psa.NamedRef, error) {
	return nil, f.err
}

// failingTester opens failingLists, or fails opening them.
type failingTester struct{ openErr, listErr error }

func (failingTester) Test(context.Context, string, string, Credentials) error { return nil }

func (f failingTester) TicketPicklists(context.Context, string, string, Credentials, map[string]any) (psa.TicketPicklists, bool, error) {
	if f.openErr != nil {
		return nil, false, f.openErr
	}
	return failingLists{f.listErr}, true, nil
}

// TestPSAThatCannotBeAskedSavesNothing: a PSA that throttles is a
// Throttled error keeping its Retry-After, one that is down stays
// Unavailable, and any other failure (a refused token, a 500) is a Vendor
// error, never a 401 or 422 of rmmbridge's own, and never a save.
func TestPSAThatCannotBeAskedSavesNothing(t *testing.T) {
	ctx := t.Context()
	cat := vendorspec.MustCatalog(
		vendorspec.Spec{Name: "acmermm", Kind: KindRMM, DisplayName: "Acme RMM",
			OpenRMM: func(vendorspec.Params) (rmm.Client, error) { return nil, nil }},
		vendorspec.Spec{Name: "listpsa", Kind: KindPSA, DisplayName: "PSA with lists",
			Capabilities: []vendorspec.Offer{{Capability: vendorspec.TicketsPicklists}},
			OpenPSA:      func(vendorspec.Params) (psa.Client, error) { return nil, nil }},
	)
	throttled := &apperr.Error{Kind: apperr.Throttled, Message: "slow down", RetryAfter: 7 * time.Second, VendorStatus: 429}
	for _, tc := range []struct {
		name   string
		tester failingTester
		want   apperr.Kind
		retry  time.Duration
	}{
		{"throttled", failingTester{listErr: throttled}, apperr.Throttled, 7 * time.Second},
		{"down", failingTester{listErr: apperr.New(apperr.Unavailable, "PSA could not be reached")}, apperr.Unavailable, 0},
		{"token refused", failingTester{listErr: apperr.New(apperr.Unauthorized, "the token was refused")}, apperr.Vendor, 0},
		{"opening fails", failingTester{openErr: errors.New("boom")}, apperr.Vendor, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			s := NewService(store, &memSecrets{m: map[string][]byte{"ref": []byte(`{"k":"v"}`)}}, tc.tester, Options{Resolver: testResolver(), Vendors: cat})
			for _, c := range []Connection{{ID: "c_r", Kind: KindRMM, Provider: "acmermm"}, {ID: "c_p", Kind: KindPSA, Provider: "listpsa"}} {
				c.TenantID, c.Name, c.BaseURL, c.Settings, c.SecretRef = "t_1", c.ID, "https://na.myconnectwise.net", map[string]any{}, "ref"
				if err := store.PutConnection(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := s.CreateIntegration(ctx, "t_1", IntegrationInput{Name: "ig", RMMConnectionID: "c_r", PSAConnectionID: "c_p",
				Settings: Settings{PriorityMap: map[string]string{"critical": "P1"}}})
			e, ok := apperr.As(err)
			if !ok || e.Kind != tc.want || e.RetryAfter != tc.retry || !strings.Contains(e.Message, "nothing was saved") {
				t.Errorf("CreateIntegration = %v (%+v), want %s with Retry-After %s saying nothing was saved", err, e, tc.want, tc.retry)
			}
			if n := len(store.ints); n != 0 {
				t.Errorf("%d integrations saved", n)
			}
		})
	}
}
