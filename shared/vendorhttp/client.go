// Package vendorhttp is the one HTTP client every RMM and PSA vendor client
// uses. It sends JSON requests to one vendor base URL and takes care of:
//
//   - authentication through an Auth hook (OAuth2 client credentials with a
//     token cache, Basic + clientId header, fixed headers), re-authenticating
//     once when the vendor answers 401;
//   - deadlines from the context, plus a per-attempt timeout;
//   - retries of 429, 502, 503, 504 and connection errors with capped
//     full-jitter exponential backoff that honours Retry-After, giving up at
//     once with an apperr Throttled error carrying RetryAfter when the wait
//     would not fit in the time the context has left (an SQS consumer then
//     hands the message back with that visibility delay instead of sleeping);
//   - mapping vendor answers to apperr kinds with a safe message taken from
//     the vendor's own JSON error fields, never raw reply text (NotFound,
//     Unauthorized, Invalid, Conflict, Throttled, Vendor with VendorStatus,
//     Unavailable);
//   - no redirects: every request carries credentials, so a 3xx answer is
//     never followed (not even to the same host); it is an Invalid error
//     naming only the host it pointed at, and the same holds for OAuth
//     token requests. A connection the address guard refuses (netguard,
//     which providers installs in the transport) is a final Invalid error;
//   - a request budget (Options.Limiter, shared/ratelimit): every attempt,
//     retries and OAuth token requests included, first acquires a permit
//     for its endpoint in the lane its context carries, and reports its
//     outcome (a throttle answer cools the whole budget down);
//   - counting requests (Requests, and an OnRequest hook for metrics);
//   - redaction: no credential reaches an error message or a log line.
//
// Paging helpers cover the vendors' styles: NextLink reads an RFC 8288 Link
// header (ConnectWise), CollectKeyset loops keyset pages (NinjaOne).
package vendorhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/metrics"
	"github.com/rmmbridge/rmmbridge/shared/netguard"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxAttempts    = 4
	DefaultBackoffBase    = 200 * time.Millisecond
	DefaultBackoffCap     = 5 * time.Second
	DefaultMaxRetryAfter  = 20 * time.Second
	DefaultDeadlineMargin = 2 * time.Second
	DefaultAttemptTimeout = 30 * time.Second
	DefaultMaxBodyBytes   = 32 << 20
)

var defaultHTTPClient = &http.Client{}

