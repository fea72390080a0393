package ratelimit_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore/dynamotest"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// These tests run the Limiter over the real DynamoDB adapter against moto:
// every "instance" is its own ratelimit.Budgets (its own local state, as a
// separate Lambda instance has), and they share nothing but the table.
// moto runs through scripts/moto-server, which serves one DynamoDB request
// at a time: plain moto evaluates a condition and writes without a lock,
// so two concurrent conditional writes can both succeed there, which
// DynamoDB never allows and the budget relies on.

// newTable creates a table with the template's key layout.
func newTable(t *testing.T) *dynamostore.Store {
	t.Helper()
	return dynamotest.StoreOn(t, motoserver.SafeForTest(t), "ratelimit")
}

// instances opens n instances' limiters of one budget.
func instances(st *dynamostore.Store, n int, id ratelimit.ID, b ratelimit.Budget, o ratelimit.Options) ([]*ratelimit.Limiter, []*ratelimit.Budgets) {
	var ls []*ratelimit.Limiter
	var bss []*ratelimit.Budgets
	for range n {
		bs := ratelimit.NewBudgets(dynamostore.NewBudgets(st), o)
		bss = append(bss, bs)
		ls = append(ls, bs.Limiter(id, b))
	}
	return ls, bss
}

func total(bss []*ratelimit.Budgets) ratelimit.Stats {
	var s ratelimit.Stats
	for _, bs := range bss {
		x := bs.Stats()
		s.Permits += x.Permits
		s.Local += x.Local
		s.Wasted += x.Wasted
		s.Throttles += x.Throttles
		s.Conflicts += x.Conflicts
		s.LeaseConflicts += x.LeaseConflicts
		s.Handoffs += x.Handoffs
		s.Errors += x.Errors
		s.Draws += x.Draws
		s.Gets += x.Gets
		s.Validations += x.Validations
		s.Creates += x.Creates
		s.Rewrites += x.Rewrites
		s.CoolDowns += x.CoolDowns
		s.Claims += x.Claims
		s.LeaseAcquires += x.LeaseAcquires
		s.LeaseRenews += x.LeaseRenews
		s.LeaseReleases += x.LeaseReleases
		s.LeaseLists += x.LeaseLists
	}
	return s
}

// sendLog records when requests were sent.
type sendLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (s *sendLog) add(t time.Time) {
	s.mu.Lock()
	s.times = append(s.times, t)
	s.mu.Unlock()
}

func (s *sendLog) all() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.times)
}

// busiest returns how many windows [t, t+w) starting at a send hold more
// than limit sends, and the busiest window's count.
func busiest(times []time.Time, w time.Duration, limit int) (over, most int) {
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	j := 0
	for i := range times {
		for j < len(times) && times[j].Before(times[i].Add(w)) {
			j++
		}
		most = max(most, j-i)
		if j-i > limit {
			over++
		}
	}
	return over, most
}

