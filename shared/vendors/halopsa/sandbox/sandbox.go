// Package sandbox is an in-memory HaloPSA server for tests and local
// development. It speaks the wire format of vendor-apis.md §6 (no vendor
// OpenAPI file exists in the handbook; where §6 marks a fact [P] or [U] the
// sandbox does what the doc comment of that handler says, and the client
// is written to fail safely if the real service differs):
//
//   - GET /api/authinfo (no authentication) answers {"auth_url", "tenant_id"}
//     with the authorisation server on the same host (/auth);
//   - POST /auth/token takes the form-encoded client-credentials grant
//     (grant_type, client_id, client_secret, scope) and, when
//     Options.Tenant is set (a Halo-hosted instance), the ?tenant= query
//     parameter; errors are RFC 6749 bodies {error, error_description};
//   - every /api route needs "Authorization: Bearer <token>" (401 otherwise;
//     tokens expire after Options.TokenTTL and can be revoked);
//   - lists take pageinate=true&page_size=N&page_no=P (1-based) and answer
//     {"record_count": N, "<key>": [...]} with the list keys clients, sites,
//     assets, tickets, actions; without pageinate only the first 50 records
//     come back (§6.3 [U]: "a default/limited set");
//   - creates and updates are POST /api/{Entity} with a JSON array; an
//     object with "id" updates it, one without creates; the answer is the
//     saved object when one was posted, else the array;
//   - action ids are numbered per ticket (1, 2, … on every ticket);
//   - errors are opaque text bodies (§6.4 [U]); 429 carries Retry-After;
//     X-RateLimit-Limit / X-RateLimit-Remaining are sent (and the limit
//     enforced) when Options.ReportLimit is set.
//
// Endpoints below /api: Client[/{id}], TopLevel, Site[/{id}], Asset[/{id}],
// AssetType, Tickets[/{id}], Actions, Agent[/me|/{id}], Team, Status,
// TicketType, Priority (the lookups answer bare arrays), FieldInfo/{id} (a
// custom field definition: the two reference fields; 404 for any other).
//
// The data is seeded deterministically: clients relate to the RMM
// organization names exactly as the ConnectWise sandbox's companies do —
// the same relationship table is reused by seeding a ConnectWise sandbox
// with the same options and copying its companies, sites and
// configurations (ids kept), so Truth, LookAlikes and AssetTruth agree
// between the two PSAs and a matching test gets the same outcome on both.
// Agents are seeded with an inactive one, one without an email, two
// sharing an address and an API-only agent (the integration's own).
package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultClientID     = "sandbox-client-id"
	DefaultClientSecret = "sandbox-client-secret"
	DefaultTokenTTL     = time.Hour
	DefaultOrgCount     = 12
	DefaultHang         = 30 * time.Second
	// UnpagedLimit is how many records a list without pageinate=true
	// answers.
	UnpagedLimit = 50
	// MaxPageSize caps page_size.
	MaxPageSize = 1000
	// MaxSummaryLen is the longest ticket summary the sandbox accepts
	// (Halo's limit is not documented, §6 [U]).
	MaxSummaryLen = 255
)

// Device is an RMM device the sandbox seeds assets for.
type Device struct {
	ID, Org, Name, Serial string
}

