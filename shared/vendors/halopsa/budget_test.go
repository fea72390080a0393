package halopsa_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore/dynamotest"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/vendors/halopsa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/halopsa/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// budgetStore is a budgets table in moto behind scripts/moto-server: budget
// leases are conditional writes, which plain moto lets two racers both win.
func budgetStore(t *testing.T) dynamostore.Budgets {
	t.Helper()
	return dynamostore.NewBudgets(dynamotest.SafeStore(t, "halopsa-budget"))
}

// TestEveryRequestDrawsFromTheInstanceBudget: every request the sandbox
// receives — discovery and token requests included — was granted by the
// instance's budget (60 a minute by default); the budget calibrates on
// the X-RateLimit headers (Halo reports 250 per 5 minutes: at most 45 a
// minute); a 429 cools it down for every function.
func TestEveryRequestDrawsFromTheInstanceBudget(t *testing.T) {
	if b := halopsa.Spec.Budget; b.RequestsPerMinute != 60 || b.MaxConcurrency != 0 || b.Strict {
		t.Errorf("Spec.Budget = %+v, want 60 a minute", b)
	}
	if a, b := halopsa.BudgetKey("https://Acme.halopsa.com/", "acme"), halopsa.BudgetKey("https://acme.halopsa.com", "ACME"); a != b || a == halopsa.BudgetKey("https://acme.halopsa.com", "other") {
		t.Errorf("BudgetKey: %q and %q must match, another tenant differ", a, b)
	}
	srv := startSandbox(t, sandbox.Options{Seed: 1, ReportLimit: 250})
	store := budgetStore(t)
	id := ratelimit.ID{Tenant: "t1", Key: halopsa.BudgetKey(srv.URL(), "")}
	budget := ratelimit.Budget{Name: "HaloPSA", Requests: halopsa.Spec.Budget.RequestsPerMinute, Window: time.Minute}
	bs := ratelimit.NewBudgets(store, ratelimit.Options{})
	cfg := demoConfig(t, srv, &sleeps{})
	cfg.Limiter = bs.Limiter(id, budget)
	c := newClient(t, cfg)
	ctx := ratelimit.WithLane(context.Background(), ratelimit.LaneImport)
	for _, cl := range srv.Clients()[:4] {
		if _, err := c.GetAccount(ctx, strconv.Itoa(cl.ID)); err != nil {
			t.Fatal(err)
		}
	}
	sent := int64(len(srv.Requests()))
	if got := bs.Stats().Permits; got != sent || sent < 6 {
		t.Errorf("%d permits for %d requests the sandbox received (authinfo, token, 4 reads)", got, sent)
	}
	b, found, err := store.GetBucket(ctx, id)
	if err != nil || !found {
		t.Fatalf("bucket: %v %v", found, err)
	}
	if b.CalibratedAt.IsZero() || b.Allowed <= 0 || b.Allowed > 45 {
		t.Errorf("bucket calibrated at %s allows %d a minute; want ≤ 45 (90 %% of 250 per 5 min)", b.CalibratedAt, b.Allowed)
	}

	srv.ThrottleNext(1, 45*time.Second)
	if _, err := c.GetAccount(ctx, strconv.Itoa(srv.Clients()[0].ID)); !apperr.Is(err, apperr.Throttled) {
		t.Fatalf("a 429: %v, want Throttled", err)
	}
	b, _, _ = store.GetBucket(ctx, id)
	if time.Until(b.CoolDownUntil) < 30*time.Second {
		t.Errorf("after a 429 (Retry-After 45 s) the bucket cools down until %s", b.CoolDownUntil)
	}
	other := ratelimit.NewBudgets(store, ratelimit.Options{}).Limiter(id, budget)
	short, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	if _, err := other.Acquire(short, ""); err == nil {
		t.Error("another function got a permit during the cool-down")
	}
}

// TestOpenerDrawsFromTheInstanceBudget: the spec's opener asks for the
// instance's budget (BudgetKey of its host and tenant), every request
// drawn from it.
func TestOpenerDrawsFromTheInstanceBudget(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, Tenant: "acme"})
	store := budgetStore(t)
	bs := ratelimit.NewBudgets(store, ratelimit.Options{})
	v, _ := vendorspec.MustCatalog(halopsa.Spec).Vendor("halopsa")
	typed, ferr := v.CheckSettings(nil)
	if len(ferr) > 0 {
		t.Fatal(ferr)
	}
	o := srv.Options()
	var keys []string
	c, err := halopsa.Spec.OpenPSA(vendorspec.Params{BaseURL: srv.URL(), Settings: typed,
		Credentials: map[string]string{"clientId": o.ClientID, "clientSecret": o.ClientSecret, "tenant": "acme"},
		Budget: func(k string) *ratelimit.Limiter {
			keys = append(keys, k)
			return bs.Limiter(ratelimit.ID{Tenant: "t1", Key: k}, v.Budget(typed))
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetAccount(context.Background(), strconv.Itoa(srv.Clients()[0].ID)); err != nil {
		t.Fatal(err)
	}
	if want := halopsa.BudgetKey(srv.URL(), "acme"); len(keys) != 1 || keys[0] != want {
		t.Fatalf("the opener asked for budgets %q, want [%s]", keys, want)
	}
	if got, sent := bs.Stats().Permits, int64(len(srv.Requests())); got != sent || sent < 3 {
		t.Errorf("%d permits for %d requests (authinfo, token, read)", got, sent)
	}
	b, _, _ := store.GetBucket(context.Background(), ratelimit.ID{Tenant: "t1", Key: keys[0]})
	if b.Requests != 60 {
		t.Errorf("the instance's bucket allows %d a minute, want 60", b.Requests)
	}
}