// TestInstancesNeverExceedTheBudget: three instances of three workers
// each hammer one budget (mostly imports, some alerts and Sync requests);
// no window of the budget's length ever holds more requests than the
// budget, and most of the budget is used. (The serializing moto answers
// about fifty requests a second on a shared machine, with latencies of
// tens to hundreds of milliseconds, far slower than DynamoDB: the budgets
// and the hold are sized for it, and the share of the budget used is
// checked loosely; shared/ratelimit's fake-clock test checks it closely.)
func TestInstancesNeverExceedTheBudget(t *testing.T) {
	st := newTable(t)
	for _, tc := range []struct {
		name     string
		requests int
		window   time.Duration
		strict   bool
		hold     time.Duration
	}{
		{"30 per 3 s", 30, 3 * time.Second, false, 300 * time.Millisecond},
		{"75 per 3 s, several tokens per take", 75, 3 * time.Second, false, 300 * time.Millisecond},
		{"30 per 3 s, strict", 30, 3 * time.Second, true, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := ratelimit.ID{Tenant: "t1", Key: motoserver.UniqueName("conn")}
			ls, bss := instances(st, 3, id, ratelimit.Budget{Name: "Vendor", Requests: tc.requests, Window: tc.window, Strict: tc.strict}, ratelimit.Options{Hold: tc.hold})
			run := 3 * tc.window
			start := time.Now()
			stop := start.Add(run)
			var sends sendLog
			var wg sync.WaitGroup
			for i, l := range ls {
				for w := range 3 {
					lane := ratelimit.LaneImport
					switch (i*3 + w) % 8 {
					case 3:
						lane = ratelimit.LaneSync
					case 5:
						lane = ratelimit.LaneAlert
					}
					wg.Go(func() {
						ctx := ratelimit.WithLane(context.Background(), lane)
						for time.Now().Before(stop) {
							release, err := l.Acquire(ctx, "")
							if apperr.Is(err, apperr.Throttled) {
								time.Sleep(20 * time.Millisecond)
								continue
							}
							if err != nil {
								t.Error(err)
								return
							}
							sends.add(time.Now())
							release(ratelimit.Outcome{Status: 200})
						}
					})
				}
			}
			wg.Wait()
			times := sends.all()
			over, most := busiest(times, tc.window, tc.requests)
			if over > 0 {
				t.Errorf("%d windows held more than %d requests (busiest %d)", over, tc.requests, most)
			}
			// Sends during the run, against the budget over the run.
			used := float64(len(times)) / (float64(tc.requests) * float64(run) / float64(tc.window))
			if used < 0.6 {
				t.Errorf("used %.0f%% of the budget, want ≥ 60%%", used*100)
			}
			s := total(bss)
			t.Logf("%d requests in %s, busiest window %d of %d (0 over), %.0f%% of the budget used; DynamoDB requests per vendor request %.2f (%d draws, %d lost a race, %d tokens from local reservations, %d wasted, %d validations)",
				len(times), run, most, tc.requests, used*100, float64(s.StoreRequests())/float64(s.Permits), s.Draws, s.Conflicts, s.Local, s.Wasted, s.Validations)
		})
	}
}

// TestLeasesCapConcurrencyAcrossInstances: four instances of three
// workers each never have more than MaxConcurrency requests in flight on
// one endpoint, imports never more than MaxConcurrency − 1.
func TestLeasesCapConcurrencyAcrossInstances(t *testing.T) {
	st := newTable(t)
	id := ratelimit.ID{Tenant: "t1", Key: "db"}
	ls, bss := instances(st, 4, id, ratelimit.Budget{Name: "Autotask", Requests: 100000, Window: time.Minute, MaxConcurrency: 3}, ratelimit.Options{})
	var inFlight, imports, most, mostImports atomic.Int64
	bump := func(v, top *atomic.Int64, d int64) {
		n := v.Add(d)
		for {
			m := top.Load()
			if n <= m || top.CompareAndSwap(m, n) {
				return
			}
		}
	}
	stop := time.Now().Add(4 * time.Second)
	var wg sync.WaitGroup
	for i, l := range ls {
		for w := range 3 {
			lane := ratelimit.LaneImport
			if (i+w)%4 == 0 {
				lane = ratelimit.LaneAlert
			}
			wg.Go(func() {
				ctx := ratelimit.WithLane(context.Background(), lane)
				for time.Now().Before(stop) {
					release, err := l.Acquire(ctx, "ConfigurationItems")
					if apperr.Is(err, apperr.Throttled) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					bump(&inFlight, &most, 1)
					if lane == ratelimit.LaneImport {
						bump(&imports, &mostImports, 1)
					}
					time.Sleep(150 * time.Millisecond) // the vendor answers
					if lane == ratelimit.LaneImport {
						imports.Add(-1)
					}
					inFlight.Add(-1)
					release(ratelimit.Outcome{Status: 200})
				}
			})
		}
	}
	wg.Wait()
	if most.Load() > 3 || mostImports.Load() > 2 {
		t.Errorf("in flight at most %d (imports %d), want ≤ 3 (imports ≤ 2)", most.Load(), mostImports.Load())
	}
	if most.Load() < 3 {
		t.Errorf("in flight at most %d: the test never filled the slots", most.Load())
	}
	s := total(bss)
	t.Logf("%d requests, at most %d in flight (imports %d); DynamoDB requests per vendor request %.2f (%d lease acquisitions, %d found the slot held, %d listings, %d hand-offs)",
		s.Permits, most.Load(), mostImports.Load(), float64(s.StoreRequests())/float64(s.Permits), s.LeaseAcquires, s.LeaseConflicts, s.LeaseLists, s.Handoffs)
}

