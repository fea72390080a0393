package vendorhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// sleepRecorder is an injected Sleep that records the waits instead of
// waiting.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) Sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return nil
}

func (s *sleepRecorder) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// scripted serves a sequence of answers, one per request, repeating the
// last one; it records the requests it saw.
type scripted struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter, r *http.Request)
	seen    []*http.Request
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := len(s.seen)
	s.seen = append(s.seen, r.Clone(context.Background()))
	if i >= len(s.answers) {
		i = len(s.answers) - 1
	}
	a := s.answers[i]
	s.mu.Unlock()
	a(w, r)
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func answer(status int, header map[string]string, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, opt Options) *Client {
	t.Helper()
	if opt.Name == "" {
		opt.Name = "TestVendor"
	}
	c, err := New(opt)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

type thing struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func TestDoRetriesTransientAnswersThenSucceeds(t *testing.T) {
	tests := []struct {
		name   string
		first  int
		method string
	}{
		{name: "503", first: http.StatusServiceUnavailable, method: http.MethodGet},
		{name: "502", first: http.StatusBadGateway, method: http.MethodGet},
		{name: "504", first: http.StatusGatewayTimeout, method: http.MethodGet},
		{name: "503 on POST", first: http.StatusServiceUnavailable, method: http.MethodPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{answers: []func(http.ResponseWriter, *http.Request){
				answer(tt.first, nil, `{"message":"upstream busy"}`),
				answer(tt.first, nil, ""),
				answer(http.StatusOK, nil, `{"id":7,"name":"ok"}`),
			}}
			srv := newServer(t, s)
			sl := &sleepRecorder{}
			c := newClient(t, Options{BaseURL: srv.URL, Sleep: sl.Sleep})
			var got thing
			resp, err := c.Do(context.Background(), Request{Method: tt.method, Path: "/v2/thing", Body: map[string]string{"a": "b"}}, &got)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if diff := cmp.Diff(thing{ID: 7, Name: "ok"}, got); diff != "" {
				t.Errorf("decoded body (-want +got):\n%s", diff)
			}
			if resp.Status != http.StatusOK {
				t.Errorf("status = %d, want 200", resp.Status)
			}
			if c.Requests() != 3 || s.count() != 3 {
				t.Errorf("requests = %d (server saw %d), want 3", c.Requests(), s.count())
			}
			waits := sl.Waits()
			if len(waits) != 2 {
				t.Fatalf("waits = %v, want 2 backoffs", waits)
			}
			for i, w := range waits {
				ceil := DefaultBackoffBase << i
				if w < 0 || w >= ceil {
					t.Errorf("backoff %d = %v, want in [0, %v)", i+1, w, ceil)
				}
			}
		})
	}
}

func TestDoHonoursRetryAfter(t *testing.T) {
	fixed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		retryAfter string
		timeout    time.Duration // context deadline; 0 for none
		now        func() time.Time
		want       time.Duration
	}{
		{name: "seconds", retryAfter: "3", want: 3 * time.Second},
		{name: "seconds within the deadline", retryAfter: "3", timeout: time.Minute, want: 3 * time.Second},
		{name: "http date", retryAfter: fixed.Add(7 * time.Second).Format(http.TimeFormat), now: func() time.Time { return fixed }, want: 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{answers: []func(http.ResponseWriter, *http.Request){
				answer(http.StatusTooManyRequests, map[string]string{"Retry-After": tt.retryAfter}, `{"message":"slow down"}`),
				answer(http.StatusOK, nil, `{"id":1}`),
			}}
			srv := newServer(t, s)
			sl := &sleepRecorder{}
			c := newClient(t, Options{BaseURL: srv.URL, Sleep: sl.Sleep, Now: tt.now})
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			if _, err := c.Do(ctx, Request{Path: "/v2/thing"}, nil); err != nil {
				t.Fatalf("Do: %v", err)
			}
			if diff := cmp.Diff([]time.Duration{tt.want}, sl.Waits()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if c.Requests() != 2 {
				t.Errorf("requests = %d, want 2", c.Requests())
			}
		})
	}
}

