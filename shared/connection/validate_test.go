package connection

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// fakeResolver answers base URL lookups from a table, offline; unknown
// names are not found. It records what it was asked.
type fakeResolver struct {
	answers map[string][]string
	asked   []string
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.asked = append(f.asked, host)
	list, ok := f.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, len(list))
	for i, a := range list {
		out[i] = netip.MustParseAddr(a)
	}
	return out, nil
}

// testResolver knows the public vendor hosts the tests use and a few
// names that resolve to addresses rmmbridge must not connect to.
func testResolver() *fakeResolver {
	return &fakeResolver{answers: map[string][]string{
		"app.ninjarmm.com":     {"3.33.145.1"},
		"eu.ninjarmm.com":      {"3.33.145.2", "2600:1f18::1"},
		"na.myconnectwise.net": {"52.1.2.3"},
		"rebind.example.com":   {"10.0.0.5"},
		"mixed.example.com":    {"52.1.2.4", "192.168.1.1"},
		"cgnat.example.com":    {"100.64.1.1"},
		"ula.example.com":      {"fd12::1"},
		"nat64.example.com":    {"64:ff9b::a00:5"},
		"mapped.example.com":   {"::ffff:172.16.0.9"},
		"meta.example.com":     {"169.254.169.254"},
		"loop.example.com":     {"127.0.0.1"},
	}}
}

func TestCheckBaseURL(t *testing.T) {
	tests := []struct {
		url           string
		allowLoopback bool
		want          string // normalized URL, or "" when refused
		message       string // the refusal's message, when checked
	}{
		{"https://app.ninjarmm.com", false, "https://app.ninjarmm.com", ""},
		{"https://eu.ninjarmm.com/", false, "https://eu.ninjarmm.com", ""},
		{"https://na.myconnectwise.net/v4_6_release/apis/3.0", false, "https://na.myconnectwise.net/v4_6_release/apis/3.0", ""},
		{"https://52.1.2.3/v4_6_release/apis/3.0", false, "https://52.1.2.3/v4_6_release/apis/3.0", ""},
		{"http://app.ninjarmm.com", false, "", "must use https"},
		{"ftp://app.ninjarmm.com", false, "", ""},
		{"app.ninjarmm.com", false, "", ""},
		{"https://user:pw@app.ninjarmm.com", false, "", ""},
		{"https://app.ninjarmm.com/?x=1", false, "", ""},
		{"http://169.254.169.254/latest/meta-data", true, "", "must not point at a link-local or cloud metadata address"},
		{"https://169.254.10.20", false, "", ""},
		{"https://[fe80::1]", false, "", ""},
		{"https://[fd00:ec2::254]", false, "", "must not point at a private address"},
		{"https://metadata.google.internal", false, "", "must not point at a metadata service"},
		{"https://0.0.0.0", true, "", "must not point at an unspecified address"},
		{"https://[::]", true, "", ""},
		{"http://127.0.0.1:8081", false, "", "must not point at a loopback address"},
		{"https://localhost:8443", false, "", "must not point at a loopback address"},
		{"https://api.localhost", false, "", "must not point at a loopback address"},
		{"http://127.0.0.1:8081", true, "http://127.0.0.1:8081", ""},
		{"http://localhost:8081/", true, "http://localhost:8081", ""},
		{"http://[::1]:8081", true, "http://[::1]:8081", ""},
		// Literal private, CGNAT, ULA, NAT64, multicast, broadcast and
		// mapped addresses; the loopback switch allows none of them.
		{"https://10.0.0.5", false, "", "must not point at a private address"},
		{"https://10.0.0.5", true, "", "must not point at a private address"},
		{"https://172.16.0.1", false, "", "must not point at a private address"},
		{"https://172.31.255.255", true, "", "must not point at a private address"},
		{"https://192.168.1.1", false, "", "must not point at a private address"},
		{"https://100.64.0.1", false, "", "must not point at a carrier-grade NAT address"},
		{"https://[fc00::1]", false, "", "must not point at a private address"},
		{"https://[fd12:3456::1]", true, "", "must not point at a private address"},
		{"https://[64:ff9b::a00:5]", false, "", "must not point at a NAT64 address"},
		{"https://[::ffff:10.0.0.5]", false, "", "must not point at a private address"},
		{"https://[::ffff:127.0.0.1]", false, "", "must not point at a loopback address"},
		{"https://[::ffff:169.254.169.254]", true, "", "must not point at a link-local or cloud metadata address"},
		{"https://224.0.0.1", false, "", "must not point at a multicast address"},
		{"https://255.255.255.255", false, "", "must not point at a broadcast address"},
		// Names resolving to addresses rmmbridge does not connect to.
		{"https://rebind.example.com", false, "", "must not point at a host that resolves to a private address"},
		{"https://rebind.example.com", true, "", "must not point at a host that resolves to a private address"},
		{"https://mixed.example.com", false, "", "must not point at a host that resolves to a private address"},
		{"https://cgnat.example.com", false, "", "must not point at a host that resolves to a carrier-grade NAT address"},
		{"https://ula.example.com", false, "", "must not point at a host that resolves to a private address"},
		{"https://nat64.example.com", false, "", "must not point at a host that resolves to a NAT64 address"},
		{"https://mapped.example.com", false, "", "must not point at a host that resolves to a private address"},
		{"https://meta.example.com", true, "", "must not point at a host that resolves to a link-local or cloud metadata address"},
		{"https://loop.example.com", false, "", "must not point at a host that resolves to a loopback address"},
		{"https://loop.example.com", true, "https://loop.example.com", ""},
		{"http://loop.example.com", true, "", "must use https"},
		{"https://nowhere.example.com", false, "", "must name a host that resolves (nowhere.example.com does not)"},
	}
	for _, tc := range tests {
		s := NewService(nil, nil, nil, Options{AllowLoopback: tc.allowLoopback, Resolver: testResolver()})
		got, fe := s.checkBaseURL(t.Context(), tc.url)
		if tc.want == "" {
			if fe == nil || fe.Field != "baseUrl" {
				t.Errorf("checkBaseURL(%q, loopback=%v) = %q, want refusal on baseUrl", tc.url, tc.allowLoopback, got)
			} else if tc.message != "" && fe.Message != tc.message {
				t.Errorf("checkBaseURL(%q, loopback=%v) refused with %q, want %q", tc.url, tc.allowLoopback, fe.Message, tc.message)
			}
			continue
		}
		if fe != nil || got != tc.want {
			t.Errorf("checkBaseURL(%q, loopback=%v) = %q, %v; want %q", tc.url, tc.allowLoopback, got, fe, tc.want)
		}
	}
}

