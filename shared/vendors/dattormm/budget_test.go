package dattormm

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore/dynamotest"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/vendors/dattormm/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// budgetStore is a budgets table in moto behind scripts/moto-server: budget
// leases are conditional writes, which plain moto lets two racers both win.
func budgetStore(t *testing.T) dynamostore.Budgets {
	t.Helper()
	return dynamostore.NewBudgets(dynamotest.SafeStore(t, "dattormm-budget"))
}

// TestSpecBudgetIsStrictAt90PercentOfTheReadLimit: the spec's budget is
// strict, 540 a minute, unlimited concurrency.
func TestSpecBudgetIsStrictAt90PercentOfTheReadLimit(t *testing.T) {
	if b := Spec.Budget; !b.Strict || b.RequestsPerMinute != 540 || b.MaxConcurrency != 0 || b.Share != 0 {
		t.Errorf("Spec.Budget = %+v, want strict, 540 a minute", b)
	}
	a, b := BudgetKey("https://merlot-api.centrastage.net/api", "key1"), BudgetKey("https://MERLOT-api.centrastage.net/", "key1")
	if a != b || a == BudgetKey("https://merlot-api.centrastage.net", "key2") || a == BudgetKey("https://zinfandel-api.centrastage.net", "key1") {
		t.Errorf("BudgetKey: same account %q %q, other key or platform must differ", a, b)
	}
}