func TestDoRetryAfterBeyondDeadlineReturnsThrottled(t *testing.T) {
	tests := []struct {
		name       string
		timeout    time.Duration // 0: no deadline
		retryAfter string
		want       time.Duration
	}{
		{name: "past the lambda deadline", timeout: 10 * time.Second, retryAfter: "30", want: 30 * time.Second},
		{name: "inside the margin", timeout: 3 * time.Second, retryAfter: "2", want: 2 * time.Second},
		{name: "over MaxRetryAfter without deadline", retryAfter: "120", want: 120 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{answers: []func(http.ResponseWriter, *http.Request){
				answer(http.StatusTooManyRequests, map[string]string{"Retry-After": tt.retryAfter}, `{"message":"rate limit"}`),
			}}
			srv := newServer(t, s)
			sl := &sleepRecorder{}
			c := newClient(t, Options{BaseURL: srv.URL, Sleep: sl.Sleep})
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := c.Do(ctx, Request{Path: "/v2/thing"}, nil)
			ae, ok := apperr.As(err)
			if !ok || ae.Kind != apperr.Throttled {
				t.Fatalf("err = %v, want Throttled", err)
			}
			if ae.RetryAfter != tt.want {
				t.Errorf("RetryAfter = %v, want %v", ae.RetryAfter, tt.want)
			}
			if ae.VendorStatus != http.StatusTooManyRequests {
				t.Errorf("VendorStatus = %d, want 429", ae.VendorStatus)
			}
			if len(sl.Waits()) != 0 {
				t.Errorf("slept %v, want no sleep", sl.Waits())
			}
			if s.count() != 1 {
				t.Errorf("server saw %d requests, want 1", s.count())
			}
		})
	}
}

func TestDoExhaustedRetries(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		method     string
		wantKind   apperr.Kind
		wantTries  int
		wantRetry  time.Duration
		wantInText string
	}{
		{name: "503 exhausted", status: 503, method: http.MethodGet, wantKind: apperr.Vendor, wantTries: 4, wantInText: "maintenance"},
		{name: "429 exhausted", status: 429, method: http.MethodGet, wantKind: apperr.Throttled, wantTries: 4, wantRetry: DefaultBackoffCap},
		{name: "502 on POST not retried", status: 502, method: http.MethodPost, wantKind: apperr.Vendor, wantTries: 1},
		{name: "500 not retried", status: 500, method: http.MethodGet, wantKind: apperr.Vendor, wantTries: 1, wantInText: "maintenance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{answers: []func(http.ResponseWriter, *http.Request){
				answer(tt.status, nil, `{"resultCode":"FAILURE","errorMessage":"maintenance","incidentId":"abc-1"}`),
			}}
			srv := newServer(t, s)
			sl := &sleepRecorder{}
			c := newClient(t, Options{BaseURL: srv.URL, Sleep: sl.Sleep})
			_, err := c.Do(context.Background(), Request{Method: tt.method, Path: "/v2/thing"}, nil)
			ae, ok := apperr.As(err)
			if !ok {
				t.Fatalf("err = %v, want *apperr.Error", err)
			}
			if ae.Kind != tt.wantKind || ae.VendorStatus != tt.status {
				t.Errorf("kind, status = %v, %d; want %v, %d", ae.Kind, ae.VendorStatus, tt.wantKind, tt.status)
			}
			if ae.RetryAfter != tt.wantRetry {
				t.Errorf("RetryAfter = %v, want %v", ae.RetryAfter, tt.wantRetry)
			}
			if !strings.Contains(ae.Message, tt.wantInText) {
				t.Errorf("message %q does not contain %q", ae.Message, tt.wantInText)
			}
			if s.count() != tt.wantTries || int(c.Requests()) != tt.wantTries {
				t.Errorf("attempts = %d (counter %d), want %d", s.count(), c.Requests(), tt.wantTries)
			}
		})
	}
}