// TestLeaseOfACrashedHolderExpires: an instance that took the only slot
// and died blocks the endpoint until its lease expires, and no longer.
func TestLeaseOfACrashedHolderExpires(t *testing.T) {
	st := newTable(t)
	id := ratelimit.ID{Tenant: "t1", Key: "db"}
	o := ratelimit.Options{LeaseTTL: 2 * time.Second}
	ls, _ := instances(st, 2, id, ratelimit.Budget{Name: "Autotask", Requests: 1000, Window: time.Minute, MaxConcurrency: 1}, o)
	ctx := ratelimit.WithLane(context.Background(), ratelimit.LaneAlert)
	if _, err := ls[0].Acquire(ctx, "Tickets"); err != nil { // never released: the instance crashed
		t.Fatal(err)
	}
	crashed := time.Now()
	// A request that may wait only a second is refused while the lease lives.
	short, cancel := context.WithTimeout(ctx, 3*time.Second) // 1 s after the 2 s margin
	defer cancel()
	if _, err := ls[1].Acquire(short, "Tickets"); !apperr.Is(err, apperr.Throttled) {
		t.Fatalf("while the crashed lease lives: got %v, want Throttled", err)
	}
	release, err := ls[1].Acquire(ctx, "Tickets")
	if err != nil {
		t.Fatal(err)
	}
	got := time.Since(crashed)
	release(ratelimit.Outcome{Status: 200})
	if got < 1900*time.Millisecond || got > 4*time.Second {
		t.Errorf("the slot came free after %s, want about the lease's 2 s", got)
	}
}

