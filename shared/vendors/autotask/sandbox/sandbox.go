// Package sandbox is an in-memory Autotask PSA REST v1.0 server for tests
// and local development. It speaks the wire format of vendor-apis.md §5:
//
//   - zone lookup GET /ATServicesRest/V1.0/ZoneInformation?user=… (no
//     credentials; the answer's url is this server's REST root);
//   - the three authentication headers ApiIntegrationCode, UserName and
//     Secret; an unknown user name is answered HTTP 500 {"errors":["Zone
//     information could not be determined"]}, a wrong integration code 500
//     {"errors":["IntegrationCode is invalid."]}, a wrong secret 401 with
//     errors[] (the real API's code for it is not documented [U]);
//   - POST {Entity}/query (or GET …/query?search=<the same JSON>) with
//     filters eq, noteq, gt, gte, lt, lte, beginsWith, endsWith, contains,
//     exist, notExist, in, notIn, and/or groups and UDF filters ("udf":
//     true), IncludeFields and MaxRecords; pages of at most 500 records
//     with pageDetails.nextPageUrl (a GET …/query?search= URL continuing
//     after the last id); …/query/count → {queryCount};
//   - GET {Entity}/{id} → {item} (404 with errors[] when missing); POST
//     {Entity} and PATCH {Entity} → {itemId}; child creates POST
//     Companies/{id}/Locations and Tickets/{id}/Notes (and their GET lists);
//   - {Entity}/entityInformation/fields (required, read-only, picklists) and
//     …/userDefinedFields;
//   - GET ThresholdInformation, and the limits themselves: a rolling
//     window (Options.ThresholdWindow, default one hour) of at most
//     Options.Threshold requests (default 10,000) per database, with
//     Options.ThresholdLatency added to every request past half of it and
//     HTTP 429 with errors[] past all of it; at most Options.ThreadLimit
//     (default 3) concurrent requests per entity endpoint per integration
//     code, the next refused with 429 (zone lookups are exempt).
//
// Validation failures are HTTP 500 with errors[], as Autotask answers
// business-rule refusals [P].
//
// The data is seeded deterministically (seed.go): companies related to the
// RMM organization names exactly as the ConnectWise sandbox relates them
// (the same relationship table: exact, variants, near-duplicates,
// look-alikes, none; Truth and LookAlikes give the answer key), their
// locations, configuration items for the RMM devices, and resources
// (technicians: active, inactive, one without email, two sharing an
// address, and the API users). Fault knobs as in the other sandboxes:
// Latency, RateLimit per second, FailRate5xx, TimeoutRate, and FailNext,
// ThrottleNext, HangNext.
package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// BasePath is the REST root below the server's address, as on
// https://webservicesN.autotask.net/ATServicesRest.
const BasePath = "/ATServicesRest"

// Defaults for Options fields left zero.
const (
	DefaultUsername        = "rmmbridge-api@msp.example"
	DefaultSecret          = "sandbox-secret"
	DefaultIntegrationCode = "SANDBOXINTEGRATIONCODE"
	DefaultThreshold       = 10000
	DefaultThresholdWindow = time.Hour
	DefaultThreadLimit     = 3
	DefaultOrgCount        = 12
	DefaultHang            = 30 * time.Second
	// PageSize is Autotask's page size (vendor-apis.md §5.3).
	PageSize = 500
	// ZoneName is the zone the sandbox reports.
	ZoneName = "Sandbox Zone"
)

// Device is an RMM device the sandbox seeds configuration items for.
type Device struct {
	ID     string // RMM device id (goes into the DeviceRefUDF)
	Org    string // RMM organization name (one of Options.Orgs)
	Name   string
	Serial string
}

