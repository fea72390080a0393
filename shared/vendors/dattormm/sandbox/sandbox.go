// Package sandbox is an in-memory Datto RMM API v2 server for tests,
// benchmarks and the local stack. It speaks Datto RMM's wire format:
//
//   - the token endpoint POST /auth/oauth/token: the OAuth password grant
//     (username = API key, password = API secret) with the fixed public
//     client's HTTP Basic authentication (public-client:public); tokens
//     last 100 hours and an expired or unknown token gets 401;
//   - the API under /api/v2: GET /account, GET /account/sites, GET and PUT
//     /site, GET /site/{uid}, GET /site/{uid}/devices, GET /device/{uid},
//     GET /audit/device/{uid}, POST /device/{uid}/udf, GET /alert/{uid},
//     GET /site/{uid}/alerts/open, GET /account/alerts/open,
//     GET /system/request_rate and GET /system/pagination;
//   - page/max paging with pageDetails.nextPageUrl, which (as Datto does,
//     per community clients) keeps only the page parameter: a client must
//     re-add max and its filters (Options.KeepNextPageParams turns that off);
//   - the rate limits: 600 requests per rolling 60 s per account, reads
//     and writes counted separately; past 90 % of a quota each answer is
//     delayed (Options.SlowDelay, 1 s by default, 0 in tests); past 100 %
//     the answer is 429; and a caller that sends another request after a
//     429 while the quota is still spent is blocked: 403 to everything
//     it sends for Options.BlockFor (5 min by default).
//
// Data is seeded deterministically (Options.Seed, Sites, Devices): the
// sites are the NinjaOne sandbox's organizations (same names, from the
// same name table, so PSA sandboxes related to either agree on which
// accounts match) and the devices have the same hardware, serials, disks
// and users, in Datto's shapes. AddSite and AddDevice add exact records.
// Fault knobs (latency, 5xx and hang rates, FailNext, ThrottleNext,
// HangNext) match the other sandboxes. RaiseAlert and ResolveAlert post
// the two webhook bodies an MSP pastes into Datto (see webhook.go).
package sandbox

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxkit"
)

// Public client credentials every Datto token request carries as HTTP
// Basic authentication.
const (
	PublicClientID     = "public-client"
	PublicClientSecret = "public"
)

// Defaults of Options.
const (
	DefaultLimit     = 600
	DefaultWindow    = 60 * time.Second
	DefaultSlowDelay = time.Second
	DefaultBlockFor  = 5 * time.Minute
	DefaultTokenTTL  = 100 * time.Hour
	DefaultPageMax   = 250
	// DefaultPlatform is the platform name the alert poster puts in
	// [platform].
	DefaultPlatform = "merlot"
)

// Options configure a Server. Zero values give a small healthy sandbox
// with Datto's limits.
type Options struct {
	// Seed, Sites and Devices shape the generated data (defaults 1, 10,
	// 100).
	Seed    int64
	Sites   int
	Devices int
	// Epoch anchors generated times (default: when New is called).
	Epoch time.Time

	// APIKey and APISecret are the accepted API user's credentials.
	APIKey    string
	APISecret string
	// TokenTTL is the access token lifetime (default 100 h).
	TokenTTL time.Duration

	// ReadLimit and WriteLimit are the requests per Window each quota
	// allows (default 600 each; negative: unlimited). Window defaults to
	// 60 s.
	ReadLimit, WriteLimit int
	Window                time.Duration
	// SlowDelay is added to answers past 90 % of a quota (default 1 s;
	// negative: none).
	SlowDelay time.Duration
	// BlockFor is how long a caller that keeps calling after a 429 gets
	// 403 (default 5 min).
	BlockFor time.Duration

	// PageMax is the account's page size: the default and the cap of max
	// (default 250).
	PageMax int
	// KeepNextPageParams makes nextPageUrl keep every query parameter
	// (by default it keeps only page, as Datto's does).
	KeepNextPageParams bool
	// EpochMillis renders times as epoch milliseconds instead of ISO
	// strings.
	EpochMillis bool
	// Platform is what the alert poster substitutes for [platform].
	Platform string

	// Latency is added to every answer; FailRate5xx and TimeoutRate are
	// the shares of API requests answered 502/503/504 or left hanging for
	// TimeoutDelay (default 30 s).
	Latency      time.Duration
	FailRate5xx  float64
	TimeoutRate  float64
	TimeoutDelay time.Duration

	// Logger logs one line per request (nil discards).
	Logger *slog.Logger
	// WebhookClient posts alert webhooks (default a 10 s timeout client).
	WebhookClient *http.Client
}

