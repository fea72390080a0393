package autotask_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore/dynamotest"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask"
	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// budgetStore is a budgets table in moto behind scripts/moto-server: budget
// leases are conditional writes, which plain moto lets two racers both win.
func budgetStore(t *testing.T) dynamostore.Budgets {
	t.Helper()
	return dynamostore.NewBudgets(dynamotest.SafeStore(t, "autotask-budget"))
}

// specBudget is the budget of a connection with no budget settings.
func specBudget(t *testing.T) ratelimit.Budget {
	t.Helper()
	v, ok := vendorspec.MustCatalog(autotask.Spec).Vendor("autotask")
	if !ok {
		t.Fatal("no autotask vendor")
	}
	typed, ferr := v.CheckSettings(nil)
	if len(ferr) > 0 {
		t.Fatal(ferr)
	}
	return v.Budget(typed)
}

// budgeted returns a client of srv drawing from bs with the spec's budget,
// and the keys it opened.
func budgeted(t *testing.T, srv *sandbox.Server, bs *ratelimit.Budgets, b ratelimit.Budget) (*autotask.Client, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var keys []string
	cfg := clientConfig(srv, nil)
	cfg.Budget = func(key string) vendorhttp.Limiter {
		mu.Lock()
		keys = append(keys, key)
		mu.Unlock()
		return bs.Limiter(ratelimit.ID{Tenant: "t1", Key: key}, b)
	}
	c, err := autotask.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, &keys
}