// noRedirects returns a copy of hc that never follows a redirect: the 3xx
// answer itself comes back. Every vendor call carries credentials (an
// Authorization header, or the client secret in a token request's body),
// and a redirect, even to the same host, would send them again to a URL
// the vendor's answer chose; a base URL that redirects is a configuration
// error the caller is told about (see redirectError).
func noRedirects(hc *http.Client) *http.Client {
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// redirectError is the error for a 3xx answer: Invalid (the base URL or
// token URL is wrong; retrying cannot help), naming only the host the
// vendor pointed at, never its path or query (which may carry a token)
// nor the answer's body.
func redirectError(what string, status int, header http.Header, reqURL *url.URL) *apperr.Error {
	target := "another location"
	if loc := header.Get("Location"); loc != "" {
		if u, err := reqURL.Parse(loc); err == nil && u.Host != "" {
			target = clipTo(sanitize(u.Host), 100)
			if u.Host == reqURL.Host && u.Scheme == reqURL.Scheme {
				target += " (the same host)"
			}
		}
	}
	return &apperr.Error{Kind: apperr.Invalid, VendorStatus: status, Message: fmt.Sprintf(
		"%s redirected to %s (HTTP %d); rmmbridge does not follow redirects with credentials: use the vendor's API URL", what, target, status)}
}

// refusedError is the error for a connection netguard refused: Invalid,
// since only another base URL can fix it.
func refusedError(what string, err error) *apperr.Error {
	var re *netguard.RefusedError
	errors.As(err, &re)
	return &apperr.Error{Kind: apperr.Invalid, Message: fmt.Sprintf("%s cannot be reached: %s", what, re.Error()), Err: scrubURLError(err)}
}

// ErrorDecoder turns a vendor's error answer into a message that is safe to
// show a client (no secrets, no stack traces). It returns "" when the body
// holds nothing useful; the Client then uses a generic message. The result
// is redacted and clipped again by the Client.
type ErrorDecoder func(status int, body []byte) string

// Attempt describes one HTTP attempt, for the OnRequest hook.
type Attempt struct {
	Method string
	// Path is the request path without the query.
	Path string
	// Route is Request.Route (a path template such as
	// "GET /v2/device/{id}") when the caller set it.
	Route   string
	Attempt int
	Status  int // 0 when no answer arrived
	// Header is the answer's header (nil when none arrived), e.g. for a
	// client that calibrates its budget from rate-limit headers.
	Header   http.Header
	Duration time.Duration
	Err      error // transport error, if any
}

// Limiter is a request budget (a *ratelimit.Limiter): Acquire waits for
// permission to send one request to endpoint, in the lane ctx carries, and
// returns the function that reports the request's outcome; it fails with
// an apperr.Throttled error (RetryAfter set) when the wait would be too
// long for the lane or the context.
type Limiter interface {
	Acquire(ctx context.Context, endpoint string) (release func(ratelimit.Outcome), err error)
}

// DefaultEndpoint is the endpoint of requests whose client names none:
// the connection's concurrency is then counted as one.
const DefaultEndpoint = "all"

// EndpointAfter returns an Options.Endpoint that names a request's
// endpoint by the path segment that follows skip segments of the path
// below the base URL, e.g. EndpointAfter(1) gives "Tickets" for
// "/v1.0/Tickets/12/Notes" (Autotask's thread limit is per entity).
func EndpointAfter(skip int) func(basePath string, r Request) string {
	return func(basePath string, r Request) string {
		p := r.Path
		if u, err := url.Parse(p); err == nil && u.IsAbs() {
			p = strings.TrimPrefix(u.Path, basePath)
		}
		parts := strings.FieldsFunc(p, func(c rune) bool { return c == '/' })
		if skip < len(parts) {
			return parts[skip]
		}
		return DefaultEndpoint
	}
}

// Options configure a Client. BaseURL is required; everything else has a
// default.
type Options struct {
	// Name is the vendor's name, used in messages and logs ("NinjaOne").
	Name string
	// BaseURL is prefixed to every relative Request.Path.
	BaseURL string
	// Auth authenticates requests; nil sends none.
	Auth Auth
	// HTTPClient sends requests; nil uses a default client (no global
	// timeout: deadlines come from the context and AttemptTimeout, and no
	// address guard: deployed code passes providers' guarded client). Its
	// CheckRedirect is replaced: redirects are never followed.
	HTTPClient *http.Client
	// Header is sent with every request (e.g. a versioned Accept).
	Header http.Header
	// UserAgent defaults to "rmmbridge".
	UserAgent string

	// MaxAttempts bounds attempts per request, re-authentication excluded
	// (default 4).
	MaxAttempts int
	// BackoffBase and BackoffCap shape the full-jitter backoff: before
	// retry n the client sleeps a uniform random duration in
	// [0, min(BackoffCap, BackoffBase·2^(n-1))) (defaults 200 ms and 5 s).
	BackoffBase time.Duration
	BackoffCap  time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for itself
	// (default 20 s). Longer waits, or waits that would not end before the
	// context deadline minus DeadlineMargin (default 2 s), return a
	// Throttled error with RetryAfter set instead.
	MaxRetryAfter  time.Duration
	DeadlineMargin time.Duration
	// AttemptTimeout bounds one attempt (default 30 s); an attempt that
	// times out is retried like a connection error.
	AttemptTimeout time.Duration
	// MaxBodyBytes bounds a response body (default 32 MiB).
	MaxBodyBytes int64

	// ErrorDecoder extracts the vendor's message from error bodies; nil
	// uses DecodeErrorMessage.
	ErrorDecoder ErrorDecoder
	// Logger receives debug lines per attempt and warnings per retry;
	// nil discards. Records carry no credential.
	Logger *slog.Logger
	// OnRequest, when set, is called after every attempt.
	OnRequest func(Attempt)

	// Limiter, when set, is the request budget every attempt draws from
	// (token requests of an OAuthClientCredentials Auth without a Limiter
	// of its own too, as endpoint "token").
	Limiter Limiter
	// Endpoint names a request's endpoint for the budget's concurrency
	// limit when Request.Endpoint is empty (basePath is the base URL's
	// path); nil names every request DefaultEndpoint.
	Endpoint func(basePath string, r Request) string
	// Throttled says whether an answer other than 429 means "slow down"
	// (Autotask's threshold errors come as 500 with an errors[] message):
	// it is then handled as a 429 (retried after Retry-After or a backoff,
	// a Throttled error when retries are spent, and a cool-down of the
	// budget).
	Throttled func(status int, header http.Header, body []byte) bool
	// Sleep waits between attempts; nil waits on a timer (returning early
	// with the context's error). Tests inject it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter draws the backoff in [0, max); nil draws uniformly.
	Jitter func(max time.Duration) time.Duration
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

// Client sends requests to one vendor. It is safe for concurrent use.
type Client struct {
	opt      Options
	base     *url.URL
	requests atomic.Int64
}

// New returns a Client for opt. It fails only if BaseURL is not an absolute
// http(s) URL.
func New(opt Options) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(opt.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, apperr.New(apperr.Invalid, "the base URL must be an absolute http(s) URL")
	}
	if opt.Name == "" {
		opt.Name = "vendor"
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = defaultHTTPClient
	}
	opt.HTTPClient = noRedirects(opt.HTTPClient)
	if opt.UserAgent == "" {
		opt.UserAgent = "rmmbridge"
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = DefaultMaxAttempts
	}
	if opt.BackoffBase <= 0 {
		opt.BackoffBase = DefaultBackoffBase
	}
	if opt.BackoffCap <= 0 {
		opt.BackoffCap = DefaultBackoffCap
	}
	if opt.MaxRetryAfter <= 0 {
		opt.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if opt.DeadlineMargin <= 0 {
		opt.DeadlineMargin = DefaultDeadlineMargin
	}
	if opt.AttemptTimeout <= 0 {
		opt.AttemptTimeout = DefaultAttemptTimeout
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opt.ErrorDecoder == nil {
		opt.ErrorDecoder = DecodeErrorMessage
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Sleep == nil {
		opt.Sleep = sleepCtx
	}
	if opt.Jitter == nil {
		opt.Jitter = func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return rand.N(max)
		}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if o, ok := opt.Auth.(*OAuthClientCredentials); ok && o.Limiter == nil && opt.Limiter != nil {
		o.Limiter = opt.Limiter
	}
	return &Client{opt: opt, base: base}, nil
}

// Name returns the vendor name the client was built with.
func (c *Client) Name() string { return c.opt.Name }

// BaseURL returns the base URL requests are resolved against.
func (c *Client) BaseURL() string { return c.base.String() }

// Requests returns how many HTTP attempts the client has sent (retries and
// re-authentication repeats included; token requests are counted by the
// Auth, see OAuthClientCredentials.Fetches).
func (c *Client) Requests() int64 { return c.requests.Load() }

// Request is one vendor call.
type Request struct {
	Method string
	// Path is joined to the base URL ("/v2/devices"). An absolute URL (a
	// next link) is accepted only on the base URL's scheme and host, so
	// credentials never go elsewhere.
	Path string
	// Query is added to the URL's query.
	Query url.Values
	// Body, when not nil, is sent as JSON (json.RawMessage as is).
	Body any
	// Header adds or overrides headers for this request.
	Header http.Header
	// Route names the endpoint for metrics ("GET /v2/device/{id}").
	Route string
	// Endpoint names the endpoint for the budget's concurrency limit
	// (Options.Endpoint derives it when empty).
	Endpoint string
	// Idempotent marks a POST or PATCH as safe to repeat after an
	// ambiguous failure (e.g. a query sent as POST). GET, HEAD, PUT, DELETE
	// and OPTIONS always are.
	Idempotent bool
}

// Response is the final answer to a request.
type Response struct {
	Status int
	Header http.Header
	// Body is the raw response body.
	Body []byte

	throttled bool // a 429, or what Options.Throttled says is one
}

// isThrottled says whether an answer means "slow down".
func (c *Client) isThrottled(status int, header http.Header, body []byte) bool {
	return status == http.StatusTooManyRequests || (c.opt.Throttled != nil && c.opt.Throttled(status, header, body))
}

// endpoint names r's endpoint for the budget.
func (c *Client) endpoint(r Request) string {
	if r.Endpoint != "" {
		return r.Endpoint
	}
	if c.opt.Endpoint != nil {
		if e := c.opt.Endpoint(c.base.Path, r); e != "" {
			return e
		}
	}
	return DefaultEndpoint
}

func (r Request) idempotent() bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions, "":
		return true
	}
	return r.Idempotent
}

// resolve builds the request URL.
func (c *Client) resolve(r Request) (*url.URL, error) {
	var u *url.URL
	if strings.HasPrefix(r.Path, "http://") || strings.HasPrefix(r.Path, "https://") {
		p, err := url.Parse(r.Path)
		if err != nil {
			return nil, apperr.Wrap(apperr.Vendor, err, "%s returned an unusable link", c.opt.Name)
		}
		if p.Scheme != c.base.Scheme || p.Host != c.base.Host {
			return nil, apperr.New(apperr.Vendor, "%s returned a link to another host; not followed", c.opt.Name)
		}
		u = p
	} else {
		cp := *c.base
		path := r.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		cp.Path = c.base.Path + path
		cp.RawPath = ""
		u = &cp
	}
	if len(r.Query) > 0 {
		q := u.Query()
		for k, vs := range r.Query {
			q[k] = append(q[k], vs...)
		}
		// Spaces as %20 rather than "+": every server decodes %20, not
		// every server decodes "+" in a query (NinjaOne's df=org = 1).
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	}
	return u, nil
}

// Do sends r and, on a 2xx answer, decodes the JSON body into out (unless
// out is nil or the body is empty). Every error is an *apperr.Error:
//
//	404 → NotFound; 401 (after one re-authentication) and 403 → Unauthorized;
//	400, 422 → Invalid; 409 → Conflict; 429 → Throttled (RetryAfter set);
//	3xx (never followed) and addresses netguard refuses → Invalid;
//	other answers, and 502/503/504 once retries are spent → Vendor;
//	connection errors and timeouts → Unavailable.
//
// Vendor answers set VendorStatus, and the message carries the vendor's own
// (redacted) reason. The Response is returned whenever an answer arrived.
func (c *Client) Do(ctx context.Context, r Request, out any) (*Response, error) {
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	u, err := c.resolve(r)
	if err != nil {
		return nil, err
	}
	var body []byte
	if r.Body != nil {
		if raw, ok := r.Body.(json.RawMessage); ok {
			body = raw
		} else if body, err = json.Marshal(r.Body); err != nil {
			return nil, apperr.Wrap(apperr.Internal, err, "encode %s request body", c.opt.Name)
		}
	}
	reauthed := false
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, r, u, body, attempt)
		if err != nil {
			// Auth failures and context ends are final; transport errors may
			// be retried.
			var te *transportError
			if !errors.As(err, &te) {
				// An Auth that could not reach its token endpoint, or got a
				// 5xx from it, may succeed on a later attempt.
				if ae, ok := apperr.As(err); ok && (ae.Kind == apperr.Unavailable || (ae.Kind == apperr.Vendor && ae.VendorStatus >= 500)) && attempt < c.opt.MaxAttempts && ctx.Err() == nil {
					if werr := c.wait(ctx, attempt, 0, false, ae); werr != nil {
						return nil, werr
					}
					continue
				}
				return nil, err
			}
			if ctx.Err() != nil {
				return nil, apperr.Wrap(apperr.Unavailable, te.err, "%s did not answer in time", c.opt.Name)
			}
			if (r.idempotent() || te.notSent) && attempt < c.opt.MaxAttempts {
				c.opt.Logger.WarnContext(ctx, "vendor request failed; retrying", "vendor", c.opt.Name, "method", r.Method, "path", u.Path, "attempt", attempt, "error", te.err.Error())
				if werr := c.wait(ctx, attempt, 0, false, apperr.Wrap(apperr.Unavailable, te.err, "%s could not be reached", c.opt.Name)); werr != nil {
					return nil, werr
				}
				continue
			}
			return nil, apperr.Wrap(apperr.Unavailable, te.err, "%s could not be reached", c.opt.Name)
		}
		status := resp.Status
		switch {
		case status >= 200 && status < 300:
			if out != nil && len(bytes.TrimSpace(resp.Body)) > 0 {
				if err := json.Unmarshal(resp.Body, out); err != nil {
					return resp, &apperr.Error{Kind: apperr.Vendor, Message: fmt.Sprintf("%s answered with a body that is not the expected JSON", c.opt.Name), VendorStatus: status, Err: err}
				}
			}
			return resp, nil
		case status >= 300 && status < 400 && status != http.StatusNotModified:
			return resp, redirectError(c.opt.Name, status, resp.Header, u)
		case status == http.StatusUnauthorized && !reauthed && c.opt.Auth != nil && c.opt.Auth.Invalidate():
			reauthed = true
			attempt-- // re-authentication does not use up an attempt
			c.opt.Logger.InfoContext(ctx, "vendor answered 401; re-authenticating once", "vendor", c.opt.Name, "path", u.Path)
			continue
		case resp.throttled || status == http.StatusServiceUnavailable ||
			((status == http.StatusBadGateway || status == http.StatusGatewayTimeout) && r.idempotent()):
			ra, hasRA := ParseRetryAfter(resp.Header, c.opt.Now())
			final := c.statusError(status, resp.Body, ra)
			if resp.throttled && final.Kind != apperr.Throttled {
				final.Kind, final.RetryAfter = apperr.Throttled, max(ra, c.opt.BackoffCap)
				if hasRA {
					final.RetryAfter = ra
				}
			}
			if attempt >= c.opt.MaxAttempts {
				return resp, final
			}
			c.opt.Logger.WarnContext(ctx, "vendor is throttling or failing; retrying", "vendor", c.opt.Name, "method", r.Method, "path", u.Path, "status", status, "attempt", attempt, "retryAfter", ra.String())
			if werr := c.wait(ctx, attempt, ra, hasRA, final); werr != nil {
				return resp, werr
			}
			continue
		default:
			return resp, c.statusError(status, resp.Body, 0)
		}
	}
}

