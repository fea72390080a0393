package ratelimit

import (
	"context"
	"math"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

func TestLaneFrom(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		want Lane
	}{
		{"unmarked is sync", ctx, LaneSync},
		{"alert", WithLane(ctx, LaneAlert), LaneAlert},
		{"import", WithLane(ctx, LaneImport), LaneImport},
		{"the innermost mark wins", WithLane(WithLane(ctx, LaneImport), LaneAlert), LaneAlert},
		{"an invalid lane is sync", WithLane(ctx, Lane(42)), LaneSync},
	}
	for _, tc := range tests {
		if got := LaneFrom(tc.ctx); got != tc.want {
			t.Errorf("%s: LaneFrom = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestDeriveKeepsEveryWindowWithinTheBudget checks the bucket arithmetic:
// what a full bucket plus its refill over a window and the hold can let
// through never exceeds the budget, and the bucket holds the alert
// headroom and an import batch.
func TestDeriveKeepsEveryWindowWithinTheBudget(t *testing.T) {
	o := Options{}.withDefaults()
	for _, tc := range []struct {
		requests int
		window   time.Duration
		strict   bool
	}{
		{600, time.Minute, false}, {600, time.Minute, true}, {5000, time.Hour, false}, {10000, time.Hour, false},
		{60, time.Minute, false}, {4, time.Minute, false}, {2, time.Minute, false}, {1, time.Minute, false},
		{40, 2 * time.Second, false}, {300, 2 * time.Second, false}, {100000, time.Minute, false},
	} {
		p := derive(tc.requests, tc.window, o, tc.strict)
		most := p.capacity + p.rate*(p.window+p.hold).Seconds()
		if most > float64(p.requests)+1e-9 {
			t.Errorf("%d/%s: capacity %.3f + rate %.4f/s over the window and hold = %.3f > %d", tc.requests, tc.window, p.capacity, p.rate, most, p.requests)
		}
		if p.rate <= 0 || p.capacity < 1 || p.maxBatch < 1 {
			t.Errorf("%d/%s: degenerate bucket %+v", tc.requests, tc.window, p)
		}
		if p.capacity-float64(p.maxBatch) < p.floor(LaneImport, time.Hour) && tc.requests >= 10 {
			t.Errorf("%d/%s: a full bucket (%.2f) cannot give an import batch of %d above its floor %.2f", tc.requests, tc.window, p.capacity, p.maxBatch, p.floor(LaneImport, time.Hour))
		}
		if tc.strict && (p.maxBatch != 1 || p.horizon != 0) {
			t.Errorf("%d/%s strict: batch %d horizon %s, want 1 and 0", tc.requests, tc.window, p.maxBatch, p.horizon)
		}
		if !(p.floor(LaneAlert, time.Second) < p.floor(LaneSync, time.Second) && p.floor(LaneSync, time.Second) < p.floor(LaneImport, time.Second)) && tc.requests >= 10 {
			t.Errorf("%d/%s: floors alert %.2f sync %.2f import %.2f are not in priority order", tc.requests, tc.window,
				p.floor(LaneAlert, time.Second), p.floor(LaneSync, time.Second), p.floor(LaneImport, time.Second))
		}
	}
	// The benchmark's budget, in figures.
	p := derive(600, time.Minute, o, false)
	got := []float64{p.capacity, math.Round(p.rate*1000) / 1000, math.Round(p.headroom*100) / 100, float64(p.maxBatch)}
	if diff := cmp.Diff([]float64{14, 9.607, 12.61, 9}, got); diff != "" {
		t.Errorf("600/min: capacity, rate, headroom, batch (-want +got):\n%s", diff)
	}
}

func TestPlanTake(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	b := Bucket{Tokens: 4, RefilledAt: t0, Rate: 2, Capacity: 10, Epoch: 7}
	f := func(x float64) *float64 { return &x }
	tests := []struct {
		name  string
		b     Bucket
		now   time.Time
		n     float64
		floor float64
		want  plan
	}{
		{"enough tokens", b, t0.Add(time.Second), 1, 0, plan{ok: true, take: Take{Epoch: 7, NotCoolingAt: t0.Add(time.Second),
			Min: f(-1), Max: f(8), AddTokens: -1, Taken: 1}}},
		{"a batch above the import floor", b, t0.Add(time.Second), 3, 2.5, plan{ok: true, take: Take{Epoch: 7, NotCoolingAt: t0.Add(time.Second),
			Min: f(3.5), Max: f(8), AddTokens: -3, Taken: 3}}},
		{"short: wait for the refill", b, t0, 5, 1, plan{wait: time.Second}},
		{"booking ahead below zero", b, t0, 6, -3, plan{ok: true, take: Take{Epoch: 7, NotCoolingAt: t0, Min: f(3), Max: f(10), AddTokens: -6, Taken: 6}}},
		{"full: restart from the capacity", b, t0.Add(time.Minute), 2, 0, plan{ok: true, take: Take{Epoch: 7, NotCoolingAt: t0.Add(time.Minute),
			Min: f(-110), SetTokens: f(8), SetRefilledAt: t0.Add(time.Minute), Taken: 2}}},
		{"cooling down", Bucket{Tokens: 4, RefilledAt: t0, Rate: 2, Capacity: 10, CoolDownUntil: t0.Add(30 * time.Second)}, t0.Add(10 * time.Second), 1, 0,
			plan{cooling: true, wait: 20 * time.Second}},
		{"an old reference moves to now", Bucket{Tokens: -2000, RefilledAt: t0, Rate: 2, Capacity: 10, Epoch: 7}, t0.Add(1001 * time.Second), 1, 0,
			plan{ok: true, take: Take{Epoch: 7, NotCoolingAt: t0.Add(1001 * time.Second), Min: f(-2001), Max: f(-1992), AddTokens: 2001, SetRefilledAt: t0.Add(1001 * time.Second), Taken: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := planTake(tc.b, tc.now, tc.n, tc.floor, 10*time.Minute)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(plan{})); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMaturities(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	// The take left the level at -2 (rate 2/s): of its 4 tokens, two
	// existed, the third matures in 0.5 s, the fourth in 1 s.
	after := Bucket{Tokens: -2, RefilledAt: t0, Rate: 2, Capacity: 10}
	got := maturities(after, t0, 4)
	want := []time.Time{t0, t0, t0.Add(500 * time.Millisecond), t0.Add(time.Second)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("maturities (-want +got):\n%s", diff)
	}
}

func TestObservationFromHeaders(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   Observation
		ok     bool
	}{
		{"both headers", http.Header{"X-Ratelimit-Limit": {"700"}, "X-Ratelimit-Remaining": {"650"}}, Observation{Limit: 700, Used: 50, Window: time.Minute}, true},
		{"remaining over the limit", http.Header{"X-Ratelimit-Limit": {"700"}, "X-Ratelimit-Remaining": {"900"}}, Observation{Limit: 700, Used: 0, Window: time.Minute}, true},
		{"missing remaining", http.Header{"X-Ratelimit-Limit": {"700"}}, Observation{}, false},
		{"not numbers", http.Header{"X-Ratelimit-Limit": {"many"}, "X-Ratelimit-Remaining": {"1"}}, Observation{}, false},
		{"no headers", http.Header{}, Observation{}, false},
	}
	for _, tc := range tests {
		got, ok := ObservationFromHeaders(tc.header, time.Minute)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestOwnUse(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	samples := []Sample{{t0, 100}, {t0.Add(10 * time.Minute), 700}, {t0.Add(20 * time.Minute), 1300}}
	tests := []struct {
		name   string
		now    time.Time
		window time.Duration
		taken  int64
		want   int64
	}{
		{"window starts between two samples", t0.Add(25 * time.Minute), 20 * time.Minute, 1600, 1600 - 400},
		{"window starts on a sample", t0.Add(30 * time.Minute), 20 * time.Minute, 1900, 1900 - 700},
		{"window reaches before the samples: from the oldest", t0.Add(30 * time.Minute), time.Hour, 1900, 1800},
		{"window after every sample", t0.Add(3 * time.Hour), time.Hour, 2000, 700},
	}
	for _, tc := range tests {
		b := Bucket{Taken: tc.taken, Samples: samples}
		if got := ownUse(b, tc.now, tc.window); got != tc.want {
			t.Errorf("%s: ownUse = %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := ownUse(Bucket{Taken: 50}, t0, time.Hour); got != 0 {
		t.Errorf("no samples: ownUse = %d, want 0", got)
	}
}

// overWindows counts the windows [t, t+w) starting at a send that hold
// more than limit sends, and returns the busiest window's count.
func overWindows(times []time.Time, w time.Duration, limit int) (over, most int) {
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	j := 0
	for i := range times {
		for j < len(times) && times[j].Before(times[i].Add(w)) {
			j++
		}
		n := j - i
		most = max(most, n)
		if n > limit {
			over++
		}
	}
	return over, most
}

// TestFakeClockNeverOverBudget drives three instances (each its own
// Budgets over one store) round-robin on a fake clock, in every lane and
// with random pauses, and checks that no window of the budget's length
// ever holds more requests than the budget, while the budget is used.
func TestFakeClockNeverOverBudget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		requests int
		window   time.Duration
		strict   bool
		// minUse: what the bucket must use of the budget. A small budget
		// gives up more: its capacity (the alert headroom) is a larger
		// share, and the long-run rate is (Requests − capacity) per window.
		minUse float64
	}{
		{"600 per minute", 600, time.Minute, false, 0.9},
		{"600 per minute, strict", 600, time.Minute, true, 0.9},
		{"5000 per hour", 5000, time.Hour, false, 0.9},
		{"20 per minute", 20, time.Minute, false, 0.7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			store := newMemStore()
			id := ID{Tenant: "t1", Key: "conn-1"}
			budget := Budget{Name: "Vendor", Requests: tc.requests, Window: tc.window, Strict: tc.strict}
			var ls []*Limiter
			var bss []*Budgets
			for range 3 {
				bs := NewBudgets(store, fakeOptions(clock))
				bss = append(bss, bs)
				ls = append(ls, bs.Limiter(id, budget))
			}
			lanes := []Lane{LaneImport, LaneImport, LaneImport, LaneSync, LaneAlert}
			var sends []time.Time
			start := clock.Now()
			end := start.Add(5 * tc.window)
			throttles := 0
			for i := 0; clock.Now().Before(end); i++ {
				ctx := WithLane(context.Background(), lanes[i%len(lanes)])
				release, err := ls[i%len(ls)].Acquire(ctx, "")
				if apperr.Is(err, apperr.Throttled) {
					throttles++
					e, _ := apperr.As(err)
					clock.Advance(min(e.RetryAfter, tc.window/10))
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				sends = append(sends, clock.Now())
				release(Outcome{Status: 200})
				if i%7 == 0 {
					// A pause of up to three tokens' refill.
					clock.Advance(time.Duration(i%13) * tc.window / time.Duration(4*tc.requests))
				}
			}
			over, most := overWindows(sends, tc.window, tc.requests)
			if over > 0 {
				t.Errorf("%d windows over the budget of %d (busiest %d)", over, tc.requests, most)
			}
			used := float64(len(sends)) / (float64(tc.requests) * float64(end.Sub(start)) / float64(tc.window))
			if used < tc.minUse {
				t.Errorf("used %.0f%% of the budget, want ≥ %.0f%%", used*100, tc.minUse*100)
			}
			var wasted, local int64
			for _, bs := range bss {
				wasted += bs.Stats().Wasted
				local += bs.Stats().Local
			}
			t.Logf("%d sends, busiest window %d of %d, %.1f%% of the budget used, %d throttled, %d store calls (%.2f per send), %d tokens from local reservations, %d wasted",
				len(sends), most, tc.requests, used*100, throttles, store.calls, float64(store.calls)/float64(len(sends)), local, wasted)
		})
	}
}

// TestLanesOnAFakeClock: with the bucket drained by imports, an alert gets
// a token at once, a sync request within the horizon, and an import has
// to wait for the refill.
func TestLanesOnAFakeClock(t *testing.T) {
	clock := newFakeClock()
	store := newMemStore()
	bs := NewBudgets(store, fakeOptions(clock))
	l := bs.Limiter(ID{Tenant: "t1", Key: "c"}, Budget{Name: "Vendor", Requests: 600, Window: time.Minute})
	imp := WithLane(context.Background(), LaneImport)
	// Imports take what they may without waiting past the horizon.
	for range 100 {
		before := clock.Now()
		release, err := l.Acquire(imp, "")
		if err != nil {
			t.Fatal(err)
		}
		release(Outcome{Status: 200})
		if clock.Now().Sub(before) > 0 {
			break // the bucket is down to the import floor
		}
	}
	for _, tc := range []struct {
		lane    Lane
		maxWait time.Duration
	}{{LaneAlert, 0}, {LaneSync, 1100 * time.Millisecond}} {
		before := clock.Now()
		release, err := l.Acquire(WithLane(context.Background(), tc.lane), "")
		if err != nil {
			t.Fatal(err)
		}
		release(Outcome{Status: 200})
		if waited := clock.Now().Sub(before); waited > tc.maxWait {
			t.Errorf("%s waited %s with imports saturating, want ≤ %s", tc.lane, waited, tc.maxWait)
		}
	}
}

// TestThrottledInsteadOfSleeping: a request that would wait longer than
// its lane or its context allows gets Throttled with the wait as
// RetryAfter, and sleeps no time.
func TestThrottledInsteadOfSleeping(t *testing.T) {
	clock := newFakeClock()
	bs := NewBudgets(newMemStore(), fakeOptions(clock))
	l := bs.Limiter(ID{Tenant: "t1", Key: "c"}, Budget{Name: "Vendor", Requests: 4, Window: time.Minute})
	alert := WithLane(context.Background(), LaneAlert)
	for range 2 {
		release, err := l.Acquire(alert, "")
		if err != nil {
			t.Fatal(err)
		}
		release(Outcome{Status: 200})
	}
	// The bucket (capacity 2, rate 2 per 61 s) is empty: the next token
	// matures in 30.5 s; the Sync button may take it only once the bucket
	// holds half its headroom besides (44.8 s).
	deadline, cancel := context.WithDeadline(context.Background(), clock.Now().Add(10*time.Second))
	defer cancel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		min, max time.Duration
	}{
		{"sync button: more than 5 s", WithLane(context.Background(), LaneSync), 44 * time.Second, 46 * time.Second},
		{"worker: less time left than the wait", WithLane(deadline, LaneAlert), 30 * time.Second, 31 * time.Second},
		{"alert: more than its 30 s", alert, 30 * time.Second, 31 * time.Second},
	} {
		before := clock.Now()
		_, err := l.Acquire(tc.ctx, "")
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Throttled || e.RetryAfter < tc.min || e.RetryAfter > tc.max {
			t.Errorf("%s: got %v, want Throttled with RetryAfter in [%s, %s]", tc.name, err, tc.min, tc.max)
		}
		if slept := clock.Now().Sub(before); slept > 0 {
			t.Errorf("%s: slept %s before refusing", tc.name, slept)
		}
	}
	// An alert with time to spare books the token and waits for it.
	clock.Advance(5 * time.Second)
	before := clock.Now()
	release, err := l.Acquire(alert, "")
	if err != nil {
		t.Fatal(err)
	}
	release(Outcome{Status: 200})
	if waited := clock.Now().Sub(before); waited < 25*time.Second || waited > 26*time.Second {
		t.Errorf("alert waited %s, want the token's 25.5 s", waited)
	}
}

// TestCoolDownOnAFakeClock: a throttle answer stops the instance that got
// it and every other at once, for Retry-After or the default.
func TestCoolDownOnAFakeClock(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter time.Duration
		want       time.Duration
	}{{"Retry-After given", 12 * time.Second, 12 * time.Second}, {"no Retry-After: the default", 0, DefaultCoolDown}} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			store := newMemStore()
			id := ID{Tenant: "t1", Key: "c"}
			budget := Budget{Name: "Vendor", Requests: 600, Window: time.Minute}
			a := NewBudgets(store, fakeOptions(clock)).Limiter(id, budget)
			b := NewBudgets(store, fakeOptions(clock)).Limiter(id, budget)
			alert := WithLane(context.Background(), LaneAlert)
			for _, l := range []*Limiter{a, b} {
				release, err := l.Acquire(alert, "")
				if err != nil {
					t.Fatal(err)
				}
				release(Outcome{Status: 200})
			}
			release, err := a.Acquire(alert, "")
			if err != nil {
				t.Fatal(err)
			}
			throttledAt := clock.Now()
			release(Outcome{Status: 429, Throttled: true, RetryAfter: tc.retryAfter})
			instances := []struct {
				name string
				l    *Limiter
			}{{"the instance throttled", a}, {"another instance", b}}
			for _, in := range instances {
				_, err := in.l.Acquire(WithLane(context.Background(), LaneSync), "")
				if e, ok := apperr.As(err); !ok || e.Kind != apperr.Throttled || e.RetryAfter < tc.want-time.Second || e.RetryAfter > tc.want+time.Second {
					t.Errorf("%s, sync lane: got %v, want Throttled with RetryAfter %s", in.name, err, tc.want)
				}
			}
			if tc.want > DefaultImportWait {
				for _, in := range instances {
					if _, err := in.l.Acquire(WithLane(context.Background(), LaneImport), ""); !apperr.Is(err, apperr.Throttled) {
						t.Errorf("%s, import lane: got %v, want Throttled", in.name, err)
					}
				}
				clock.Advance(tc.want - time.Second)
			}
			for _, in := range instances {
				release, err := in.l.Acquire(WithLane(context.Background(), LaneImport), "")
				if err != nil {
					t.Fatal(err)
				}
				release(Outcome{Status: 200})
				if sent := clock.Now(); sent.Before(throttledAt.Add(tc.want)) {
					t.Errorf("%s sent at +%s, before the cool-down of %s ended", in.name, sent.Sub(throttledAt), tc.want)
				}
			}
		})
	}
}

// TestCalibrateOnAFakeClock: the budget follows what the vendor reports,
// once a minute at most.
func TestCalibrateOnAFakeClock(t *testing.T) {
	clock := newFakeClock()
	store := newMemStore()
	id := ID{Tenant: "t1", Key: "db"}
	budget := Budget{Name: "Autotask", Requests: 5000, Window: time.Hour, Share: 0.5}
	l := NewBudgets(store, fakeOptions(clock)).Limiter(id, budget)
	ctx := WithLane(context.Background(), LaneAlert)
	send := func(n int) {
		for range n {
			release, err := l.Acquire(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			release(Outcome{Status: 200})
		}
	}
	send(1) // the bucket exists
	probes := 0
	observe := func(used int) func(context.Context) (Observation, error) {
		return func(context.Context) (Observation, error) {
			probes++
			return Observation{Limit: 10000, Used: used, Window: time.Hour}, nil
		}
	}
	stored := func() Bucket { b, _, _ := store.GetBucket(context.Background(), id); return b }

	// Other integrations used 8,000 of 10,000: 9,000 − 8,000 leaves 1,000.
	if ran, err := l.Calibrate(ctx, observe(8000)); err != nil || !ran {
		t.Fatalf("first calibration: ran %v, err %v", ran, err)
	}
	if b := stored(); b.Requests != 1000 || b.BaseRequests != 5000 || b.Allowed != 1000 {
		t.Errorf("after a busy database: requests %d base %d allowed %d, want 1000 5000 1000", b.Requests, b.BaseRequests, b.Allowed)
	}
	// Within the minute: no second probe.
	clock.Advance(30 * time.Second)
	if ran, _ := l.Calibrate(ctx, observe(0)); ran || probes != 1 {
		t.Errorf("second calibration within a minute ran (%v), probes %d", ran, probes)
	}
	// Our own requests are not others': after 300 of ours, a count of
	// 2,300 means 2,000 by others (samples interpolate our use).
	send(299)
	clock.Advance(31 * time.Second)
	if ran, err := l.Calibrate(ctx, observe(2300)); err != nil || !ran {
		t.Fatalf("third calibration: ran %v, err %v", ran, err)
	}
	if b := stored(); b.Requests != 5000 {
		t.Errorf("after a quiet database: requests %d, want the base 5000 (allowed %d)", b.Requests, b.Allowed)
	}
	// A database full of others: the floor, 5 % of the base.
	clock.Advance(61 * time.Second)
	if _, err := l.Calibrate(ctx, observe(20000)); err != nil {
		t.Fatal(err)
	}
	if b := stored(); b.Requests != 250 {
		t.Errorf("over the threshold: requests %d, want the floor 250", b.Requests)
	}
	// Without observations the allowance lapses and the base returns.
	clock.Advance(DefaultAllowanceTTL + time.Second)
	send(1)
	if b := stored(); b.Requests != 5000 {
		t.Errorf("after the allowance lapsed: requests %d, want 5000", b.Requests)
	}
}

// TestCostWithinTheBudget: a steady worker well within its budget (five
// requests a second against 1,200 a minute, the NinjaOne and ConnectWise
// default) costs one store request per batch of tokens, not one per
// request.
func TestCostWithinTheBudget(t *testing.T) {
	clock := newFakeClock()
	store := newMemStore()
	bs := NewBudgets(store, fakeOptions(clock))
	l := bs.Limiter(ID{Tenant: "t1", Key: "conn-1"}, Budget{Name: "NinjaOne", Requests: 1200, Window: time.Minute})
	ctx := WithLane(context.Background(), LaneImport)
	const n = 1000
	for range n {
		release, err := l.Acquire(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		release(Outcome{Status: 200})
		clock.Advance(200 * time.Millisecond)
	}
	s := bs.Stats()
	per := float64(s.StoreRequests()) / n
	if per > 0.25 {
		t.Errorf("%.2f store requests per vendor request, want ≤ 0.25", per)
	}
	t.Logf("%d requests: %d store requests (%.2f per request), %d tokens wasted", n, s.StoreRequests(), per, s.Wasted)
}
