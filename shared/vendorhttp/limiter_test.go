package vendorhttp

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// countingLimiter grants every permit (or refuses with refuse) and records
// what each request asked and reported.
type countingLimiter struct {
	mu       sync.Mutex
	refuse   error
	acquires []string // endpoint per acquire
	lanes    []ratelimit.Lane
	outcomes []ratelimit.Outcome
	open     int // permits not released yet
}

func (l *countingLimiter) Acquire(ctx context.Context, endpoint string) (func(ratelimit.Outcome), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acquires = append(l.acquires, endpoint)
	l.lanes = append(l.lanes, ratelimit.LaneFrom(ctx))
	if l.refuse != nil {
		return nil, l.refuse
	}
	l.open++
	var once sync.Once
	return func(o ratelimit.Outcome) {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.open--
			l.outcomes = append(l.outcomes, o)
		})
	}, nil
}

func (l *countingLimiter) snapshot() ([]string, []ratelimit.Outcome, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.acquires...), append([]ratelimit.Outcome(nil), l.outcomes...), l.open
}

// TestLimiterPermitsEveryAttempt: with a budget, every request the vendor
// receives — token requests, the retry of a 503, the repeat after a 401 —
// was first granted a permit, and each permit is released with the
// answer's status.
func TestLimiterPermitsEveryAttempt(t *testing.T) {
	os := &oauthServer{valid: map[string]bool{"tok-2-s3cr3tT0ken": true}, secret: "sec"}
	var apiHits []int
	var mu sync.Mutex
	flaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := len(apiHits)
		mu.Unlock()
		status := 200
		switch {
		case r.URL.Path == "/oauth/token":
		case n == 0:
			status = 503 // retried
		}
		if r.URL.Path != "/oauth/token" {
			mu.Lock()
			apiHits = append(apiHits, status)
			mu.Unlock()
			if status == 503 {
				answer(503, nil, `{"errorMessage":"busy"}`)(w, r)
				return
			}
		}
		os.ServeHTTP(w, r)
	})
	srv := newServer(t, flaky)
	lim := &countingLimiter{}
	auth := &OAuthClientCredentials{TokenURL: srv.URL + "/oauth/token", ClientID: "cid", ClientSecret: "sec"}
	c := newClient(t, Options{BaseURL: srv.URL, Auth: auth, Limiter: lim, Sleep: (&sleepRecorder{}).Sleep})
	var got thing
	if _, err := c.Do(ratelimit.WithLane(context.Background(), ratelimit.LaneAlert), Request{Path: "/v2/organizations"}, &got); err != nil {
		t.Fatal(err)
	}
	acquires, outcomes, open := lim.snapshot()
	// token (tok-1), 503, 401 with tok-1, token (tok-2), 200.
	wantAcquires := []string{TokenEndpoint, DefaultEndpoint, DefaultEndpoint, TokenEndpoint, DefaultEndpoint}
	if diff := cmp.Diff(wantAcquires, acquires); diff != "" {
		t.Errorf("permits asked (-want +got):\n%s", diff)
	}
	wantStatus := []int{200, 503, 401, 200, 200}
	var gotStatus []int
	for _, o := range outcomes {
		gotStatus = append(gotStatus, o.Status)
	}
	if diff := cmp.Diff(wantStatus, gotStatus); diff != "" {
		t.Errorf("outcomes reported (-want +got):\n%s", diff)
	}
	received := int(os.fetches.Load()) + len(apiHits)
	if received != len(acquires) || open != 0 {
		t.Errorf("the vendor received %d requests for %d permits (%d never released)", received, len(acquires), open)
	}
	for i, l := range lim.lanes {
		if l != ratelimit.LaneAlert {
			t.Errorf("permit %d asked in lane %s, want the context's alert lane", i, l)
		}
	}
}

