package netguard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Every test here is offline: names resolve through fakeResolver, and the
// only sockets opened go to 127.0.0.1.

// fakeResolver answers from a table; unknown names are not found.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	asked   []string
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, host)
	list, ok := f.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, len(list))
	for i, s := range list {
		out[i] = netip.MustParseAddr(s)
	}
	return out, nil
}

// dialRecorder records every address it is asked to dial. It dials only
// loopback addresses for real and fails the test for anything else, so a
// broken guard can never send a packet off the machine.
type dialRecorder struct {
	t     *testing.T
	mu    sync.Mutex
	dials []string
}

func (d *dialRecorder) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.dials = append(d.dials, address)
	d.mu.Unlock()
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().IsLoopback() {
		d.t.Errorf("the guard let a dial to %s through", address)
		return nil, errors.New("test dialer: refusing to dial a non-loopback address")
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, address)
}

func (d *dialRecorder) Dials() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dials...)
}

func TestControlRefusesNonPublicAddresses(t *testing.T) {
	tests := []struct {
		addr          string
		allowLoopback bool
		want          string // class, or "" when allowed
	}{
		// Public addresses pass.
		{"93.184.215.14:443", false, ""},
		{"8.8.8.8:443", false, ""},
		{"[2606:4700::6810:84e5]:443", false, ""},
		{"[::ffff:8.8.8.8]:443", false, ""},
		{"100.63.255.255:443", false, ""},
		{"100.128.0.0:443", false, ""},
		{"172.15.255.255:443", false, ""},
		{"172.32.0.0:443", false, ""},
		// Loopback: refused unless the local switch is on.
		{"127.0.0.1:443", false, ClassLoopback},
		{"127.8.9.10:443", false, ClassLoopback},
		{"[::1]:443", false, ClassLoopback},
		{"[::ffff:127.0.0.1]:443", false, ClassLoopback},
		{"127.0.0.1:443", true, ""},
		{"[::1]:443", true, ""},
		{"[::ffff:127.0.0.1]:443", true, ""},
		// The switch allows loopback only.
		{"10.0.0.5:443", true, ClassPrivate},
		{"169.254.169.254:80", true, ClassLinkLocal},
		{"[fd00:ec2::254]:80", true, ClassPrivate},
		// Private.
		{"10.0.0.5:443", false, ClassPrivate},
		{"10.255.255.255:443", false, ClassPrivate},
		{"172.16.0.1:443", false, ClassPrivate},
		{"172.31.255.254:443", false, ClassPrivate},
		{"192.168.1.1:443", false, ClassPrivate},
		{"[fc00::1]:443", false, ClassPrivate},
		{"[fd12:3456::1]:443", false, ClassPrivate},
		// IPv4-mapped IPv6 forms of private addresses.
		{"[::ffff:10.0.0.5]:443", false, ClassPrivate},
		{"[::ffff:a00:5]:443", false, ClassPrivate},
		{"[::ffff:192.168.0.1]:443", false, ClassPrivate},
		{"[::ffff:169.254.169.254]:80", false, ClassLinkLocal},
		// CGNAT.
		{"100.64.0.1:443", false, ClassCGNAT},
		{"100.127.255.254:443", false, ClassCGNAT},
		// Link-local and metadata.
		{"169.254.169.254:80", false, ClassLinkLocal},
		{"169.254.170.2:80", false, ClassLinkLocal},
		{"[fe80::1]:443", false, ClassLinkLocal},
		{"[fe80::1%eth0]:443", false, ClassLinkLocal},
		// NAT64 (would reach 10.0.0.5 through a NAT64 gateway).
		{"[64:ff9b::a00:5]:443", false, ClassNAT64},
		{"[64:ff9b::8.8.8.8]:443", false, ClassNAT64},
		{"[64:ff9b:1::1]:443", false, ClassNAT64},
		// Transition forms embedding IPv4.
		{"[2002:a00:5::1]:443", false, ClassTunnel},
		{"[2001:0:4136:e378::1]:443", false, ClassTunnel},
		{"[::10.0.0.5]:443", false, ClassTunnel},
		// Unspecified.
		{"0.0.0.0:443", false, ClassUnspecified},
		{"0.1.2.3:443", false, ClassUnspecified},
		{"[::]:443", false, ClassUnspecified},
		{"[::ffff:0.0.0.0]:443", false, ClassUnspecified},
		// Multicast and broadcast.
		{"224.0.0.1:443", false, ClassMulticast},
		{"239.255.255.250:1900", false, ClassMulticast},
		{"[ff02::1]:443", false, ClassMulticast},
		{"255.255.255.255:443", false, ClassBroadcast},
		// Reserved and documentation.
		{"240.0.0.1:443", false, ClassReserved},
		{"192.0.0.170:443", false, ClassReserved},
		{"192.0.2.1:443", false, ClassReserved},
		{"198.18.0.1:443", false, ClassReserved},
		{"203.0.113.9:443", false, ClassReserved},
		{"[2001:db8::1]:443", false, ClassReserved},
		{"[fec0::1]:443", false, ClassReserved},
		{"[100::1]:443", false, ClassReserved},
		// Not an address at all.
		{"example.com:443", false, "not an IP address"},
	}
	for _, tt := range tests {
		err := Policy{AllowLoopback: tt.allowLoopback}.Control("tcp", tt.addr, nil)
		got := ""
		if err != nil {
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Errorf("Control(%s, loopback=%v) = %v, not a *RefusedError", tt.addr, tt.allowLoopback, err)
				continue
			}
			got = re.Class
		}
		if got != tt.want {
			t.Errorf("Control(%s, loopback=%v) refused as %q, want %q", tt.addr, tt.allowLoopback, got, tt.want)
		}
	}
}

