// Package sandbox is an in-memory ConnectWise PSA (Manage) REST v3.0 server
// for tests and local development. It speaks the wire format the real API
// speaks (vendor-apis.md §4): Basic "company+public:private" authentication
// plus the clientId header (401 with the {code, message} body otherwise),
// conditions / childConditions / customFieldConditions / orderBy / fields,
// page/pageSize paging with Link headers (pageSize up to 1000) and the
// forward-only keyset mode, bare JSON arrays, 201 on create, JSON Patch,
// and the {code, message, errors[]} error body.
//
// Endpoints, all below Options.PathPrefix (default /v4_6_release/apis/3.0):
//
//	GET  /company/companies[/count]            POST /company/companies
//	GET  /company/companies/{id}               PATCH /company/companies/{id}
//	GET  /company/companies/statuses           GET /company/companies/types
//	GET  /company/companies/{id}/sites[/{siteId}]  POST /company/companies/{id}/sites
//	GET  /company/configurations[/count]       POST /company/configurations
//	GET|PUT|PATCH /company/configurations/{id}
//	GET  /company/configurations/types         GET /company/configurations/statuses
//	GET  /procurement/manufacturers
//	GET  /service/tickets[/count]              POST /service/tickets
//	GET|PATCH /service/tickets/{id}
//	GET|POST /service/tickets/{id}/notes       GET|POST /service/tickets/{id}/configurations
//	GET  /service/boards                       GET /service/boards/{id}/statuses
//	GET  /service/priorities
//	GET  /system/members                       GET /system/audittrail?type=Ticket&id=N
//	GET  /system/info
//
// Knobs simulate a real service's bad days: Latency per request, a request
// RateLimit per RateWindow answered with 429 and Retry-After, injected 5xx
// answers (FailRate5xx, HTML bodies like a proxy's) and hung requests
// (TimeoutRate), plus FailNext, ThrottleNext and HangNext for deterministic
// tests.
//
// The data is seeded deterministically from Options.Seed (see seed.go):
// companies related to the RMM organization names in Options.Orgs the way
// real data is (exact copies, case/punctuation/legal-suffix variants,
// near-duplicate pairs, unrelated look-alikes, organizations with no
// company), their sites, configurations for Options.Devices, members,
// boards, statuses and priorities. Truth and LookAlikes expose the answer
// key for matching tests.
package sandbox

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BasePath is the REST root below the server's address, as on a
// ConnectWise cloud host (https://api-na.myconnectwise.net/v4_6_release/apis/3.0).
const BasePath = "/v4_6_release/apis/3.0"

// Defaults for Options fields left zero.
const (
	DefaultCompanyID   = "rmmbridge"
	DefaultPublicKey   = "sandbox-public-key"
	DefaultPrivateKey  = "sandbox-private-key"
	DefaultClientID    = "00000000-0000-4000-8000-00000000c0de"
	DefaultAPIMember   = "rmmbridge"
	DefaultPathPrefix  = BasePath
	DefaultPageSize    = 25
	DefaultPageSizeMax = 1000
	DefaultOrgCount    = 12
	DefaultHang        = 30 * time.Second
)

// Device is an RMM device the sandbox seeds configurations for.
type Device struct {
	ID     string // RMM device id (goes into deviceIdentifier)
	Org    string // RMM organization name (one of Options.Orgs)
	Name   string
	Serial string
}

// Options configure a Server.
type Options struct {
	// Seed makes the data deterministic.
	Seed int64
	// Orgs are the RMM organization names the companies relate to; empty
	// generates OrgCount names (see Orgs()).
	Orgs     []string
	OrgCount int
	// OrgSites optionally lists each organization's RMM site names; the
	// related company then gets sites named like some of them.
	OrgSites map[string][]string
	// Devices are RMM devices to seed configurations for (some linked by
	// deviceIdentifier, some by serial only, some duplicated, the rest
	// absent). When empty, DeviceCount unrelated configurations are made.
	Devices     []Device
	DeviceCount int

	// Credentials the server accepts (defaults above) and the API member
	// identifier they belong to.
	CompanyID, PublicKey, PrivateKey, ClientID string
	APIMember                                  string
	// PathPrefix is the REST root (default /v4_6_release/apis/3.0).
	PathPrefix string

	// Latency is added to every request.
	Latency time.Duration
	// RateLimit caps requests per RateWindow (default 1 s); 0 is unlimited.
	// Excess requests get 429 with Retry-After: the rest of the window, in
	// whole seconds — or fractional seconds when RateWindow is shorter
	// than one (a sandbox convenience; ConnectWise sends whole seconds).
	RateLimit  int
	RateWindow time.Duration
	// FailRate5xx answers that share of requests with one of FailStatuses
	// (default 502, 503, 504) and an HTML body; TimeoutRate holds that
	// share of requests until the client gives up (or Hang passes, then
	// 504).
	FailRate5xx  float64
	FailStatuses []int
	TimeoutRate  float64
	Hang         time.Duration
	// PageSizeMax caps pageSize (default 1000).
	PageSizeMax int

	// Now is the clock for records written at run time (nil: time.Now).
	Now func() time.Time
	// Logger receives one line per request (nil discards).
	Logger *slog.Logger
}

