// Package sandbox is an in-memory NinjaOne Public API v2 server for tests,
// benchmarks and the local stack. It speaks NinjaOne's wire format: the
// OAuth client-credentials token endpoint (at /ws/oauth/token and
// /oauth/token), bearer-token checks with scopes (401/403), keyset paging
// (pageSize + after), the device filter df (org = N, org in (..), loc = N,
// class = X, id = N, joined with AND), the endpoints the NinjaOne client
// uses, NinjaOne's error bodies ({resultCode, errorMessage, incidentId};
// OAuth {error}) and epoch-second float timestamps.
//
// It is seeded deterministically (Options.Seed, Orgs, Devices; timestamps
// are relative to Options.Epoch) and has knobs for latency, a request-rate
// limit answered with 429 + Retry-After, and injected failures (5xx and
// hanging requests) at given rates, plus FailNext, ThrottleNext and
// HangNext for deterministic tests. AddOrganization and AddDevice add exact
// records beside the generated ones. It can POST webhook activities
// (EmitWebhook, TriggerCondition, ResetCondition).
//
// It listens on loopback only when started with Start("127.0.0.1:0").
package sandbox

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxkit"
)

// Options configure a Server. Zero values give a small healthy sandbox.
type Options struct {
	// Seed, Orgs and Devices shape the generated data (defaults 1, 10,
	// 100). The same values always give the same organizations, locations
	// and devices.
	Seed    int64
	Orgs    int
	Devices int
	// Epoch anchors generated timestamps (last contact, creation); default
	// the time New is called.
	Epoch time.Time

	// ClientID and ClientSecret are the accepted API client credentials
	// (defaults "sandbox-client-id" / "sandbox-client-secret").
	ClientID     string
	ClientSecret string
	// TokenTTL is the access token lifetime (default 1 h).
	TokenTTL time.Duration

	// Latency is added to every answer.
	Latency time.Duration
	// RateLimit caps requests per second over the whole server (token
	// bucket, burst = max(1, RateLimit)); excess requests get 429 with
	// Retry-After in whole seconds. 0 disables.
	RateLimit float64
	// FailRate5xx is the share of API requests answered 502, 503 or 504.
	FailRate5xx float64
	// TimeoutRate is the share of API requests that hang for TimeoutDelay
	// (default 30 s) or until the client gives up, then answer 504.
	TimeoutRate  float64
	TimeoutDelay time.Duration

	// Logger logs one line per request (nil discards).
	Logger *slog.Logger
	// WebhookClient posts webhooks (default a client with a 10 s timeout).
	WebhookClient *http.Client
}

// RegisterFlags binds o's knobs to command-line flags (--seed, --orgs,
// --devices, --client-id, --client-secret, --latency, --rate-limit,
// --fail-rate, --timeout-rate), for `rmmbridge sandbox ninjaone`.
func RegisterFlags(fs *flag.FlagSet, o *Options) {
	fs.Int64Var(&o.Seed, "seed", 1, "data seed")
	fs.IntVar(&o.Orgs, "orgs", 10, "organizations to generate")
	fs.IntVar(&o.Devices, "devices", 100, "devices to generate")
	fs.StringVar(&o.ClientID, "client-id", "sandbox-client-id", "accepted OAuth client id")
	fs.StringVar(&o.ClientSecret, "client-secret", "sandbox-client-secret", "accepted OAuth client secret")
	fs.DurationVar(&o.Latency, "latency", 0, "added latency per request")
	fs.Float64Var(&o.RateLimit, "rate-limit", 0, "requests per second before 429 (0: unlimited)")
	fs.Float64Var(&o.FailRate5xx, "fail-rate", 0, "share of API requests answered 5xx")
	fs.Float64Var(&o.TimeoutRate, "timeout-rate", 0, "share of API requests that hang")
}

