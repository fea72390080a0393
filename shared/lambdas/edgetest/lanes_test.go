package edgetest_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/alertworkerfn"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// TestImportsNeverDelayAlertTicketsOver5s: two other instances keep
// ConnectWise's budget (300 requests a minute, 3 in flight) saturated
// with import-lane requests through the real client, eight workers
// between them; meanwhile the alert worker, built as template.yaml builds
// it, turns alerts into tickets. Each alert becomes its ticket within 5 s
// (it waits behind no import), the imports use most of the budget, the
// sandbox never has more than 3 requests in flight, and no window holds
// more than the budget.
func TestImportsNeverDelayAlertTicketsOver5s(t *testing.T) {
	const perMinute, slots = 300, 3
	r := newRig(t, rigOptions{psaSettings: map[string]any{"requestsPerMinute": perMinute, "maxConcurrency": slots}})
	worker := r.build(t, alertworkerfn.Build)
	devices := r.ninja.Devices()

	// Baseline: one alert with the budget to itself.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	ev := alertRecord(t, r, devices[0].ID, "base")
	if resp, err := worker.SQS(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("baseline alert: %+v %v", resp.BatchItemFailures, err)
	}
	baseline := time.Since(began)
	done(t, r, ev)

	stop := make(chan struct{})
	var imported, refused atomic.Int64
	var wg sync.WaitGroup
	importCtx := ratelimit.WithLane(context.Background(), ratelimit.LaneImport)
	for range 2 {
		c, err := r.opener().Open(context.Background(), tenantID, r.igID)
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, err := c.PSA.SearchAccounts(importCtx, psa.AccountQuery{Search: "a"})
					switch {
					case apperr.Is(err, apperr.Throttled):
						refused.Add(1) // a worker would hand its message back
						time.Sleep(100 * time.Millisecond)
					case err != nil:
						t.Error(err)
						return
					default:
						imported.Add(1)
					}
				}
			})
		}
	}
	loadStart := time.Now()
	time.Sleep(3 * time.Second) // the imports drain the bucket's burst

	tickets := len(r.cw.Tickets())
	var waits []time.Duration
	for i := range 5 {
		ev := alertRecord(t, r, devices[(i+1)%len(devices)].ID, "load-"+string(rune('a'+i)))
		began := time.Now()
		resp, err := worker.SQS(ctx, ev)
		took := time.Since(began)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Errorf("alert %d under import load: failures %+v, %v", i, resp.BatchItemFailures, err)
		}
		done(t, r, ev)
		waits = append(waits, took)
		time.Sleep(500 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	loadEnd := time.Now()

	if got := len(r.cw.Tickets()) - tickets; got != 5 {
		t.Errorf("%d tickets for 5 alerts under import load", got)
	}
	worst := slices.Max(waits)
	if worst > 5*time.Second {
		t.Errorf("an alert took %s to become a ticket under import load (baseline %s), want ≤ 5 s", worst, baseline)
	}
	at, most := r.cwLog.snapshot()
	if most > slots {
		t.Errorf("%d requests in flight at ConnectWise, budget %d", most, slots)
	}
	var during int
	for _, x := range at {
		if !x.Before(loadStart) && !x.After(loadEnd) {
			during++
		}
	}
	// What the budget allowed over the load: the burst plus the refill.
	allowed := float64(perMinute) * loadEnd.Sub(loadStart).Minutes() * 1.05
	if float64(during) > allowed+float64(perMinute)*0.05+1 {
		t.Errorf("%d requests in %s, over the budget's %.0f", during, loadEnd.Sub(loadStart).Round(time.Millisecond), allowed)
	}
	if used := float64(during) / (float64(perMinute) * loadEnd.Sub(loadStart).Minutes()); used < 0.8 {
		t.Errorf("the imports used %.0f%% of the budget: not a saturating load", used*100)
	}
	over, busiest := overBudget(at, time.Minute, perMinute)
	if over > 0 {
		t.Errorf("%d windows over the budget (busiest %d of %d)", over, busiest, perMinute)
	}
	t.Logf("alert → ticket under import load: %v (baseline %s); %d import requests (%d refused), %d ConnectWise requests in %s (%.0f%% of the budget), %d in flight at most",
		roundAll(waits), baseline.Round(time.Millisecond), imported.Load(), refused.Load(), during, loadEnd.Sub(loadStart).Round(time.Millisecond),
		100*float64(during)/(float64(perMinute)*loadEnd.Sub(loadStart).Minutes()), most)
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// overBudget counts the windows of length w, one starting at each
// request, holding more than budget requests, and the most any held.
func overBudget(at []time.Time, w time.Duration, budget int) (over, most int) {
	sorted := slices.Clone(at)
	slices.SortFunc(sorted, func(a, b time.Time) int { return a.Compare(b) })
	j := 0
	for i := range sorted {
		for j < len(sorted) && sorted[j].Sub(sorted[i]) < w {
			j++
		}
		n := j - i
		most = max(most, n)
		if n > budget {
			over++
		}
	}
	return over, most
}
