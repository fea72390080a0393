package psafake_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"

	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/psa/psatest"
)

// TestConformance runs the PSA behaviour suite against the fake, as a
// client without reopen, with reopen, and with every optional role
// switched off (each must then answer "not supported").
func TestConformance(t *testing.T) {
	t.Run("client", func(t *testing.T) { psatest.Run(t, psafake.Harness(false)) })
	t.Run("reopening client", func(t *testing.T) { psatest.Run(t, psafake.Harness(true)) })
	t.Run("without the optional roles", func(t *testing.T) {
		psatest.Run(t, psafake.Harness(false, psafake.Unsupported("CreateAccount", "FindAccountsByExternalRef",
			"AccountsCreatedSince", "FindAssetsByExternalRef", "FindTicketsByExternalRef", "ListMembers")))
	})
}

// TestFailures: Fail answers before the call does anything, FailAfter
// after the write is carried out (an ambiguous write), each for its
// count; OnCall sees every call by name.
func TestFailures(t *testing.T) {
	ctx := context.Background()
	p := psafake.New(psafake.FirstID(100))
	c := p.Client()
	down := apperr.New(apperr.Unavailable, "PSA down")
	var seen []string
	p.OnCall(func(m string) error { seen = append(seen, m); return nil })

	p.Fail("CreateAccount", 1, down)
	if _, err := c.CreateAccount(ctx, psa.NewAccount{Name: "Acme"}); !errors.Is(err, down) {
		t.Fatalf("first create: %v, want the injected failure", err)
	}
	if n := len(p.Accounts()); n != 0 {
		t.Errorf("a failed create stored %d accounts", n)
	}
	p.FailAfter("CreateAccount", 1, down)
	if _, err := c.CreateAccount(ctx, psa.NewAccount{Name: "Acme", ExternalRef: "12"}); !errors.Is(err, down) {
		t.Fatalf("ambiguous create: %v, want the injected failure", err)
	}
	found, err := c.FindAccountsByExternalRef(ctx, "12")
	if err != nil || len(found) != 1 || found[0].ID != "101" {
		t.Errorf("after the ambiguous create: %+v, %v; want account 101 stored", found, err)
	}
	if _, err := c.CreateAccount(ctx, psa.NewAccount{Name: "Globex"}); err != nil {
		t.Errorf("third create: %v, want success (each failure was used once)", err)
	}
	want := []string{"CreateAccount", "CreateAccount", "FindAccountsByExternalRef", "CreateAccount"}
	if d := cmp.Diff(want, seen); d != "" {
		t.Errorf("calls seen by the hook (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int{"CreateAccount": 3, "FindAccountsByExternalRef": 1}, p.CallCounts()); d != "" {
		t.Errorf("call counts (-want +got):\n%s", d)
	}

	p.Fail("GetTicket", -1, down)
	for range 3 {
		if _, err := c.GetTicket(ctx, "1"); !errors.Is(err, down) {
			t.Fatalf("GetTicket: %v, want the standing failure", err)
		}
	}
	p.Fail("GetTicket", 0, nil)
	if _, err := c.GetTicket(ctx, "1"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("GetTicket after clearing: %v, want NotFound", err)
	}
}

// TestOnly: methods outside the list answer NotImplemented.
func TestOnly(t *testing.T) {
	ctx := context.Background()
	p := psafake.New(psafake.Only("GetAccount"))
	a := p.AddAccount(psafake.Account{Account: psa.Account{Name: "Acme"}})
	if got, err := p.Client().GetAccount(ctx, a.ID); err != nil || got.Name != "Acme" {
		t.Errorf("GetAccount = %+v, %v; want Acme", got, err)
	}
	if _, err := p.Client().CreateAccount(ctx, psa.NewAccount{Name: "Globex"}); !apperr.Is(err, apperr.NotImplemented) {
		t.Errorf("CreateAccount = %v, want NotImplemented", err)
	}
	if err := p.Reopener().ReopenTicket(ctx, "1"); !apperr.Is(err, apperr.NotImplemented) {
		t.Errorf("ReopenTicket = %v, want NotImplemented", err)
	}
}