func TestDoMapsStatusToKind(t *testing.T) {
	tests := []struct {
		status  int
		body    string
		want    apperr.Kind
		message string
	}{
		{status: 404, body: `{"resultCode":"NOT_FOUND","errorMessage":"Device not found"}`, want: apperr.NotFound, message: "TestVendor has no such record (HTTP 404): Device not found"},
		{status: 400, body: `{"code":"InvalidObject","message":"company object is invalid","errors":[{"code":"ObjectExists","message":"already exists","field":"identifier"}]}`, want: apperr.Invalid, message: "TestVendor refused the request (HTTP 400): company object is invalid; identifier: already exists"},
		{status: 422, body: `{"errors":["companyName is required"]}`, want: apperr.Invalid, message: "TestVendor refused the request (HTTP 422): companyName is required"},
		{status: 403, body: `{"error":"insufficient_scope"}`, want: apperr.Unauthorized, message: "TestVendor refused access (HTTP 403): insufficient_scope"},
		{status: 409, body: ``, want: apperr.Conflict, message: "TestVendor reported a conflict (HTTP 409)"},
		{status: 405, body: `<html>nope</html>`, want: apperr.Vendor, message: "TestVendor failed (HTTP 405)"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			srv := newServer(t, &scripted{answers: []func(http.ResponseWriter, *http.Request){answer(tt.status, nil, tt.body)}})
			c := newClient(t, Options{BaseURL: srv.URL, Sleep: (&sleepRecorder{}).Sleep})
			resp, err := c.Do(context.Background(), Request{Path: "/x"}, nil)
			ae, ok := apperr.As(err)
			if !ok {
				t.Fatalf("err = %v, want *apperr.Error", err)
			}
			if ae.Kind != tt.want {
				t.Errorf("kind = %v, want %v", ae.Kind, tt.want)
			}
			if ae.Message != tt.message {
				t.Errorf("message = %q, want %q", ae.Message, tt.message)
			}
			if ae.VendorStatus != tt.status || resp == nil || resp.Status != tt.status {
				t.Errorf("VendorStatus = %d, resp = %+v; want %d", ae.VendorStatus, resp, tt.status)
			}
		})
	}
}

// oauthServer is a token endpoint plus an API that accepts only the tokens
// listed in valid.
type oauthServer struct {
	mu      sync.Mutex
	issued  int
	valid   map[string]bool
	fetches atomic.Int64
	secret  string
}

func (o *oauthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/oauth/token":
		o.fetches.Add(1)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			answer(400, nil, `{"error":"unsupported_grant_type"}`)(w, r)
			return
		}
		if r.PostForm.Get("client_id") != "cid" || r.PostForm.Get("client_secret") != o.secret {
			answer(401, nil, `{"error":"invalid_client"}`)(w, r)
			return
		}
		o.mu.Lock()
		o.issued++
		tok := fmt.Sprintf("tok-%d-s3cr3tT0ken", o.issued)
		o.mu.Unlock()
		answer(200, nil, fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","expires_in":3600,"scope":"monitoring"}`, tok))(w, r)
	default:
		o.mu.Lock()
		ok := o.valid[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		o.mu.Unlock()
		if !ok {
			answer(401, nil, `{"resultCode":"UNAUTHORIZED","errorMessage":"token expired"}`)(w, r)
			return
		}
		answer(200, nil, `{"id":1,"name":"fine"}`)(w, r)
	}
}