// Server is the sandbox. Its methods are safe for concurrent use.
type Server struct {
	opt Options
	log *slog.Logger

	mu      sync.Mutex
	orgs    []*Organization // by id ascending
	devices []*Device       // by id ascending
	alerts  []*Alert
	tokens  map[string]token
	webhook *WebhookConfig
	nextOrg int
	nextLoc int
	nextAct int64
	rng     *rand.Rand // failures, tokens, new ids
	handler http.Handler

	counts sandboxkit.Counts
	bucket sandboxkit.Bucket
	faults sandboxkit.Faults
	lis    sandboxkit.Listener
}

type token struct {
	expires time.Time
	scopes  map[string]bool
}

// New builds a sandbox from opt and generates its data.
func New(opt Options) *Server {
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	if opt.Orgs == 0 {
		opt.Orgs = 10
	}
	if opt.Devices == 0 {
		opt.Devices = 100
	}
	if opt.Epoch.IsZero() {
		opt.Epoch = time.Now()
	}
	if opt.ClientID == "" {
		opt.ClientID = "sandbox-client-id"
	}
	if opt.ClientSecret == "" {
		opt.ClientSecret = "sandbox-client-secret"
	}
	if opt.TokenTTL <= 0 {
		opt.TokenTTL = time.Hour
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
	w := seed(opt.Seed, opt.Orgs, opt.Devices, opt.Epoch)
	s := &Server{
		opt: opt, log: log,
		orgs: w.orgs, devices: w.devices, alerts: w.alerts,
		tokens:  map[string]token{},
		rng:     rand.New(rand.NewPCG(uint64(opt.Seed), 0x6661696c)),
		nextAct: 1_000_000 + opt.Seed%1000*1000,
	}
	s.nextOrg = len(s.orgs)
	for _, o := range s.orgs {
		for _, l := range o.Locations {
			s.nextLoc = max(s.nextLoc, l.ID)
		}
	}
	s.bucket.SetRate(opt.RateLimit)
	s.handler = s.routes()
	return s
}

// Handler returns the sandbox as an http.Handler (for httptest servers).
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr (use "127.0.0.1:0" for a free loopback port) and
// serves in the background. It returns the base URL.
func (s *Server) Start(addr string) (string, error) {
	return s.lis.Start(addr, s.handler, s.log, "ninjaone sandbox")
}

// Close stops a started server, abandoning hanging requests.
func (s *Server) Close() error { return s.lis.Close() }

// Serve starts on addr, logs the URL and credentials, and blocks until
// ctx ends (for `rmmbridge sandbox ninjaone --port N`).
func (s *Server) Serve(ctx context.Context, addr string) error {
	u, err := s.Start(addr)
	if err != nil {
		return err
	}
	s.log.Info("ninjaone sandbox listening", "url", u, "tokenUrl", u+"/ws/oauth/token", "clientId", s.opt.ClientID,
		"orgs", len(s.orgs), "devices", len(s.devices), "seed", s.opt.Seed)
	<-ctx.Done()
	return s.Close()
}

// Credentials returns the accepted client id and secret.
func (s *Server) Credentials() (clientID, clientSecret string) {
	return s.opt.ClientID, s.opt.ClientSecret
}

// Orgs returns a copy of the organizations with their locations, by id.
func (s *Server) Orgs() []Organization {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Organization, len(s.orgs))
	for i, o := range s.orgs {
		out[i] = copyOrg(o)
	}
	return out
}

// Devices returns a copy of the devices (volumes and last logged-on user
// included), by id.
func (s *Server) Devices() []Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Device, len(s.devices))
	for i, d := range s.devices {
		out[i] = *d
		out[i].Volumes = slices.Clone(d.Volumes)
	}
	return out
}

// Alerts returns a copy of the active alerts.
func (s *Server) Alerts() []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Alert, len(s.alerts))
	for i, a := range s.alerts {
		out[i] = *a
	}
	return out
}

// Requests returns how many requests each route received, keyed by
// "METHOD /path/{template}" (e.g. "GET /v2/device/{id}", "POST
// /ws/oauth/token"); unknown paths count under "unmatched".
func (s *Server) Requests() map[string]int64 { return s.counts.Requests() }