// TestBudgetKeepsEachEntityUnderTheThreadLimit: two functions (two
// Budgets over one moto table) of the same Autotask database, five callers
// each (ten in all) reading companies at once on a sandbox slow enough for them to
// overlap: no more than 3 requests are ever in flight on the Companies
// endpoint, the sandbox never refuses one for its thread limit, every
// request but the zone lookups was granted by the database's budget, and
// the budget calibrated once on ThresholdInformation to half of its
// hourly threshold.
func TestBudgetKeepsEachEntityUnderTheThreadLimit(t *testing.T) {
	b := specBudget(t)
	if b.MaxConcurrency != 3 || b.Share != 0.5 || b.Requests != 83 {
		t.Fatalf("spec budget %+v, want 3 per endpoint, share 0.5, 83 a minute", b)
	}
	// Past half of the threshold the sandbox holds each admitted request
	// 300 ms: the callers overlap.
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 12, ThresholdLatency: 300 * time.Millisecond, Threshold: 60000})
	srv.UseRequests(30001)
	store := budgetStore(t)
	var bss []*ratelimit.Budgets
	var clients []*autotask.Client
	var keys []*[]string
	for range 2 {
		// A loaded test machine must not turn the wait for a slot into
		// a refusal: the test is about what reaches Autotask.
		bs := ratelimit.NewBudgets(store, ratelimit.Options{SyncWait: 30 * time.Second})
		c, k := budgeted(t, srv, bs, b)
		bss, clients, keys = append(bss, bs), append(clients, c), append(keys, k)
	}
	ctx := context.Background()
	page, err := clients[0].SearchAccounts(ctx, psa.AccountQuery{Limit: 10})
	if err != nil || len(page.Items) < 10 {
		t.Fatalf("search: %d accounts, %v", len(page.Items), err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = clients[i%2].GetAccount(ctx, page.Items[i].ID)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := srv.MaxConcurrent("Companies"); n > 3 || n < 2 {
		t.Errorf("at most %d requests in flight on Companies, want 2 or 3 (never over the thread limit of 3)", n)
	}
	var sent, lookups int64
	for _, r := range srv.Requests() {
		if r.Status == http.StatusTooManyRequests {
			t.Errorf("the sandbox refused %s %s with 429", r.Method, r.Path)
		}
		if strings.Contains(r.Path, "ZoneInformation") {
			lookups++
		} else {
			sent++
		}
	}
	var permits int64
	for _, bs := range bss {
		permits += bs.Stats().Permits
	}
	if permits != sent || lookups != 2 {
		t.Errorf("%d permits for %d requests past the zone lookups (%d lookups, exempt)", permits, sent, lookups)
	}
	key := clients[0].BudgetKey()
	for i, k := range keys {
		if len(*k) != 1 || (*k)[0] != "autotask-"+key {
			t.Errorf("client %d opened budgets %q, want [autotask-%s]", i, *k, key)
		}
	}
	reads := clients[0].ThresholdReads() + clients[1].ThresholdReads()
	st, found, err := store.GetBucket(ctx, ratelimit.ID{Tenant: "t1", Key: "autotask-" + key})
	if err != nil || !found {
		t.Fatalf("bucket: %v %v", found, err)
	}
	// Half of 60,000 an hour is 500 a minute; the sandbox counts our own
	// requests, which calibration does not count as others'.
	if reads != 1 || st.CalibratedAt.IsZero() || st.BaseRequests != 500 {
		t.Errorf("%d threshold reads, calibrated at %s, base %d a minute; want one read, base 500", reads, st.CalibratedAt, st.BaseRequests)
	}
}

// TestThresholdRefusalCoolsTheBudgetDown: when other integrations use up
// the database's threshold, Autotask's refusal cools the shared budget
// down: the call is Throttled and another function's budget refuses a
// permit at once.
func TestThresholdRefusalCoolsTheBudgetDown(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 3, Threshold: 6000})
	store := budgetStore(t)
	b := specBudget(t)
	c, _ := budgeted(t, srv, ratelimit.NewBudgets(store, ratelimit.Options{}), b)
	ctx := context.Background()
	page, err := c.SearchAccounts(ctx, psa.AccountQuery{Limit: 3})
	if err != nil || len(page.Items) == 0 {
		t.Fatalf("search: %v", err)
	}
	srv.UseRequests(6000)
	before := len(srv.Requests())
	_, err = c.GetAccount(ctx, page.Items[0].ID)
	if !apperr.Is(err, apperr.Throttled) {
		t.Fatalf("over the threshold: %v, want Throttled", err)
	}
	if n := len(srv.Requests()) - before; n != 1 {
		t.Errorf("%d requests after the threshold refusal, want 1 (the budget cooled down)", n)
	}
	id := ratelimit.ID{Tenant: "t1", Key: "autotask-" + c.BudgetKey()}
	st, _, _ := store.GetBucket(ctx, id)
	if !st.CoolDownUntil.After(time.Now()) {
		t.Fatalf("after the threshold refusal the budget cools down until %s", st.CoolDownUntil)
	}
	other := ratelimit.NewBudgets(store, ratelimit.Options{}).Limiter(id, b)
	short, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	if _, err := other.Acquire(short, "Companies"); err == nil {
		t.Error("another function got a permit during the cool-down")
	}
}