func TestDoReauthenticatesOnceOn401(t *testing.T) {
	tests := []struct {
		name        string
		valid       map[string]bool
		wantErr     apperr.Kind
		wantOK      bool
		wantFetches int64
		wantReqs    int64
	}{
		{name: "second token accepted", valid: map[string]bool{"tok-2-s3cr3tT0ken": true}, wantOK: true, wantFetches: 2, wantReqs: 2},
		{name: "first token accepted", valid: map[string]bool{"tok-1-s3cr3tT0ken": true}, wantOK: true, wantFetches: 1, wantReqs: 1},
		{name: "401 twice", valid: map[string]bool{}, wantErr: apperr.Unauthorized, wantFetches: 2, wantReqs: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os := &oauthServer{valid: tt.valid, secret: "sec"}
			srv := newServer(t, os)
			auth := &OAuthClientCredentials{TokenURL: srv.URL + "/oauth/token", ClientID: "cid", ClientSecret: "sec", Scope: "monitoring"}
			c := newClient(t, Options{BaseURL: srv.URL, Auth: auth, Sleep: (&sleepRecorder{}).Sleep})
			var got thing
			_, err := c.Do(context.Background(), Request{Path: "/v2/organizations"}, &got)
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				if got.Name != "fine" {
					t.Errorf("got %+v", got)
				}
			} else {
				ae, ok := apperr.As(err)
				if !ok || ae.Kind != tt.wantErr || ae.VendorStatus != 401 {
					t.Fatalf("err = %v, want %v with status 401", err, tt.wantErr)
				}
				if !strings.Contains(ae.Message, "token expired") {
					t.Errorf("message %q lacks the vendor's reason", ae.Message)
				}
			}
			if os.fetches.Load() != tt.wantFetches || auth.Fetches() != tt.wantFetches {
				t.Errorf("token fetches = %d (auth counted %d), want %d", os.fetches.Load(), auth.Fetches(), tt.wantFetches)
			}
			if c.Requests() != tt.wantReqs {
				t.Errorf("requests = %d, want %d", c.Requests(), tt.wantReqs)
			}
		})
	}
}

func TestOAuthWrongSecretIsUnauthorized(t *testing.T) {
	srv := newServer(t, &oauthServer{secret: "right"})
	auth := &OAuthClientCredentials{TokenURL: srv.URL + "/oauth/token", ClientID: "cid", ClientSecret: "wrong"}
	c := newClient(t, Options{BaseURL: srv.URL, Auth: auth, Sleep: (&sleepRecorder{}).Sleep})
	_, err := c.Do(context.Background(), Request{Path: "/v2/organizations"}, nil)
	ae, ok := apperr.As(err)
	if !ok || ae.Kind != apperr.Unauthorized {
		t.Fatalf("err = %v, want Unauthorized", err)
	}
	if ae.Message != "the vendor rejected the client credentials: invalid_client" {
		t.Errorf("message = %q", ae.Message)
	}
	if c.Requests() != 0 || auth.Fetches() != 1 {
		t.Errorf("requests = %d, fetches = %d; want 0 and 1", c.Requests(), auth.Fetches())
	}
}

func TestOAuthTokenCacheAndSingleFlight(t *testing.T) {
	os := &oauthServer{secret: "sec"}
	srv := newServer(t, os)
	var clock atomic.Int64
	clock.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	auth := &OAuthClientCredentials{
		TokenURL: srv.URL + "/oauth/token", ClientID: "cid", ClientSecret: "sec",
		Now: func() time.Time { return time.Unix(clock.Load(), 0) },
	}
	var wg sync.WaitGroup
	toks := make([]string, 20)
	for i := range toks {
		wg.Go(func() {
			tok, err := auth.Token(context.Background())
			if err != nil {
				t.Errorf("Token: %v", err)
			}
			toks[i] = tok
		})
	}
	wg.Wait()
	if auth.Fetches() != 1 {
		t.Errorf("concurrent callers made %d fetches, want 1", auth.Fetches())
	}
	for _, tok := range toks {
		if tok != "tok-1-s3cr3tT0ken" {
			t.Errorf("token = %q, want the shared first token", tok)
		}
	}
	// Within expires_in minus the margin the cache answers.
	clock.Add(3600 - 61)
	if tok, _ := auth.Token(context.Background()); tok != "tok-1-s3cr3tT0ken" || auth.Fetches() != 1 {
		t.Errorf("before renewal: token %q, fetches %d", tok, auth.Fetches())
	}
	// Past it, a new token is fetched.
	clock.Add(2)
	if tok, _ := auth.Token(context.Background()); tok != "tok-2-s3cr3tT0ken" || auth.Fetches() != 2 {
		t.Errorf("after renewal: token %q, fetches %d", tok, auth.Fetches())
	}
}

