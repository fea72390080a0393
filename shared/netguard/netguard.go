// Package netguard decides which network addresses rmmbridge may connect
// to on a tenant's behalf, and enforces it where connections are made.
//
// A tenant chooses its vendors' base URLs, so every outgoing vendor
// connection is a server-side request to an address someone else picked.
// netguard refuses every address that is not on the public internet:
// loopback, the private ranges (10/8, 172.16/12, 192.168/16, fc00::/7),
// carrier-grade NAT (100.64/10), link-local (169.254/16 with the cloud
// metadata services, fe80::/10), NAT64 (64:ff9b::/96, 64:ff9b:1::/48),
// 6to4 and Teredo (which embed IPv4 addresses), multicast, broadcast,
// reserved, documentation and unspecified addresses; IPv4-mapped IPv6
// forms (::ffff:10.0.0.1) are judged as the IPv4 address they carry.
// Policy.AllowLoopback, the local stack's switch, allows loopback and
// nothing else.
//
// The check is made where the socket is opened: Dialer resolves the host,
// refuses the whole host when any of its addresses is refused, and then
// dials the checked address literally (a second DNS answer cannot swap in
// another address: no DNS rebinding). Its default dial adds a net.Dialer
// Control hook (Policy.Control) that checks the address again just before
// connect. NewTransport builds the http.Transport every vendor client uses.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Policy says which addresses may be dialled. The zero value refuses every
// non-public address, loopback included.
type Policy struct {
	// AllowLoopback allows 127.0.0.0/8 and ::1 (the local stack's vendor
	// sandboxes). Never set in AWS.
	AllowLoopback bool
}

// Address classes, as they appear in refusals.
const (
	ClassLoopback    = "a loopback address"
	ClassPrivate     = "a private address"
	ClassCGNAT       = "a carrier-grade NAT address"
	ClassLinkLocal   = "a link-local or cloud metadata address"
	ClassUnspecified = "an unspecified address"
	ClassMulticast   = "a multicast address"
	ClassBroadcast   = "a broadcast address"
	ClassNAT64       = "a NAT64 address"
	ClassTunnel      = "an IPv6 transition address embedding IPv4 (6to4, Teredo, IPv4-compatible)"
	ClassReserved    = "a reserved or special-purpose address"
)

// ranges lists the refused prefixes, most specific first where they nest
// (::1 and :: before ::/96). IPv4-mapped addresses are unmapped before the
// lookup, so each IPv4 range also covers its ::ffff: form.
var ranges = []struct {
	prefix netip.Prefix
	class  string
}{
	// IPv4 (RFC 6890 and the IANA special-purpose registry).
	{netip.MustParsePrefix("0.0.0.0/8"), ClassUnspecified},
	{netip.MustParsePrefix("10.0.0.0/8"), ClassPrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), ClassCGNAT},
	{netip.MustParsePrefix("127.0.0.0/8"), ClassLoopback},
	{netip.MustParsePrefix("169.254.0.0/16"), ClassLinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), ClassPrivate},
	{netip.MustParsePrefix("192.0.0.0/24"), ClassReserved},
	{netip.MustParsePrefix("192.0.2.0/24"), ClassReserved},
	{netip.MustParsePrefix("192.88.99.0/24"), ClassTunnel},
	{netip.MustParsePrefix("192.168.0.0/16"), ClassPrivate},
	{netip.MustParsePrefix("198.18.0.0/15"), ClassReserved},
	{netip.MustParsePrefix("198.51.100.0/24"), ClassReserved},
	{netip.MustParsePrefix("203.0.113.0/24"), ClassReserved},
	{netip.MustParsePrefix("224.0.0.0/4"), ClassMulticast},
	{netip.MustParsePrefix("255.255.255.255/32"), ClassBroadcast},
	{netip.MustParsePrefix("240.0.0.0/4"), ClassReserved},
	// IPv6.
	{netip.MustParsePrefix("::1/128"), ClassLoopback},
	{netip.MustParsePrefix("::/128"), ClassUnspecified},
	{netip.MustParsePrefix("::/96"), ClassTunnel}, // IPv4-compatible, deprecated
	{netip.MustParsePrefix("64:ff9b::/96"), ClassNAT64},
	{netip.MustParsePrefix("64:ff9b:1::/48"), ClassNAT64},
	{netip.MustParsePrefix("100::/64"), ClassReserved}, // discard-only
	{netip.MustParsePrefix("2001::/32"), ClassTunnel},  // Teredo
	{netip.MustParsePrefix("2001::/23"), ClassReserved},
	{netip.MustParsePrefix("2001:db8::/32"), ClassReserved},
	{netip.MustParsePrefix("2002::/16"), ClassTunnel}, // 6to4
	{netip.MustParsePrefix("fc00::/7"), ClassPrivate},
	{netip.MustParsePrefix("fe80::/10"), ClassLinkLocal},
	{netip.MustParsePrefix("fec0::/10"), ClassReserved}, // site-local, deprecated
	{netip.MustParsePrefix("ff00::/8"), ClassMulticast},
}

