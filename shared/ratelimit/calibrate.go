package ratelimit

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Observation is what the vendor says of its own limit: Limit requests
// per Window for every integration together, Used of them counted in the
// current window (Autotask's ThresholdInformation: externalRequestThreshold,
// requestThresholdTimeframe, currentTimeframeRequestCount; HaloPSA's
// X-RateLimit-* headers).
type Observation struct {
	Limit  int
	Used   int
	Window time.Duration
}

// ObservationFromHeaders reads X-RateLimit-Limit and X-RateLimit-Remaining
// (the usual rate-limit headers, HaloPSA's among them); window is the
// vendor's window, which the headers do not say. ok is false when either
// header is missing or not a number.
func ObservationFromHeaders(h http.Header, window time.Duration) (Observation, bool) {
	limit, err1 := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Limit")))
	left, err2 := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	if err1 != nil || err2 != nil || limit <= 0 || window <= 0 {
		return Observation{}, false
	}
	return Observation{Limit: limit, Used: max(0, limit-max(left, 0)), Window: window}, true
}

// Calibrator is what a vendor client that can read its vendor's own count
// needs of its budget; the *Limiter it is given (as its vendorhttp
// Limiter) satisfies it. Autotask reads ThresholdInformation in the probe
// (a request through the client, so counted by the budget); a client
// reading rate-limit headers (HaloPSA) keeps the last ones it saw
// (vendorhttp's OnRequest hook carries each answer's header) and returns
// ObservationFromHeaders in a probe that sends nothing.
type Calibrator interface {
	Calibrate(ctx context.Context, probe func(ctx context.Context) (Observation, error)) (ran bool, err error)
}

var _ Calibrator = (*Limiter)(nil)

// Calibrate adjusts the budget to what the vendor reports, at most once
// per Options.CalibrateEvery across every instance: the first caller of
// the period claims it in the table (one conditional write), runs probe
// (a request through this limiter is drawn from the budget like any
// other) and applies the observation; every other caller, here or in
// another instance, returns at once with ran false. Within an instance
// only one calibration runs at a time.
//
// The budget becomes
//
//	min(base, Limit·Ceiling − others)
//
// per vendor window, where base is Budget.Share·Limit (or Budget.Requests
// when Share is 0), others are the requests the vendor counted that this
// budget did not take (Used less this budget's own takes over the vendor's
// window, from the samples the calibrations keep), and the result is never
// below 5 % of base (alerts keep flowing; the vendor's own refusals then
// cool the budget down). It holds for Options.AllowanceTTL unless a new
// observation replaces it, and the bucket is rebased on it at once.
func (l *Limiter) Calibrate(ctx context.Context, probe func(ctx context.Context) (Observation, error)) (ran bool, err error) {
	if l == nil {
		return false, nil
	}
	o := l.bs.opt
	st := l.st
	now := o.Now()
	st.mu.Lock()
	if st.calibrating || now.Before(st.nextCalib) {
		st.mu.Unlock()
		return false, nil
	}
	st.calibrating = true
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		st.calibrating = false
		st.nextCalib = o.Now().Add(o.CalibrateEvery)
		st.mu.Unlock()
	}()
	ok, err := l.bs.store.ClaimCalibration(ctx, l.id, now, o.CalibrateEvery)
	l.bs.stats.claims.Add(1)
	if err != nil {
		return false, l.storeErr(err)
	}
	if !ok {
		return false, nil
	}
	obs, err := probe(ctx)
	if err != nil {
		return true, fmt.Errorf("calibrate %s request budget: %w", l.budget.Name, err)
	}
	if obs.Limit <= 0 || obs.Window <= 0 {
		return true, fmt.Errorf("calibrate %s request budget: the vendor reported no limit", l.budget.Name)
	}
	return true, l.apply(ctx, obs)
}

// apply rebases the bucket on an observation.
func (l *Limiter) apply(ctx context.Context, obs Observation) error {
	o := l.bs.opt
	for try := 0; try < maxTries; try++ {
		now := o.Now()
		b, found, err := l.bs.store.GetBucket(ctx, l.id)
		l.bs.stats.gets.Add(1)
		if err != nil {
			return l.storeErr(err)
		}
		if !found || b.Epoch == 0 {
			// No requests yet: the first draw creates the bucket; the next
			// calibration has something to adjust.
			return nil
		}
		ours := ownUse(b, now, obs.Window)
		others := math.Max(0, float64(obs.Used)-float64(ours))
		scale := l.budget.Window.Seconds() / obs.Window.Seconds() // vendor window → budget window
		base := float64(l.budget.Requests)
		if l.budget.Share > 0 {
			base = l.budget.Share * float64(obs.Limit) * scale
		}
		allowed := (float64(obs.Limit)*l.budget.Ceiling - others) * scale
		allowed = math.Max(math.Min(allowed, base), math.Max(2, 0.05*base))
		nb := b
		nb.BaseRequests = int(math.Round(base))
		nb.Allowed = int(math.Floor(allowed))
		nb.AllowedUntil = now.Add(o.AllowanceTTL)
		nb.CalibratedAt = now
		nb.Samples = keepSamples(append(append([]Sample(nil), b.Samples...), Sample{At: now, Taken: b.Taken}), now,
			max(obs.Window, l.budget.Window)+2*o.CalibrateEvery)
		p := l.params(nb, true, now)
		if !b.CoolDownUntil.After(now) {
			nb = rebased(nb, now, p)
		}
		got, ok, err := l.bs.store.Rewrite(ctx, l.id, b.Version, nb)
		l.bs.stats.rewrites.Add(1)
		if err != nil {
			return l.storeErr(err)
		}
		if ok {
			l.st.mu.Lock()
			l.st.learn(got, o.Now())
			l.st.mu.Unlock()
			return nil
		}
	}
	return fmt.Errorf("calibrate %s request budget %s: the bucket kept changing", l.budget.Name, l.id)
}

// ownUse estimates the tokens this budget took over the window before now
// from the samples: the counter now less the counter at the window's
// start (interpolated), or at the oldest sample when they do not reach
// back that far (an underestimate: others then look busier, and the
// budget shrinks more, never less, than it should).
func ownUse(b Bucket, now time.Time, window time.Duration) int64 {
	start := now.Add(-window)
	var at int64 = -1
	for i, s := range b.Samples {
		if !s.At.After(start) {
			at = s.Taken
			if i+1 < len(b.Samples) {
				next := b.Samples[i+1]
				if next.At.After(start) && next.At.After(s.At) {
					f := start.Sub(s.At).Seconds() / next.At.Sub(s.At).Seconds()
					at = s.Taken + int64(f*float64(next.Taken-s.Taken))
				}
			}
			continue
		}
		if at < 0 {
			at = s.Taken
		}
		break
	}
	if at < 0 {
		return 0
	}
	return max(0, b.Taken-at)
}

// keepSamples drops samples older than keep, but one (the window's start
// is interpolated from it), and bounds their number.
func keepSamples(s []Sample, now time.Time, keep time.Duration) []Sample {
	cut := 0
	for cut+1 < len(s) && now.Sub(s[cut+1].At) > keep {
		cut++
	}
	s = s[cut:]
	if len(s) > maxSamples {
		s = s[len(s)-maxSamples:]
	}
	return s
}

// maxSamples bounds the samples kept in the bucket item.
const maxSamples = 90
