// Package idtoken verifies the ID tokens an Amazon Cognito user pool issues:
// an RS256 signature by a key of the pool's JSON Web Key Set (fetched over
// HTTPS and cached), the issuer (the pool), the audience (the app client),
// the token use ("id": access tokens carry no custom attributes, so they
// cannot name a tenant), the expiry and issue time, and the claims the
// authorizer needs: the subject, the email, custom:tenant_id and the
// cognito:groups.
//
// It is written against the JWT and JWK specifications (RFC 7515, 7517,
// 7519) with the standard library only, so the authorizer links no JWT
// library and no AWS SDK. Every refusal is an apperr Unauthorized error
// whose message names the check that failed and never the token.
package idtoken

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Config says which tokens a Verifier accepts.
type Config struct {
	// Issuer is the pool's issuer URL,
	// https://cognito-idp.<region>.amazonaws.com/<poolId>.
	Issuer string
	// ClientID is the app client id: the ID token's aud.
	ClientID string
	// JWKSURL is where the pool's keys are served: Issuer +
	// "/.well-known/jwks.json" in AWS, the moto endpoint + "/<poolId>/.well-known/jwks.json" locally.
	JWKSURL string
	// HTTP fetches the key set; a client with a 5 s timeout when nil.
	HTTP *http.Client
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Leeway tolerates clock skew on exp and iat; 0 means none.
	Leeway time.Duration
	// KeysTTL is how long a fetched key set is used before it is fetched
	// again (DefaultKeysTTL when zero). A token naming an unknown key id
	// triggers a fetch at most every MinRefetch (DefaultMinRefetch when
	// zero), so random key ids cannot make the verifier hammer the pool.
	KeysTTL    time.Duration
	MinRefetch time.Duration
}

// Defaults of the key cache.
const (
	DefaultKeysTTL    = time.Hour
	DefaultMinRefetch = time.Minute
	// maxToken bounds the token text we parse at all.
	maxToken = 16 << 10
	// maxJWKS bounds a key set document.
	maxJWKS = 64 << 10
)

// Claims are what a verified ID token says about its user.
type Claims struct {
	Subject  string   // sub: the Cognito user's id
	Email    string   // email
	TenantID string   // custom:tenant_id
	Groups   []string // cognito:groups
	IssuedAt time.Time
	Expires  time.Time
}

// Verifier checks ID tokens. It is safe for concurrent use.
type Verifier struct {
	cfg Config

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time // zero: never fetched successfully
	triedAt   time.Time // last fetch attempt, successful or not
}

// New returns a Verifier for cfg.
func New(cfg Config) (*Verifier, error) {
	var missing []string
	if cfg.Issuer == "" {
		missing = append(missing, "issuer")
	}
	if cfg.ClientID == "" {
		missing = append(missing, "client id")
	}
	if cfg.JWKSURL == "" {
		missing = append(missing, "JWKS URL")
	}
	if len(missing) > 0 {
		return nil, apperr.New(apperr.Invalid, "idtoken: no %s", strings.Join(missing, ", "))
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KeysTTL <= 0 {
		cfg.KeysTTL = DefaultKeysTTL
	}
	if cfg.MinRefetch <= 0 {
		cfg.MinRefetch = DefaultMinRefetch
	}
	return &Verifier{cfg: cfg}, nil
}

// LooksLikeJWT reports whether s has the shape of a compact JWS (three
// base64url parts, the first a JSON object): how the authorizer tells a
// token from an API key without trying both.
func LooksLikeJWT(s string) bool {
	if len(s) > maxToken || strings.Count(s, ".") != 2 || !strings.HasPrefix(s, "eyJ") {
		return false
	}
	head, _, _ := strings.Cut(s, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	return err == nil && json.Valid(b) && bytes.HasPrefix(bytes.TrimSpace(b), []byte("{"))
}

func refused(format string, args ...any) error {
	return apperr.New(apperr.Unauthorized, "token refused: "+format, args...)
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// audience is a JWT aud: one string or an array of strings.
type audience []string

// UnmarshalJSON reads either form.
func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

type payload struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      audience `json:"aud"`
	ClientID string   `json:"client_id"`
	TokenUse string   `json:"token_use"`
	Exp      *float64 `json:"exp"`
	Iat      *float64 `json:"iat"`
	Nbf      *float64 `json:"nbf"`
	Email    string   `json:"email"`
	Tenant   string   `json:"custom:tenant_id"`
	Groups   []string `json:"cognito:groups"`
}

// Verify checks a token and returns its claims. Every refusal is
// apperr.Unauthorized; a key set that cannot be fetched is
// apperr.Unavailable (so that API Gateway does not cache a denial).
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if !LooksLikeJWT(token) {
		return Claims{}, refused("not a JWT")
	}
	parts := strings.Split(token, ".")
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return Claims{}, refused("malformed header")
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return Claims{}, refused("malformed header")
	}
	// Only RS256: "none", HMAC with the public key as secret and every
	// other algorithm confusion are refused here, before any key lookup.
	if h.Alg != "RS256" {
		return Claims{}, refused("algorithm %q is not RS256", clip(h.Alg))
	}
	if h.Kid == "" {
		return Claims{}, refused("no key id")
	}
	key, err := v.key(ctx, h.Kid)
	if err != nil {
		return Claims{}, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return Claims{}, refused("malformed signature")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return Claims{}, refused("bad signature")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Claims{}, refused("malformed payload")
	}
	var p payload
	if err := json.Unmarshal(pb, &p); err != nil {
		return Claims{}, refused("malformed payload")
	}
	return v.check(p)
}

