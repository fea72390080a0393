package ninjaone_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore/dynamotest"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone"
	"github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

func budgetTable(t *testing.T) *dynamostore.Store {
	t.Helper()
	return dynamotest.SafeStore(t, "ninjaone-budget")
}

// TestEveryRequestDrawsFromTheBudget: against the sandbox, with 5xx
// answers to retry and tokens revoked mid-way (a 401, then a new token),
// every request the sandbox receives — token requests included — was
// granted by the connection's budget in the table, and a 429 from the
// sandbox cools the budget down for every instance.
func TestEveryRequestDrawsFromTheBudget(t *testing.T) {
	sb := sandbox.New(sandbox.Options{Orgs: 3, Devices: 12})
	srv := httptest.NewServer(sb.Handler())
	defer srv.Close()
	st := budgetTable(t)
	budgets := ratelimit.NewBudgets(dynamostore.NewBudgets(st), ratelimit.Options{})
	id := ratelimit.ID{Tenant: "t1", Key: "conn-ninja"}
	lim := budgets.Limiter(id, ratelimit.Budget{Name: "NinjaOne", Requests: 6000, Window: time.Minute})
	cid, secret := sb.Credentials()
	c, err := ninjaone.New(ninjaone.Config{BaseURL: srv.URL, ClientID: cid, ClientSecret: secret, Limiter: lim,
		Sleep: func(context.Context, time.Duration) error { return nil }}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx := ratelimit.WithLane(context.Background(), ratelimit.LaneImport)
	if _, err := c.ListOrganizations(ctx); err != nil {
		t.Fatal(err)
	}
	sb.SetFailures(0.3, 0)
	for i, d := range sb.Devices()[:6] {
		if i == 3 {
			sb.RevokeTokens()
		}
		if _, err := c.GetDevice(ctx, strconv.Itoa(d.ID)); err != nil {
			t.Fatalf("device %d: %v", d.ID, err)
		}
	}
	sb.SetFailures(0, 0)
	reqs := sb.Requests()
	got := budgets.Stats()
	if got.Permits != sb.TotalRequests() {
		t.Errorf("%d permits for %d requests the sandbox received (%v)", got.Permits, sb.TotalRequests(), reqs)
	}
	if reqs["POST /ws/oauth/token"] < 2 || c.TokenRequests() != reqs["POST /ws/oauth/token"] {
		t.Errorf("token requests: sandbox %d, client %d; want ≥ 2 (the revoked token was renewed) and equal", reqs["POST /ws/oauth/token"], c.TokenRequests())
	}
	if c.Requests() <= 19 {
		t.Errorf("%d API requests: the 5xx answers were not retried", c.Requests())
	}
	b, found, err := dynamostore.NewBudgets(st).GetBucket(context.Background(), id)
	if err != nil || !found || b.Taken < got.Permits {
		t.Errorf("the bucket took %d tokens for %d permits (found %v, %v)", b.Taken, got.Permits, found, err)
	}

	// A 429 from NinjaOne cools every instance down: another instance's
	// Sync-button request is refused at once.
	sb.SetRateLimit(0.5)
	syncCtx, cancelSync := context.WithTimeout(ratelimit.WithLane(context.Background(), ratelimit.LaneSync), 3*time.Second)
	defer cancelSync()
	if _, err := c.GetDevice(syncCtx, strconv.Itoa(sb.Devices()[0].ID)); !apperr.Is(err, apperr.Throttled) {
		t.Errorf("a Sync request that met a 429: got %v, want Throttled", err)
	}
	b, _, _ = dynamostore.NewBudgets(st).GetBucket(context.Background(), id)
	if !b.CoolDownUntil.After(time.Now()) {
		t.Fatalf("after a 429 the bucket's cool-down ends at %s, in the past", b.CoolDownUntil)
	}
	other := ratelimit.NewBudgets(dynamostore.NewBudgets(st), ratelimit.Options{}).Limiter(id, lim.Budget())
	short, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond) // 0.5 s to spare after the margin
	defer cancel()
	if _, err := other.Acquire(short, ""); err == nil {
		t.Error("another instance got a permit during the cool-down")
	}
	t.Logf("sandbox requests %v; permits %d, tokens taken %d, DynamoDB requests %d", reqs, got.Permits, b.Taken, budgets.Stats().StoreRequests())
}