// TestLimiterLearnsThrottleAnswers: a 429, and an answer the client
// classifies as throttled, are reported as throttled with the vendor's
// Retry-After, and the final error is Throttled.
func TestLimiterLearnsThrottleAnswers(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(http.ResponseWriter, *http.Request)
		throttled func(int, http.Header, []byte) bool
		wantRA    time.Duration
	}{
		{"429 with Retry-After", answer(429, map[string]string{"Retry-After": "3"}, `{"errorMessage":"slow down"}`), nil, 3 * time.Second},
		{"429 without Retry-After", answer(429, nil, ``), nil, 0},
		{"Autotask-style threshold error", answer(500, nil, `{"errors":["Internal Server Error: The request exceeds the thresholds for this database."]}`),
			func(status int, _ http.Header, body []byte) bool {
				return status == 500 && strings.Contains(string(body), "threshold")
			}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, &scripted{answers: []func(http.ResponseWriter, *http.Request){tc.answer}})
			lim := &countingLimiter{}
			c := newClient(t, Options{BaseURL: srv.URL, Limiter: lim, Throttled: tc.throttled, MaxAttempts: 2, Sleep: (&sleepRecorder{}).Sleep})
			_, err := c.Do(context.Background(), Request{Path: "/x"}, nil)
			if e, ok := apperr.As(err); !ok || e.Kind != apperr.Throttled || e.RetryAfter <= 0 {
				t.Errorf("got %v, want Throttled with RetryAfter", err)
			}
			_, outcomes, _ := lim.snapshot()
			if len(outcomes) != 2 {
				t.Fatalf("%d outcomes, want 2 (one retry)", len(outcomes))
			}
			for _, o := range outcomes {
				if !o.Throttled || o.RetryAfter != tc.wantRA {
					t.Errorf("outcome %+v, want throttled with RetryAfter %s", o, tc.wantRA)
				}
			}
		})
	}
}

// TestLimiterRefusalIsFinal: a permit the budget refuses is the request's
// error (Throttled with RetryAfter, for the SQS worker or the 429), and
// nothing is sent.
func TestLimiterRefusalIsFinal(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter, *http.Request){answer(200, nil, `{}`)}}
	srv := newServer(t, s)
	refusal := &apperr.Error{Kind: apperr.Throttled, Message: "budget spent", RetryAfter: 40 * time.Second}
	lim := &countingLimiter{refuse: refusal}
	c := newClient(t, Options{BaseURL: srv.URL, Limiter: lim, Sleep: (&sleepRecorder{}).Sleep})
	_, err := c.Do(context.Background(), Request{Path: "/x"}, nil)
	if e, ok := apperr.As(err); !ok || e != refusal {
		t.Errorf("got %v, want the budget's refusal", err)
	}
	if s.count() != 0 {
		t.Errorf("the vendor received %d requests", s.count())
	}
}

func TestLimiterEndpoints(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter, *http.Request){answer(200, nil, `{}`)}}
	srv := newServer(t, s)
	tests := []struct {
		name     string
		endpoint func(string, Request) string
		req      Request
		want     string
	}{
		{"no naming: one endpoint", nil, Request{Path: "/v1.0/Tickets/12"}, DefaultEndpoint},
		{"named by the request", EndpointAfter(1), Request{Path: "/v1.0/Tickets/12", Endpoint: "TicketNotes"}, "TicketNotes"},
		{"derived from the path", EndpointAfter(1), Request{Path: "/v1.0/Tickets/12/Notes"}, "Tickets"},
		{"derived from a next link", EndpointAfter(1), Request{Path: srv.URL + "/api/v1.0/Companies/query?paging=x"}, "Companies"},
		{"path too short", EndpointAfter(1), Request{Path: "/v1.0"}, DefaultEndpoint},
	}
	for _, tc := range tests {
		lim := &countingLimiter{}
		c := newClient(t, Options{BaseURL: srv.URL + "/api", Limiter: lim, Endpoint: tc.endpoint})
		if _, err := c.Do(context.Background(), tc.req, nil); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got, _, _ := lim.snapshot(); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: endpoint %v, want %s", tc.name, got, tc.want)
		}
	}
}