// Options configure a Server.
type Options struct {
	// Seed makes the data deterministic.
	Seed int64
	// Orgs are the RMM organization names the companies relate to; empty
	// generates OrgCount names.
	Orgs     []string
	OrgCount int
	// OrgSites optionally lists each organization's RMM site names.
	OrgSites map[string][]string
	// Devices are RMM devices to seed configuration items for; when empty,
	// DeviceCount unrelated ones are made.
	Devices     []Device
	DeviceCount int

	// The API user's credentials (defaults above).
	Username, Secret, IntegrationCode string

	// Threshold is the requests allowed per ThresholdWindow per database
	// (default 10,000 per hour); ThresholdLatency is added to each request
	// past half of it (default none); ThreadLimit caps concurrent requests
	// per entity endpoint per integration code (default 3).
	Threshold        int
	ThresholdWindow  time.Duration
	ThresholdLatency time.Duration
	ThreadLimit      int

	// Require makes more fields required, as a tenant's settings do
	// ("Tickets.issueType").
	Require []string
	// ReadOnly makes fields read-only, as a tenant whose RMM integration
	// owns the CI audit fields does
	// ("ConfigurationItems.rmmDeviceAuditOperatingSystem").
	ReadOnly []string

	// Latency is added to every request.
	Latency time.Duration
	// RateLimit caps requests per second (answered 429 with Retry-After);
	// 0 is unlimited.
	RateLimit int
	// FailRate5xx answers that share of requests 502/503/504 with an HTML
	// body; TimeoutRate holds that share until the client gives up (or
	// Hang passes).
	FailRate5xx float64
	TimeoutRate float64
	Hang        time.Duration

	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger receives one line per request (nil discards).
	Logger *slog.Logger
}

// Request is one request the server saw, for tests.
type Request struct {
	Method string
	// Path is below /ATServicesRest, e.g. /V1.0/Companies/query.
	Path   string
	Query  url.Values
	Body   []byte
	Header http.Header
	Status int
	// Resource is the authenticated resource id (0 if none).
	Resource int
	// Start is when the request arrived, End when its answer was
	// written: the benchmark's ground truth for request rates and
	// latencies.
	Start, End time.Time
}

// apiUser is a resource that may call the API.
type apiUser struct {
	secret   string
	resource int
}

// Server is the sandbox. Create it with New; it is safe for concurrent use.
type Server struct {
	opt Options

	mu       sync.Mutex
	rng      *rand.Rand
	users    map[string]apiUser // by lower-case user name
	codes    map[string]bool
	requests []Request

	failNext     []int
	throttleNext []time.Duration
	hangNext     int
	rateStart    time.Time
	rateCount    int

	window   []time.Time // counted requests in the threshold window
	inflight map[string]int
	maxSeen  map[string]int

	ents                          map[string]*entity
	truth, lookAlikes, assetTruth map[string][]int
	orgs                          []string
	seedCounts                    Summary
	apiResource                   int

	srv      *http.Server
	ln       net.Listener
	closing  chan struct{}
	once     sync.Once
	closeErr error
}

// New builds a seeded server; call Start to listen, or mount Handler.
func New(opt Options) *Server {
	if opt.Username == "" {
		opt.Username = DefaultUsername
	}
	if opt.Secret == "" {
		opt.Secret = DefaultSecret
	}
	if opt.IntegrationCode == "" {
		opt.IntegrationCode = DefaultIntegrationCode
	}
	if opt.Threshold <= 0 {
		opt.Threshold = DefaultThreshold
	}
	if opt.ThresholdWindow <= 0 {
		opt.ThresholdWindow = DefaultThresholdWindow
	}
	if opt.ThreadLimit <= 0 {
		opt.ThreadLimit = DefaultThreadLimit
	}
	if opt.Hang <= 0 {
		opt.Hang = DefaultHang
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
		opt: opt, rng: rand.New(rand.NewPCG(uint64(opt.Seed), 0xa7a5c)),
		users: map[string]apiUser{}, codes: map[string]bool{opt.IntegrationCode: true},
		inflight: map[string]int{}, maxSeen: map[string]int{}, closing: make(chan struct{}),
	}
	s.seed()
	return s
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on addr ("127.0.0.1:0" picks a port) and returns the
// server's root URL; the REST root is that plus BasePath (see URL).
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

// URL returns the REST root (after Start), e.g.
// http://127.0.0.1:41234/ATServicesRest: both the zone lookup root and the
// zone's url.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String() + BasePath
}