func TestBasicWithClientIDSendsHeadersAndDoesNotRetry401(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter, *http.Request){
		answer(401, nil, `{"code":"Unauthorized","message":"Invalid credentials"}`),
	}}
	srv := newServer(t, s)
	auth := BasicWithClientID{Username: "acme+pub", Password: "priv", ClientID: "guid-1"}
	c := newClient(t, Options{BaseURL: srv.URL, Auth: auth, Sleep: (&sleepRecorder{}).Sleep})
	_, err := c.Do(context.Background(), Request{Path: "/company/companies"}, nil)
	if !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("err = %v, want Unauthorized", err)
	}
	if s.count() != 1 {
		t.Fatalf("server saw %d requests, want 1 (static credentials are not retried)", s.count())
	}
	r := s.seen[0]
	if user, pass, ok := r.BasicAuth(); !ok || user != "acme+pub" || pass != "priv" {
		t.Errorf("basic auth = %q, %q, %v", user, pass, ok)
	}
	if got := r.Header.Get("clientId"); got != "guid-1" {
		t.Errorf("clientId header = %q", got)
	}
}

func TestDoConnectionErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		sl := &sleepRecorder{}
		c := newClient(t, Options{BaseURL: "http://" + addr, Sleep: sl.Sleep})
		_, err = c.Do(context.Background(), Request{Method: http.MethodPost, Path: "/v2/organizations", Body: map[string]string{"name": "x"}}, nil)
		if !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("err = %v, want Unavailable", err)
		}
		// Refused connections never delivered the request, so even a POST
		// is retried.
		if c.Requests() != DefaultMaxAttempts || len(sl.Waits()) != DefaultMaxAttempts-1 {
			t.Errorf("requests = %d, waits = %d; want %d and %d", c.Requests(), len(sl.Waits()), DefaultMaxAttempts, DefaultMaxAttempts-1)
		}
	})
	t.Run("attempt timeout then success", func(t *testing.T) {
		var n atomic.Int64
		srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return
			}
			answer(200, nil, `{"id":3}`)(w, r)
		}))
		c := newClient(t, Options{BaseURL: srv.URL, AttemptTimeout: 100 * time.Millisecond, Sleep: (&sleepRecorder{}).Sleep})
		var got thing
		if _, err := c.Do(context.Background(), Request{Path: "/slow"}, &got); err != nil {
			t.Fatalf("Do: %v", err)
		}
		if got.ID != 3 || c.Requests() != 2 {
			t.Errorf("got %+v after %d requests, want id 3 after 2", got, c.Requests())
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		c := newClient(t, Options{BaseURL: srv.URL})
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		_, err := c.Do(ctx, Request{Path: "/slow"}, nil)
		if !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("err = %v, want Unavailable", err)
		}
		if c.Requests() != 1 {
			t.Errorf("requests = %d, want 1", c.Requests())
		}
	})
}

