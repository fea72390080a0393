package tacticalrmm

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore/dynamotest"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/vendors/tacticalrmm/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// budgetStore is a budgets table in moto behind scripts/moto-server: budget
// leases are conditional writes, which plain moto lets two racers both win.
func budgetStore(t *testing.T) dynamostore.Budgets {
	t.Helper()
	return dynamostore.NewBudgets(dynamotest.SafeStore(t, "tacticalrmm-budget"))
}

// inFlight counts the requests a handler serves at once.
type inFlight struct {
	next     http.Handler
	now, max atomic.Int64
}

func (f *inFlight) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.now.Add(1)
	defer f.now.Add(-1)
	for m := f.max.Load(); n > m && !f.max.CompareAndSwap(m, n); m = f.max.Load() {
	}
	f.next.ServeHTTP(w, r)
}

// TestInstallBudgetBoundsRequestsInFlight: two functions (two Budgets
// over one moto table) with twelve callers reading devices at once on a
// slow install: never more than 4 requests reach the install at once,
// every request was granted by the install's budget, and a 429 cools the
// budget down for every function.
func TestInstallBudgetBoundsRequestsInFlight(t *testing.T) {
	if b := Spec.Budget; b.RequestsPerMinute != 600 || b.MaxConcurrency != 4 || b.Strict || b.Share != 0 {
		t.Errorf("Spec.Budget = %+v, want 600 a minute, 4 in flight", b)
	}
	if a, b := BudgetKey("https://API.example.com/"), BudgetKey("https://api.example.com"); a != b || a == BudgetKey("https://api.other.com") {
		t.Errorf("BudgetKey: %q and %q must match, another host differ", a, b)
	}
	sb := sandbox.New(sandbox.Options{Seed: 1, Clients: 2, Agents: 12, Epoch: time.Now().Add(-time.Minute), Latency: 150 * time.Millisecond})
	counter := &inFlight{next: sb.Handler()}
	srv := httptest.NewServer(counter)
	defer srv.Close()
	store := budgetStore(t)
	id := ratelimit.ID{Tenant: "t1", Key: BudgetKey(srv.URL)}
	budget := ratelimit.Budget{Name: Spec.DisplayName, Requests: Spec.Budget.RequestsPerMinute, Window: time.Minute, MaxConcurrency: Spec.Budget.MaxConcurrency}
	var bss []*ratelimit.Budgets
	var clients []*Client
	for range 2 {
		bs := ratelimit.NewBudgets(store, ratelimit.Options{SyncWait: 30 * time.Second})
		c, err := New(Config{BaseURL: srv.URL, APIKey: sb.APIKey(), Sleep: (&sleeps{}).Sleep, Limiter: bs.Limiter(id, budget)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		bss, clients = append(bss, bs), append(clients, c)
	}
	ctx := context.Background()
	agents := sb.Agents()
	var wg sync.WaitGroup
	errs := make([]error, len(agents))
	for i, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = clients[i%2].GetDevice(ctx, a.AgentID)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if m := counter.max.Load(); m > 4 || m < 2 {
		t.Errorf("%d requests in flight at most, want 2 to 4", m)
	}
	permits := bss[0].Stats().Permits + bss[1].Stats().Permits
	if permits != sb.TotalRequests() {
		t.Errorf("%d permits for %d requests the install received", permits, sb.TotalRequests())
	}

	sb.ThrottleNext(1, 40*time.Second)
	if _, err := clients[0].GetDevice(ctx, agents[0].AgentID); !apperr.Is(err, apperr.Throttled) {
		t.Fatalf("a 429: %v, want Throttled", err)
	}
	sent := sb.TotalRequests()
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := clients[1].GetDevice(short, agents[1].AgentID); !apperr.Is(err, apperr.Throttled) {
		t.Errorf("the other function during the cool-down: %v, want Throttled", err)
	}
	if got := sb.TotalRequests(); got != sent {
		t.Errorf("%d requests reached the install during the cool-down", got-sent)
	}
	b, _, _ := store.GetBucket(ctx, id)
	if time.Until(b.CoolDownUntil) < 30*time.Second {
		t.Errorf("after a 429 (Retry-After 40 s) the bucket cools down until %s", b.CoolDownUntil)
	}
}

// TestOpenerDrawsFromTheInstallBudget: the spec's opener asks for the
// install's budget (BudgetKey of its host) at 600 a minute, 4 in flight.
func TestOpenerDrawsFromTheInstallBudget(t *testing.T) {
	sb := sandbox.New(sandbox.Options{Seed: 1, Clients: 1, Agents: 1, Epoch: time.Now().Add(-time.Minute)})
	srv := httptest.NewServer(sb.Handler())
	defer srv.Close()
	store := budgetStore(t)
	bs := ratelimit.NewBudgets(store, ratelimit.Options{})
	v, _ := vendorspec.MustCatalog(Spec).Vendor("tacticalrmm")
	typed, ferr := v.CheckSettings(nil)
	if len(ferr) > 0 {
		t.Fatal(ferr)
	}
	var keys []string
	c, err := Spec.OpenRMM(vendorspec.Params{BaseURL: srv.URL, Settings: typed, Credentials: map[string]string{"apiKey": sb.APIKey()},
		Budget: func(k string) *ratelimit.Limiter {
			keys = append(keys, k)
			return bs.Limiter(ratelimit.ID{Tenant: "t1", Key: k}, v.Budget(typed))
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListOrganizations(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := BudgetKey(srv.URL); len(keys) != 1 || keys[0] != want {
		t.Fatalf("the opener asked for budgets %q, want [%s]", keys, want)
	}
	if got := bs.Stats().Permits; got != sb.TotalRequests() || got < 1 {
		t.Errorf("%d permits for %d requests", got, sb.TotalRequests())
	}
	b, _, _ := store.GetBucket(context.Background(), ratelimit.ID{Tenant: "t1", Key: keys[0]})
	if b.Requests != 600 || v.Budget(typed).MaxConcurrency != 4 {
		t.Errorf("the install's bucket allows %d a minute (%d in flight), want 600 and 4", b.Requests, v.Budget(typed).MaxConcurrency)
	}
}