// transportError is an attempt that got no HTTP answer.
type transportError struct {
	err     error
	notSent bool // the connection was refused: the request never left
}

func (e *transportError) Error() string { return e.err.Error() }

// attempt sends one HTTP request and reads the whole answer.
func (c *Client) attempt(ctx context.Context, r Request, u *url.URL, body []byte, n int) (*Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), rd)
	if err != nil {
		return nil, apperr.Wrap(apperr.Internal, err, "build %s request", c.opt.Name)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.opt.UserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range c.opt.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	for k, vs := range r.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if c.opt.Auth != nil {
		if err := c.opt.Auth.Apply(ctx, req); err != nil {
			return nil, err
		}
	}
	// The permit comes after the credentials (a token request draws its
	// own) and right before the request leaves; the attempt's timeout
	// starts once it is granted.
	release := func(ratelimit.Outcome) {}
	if c.opt.Limiter != nil {
		rel, err := c.opt.Limiter.Acquire(ctx, c.endpoint(r))
		if err != nil {
			return nil, err
		}
		release = rel
	}
	actx, cancel := context.WithTimeout(ctx, c.opt.AttemptTimeout)
	defer cancel()
	req = req.WithContext(actx)
	start := c.opt.Now()
	c.requests.Add(1)
	resp, err := c.opt.HTTPClient.Do(req)
	info := Attempt{Method: r.Method, Path: u.Path, Route: r.Route, Attempt: n}
	if err != nil {
		release(ratelimit.Outcome{})
		info.Duration, info.Err = c.opt.Now().Sub(start), scrubURLError(err)
		c.observe(ctx, info)
		if netguard.IsRefused(err) {
			return nil, refusedError(c.opt.Name, err)
		}
		return nil, &transportError{err: scrubURLError(err), notSent: isConnRefused(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.opt.MaxBodyBytes+1))
	info.Status, info.Header, info.Duration = resp.StatusCode, resp.Header, c.opt.Now().Sub(start)
	throttled := err == nil && c.isThrottled(resp.StatusCode, resp.Header, data)
	out := ratelimit.Outcome{Status: resp.StatusCode, Throttled: throttled}
	if throttled {
		if ra, ok := ParseRetryAfter(resp.Header, c.opt.Now()); ok {
			out.RetryAfter = ra
		}
	}
	release(out)
	if err != nil {
		info.Err = err
		c.observe(ctx, info)
		return nil, &transportError{err: err}
	}
	c.observe(ctx, info)
	if int64(len(data)) > c.opt.MaxBodyBytes {
		return nil, apperr.New(apperr.Vendor, "%s answered with a body over %d bytes", c.opt.Name, c.opt.MaxBodyBytes)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data, throttled: throttled}, nil
}

func (c *Client) observe(ctx context.Context, a Attempt) {
	c.opt.Logger.DebugContext(ctx, "vendor request", "vendor", c.opt.Name, "method", a.Method, "path", a.Path, "status", a.Status, "attempt", a.Attempt, "durationMs", a.Duration.Milliseconds())
	metrics.VendorRequest(c.opt.Name, a.Status)
	if c.opt.OnRequest != nil {
		c.opt.OnRequest(a)
	}
}

// wait sleeps before retry number attempt. It honours retryAfter when the
// vendor sent one (hasRA), else draws a full-jitter backoff. When the wait
// would exceed MaxRetryAfter or the context's remaining time, it returns
// final as a Throttled error (if the vendor throttled) or as is.
func (c *Client) wait(ctx context.Context, attempt int, retryAfter time.Duration, hasRA bool, final *apperr.Error) error {
	d := retryAfter
	if !hasRA {
		ceil := c.opt.BackoffBase << (attempt - 1)
		if ceil > c.opt.BackoffCap || ceil <= 0 {
			ceil = c.opt.BackoffCap
		}
		d = c.opt.Jitter(ceil)
	}
	tooLong := hasRA && d > c.opt.MaxRetryAfter
	if dl, ok := ctx.Deadline(); ok && c.opt.Now().Add(d).After(dl.Add(-c.opt.DeadlineMargin)) {
		tooLong = true
	}
	if tooLong {
		if final.Kind == apperr.Throttled || hasRA {
			return &apperr.Error{Kind: apperr.Throttled, Message: fmt.Sprintf("%s asks to retry after %s", c.opt.Name, d.Round(time.Second)), RetryAfter: max(d, time.Second), VendorStatus: final.VendorStatus, Err: final}
		}
		return final
	}
	metrics.VendorWait(c.opt.Name, d)
	if err := c.opt.Sleep(ctx, d); err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "%s did not answer in time", c.opt.Name)
	}
	return nil
}