// TotalRequests returns the number of requests received.
func (s *Server) TotalRequests() int64 { return s.counts.TotalRequests() }

// RevokeTokens invalidates every issued access token, so the next API call
// of each client gets 401 (tests of re-authentication).
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// SetFailures changes the injected failure rates at run time.
func (s *Server) SetFailures(rate5xx, timeoutRate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.FailRate5xx, s.opt.TimeoutRate = rate5xx, timeoutRate
}

// SetRateLimit changes the request-rate limit at run time (0 disables).
func (s *Server) SetRateLimit(perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.RateLimit = perSecond
	s.bucket.SetRate(perSecond)
}

// WebhookConfig returns the configuration stored by PUT /v2/webhook, if
// any.
func (s *Server) WebhookConfig() (WebhookConfig, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webhook == nil {
		return WebhookConfig{}, false
	}
	return *s.webhook, true
}

func copyOrg(o *Organization) Organization {
	c := *o
	c.Locations = slices.Clone(o.Locations)
	return c
}

// --- HTTP plumbing -------------------------------------------------------

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with NinjaOne's error body.
func (s *Server) writeError(w http.ResponseWriter, status int, code, msg string) {
	s.mu.Lock()
	id := uuid(s.rng)
	s.mu.Unlock()
	writeJSON(w, status, apiError{ResultCode: code, ErrorMessage: msg, IncidentID: id})
}

// route wraps an endpoint with counting, latency, the rate limit, failure
// injection and (when api) bearer authentication with the given scope.
func (s *Server) route(mux *http.ServeMux, pattern string, scope string, h http.HandlerFunc) {
	api := scope != ""
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.counts.Count(pattern)
		defer func() {
			s.log.Debug("ninjaone sandbox request", "route", pattern, "path", r.URL.Path, "durationMs", time.Since(start).Milliseconds())
		}()
		if !sandboxkit.Sleep(r.Context(), s.opt.Latency) {
			return
		}
		if wait, ok := s.bucket.Take(); !ok {
			w.Header().Set("Retry-After", sandboxkit.RetryAfter(wait))
			s.writeError(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "Rate limit exceeded")
			return
		}
		if api {
			f, queued := s.faults.Next()
			if !queued {
				f.Status = s.injectFailure()
			}
			switch fail := f.Status; fail {
			case sandboxkit.Throttle:
				w.Header().Set("Retry-After", sandboxkit.RetryAfter(f.RetryAfter))
				s.writeError(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "Rate limit exceeded")
				return
			case sandboxkit.Hang:
				if !sandboxkit.Sleep(r.Context(), s.opt.TimeoutDelay) {
					return
				}
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusGatewayTimeout)
				_, _ = w.Write([]byte("<html><body><h1>504 Gateway Time-out</h1></body></html>"))
				return
			case http.StatusBadGateway:
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
				return
			case http.StatusServiceUnavailable:
				s.writeError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "Service temporarily unavailable")
				return
			case http.StatusGatewayTimeout:
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusGatewayTimeout)
				_, _ = w.Write([]byte("<html><body><h1>504 Gateway Time-out</h1></body></html>"))
				return
			case 0:
			default:
				s.writeError(w, fail, "SERVER_ERROR", "Internal server error")
				return
			}
			if !s.authorize(w, r, scope) {
				return
			}
		}
		h(w, r)
	})
}

// FailNext answers the next n API requests with status (502 and 504 with
// an HTML body as a proxy sends, others with NinjaOne's error body).
// Token requests are not affected.
func (s *Server) FailNext(n, status int) { s.faults.FailNext(n, status) }

// ThrottleNext answers the next n API requests with 429 and a
// Retry-After of retryAfter (whole seconds, rounded up).
func (s *Server) ThrottleNext(n int, retryAfter time.Duration) { s.faults.ThrottleNext(n, retryAfter) }

