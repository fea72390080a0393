package idtoken_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/idtoken"
)

const (
	issuer   = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
	clientID = "client-1"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

type keyPair struct {
	kid string
	key *rsa.PrivateKey
}

func newKey(t *testing.T, kid string) keyPair {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{kid: kid, key: k}
}

func (k keyPair) jwk() map[string]string {
	return map[string]string{"kty": "RSA", "kid": k.kid, "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(k.key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.key.E)).Bytes())}
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sign makes a compact JWS of claims with header h, signed by k.
func sign(t *testing.T, k keyPair, h map[string]any, claims map[string]any) string {
	t.Helper()
	input := b64(h) + "." + b64(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func idClaims() map[string]any {
	return map[string]any{
		"iss": issuer, "aud": clientID, "token_use": "id", "sub": "user-1", "email": "alice@msp.example",
		"custom:tenant_id": "t_a", "cognito:groups": []string{"operator"},
		"iat": t0.Add(-time.Minute).Unix(), "exp": t0.Add(59 * time.Minute).Unix(),
	}
}

// jwksServer serves the given keys on loopback and counts fetches.
type jwksServer struct {
	*httptest.Server
	keys    atomic.Pointer[[]keyPair]
	fetches atomic.Int32
	fail    atomic.Bool
}

func newJWKS(t *testing.T, keys ...keyPair) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.keys.Store(&keys)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var set []map[string]string
		for _, k := range *s.keys.Load() {
			set = append(set, k.jwk())
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": set})
	}))
	t.Cleanup(s.Close)
	return s
}

type clock struct{ now atomic.Pointer[time.Time] }

func (c *clock) Now() time.Time      { return *c.now.Load() }
func (c *clock) set(t time.Time)     { c.now.Store(&t) }
func (c *clock) add(d time.Duration) { c.set(c.Now().Add(d)) }

func verifier(t *testing.T, s *jwksServer, c *clock) *idtoken.Verifier {
	t.Helper()
	v, err := idtoken.New(idtoken.Config{Issuer: issuer, ClientID: clientID, JWKSURL: s.URL + "/us-east-1_pool/.well-known/jwks.json", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVerify: a good ID token gives its claims; every way a token can be
// wrong is a 401 naming the check, never the token.
func TestVerify(t *testing.T) {
	good := newKey(t, "k1")
	rogue := newKey(t, "k1") // same kid, another key
	other := newKey(t, "k-unknown")
	srv := newJWKS(t, good)
	var c clock
	c.set(t0)
	v := verifier(t, srv, &c)
	ctx := context.Background()

	hdr := map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}
	with := func(mod func(map[string]any)) map[string]any {
		cl := idClaims()
		mod(cl)
		return cl
	}
	valid := sign(t, good, hdr, idClaims())
	got, err := v.Verify(ctx, valid)
	if err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	want := idtoken.Claims{Subject: "user-1", Email: "alice@msp.example", TenantID: "t_a", Groups: []string{"operator"},
		IssuedAt: t0.Add(-time.Minute), Expires: t0.Add(59 * time.Minute)}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
	if got, err := v.Verify(ctx, sign(t, good, hdr, with(func(m map[string]any) { m["aud"] = []string{"x", clientID} }))); err != nil || got.Subject != "user-1" {
		t.Errorf("aud as an array holding the client = %+v, %v; want accepted", got, err)
	}

	parts := strings.Split(valid, ".")
	tamperedPayload := b64(with(func(m map[string]any) { m["custom:tenant_id"] = "t_b" }))
	for _, tc := range []struct {
		name, token, reason string
	}{
		{"wrong issuer (another pool)", sign(t, good, hdr, with(func(m map[string]any) { m["iss"] = issuer + "x" })), "wrong issuer"},
		{"wrong audience (another app client)", sign(t, good, hdr, with(func(m map[string]any) { m["aud"] = "client-2" })), "wrong audience"},
		{"no audience", sign(t, good, hdr, with(func(m map[string]any) { delete(m, "aud") })), "wrong audience"},
		{"access token instead of the ID token", sign(t, good, hdr, with(func(m map[string]any) {
			m["token_use"], m["client_id"] = "access", clientID
			delete(m, "aud")
		})), "token use"},
		{"expired", sign(t, good, hdr, with(func(m map[string]any) { m["exp"] = t0.Add(-time.Second).Unix() })), "expired"},
		{"expires now", sign(t, good, hdr, with(func(m map[string]any) { m["exp"] = t0.Unix() })), "expired"},
		{"no expiry", sign(t, good, hdr, with(func(m map[string]any) { delete(m, "exp") })), "no expiry"},
		{"issued in the future", sign(t, good, hdr, with(func(m map[string]any) { m["iat"] = t0.Add(time.Minute).Unix() })), "future"},
		{"not valid yet", sign(t, good, hdr, with(func(m map[string]any) { m["nbf"] = t0.Add(time.Minute).Unix() })), "not valid yet"},
		{"no subject", sign(t, good, hdr, with(func(m map[string]any) { delete(m, "sub") })), "no subject"},
		{"tampered payload (tenant changed after signing)", parts[0] + "." + tamperedPayload + "." + parts[2], "bad signature"},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), "bad signature"},
		{"signed by another key under the same kid", sign(t, rogue, hdr, idClaims()), "bad signature"},
		{"unknown kid", sign(t, other, map[string]any{"alg": "RS256", "kid": "k-unknown"}, idClaims()), "unknown key id"},
		{"no kid", sign(t, good, map[string]any{"alg": "RS256"}, idClaims()), "no key id"},
		{"alg none", b64(map[string]any{"alg": "none", "kid": "k1"}) + "." + parts[1] + ".", "not RS256"},
		{"alg HS256", b64(map[string]any{"alg": "HS256", "kid": "k1"}) + "." + parts[1] + "." + parts[2], "not RS256"},
		{"not a JWT (an API key)", "rmb_0123456789abcdefghijklmnop", "not a JWT"},
		{"garbage with dots", "eyJ.x.y", "not a JWT"},
		{"huge", "eyJ" + strings.Repeat("a", 20000) + ".a.b", "not a JWT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(ctx, tc.token)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Unauthorized || !strings.Contains(e.Message, tc.reason) {
				t.Fatalf("Verify = %v; want Unauthorized naming %q", err, tc.reason)
			}
			if len(tc.token) > 40 && strings.Contains(err.Error(), tc.token[len(tc.token)-30:]) {
				t.Errorf("the error quotes the token: %v", err)
			}
		})
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	return string(b)
}

// TestKeyCache: the key set is fetched once and reused; unknown key ids
// cannot make the verifier fetch more than once a minute; a rotated key is
// picked up; an outage keeps the keys it had and, with none, is Unavailable
// (never a cached denial).
func TestKeyCache(t *testing.T) {
	k1, k2 := newKey(t, "k1"), newKey(t, "k2")
	srv := newJWKS(t, k1)
	var c clock
	c.set(t0)
	v := verifier(t, srv, &c)
	ctx := context.Background()
	tok1 := sign(t, k1, map[string]any{"alg": "RS256", "kid": "k1"}, idClaims())
	for i := 0; i < 5; i++ {
		if _, err := v.Verify(ctx, tok1); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("5 verifications fetched the key set %d times, want 1", n)
	}
	// 100 tokens with random unknown key ids within a minute of the fetch:
	// no new fetch.
	for i := 0; i < 100; i++ {
		tok := sign(t, k2, map[string]any{"alg": "RS256", "kid": "random-" + string(rune('a'+i%26))}, idClaims())
		if _, err := v.Verify(ctx, tok); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("unknown kid = %v, want Unauthorized", err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("100 unknown key ids made %d fetches in all, want 1", n)
	}
	// The pool rotates in k2; a minute later a k2 token triggers a fetch.
	srv.keys.Store(&[]keyPair{k1, k2})
	c.add(61 * time.Second)
	tok2 := sign(t, k2, map[string]any{"alg": "RS256", "kid": "k2"}, with(idClaims(), t0.Add(61*time.Second)))
	if _, err := v.Verify(ctx, tok2); err != nil {
		t.Fatalf("rotated key refused: %v", err)
	}
	// Outage after the cache expired: the known keys keep working.
	srv.fail.Store(true)
	c.add(2 * time.Hour)
	tokLate := sign(t, k1, map[string]any{"alg": "RS256", "kid": "k1"}, with(idClaims(), c.Now()))
	if _, err := v.Verify(ctx, tokLate); err != nil {
		t.Errorf("known key during a JWKS outage = %v, want accepted", err)
	}
	// A fresh verifier with the JWKS down: Unavailable, not a denial.
	v2 := verifier(t, srv, &c)
	if _, err := v2.Verify(ctx, tokLate); !apperr.Is(err, apperr.Unavailable) {
		t.Errorf("no keys and the JWKS down = %v, want Unavailable", err)
	}
}

// with re-times claims around now.
func with(cl map[string]any, now time.Time) map[string]any {
	cl["iat"], cl["exp"] = now.Add(-time.Second).Unix(), now.Add(time.Hour).Unix()
	return cl
}

func TestLooksLikeJWT(t *testing.T) {
	k := newKey(t, "k1")
	tok := sign(t, k, map[string]any{"alg": "RS256", "kid": "k1"}, idClaims())
	for s, want := range map[string]bool{
		tok:                              true,
		"rmb_abcdefghijklmnopqrstuvwxyz": false,
		"dev.key.with.dots":              false,
		"a.b.c":                          false,
		"eyJub3QganNvbg.x.y":             false,
		"":                               false,
	} {
		if got := idtoken.LooksLikeJWT(s); got != want {
			t.Errorf("LooksLikeJWT(%.20q) = %v, want %v", s, got, want)
		}
	}
}