// TestEveryRequestDrawsFromTheAccountBudget: two clients of the same
// account in two "instances" (two Budgets over one moto table) draw every
// request they send — token requests and the calibration probe included —
// from one strict budget; the budget calibrates once on Datto's request
// rate and adopts 90 % of the limit Datto reports; and after one 429 no
// client sharing the budget, nor a third instance, sends anything: every
// call fails fast with Throttled until the window has passed, and the
// sandbox never blocks the address.
func TestEveryRequestDrawsFromTheAccountBudget(t *testing.T) {
	store := budgetStore(t)
	budget := ratelimit.Budget{Name: Spec.DisplayName, Requests: Spec.Budget.RequestsPerMinute, Window: time.Minute, Strict: Spec.Budget.Strict}
	e := newEnv(t, sandbox.Options{Sites: 3, Devices: 12}, Config{})
	e.sb.SetLimits(100, 100) // Datto reports 100 a minute: calibration must shrink 540 to 90
	key, _ := e.sb.Credentials()
	id := ratelimit.ID{Tenant: "t1", Key: BudgetKey(e.url, key)}
	var bss []*ratelimit.Budgets
	clients := make([]*Client, 3)
	for i := range clients {
		bs := ratelimit.NewBudgets(store, ratelimit.Options{})
		bss = append(bss, bs)
		c, err := New(Config{BaseURL: e.url, APIKey: key, APISecret: mustSecret(e), Sleep: e.sleeps.Sleep, Limiter: bs.Limiter(id, budget)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	ctx := ratelimit.WithLane(context.Background(), ratelimit.LaneImport)
	devs := e.sb.Devices()
	for i, c := range clients[:2] {
		if _, err := c.ListOrganizations(ctx); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		for _, d := range devs[i*3 : i*3+3] {
			if _, err := c.GetDevice(ctx, d.UID); err != nil {
				t.Fatalf("client %d device %s: %v", i, d.UID, err)
			}
		}
	}
	var permits int64
	for _, bs := range bss {
		permits += bs.Stats().Permits
	}
	reqs := e.sb.Requests()
	if permits != e.sb.TotalRequests() {
		t.Errorf("%d permits for %d requests the sandbox received (%v)", permits, e.sb.TotalRequests(), reqs)
	}
	if reqs["POST /auth/oauth/token"] != 2 {
		t.Errorf("token requests %d, want 2 (one per client), drawn from the budget (%v)", reqs["POST /auth/oauth/token"], reqs)
	}
	if n := reqs["GET /api/v2/system/request_rate"]; n != 1 {
		t.Errorf("the request rate was read %d times, want once across both instances", n)
	}
	b, found, err := store.GetBucket(context.Background(), id)
	if err != nil || !found {
		t.Fatalf("bucket: found %v, %v", found, err)
	}
	if b.Taken < permits || b.CalibratedAt.IsZero() || b.Allowed <= 0 || b.Allowed > 90 {
		t.Errorf("bucket took %d for %d permits, calibrated at %s, allows %d; want ≤ 90 (90 %% of Datto's 100)", b.Taken, permits, b.CalibratedAt, b.Allowed)
	}

	// One 429 cools the account down for everyone.
	e.sb.ThrottleNext(1, 0)
	if _, err := clients[0].GetDevice(ctx, devs[0].UID); !apperr.Is(err, apperr.Throttled) {
		t.Fatalf("the throttled call: %v, want Throttled", err)
	}
	sent := e.sb.TotalRequests()
	var wg sync.WaitGroup
	errs := make([]error, 30)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ratelimit.WithLane(context.Background(), ratelimit.Lane(1+i%3)), 5*time.Second)
			defer cancel()
			_, errs[i] = clients[i%3].GetDevice(cctx, devs[i%len(devs)].UID)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if !apperr.Is(err, apperr.Throttled) {
			t.Errorf("call %d (client %d) after the 429: %v, want Throttled", i, i%3, err)
		} else if e, _ := apperr.As(err); e.RetryAfter < 50*time.Second {
			t.Errorf("call %d after the 429: RetryAfter %s, want about Datto's 60 s window", i, e.RetryAfter)
		}
	}
	if got := e.sb.TotalRequests(); got != sent {
		t.Errorf("the sandbox received %d requests after the 429 (%v)", got-sent, e.sb.Requests())
	}
	if e.sb.Blocks() != 0 {
		t.Errorf("the sandbox blocked the address %d times", e.sb.Blocks())
	}
	b, _, _ = store.GetBucket(context.Background(), id)
	if time.Until(b.CoolDownUntil) < 50*time.Second {
		t.Errorf("the bucket cools down until %s, want about 60 s from now", b.CoolDownUntil)
	}
}

// TestAddressBlockCoolsTheBudgetDownFiveMinutes: a 403 address block is
// a throttle answer: the call fails Throttled, not retried, and the
// shared budget cools down for Datto's block.
func TestAddressBlockCoolsTheBudgetDownFiveMinutes(t *testing.T) {
	store := budgetStore(t)
	budget := ratelimit.Budget{Name: Spec.DisplayName, Requests: 540, Window: time.Minute, Strict: true}
	id := ratelimit.ID{Tenant: "t1", Key: "dattormm-block"}
	e := newEnv(t, sandbox.Options{Sites: 1, Devices: 2, ReadLimit: 2}, Config{Limiter: ratelimit.NewBudgets(store, ratelimit.Options{}).Limiter(id, budget)})
	ctx := context.Background()
	if err := e.client.TestConnection(ctx); err != nil { // and the calibration's probe: the limit is used up
		t.Fatal(err)
	}
	// Another client without a budget (another integration) uses the
	// account up and calls on after its 429: the address is blocked.
	key, secret := e.sb.Credentials()
	other, err := New(Config{BaseURL: e.url, APIKey: key, APISecret: secret, Sleep: e.sleeps.Sleep}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = other.TestConnection(ctx)
	other.mu.Lock()
	other.coolUntil = time.Time{} // the rogue ignores its 429
	other.mu.Unlock()
	_ = other.TestConnection(ctx)
	if e.sb.Blocks() != 1 {
		t.Fatalf("setup: %d blocks, want 1", e.sb.Blocks())
	}
	before := e.sb.TotalRequests()
	err = e.client.TestConnection(ctx)
	if !apperr.Is(err, apperr.Throttled) {
		t.Fatalf("a blocked call: %v, want Throttled", err)
	}
	if got := e.sb.TotalRequests() - before; got != 1 {
		t.Errorf("%d requests for a blocked call, want 1 (a block is not retried)", got)
	}
	b, _, _ := store.GetBucket(ctx, id)
	if time.Until(b.CoolDownUntil) < 4*time.Minute {
		t.Errorf("after a block the budget cools down until %s, want about 5 min from now", b.CoolDownUntil)
	}
}

func mustSecret(e *env) string { _, s := e.sb.Credentials(); return s }

// TestOpenerDrawsFromTheAccountBudget: the spec's opener asks for the
// account's budget (BudgetKey) and its client draws every request from
// it, at the spec's 540 a minute.
func TestOpenerDrawsFromTheAccountBudget(t *testing.T) {
	e := newEnv(t, sandbox.Options{Sites: 1, Devices: 1}, Config{})
	store := budgetStore(t)
	bs := ratelimit.NewBudgets(store, ratelimit.Options{})
	v, _ := vendorspec.MustCatalog(Spec).Vendor("dattormm")
	typed, ferr := v.CheckSettings(nil)
	if len(ferr) > 0 {
		t.Fatal(ferr)
	}
	key, secret := e.sb.Credentials()
	var keys []string
	c, err := Spec.OpenRMM(vendorspec.Params{BaseURL: e.url, Credentials: map[string]string{"apiKey": key, "apiSecret": secret}, Settings: typed,
		Budget: func(k string) *ratelimit.Limiter {
			keys = append(keys, k)
			return bs.Limiter(ratelimit.ID{Tenant: "t1", Key: k}, v.Budget(typed))
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.TestConnection(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{BudgetKey(e.url, key)}; !slices.Equal(keys, want) {
		t.Fatalf("the opener asked for budgets %q, want %q", keys, want)
	}
	if got := bs.Stats().Permits; got != e.sb.TotalRequests() || got < 2 {
		t.Errorf("%d permits for %d requests (token, account)", got, e.sb.TotalRequests())
	}
	b, _, _ := store.GetBucket(context.Background(), ratelimit.ID{Tenant: "t1", Key: keys[0]})
	if b.BaseRequests != 540 || b.CalibratedAt.IsZero() {
		t.Errorf("the account's bucket has a base of %d a minute (calibrated at %s), want 540, calibrated", b.BaseRequests, b.CalibratedAt)
	}
}