func TestDialerRefusesNamesResolvingToRefusedAddresses(t *testing.T) {
	res := &fakeResolver{answers: map[string][]string{
		"rebind.example":  {"10.0.0.5"},
		"mixed.example":   {"93.184.215.14", "192.168.1.10"},
		"mapped.example":  {"::ffff:10.0.0.5"},
		"nat64.example":   {"64:ff9b::a9fe:a9fe"},
		"meta.example":    {"169.254.169.254"},
		"sandbox.example": {"127.0.0.1"},
	}}
	tests := []struct {
		name          string
		address       string
		allowLoopback bool
		wantClass     string
	}{
		{"name resolving to 10.0.0.5", "rebind.example:443", false, ClassPrivate},
		{"one private address among public ones", "mixed.example:443", false, ClassPrivate},
		{"IPv4-mapped private answer", "mapped.example:443", false, ClassPrivate},
		{"NAT64 answer", "nat64.example:443", false, ClassNAT64},
		{"metadata answer, loopback switch on", "meta.example:80", true, ClassLinkLocal},
		{"loopback answer without the switch", "sandbox.example:80", false, ClassLoopback},
		{"literal private address", "10.0.0.5:443", true, ClassPrivate},
		{"literal mapped address", "[::ffff:192.168.0.1]:443", false, ClassPrivate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &dialRecorder{t: t}
			d := &Dialer{Policy: Policy{AllowLoopback: tt.allowLoopback}, Resolver: res, Dial: rec.Dial}
			conn, err := d.DialContext(t.Context(), "tcp", tt.address)
			if err == nil {
				conn.Close()
				t.Fatalf("DialContext(%s) connected, want a refusal", tt.address)
			}
			var re *RefusedError
			if !errors.As(err, &re) || re.Class != tt.wantClass {
				t.Fatalf("DialContext(%s) = %v, want a refusal as %q", tt.address, err, tt.wantClass)
			}
			if got := rec.Dials(); len(got) != 0 {
				t.Errorf("dials attempted: %v, want none", got)
			}
			if strings.Contains(err.Error(), "10.0.0.5") && !strings.HasPrefix(tt.address, "10.") {
				t.Errorf("error %q shows the address a name resolved to", err)
			}
		})
	}
}

