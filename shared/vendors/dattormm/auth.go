package dattormm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/netguard"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
)

// The fixed public OAuth client every Datto RMM token request names with
// HTTP Basic authentication; the API user's key and secret go in the
// password grant's username and password.
const (
	publicClientID     = "public-client"
	publicClientSecret = "public"
)

// tokenMargin is how long before its expiry a token is renewed.
const tokenMargin = 5 * time.Minute

// passwordGrant is Datto RMM's authentication, a vendorhttp.Auth: a token
// from POST {platform}/auth/oauth/token (password grant, public-client
// Basic auth), cached until tokenMargin before expires_in (Datto's tokens
// last 100 hours), one fetch at a time; Invalidate drops it, so a 401 is
// answered with one new token and one repeat (vendorhttp). It never shows
// the secret or the token in %v, %#v or slog.
type passwordGrant struct {
	tokenURL  string
	apiKey    string
	apiSecret string
	hc        *http.Client
	now       func() time.Time
	gate      func() error // refuses a fetch while the client cools down
	limiter   vendorhttp.Limiter

	lock    chan struct{}
	mu      sync.Mutex
	token   string
	expiry  time.Time
	fetches atomic.Int64
}

func newPasswordGrant(tokenURL, key, secret string, hc *http.Client, now func() time.Time, gate func() error, lim vendorhttp.Limiter) *passwordGrant {
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &passwordGrant{tokenURL: tokenURL, apiKey: key, apiSecret: secret, hc: &cp, now: now, gate: gate, limiter: lim, lock: make(chan struct{}, 1)}
}

func (p *passwordGrant) cached() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.token, p.token != "" && p.now().Before(p.expiry)
}

// Apply implements vendorhttp.Auth.
func (p *passwordGrant) Apply(ctx context.Context, req *http.Request) error {
	tok, ok := p.cached()
	if !ok {
		select {
		case p.lock <- struct{}{}:
		case <-ctx.Done():
			return apperr.Wrap(apperr.Unavailable, ctx.Err(), "timed out waiting for a Datto RMM access token")
		}
		tok, ok = p.cached()
		if !ok {
			var err error
			tok, err = p.fetch(ctx)
			if err != nil {
				<-p.lock
				return err
			}
		}
		<-p.lock
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Invalidate implements vendorhttp.Auth.
func (p *passwordGrant) Invalidate() bool {
	p.mu.Lock()
	p.token, p.expiry = "", time.Time{}
	p.mu.Unlock()
	return true
}

// fetch requests a token.
func (p *passwordGrant) fetch(ctx context.Context) (string, error) {
	if err := p.gate(); err != nil {
		return "", err
	}
	form := url.Values{"grant_type": {"password"}, "username": {p.apiKey}, "password": {p.apiSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", apperr.Wrap(apperr.Invalid, err, "the Datto RMM token URL is not valid")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "rmmbridge")
	req.SetBasicAuth(publicClientID, publicClientSecret)
	release := func(ratelimit.Outcome) {}
	if p.limiter != nil {
		rel, err := p.limiter.Acquire(ctx, vendorhttp.TokenEndpoint)
		if err != nil {
			return "", err
		}
		release = rel
	}
	p.fetches.Add(1)
	resp, err := p.hc.Do(req)
	if err != nil {
		release(ratelimit.Outcome{})
		if netguard.IsRefused(err) {
			return "", apperr.Wrap(apperr.Invalid, err, "the Datto RMM token endpoint cannot be reached: the address is not allowed")
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", apperr.Wrap(apperr.Unavailable, err, "the Datto RMM token endpoint could not be reached")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	out := ratelimit.Outcome{Status: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		ra, _ := vendorhttp.ParseRetryAfter(resp.Header, p.now())
		out.Throttled, out.RetryAfter = true, max(ra, throttleFloor)
	case resp.StatusCode == http.StatusForbidden && err == nil && isBlock(body):
		out.Throttled, out.RetryAfter = true, blockWait
	}
	release(out)
	if err != nil {
		return "", apperr.Wrap(apperr.Unavailable, err, "reading the Datto RMM token answer failed")
	}
	switch s := resp.StatusCode; {
	case s/100 == 3:
		return "", &apperr.Error{Kind: apperr.Invalid, VendorStatus: s, Message: fmt.Sprintf("the Datto RMM token endpoint redirected (HTTP %d); use the API URL Datto shows next to the API keys", s)}
	case s == http.StatusTooManyRequests:
		ra, _ := vendorhttp.ParseRetryAfter(resp.Header, p.now())
		return "", &apperr.Error{Kind: apperr.Throttled, VendorStatus: s, RetryAfter: max(ra, throttleFloor), Message: "the Datto RMM token endpoint is rate limiting"}
	case s >= 500:
		return "", &apperr.Error{Kind: apperr.Vendor, VendorStatus: s, Message: fmt.Sprintf("the Datto RMM token endpoint failed (HTTP %d)", s)}
	case s/100 != 2:
		var oe struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &oe)
		msg := vendorhttp.Redact(strings.TrimSpace(oe.Error + ": " + oe.Description))
		if strings.Trim(msg, ": ") == "" {
			msg = http.StatusText(s)
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if s == http.StatusForbidden && isBlock(body) {
			return "", &apperr.Error{Kind: apperr.Throttled, VendorStatus: s, RetryAfter: blockWait, Message: "Datto RMM has blocked this address for calling after a rate limit"}
		}
		return "", &apperr.Error{Kind: apperr.Unauthorized, VendorStatus: s, Message: "Datto RMM rejected the API key or secret: " + msg}
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", &apperr.Error{Kind: apperr.Vendor, VendorStatus: resp.StatusCode, Message: "the Datto RMM token endpoint answered without an access token"}
	}
	ttl := 100 * time.Hour
	var secs float64
	if json.Unmarshal([]byte(strings.Trim(string(tr.ExpiresIn), `"`)), &secs) == nil && secs > 0 {
		ttl = time.Duration(secs * float64(time.Second))
	}
	life := ttl - tokenMargin
	if life <= 0 {
		life = ttl / 2
	}
	p.mu.Lock()
	p.token, p.expiry = tr.AccessToken, p.now().Add(life)
	p.mu.Unlock()
	return tr.AccessToken, nil
}

// Fetches returns how many token requests were sent.
func (p *passwordGrant) Fetches() int64 { return p.fetches.Load() }

// String keeps the secret and the token out of %v and %s.
func (p *passwordGrant) String() string {
	return fmt.Sprintf("dattormm.passwordGrant{TokenURL:%s APIKey:%s APISecret:%s}", p.tokenURL, p.apiKey, vendorhttp.Redacted)
}

// GoString keeps them out of %#v.
func (p *passwordGrant) GoString() string { return p.String() }

// LogValue keeps them out of slog records.
func (p *passwordGrant) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tokenUrl", p.tokenURL), slog.String("apiKey", p.apiKey))
}
