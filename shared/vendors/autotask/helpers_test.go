package autotask_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask"
	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
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
	return slices.Clone(s.d)
}

// startSandbox starts a sandbox on loopback for the test.
func startSandbox(t testing.TB, opt sandbox.Options) *sandbox.Server {
	t.Helper()
	srv := sandbox.New(opt)
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// clientConfig is the demo connection's configuration for srv (zone
// lookup at its root) with a recorded retry wait.
func clientConfig(srv *sandbox.Server, rec *sleeps) autotask.Config {
	o := srv.Options()
	cfg := autotask.Config{
		BaseURL: srv.URL(), Username: o.Username, Secret: o.Secret, IntegrationCode: o.IntegrationCode,
		AccountRefUDF: sandbox.CompanyRefUDF, AssetRefUDF: sandbox.DeviceRefUDF, OwnerResourceID: sandbox.DemoOwnerResourceID,
		CompanyType: "Customer", ConfigurationItemType: "Workstation", ProductID: sandbox.DefaultProductID,
		TicketQueue: "Monitoring Alert", TicketStatus: "New", TicketPriority: "Medium", CompleteStatus: "Complete",
	}
	if rec != nil {
		cfg.Sleep = rec.sleep
	}
	return cfg
}

// recorder keeps every request a client sends (for the contract check).
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	next http.RoundTripper
}

type recorded struct {
	method, path, rawQuery string
	body                   []byte
	status                 int
	answer                 []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			buf := make([]byte, 0, 512)
			tmp := make([]byte, 4096)
			for {
				n, err := rc.Read(tmp)
				buf = append(buf, tmp[:n]...)
				if err != nil {
					break
				}
			}
			body = buf
		}
	}
	next := r.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	rec := recorded{method: req.Method, path: req.URL.Path, rawQuery: req.URL.RawQuery, body: body}
	if err == nil {
		answer, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(answer))
		if rerr != nil {
			return nil, rerr
		}
		rec.status, rec.answer = resp.StatusCode, answer
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// vendorspecParams types settings with the spec (defaults applied).
func vendorspecParams(baseURL string, creds map[string]string, settings map[string]any) vendorspec.Params {
	v, _ := vendorspec.MustCatalog(autotask.Spec).Vendor("autotask")
	typed, _ := v.CheckSettings(settings)
	return vendorspec.Params{BaseURL: baseURL, Credentials: creds, Settings: typed}
}