// HangNext holds the next n API requests until the client gives up (or
// TimeoutDelay passes, then 504).
func (s *Server) HangNext(n int) { s.faults.HangNext(n) }

// injectFailure draws the failure, if any, for one API request.
func (s *Server) injectFailure() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sandboxkit.Draw(s.rng, s.opt.TimeoutRate, s.opt.FailRate5xx,
		[]int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusGatewayTimeout})
}

// authorize checks the bearer token and its scope.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, scope string) bool {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "error_description": "Full authentication is required to access this resource"})
		return false
	}
	s.mu.Lock()
	t, ok := s.tokens[strings.TrimSpace(tok)]
	s.mu.Unlock()
	if !ok || time.Now().After(t.expires) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "Access token expired or invalid"})
		return false
	}
	if scope == "monitoring" && (t.scopes["monitoring"] || t.scopes["management"]) || t.scopes[scope] {
		return true
	}
	s.writeError(w, http.StatusForbidden, "FORBIDDEN", "The access token does not grant the '"+scope+"' scope")
	return false
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, "POST /ws/oauth/token", "", s.handleToken)
	s.route(mux, "POST /oauth/token", "", s.handleToken)

	s.route(mux, "GET /v2/organizations", "monitoring", s.handleListOrgs(false))
	s.route(mux, "GET /v2/organizations-detailed", "monitoring", s.handleListOrgs(true))
	s.route(mux, "POST /v2/organizations", "management", s.handleCreateOrg)
	s.route(mux, "GET /v2/organization/{id}", "monitoring", s.handleGetOrg)
	s.route(mux, "GET /v2/organization/{id}/locations", "monitoring", s.handleOrgLocations)
	s.route(mux, "POST /v2/organization/{id}/locations", "management", s.handleCreateLocation)
	s.route(mux, "GET /v2/organization/{id}/devices", "monitoring", s.handleOrgDevices)
	s.route(mux, "GET /v2/locations", "monitoring", s.handleListLocations)
	s.route(mux, "GET /v2/devices", "monitoring", s.handleListDevices(false))
	s.route(mux, "GET /v2/devices-detailed", "monitoring", s.handleListDevices(true))
	s.route(mux, "GET /v2/device/{id}", "monitoring", s.handleGetDevice)
	s.route(mux, "GET /v2/device/{id}/volumes", "monitoring", s.handleVolumes)
	s.route(mux, "GET /v2/device/{id}/last-logged-on-user", "monitoring", s.handleLastUser)
	s.route(mux, "GET /v2/device/{id}/alerts", "monitoring", s.handleDeviceAlerts)
	s.route(mux, "GET /v2/alerts", "monitoring", s.handleAlerts)
	s.route(mux, "GET /v2/queries/volumes", "monitoring", s.handleQuery(reportVolumes))
	s.route(mux, "GET /v2/queries/logged-on-users", "monitoring", s.handleQuery(reportUsers))
	s.route(mux, "GET /v2/queries/computer-systems", "monitoring", s.handleQuery(reportComputers))
	s.route(mux, "PUT /v2/webhook", "management", s.handlePutWebhook)
	s.route(mux, "DELETE /v2/webhook", "management", s.handleDeleteWebhook)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.counts.Count("unmatched")
		s.writeError(w, http.StatusNotFound, "NOT_FOUND", "No resource at "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// --- token endpoint ------------------------------------------------------

var knownScopes = map[string]bool{"monitoring": true, "management": true, "control": true}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthErr(http.StatusBadRequest, "invalid_request", "The request must be form-encoded")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type: "+gt)
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	if id != s.opt.ClientID || secret != s.opt.ClientSecret {
		oauthErr(http.StatusUnauthorized, "invalid_client", "Bad client credentials")
		return
	}
	scopes := map[string]bool{}
	requested := strings.Fields(r.PostForm.Get("scope"))
	if len(requested) == 0 {
		requested = []string{"monitoring"}
	}
	for _, sc := range requested {
		if !knownScopes[sc] {
			// NinjaOne EU rejects offline_access for this grant.
			oauthErr(http.StatusBadRequest, "invalid_scope", "Invalid scope: "+sc)
			return
		}
		scopes[sc] = true
	}
	s.mu.Lock()
	tok := fmt.Sprintf("%x%x", s.rng.Uint64(), s.rng.Uint64())
	s.tokens[tok] = token{expires: time.Now().Add(s.opt.TokenTTL), scopes: scopes}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(s.opt.TokenTTL.Seconds()),
		"scope": strings.Join(requested, " "),
	})
}