// TestCoolDownStopsEveryInstance: the vendor answers one request 429 with
// Retry-After: 2. From the moment that answer is recorded in the table no
// instance sends a request until the two seconds are over, and they resume
// afterwards. A request already permitted may still be on its way: the
// slack is 100 ms plus the time the store took to record the cool-down
// (one round trip; moto's are far longer than DynamoDB's); a non-strict
// budget also allows what other instances had reserved, for at most the
// hold (1 s).
func TestCoolDownStopsEveryInstance(t *testing.T) {
	st := newTable(t)
	for _, tc := range []struct {
		name   string
		strict bool
		slack  time.Duration
	}{
		{"strict (Datto: stop at the first 429)", true, 100 * time.Millisecond},
		{"with local reservations", false, 100*time.Millisecond + time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var arrivals []time.Time
			var answered429, recorded time.Time
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				now := time.Now()
				arrivals = append(arrivals, now)
				n++
				if n == 20 {
					answered429 = now
					w.Header().Set("Retry-After", "2")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			defer srv.Close()
			id := ratelimit.ID{Tenant: "t1", Key: motoserver.UniqueName("datto")}
			ls, bss := instances(st, 3, id, ratelimit.Budget{Name: "Datto RMM", Requests: 600, Window: time.Minute, Strict: tc.strict}, ratelimit.Options{})
			stop := time.Now().Add(5 * time.Second)
			var wg sync.WaitGroup
			for _, l := range ls {
				for range 2 {
					wg.Go(func() {
						ctx := ratelimit.WithLane(context.Background(), ratelimit.LaneImport)
						for time.Now().Before(stop) {
							release, err := l.Acquire(ctx, "")
							if apperr.Is(err, apperr.Throttled) {
								time.Sleep(50 * time.Millisecond)
								continue
							}
							if err != nil {
								t.Error(err)
								return
							}
							resp, err := http.Get(srv.URL)
							if err != nil {
								release(ratelimit.Outcome{})
								t.Error(err)
								return
							}
							resp.Body.Close()
							ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
							release(ratelimit.Outcome{Status: resp.StatusCode, Throttled: resp.StatusCode == 429, RetryAfter: time.Duration(ra) * time.Second})
							if resp.StatusCode == 429 {
								mu.Lock()
								recorded = time.Now()
								mu.Unlock()
							}
						}
					})
				}
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if answered429.IsZero() {
				t.Fatal("the vendor never answered 429")
			}
			end := answered429.Add(2 * time.Second)
			slack := tc.slack + recorded.Sub(answered429)
			var during, after []string
			resumed := 0
			for _, a := range arrivals {
				switch {
				case a.After(answered429.Add(slack)) && a.Before(end):
					during = append(during, fmt.Sprintf("+%s", a.Sub(answered429).Round(time.Millisecond)))
				case !a.After(answered429.Add(slack)) && a.After(answered429):
					after = append(after, fmt.Sprintf("+%s", a.Sub(answered429).Round(time.Millisecond)))
				case !a.Before(end):
					resumed++
				}
			}
			if len(during) > 0 {
				t.Errorf("%d requests arrived during the cool-down: %v", len(during), during)
			}
			if resumed == 0 {
				t.Error("no request after the cool-down")
			}
			s := total(bss)
			t.Logf("%d requests; the cool-down was recorded %s after the 429; then %d already on their way (%v), 0 during the cool-down, %d after it; %d validations, DynamoDB requests per vendor request %.2f",
				len(arrivals), recorded.Sub(answered429).Round(time.Millisecond), len(after), after, resumed, s.Validations, float64(s.StoreRequests())/float64(s.Permits))
		})
	}
}

// TestAlertsBeatSaturatingImports: four instances of three import workers
// keep the budget and two of the three slots of an endpoint busy; alerts
// arriving meanwhile on a fifth instance (three requests each, on the
// endpoint the imports use and on another) wait at most 5 s — in fact
// far less — while imports use nearly all of the budget.
func TestAlertsBeatSaturatingImports(t *testing.T) {
	st := newTable(t)
	id := ratelimit.ID{Tenant: "t1", Key: "db"}
	budget := ratelimit.Budget{Name: "Autotask", Requests: 60, Window: 10 * time.Second, MaxConcurrency: 3}
	ls, bss := instances(st, 5, id, budget, ratelimit.Options{})
	imports, alerter := ls[:4], ls[4]
	var sends sendLog
	var importSent atomic.Int64
	start := time.Now()
	stop := start.Add(12 * time.Second)
	var wg sync.WaitGroup
	for _, l := range imports {
		for range 3 {
			wg.Go(func() {
				ctx := ratelimit.WithLane(context.Background(), ratelimit.LaneImport)
				for time.Now().Before(stop) {
					release, err := l.Acquire(ctx, "ConfigurationItems")
					if apperr.Is(err, apperr.Throttled) {
						continue // an SQS worker would hand its message back
					}
					if err != nil {
						t.Error(err)
						return
					}
					sends.add(time.Now())
					importSent.Add(1)
					time.Sleep(50 * time.Millisecond)
					release(ratelimit.Outcome{Status: 200})
				}
			})
		}
	}
	// Let the imports drain the bucket, then send alerts.
	time.Sleep(2 * time.Second)
	var waits []time.Duration
	ctx := ratelimit.WithLane(context.Background(), ratelimit.LaneAlert)
	for time.Now().Before(stop.Add(-time.Second)) {
		began := time.Now()
		for _, ep := range []string{"Tickets", "ConfigurationItems", "Tickets"} {
			release, err := alerter.Acquire(ctx, ep)
			if err != nil {
				t.Fatalf("alert request: %v", err)
			}
			sends.add(time.Now())
			time.Sleep(50 * time.Millisecond)
			release(ratelimit.Outcome{Status: 200})
		}
		waits = append(waits, time.Since(began)-150*time.Millisecond)
		time.Sleep(300 * time.Millisecond)
	}
	wg.Wait()
	slices.Sort(waits)
	p50, p99, worst := waits[len(waits)/2], waits[int(math.Ceil(0.99*float64(len(waits))))-1], waits[len(waits)-1]
	if worst > 5*time.Second {
		t.Errorf("an alert waited %s behind imports, want ≤ 5 s", worst)
	}
	times := sends.all()
	over, most := busiest(times, budget.Window, budget.Requests)
	if over > 0 {
		t.Errorf("%d windows over the budget (busiest %d of %d)", over, most, budget.Requests)
	}
	used := float64(len(times)) / (float64(budget.Requests) * 1.2)
	if used < 0.6 {
		t.Errorf("used %.0f%% of the budget, want the imports to saturate it", used*100)
	}
	s := total(bss)
	t.Logf("%d alerts (3 requests each): wait p50 %s, p99 %s, worst %s; %d import requests, %.0f%% of the budget used, busiest window %d of %d; %d throttled; DynamoDB requests per vendor request %.2f",
		len(waits), p50.Round(time.Millisecond), p99.Round(time.Millisecond), worst.Round(time.Millisecond), importSent.Load(), used*100, most, budget.Requests,
		s.Throttles, float64(s.StoreRequests())/float64(s.Permits))
}

// TestThrottledWhenTheWaitIsTooLong: through the table as on the fake
// clock, a request that cannot be served in its time gets Throttled at
// once, with RetryAfter.
func TestThrottledWhenTheWaitIsTooLong(t *testing.T) {
	st := newTable(t)
	ls, _ := instances(st, 2, ratelimit.ID{Tenant: "t1", Key: "small"}, ratelimit.Budget{Name: "Vendor", Requests: 4, Window: time.Minute}, ratelimit.Options{})
	alert := ratelimit.WithLane(context.Background(), ratelimit.LaneAlert)
	for _, l := range ls {
		release, err := l.Acquire(alert, "")
		if err != nil {
			t.Fatal(err)
		}
		release(ratelimit.Outcome{Status: 200})
	}
	deadline, cancel := context.WithTimeout(alert, 5*time.Second)
	defer cancel()
	for name, ctx := range map[string]context.Context{
		"sync button":                    ratelimit.WithLane(context.Background(), ratelimit.LaneSync),
		"worker with 5 s left":           deadline,
		"another instance's sync button": ratelimit.WithLane(context.Background(), ratelimit.LaneSync),
	} {
		l := ls[0]
		if name == "another instance's sync button" {
			l = ls[1]
		}
		began := time.Now()
		_, err := l.Acquire(ctx, "")
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Throttled || e.RetryAfter < 5*time.Second {
			t.Errorf("%s: got %v, want Throttled with RetryAfter over 5 s", name, err)
		}
		if took := time.Since(began); took > time.Second {
			t.Errorf("%s: took %s to refuse", name, took)
		}
	}
}

// TestCalibrationRunsOncePerPeriodAcrossInstances: fifteen callers on
// three instances calibrate at once; the vendor is asked once.
func TestCalibrationRunsOncePerPeriodAcrossInstances(t *testing.T) {
	st := newTable(t)
	id := ratelimit.ID{Tenant: "t1", Key: "db"}
	ls, bss := instances(st, 3, id, ratelimit.Budget{Name: "Autotask", Requests: 5000, Window: time.Hour, Share: 0.5}, ratelimit.Options{})
	ctx := ratelimit.WithLane(context.Background(), ratelimit.LaneImport)
	release, err := ls[0].Acquire(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	release(ratelimit.Outcome{Status: 200})
	var probes atomic.Int64
	probe := func(context.Context) (ratelimit.Observation, error) {
		probes.Add(1)
		time.Sleep(50 * time.Millisecond)
		return ratelimit.Observation{Limit: 10000, Used: 7000, Window: time.Hour}, nil
	}
	var wg sync.WaitGroup
	for _, l := range ls {
		for range 5 {
			wg.Go(func() {
				if _, err := l.Calibrate(ctx, probe); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	if probes.Load() != 1 {
		t.Errorf("the vendor was asked %d times, want once", probes.Load())
	}
	b, _, err := dynamostore.NewBudgets(st).GetBucket(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	// 10,000 × 0.9 − 7,000 → 2,000 per hour (no sample of our own use yet:
	// all 7,000 count as others).
	if b.Requests != 2000 || b.Allowed != 2000 || b.BaseRequests != 5000 {
		t.Errorf("after calibration: requests %d allowed %d base %d, want 2000 2000 5000", b.Requests, b.Allowed, b.BaseRequests)
	}
	t.Logf("claims %d (DynamoDB requests for 15 calibration calls: %d)", total(bss).Claims, total(bss).StoreRequests())
}
