// Package fakevendor holds what the in-memory vendor fakes (shared/psa/psafake,
// shared/rmm/rmmfake) share: the Gate every client call goes through (call
// counts, a hook, queued failures, unsupported methods, the credentials,
// and simulated requests answering injected 429/5xx/hangs with the retry
// policy of a vendor client), and offset paging.
//
// It is a test helper: nothing that ships in a Lambda imports it.
package fakevendor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Policy is how a fake's Gate answers.
type Policy struct {
	// Name names the fake in its errors ("PSA": "the fake PSA did not
	// answer").
	Name string
	// Secret is the secret the fake accepts; a client with another one is
	// answered apperr.Unauthorized with RejectedReason.
	Secret         string
	RejectedReason string
	// MaxAttempts is the client's attempts per call; AttemptTimeout how
	// long an injected hang holds one attempt.
	MaxAttempts    int
	AttemptTimeout time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for
	// itself (as vendorhttp); longer ones come back as Throttled.
	MaxRetryAfter time.Duration
	// Unsupported methods answer apperr.NotImplemented; with Only set,
	// every method it does not name does too.
	Unsupported map[string]bool
	Only        map[string]bool
}

// failure is a queued failure of one method.
type failure struct {
	n   int // remaining; <0 forever
	err error
}

// fault is an injected transport fault.
type fault struct {
	status     int // 429, 5xx; 0 for a hang
	retryAfter time.Duration
}

// Gate is what every client call of a fake goes through. It is safe for
// concurrent use.
type Gate struct {
	pol Policy

	mu       sync.Mutex
	calls    map[string]int
	hook     func(method string) error
	failures Failures
	faults   []fault
	waits    []time.Duration
	requests int64
}

// NewGate returns a gate answering with pol.
func NewGate(pol Policy) *Gate {
	return &Gate{pol: pol, calls: map[string]int{}, failures: NewFailures()}
}

// Calls returns how many times a client method was called (each call
// once, whatever its retries).
func (g *Gate) Calls(method string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[method]
}

// CallCounts returns the call count of every method called.
func (g *Gate) CallCounts() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.calls)
}

// TotalCalls returns the number of client calls.
func (g *Gate) TotalCalls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, v := range g.calls {
		n += v
	}
	return n
}

// ResetCalls sets every call count back to zero.
func (g *Gate) ResetCalls() {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.calls)
}

// Requests returns the simulated requests: one per attempt, retries
// included.
func (g *Gate) Requests() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.requests
}

// Waits returns the retry waits the fake's client took (it never sleeps
// for them).
func (g *Gate) Waits() []time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.waits)
}

// OnCall sets a hook run before every client call with the method's name
// ("CreateAsset"), outside the fake's locks (it may sleep); an error it
// returns is the call's answer. nil removes it.
func (g *Gate) OnCall(hook func(method string) error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hook = hook
}

// Fail makes the next n calls of method answer err (n < 0: every call
// until Fail(method, 0, nil)).
func (g *Gate) Fail(method string, n int, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failures.Set(method, n, err)
}

// ThrottleNext answers the next n simulated requests with 429 and a
// Retry-After; the client waits it out (recorded in Waits) up to
// MaxRetryAfter and answers Throttled beyond.
func (g *Gate) ThrottleNext(n int, retryAfter time.Duration) {
	g.queue(n, fault{status: 429, retryAfter: retryAfter})
}

// FailNext answers the next n simulated requests with a 5xx status; the
// client retries, then answers apperr.Vendor with the status.
func (g *Gate) FailNext(n, status int) { g.queue(n, fault{status: status}) }

// HangNext leaves the next n simulated requests unanswered for the
// attempt timeout (or until the caller's context ends); the client
// retries, then answers apperr.Unavailable.
func (g *Gate) HangNext(n int) { g.queue(n, fault{}) }

func (g *Gate) queue(n int, f fault) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for range n {
		g.faults = append(g.faults, f)
	}
}

// Failures are failures queued per method, for a fake's own kinds of
// failure beside the Gate's (e.g. psafake's FailAfter). The caller guards
// them.
type Failures map[string]*failure

// NewFailures returns an empty set of queued failures.
func NewFailures() Failures { return Failures{} }