// --- paging and filters --------------------------------------------------

// keyset reads pageSize and after; pageSize 0 means no limit.
func (s *Server) keyset(w http.ResponseWriter, r *http.Request) (pageSize, after int, ok bool) {
	q := r.URL.Query()
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.writeError(w, http.StatusBadRequest, "INVALID_PARAMETER", "pageSize must be a positive integer")
			return 0, 0, false
		}
		pageSize = n
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.writeError(w, http.StatusBadRequest, "INVALID_PARAMETER", "after must be an integer id")
			return 0, 0, false
		}
		after = n
	}
	return pageSize, after, true
}

// page applies keyset paging to items sorted by id.
func page[T any](items []T, id func(T) int, pageSize, after int) []T {
	i := sort.Search(len(items), func(i int) bool { return id(items[i]) > after })
	out := items[i:]
	if pageSize > 0 && len(out) > pageSize {
		out = out[:pageSize]
	}
	return out
}

// deviceFilter is a parsed df expression.
type deviceFilter func(d *Device) bool

// parseDeviceFilter understands the df clauses the sandbox supports:
// "org = N", "org in (N,M)", "loc = N", "class = X", "id = N", joined by
// AND (case-insensitive). Anything else is an error.
func parseDeviceFilter(df string) (deviceFilter, error) {
	df = strings.TrimSpace(df)
	if df == "" {
		return func(*Device) bool { return true }, nil
	}
	var clauses []deviceFilter
	for _, part := range splitAnd(df) {
		fields := strings.Fields(part)
		if len(fields) < 3 {
			return nil, fmt.Errorf("cannot parse %q", part)
		}
		key, op, val := strings.ToLower(fields[0]), strings.ToLower(fields[1]), strings.Join(fields[2:], " ")
		var get func(d *Device) string
		switch key {
		case "org", "organization":
			get = func(d *Device) string { return strconv.Itoa(d.OrganizationID) }
		case "loc", "location":
			get = func(d *Device) string { return strconv.Itoa(d.LocationID) }
		case "class":
			get = func(d *Device) string { return d.NodeClass }
		case "id":
			get = func(d *Device) string { return strconv.Itoa(d.ID) }
		default:
			return nil, fmt.Errorf("unknown filter field %q", key)
		}
		switch op {
		case "=", "eq":
			want := val
			clauses = append(clauses, func(d *Device) bool { return strings.EqualFold(get(d), want) })
		case "in":
			inner := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(val), "("), ")")
			set := map[string]bool{}
			for _, v := range strings.Split(inner, ",") {
				set[strings.ToUpper(strings.TrimSpace(v))] = true
			}
			clauses = append(clauses, func(d *Device) bool { return set[strings.ToUpper(get(d))] })
		default:
			return nil, fmt.Errorf("unknown filter operator %q", op)
		}
	}
	return func(d *Device) bool {
		for _, c := range clauses {
			if !c(d) {
				return false
			}
		}
		return true
	}, nil
}

func splitAnd(s string) []string {
	var out []string
	for {
		i := strings.Index(strings.ToUpper(s), " AND ")
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+5:]
	}
}

func pathID(w http.ResponseWriter, r *http.Request, s *Server) (int, bool) {
	n, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || n < 0 || n > math.MaxInt32 {
		s.writeError(w, http.StatusBadRequest, "INVALID_PARAMETER", "id must be an integer")
		return 0, false
	}
	return n, true
}
