package fakevendor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

func TestPage(t *testing.T) {
	all := []int{0, 1, 2, 3, 4}
	tests := []struct {
		cursor   string
		size     int
		want     []int
		wantNext string
		bad      bool
	}{
		{cursor: "", size: 2, want: []int{0, 1}, wantNext: "2"},
		{cursor: "2", size: 2, want: []int{2, 3}, wantNext: "4"},
		{cursor: "4", size: 2, want: []int{4}},
		{cursor: "3", size: 2, want: []int{3, 4}},
		{cursor: "5", size: 2},
		{cursor: "99", size: 2},
		{cursor: "", size: 10, want: all},
		{cursor: "-1", bad: true},
		{cursor: "two", bad: true},
	}
	for _, tt := range tests {
		start, ok := ParseOffset(tt.cursor)
		if ok == tt.bad {
			t.Errorf("ParseOffset(%q) ok = %v", tt.cursor, ok)
			continue
		}
		if tt.bad {
			continue
		}
		got, next := Page(all, start, tt.size)
		if diff := cmp.Diff(tt.want, got); diff != "" || next != tt.wantNext {
			t.Errorf("cursor %q size %d: next %q (want %q), page (-want +got):\n%s", tt.cursor, tt.size, next, tt.wantNext, diff)
		}
	}
}

func newGate() *Gate {
	return NewGate(Policy{Name: "TEST", Secret: "s", RejectedReason: "no", MaxAttempts: 3, AttemptTimeout: 10 * time.Millisecond,
		MaxRetryAfter: 20 * time.Second, Unsupported: map[string]bool{"Off": true}})
}

// TestGate: each knob answers as a vendor client would, and the counts
// and waits record it.
func TestGate(t *testing.T) {
	ctx := context.Background()
	down := errors.New("down")
	tests := []struct {
		name      string
		set       func(g *Gate)
		method    string
		secret    string
		wantKind  apperr.Kind
		wantErr   error
		wantReqs  int64
		wantWaits []time.Duration
	}{
		{name: "healthy", method: "Get", wantReqs: 1},
		{name: "wrong secret", method: "Get", secret: "x", wantKind: apperr.Unauthorized, wantReqs: 1},
		{name: "unsupported", method: "Off", wantKind: apperr.NotImplemented},
		{name: "queued failure", set: func(g *Gate) { g.Fail("Get", 1, down) }, method: "Get", wantErr: down},
		{name: "failure of another method", set: func(g *Gate) { g.Fail("Put", 1, down) }, method: "Get", wantReqs: 1},
		{name: "hook", set: func(g *Gate) { g.OnCall(func(string) error { return down }) }, method: "Get", wantErr: down},
		{name: "throttled once", set: func(g *Gate) { g.ThrottleNext(1, 3*time.Second) }, method: "Get", wantReqs: 2, wantWaits: []time.Duration{3 * time.Second}},
		{name: "throttled too long", set: func(g *Gate) { g.ThrottleNext(1, time.Minute) }, method: "Get", wantKind: apperr.Throttled, wantReqs: 1},
		{name: "5xx then fine", set: func(g *Gate) { g.FailNext(2, 503) }, method: "Get", wantReqs: 3,
			wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{name: "5xx every attempt", set: func(g *Gate) { g.FailNext(3, 502) }, method: "Get", wantKind: apperr.Vendor, wantReqs: 3,
			wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{name: "hang every attempt", set: func(g *Gate) { g.HangNext(5) }, method: "Get", wantKind: apperr.Unavailable, wantReqs: 3,
			wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate()
			if tt.set != nil {
				tt.set(g)
			}
			secret := tt.secret
			if secret == "" {
				secret = "s"
			}
			err := g.Begin(ctx, tt.method, secret)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.wantKind != apperr.Internal:
				if apperr.KindOf(err) != tt.wantKind {
					t.Errorf("err = %v, want kind %s", err, tt.wantKind)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			}
			if got := g.Requests(); got != tt.wantReqs {
				t.Errorf("requests = %d, want %d", got, tt.wantReqs)
			}
			if diff := cmp.Diff(tt.wantWaits, g.Waits()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if g.Calls(tt.method) != 1 || g.TotalCalls() != 1 {
				t.Errorf("calls %v, want one of %s", g.CallCounts(), tt.method)
			}
		})
	}
}

// TestGateCounts: a failure is used up after its count, Enter counts and
// refuses unsupported methods, ResetCalls clears the counts.
func TestGateCounts(t *testing.T) {
	ctx := context.Background()
	g := newGate()
	down := errors.New("down")
	g.Fail("Get", 2, down)
	for i, want := range []error{down, down, nil} {
		if err := g.Begin(ctx, "Get", "s"); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("call %d: err = %v, want %v", i+1, err, want)
		}
	}
	if err := g.Enter("Parse"); err != nil {
		t.Errorf("Enter(Parse) = %v", err)
	}
	if err := g.Enter("Off"); apperr.KindOf(err) != apperr.NotImplemented {
		t.Errorf("Enter(Off) = %v, want NotImplemented", err)
	}
	if diff := cmp.Diff(map[string]int{"Get": 3, "Parse": 1, "Off": 1}, g.CallCounts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	g.ResetCalls()
	if g.TotalCalls() != 0 {
		t.Errorf("after ResetCalls: %v", g.CallCounts())
	}
	only := NewGate(Policy{Name: "TEST", Secret: "s", MaxAttempts: 1, Only: map[string]bool{"Get": true}})
	if err := only.Begin(ctx, "Put", "s"); apperr.KindOf(err) != apperr.NotImplemented {
		t.Errorf("a method Only leaves out: %v", err)
	}
	f := NewFailures()
	f.Set("Put", -1, down)
	for range 3 {
		if err := f.Take("Put"); !errors.Is(err, down) {
			t.Errorf("a failure forever ended: %v", err)
		}
	}
	f.Set("Put", 0, nil)
	if err := f.Take("Put"); err != nil {
		t.Errorf("a cleared failure: %v", err)
	}
}