func TestDoRequestShape(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter, *http.Request){answer(200, nil, `[]`)}}
	srv := newServer(t, s)
	var attempts []Attempt
	c := newClient(t, Options{
		BaseURL: srv.URL + "/api/", Header: http.Header{"Accept": {"application/vnd.test+json"}},
		OnRequest: func(a Attempt) { attempts = append(attempts, a) },
	})
	var out []thing
	_, err := c.Do(context.Background(), Request{
		Method: http.MethodPost, Path: "v2/things", Route: "POST /v2/things",
		Query: map[string][]string{"pageSize": {"10"}, "df": {"org = 1"}},
		Body:  json.RawMessage(`{"raw":true}`),
	}, &out)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	r := s.seen[0]
	if r.URL.Path != "/api/v2/things" || r.URL.Query().Get("df") != "org = 1" || r.URL.Query().Get("pageSize") != "10" {
		t.Errorf("url = %s", r.URL)
	}
	if want := "df=org%20%3D%201&pageSize=10"; r.URL.RawQuery != want {
		t.Errorf("raw query = %q, want %q (spaces as %%20)", r.URL.RawQuery, want)
	}
	if r.Header.Get("Accept") != "application/vnd.test+json" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", r.Header)
	}
	want := []Attempt{{Method: "POST", Path: "/api/v2/things", Route: "POST /v2/things", Attempt: 1, Status: 200}}
	ignore := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Duration" || p.Last().String() == ".Header" }, cmp.Ignore())
	if diff := cmp.Diff(want, attempts, ignore); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if len(attempts) == 1 && attempts[0].Header.Get("Content-Type") != "application/json" {
		t.Errorf("the attempt does not carry the answer's header: %v", attempts[0].Header)
	}

	t.Run("next link on another host is refused", func(t *testing.T) {
		_, err := c.Do(context.Background(), Request{Path: "https://evil.example/steal"}, nil)
		if !apperr.Is(err, apperr.Vendor) {
			t.Errorf("err = %v, want Vendor", err)
		}
		if s.count() != 1 {
			t.Errorf("server saw %d requests, want 1", s.count())
		}
	})
	t.Run("absolute next link on the same host", func(t *testing.T) {
		if _, err := c.Do(context.Background(), Request{Path: srv.URL + "/api/v2/things?page=2"}, nil); err != nil {
			t.Fatalf("Do: %v", err)
		}
		if got := s.seen[len(s.seen)-1].URL.RawQuery; got != "page=2" {
			t.Errorf("query = %q", got)
		}
	})
	t.Run("malformed JSON is a vendor error", func(t *testing.T) {
		srv := newServer(t, &scripted{answers: []func(http.ResponseWriter, *http.Request){answer(200, nil, `{"id":`)}})
		c := newClient(t, Options{BaseURL: srv.URL})
		var got thing
		if _, err := c.Do(context.Background(), Request{Path: "/x"}, &got); !apperr.Is(err, apperr.Vendor) {
			t.Errorf("err = %v, want Vendor", err)
		}
	})
}

