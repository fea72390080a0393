// Package sandboxkit holds the plumbing the vendor sandboxes
// (shared/vendors/*/sandbox) share: serving on a port in the background
// and stopping (Listener), the queue of injected faults behind FailNext,
// ThrottleNext and HangNext (Faults), random failures at given rates
// (Draw), per-route request counts (Counts), a token-bucket rate limit
// (Bucket) and a context-aware Sleep. How a fault is answered (which body,
// which headers) stays with each sandbox: it is what imitates its vendor.
// Development tooling only.
package sandboxkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Listener serves a sandbox's handler in the background.
type Listener struct {
	srv  *http.Server
	done chan struct{}
}

// Start listens on addr ("127.0.0.1:0" for a free loopback port) and
// serves h in the background; name ("ninjaone sandbox") labels the error
// logged if serving stops. It returns "http://" and the address.
func (l *Listener) Start(addr string, h http.Handler, log *slog.Logger, name string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	l.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		if err := l.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(name+" stopped", "error", err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// Close stops a started listener, abandoning requests still held after 2 s
// (hanging ones); it is a no-op when Start was not called.
func (l *Listener) Close() error {
	if l.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := l.srv.Shutdown(ctx)
	if err != nil {
		err = l.srv.Close()
	}
	<-l.done
	return err
}

// Injected failures besides HTTP statuses (Fault.Status).
const (
	// Hang holds the request until the client gives up (or the sandbox's
	// timeout delay passes).
	Hang = -1
	// Throttle answers 429 with Fault.RetryAfter.
	Throttle = -2
	// Reject answers Fault.BodyStatus with the raw Fault.Body.
	Reject = -3
)

// Fault is one injected failure.
type Fault struct {
	Status     int // an HTTP status, Hang, Throttle or Reject
	RetryAfter time.Duration
	BodyStatus int
	Body       string
}

// Faults is a sandbox's queue of injected failures, each taken by the next
// API request (the sandbox decides which requests take one). Safe for
// concurrent use; the zero value is empty.
type Faults struct {
	mu sync.Mutex
	q  []Fault
}

// FailNext answers the next n API requests with status.
func (f *Faults) FailNext(n, status int) { f.Queue(n, Fault{Status: status}) }

// ThrottleNext answers the next n API requests with 429 and a Retry-After
// of retryAfter.
func (f *Faults) ThrottleNext(n int, retryAfter time.Duration) {
	f.Queue(n, Fault{Status: Throttle, RetryAfter: retryAfter})
}

// HangNext holds the next n API requests until the client gives up.
func (f *Faults) HangNext(n int) { f.Queue(n, Fault{Status: Hang}) }

// Queue adds n copies of x.
func (f *Faults) Queue(n int, x Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.q = append(f.q, x)
	}
}

// Next takes the next queued fault, if any.
func (f *Faults) Next() (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.q) == 0 {
		return Fault{}, false
	}
	x := f.q[0]
	f.q = f.q[1:]
	return x, true
}

// Draw draws the random failure of one request: Hang with probability
// timeoutRate, one of statuses (uniformly) with probability failRate, else
// 0. It draws nothing from rng when both rates are off. The caller guards
// rng.
func Draw(rng *rand.Rand, timeoutRate, failRate float64, statuses []int) int {
	if failRate <= 0 && timeoutRate <= 0 {
		return 0
	}
	x := rng.Float64()
	switch {
	case x < timeoutRate:
		return Hang
	case x < timeoutRate+failRate:
		return statuses[rng.IntN(len(statuses))]
	}
	return 0
}

// RetryAfter is a Retry-After header value for d: whole seconds, rounded
// up, at least 1.
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// Counts counts requests per route. Safe for concurrent use; the zero
// value is empty.
type Counts struct {
	mu sync.Mutex
	m  map[string]int64
}

// Count adds one request of route.
func (c *Counts) Count(route string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int64{}
	}
	c.m[route]++
}

// Requests returns how many requests each route received.
func (c *Counts) Requests() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := maps.Clone(c.m)
	if out == nil {
		out = map[string]int64{}
	}
	return out
}

// TotalRequests returns the number of requests received.
func (c *Counts) TotalRequests() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, v := range c.m {
		n += v
	}
	return n
}

// Bucket is a token-bucket rate limit: perSecond tokens a second, a burst
// of max(1, perSecond). Safe for concurrent use; the zero value is off.
type Bucket struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	at     time.Time
}

// SetRate sets the rate (0 or less: no limit) and fills the bucket.
func (b *Bucket) SetRate(perSecond float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rate, b.tokens, b.at = perSecond, math.Max(1, perSecond), time.Time{}
}

// Take takes a token; when there is none it says how long until the next.
func (b *Bucket) Take() (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rate := b.rate
	if rate <= 0 {
		return 0, true
	}
	now := time.Now()
	burst := math.Max(1, rate)
	if !b.at.IsZero() {
		b.tokens = math.Min(burst, b.tokens+now.Sub(b.at).Seconds()*rate)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / rate * float64(time.Second)), false
}

// Sleep waits d, or until ctx ends (then false). d <= 0 returns at once.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