// RegisterFlags binds o's knobs to command-line flags, for
// `rmmbridge sandbox dattormm`.
func RegisterFlags(fs *flag.FlagSet, o *Options) {
	fs.Int64Var(&o.Seed, "seed", 1, "data seed")
	fs.IntVar(&o.Sites, "sites", 10, "sites to generate")
	fs.IntVar(&o.Devices, "devices", 100, "devices to generate")
	fs.StringVar(&o.APIKey, "api-key", "sandbox-api-key", "accepted API key")
	fs.StringVar(&o.APISecret, "api-secret", "sandbox-api-secret", "accepted API secret key")
	fs.DurationVar(&o.Latency, "latency", 0, "added latency per request")
	fs.Float64Var(&o.FailRate5xx, "fail-rate", 0, "share of API requests answered 5xx")
	fs.Float64Var(&o.TimeoutRate, "timeout-rate", 0, "share of API requests that hang")
}

// Server is the sandbox. Its methods are safe for concurrent use.
type Server struct {
	opt Options
	log *slog.Logger

	mu        sync.Mutex
	sites     []*Site
	devices   []*Device
	alerts    []*Alert
	tokens    map[string]time.Time
	reads     []time.Time // request times in the window
	writes    []time.Time
	throttled map[string]bool      // callers answered 429 whose quota is still spent
	blocked   map[string]time.Time // callers blocked until
	blocks    int
	nextID    int64
	rng       *rand.Rand
	handler   http.Handler

	counts sandboxkit.Counts
	faults sandboxkit.Faults
	lis    sandboxkit.Listener
}

// New builds a sandbox from opt and generates its data.
func New(opt Options) *Server {
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	if opt.Sites == 0 {
		opt.Sites = 10
	}
	if opt.Devices == 0 {
		opt.Devices = 100
	}
	if opt.Epoch.IsZero() {
		opt.Epoch = time.Now()
	}
	if opt.APIKey == "" {
		opt.APIKey = "sandbox-api-key"
	}
	if opt.APISecret == "" {
		opt.APISecret = "sandbox-api-secret"
	}
	if opt.TokenTTL <= 0 {
		opt.TokenTTL = DefaultTokenTTL
	}
	if opt.ReadLimit == 0 {
		opt.ReadLimit = DefaultLimit
	}
	if opt.WriteLimit == 0 {
		opt.WriteLimit = DefaultLimit
	}
	if opt.Window <= 0 {
		opt.Window = DefaultWindow
	}
	if opt.SlowDelay == 0 {
		opt.SlowDelay = DefaultSlowDelay
	}
	if opt.BlockFor <= 0 {
		opt.BlockFor = DefaultBlockFor
	}
	if opt.PageMax <= 0 {
		opt.PageMax = DefaultPageMax
	}
	if opt.Platform == "" {
		opt.Platform = DefaultPlatform
	}
	if opt.TimeoutDelay <= 0 {
		opt.TimeoutDelay = 30 * time.Second
	}
	if opt.WebhookClient == nil {
		opt.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := seed(opt.Seed, opt.Sites, opt.Devices, opt.Epoch)
	s := &Server{
		opt: opt, log: log, sites: w.sites, devices: w.devices, alerts: w.alerts,
		tokens:    map[string]time.Time{},
		throttled: map[string]bool{}, blocked: map[string]time.Time{},
		rng:    rand.New(rand.NewPCG(uint64(opt.Seed), 0x646174746f)),
		nextID: 100_000 + opt.Seed%1000*1000,
	}
	s.handler = s.routes()
	return s
}

// Handler returns the sandbox as an http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr ("127.0.0.1:0" for a free loopback port) and
// serves in the background. It returns the platform URL (the API is under
// /api, the token endpoint at /auth/oauth/token).
func (s *Server) Start(addr string) (string, error) {
	return s.lis.Start(addr, s.handler, s.log, "dattormm sandbox")
}

// Close stops a started server, abandoning hanging requests.
func (s *Server) Close() error { return s.lis.Close() }

// Credentials returns the accepted API key and secret.
func (s *Server) Credentials() (apiKey, apiSecret string) { return s.opt.APIKey, s.opt.APISecret }

// Platform returns the platform name of the alert webhooks.
func (s *Server) Platform() string { return s.opt.Platform }

// Requests returns how many requests each route received, keyed by its
// pattern ("GET /api/v2/device/{uid}"); unknown paths count as
// "unmatched".
func (s *Server) Requests() map[string]int64 { return s.counts.Requests() }

// TotalRequests returns the number of requests received.
func (s *Server) TotalRequests() int64 { return s.counts.TotalRequests() }

// Blocks returns how many times a caller was blocked (403) for calling
// on after a 429.
func (s *Server) Blocks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocks
}

