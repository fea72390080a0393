package conformance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Faults inject failures into the vendor's sandbox (or fake); each applies
// to the next requests the client sends, in order: n answers of 429 with a
// Retry-After, n 5xx answers, n requests left unanswered.
type Faults struct {
	Throttle func(n int, retryAfter time.Duration)
	Fail     func(n, status int)
	Hang     func(n int)
}

// Transport is how a suite watches a client's requests.
type Transport struct {
	Faults Faults
	// Requests returns how many requests the client has sent (retries
	// included); nil when the harness cannot count them.
	Requests func() int64
	// Waits returns the retry waits the client has taken; nil when the
	// client really sleeps (the suite then measures the elapsed time).
	Waits func() []time.Duration
}

// Probe is one client against a fresh sandbox, for a fault subtest.
type Probe struct {
	Transport
	// Read is an idempotent read that succeeds on a healthy sandbox.
	Read func(ctx context.Context) error
}

// Errors records every error a suite's clients returned, to check at the
// end that none carries a secret. It is safe for concurrent use.
type Errors struct {
	mu      sync.Mutex
	errs    []error
	secrets []string
}

// Add records err (nil is ignored) and returns it.
func (l *Errors) Add(err error) error {
	if err != nil {
		l.mu.Lock()
		l.errs = append(l.errs, err)
		l.mu.Unlock()
	}
	return err
}

// Secrets records credential text that must appear in no error.
func (l *Errors) Secrets(s ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range s {
		if strings.TrimSpace(x) != "" && !slices.Contains(l.secrets, x) {
			l.secrets = append(l.secrets, x)
		}
	}
}

// CheckRedaction fails t if any recorded error's text (Error() and the
// safe apperr message) contains a recorded secret, or if fewer than
// atLeast errors were recorded (a check over nothing proves nothing).
func (l *Errors) CheckRedaction(t T, atLeast int) {
	t.Helper()
	l.mu.Lock()
	errs, secrets := slices.Clone(l.errs), slices.Clone(l.secrets)
	l.mu.Unlock()
	if len(secrets) == 0 {
		t.Fatalf("the harness named no secret to look for (Env.Secrets)")
	}
	if len(errs) < atLeast {
		t.Fatalf("only %d errors were seen; the redaction check needs at least %d", len(errs), atLeast)
	}
	for _, err := range errs {
		texts := []string{err.Error()}
		if e, ok := apperr.As(err); ok {
			texts = append(texts, e.Message)
			for _, f := range e.Fields {
				texts = append(texts, f.Message)
			}
		}
		for _, text := range texts {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("an error shows a credential (%d characters, starting %q): %q", len(s), s[:min(3, len(s))], text)
				}
			}
		}
	}
	t.Logf("%d errors checked against %d secrets", len(errs), len(secrets))
}

// maxWait is the longest wait recorded, or the elapsed time when the client
// really slept.
func maxWait(p Probe, before int, elapsed time.Duration) time.Duration {
	if p.Waits == nil {
		return elapsed
	}
	w := p.Waits()
	if before > len(w) {
		before = len(w)
	}
	var m time.Duration
	for _, d := range w[before:] {
		m = max(m, d)
	}
	return m
}

func waitsBefore(p Probe) int {
	if p.Waits == nil {
		return 0
	}
	return len(p.Waits())
}

func requests(p Probe) int64 {
	if p.Requests == nil {
		return 0
	}
	return p.Requests()
}