// statusError classifies a non-2xx answer.
func (c *Client) statusError(status int, body []byte, retryAfter time.Duration) *apperr.Error {
	msg := clip(Redact(strings.TrimSpace(c.opt.ErrorDecoder(status, body))))
	with := func(generic string) string {
		if msg == "" {
			return fmt.Sprintf("%s %s (HTTP %d)", c.opt.Name, generic, status)
		}
		return fmt.Sprintf("%s %s (HTTP %d): %s", c.opt.Name, generic, status, msg)
	}
	e := &apperr.Error{VendorStatus: status}
	switch {
	case status == http.StatusNotFound:
		e.Kind, e.Message = apperr.NotFound, with("has no such record")
	case status == http.StatusUnauthorized:
		e.Kind, e.Message = apperr.Unauthorized, with("rejected the credentials")
	case status == http.StatusForbidden:
		e.Kind, e.Message = apperr.Unauthorized, with("refused access")
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		e.Kind, e.Message = apperr.Invalid, with("refused the request")
	case status == http.StatusConflict:
		e.Kind, e.Message = apperr.Conflict, with("reported a conflict")
	case status == http.StatusTooManyRequests:
		e.Kind, e.Message, e.RetryAfter = apperr.Throttled, with("is rate limiting"), retryAfter
		if e.RetryAfter <= 0 {
			e.RetryAfter = c.opt.BackoffCap
		}
	default:
		e.Kind, e.Message = apperr.Vendor, with("failed")
	}
	return e
}

// maxMessageLen bounds the vendor's part of an error message.
const maxMessageLen = 300

// clip bounds a vendor message's length and removes control characters.
func clip(s string) string { return clipTo(sanitize(s), maxMessageLen) }

// clipTo cuts s to at most maxLen bytes on a rune boundary, marking the cut.
func clipTo(s string, maxLen int) string {
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// sanitize replaces control characters (newlines, escapes) with spaces so a
// vendor's text cannot forge log lines or terminal output.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isConnRefused reports whether err means the request never reached the
// server.
func isConnRefused(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// scrubURLError redacts secrets from the URL a *url.Error carries.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: Redact(ue.URL), Err: ue.Err}
	}
	return err
}
