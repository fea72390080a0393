package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSlidingWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(secs ...float64) []time.Time {
		var out []time.Time
		for _, s := range secs {
			out = append(out, t0.Add(time.Duration(s*float64(time.Second))))
		}
		return out
	}
	tests := []struct {
		name  string
		times []time.Time
		limit int
		want  windowStats
	}{
		{"none", nil, 3, windowStats{}},
		{"one", at(5), 3, windowStats{Max: 1, MaxAt: t0.Add(5 * time.Second)}},
		{"exactly the limit", at(0, 10, 59.9), 3, windowStats{Max: 3, MaxAt: t0}},
		{"a window is half-open: 60 s apart is two windows", at(0, 60, 60, 60), 3, windowStats{Max: 3, MaxAt: t0.Add(60 * time.Second)}},
		{"one over", at(0, 10, 20, 59), 3, windowStats{Max: 4, MaxAt: t0, Over: 1}},
		{"unsorted input, the busiest window later", at(100, 0, 130, 101, 159, 102), 3, windowStats{Max: 5, MaxAt: t0.Add(100 * time.Second), Over: 2}},
		{"a burst at one instant", at(7, 7, 7, 7, 7), 2, windowStats{Max: 5, MaxAt: t0.Add(7 * time.Second), Over: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slidingWindow(tt.times, time.Minute, tt.limit)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("slidingWindow (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBudgetUse(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var times []time.Time
	for i := range 1200 { // 10 a second for 120 s
		times = append(times, t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	tests := []struct {
		name     string
		from, to time.Duration
		budget   int
		want     float64
		wantN    int
		wantOK   bool
	}{
		{"the whole span at its own rate", 0, 120 * time.Second, 600, 1, 1200, true},
		{"half the budget used", 60 * time.Second, 120 * time.Second, 1200, 0.5, 600, true},
		{"a span past the last request", 60 * time.Second, 180 * time.Second, 600, 0.5, 600, true},
		{"empty span", 60 * time.Second, 60 * time.Second, 600, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, ok := budgetUse(times, t0.Add(tt.from), t0.Add(tt.to), tt.budget, time.Minute)
			if ok != tt.wantOK || n != tt.wantN || got < tt.want-1e-9 || got > tt.want+1e-9 {
				t.Errorf("budgetUse = %v, %d, %v; want %v, %d, %v", got, n, ok, tt.want, tt.wantN, tt.wantOK)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100 … 1 ms, unsorted
	}
	tests := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"none", nil, 99, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(hundred...), 99, 99 * time.Millisecond},
		{"p50 of 100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p99 of 10 is the largest", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 4000), 99, 4000 * time.Millisecond},
		{"p100", ms(3, 1, 2), 100, 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.in, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.in, tt.p, got, tt.want)
			}
		})
	}
}
