package connectwise_test

import (
	"context"
	"slices"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

// TestTicketPicklists lists the sandbox's boards and priorities, and a
// board's statuses and types by name and by id; an unknown board is an
// Invalid error naming it.
func TestTicketPicklists(t *testing.T) {
	ctx := context.Background()
	_, c, _ := setup(t, sandbox.Options{Seed: 1})
	names := func(refs []psa.NamedRef, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range refs {
			if r.ID == "" || r.Name == "" {
				t.Errorf("ref %+v lacks an id or a name", r)
			}
			out = append(out, r.Name)
		}
		return out
	}
	boards, err := c.ListBoards(ctx)
	if !slices.Contains(names(boards, err), "Help Desk") {
		t.Errorf("boards %v lack Help Desk", boards)
	}
	if got := names(c.ListPriorities(ctx)); !slices.Contains(got, "Priority 1 - Emergency") {
		t.Errorf("priorities %v lack Priority 1 - Emergency", got)
	}
	var helpDesk psa.NamedRef
	for _, b := range boards {
		if b.Name == "Help Desk" {
			helpDesk = b
		}
	}
	byName := names(c.ListTicketStatuses(ctx, psa.NamedRef{Name: "help desk"}))
	byID := names(c.ListTicketStatuses(ctx, psa.NamedRef{ID: helpDesk.ID}))
	if !slices.Contains(byName, "New") || !slices.Equal(byName, byID) {
		t.Errorf("statuses by name %v, by id %v; want the same, with New", byName, byID)
	}
	if got := names(c.ListTicketTypes(ctx, psa.NamedRef{Name: "Help Desk"})); !slices.Contains(got, "Incident") {
		t.Errorf("types %v lack Incident", got)
	}
	_, err = c.ListTicketStatuses(ctx, psa.NamedRef{Name: "No Such Board"})
	if !apperr.Is(err, apperr.Invalid) {
		t.Errorf("unknown board: %v, want Invalid", err)
	}
}