// Options configure a Server.
type Options struct {
	// Seed makes the data deterministic.
	Seed int64
	// Orgs are the RMM organization names the clients relate to; empty
	// generates OrgCount names.
	Orgs     []string
	OrgCount int
	// Devices are RMM devices to seed assets for (some linked by
	// third_party_id_string, some by serial only, some tied); empty makes
	// DeviceCount unrelated assets.
	Devices     []Device
	DeviceCount int

	// ClientID and ClientSecret are the API application the server
	// accepts (defaults above); it runs as the API-only agent
	// APIAgentID.
	ClientID, ClientSecret string
	// Tenant, when set, makes the server behave as a Halo-hosted instance:
	// the token request must carry ?tenant=<Tenant>.
	Tenant string
	// TokenTTL is the tokens' lifetime (default 1 h).
	TokenTTL time.Duration

	// Latency is added to every request.
	Latency time.Duration
	// RateLimit caps requests per RateWindow (default 1 s); excess ones get
	// 429 with Retry-After. 0 is unlimited.
	RateLimit  int
	RateWindow time.Duration
	// ReportLimit, when set, is the limit the server reports in
	// X-RateLimit-Limit, with X-RateLimit-Remaining counted over
	// ReportWindow (default 5 min), and enforces: a request over it is
	// answered 429 with Retry-After the rest of the window. 0 sends no
	// such headers.
	ReportLimit  int
	ReportWindow time.Duration
	// FailRate5xx answers that share of requests 502/503/504 with an HTML
	// body; TimeoutRate holds that share until the client gives up (or
	// Hang passes, then 504).
	FailRate5xx float64
	TimeoutRate float64
	Hang        time.Duration

	// SlimLists leaves fields, customfields and third_party_id_string out
	// of list records (only a single read has them), as a Halo list with
	// fewer columns than a read might (§6 [U]).
	SlimLists bool

	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger receives one line per request (nil discards).
	Logger *slog.Logger
}

// Request is one request the server saw.
type Request struct {
	Method, Path string
	Query        string
	Status       int
	// Agent is the authenticated agent's id (0: none).
	Agent int
}

// app is an API application: its secret, the agent it runs as and the
// entities it may not read or write (permissions).
type app struct {
	secret string
	agent  int
	deny   map[string]bool
}

type token struct {
	agent  int
	app    string
	expiry time.Time
}

// Server is the sandbox; it is safe for concurrent use.
type Server struct {
	opt Options

	mu       sync.Mutex
	rng      *rand.Rand
	apps     map[string]*app
	tokens   map[string]token
	tokenSeq int
	requests []Request
	fetches  int

	failNext     []int
	throttleNext []time.Duration
	hangNext     int
	windowStart  time.Time
	windowCount  int
	reportStart  time.Time
	reportCount  int

	data store

	srv      *http.Server
	ln       net.Listener
	closing  chan struct{}
	once     sync.Once
	closeErr error
}

// New builds a seeded server; call Start to listen, or mount Handler.
func New(opt Options) *Server {
	if opt.ClientID == "" {
		opt.ClientID = DefaultClientID
	}
	if opt.ClientSecret == "" {
		opt.ClientSecret = DefaultClientSecret
	}
	if opt.TokenTTL <= 0 {
		opt.TokenTTL = DefaultTokenTTL
	}
	if opt.OrgCount <= 0 {
		opt.OrgCount = DefaultOrgCount
	}
	if opt.RateWindow <= 0 {
		opt.RateWindow = time.Second
	}
	if opt.ReportWindow <= 0 {
		opt.ReportWindow = 5 * time.Minute
	}
	if opt.Hang <= 0 {
		opt.Hang = DefaultHang
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opt:     opt,
		rng:     rand.New(rand.NewPCG(uint64(opt.Seed), 0x4a10)),
		tokens:  map[string]token{},
		closing: make(chan struct{}),
	}
	s.seed()
	s.apps = map[string]*app{opt.ClientID: {secret: opt.ClientSecret, agent: APIAgentID, deny: map[string]bool{}}}
	return s
}

// Options returns the effective options.
func (s *Server) Options() Options { return s.opt }

// Handler serves the API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on addr ("127.0.0.1:0" picks a port) and returns the
// server's URL, the instance URL a connection uses as its base URL.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s.URL(), nil
}

// URL returns the instance URL after Start.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close stops the server and releases hung requests.
func (s *Server) Close() error {
	s.once.Do(func() {
		close(s.closing)
		if s.srv == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
			s.closeErr = fmt.Errorf("stop HaloPSA sandbox: %w", err)
		}
	})
	return s.closeErr
}

