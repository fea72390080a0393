package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// These tests are offline: names resolve through fakeResolver and the only
// sockets opened go to 127.0.0.1.

// fakeResolver answers from a table.
type fakeResolver map[string]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	a, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr(a)}, nil
}

// dialRecorder records dial attempts; it dials loopback for real and fails
// the test for any other address, so a broken guard sends nothing off the
// machine.
type dialRecorder struct {
	t     *testing.T
	mu    sync.Mutex
	dials []string
}

func (d *dialRecorder) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.dials = append(d.dials, address)
	d.mu.Unlock()
	if ap, err := netip.ParseAddrPort(address); err != nil || !ap.Addr().IsLoopback() {
		d.t.Errorf("the guard let a dial to %s through", address)
		return nil, errors.New("test dialer: refusing a non-loopback address")
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, address)
}

func (d *dialRecorder) Dials() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dials...)
}

// counted serves h and counts the requests it receives.
func counted(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// vendorCase is one provider with a sandbox and working credentials.
type vendorCase struct {
	provider string
	kind     string
	handler  http.Handler
	basePath string
	creds    connection.Credentials
}

func vendorCases() []vendorCase {
	ninja := ninjasandbox.New(ninjasandbox.Options{Seed: 1, Orgs: 2, Devices: 2})
	id, secret := ninja.Credentials()
	cw := cwsandbox.New(cwsandbox.Options{Seed: 1, OrgCount: 2, CompanyID: "acme", PublicKey: "pub", PrivateKey: "PRIVATE-KEY", ClientID: "guid"})
	return []vendorCase{
		{"ninjaone", connection.KindRMM, ninja.Handler(), "", connection.Credentials{"clientId": id, "clientSecret": secret}},
		{"connectwise", connection.KindPSA, cw.Handler(), cwsandbox.BasePath, connection.Credentials{"companyId": "acme", "publicKey": "pub", "privateKey": "PRIVATE-KEY", "clientId": "guid"}},
	}
}

// TestRegistryRefusesLoopbackWithoutTheSwitch checks the deployed default:
// a zero Registry's clients (API and token requests) never connect to a
// loopback vendor, and the local switch lets them.
func TestRegistryRefusesLoopbackWithoutTheSwitch(t *testing.T) {
	for _, vc := range vendorCases() {
		t.Run(vc.provider, func(t *testing.T) {
			srv, hits := counted(t, vc.handler)
			err := Registry{}.Test(t.Context(), vc.provider, srv.URL+vc.basePath, vc.creds)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Invalid || !strings.Contains(e.Message, "is a loopback address") {
				t.Fatalf("Test through a zero Registry = %v, want an Invalid loopback refusal", err)
			}
			if hits.Load() != 0 {
				t.Errorf("the vendor received %d requests, want none", hits.Load())
			}
			if err := (Registry{AllowLoopback: true}).Test(t.Context(), vc.provider, srv.URL+vc.basePath, vc.creds); err != nil {
				t.Fatalf("Test with the loopback switch: %v", err)
			}
			if hits.Load() == 0 {
				t.Error("the vendor received nothing with the loopback switch on")
			}
		})
	}
}

// TestRegistryRefusesNamesResolvingToPrivateAddresses drives both vendor
// clients at names that resolve (through a fake resolver) to addresses the
// guard refuses: no dial is ever attempted, the loopback switch does not
// help, and a name resolving to loopback works only with the switch.
func TestRegistryRefusesNamesResolvingToPrivateAddresses(t *testing.T) {
	for _, vc := range vendorCases() {
		t.Run(vc.provider, func(t *testing.T) {
			srv, hits := counted(t, vc.handler)
			port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
			res := fakeResolver{
				"private.example":  "10.0.0.5",
				"metadata.example": "169.254.169.254",
				"mapped.example":   "::ffff:192.168.1.20",
				"cgnat.example":    "100.64.0.7",
				"sandbox.example":  "127.0.0.1",
			}
			for _, host := range []string{"private.example", "metadata.example", "mapped.example", "cgnat.example"} {
				for _, loop := range []bool{false, true} {
					rec := &dialRecorder{t: t}
					r := Registry{AllowLoopback: loop, Resolver: res, Dial: rec.Dial}
					err := r.Test(t.Context(), vc.provider, "https://"+host+vc.basePath, vc.creds)
					e, ok := apperr.As(err)
					if !ok || e.Kind != apperr.Invalid || !strings.Contains(e.Message, host+" resolves to") {
						t.Errorf("%s (loopback=%v): err = %v, want an Invalid refusal naming the host", host, loop, err)
					}
					if d := rec.Dials(); len(d) != 0 {
						t.Errorf("%s (loopback=%v): dials attempted %v, want none", host, loop, d)
					}
				}
			}
			rec := &dialRecorder{t: t}
			err := Registry{Resolver: res, Dial: rec.Dial}.Test(t.Context(), vc.provider, "http://sandbox.example:"+port+vc.basePath, vc.creds)
			if !strings.Contains(fmt.Sprint(err), "sandbox.example resolves to a loopback address") || len(rec.Dials()) != 0 || hits.Load() != 0 {
				t.Fatalf("a name resolving to loopback without the switch: err %v, dials %v, hits %d", err, rec.Dials(), hits.Load())
			}
			err = Registry{AllowLoopback: true, Resolver: res, Dial: rec.Dial}.Test(t.Context(), vc.provider, "http://sandbox.example:"+port+vc.basePath, vc.creds)
			if err != nil {
				t.Fatalf("a name resolving to loopback with the switch: %v", err)
			}
			for _, d := range rec.Dials() {
				if d != "127.0.0.1:"+port {
					t.Errorf("dialled %s, want the checked address 127.0.0.1:%s", d, port)
				}
			}
		})
	}
}

// TestRegistryNeverFollowsRedirects points "Test & save" at a base URL that
// redirects every request (token requests included) to another origin: the
// target never sees a request (so neither the NinjaOne client secret nor
// ConnectWise's Basic credentials reach it), and the 422 names the host
// and shows nothing the target or the redirect said.
func TestRegistryNeverFollowsRedirects(t *testing.T) {
	var targetSaw []string
	var mu sync.Mutex
	target, _ := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		targetSaw = append(targetSaw, fmt.Sprintf("%s %s auth=%q body=%q", r.Method, r.URL.Path, r.Header.Get("Authorization"), body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"message":"TARGET-REPLY-TEXT","error_description":"TARGET-REPLY-TEXT"}`)
	}))
	tu, _ := url.Parse(target.URL)
	for _, vc := range vendorCases() {
		for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			t.Run(fmt.Sprintf("%s %d", vc.provider, status), func(t *testing.T) {
				origin, hits := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Location", target.URL+r.URL.Path)
					w.WriteHeader(status)
					_, _ = io.WriteString(w, "REDIRECT-PAGE-TEXT")
				}))
				svc := connection.NewService(nil, nil, Registry{AllowLoopback: true}, connection.Options{AllowLoopback: true})
				_, err := svc.Create(t.Context(), "t_1", connection.CreateInput{Name: "x", Kind: vc.kind,
					Provider: vc.provider, BaseURL: origin.URL + vc.basePath, Credentials: vc.creds})
				e, ok := apperr.As(err)
				if !ok || e.Kind != apperr.Invalid || len(e.Fields) != 1 {
					t.Fatalf("Create = %#v, want a 422 naming credentials", err)
				}
				if !strings.Contains(e.Fields[0].Message, "redirected to "+tu.Host) {
					t.Errorf("field message %q does not name the redirect's host %s", e.Fields[0].Message, tu.Host)
				}
				for _, leak := range []string{"TARGET-REPLY-TEXT", "REDIRECT-PAGE-TEXT", vc.creds["clientSecret"], vc.creds["privateKey"]} {
					if leak != "" && strings.Contains(err.Error()+e.Fields[0].Message, leak) {
						t.Errorf("error shows %q: %v", leak, err)
					}
				}
				if hits.Load() != 1 {
					t.Errorf("origin saw %d requests, want 1", hits.Load())
				}
				mu.Lock()
				defer mu.Unlock()
				if len(targetSaw) != 0 {
					t.Errorf("the redirect target received %v, want nothing", targetSaw)
				}
			})
		}
	}
}