// Classify returns the class of a refused address kind ip belongs to, or
// "" for a public address. Loopback is reported as ClassLoopback whatever
// the policy.
func Classify(ip netip.Addr) string {
	if !ip.IsValid() {
		return ClassReserved
	}
	ip = ip.WithZone("").Unmap()
	for _, r := range ranges {
		if r.prefix.Contains(ip) {
			return r.class
		}
	}
	return ""
}

// CheckAddr returns nil when ip may be dialled and a *RefusedError naming
// its class otherwise.
func (p Policy) CheckAddr(ip netip.Addr) error {
	class := Classify(ip)
	if class == "" || (class == ClassLoopback && p.AllowLoopback) {
		return nil
	}
	return &RefusedError{Addr: ip.WithZone("").Unmap(), Class: class}
}

// Control is a net.Dialer Control hook: it refuses to connect to an
// address the policy does not allow. It runs after the socket is created
// and before connect, with the literal address being dialled, so it holds
// whatever DNS answered. It depends only on network and address (c may be
// nil), which makes it a pure function to test.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Host: address, Class: "not an IP address"}
	}
	return p.CheckAddr(ap.Addr())
}

// RefusedError is a connection netguard refused.
type RefusedError struct {
	// Host is the name that was asked for ("" or the address itself when
	// a literal address was dialled).
	Host string
	// Addr is the refused address.
	Addr netip.Addr
	// Class says why (one of the Class constants).
	Class string
}

// Error names the host, or the literal address, and its class; a name is
// reported without the address it resolved to.
func (e *RefusedError) Error() string {
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("%s resolves to %s; rmmbridge connects only to public internet addresses", e.Host, e.Class)
	}
	return fmt.Sprintf("%s is %s; rmmbridge connects only to public internet addresses", e.Addr, e.Class)
}

// IsRefused reports whether err is, or wraps, a netguard refusal.
func IsRefused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re)
}

// Resolver looks host names up (net.DefaultResolver; fakes in tests).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Resolve returns the addresses of host (the address itself for a literal)
// and refuses the host when any of them is refused: a name with one public
// and one private address would let whoever runs its DNS pick. r nil uses
// net.DefaultResolver.
func (p Policy) Resolve(ctx context.Context, r Resolver, network, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := p.CheckAddr(ip); err != nil {
			return nil, err
		}
		return []netip.Addr{ip.WithZone("").Unmap()}, nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, lookupNetwork(network), host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			re := err.(*RefusedError)
			re.Host = host
			return nil, re
		}
		out = append(out, a.WithZone("").Unmap())
	}
	return out, nil
}

// lookupNetwork maps a dial network to a LookupNetIP network.
func lookupNetwork(network string) string {
	switch network {
	case "tcp4", "udp4", "ip4":
		return "ip4"
	case "tcp6", "udp6", "ip6":
		return "ip6"
	}
	return "ip"
}

// DialFunc opens a connection (net.Dialer.DialContext's shape).
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Dialer opens connections only to addresses its Policy allows.
type Dialer struct {
	Policy Policy
	// Resolver looks host names up; nil uses net.DefaultResolver.
	Resolver Resolver
	// Dial connects to a literal, already checked "ip:port"; nil uses a
	// net.Dialer (10 s connect timeout) whose Control hook is
	// Policy.Control. Tests inject a recorder.
	Dial DialFunc
}

// DialContext resolves address's host, refuses it unless every address is
// allowed, then dials the checked addresses in order until one answers.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dial %s: bad port: %w", address, err)
	}
	addrs, err := d.Policy.Resolve(ctx, d.Resolver, network, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	dial := d.Dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: d.Policy.Control}).DialContext
	}
	var first error
	for _, a := range addrs {
		c, err := dial(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil || IsRefused(err) {
			break
		}
	}
	return nil, first
}

// NewTransport returns an http.Transport that connects only through d. It
// uses no proxy: a proxy would connect on our behalf, past the guard.
func NewTransport(d *Dialer) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