// AddApp registers another API application running as agent (e.g. a
// technician's, for "touched by a human" tests).
func (s *Server) AddApp(clientID, secret string, agent int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[clientID] = &app{secret: secret, agent: agent, deny: map[string]bool{}}
}

// Deny takes the permission on entity (e.g. "Asset", "Tickets") away from
// the API application clientID: its requests there answer 403.
func (s *Server) Deny(clientID, entity string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.apps[clientID]; ok {
		a.deny[strings.ToLower(entity)] = true
	}
}

// RevokeTokens invalidates every token issued so far (the next API
// request answers 401 until the client fetches a new one).
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]token{}
}

// TokenFetches counts the token requests granted.
func (s *Server) TokenFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// FailNext answers the next n requests with status and an HTML body.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, status)
	}
}

// ThrottleNext answers the next n requests 429 with the Retry-After.
func (s *Server) ThrottleNext(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.throttleNext = append(s.throttleNext, retryAfter)
	}
}

// HangNext holds the next n requests until the client gives up.
func (s *Server) HangNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangNext += n
}

// Requests returns the requests seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

type fault struct {
	status     int
	retryAfter time.Duration
	throttled  bool
	hang       bool
}

func (s *Server) decideFault(now time.Time) fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(s.failNext) > 0:
		st := s.failNext[0]
		s.failNext = s.failNext[1:]
		return fault{status: st}
	case s.hangNext > 0:
		s.hangNext--
		return fault{hang: true}
	case len(s.throttleNext) > 0:
		ra := s.throttleNext[0]
		s.throttleNext = s.throttleNext[1:]
		return fault{throttled: true, retryAfter: ra}
	}
	if s.opt.TimeoutRate > 0 && s.rng.Float64() < s.opt.TimeoutRate {
		return fault{hang: true}
	}
	if s.opt.FailRate5xx > 0 && s.rng.Float64() < s.opt.FailRate5xx {
		return fault{status: []int{502, 503, 504}[s.rng.IntN(3)]}
	}
	if s.opt.RateLimit > 0 {
		if now.Sub(s.windowStart) >= s.opt.RateWindow {
			s.windowStart, s.windowCount = now, 0
		}
		s.windowCount++
		if s.windowCount > s.opt.RateLimit {
			ra := s.windowStart.Add(s.opt.RateWindow).Sub(now)
			if s.opt.RateWindow >= time.Second {
				ra = (ra + time.Second - 1).Truncate(time.Second)
			}
			return fault{throttled: true, retryAfter: ra}
		}
	}
	return fault{}
}

// report counts a request against the reported limit and returns the
// remaining count (ok false when no limit is reported); a request over
// the limit gets the wait until the window ends (over true).
func (s *Server) report(now time.Time) (left int, ok, over bool, wait time.Duration) {
	if s.opt.ReportLimit <= 0 {
		return 0, false, false, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.reportStart) >= s.opt.ReportWindow {
		s.reportStart, s.reportCount = now, 0
	}
	s.reportCount++
	if s.reportCount > s.opt.ReportLimit {
		return 0, true, true, (s.reportStart.Add(s.opt.ReportWindow).Sub(now) + time.Second - 1).Truncate(time.Second)
	}
	return s.opt.ReportLimit - s.reportCount, true, false, 0
}