// Close stops the server; hung requests are released.
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
			s.closeErr = fmt.Errorf("stop Autotask sandbox: %w", err)
		}
	})
	return s.closeErr
}

// Options returns the effective options (defaults filled in).
func (s *Server) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opt
}

// APIResourceID is the resource id of the default API user.
func (s *Server) APIResourceID() int { return s.apiResource }

// AddAPIUser lets resource call the API as username with secret (a
// technician's own API user, for "touched by a human" tests).
func (s *Server) AddAPIUser(resource int, username, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[strings.ToLower(username)] = apiUser{secret: secret, resource: resource}
}

// FailNext answers the next n requests with status and an HTML body,
// before authentication.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, status)
	}
}

// ThrottleNext answers the next n requests 429 with the given Retry-After.
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

// Requests returns the requests served, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ThresholdCount is the number of requests in the current threshold
// window.
func (s *Server) ThresholdCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneWindow(s.opt.Now())
	return len(s.window)
}

// SetThreshold changes the requests allowed per threshold window (the
// database's externalRequestThreshold), as Autotask does for a database
// whose limit was raised; n <= 0 restores DefaultThreshold.
func (s *Server) SetThreshold(n int) {
	if n <= 0 {
		n = DefaultThreshold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.Threshold = n
}

// UseRequests counts n requests against the threshold, as other
// integrations of the same database would.
func (s *Server) UseRequests(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opt.Now()
	for range n {
		s.window = append(s.window, now)
	}
}

// MaxConcurrent is the most requests seen in flight at once on an entity
// endpoint (e.g. "Companies"), refused ones excluded.
func (s *Server) MaxConcurrent(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.maxSeen {
		if strings.EqualFold(k[strings.Index(k, "|")+1:], endpoint) && v > n {
			n = v
		}
	}
	return n
}

func (s *Server) pruneWindow(now time.Time) {
	cut := 0
	for cut < len(s.window) && now.Sub(s.window[cut]) >= s.opt.ThresholdWindow {
		cut++
	}
	s.window = s.window[cut:]
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
		return fault{status: []int{502, 503, 504}[s.rng.IntN(3)]}
	}
	if s.opt.RateLimit > 0 {
		if now.Sub(s.rateStart) >= time.Second {
			s.rateStart, s.rateCount = now, 0
		}
		s.rateCount++
		if s.rateCount > s.opt.RateLimit {
			return fault{throttled: true, retryAfter: time.Second}
		}
	}
	return fault{}
}