// dnsDown fails every lookup the way an unreachable DNS server does.
type dnsDown struct{}

func (dnsDown) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true}
}

// TestCheckBaseURLLeavesDNSOutagesToTheDialer checks that a lookup that
// fails for another reason than "no such host" does not turn a good base
// URL into a 422: the connection test's dialer resolves and checks again.
func TestCheckBaseURLLeavesDNSOutagesToTheDialer(t *testing.T) {
	s := NewService(nil, nil, nil, Options{Resolver: dnsDown{}})
	if got, fe := s.checkBaseURL(t.Context(), "https://app.ninjarmm.com"); fe != nil || got != "https://app.ninjarmm.com" {
		t.Errorf("checkBaseURL during a DNS outage = %q, %v; want it accepted", got, fe)
	}
}

// TestCreateRefusesPrivateBaseURLBeforeTesting checks, through Create, that
// a base URL whose host resolves to a private address is a 422 naming
// baseUrl and that the vendor test (the first request to that host) never
// runs.
func TestCreateRefusesPrivateBaseURLBeforeTesting(t *testing.T) {
	tester := &countingTester{}
	s := NewService(nil, nopSecrets{}, tester, Options{Resolver: testResolver(), Vendors: testVendors()})
	for _, u := range []string{"https://rebind.example.com", "https://10.0.0.5", "https://[::ffff:192.168.0.1]"} {
		_, err := s.Create(t.Context(), "t_1", CreateInput{Name: "n", Kind: KindRMM, Provider: "acmermm", BaseURL: u,
			Credentials: Credentials{"clientId": "id", "clientSecret": "secret"}})
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "baseUrl" {
			t.Errorf("Create(%s) = %v, want a 422 naming baseUrl", u, err)
		}
	}
	if tester.calls != 0 {
		t.Errorf("the vendor was tested %d times, want 0", tester.calls)
	}
}

type countingTester struct{ calls int }

func (c *countingTester) Test(context.Context, string, string, Credentials) error {
	c.calls++
	return nil
}

func TestSettingsValidate(t *testing.T) {
	s := Settings{PriorityMap: map[string]string{"critical": "P1", "urgent": "P0"}, ReopenWindowMinutes: -1}
	want := []apperr.FieldError{
		{Field: "settings.priorityMap.urgent", Message: "must be one of critical, major, moderate, minor, none"},
		{Field: "settings.reopenWindowMinutes", Message: "must be from 0 to 10080"},
	}
	if diff := cmp.Diff(want, s.validate()); diff != "" {
		t.Errorf("validate (-want +got):\n%s", diff)
	}
}

func TestCheckWebhookSecret(t *testing.T) {
	s := NewService(nil, nopSecrets{}, nil, Options{})
	ig := Integration{ID: "i_1", TenantID: "t"}
	secret, err := s.newWebhookSecret(t.Context(), &ig)
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < 40 || secret[:6] != "whsec_" {
		t.Errorf("secret %q: want whsec_ and ≥ 32 random bytes", secret)
	}
	if !ig.CheckWebhookSecret(secret) || ig.CheckWebhookSecret(secret+"x") || ig.CheckWebhookSecret("") {
		t.Error("CheckWebhookSecret accepts the wrong secret or refuses the right one")
	}
}

type nopSecrets struct{}

func (nopSecrets) Stage(_ context.Context, name string, _ []byte) (string, error) {
	return "ref:" + name, nil
}
func (nopSecrets) Promote(context.Context, string) error       { return nil }
func (nopSecrets) Get(context.Context, string) ([]byte, error) { return nil, nil }
func (nopSecrets) Delete(context.Context, string) error        { return nil }