// Request is one request the server saw, for tests.
type Request struct {
	Method string
	Path   string // below the prefix
	Query  url.Values
	Status int
	Member string // authenticated member identifier, "" if rejected
}

type apiKey struct {
	private string
	member  string
}

// Server is the sandbox. Create it with New; it is safe for concurrent use.
type Server struct {
	opt Options
	mux *http.ServeMux

	mu       sync.Mutex
	rng      *rand.Rand // failure injection
	keys     map[string]apiKey
	requests []Request

	failNext     []int
	throttleNext []time.Duration
	hangNext     int
	windowStart  time.Time
	windowCount  int

	companies, sites, configs, tickets, notes                    *collection
	companyStatuses, companyTypes, configTypes, configStatuses   *collection
	manufacturers, boards, boardStatuses, boardTypes, priorities *collection
	members, apiMembers                                          *collection
	companyFields, configFields                                  []fieldDef
	ticketConfigs                                                map[int][]int
	audit                                                        map[int][]map[string]any
	truth, lookAlikes, assetTruth                                map[string][]int
	orgs                                                         []string
	seedCounts                                                   Summary

	srv      *http.Server
	ln       net.Listener
	closing  chan struct{}
	once     sync.Once
	closeErr error
}

// New builds a seeded server; call Start to listen, or mount Handler.
func New(opt Options) *Server {
	if opt.CompanyID == "" {
		opt.CompanyID = DefaultCompanyID
	}
	if opt.PublicKey == "" {
		opt.PublicKey = DefaultPublicKey
	}
	if opt.PrivateKey == "" {
		opt.PrivateKey = DefaultPrivateKey
	}
	if opt.ClientID == "" {
		opt.ClientID = DefaultClientID
	}
	if opt.APIMember == "" {
		opt.APIMember = DefaultAPIMember
	}
	if opt.PathPrefix == "" {
		opt.PathPrefix = DefaultPathPrefix
	}
	opt.PathPrefix = "/" + strings.Trim(opt.PathPrefix, "/")
	if opt.RateWindow <= 0 {
		opt.RateWindow = time.Second
	}
	if len(opt.FailStatuses) == 0 {
		opt.FailStatuses = []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
	}
	if opt.Hang <= 0 {
		opt.Hang = DefaultHang
	}
	if opt.PageSizeMax <= 0 || opt.PageSizeMax > DefaultPageSizeMax {
		opt.PageSizeMax = DefaultPageSizeMax
	}
	if opt.OrgCount <= 0 {
		opt.OrgCount = DefaultOrgCount
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opt:     opt,
		rng:     rand.New(rand.NewPCG(uint64(opt.Seed), 0x5eedfa11)),
		keys:    map[string]apiKey{opt.PublicKey: {private: opt.PrivateKey, member: opt.APIMember}},
		closing: make(chan struct{}),
	}
	s.seed()
	s.routes()
	return s
}

// Handler returns the server's HTTP handler (the path prefix included).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on addr ("127.0.0.1:0" picks a port) and returns the
// server's root URL, e.g. http://127.0.0.1:41234; the REST root is that
// plus Options.PathPrefix (BasePath by default), see URL.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// URL returns the REST root a client uses as its base URL (after Start),
// e.g. http://127.0.0.1:41234/v4_6_release/apis/3.0.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String() + s.opt.PathPrefix
}

// Close stops the server; hung requests are released. Calling it again
// returns the first result.
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
			s.closeErr = fmt.Errorf("stop ConnectWise sandbox: %w", err)
		}
	})
	return s.closeErr
}

// Run serves on addr until ctx ends (the CLI's "rmmbridge sandbox
// connectwise --port N").
func Run(ctx context.Context, opt Options, addr string) error {
	s := New(opt)
	if _, err := s.Start(addr); err != nil {
		return err
	}
	s.opt.Logger.InfoContext(ctx, "ConnectWise sandbox listening", "url", s.URL(),
		"companyId", s.opt.CompanyID, "publicKey", s.opt.PublicKey, "clientId", s.opt.ClientID,
		"companies", s.seedCounts.Companies, "configurations", s.seedCounts.Configurations)
	<-ctx.Done()
	return s.Close()
}

// Options returns the effective options (defaults filled in).
func (s *Server) Options() Options { return s.opt }

// AddAPIKey lets another member call the API, e.g. a technician adding a
// note in a "touched by a human" test. member is a member identifier.
func (s *Server) AddAPIKey(member, publicKey, privateKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[publicKey] = apiKey{private: privateKey, member: member}
}

