package connectwise_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

// TestRetryAfterHonoured: 429 answers are retried after exactly the wait
// the server asked for.
func TestRetryAfterHonoured(t *testing.T) {
	srv, c, rec := setup(t, sandbox.Options{Seed: 1, Orgs: []string{"Acme"}})
	srv.ThrottleNext(2, 1500*time.Millisecond)
	var err error
	n := requestsOf(c, func() { _, err = c.GetAccount(context.Background(), fmt.Sprint(srv.Companies()[0].ID)) })
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]time.Duration{1500 * time.Millisecond, 1500 * time.Millisecond}, rec.all()); d != "" || n != 3 {
		t.Errorf("waits (-want +got):\n%s\nrequests %d, want 3", d, n)
	}
}

// TestRetryAfterTooLong: a wait longer than the client waits for itself
// comes back at once as Throttled with the wait, for the queue to honour.
func TestRetryAfterTooLong(t *testing.T) {
	srv, c, rec := setup(t, sandbox.Options{Seed: 1})
	srv.ThrottleNext(1, time.Minute)
	err := c.TestConnection(context.Background())
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Throttled || e.RetryAfter != time.Minute {
		t.Fatalf("error = %v, want Throttled with RetryAfter 1m", err)
	}
	if len(rec.all()) != 0 || c.Requests() != 1 {
		t.Errorf("waited %v over %d requests, want no wait and 1 request", rec.all(), c.Requests())
	}
}