// RevokeTokens invalidates every issued token (the next API call of each
// client gets 401), as a token's 100 hours running out does.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// SetLimits changes the quotas at run time and forgets the window's
// counts, blocks and 429s (negative: unlimited).
func (s *Server) SetLimits(read, write int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.ReadLimit, s.opt.WriteLimit = read, write
	s.reads, s.writes = nil, nil
	clear(s.throttled)
	clear(s.blocked)
}

// SetFailures changes the injected failure rates at run time.
func (s *Server) SetFailures(rate5xx, timeoutRate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.FailRate5xx, s.opt.TimeoutRate = rate5xx, timeoutRate
}

// --- HTTP plumbing -------------------------------------------------------

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with the error body Datto's API gateway sends (the
// document defines none; this is the Spring shape the API is built on).
func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	writeJSON(w, status, map[string]any{
		"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "status": status,
		"error": http.StatusText(status), "message": msg, "path": r.URL.Path,
	})
}

// caller identifies a client the way Datto's IP block does: its address.
func caller(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// FailNext answers the next n API requests with status.
func (s *Server) FailNext(n, status int) { s.faults.FailNext(n, status) }

// ThrottleNext answers the next n API requests with 429 and, when
// retryAfter > 0, a Retry-After header (whole seconds, rounded up).
// Datto's own 429s carry none that anyone has documented.
func (s *Server) ThrottleNext(n int, retryAfter time.Duration) { s.faults.ThrottleNext(n, retryAfter) }

// HangNext holds the next n API requests until the client gives up.
func (s *Server) HangNext(n int) { s.faults.HangNext(n) }

// nextFault takes the next queued failure, else draws one at the
// configured rates.
func (s *Server) nextFault() (sandboxkit.Fault, bool) {
	if f, ok := s.faults.Next(); ok {
		return f, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if status := sandboxkit.Draw(s.rng, s.opt.TimeoutRate, s.opt.FailRate5xx, []int{502, 503, 504}); status != 0 {
		return sandboxkit.Fault{Status: status}, true
	}
	return sandboxkit.Fault{}, false
}

// admit applies the rate limits to one request of the caller: it returns
// the status to refuse it with (429 or 403, 0 to serve it) and the delay
// to add. Every request counts in its quota's window, refused ones too.
func (s *Server) admit(who string, write bool) (status int, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if until, ok := s.blocked[who]; ok {
		if now.Before(until) {
			return http.StatusForbidden, 0
		}
		delete(s.blocked, who)
	}
	times, limit := &s.reads, s.opt.ReadLimit
	if write {
		times, limit = &s.writes, s.opt.WriteLimit
	}
	cut := 0
	for cut < len(*times) && now.Sub((*times)[cut]) >= s.opt.Window {
		cut++
	}
	*times = append((*times)[cut:], now)
	if limit < 0 {
		return 0, 0
	}
	n := len(*times)
	if n > limit {
		if s.throttled[who] {
			s.blocked[who] = now.Add(s.opt.BlockFor)
			s.blocks++
			delete(s.throttled, who)
			return http.StatusForbidden, 0
		}
		s.throttled[who] = true
		return http.StatusTooManyRequests, 0
	}
	delete(s.throttled, who)
	if float64(n) > 0.9*float64(limit) && s.opt.SlowDelay > 0 {
		return 0, s.opt.SlowDelay
	}
	return 0, 0
}

// route wraps an API endpoint with counting, latency, limits, failures and
// bearer authentication. Token requests (api false) skip the limits.
func (s *Server) route(mux *http.ServeMux, pattern string, api bool, h http.HandlerFunc) {
	write := !strings.HasPrefix(pattern, "GET ")
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.counts.Count(pattern)
		defer func() {
			s.log.Debug("dattormm sandbox request", "route", pattern, "path", r.URL.Path, "durationMs", time.Since(start).Milliseconds())
		}()
		if !sandboxkit.Sleep(r.Context(), s.opt.Latency) {
			return
		}
		if !api {
			h(w, r)
			return
		}
		status, delay := s.admit(caller(r), write)
		switch status {
		case http.StatusForbidden:
			writeError(w, r, http.StatusForbidden, "Your IP address has been temporarily blocked for exceeding the request rate limit")
			return
		case http.StatusTooManyRequests:
			writeError(w, r, http.StatusTooManyRequests, "Request rate limit exceeded")
			return
		}
		if !sandboxkit.Sleep(r.Context(), delay) {
			return
		}
		if f, ok := s.nextFault(); ok {
			switch f.Status {
			case sandboxkit.Throttle:
				if f.RetryAfter > 0 {
					w.Header().Set("Retry-After", sandboxkit.RetryAfter(f.RetryAfter))
				}
				writeError(w, r, http.StatusTooManyRequests, "Request rate limit exceeded")
				return
			case sandboxkit.Hang:
				if !sandboxkit.Sleep(r.Context(), s.opt.TimeoutDelay) {
					return
				}
				f.Status = http.StatusGatewayTimeout
			}
			if f.Status == http.StatusBadGateway || f.Status == http.StatusGatewayTimeout {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(f.Status)
				fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", f.Status, http.StatusText(f.Status))
				return
			}
			writeError(w, r, f.Status, "Service temporarily unavailable")
			return
		}
		if !s.authorize(w, r) {
			return
		}
		h(w, r)
	})
}

