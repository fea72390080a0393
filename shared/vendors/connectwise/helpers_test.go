package connectwise_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

// sleeps records the client's retry waits instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// startSandbox starts a sandbox on loopback for the test.
func startSandbox(t *testing.T, opt sandbox.Options) *sandbox.Server {
	t.Helper()
	srv := sandbox.New(opt)
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close sandbox: %v", err)
		}
	})
	return srv
}

// clientConfig is a client configuration for srv with the sandbox's
// custom fields and a recorded (not slept) retry wait.
func clientConfig(srv *sandbox.Server, rec *sleeps) connectwise.Config {
	o := srv.Options()
	return connectwise.Config{
		BaseURL: srv.URL(), CompanyID: o.CompanyID, PublicKey: o.PublicKey, PrivateKey: o.PrivateKey, ClientID: o.ClientID,
		AccountRefFieldID: sandbox.CompanyRefFieldID, AssetCheckInFieldID: sandbox.ConfigCheckInFieldID,
		Sleep: rec.sleep,
	}
}

func newClient(t *testing.T, cfg connectwise.Config) *connectwise.Client {
	t.Helper()
	c, err := connectwise.New(cfg, nil)
	if err != nil {
		t.Fatalf("connectwise.New: %v", err)
	}
	return c
}

// setup starts a sandbox and a client for it.
func setup(t *testing.T, opt sandbox.Options, mutate ...func(*connectwise.Config)) (*sandbox.Server, *connectwise.Client, *sleeps) {
	t.Helper()
	srv := startSandbox(t, opt)
	rec := &sleeps{}
	cfg := clientConfig(srv, rec)
	for _, m := range mutate {
		m(&cfg)
	}
	return srv, newClient(t, cfg), rec
}

// requestsOf runs f and returns how many HTTP requests the client sent.
func requestsOf(c *connectwise.Client, f func()) int64 {
	before := c.Requests()
	f()
	return c.Requests() - before
}

// raw sends a request to the sandbox with the given credentials (the
// default ones when publicKey is "") and decodes the JSON answer.
func raw(t *testing.T, srv *sandbox.Server, method, path, publicKey, privateKey string, body any, out any) int {
	t.Helper()
	o := srv.Options()
	if publicKey == "" {
		publicKey, privateKey = o.PublicKey, o.PrivateKey
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, srv.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(o.CompanyID+"+"+publicKey, privateKey)
	req.Header.Set("clientId", o.ClientID)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}
