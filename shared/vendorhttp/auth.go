package vendorhttp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/netguard"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// TokenEndpoint is the endpoint OAuth token requests draw from the budget
// as.
const TokenEndpoint = "token"

// Auth authenticates requests to a vendor.
//
// Apply adds credentials to req (fetching a token first if needed). When the
// vendor answers 401, the Client calls Invalidate and, if it returns true,
// applies the credentials again and repeats the request once; false means
// re-applying cannot help (static credentials), so the 401 is final.
type Auth interface {
	Apply(ctx context.Context, req *http.Request) error
	Invalidate() (retry bool)
}

// tokenRefreshMargin is how long before expiry a cached token is renewed.
const tokenRefreshMargin = 60 * time.Second

// OAuthClientCredentials is the OAuth 2.0 client-credentials grant: it posts
// a form to TokenURL, caches the bearer token until 60 s before expires_in,
// lets only one caller refresh at a time (the others wait for its token),
// and sends "Authorization: Bearer <token>". Invalidate drops the cached
// token so the next Apply fetches a new one.
//
// Use it by pointer; the zero value of the unexported fields is ready.
// Formatting or logging the value never shows the secret or the token.
type OAuthClientCredentials struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Scope is sent when not empty (space-separated scopes).
	Scope string
	// Params are extra form parameters (e.g. a tenant).
	Params url.Values
	// CredentialsInHeader sends the client id and secret as HTTP Basic
	// authentication instead of form fields.
	CredentialsInHeader bool
	// HTTPClient sends token requests; nil uses a default client. Its
	// CheckRedirect is ignored: a redirect is never followed (the request
	// carries the client secret) and fails the fetch with an Invalid error
	// naming the host it pointed at.
	HTTPClient *http.Client
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// Limiter, when set, is the request budget token requests draw from
	// (endpoint "token"); vendorhttp.New sets the client's when nil.
	Limiter Limiter

	once    sync.Once
	lock    chan struct{} // held while fetching a token
	mu      sync.Mutex    // guards token and expiry
	token   string
	expiry  time.Time
	fetches atomic.Int64
}

// tokenResponse is the standard OAuth token response. expires_in is a
// number in the RFC but some servers send it as a string.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

// oauthError is the RFC 6749 error body.
type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func (o *OAuthClientCredentials) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// cached returns the cached token if it is still fresh.
func (o *OAuthClientCredentials) cached() (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token != "" && o.now().Before(o.expiry) {
		return o.token, true
	}
	return "", false
}

// Token returns a valid access token, fetching one if the cache is empty or
// stale. Concurrent callers share one fetch.
func (o *OAuthClientCredentials) Token(ctx context.Context) (string, error) {
	if tok, ok := o.cached(); ok {
		return tok, nil
	}
	o.once.Do(func() { o.lock = make(chan struct{}, 1) })
	select {
	case o.lock <- struct{}{}:
	case <-ctx.Done():
		return "", apperr.Wrap(apperr.Unavailable, ctx.Err(), "timed out waiting for an access token")
	}
	defer func() { <-o.lock }()
	// Another caller may have fetched while we waited.
	if tok, ok := o.cached(); ok {
		return tok, nil
	}
	tok, ttl, err := o.fetch(ctx)
	if err != nil {
		return "", err
	}
	if ttl <= 0 {
		ttl = time.Hour
	}
	life := ttl - tokenRefreshMargin
	if life <= 0 {
		life = ttl / 2
	}
	o.mu.Lock()
	o.token, o.expiry = tok, o.now().Add(life)
	o.mu.Unlock()
	return tok, nil
}