// TestNoSecretReachesLogsOrErrors runs failing calls with debug logging and
// checks that neither the client secret, the password, nor any token shows
// up in the log output or the returned errors.
func TestNoSecretReachesLogsOrErrors(t *testing.T) {
	const secret, password = "CL1ENT-S3CRET-value", "PR1VATE-key-value"
	var issued atomic.Int64
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token":
			issued.Add(1)
			answer(200, nil, fmt.Sprintf(`{"access_token":"TOKEN-%d-abcdef","expires_in":3600}`, issued.Load()))(w, r)
		default:
			// A vendor that echoes what it got, credentials included.
			body := fmt.Sprintf(`{"message":"bad auth header %s; access_token=%s; {\"client_secret\":\"%s\"}"}`,
				r.Header.Get("Authorization"), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), secret)
			answer(http.StatusServiceUnavailable, nil, body)(w, r)
		}
	}))
	var logs bytes.Buffer
	logger := slog.New(RedactingHandler(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	oauth := &OAuthClientCredentials{TokenURL: srv.URL + "/oauth/token", ClientID: "cid", ClientSecret: secret}
	basic := BasicWithClientID{Username: "acme+pub", Password: password, ClientID: "guid"}
	var errs []string
	for _, auth := range []Auth{oauth, basic} {
		c := newClient(t, Options{BaseURL: srv.URL, Auth: auth, Logger: logger, Sleep: (&sleepRecorder{}).Sleep})
		_, err := c.Do(context.Background(), Request{Path: "/v2/devices", Query: map[string][]string{"api_key": {"QUERYKEY-123"}}}, nil)
		if err == nil {
			t.Fatal("Do succeeded against a failing vendor")
		}
		errs = append(errs, err.Error())
		logger.Info("connection", "auth", auth, "fmt", fmt.Sprintf("%v %+v %#v", auth, auth, auth), "err", err)
	}
	out := logs.String() + strings.Join(errs, "\n")
	if !strings.Contains(out, "vendor request") {
		t.Fatalf("no request was logged:\n%s", out)
	}
	leaks := []string{secret, password, "TOKEN-1-abcdef", "TOKEN-2-abcdef", "QUERYKEY-123", "YWNtZStwdWI6UFIxVkFURS1rZXktdmFsdWU"}
	for _, leak := range leaks {
		if strings.Contains(out, leak) {
			t.Errorf("%q leaked into logs or errors:\n%s", leak, out)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Authorization: Bearer eyJhbGciOi.abc.def", "Authorization: Bearer [REDACTED]"},
		{"basic YWNtZTpwYXNz", "basic [REDACTED]"},
		{`{"access_token":"abc","token_type":"Bearer"}`, `{"access_token":"[REDACTED]","token_type":"Bearer"}`},
		{`{"client_secret": "s3"}`, `{"client_secret": "[REDACTED]"}`},
		{"grant_type=client_credentials&client_id=x&client_secret=y", "grant_type=client_credentials&client_id=x&client_secret=[REDACTED]"},
		{"/v2/x?password=p&page=2", "/v2/x?password=[REDACTED]&page=2"},
		{"Device not found", "Device not found"},
		// AWS access key ids, long-term and temporary, anywhere in text.
		{"key AKIAIOSFODNN7EXAMPLE is not allowed", "key [REDACTED] is not allowed"},
		{"creds ASIAY34FZKBOKMUTVV7A expired", "creds [REDACTED] expired"},
		{"AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/s3/aws4_request", "[REDACTED]/20260101/us-east-1/s3/aws4_request"},
		{"AKIASHORT is not a key", "AKIASHORT is not a key"},
		// Secret access keys and session tokens in their usual spellings.
		{"aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key=[REDACTED]"},
		{"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", "aws_secret_access_key = [REDACTED]\n"},
		{"AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG", "AWS_SECRET_ACCESS_KEY: [REDACTED]"},
		{"export AWS_SESSION_TOKEN='IQoJb3JpZ2luX2VjEJr//////////'", "export AWS_SESSION_TOKEN=[REDACTED]"},
		{"aws_session_token=IQoJb3JpZ2luX2Vj&x=1", "aws_session_token=[REDACTED]&x=1"},
		{`{"AccessKeyId":"ASIAY34FZKBOKMUTVV7A","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG","SessionToken":"IQoJb3Jp"}`,
			`{"AccessKeyId":"[REDACTED]","SecretAccessKey":"[REDACTED]","SessionToken":"[REDACTED]"}`},
		{"https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101&X-Amz-Security-Token=IQoJb3&X-Amz-Signature=abcdef0123",
			"https://b.s3.amazonaws.com/k?X-Amz-Credential=[REDACTED]&X-Amz-Security-Token=[REDACTED]&X-Amz-Signature=[REDACTED]"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReplaceAttr(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: ReplaceAttr}))
	l.Info("x", "Authorization", "Bearer abc", "clientSecret", "s", "nested", slog.GroupValue(slog.String("apiKey", "k")), "msg2", "token=zzz9")
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"Authorization": Redacted, "clientSecret": Redacted, "nested": map[string]any{"apiKey": Redacted}, "msg2": "token=" + Redacted}
	for k, v := range want {
		if diff := cmp.Diff(v, got[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
}
