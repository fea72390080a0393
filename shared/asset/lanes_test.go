package asset_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
)

// budgetedRMM is the fake RMM behind a request budget: it records the
// lane of every call and, when lim is set, draws it from the budget as
// vendorhttp does.
type budgetedRMM struct {
	*fakeRMM
	lim   *ratelimit.Limiter
	mu    sync.Mutex
	lanes []ratelimit.Lane
}

func (b *budgetedRMM) GetDevice(ctx context.Context, id string) (rmm.Device, error) {
	b.mu.Lock()
	b.lanes = append(b.lanes, ratelimit.LaneFrom(ctx))
	b.mu.Unlock()
	if b.lim != nil {
		release, err := b.lim.Acquire(ctx, "devices")
		if err != nil {
			return rmm.Device{}, err
		}
		defer release(ratelimit.Outcome{Status: 200})
	}
	return b.fakeRMM.GetDevice(ctx, id)
}

func (b *budgetedRMM) seen() []ratelimit.Lane {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]ratelimit.Lane(nil), b.lanes...)
}

func syncRequest(iid, device string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{RouteKey: syncRoute,
		PathParameters: map[string]string{"integrationId": iid, "deviceId": device},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "r1",
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				Lambda: map[string]any{"tenantId": "t_a", "role": "operator", "keyId": "k_1"}}}}
}

// TestSyncWaitsInTheSyncLaneOr429s: the Sync button's vendor requests are
// in the sync lane whatever the caller's context said, and when the PSA's
// request budget would make it wait more than 5 s it answers 429 with
// Retry-After (whole seconds) at once instead of holding the request.
func TestSyncWaitsInTheSyncLaneOr429s(t *testing.T) {
	h := newHarness(t)
	// Two requests a minute: the first Sync takes the bucket's only token;
	// the next token is half a minute away.
	budgets := ratelimit.NewBudgets(dynamostore.NewBudgets(newTable(t)), ratelimit.Options{})
	lim := budgets.Limiter(ratelimit.ID{Tenant: "t_a", Key: "conn-rmm"}, ratelimit.Budget{Name: "NinjaOne", Requests: 2, Window: time.Minute})
	r := &budgetedRMM{fakeRMM: h.rmm, lim: lim}
	open := func(context.Context, string, string) (asset.Clients, error) {
		return asset.Clients{RMM: r, PSA: h.psa}, nil
	}
	rt := httpapi.NewRouter(httpapi.Options{})
	rt.Handle(syncRoute, httpapi.Operator, asset.SyncHandler(h.svc, open))
	ctx := ratelimit.WithLane(context.Background(), ratelimit.LaneAlert)

	resp, err := rt.Serve(ctx, syncRequest("i_a", "1001"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first sync: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	began := time.Now()
	resp, err = rt.Serve(ctx, syncRequest("i_a", "1001"))
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	ra, _ := strconv.Atoi(resp.Headers["retry-after"])
	var body map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &body)
	if resp.StatusCode != 429 || ra < 6 || ra > 61 || resp.Headers["content-type"] != "application/problem+json" {
		t.Errorf("second sync: status %d retry-after %q content-type %q, want 429 with Retry-After over 5 s", resp.StatusCode,
			resp.Headers["retry-after"], resp.Headers["content-type"])
	}
	if took > 2*time.Second {
		t.Errorf("the 429 took %s: the request waited for the budget", took)
	}
	t.Logf("429 after %s: Retry-After %d, detail %q", took.Round(time.Millisecond), ra, body["detail"])
	for _, l := range r.seen() {
		if l != ratelimit.LaneSync {
			t.Errorf("the Sync button asked the RMM in lane %s, want sync", l)
		}
	}
}

// TestWorkerRunsInTheImportLane: the asset worker's vendor requests wait
// behind alerts and the Sync button.
func TestWorkerRunsInTheImportLane(t *testing.T) {
	h := newHarness(t)
	r := &budgetedRMM{fakeRMM: h.rmm}
	open := func(context.Context, string, string) (asset.Clients, error) {
		return asset.Clients{RMM: r, PSA: h.psa}, nil
	}
	w := asset.NewWorker(h.svc, open, &fakeRecorder{}, sqsbatch.Processor{Name: "asset-refresh"})
	ev := events.SQSEvent{Records: []events.SQSMessage{assetRecord(t, "m1", importMsg("1001"), 1)}}
	if _, err := w.Handle(ratelimit.WithLane(context.Background(), ratelimit.LaneAlert), ev); err != nil {
		t.Fatal(err)
	}
	lanes := r.seen()
	if len(lanes) == 0 {
		t.Fatal("the worker never asked the RMM")
	}
	for _, l := range lanes {
		if l != ratelimit.LaneImport {
			t.Errorf("the worker asked the RMM in lane %s, want import", l)
		}
	}
}
