package dattormm

import (
	"context"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/internal/contract"
	"github.com/rmmbridge/rmmbridge/shared/vendors/dattormm/sandbox"
)

// env is a sandbox, the recorder in front of it, and a client pointed at it.
type env struct {
	sb     *sandbox.Server
	rec    *contract.Recorder
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
	rec := contract.NewRecorder(sb.Handler())
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