// TestRateLimit runs against the sandbox's real request budget with real
// waits: every call succeeds, some only after a 429.
func TestRateLimit(t *testing.T) {
	srv, c, _ := setup(t, sandbox.Options{Seed: 1, RateLimit: 2, RateWindow: 200 * time.Millisecond}, func(cfg *connectwise.Config) {
		cfg.Sleep = nil // really wait
	})
	start := time.Now()
	for i := range 6 {
		if err := c.TestConnection(context.Background()); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	throttled := 0
	for _, r := range srv.Requests() {
		if r.Status == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled == 0 || time.Since(start) < 200*time.Millisecond {
		t.Errorf("%d throttled answers in %v; want some, and at least one 200 ms window waited", throttled, time.Since(start))
	}
	t.Logf("6 calls, %d requests, %d answered 429, %v", c.Requests(), throttled, time.Since(start).Round(time.Millisecond))
}

// TestServerErrors: 5xx answers are retried where that is safe, then
// surface as Vendor errors carrying the status.
func TestServerErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		failures int
		post     bool // the call is a create (not safe to repeat after 502/504)
		wantErr  bool
		requests int64
	}{
		{name: "503 until attempts run out", status: 503, failures: 10, wantErr: true, requests: 4},
		{name: "502 twice then success", status: 502, failures: 2, requests: 3},
		{name: "504 once then success", status: 504, failures: 1, requests: 2},
		{name: "500 is not retried", status: 500, failures: 1, wantErr: true, requests: 1},
		{name: "create after 502 is not repeated", status: 502, failures: 1, post: true, wantErr: true, requests: 1},
		{name: "create after 503 is repeated", status: 503, failures: 1, post: true, requests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, _ := setup(t, sandbox.Options{Seed: 1, Orgs: []string{"Acme"}})
			id := fmt.Sprint(srv.Companies()[0].ID)
			srv.FailNext(tt.failures, tt.status)
			var err error
			n := requestsOf(c, func() {
				if tt.post {
					_, err = c.CreateLocation(context.Background(), id, psa.NewLocation{Name: "Annex"})
				} else {
					_, err = c.ListLocations(context.Background(), id)
				}
			})
			if n != tt.requests {
				t.Errorf("sent %d requests, want %d", n, tt.requests)
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("error = %v, want success after retries", err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Vendor || e.VendorStatus != tt.status {
				t.Fatalf("error = %v, want Vendor with status %d", err, tt.status)
			}
			if strings.Contains(e.Message, "<html") {
				t.Errorf("message %q carries the HTML body", e.Message)
			}
		})
	}
}

// TestFailRate: with every request failing at random, the client gives up
// after its attempts with a typed error.
func TestFailRate(t *testing.T) {
	_, c, rec := setup(t, sandbox.Options{Seed: 1, FailRate5xx: 1, FailStatuses: []int{503}})
	err := c.TestConnection(context.Background())
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.Vendor || e.VendorStatus != 503 {
		t.Fatalf("error = %v, want Vendor 503", err)
	}
	if c.Requests() != 4 || len(rec.all()) != 3 {
		t.Errorf("%d requests and %d waits, want 4 and 3", c.Requests(), len(rec.all()))
	}
}

// TestTimeouts: requests the server never answers surface as Unavailable.
func TestTimeouts(t *testing.T) {
	tests := []struct {
		name string
		opt  sandbox.Options
		hang int
	}{
		{name: "hung requests", opt: sandbox.Options{Seed: 1}, hang: 5},
		{name: "timeout rate", opt: sandbox.Options{Seed: 1, TimeoutRate: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, _ := setup(t, tt.opt, func(cfg *connectwise.Config) {
				cfg.AttemptTimeout, cfg.MaxAttempts = 100*time.Millisecond, 2
			})
			srv.HangNext(tt.hang)
			start := time.Now()
			err := c.TestConnection(context.Background())
			if !apperr.Is(err, apperr.Unavailable) {
				t.Fatalf("error = %v, want Unavailable", err)
			}
			if c.Requests() != 2 || time.Since(start) > 5*time.Second {
				t.Errorf("%d requests in %v, want 2 quickly", c.Requests(), time.Since(start))
			}
		})
	}
}

// TestUnauthorized: rejected credentials are Unauthorized with
// ConnectWise's reason, never retried, and never echo the private key.
func TestUnauthorized(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*connectwise.Config)
		reason string
	}{
		{"wrong private key", func(c *connectwise.Config) { c.PrivateKey = "not-the-key" }, "The API keys are not valid for this company"},
		{"wrong company", func(c *connectwise.Config) { c.CompanyID = "someoneelse" }, "The API keys are not valid for this company"},
		{"unknown public key", func(c *connectwise.Config) { c.PublicKey = "nobody" }, "The API keys are not valid for this company"},
		{"wrong clientId", func(c *connectwise.Config) { c.ClientID = "another-integration" }, "The clientId is not registered for this integration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c, _ := setup(t, sandbox.Options{Seed: 1}, tt.mutate)
			err := c.TestConnection(context.Background())
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Unauthorized || e.VendorStatus != 401 || !strings.Contains(e.Message, tt.reason) {
				t.Fatalf("error = %v, want Unauthorized with %q", err, tt.reason)
			}
			if strings.Contains(err.Error(), sandbox.DefaultPrivateKey) || strings.Contains(err.Error(), "not-the-key") {
				t.Errorf("error %q shows a private key", err)
			}
			if c.Requests() != 1 {
				t.Errorf("sent %d requests, want 1", c.Requests())
			}
		})
	}
}

// TestNewValidates: missing credentials are reported together.
func TestNewValidates(t *testing.T) {
	_, err := connectwise.New(connectwise.Config{BaseURL: "https://api-na.myconnectwise.net/v4_6_release/apis/3.0", CompanyID: "acme"}, nil)
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid {
		t.Fatalf("error = %v, want Invalid", err)
	}
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field)
	}
	if d := cmp.Diff([]string{"credentials.publicKey", "credentials.privateKey", "credentials.clientId"}, fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	if _, err := connectwise.New(connectwise.Config{BaseURL: "ftp://x", CompanyID: "a", PublicKey: "b", PrivateKey: "c", ClientID: "d"}, nil); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("bad base URL: error = %v, want Invalid", err)
	}
}
