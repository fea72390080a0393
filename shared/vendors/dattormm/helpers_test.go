package dattormm

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/vendors/dattormm/sandbox"
)

// exchange is one request the client sent and the sandbox's answer.
type exchange struct {
	Method      string
	Path        string
	Query       url.Values
	RequestBody []byte
	Status      int
	ContentType string
	Body        []byte
}

// recorder wraps the sandbox handler and keeps every exchange, so tests can
// check the client's requests and the sandbox's answers against the
// vendor's OpenAPI document.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	log  []exchange
}

type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(status int) {
	c.status = status
	c.ResponseWriter.WriteHeader(status)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var reqBody []byte
	if r.Body != nil {
		reqBody, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	cw := &captureWriter{ResponseWriter: w}
	rec.next.ServeHTTP(cw, r)
	rec.mu.Lock()
	rec.log = append(rec.log, exchange{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), RequestBody: reqBody,
		Status: cw.status, ContentType: cw.Header().Get("Content-Type"), Body: cw.body.Bytes()})
	rec.mu.Unlock()
}

func (rec *recorder) exchanges() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.log)
}

// env is a sandbox, the recorder in front of it, and a client pointed at it.
type env struct {
	sb     *sandbox.Server
	rec    *recorder
	url    string
	client *Client
	sleeps *sleeps
}

// sleeps records the client's retry waits; real makes it actually wait
// (needed when the sandbox's rate limit must refill).
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
	real  bool
	hook  func()
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	hook, real := s.hook, s.real
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	if real {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *sleeps) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

var testEpoch = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// newEnv starts a sandbox with opt behind a recorder on loopback and a
// client with cfg (BaseURL and credentials filled in unless set). The
// sandbox's 90 % delay is off unless opt sets one.
func newEnv(t *testing.T, opt sandbox.Options, cfg Config) *env {
	t.Helper()
	if opt.Epoch.IsZero() {
		opt.Epoch = testEpoch
	}
	if opt.SlowDelay == 0 {
		opt.SlowDelay = -1
	}
	sb := sandbox.New(opt)
	rec := &recorder{next: sb.Handler()}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	key, secret := sb.Credentials()
	if cfg.BaseURL == "" {
		cfg.BaseURL = srv.URL
	}
	if cfg.APIKey == "" {
		cfg.APIKey = key
	}
	if cfg.APISecret == "" {
		cfg.APISecret = secret
	}
	sl := &sleeps{}
	if cfg.Sleep == nil {
		cfg.Sleep = sl.Sleep
	}
	c, err := New(cfg, srv.Client())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{sb: sb, rec: rec, url: srv.URL, client: c, sleeps: sl}
}