func (v *Verifier) check(p payload) (Claims, error) {
	now := v.cfg.Now()
	switch {
	case p.Iss != v.cfg.Issuer:
		return Claims{}, refused("wrong issuer")
	case p.TokenUse != "id":
		return Claims{}, refused("token use %q is not id (send the ID token)", clip(p.TokenUse))
	case !contains(p.Aud, v.cfg.ClientID):
		return Claims{}, refused("wrong audience")
	case p.Exp == nil:
		return Claims{}, refused("no expiry")
	case p.Iat == nil:
		return Claims{}, refused("no issue time")
	case p.Sub == "":
		return Claims{}, refused("no subject")
	}
	exp, iat := unix(*p.Exp), unix(*p.Iat)
	switch {
	case !now.Before(exp.Add(v.cfg.Leeway)):
		return Claims{}, refused("expired")
	case iat.After(now.Add(v.cfg.Leeway)):
		return Claims{}, refused("issued in the future")
	case p.Nbf != nil && unix(*p.Nbf).After(now.Add(v.cfg.Leeway)):
		return Claims{}, refused("not valid yet")
	}
	return Claims{Subject: p.Sub, Email: p.Email, TenantID: p.Tenant, Groups: p.Groups, IssuedAt: iat, Expires: exp}, nil
}

func unix(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// clip keeps quoted token text short in messages.
func clip(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

// key returns the public key with id kid, fetching the key set when it is
// stale or does not have the id (at most every MinRefetch).
func (v *Verifier) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.cfg.Now()
	fresh := !v.fetchedAt.IsZero() && now.Sub(v.fetchedAt) < v.cfg.KeysTTL
	if k, ok := v.keys[kid]; ok && fresh {
		return k, nil
	}
	if !v.triedAt.IsZero() && now.Sub(v.triedAt) < v.cfg.MinRefetch {
		if k, ok := v.keys[kid]; ok {
			return k, nil // stale, but fetched moments ago
		}
		if v.fetchedAt.IsZero() {
			return nil, apperr.New(apperr.Unavailable, "the user pool's signing keys could not be fetched")
		}
		return nil, refused("unknown key id")
	}
	v.triedAt = now
	keys, err := v.fetch(ctx)
	if err != nil {
		if k, ok := v.keys[kid]; ok {
			return k, nil // keep serving the keys we had through an outage
		}
		return nil, err
	}
	v.keys, v.fetchedAt = keys, now
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, refused("unknown key id")
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func (v *Verifier) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	unavailable := func(err error) error {
		return apperr.Wrap(apperr.Unavailable, err, "the user pool's signing keys could not be fetched")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, unavailable(err)
	}
	resp, err := v.cfg.HTTP.Do(req)
	if err != nil {
		return nil, unavailable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, unavailable(fmt.Errorf("GET %s: status %d", v.cfg.JWKSURL, resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, unavailable(err)
	}
	if len(body) > maxJWKS {
		return nil, unavailable(fmt.Errorf("GET %s: key set over %d bytes", v.cfg.JWKSURL, maxJWKS))
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, unavailable(fmt.Errorf("decode key set: %w", err))
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		pub, err := rsaKey(k)
		if err != nil {
			continue
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, unavailable(errors.New("the key set has no RS256 signing key"))
	}
	return keys, nil
}

func rsaKey(k jwk) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(k.N)
	if err != nil {
		return nil, err
	}
	eb, err := base64.RawURLEncoding.DecodeString(k.E)
	if err != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("bad exponent")
	}
	e := 0
	for _, b := range eb {
		e = e<<8 | int(b)
	}
	n := new(big.Int).SetBytes(nb)
	if n.BitLen() < 2048 || e < 3 {
		return nil, errors.New("key too weak")
	}
	return &rsa.PublicKey{N: n, E: e}, nil
}
