package sandboxkit

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFaults: faults are taken in the order queued, each once.
func TestFaults(t *testing.T) {
	var f Faults
	f.FailNext(2, 503)
	f.ThrottleNext(1, 1500*time.Millisecond)
	f.HangNext(1)
	f.Queue(1, Fault{Status: Reject, BodyStatus: 400, Body: `"no"`})
	var got []Fault
	for {
		x, ok := f.Next()
		if !ok {
			break
		}
		got = append(got, x)
	}
	want := []Fault{{Status: 503}, {Status: 503}, {Status: Throttle, RetryAfter: 1500 * time.Millisecond}, {Status: Hang},
		{Status: Reject, BodyStatus: 400, Body: `"no"`}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("faults (-want +got):\n%s", diff)
	}
}

// TestDraw: off draws nothing from the generator (so a sandbox's seeded
// ids do not shift); the rates pick hangs and statuses.
func TestDraw(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ref := rand.New(rand.NewPCG(1, 2))
	if got := Draw(rng, 0, 0, []int{502}); got != 0 {
		t.Errorf("off: %d", got)
	}
	if rng.Uint64() != ref.Uint64() {
		t.Error("Draw with both rates off drew from the generator")
	}
	if got := Draw(rng, 1, 0, []int{502}); got != Hang {
		t.Errorf("timeout rate 1: %d, want Hang", got)
	}
	seen := map[int]bool{}
	for range 200 {
		seen[Draw(rng, 0, 1, []int{502, 504})] = true
	}
	if diff := cmp.Diff(map[int]bool{502: true, 504: true}, seen); diff != "" {
		t.Errorf("fail rate 1 (-want +got):\n%s", diff)
	}
}

func TestRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", 30 * time.Second: "30"} {
		if got := RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%s) = %s, want %s", d, got, want)
		}
	}
}

func TestCounts(t *testing.T) {
	var c Counts
	if got := c.Requests(); got == nil || len(got) != 0 || c.TotalRequests() != 0 {
		t.Errorf("empty: %v", got)
	}
	c.Count("GET /a")
	c.Count("GET /a")
	c.Count("unmatched")
	if diff := cmp.Diff(map[string]int64{"GET /a": 2, "unmatched": 1}, c.Requests()); diff != "" || c.TotalRequests() != 3 {
		t.Errorf("total %d, counts (-want +got):\n%s", c.TotalRequests(), diff)
	}
}

// TestBucket: a burst of max(1, rate), then a wait until the next token;
// no limit at rate 0.
func TestBucket(t *testing.T) {
	var b Bucket
	for range 5 {
		if _, ok := b.Take(); !ok {
			t.Fatal("the zero bucket limited")
		}
	}
	b.SetRate(2)
	for i := range 2 {
		if _, ok := b.Take(); !ok {
			t.Fatalf("token %d of a burst of 2 refused", i+1)
		}
	}
	wait, ok := b.Take()
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Errorf("third token: ok %v, wait %s (want refused, at most 0.5 s)", ok, wait)
	}
	b.SetRate(0)
	if _, ok := b.Take(); !ok {
		t.Error("rate 0 limited")
	}
}

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), 0) || !Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep did not complete")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("Sleep outlived its context")
	}
}

// TestListener: serves on loopback until Close; a request hanging at
// Close is abandoned, not waited for.
func TestListener(t *testing.T) {
	var l Listener
	if err := l.Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	u, err := l.Start("127.0.0.1:0", mux, slog.New(slog.DiscardHandler), "test sandbox")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("got %q", b)
	}
	go func() { _, _ = http.Get(u + "/hang") }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	_ = l.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %s", d)
	}
	if _, err := http.Get(u + "/ok"); err == nil {
		t.Error("still serving after Close")
	}
}