// authorize checks the bearer token.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "error_description": "Full authentication is required to access this resource"})
		return false
	}
	s.mu.Lock()
	exp, ok := s.tokens[strings.TrimSpace(tok)]
	s.mu.Unlock()
	if !ok || time.Now().After(exp) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "Access token expired"})
		return false
	}
	return true
}

// handleToken is the password grant with the public client.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if id, secret, ok := r.BasicAuth(); !ok || id != PublicClientID || secret != PublicClientSecret {
		oauthErr(http.StatusUnauthorized, "unauthorized", "Full authentication is required to access this resource")
		return
	}
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthErr(http.StatusBadRequest, "invalid_request", "The request must be form-encoded")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "password" {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type: "+gt)
		return
	}
	if r.PostForm.Get("username") != s.opt.APIKey || r.PostForm.Get("password") != s.opt.APISecret {
		oauthErr(http.StatusBadRequest, "invalid_grant", "Bad credentials")
		return
	}
	s.mu.Lock()
	tok := fmt.Sprintf("%x%x", s.rng.Uint64(), s.rng.Uint64())
	s.tokens[tok] = time.Now().Add(s.opt.TokenTTL)
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "bearer", "expires_in": int(s.opt.TokenTTL.Seconds()), "scope": "default",
	})
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, "POST /auth/oauth/token", false, s.handleToken)
	s.route(mux, "GET /api/v2/account", true, s.handleAccount)
	s.route(mux, "GET /api/v2/account/sites", true, s.handleListSites)
	s.route(mux, "PUT /api/v2/site", true, s.handleCreateSite)
	s.route(mux, "GET /api/v2/site/{uid}", true, s.handleGetSite)
	s.route(mux, "GET /api/v2/site/{uid}/devices", true, s.handleSiteDevices)
	s.route(mux, "GET /api/v2/site/{uid}/alerts/open", true, s.handleOpenAlerts)
	s.route(mux, "GET /api/v2/account/alerts/open", true, s.handleOpenAlerts)
	s.route(mux, "GET /api/v2/device/{uid}", true, s.handleGetDevice)
	s.route(mux, "GET /api/v2/audit/device/{uid}", true, s.handleAudit)
	s.route(mux, "POST /api/v2/device/{uid}/udf", true, s.handleSetUDF)
	s.route(mux, "GET /api/v2/alert/{uid}", true, s.handleGetAlert)
	s.route(mux, "GET /api/v2/system/request_rate", true, s.handleRequestRate)
	s.route(mux, "GET /api/v2/system/pagination", true, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"max": s.opt.PageMax})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.counts.Count("unmatched")
		writeError(w, r, http.StatusNotFound, "No resource at "+r.Method+" "+r.URL.Path)
	})
	return mux
}
