package ratelimit

import (
	"math"
	"time"
)

// plan is what one take of n tokens should send to the store, given what
// the instance last knew of the bucket.
type plan struct {
	take Take
	ok   bool
	// wait is how long until the take could succeed (not ok).
	wait time.Duration
	// cooling: the bucket cools down for wait.
	cooling bool
}

// seconds is t − since in seconds, at the millisecond resolution the
// store keeps.
func seconds(t, since time.Time) float64 {
	return float64(t.UnixMilli()-since.UnixMilli()) / 1000
}

// round6 rounds x down to 6 decimals, so that stored numbers stay short.
func round6(x float64) float64 { return math.Floor(x*1e6) / 1e6 }

func ptr(f float64) *float64 { return &f }

// level is the bucket's level at now, uncapped (above Capacity means the
// bucket is full).
func (b Bucket) level(now time.Time) float64 {
	return b.Tokens + b.Rate*seconds(now, b.RefilledAt)
}

// planTake plans a take of n tokens that leaves the level at floor or
// above.
func planTake(b Bucket, now time.Time, n, floor float64, rebaseAfter time.Duration) plan {
	if b.CoolDownUntil.After(now) {
		return plan{cooling: true, wait: b.CoolDownUntil.Sub(now)}
	}
	refill := b.Rate * seconds(now, b.RefilledAt)
	raw := b.Tokens + refill
	if raw >= b.Capacity {
		// Full: the bucket restarts from its capacity now.
		if b.Capacity-n < floor {
			return plan{wait: time.Second}
		}
		return plan{ok: true, take: Take{
			Epoch: b.Epoch, NotCoolingAt: now,
			Min:       ptr(b.Capacity - refill),
			SetTokens: ptr(round6(b.Capacity - n)), SetRefilledAt: now,
			Taken: int64(n),
		}}
	}
	if raw-n < floor {
		if b.Rate <= 0 {
			return plan{wait: time.Minute}
		}
		return plan{wait: durationOf((floor + n - raw) / b.Rate)}
	}
	t := Take{
		Epoch: b.Epoch, NotCoolingAt: now,
		Min: ptr(floor + n - refill), Max: ptr(b.Capacity - refill),
		AddTokens: -n, Taken: int64(n),
	}
	if now.Sub(b.RefilledAt) > rebaseAfter {
		// Move the reference to now, keeping the level: the stored
		// numbers stay small, and concurrent takes retry once.
		t.AddTokens, t.SetRefilledAt = round6(refill)-n, now
	}
	return plan{ok: true, take: t}
}

// maturities returns when each of the n tokens just taken may be used:
// after is the bucket as the take left it, at now. Token m (1..n) exists
// once the level before the take, plus what refills, reaches m.
func maturities(after Bucket, now time.Time, n int) []time.Time {
	before := after.level(now) + float64(n)
	out := make([]time.Time, n)
	for m := 1; m <= n; m++ {
		out[m-1] = now
		if short := float64(m) - before; short > 0 && after.Rate > 0 {
			out[m-1] = now.Add(durationOf(short / after.Rate))
		}
	}
	return out
}

// durationOf converts seconds to a duration, rounding up to the
// millisecond.
func durationOf(secs float64) time.Duration {
	if secs <= 0 {
		return 0
	}
	if secs > 1e6 {
		secs = 1e6
	}
	return time.Duration(math.Ceil(secs*1000)) * time.Millisecond
}

// rebased returns b as if rebased at now with the parameters p: the level
// is kept (capped by the new capacity), the reference moves to now.
func rebased(b Bucket, now time.Time, p params) Bucket {
	lvl := math.Min(b.level(now), b.Capacity)
	if b.Capacity == 0 && b.Rate == 0 {
		lvl = p.capacity // a bare bucket (only a cool-down): full
	}
	b.Tokens = round6(math.Min(lvl, p.capacity))
	b.RefilledAt = now
	b.Rate = p.rate
	b.Capacity = p.capacity
	b.Requests = p.requests
	b.Window = p.window
	return b
}