func formatRetryAfter(d time.Duration) string {
	if d <= 0 {
		d = time.Millisecond
	}
	if d%time.Second == 0 {
		return strconv.Itoa(int(d / time.Second))
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery}
	defer func() {
		rec.Status = sw.status
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		s.opt.Logger.Debug("HaloPSA sandbox request", "method", rec.Method, "path", rec.Path, "status", rec.Status, "agent", rec.Agent)
	}()
	if s.opt.Latency > 0 && !s.wait(r.Context(), s.opt.Latency) {
		return
	}
	now := s.opt.Now()
	switch f := s.decideFault(now); {
	case f.hang:
		if s.wait(r.Context(), s.opt.Hang) {
			writeHTML(sw, http.StatusGatewayTimeout)
		}
		return
	case f.status != 0:
		writeHTML(sw, f.status)
		return
	case f.throttled:
		sw.Header().Set("Retry-After", formatRetryAfter(f.retryAfter))
		if s.opt.ReportLimit > 0 {
			sw.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.opt.ReportLimit))
			sw.Header().Set("X-RateLimit-Remaining", "0")
		}
		writeText(sw, http.StatusTooManyRequests, "Too many requests. Please try again later.")
		return
	}
	switch {
	case r.URL.Path == "/api/authinfo" && r.Method == http.MethodGet:
		s.authInfo(sw, r)
		return
	case r.URL.Path == "/auth/token":
		s.token(sw, r)
		return
	case !strings.HasPrefix(r.URL.Path, "/api/"):
		writeText(sw, http.StatusNotFound, "Not found")
		return
	}
	agent, appID, ok := s.bearer(r, now)
	if !ok {
		sw.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeText(sw, http.StatusUnauthorized, "Authorization has been denied for this request.")
		return
	}
	rec.Agent = agent
	if left, ok, over, wait := s.report(now); ok {
		sw.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.opt.ReportLimit))
		sw.Header().Set("X-RateLimit-Remaining", strconv.Itoa(left))
		if over {
			sw.Header().Set("Retry-After", formatRetryAfter(wait))
			writeText(sw, http.StatusTooManyRequests, "Too many requests. Please try again later.")
			return
		}
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/"), "/"), "/")
	entity := strings.ToLower(parts[0])
	s.mu.Lock()
	denied := s.apps[appID] != nil && s.apps[appID].deny[entity]
	s.mu.Unlock()
	if denied {
		writeText(sw, http.StatusForbidden, "You do not have permission to access this resource: "+parts[0])
		return
	}
	s.route(sw, r, agent, entity, parts[1:])
}

// authInfo answers the discovery document.
func (s *Server) authInfo(w http.ResponseWriter, r *http.Request) {
	base := "http://" + r.Host
	body := map[string]any{"auth_url": base + "/auth", "resource_server": base + "/api"}
	if s.opt.Tenant != "" {
		body["tenant_id"] = s.opt.Tenant
	}
	writeJSON(w, http.StatusOK, body)
}

// token runs the client-credentials grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		oauthErr(http.StatusMethodNotAllowed, "invalid_request", "The token endpoint takes POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "The request body is not a form")
		return
	}
	if s.opt.Tenant != "" && r.URL.Query().Get("tenant") != s.opt.Tenant {
		oauthErr(http.StatusBadRequest, "invalid_request", "Unknown or missing tenant")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "Only client_credentials is supported")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	s.mu.Lock()
	a, ok := s.apps[id]
	s.mu.Unlock()
	if !ok || a.secret != secret {
		oauthErr(http.StatusUnauthorized, "invalid_client", "Invalid client credentials")
		return
	}
	s.mu.Lock()
	s.tokenSeq++
	s.fetches++
	tok := fmt.Sprintf("halo-sandbox-token-%d-%d", s.tokenSeq, s.rng.Int64())
	s.tokens[tok] = token{agent: a.agent, app: id, expiry: s.opt.Now().Add(s.opt.TokenTTL)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(s.opt.TokenTTL / time.Second), "scope": "all"})
}

// bearer authenticates an API request.
func (s *Server) bearer(r *http.Request, now time.Time) (int, string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return 0, "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[strings.TrimSpace(tok)]
	if !ok || now.After(t.expiry) {
		return 0, "", false
	}
	return t.agent, t.app, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeText answers an error as Halo does (§6.4 [U]: opaque text).
func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

func writeHTML(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html><head><title>%d %s</title></head><body><h1>%s</h1></body></html>", status, http.StatusText(status), http.StatusText(status))
}