// errorsBody is Autotask's error body.
type errorsBody struct {
	Errors []string `json:"errors"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErrors(w http.ResponseWriter, status int, msgs ...string) {
	writeJSON(w, status, errorsBody{Errors: msgs})
}

func writeHTML(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", status, http.StatusText(status))
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

// wait sleeps d unless the request or the server ends first.
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
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	rec := Request{Method: r.Method, Query: r.URL.Query(), Body: body, Header: r.Header.Clone(), Start: s.opt.Now()}
	defer func() {
		rec.Status, rec.End = sw.status, s.opt.Now()
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		s.opt.Logger.Debug("Autotask sandbox request", "method", rec.Method, "path", rec.Path, "status", rec.Status)
	}()
	p := r.URL.Path
	if len(p) < len(BasePath) || !strings.EqualFold(p[:len(BasePath)], BasePath) {
		writeErrors(sw, http.StatusNotFound, "No resource at this path")
		return
	}
	p = p[len(BasePath):]
	rec.Path = p
	segs := strings.Split(strings.Trim(p, "/"), "/")
	if len(segs) < 2 || !strings.EqualFold(segs[0], "v1.0") {
		writeErrors(sw, http.StatusNotFound, "No resource at this path")
		return
	}
	segs = segs[1:]
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
		sw.Header().Set("Retry-After", retryAfter(f.retryAfter))
		writeErrors(sw, http.StatusTooManyRequests, "Rate limit exceeded; retry later")
		return
	}
	if strings.EqualFold(segs[0], "ZoneInformation") && r.Method == http.MethodGet {
		s.zone(sw, r)
		return
	}
	res, status, msg := s.authenticate(r)
	if res == 0 {
		writeErrors(sw, status, msg)
		return
	}
	rec.Resource = res
	endpoint := endpointOf(segs)
	code := r.Header.Get("ApiIntegrationCode")
	release, status, msg, delay := s.admit(code, endpoint)
	if release == nil {
		if status == http.StatusTooManyRequests {
			sw.Header().Set("Retry-After", retryAfter(delay))
		}
		writeErrors(sw, status, msg)
		return
	}
	defer release()
	if delay > 0 && !s.wait(r.Context(), delay) {
		return
	}
	s.route(sw, r, segs, body, res)
}

// endpointOf names the entity endpoint a path addresses, for the thread
// limit: the child entity for child paths (Companies/1/Locations →
// CompanyLocations).
func endpointOf(segs []string) string {
	if len(segs) >= 3 {
		switch strings.ToLower(segs[0] + "/" + segs[2]) {
		case "companies/locations":
			return "CompanyLocations"
		case "tickets/notes":
			return "TicketNotes"
		}
	}
	return segs[0]
}

// authenticate checks the three headers; it returns the resource id, or
// 0 with the status and message Autotask answers.
func (s *Server) authenticate(r *http.Request) (int, int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[strings.ToLower(strings.TrimSpace(r.Header.Get("UserName")))]
	if !ok {
		return 0, http.StatusInternalServerError, "Zone information could not be determined"
	}
	if !s.codes[r.Header.Get("ApiIntegrationCode")] {
		return 0, http.StatusInternalServerError, "IntegrationCode is invalid."
	}
	if r.Header.Get("Secret") != u.secret {
		return 0, http.StatusUnauthorized, "Authentication failed: the user name or secret is not valid."
	}
	return u.resource, 0, ""
}

// admit applies the database threshold and the thread limit; it returns a
// release function, or nil with the refusal's status, message and wait.
// The returned delay is the latency to add (past half the threshold).
func (s *Server) admit(code, endpoint string) (func(), int, string, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opt.Now()
	s.pruneWindow(now)
	if len(s.window) >= s.opt.Threshold {
		wait := s.opt.ThresholdWindow - now.Sub(s.window[0])
		return nil, http.StatusTooManyRequests, fmt.Sprintf(
			"The request was rejected: this database has reached its threshold of %d requests per %d minutes; retry later",
			s.opt.Threshold, int(s.opt.ThresholdWindow.Minutes())), wait
	}
	key := code + "|" + strings.ToLower(endpoint)
	if s.inflight[key] >= s.opt.ThreadLimit {
		return nil, http.StatusTooManyRequests, fmt.Sprintf(
			"The request was rejected: %d requests are in progress on the %s endpoint for this integration (thread limit)", s.inflight[key], endpoint), time.Second
	}
	s.window = append(s.window, now)
	s.inflight[key]++
	if s.inflight[key] > s.maxSeen[key] {
		s.maxSeen[key] = s.inflight[key]
	}
	var delay time.Duration
	if 2*len(s.window) > s.opt.Threshold {
		delay = s.opt.ThresholdLatency
		if 4*len(s.window) > 3*s.opt.Threshold {
			delay *= 2
		}
	}
	return func() {
		s.mu.Lock()
		s.inflight[key]--
		s.mu.Unlock()
	}, 0, "", delay
}

// zone answers the zone lookup: this server for every known user.
func (s *Server) zone(w http.ResponseWriter, r *http.Request) {
	user := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("user")))
	s.mu.Lock()
	_, ok := s.users[user]
	s.mu.Unlock()
	if user == "" || !ok {
		writeErrors(w, http.StatusInternalServerError, "Zone information could not be determined")
		return
	}
	root := "http://" + r.Host + BasePath + "/"
	writeJSON(w, http.StatusOK, map[string]any{"zoneName": ZoneName, "url": root, "webUrl": "http://" + r.Host + "/", "ci": 0})
}