// Set queues n uses of err for method (n < 0: until cleared); n == 0 or a
// nil err clears it.
func (m Failures) Set(method string, n int, err error) {
	if n == 0 || err == nil {
		delete(m, method)
		return
	}
	m[method] = &failure{n: n, err: err}
}

// Take takes one use of the failure queued for method, if any.
func (m Failures) Take(method string) error {
	f, ok := m[method]
	if !ok {
		return nil
	}
	if f.n > 0 {
		if f.n--; f.n == 0 {
			delete(m, method)
		}
	}
	return f.err
}

func (g *Gate) unsupported(method string) error {
	if g.pol.Unsupported[method] || (g.pol.Only != nil && !g.pol.Only[method]) {
		return apperr.New(apperr.NotImplemented, "the fake %s does not support %s", g.pol.Name, method)
	}
	return nil
}

// Enter counts a call of method that sends no request (a webhook parser)
// and answers apperr.NotImplemented if the method is unsupported.
func (g *Gate) Enter(method string) error {
	g.mu.Lock()
	g.calls[method]++
	g.mu.Unlock()
	return g.unsupported(method)
}

// Begin runs what every call goes through: the call count, unsupported
// methods, the hook and queued failures, then the simulated requests of a
// client holding secret, with the retry policy of a vendor client.
func (g *Gate) Begin(ctx context.Context, method, secret string) error {
	g.mu.Lock()
	g.calls[method]++
	hook := g.hook
	failErr := g.failures.Take(method)
	g.mu.Unlock()
	if err := g.unsupported(method); err != nil {
		return err
	}
	if hook != nil {
		if err := hook(method); err != nil {
			return err
		}
	}
	if failErr != nil {
		return failErr
	}
	name := g.pol.Name
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return apperr.Wrap(apperr.Unavailable, err, "the fake %s did not answer in time", name)
		}
		g.mu.Lock()
		g.requests++
		if secret != g.pol.Secret {
			g.mu.Unlock()
			return &apperr.Error{Kind: apperr.Unauthorized, Message: g.pol.RejectedReason, VendorStatus: 401}
		}
		if len(g.faults) == 0 {
			g.mu.Unlock()
			return nil
		}
		f := g.faults[0]
		g.faults = g.faults[1:]
		g.mu.Unlock()
		last := attempt >= g.pol.MaxAttempts
		switch {
		case f.status == 429:
			if f.retryAfter > g.pol.MaxRetryAfter || last {
				return &apperr.Error{Kind: apperr.Throttled, VendorStatus: 429, RetryAfter: max(f.retryAfter, time.Second),
					Message: fmt.Sprintf("the fake %s asks to retry after %s", name, f.retryAfter.Round(time.Second))}
			}
			g.wait(f.retryAfter)
		case f.status != 0:
			if last {
				return &apperr.Error{Kind: apperr.Vendor, VendorStatus: f.status, Message: fmt.Sprintf("the fake %s failed (HTTP %d)", name, f.status)}
			}
			g.wait(time.Duration(attempt) * 100 * time.Millisecond)
		default:
			t := time.NewTimer(g.pol.AttemptTimeout)
			select {
			case <-ctx.Done():
				t.Stop()
				return apperr.Wrap(apperr.Unavailable, ctx.Err(), "the fake %s did not answer in time", name)
			case <-t.C:
			}
			if last {
				return apperr.New(apperr.Unavailable, "the fake %s did not answer", name)
			}
			g.wait(time.Duration(attempt) * 100 * time.Millisecond)
		}
	}
}

func (g *Gate) wait(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waits = append(g.waits, d)
}

// ParseOffset reads an offset cursor ("" is the start); ok is false when
// cursor is not one an offset listing returned.
func ParseOffset(cursor string) (start int, ok bool) {
	if cursor == "" {
		return 0, true
	}
	n, err := strconv.Atoi(cursor)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// Page returns the page of all that starts at start and holds at most
// size (> 0) items (nil past the end), and the offset cursor of the next
// page ("" when it is the last).
func Page[T any](all []T, start, size int) (page []T, next string) {
	if start >= len(all) {
		return nil, ""
	}
	end := min(start+size, len(all))
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[start:end], next
}