// fetch posts the token request.
func (o *OAuthClientCredentials) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{}
	for k, v := range o.Params {
		form[k] = v
	}
	form.Set("grant_type", "client_credentials")
	if !o.CredentialsInHeader {
		form.Set("client_id", o.ClientID)
		form.Set("client_secret", o.ClientSecret)
	}
	if o.Scope != "" {
		form.Set("scope", o.Scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, apperr.Wrap(apperr.Invalid, err, "the token URL is not valid")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if o.CredentialsInHeader {
		req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret))
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	release := func(ratelimit.Outcome) {}
	if o.Limiter != nil {
		rel, err := o.Limiter.Acquire(ctx, TokenEndpoint)
		if err != nil {
			return "", 0, err
		}
		release = rel
	}
	o.fetches.Add(1)
	// Never follow a redirect: it would post the client secret again to
	// wherever the answer points.
	resp, err := noRedirects(hc).Do(req)
	if err != nil {
		release(ratelimit.Outcome{})
		if netguard.IsRefused(err) {
			return "", 0, refusedError("the token endpoint", err)
		}
		return "", 0, apperr.Wrap(apperr.Unavailable, scrubURLError(err), "the token endpoint could not be reached")
	}
	defer resp.Body.Close()
	out := ratelimit.Outcome{Status: resp.StatusCode, Throttled: resp.StatusCode == http.StatusTooManyRequests}
	if out.Throttled {
		out.RetryAfter, _ = ParseRetryAfter(resp.Header, o.now())
	}
	release(out)
	if resp.StatusCode/100 == 3 {
		return "", 0, redirectError("the token endpoint", resp.StatusCode, resp.Header, req.URL)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, apperr.Wrap(apperr.Unavailable, err, "reading the token response failed")
	}
	if resp.StatusCode/100 != 2 {
		var oe oauthError
		_ = json.Unmarshal(body, &oe)
		msg := Redact(strings.TrimSpace(oe.Error + " " + oe.ErrorDescription))
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			ra, _ := ParseRetryAfter(resp.Header, o.now())
			return "", 0, &apperr.Error{Kind: apperr.Throttled, Message: "the token endpoint is rate limiting", RetryAfter: ra, VendorStatus: resp.StatusCode}
		case resp.StatusCode >= 500:
			return "", 0, &apperr.Error{Kind: apperr.Vendor, Message: "the token endpoint failed: " + clip(msg), VendorStatus: resp.StatusCode}
		default:
			return "", 0, &apperr.Error{Kind: apperr.Unauthorized, Message: "the vendor rejected the client credentials: " + clip(msg), VendorStatus: resp.StatusCode}
		}
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", 0, &apperr.Error{Kind: apperr.Vendor, Message: "the token endpoint answered without an access token", VendorStatus: resp.StatusCode}
	}
	return tr.AccessToken, parseExpiresIn(tr.ExpiresIn), nil
}

// parseExpiresIn reads expires_in given as a number or a numeric string.
func parseExpiresIn(raw json.RawMessage) time.Duration {
	s := strings.Trim(string(raw), `"`)
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// Apply implements Auth.
func (o *OAuthClientCredentials) Apply(ctx context.Context, req *http.Request) error {
	tok, err := o.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Invalidate implements Auth: the cached token is dropped and a retry is
// worthwhile.
func (o *OAuthClientCredentials) Invalidate() bool {
	o.mu.Lock()
	o.token, o.expiry = "", time.Time{}
	o.mu.Unlock()
	return true
}

// Fetches returns how many token requests were sent.
func (o *OAuthClientCredentials) Fetches() int64 { return o.fetches.Load() }

// String keeps the secret and the token out of %v and %s.
func (o *OAuthClientCredentials) String() string {
	return fmt.Sprintf("OAuthClientCredentials{TokenURL:%s ClientID:%s ClientSecret:%s}", o.TokenURL, o.ClientID, Redacted)
}

// GoString keeps the secret and the token out of %#v.
func (o *OAuthClientCredentials) GoString() string { return o.String() }

// LogValue keeps the secret and the token out of slog records.
func (o *OAuthClientCredentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tokenUrl", o.TokenURL), slog.String("clientId", o.ClientID))
}

// BasicWithClientID is HTTP Basic authentication plus a "clientId" header,
// the scheme of ConnectWise PSA (Username is "company+publicKey", Password
// the private key, ClientID the registered integration GUID). The
// credentials are static, so Invalidate returns false and a 401 is final.
type BasicWithClientID struct {
	Username string
	Password string
	ClientID string
}

// Apply implements Auth.
func (b BasicWithClientID) Apply(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(b.Username+":"+b.Password)))
	if b.ClientID != "" {
		req.Header.Set("clientId", b.ClientID)
	}
	return nil
}

// Invalidate implements Auth; static credentials cannot be renewed.
func (b BasicWithClientID) Invalidate() bool { return false }

// String keeps the password out of %v and %s.
func (b BasicWithClientID) String() string {
	return fmt.Sprintf("BasicWithClientID{Username:%s Password:%s ClientID:%s}", b.Username, Redacted, b.ClientID)
}

// GoString keeps the password out of %#v.
func (b BasicWithClientID) GoString() string { return b.String() }

// LogValue keeps the password out of slog records.
func (b BasicWithClientID) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", b.Username), slog.String("clientId", b.ClientID))
}

// HeaderAuth sends fixed headers (API key schemes such as Autotask's
// ApiIntegrationCode/UserName/Secret or Tactical RMM's X-API-KEY). Static:
// Invalidate returns false.
type HeaderAuth struct {
	Header http.Header
}

// Apply implements Auth.
func (h HeaderAuth) Apply(_ context.Context, req *http.Request) error {
	for k, vs := range h.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	return nil
}

// Invalidate implements Auth; static credentials cannot be renewed.
func (h HeaderAuth) Invalidate() bool { return false }

// String lists the header names only.
func (h HeaderAuth) String() string {
	names := make([]string, 0, len(h.Header))
	for k := range h.Header {
		names = append(names, k)
	}
	return "HeaderAuth{" + strings.Join(names, ",") + "}"
}

// GoString lists the header names only.
func (h HeaderAuth) GoString() string { return h.String() }

// LogValue lists the header names only.
func (h HeaderAuth) LogValue() slog.Value { return slog.StringValue(h.String()) }