// FailNext answers the next n requests with status (a 5xx) and an HTML
// body, before authentication.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, status)
	}
}

// ThrottleNext answers the next n requests with 429 and the given
// Retry-After.
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
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// statusWriter records the status a handler wrote.
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

type ctxKey struct{}

// memberOf returns the authenticated member of a request.
func memberOf(r *http.Request) string {
	m, _ := r.Context().Value(ctxKey{}).(string)
	return m
}

// fault is what the injection knobs decided for one request.
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
		return fault{status: s.opt.FailStatuses[s.rng.IntN(len(s.opt.FailStatuses))]}
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

// formatRetryAfter writes whole seconds as an integer, anything else as
// fractional seconds.
func formatRetryAfter(d time.Duration) string {
	if d <= 0 {
		d = time.Millisecond
	}
	if d%time.Second == 0 {
		return strconv.Itoa(int(d / time.Second))
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	rec := Request{Method: r.Method, Query: r.URL.Query()}
	defer func() {
		rec.Status = sw.status
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		s.opt.Logger.Debug("ConnectWise sandbox request", "method", rec.Method, "path", rec.Path, "status", rec.Status, "member", rec.Member)
	}()
	path, ok := strings.CutPrefix(r.URL.Path, s.opt.PathPrefix)
	rec.Path = path
	if !ok || (path != "" && path[0] != '/') {
		writeError(sw, http.StatusNotFound, "NotFound", "No resource at this path", nil)
		return
	}
	if s.opt.Latency > 0 && !s.wait(r.Context(), s.opt.Latency) {
		return
	}
	switch f := s.decideFault(s.opt.Now()); {
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
		writeError(sw, http.StatusTooManyRequests, "TooManyRequests", "Request rate limit exceeded; retry later", nil)
		return
	}
	member, msg := s.authenticate(r)
	if member == "" {
		writeError(sw, http.StatusUnauthorized, "Unauthorized", msg, nil)
		return
	}
	rec.Member = member
	r2 := r.Clone(context.WithValue(r.Context(), ctxKey{}, member))
	r2.URL.Path, r2.URL.RawPath = path, ""
	s.mux.ServeHTTP(sw, r2)
}

// wait sleeps d unless the request or the server ends first; it reports
// whether the full time passed.
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

// authenticate checks Basic "company+public:private" and the clientId
// header; it returns the member identifier, or "" and the reason.
func (s *Server) authenticate(r *http.Request) (string, string) {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "Basic authentication with company+publicKey:privateKey is required"
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "The authorization header is not valid Base64"
	}
	user, private, ok := strings.Cut(string(raw), ":")
	company, public, ok2 := strings.Cut(user, "+")
	if !ok || !ok2 {
		return "", "The user name must be company+publicKey"
	}
	s.mu.Lock()
	key, known := s.keys[public]
	s.mu.Unlock()
	if !strings.EqualFold(company, s.opt.CompanyID) || !known || key.private != private {
		return "", "The API keys are not valid for this company"
	}
	switch cid := r.Header.Get("clientId"); {
	case cid == "":
		return "", "A clientId header is required"
	case cid != s.opt.ClientID:
		return "", "The clientId is not registered for this integration"
	}
	return key.member, ""
}

// fieldError is one entry of the error body's errors array.
type fieldError struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Resource string `json:"resource"`
	Field    string `json:"field"`
}

type errorBody struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Errors  []fieldError `json:"errors,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg string, errs []fieldError) {
	writeJSON(w, status, errorBody{Code: code, Message: msg, Errors: errs})
}

// writeHTML answers like a proxy in front of the API.
func writeHTML(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html><head><title>%d %s</title></head><body><h1>%s</h1></body></html>", status, http.StatusText(status), http.StatusText(status))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errInvalid is a validation failure answered with 400 InvalidObject.
type errInvalid struct {
	resource string
	errs     []fieldError
}

func (e *errInvalid) Error() string { return e.resource + " object is invalid" }

func invalid(resource, code, field, msg string) *errInvalid {
	return &errInvalid{resource: resource, errs: []fieldError{{Code: code, Message: msg, Resource: resource, Field: field}}}
}

// writeErr answers an error from a handler helper.
func writeErr(w http.ResponseWriter, err error) {
	var inv *errInvalid
	var nf errNotFound
	var uf errUnknownField
	switch {
	case errors.As(err, &inv):
		writeError(w, http.StatusBadRequest, "InvalidObject", inv.Error(), inv.errs)
	case errors.As(err, &nf):
		writeError(w, http.StatusNotFound, "NotFound", nf.Error(), nil)
	case errors.As(err, &uf):
		writeError(w, http.StatusBadRequest, "InvalidObject", "The request is invalid: "+uf.Error(), nil)
	default:
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error(), nil)
	}
}

type errNotFound struct {
	resource string
	id       string
}

func (e errNotFound) Error() string { return fmt.Sprintf("%s %s was not found", e.resource, e.id) }