func TestDialerDialsTheCheckedAddress(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	res := &fakeResolver{answers: map[string][]string{"sandbox.example": {"127.0.0.1"}}}

	t.Run("loopback allowed by the switch", func(t *testing.T) {
		rec := &dialRecorder{t: t}
		client := &http.Client{Transport: NewTransport(&Dialer{Policy: Policy{AllowLoopback: true}, Resolver: res, Dial: rec.Dial})}
		resp, err := client.Get("http://sandbox.example:" + port + "/")
		if err != nil {
			t.Fatalf("GET through the guard: %v", err)
		}
		resp.Body.Close()
		// The dial goes to the address that was checked, never to the name
		// (which a second DNS answer could point elsewhere).
		if diff := cmp.Diff([]string{"127.0.0.1:" + port}, rec.Dials()); diff != "" {
			t.Errorf("dials (-want +got):\n%s", diff)
		}
	})
	t.Run("loopback refused without the switch", func(t *testing.T) {
		before := hits.Load()
		rec := &dialRecorder{t: t}
		client := &http.Client{Transport: NewTransport(&Dialer{Resolver: res, Dial: rec.Dial})}
		_, err := client.Get("http://sandbox.example:" + port + "/")
		if !IsRefused(err) {
			t.Fatalf("GET = %v, want a refusal", err)
		}
		if len(rec.Dials()) != 0 || hits.Load() != before {
			t.Errorf("dials %v, server hits %d: want none", rec.Dials(), hits.Load()-before)
		}
	})
}

// TestDefaultDialUsesControlHook checks that the default dial (no Dial
// seam) goes through a net.Dialer whose Control hook refuses the address
// before connect: a loopback listener, with the switch off, never sees a
// connection.
func TestDefaultDialUsesControlHook(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	// Policy.Resolve would already refuse 127.0.0.1; the Control hook is
	// the second line, so check it on its own with the dial the Dialer
	// builds by default.
	nd := &net.Dialer{Control: Policy{}.Control}
	if _, err := nd.DialContext(t.Context(), "tcp", ln.Addr().String()); !IsRefused(err) {
		t.Fatalf("dial with the Control hook = %v, want a refusal", err)
	}
	d := &Dialer{}
	if _, err := d.DialContext(t.Context(), "tcp", ln.Addr().String()); !IsRefused(err) {
		t.Fatalf("Dialer.DialContext = %v, want a refusal", err)
	}
	d = &Dialer{Policy: Policy{AllowLoopback: true}}
	c, err := d.DialContext(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("Dialer.DialContext with the switch: %v", err)
	}
	c.Close()
	// Wait for the accept of the allowed dial, then count.
	for i := 0; i < 1000 && accepted.Load() == 0; i++ {
		time.Sleep(time.Millisecond)
	}
	if got := accepted.Load(); got != 1 {
		t.Errorf("listener accepted %d connections, want 1 (the allowed dial only)", got)
	}
}

func TestResolveErrors(t *testing.T) {
	res := &fakeResolver{answers: map[string][]string{"empty.example": {}}}
	for _, host := range []string{"missing.example", "empty.example"} {
		_, err := Policy{}.Resolve(t.Context(), res, "tcp", host)
		var de *net.DNSError
		if !errors.As(err, &de) || !de.IsNotFound {
			t.Errorf("Resolve(%s) = %v, want a not-found DNS error", host, err)
		}
	}
}

func TestRefusedErrorMessage(t *testing.T) {
	named := &RefusedError{Host: "rebind.example", Addr: netip.MustParseAddr("10.0.0.5"), Class: ClassPrivate}
	literal := &RefusedError{Addr: netip.MustParseAddr("10.0.0.5"), Class: ClassPrivate}
	if got, want := named.Error(), "rebind.example resolves to a private address; rmmbridge connects only to public internet addresses"; got != want {
		t.Errorf("named: %q, want %q", got, want)
	}
	if got, want := literal.Error(), "10.0.0.5 is a private address; rmmbridge connects only to public internet addresses"; got != want {
		t.Errorf("literal: %q, want %q", got, want)
	}
}