// FaultSuite runs the subtests every vendor client must pass against
// injected faults. open starts a fresh sandbox and client for each
// subtest (so that a fault one leaves queued cannot leak into the next);
// attemptTimeout is the per-attempt timeout the harness configured.
func FaultSuite(t T, attemptTimeout time.Duration, open func(t T) Probe) {
	t.Run("429 with Retry-After is waited out or returned as Throttled", func(t T) {
		for _, ra := range []time.Duration{time.Second, 90 * time.Second} {
			p := open(t)
			if p.Faults.Throttle == nil {
				t.Fatalf("the harness cannot inject 429 answers (Faults.Throttle)")
			}
			before := waitsBefore(p)
			p.Faults.Throttle(1, ra)
			start := time.Now()
			err := p.Read(context.Background())
			elapsed := time.Since(start)
			if err == nil {
				if w := maxWait(p, before, elapsed); w < ra {
					t.Errorf("Retry-After %v: the call succeeded after waiting at most %v; a 429 must be waited out for its Retry-After", ra, w)
				}
				continue
			}
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Throttled {
				t.Errorf("Retry-After %v: error = %v, want success after the wait or apperr.Throttled", ra, err)
				continue
			}
			if e.RetryAfter < ra {
				t.Errorf("Retry-After %v: Throttled carries RetryAfter %v; the caller must learn the vendor's wait", ra, e.RetryAfter)
			}
		}
	})
	t.Run("a 5xx answer to a read is retried", func(t T) {
		for _, status := range []int{502, 503, 504} {
			p := open(t)
			if p.Faults.Fail == nil {
				t.Fatalf("the harness cannot inject 5xx answers (Faults.Fail)")
			}
			if err := p.Read(context.Background()); err != nil {
				t.Fatalf("read on a healthy sandbox: %v", err)
			}
			n := requests(p)
			p.Faults.Fail(1, status)
			if err := p.Read(context.Background()); err != nil {
				t.Errorf("one %d answer: error = %v, want success after a retry", status, err)
			}
			if p.Requests != nil && requests(p)-n != 2 {
				t.Errorf("one %d answer: %d requests, want 2 (the failure and one retry)", status, requests(p)-n)
			}
		}
	})
	t.Run("5xx answers that persist end in a transient error", func(t T) {
		p := open(t)
		if err := p.Read(context.Background()); err != nil {
			t.Fatalf("read on a healthy sandbox: %v", err)
		}
		n := requests(p)
		p.Faults.Fail(100, 503)
		start := time.Now()
		err := p.Read(context.Background())
		e, ok := apperr.As(err)
		switch {
		case !ok:
			t.Fatalf("error = %v, want an apperr error", err)
		case e.Kind == apperr.Unavailable:
		case e.Kind == apperr.Vendor && e.VendorStatus >= 500:
		default:
			t.Errorf("error = %v (kind %v, status %d), want Unavailable or Vendor with the 5xx status", err, e.Kind, e.VendorStatus)
		}
		if ok && !e.Kind.Transient() {
			t.Errorf("kind %v is not transient: the message would not be retried", e.Kind)
		}
		if p.Requests != nil && requests(p)-n < 2 {
			t.Errorf("%d request(s), want retries before giving up", requests(p)-n)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("giving up took %v", d)
		}
	})
	t.Run("a hung request is abandoned after the attempt timeout and retried", func(t T) {
		p := open(t)
		if p.Faults.Hang == nil {
			t.Fatalf("the harness cannot hold requests (Faults.Hang)")
		}
		if err := p.Read(context.Background()); err != nil {
			t.Fatalf("read on a healthy sandbox: %v", err)
		}
		p.Faults.Hang(1)
		start := time.Now()
		if err := p.Read(context.Background()); err != nil {
			t.Errorf("one hung request: error = %v, want success after a retry", err)
		}
		if d := time.Since(start); d < attemptTimeout || d > attemptTimeout+10*time.Second {
			t.Errorf("one hung request took %v, want the attempt timeout (%v) and a retry", d, attemptTimeout)
		}
	})
	t.Run("requests that keep hanging end Unavailable", func(t T) {
		p := open(t)
		if err := p.Read(context.Background()); err != nil {
			t.Fatalf("read on a healthy sandbox: %v", err)
		}
		p.Faults.Hang(100)
		start := time.Now()
		err := p.Read(context.Background())
		if !apperr.Is(err, apperr.Unavailable) {
			t.Errorf("error = %v, want Unavailable", err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("giving up took %v", d)
		}
	})
	t.Run("the caller's deadline ends a hung call as Unavailable", func(t T) {
		p := open(t)
		if err := p.Read(context.Background()); err != nil {
			t.Fatalf("read on a healthy sandbox: %v", err)
		}
		p.Faults.Hang(100)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := p.Read(ctx)
		if !apperr.Is(err, apperr.Unavailable) {
			t.Errorf("error = %v, want Unavailable", err)
		}
		if errors.Is(err, context.DeadlineExceeded) && apperr.KindOf(err) != apperr.Unavailable {
			t.Errorf("a bare context error escaped: %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the call returned after %v, long after the 300 ms deadline", d)
		}
	})
}

// AuthProbe is a client with wrong credentials.
type AuthProbe struct {
	// Test is the client's TestConnection.
	Test func(ctx context.Context) error
	// Read is another authenticated call of the same client.
	Read func(ctx context.Context) error
	// Reason is text the vendor's safe message for rejected credentials
	// contains (what "Test & save" shows the user).
	Reason string
	// Secrets are the credentials, right and wrong.
	Secrets []string
	// Requests counts the client's requests (nil: not counted).
	Requests func() int64
}

// AuthSuite checks that rejected credentials are apperr.Unauthorized with
// the vendor's reason, final (not retried), and never echo a credential.
func AuthSuite(t T, p AuthProbe) {
	t.Helper()
	if p.Reason == "" {
		t.Fatalf("the harness did not say what the vendor answers to wrong credentials (AuthFailureReason)")
	}
	for name, call := range map[string]func(context.Context) error{"TestConnection": p.Test, "a read": p.Read} {
		var n int64
		if p.Requests != nil {
			n = p.Requests()
		}
		err := call(context.Background())
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Unauthorized {
			t.Errorf("%s with wrong credentials: error = %v, want apperr.Unauthorized", name, err)
			continue
		}
		if !strings.Contains(e.Message, p.Reason) {
			t.Errorf("%s: message %q lacks the vendor's reason %q (the \"Test & save\" answer)", name, e.Message, p.Reason)
		}
		for _, s := range p.Secrets {
			if s != "" && (strings.Contains(err.Error(), s) || strings.Contains(e.Message, s)) {
				t.Errorf("%s: the error shows a credential: %q", name, err.Error())
			}
		}
		if p.Requests != nil {
			if sent := p.Requests() - n; sent > 2 {
				t.Errorf("%s sent %d requests; rejected credentials are final (one re-authentication at most)", name, sent)
			}
		}
	}
}
