package main

import (
	"math"
	"sort"
	"time"
)

// windowStats is how a series of request times sits against a budget of
// limit requests per window.
type windowStats struct {
	// Max is the most requests in any window [t, t+window); MaxAt is
	// that window's start (a request time).
	Max   int
	MaxAt time.Time
	// Over counts the requests that arrived with more than limit
	// requests in the window ending at them (t-window, t]: 0 when no
	// window of that length ever held more than limit.
	Over int
}

// slidingWindow measures times (in any order) against limit requests per
// window. Every window of the given length that holds the most requests
// can be slid to start at a request, so checking those windows is exact.
func slidingWindow(times []time.Time, window time.Duration, limit int) windowStats {
	ts := append([]time.Time(nil), times...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	var s windowStats
	j := 0
	for i := range ts {
		// Requests [i, j) lie in [ts[i], ts[i]+window).
		if j < i {
			j = i
		}
		for j < len(ts) && ts[j].Sub(ts[i]) < window {
			j++
		}
		if n := j - i; n > s.Max {
			s.Max, s.MaxAt = n, ts[i]
		}
	}
	k := 0
	for i := range ts {
		// Requests [k, i] lie in (ts[i]-window, ts[i]].
		for ts[i].Sub(ts[k]) >= window {
			k++
		}
		if i-k+1 > limit {
			s.Over++
		}
	}
	return s
}

// countBetween counts the times in [from, to).
func countBetween(times []time.Time, from, to time.Time) int {
	n := 0
	for _, t := range times {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return n
}

// budgetUse is the share of a budget of perWindow requests per window that
// the requests in [from, to) used: their rate over the span against the
// budget's rate. ok is false for an empty span.
func budgetUse(times []time.Time, from, to time.Time, perWindow int, window time.Duration) (use float64, n int, ok bool) {
	span := to.Sub(from)
	if span <= 0 || perWindow <= 0 || window <= 0 {
		return 0, 0, false
	}
	n = countBetween(times, from, to)
	return float64(n) / (float64(perWindow) * span.Seconds() / window.Seconds()), n, true
}

// percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of ds, 0
// for none: the smallest value with at least p % of the values at or
// below it.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}