// TestOpenerDrawsFromTheDatabaseBudget: the spec's opener gives the
// client the connection's budgets; after the zone lookup (exempt) the
// client asks for "autotask-" + BudgetKey and draws every other request
// from it.
func TestOpenerDrawsFromTheDatabaseBudget(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	store := budgetStore(t)
	bs := ratelimit.NewBudgets(store, ratelimit.Options{})
	o := srv.Options()
	p := vendorspecParams(srv.URL(), map[string]string{"username": o.Username, "secret": o.Secret, "integrationCode": o.IntegrationCode}, nil)
	b := specBudget(t)
	var keys []string
	p.Budget = func(k string) *ratelimit.Limiter {
		keys = append(keys, k)
		return bs.Limiter(ratelimit.ID{Tenant: "t1", Key: k}, b)
	}
	c, err := autotask.Spec.OpenPSA(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SearchAccounts(context.Background(), psa.AccountQuery{Limit: 2}); err != nil {
		t.Fatal(err)
	}
	if want := "autotask-" + c.(*autotask.Client).BudgetKey(); len(keys) != 1 || keys[0] != want {
		t.Errorf("the client asked for budgets %q, want [%s]", keys, want)
	}
	// The key is stored in DynamoDB's partition key: it must not show the
	// integration code (part of the credentials) nor the user name.
	for _, k := range keys {
		for _, secret := range []string{o.IntegrationCode, o.Username, o.Secret} {
			if secret != "" && strings.Contains(strings.ToLower(k), strings.ToLower(secret)) {
				t.Errorf("budget key %q shows a credential", k)
			}
		}
	}
	var sent int64
	for _, r := range srv.Requests() {
		if !strings.Contains(r.Path, "ZoneInformation") {
			sent++
		}
	}
	if got := bs.Stats().Permits; got != sent || sent < 1 {
		t.Errorf("%d permits for %d requests past the zone lookup", got, sent)
	}
}

// TestThresholdRefusalAsA500CoolsTheBudgetDown: Autotask may refuse at its
// limits with HTTP 500 and errors[] naming the threshold or the thread
// limit [U]: that answer is Throttled and cools the budget down too.
func TestThresholdRefusalAsA500CoolsTheBudgetDown(t *testing.T) {
	sb := sandbox.New(sandbox.Options{Seed: 1, OrgCount: 2})
	var refuse atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/Companies/") && refuse.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"errors":["The request was rejected: 3 requests are in progress on the Companies endpoint (thread limit)."]}`))
			return
		}
		sb.Handler().ServeHTTP(w, r)
	}))
	defer front.Close()
	store := budgetStore(t)
	id := ratelimit.ID{Tenant: "t1"}
	cfg := clientConfig(sb, &sleeps{})
	cfg.BaseURL, cfg.FixedBase = front.URL+sandbox.BasePath, true
	b := specBudget(t)
	cfg.Budget = func(k string) vendorhttp.Limiter {
		id.Key = k
		return ratelimit.NewBudgets(store, ratelimit.Options{}).Limiter(id, b)
	}
	c, err := autotask.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SearchAccounts(context.Background(), psa.AccountQuery{Limit: 1})
	if err != nil || len(page.Items) == 0 {
		t.Fatalf("search: %v", err)
	}
	refuse.Store(true)
	if _, err := c.GetAccount(context.Background(), page.Items[0].ID); !apperr.Is(err, apperr.Throttled) {
		t.Fatalf("a 500 thread-limit refusal: %v, want Throttled", err)
	}
	st, _, _ := store.GetBucket(context.Background(), id)
	if !st.CoolDownUntil.After(time.Now()) {
		t.Errorf("after the refusal the budget cools down until %s", st.CoolDownUntil)
	}
}

// TestReadThresholdWithABudgetDoesNotWaitForItself: a client whose
// budget calibrates reads ThresholdInformation on its own: the read's
// answer may not start a calibration whose probe would wait for that
// very read.
func TestReadThresholdWithABudgetDoesNotWaitForItself(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	store := budgetStore(t)
	c, _ := budgeted(t, srv, ratelimit.NewBudgets(store, ratelimit.Options{}), specBudget(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	th, err := c.ReadThreshold(ctx)
	if err != nil || th.Limit != sandbox.DefaultThreshold {
		t.Fatalf("ReadThreshold = %+v, %v; want the sandbox's threshold", th, err)
	}
	if _, err := c.SearchAccounts(ctx, psa.AccountQuery{Limit: 1}); err != nil {
		t.Fatal(err)
	}
	st, _, _ := store.GetBucket(ctx, ratelimit.ID{Tenant: "t1", Key: "autotask-" + c.BudgetKey()})
	if st.CalibratedAt.IsZero() || st.BaseRequests != sandbox.DefaultThreshold/2/60 {
		t.Errorf("calibrated at %s to a base of %d a minute, want half the hourly threshold", st.CalibratedAt, st.BaseRequests)
	}
}
