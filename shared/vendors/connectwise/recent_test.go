package connectwise_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

// clock is a settable time source for the sandbox's _info dates.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// TestAccountsCreatedSince creates companies at known sandbox times (one
// before the window, two in it, one carrying rmmbridge's reference, one
// deleted) and lists the window with every paging mode: only the two new
// customer companies come back, in id order, and the filter is the
// server's (one request per page of matches, never a full listing).
func TestAccountsCreatedSince(t *testing.T) {
	t0 := time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	srv, c, _ := setup(t, sandbox.Options{Seed: 5, Orgs: []string{"Contoso Ltd", "Fabrikam GmbH"}, Now: clk.now})
	ctx := context.Background()

	create := func(at time.Time, name, ref string) psa.Account {
		t.Helper()
		clk.set(at)
		a, err := c.CreateAccount(ctx, psa.NewAccount{Name: name, ExternalRef: ref})
		if err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
		return a
	}
	create(t0, "Before The Window", "")
	one := create(t0.Add(1*time.Minute), "Adatum Corporation", "")
	two := create(t0.Add(2*time.Minute), "Litware, Inc.", "")
	ours := create(t0.Add(3*time.Minute), "Created By Rmmbridge", "org-42")
	gone := create(t0.Add(4*time.Minute), "Deleted Later", "")
	var patched map[string]any
	if st := raw(t, srv, http.MethodPatch, "/company/companies/"+gone.ID, "", "",
		[]map[string]any{{"op": "replace", "path": "deletedFlag", "value": true}}, &patched); st != http.StatusOK {
		t.Fatalf("delete company %s: status %d", gone.ID, st)
	}
	since := t0.Add(30 * time.Second)

	tests := []struct {
		name   string
		mutate func(*connectwise.Config)
		want   []psa.Account
		pages  int64
	}{
		{name: "numbered pages", mutate: func(cfg *connectwise.Config) { cfg.PageSize = 1 },
			want: []psa.Account{one, two}, pages: 3},
		{name: "forward-only pages", mutate: func(cfg *connectwise.Config) { cfg.PageSize = 1; cfg.ForwardOnly = true },
			want: []psa.Account{one, two}, pages: 3},
		{name: "one page", want: []psa.Account{one, two}, pages: 1},
		// Without the field the reference cannot be seen: the company
		// rmmbridge created is listed too.
		{name: "no reference field configured", mutate: func(cfg *connectwise.Config) { cfg.AccountRefFieldID = 0 },
			want: []psa.Account{one, two, ours}, pages: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := clientConfig(srv, &sleeps{})
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			cl := newClient(t, cfg)
			var got []psa.Account
			var err error
			n := requestsOf(cl, func() { got, err = cl.AccountsCreatedSince(ctx, since) })
			if err != nil {
				t.Fatalf("AccountsCreatedSince: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("accounts (-want +got):\n%s", diff)
			}
			if n != tt.pages {
				t.Errorf("requests = %d, want %d (one per page of matches)", n, tt.pages)
			}
			reqs := srv.Requests()
			last := reqs[len(reqs)-1]
			if tt.pages == 1 {
				wantCond := "deletedFlag=false and _info/dateEntered > [2026-01-10T10:00:30Z]"
				if got := last.Query.Get("conditions"); got != wantCond {
					t.Errorf("conditions = %q, want %q", got, wantCond)
				}
			}
		})
	}

	t.Run("bounds are strict and to the second", func(t *testing.T) {
		// 10:01:00.7 truncates to 10:01:00; a company entered at exactly
		// 10:01:00 is not after it.
		got, err := c.AccountsCreatedSince(ctx, t0.Add(time.Minute+700*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]psa.Account{two}, got); diff != "" {
			t.Errorf("accounts (-want +got):\n%s", diff)
		}
		got, err = c.AccountsCreatedSince(ctx, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("accounts after the last one = %v, want none", got)
		}
	})
}

func TestAfterCondition(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		at   time.Time
		want connectwise.Cond
	}{
		{name: "utc", at: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC), want: "_info/dateEntered > [2026-02-03T04:05:06Z]"},
		{name: "other zone converted", at: time.Date(2026, 2, 3, 4, 5, 6, 0, loc), want: "_info/dateEntered > [2026-02-03T03:05:06Z]"},
		{name: "fraction truncated", at: time.Date(2026, 2, 3, 4, 5, 6, 999_000_000, time.UTC), want: "_info/dateEntered > [2026-02-03T04:05:06Z]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := connectwise.After("_info/dateEntered", tt.at); got != tt.want {
				t.Errorf("After = %q, want %q", got, tt.want)
			}
		})
	}
}
