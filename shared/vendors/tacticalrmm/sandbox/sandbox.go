// Package sandbox is an in-memory Tactical RMM API server for tests,
// benchmarks and the local stack. It speaks Tactical's wire format as its
// Django/DRF source does:
//
//   - X-API-KEY authentication (401 {"detail": ...} without or with a wrong
//     key);
//   - Django routes with trailing slashes: a path without its slash is
//     answered 301 to the slashed path (Django's APPEND_SLASH), an unknown
//     path 404 with Django's HTML page;
//   - GET /clients/ (clients with their nested sites), GET /clients/{id}/,
//     POST /clients/ (a client with its first site), GET /clients/sites/,
//     GET /clients/sites/{id}/, POST /clients/sites/; creates answer a
//     plain JSON string ("Acme was added"), not the record;
//   - GET /agents/ (the table rows), GET /agents/?detail=false (id,
//     hostname, agent_id, client and site names), filters client, site and
//     monitoring_type; GET /agents/{agent_id}/ (the detail with site id,
//     wmi_detail and human-readable disks "232.3G" with percent);
//   - PATCH /alerts/ (the alerts query with its filter body);
//   - the beta API (/beta/v1/agent/, client/, site/: DRF page-number
//     paging, page_size capped at 1,000, {count,next,previous,results})
//     when Options.BetaAPI is set, else 404 as on an install without
//     BETA_API_ENABLED;
//   - errors as Tactical sends them: notify_error's bare JSON string with
//     400, DRF validation bodies {field: [msg]}, {"detail": ...} for 401,
//     403 and 404;
//   - Web Hooks (URL Actions) and alert templates (/core/urlaction/,
//     /alerts/templates/) that post alerts the way Tactical does (see
//     alerts.go).
//
// It is seeded deterministically (Options.Seed, Clients, Agents; client
// names from the NinjaOne sandbox's table so PSA sandboxes relate alike)
// and has the other sandboxes' knobs: latency, a request-rate limit
// answered 429 + Retry-After (a reverse proxy's, Tactical itself throttles
// only logins), injected 5xx and hanging requests at given rates, and
// FailNext, ThrottleNext, HangNext and RejectNext for deterministic tests.
// It listens on loopback only when started with Start("127.0.0.1:0").
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. Zero values give a small healthy sandbox.
type Options struct {
	// Seed, Clients and Agents shape the generated data (defaults 1, 10,
	// 100).
	Seed    int64
	Clients int
	Agents  int
	// Epoch anchors generated times (default: when New is called).
	Epoch time.Time
	// APIKey is the accepted X-API-KEY (default "sandbox-api-key").
	APIKey string
	// BetaAPI serves /beta/v1/ (the install's BETA_API_ENABLED).
	BetaAPI bool

	Latency      time.Duration
	RateLimit    float64
	FailRate5xx  float64
	TimeoutRate  float64
	TimeoutDelay time.Duration

	// Logger logs one line per request (nil discards).
	Logger *slog.Logger
	// WebhookClient posts URL Actions (default: Tactical's 8 s timeout,
	// no retries).
	WebhookClient *http.Client
}

// RegisterFlags binds o's knobs to command-line flags.
func RegisterFlags(fs *flag.FlagSet, o *Options) {
	fs.Int64Var(&o.Seed, "seed", 1, "data seed")
	fs.IntVar(&o.Clients, "clients", 10, "clients to generate")
	fs.IntVar(&o.Agents, "agents", 100, "agents to generate")
	fs.StringVar(&o.APIKey, "api-key", "sandbox-api-key", "accepted X-API-KEY")
	fs.BoolVar(&o.BetaAPI, "beta-api", false, "serve the paged /beta/v1/ API")
	fs.DurationVar(&o.Latency, "latency", 0, "added latency per request")
	fs.Float64Var(&o.RateLimit, "rate-limit", 0, "requests per second before 429 (0: unlimited)")
	fs.Float64Var(&o.FailRate5xx, "fail-rate", 0, "share of API requests answered 5xx")
	fs.Float64Var(&o.TimeoutRate, "timeout-rate", 0, "share of API requests that hang")
}

// Server is the sandbox. Its methods are safe for concurrent use.
type Server struct {
	opt Options
	log *slog.Logger

	mu        sync.Mutex
	clients   []*Client // by id
	sites     []*Site   // by id
	agents    []*Agent  // by pk
	alerts    []*Alert
	actions   []*URLAction
	templates []*AlertTemplate
	// defaultTemplate is the global alert template (Global Settings).
	defaultTemplate int
	posted          []Posted
	counts          map[string]int64
	rng             *rand.Rand
	bucket          float64
	bucketAt        time.Time
	faults          []queuedFault
	handler         http.Handler
	srv             *http.Server
	serveDone       chan struct{}
}

// New builds a sandbox from opt and generates its data.
func New(opt Options) *Server {
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	if opt.Clients == 0 {
		opt.Clients = 10
	}
	if opt.Agents == 0 {
		opt.Agents = 100
	}
	if opt.Epoch.IsZero() {
		opt.Epoch = time.Now()
	}
	if opt.APIKey == "" {
		opt.APIKey = "sandbox-api-key"
	}
	if opt.TimeoutDelay <= 0 {
		opt.TimeoutDelay = 30 * time.Second
	}
	if opt.WebhookClient == nil {
		opt.WebhookClient = &http.Client{Timeout: 8 * time.Second}
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := generate(opt.Seed, opt.Clients, opt.Agents, opt.Epoch)
	s := &Server{opt: opt, log: log, clients: w.clients, sites: w.sites, agents: w.agents, alerts: w.alerts,
		counts: map[string]int64{}, rng: rand.New(rand.NewPCG(uint64(opt.Seed), 0x6661696c))}
	s.bucket = math.Max(1, opt.RateLimit)
	s.handler = s.routes()
	return s
}

// Handler returns the sandbox as an http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr ("127.0.0.1:0" for a free loopback port) and
// serves in the background. It returns the base URL.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("tacticalrmm sandbox stopped", "error", err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// Close stops a started server, abandoning hanging requests.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	<-s.serveDone
	return err
}

// APIKey returns the accepted API key.
func (s *Server) APIKey() string { return s.opt.APIKey }

// TotalRequests returns the number of requests received.
func (s *Server) TotalRequests() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, c := range s.counts {
		n += c
	}
	return n
}

// Requests returns how many requests each route received, keyed by its
// pattern ("GET /agents/{agent_id}/"); "unmatched" and "redirected" count
// the others.
func (s *Server) Requests() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// SetBetaAPI turns the beta API on or off at run time.
func (s *Server) SetBetaAPI(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.BetaAPI = on
}

// --- HTTP plumbing -------------------------------------------------------

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// notifyError answers as Tactical's notify_error: 400 with a bare JSON
// string.
func notifyError(w http.ResponseWriter, msg string) { writeJSON(w, http.StatusBadRequest, msg) }

// validationError answers as DRF's ValidationError: 400 {field: [msg]}.
func validationError(w http.ResponseWriter, field, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string][]string{field: {msg}})
}

// detail answers {"detail": msg} (DRF's 401, 403, 404).
func detail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"detail": msg})
}

func djangoNotFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte("\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n"))
}

// route wraps an endpoint with counting, latency, the rate limit, failure
// injection and the X-API-KEY check.
func (s *Server) route(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.mu.Lock()
		s.counts[pattern]++
		s.mu.Unlock()
		defer func() {
			s.log.Debug("tacticalrmm sandbox request", "route", pattern, "path", r.URL.Path, "durationMs", time.Since(start).Milliseconds())
		}()
		if !sleep(r.Context(), s.opt.Latency) {
			return
		}
		if wait, ok := s.takeToken(); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte("<html><body><h1>429 Too Many Requests</h1></body></html>"))
			return
		}
		f, queued := s.nextFault()
		if !queued {
			f = queuedFault{status: s.injectFailure()}
		}
		if s.answerFault(w, r, f) {
			return
		}
		key := r.Header.Get("X-API-KEY")
		switch {
		case key == "":
			w.Header().Set("WWW-Authenticate", "Token")
			detail(w, http.StatusUnauthorized, "Authentication credentials were not provided.")
			return
		case key != s.opt.APIKey:
			w.Header().Set("WWW-Authenticate", "Token")
			detail(w, http.StatusUnauthorized, "Invalid token.")
			return
		}
		h(w, r)
	})
}

// answerFault answers an injected failure; false when there is none.
func (s *Server) answerFault(w http.ResponseWriter, r *http.Request, f queuedFault) bool {
	html := func(status int, text string) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("<html><body><h1>" + text + "</h1></body></html>"))
	}
	switch f.status {
	case 0:
		return false
	case failThrottle:
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(f.retryAfter.Seconds())))))
		html(http.StatusTooManyRequests, "429 Too Many Requests")
	case failHang:
		t := time.NewTimer(s.opt.TimeoutDelay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return true
		case <-t.C:
		}
		html(http.StatusGatewayTimeout, "504 Gateway Time-out")
	case failBody:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.bodyStatus)
		_, _ = w.Write([]byte(f.body))
	case http.StatusBadGateway:
		html(http.StatusBadGateway, "502 Bad Gateway")
	case http.StatusGatewayTimeout:
		html(http.StatusGatewayTimeout, "504 Gateway Time-out")
	default:
		html(f.status, strconv.Itoa(f.status)+" "+http.StatusText(f.status))
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) takeToken() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rate := s.opt.RateLimit
	if rate <= 0 {
		return 0, true
	}
	now := time.Now()
	burst := math.Max(1, rate)
	if !s.bucketAt.IsZero() {
		s.bucket = math.Min(burst, s.bucket+now.Sub(s.bucketAt).Seconds()*rate)
	}
	s.bucketAt = now
	if s.bucket >= 1 {
		s.bucket--
		return 0, true
	}
	return time.Duration((1 - s.bucket) / rate * float64(time.Second)), false
}

// Injected failures besides HTTP statuses.
const (
	failHang     = -1
	failThrottle = -2
	failBody     = -3
)

type queuedFault struct {
	status     int
	retryAfter time.Duration
	bodyStatus int
	body       string
}

// FailNext answers the next n API requests with status (an HTML body, as
// the reverse proxy in front of Tactical sends).
func (s *Server) FailNext(n, status int) { s.queue(n, queuedFault{status: status}) }

// ThrottleNext answers the next n API requests 429 with a Retry-After of
// retryAfter (whole seconds, rounded up), as a rate-limiting proxy does.
func (s *Server) ThrottleNext(n int, retryAfter time.Duration) {
	s.queue(n, queuedFault{status: failThrottle, retryAfter: retryAfter})
}

// HangNext holds the next n API requests until the client gives up.
func (s *Server) HangNext(n int) { s.queue(n, queuedFault{status: failHang}) }

// RejectNext answers the next n API requests with status and the raw JSON
// body (tests of the error shapes: a bare string, a DRF field body).
func (s *Server) RejectNext(n, status int, body string) {
	s.queue(n, queuedFault{status: failBody, bodyStatus: status, body: body})
}

func (s *Server) queue(n int, f queuedFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

func (s *Server) nextFault() (queuedFault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return queuedFault{}, false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f, true
}

func (s *Server) injectFailure() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opt.FailRate5xx <= 0 && s.opt.TimeoutRate <= 0 {
		return 0
	}
	x := s.rng.Float64()
	switch {
	case x < s.opt.TimeoutRate:
		return failHang
	case x < s.opt.TimeoutRate+s.opt.FailRate5xx:
		return []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}[s.rng.IntN(3)]
	}
	return 0
}

// routes registers Tactical's endpoints. Paths end in "/"; the catch-all
// redirects a slash-less path that would match to its slashed form (301,
// Django's APPEND_SLASH) and answers 404 otherwise.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, "GET /clients/{$}", s.handleListClients)
	s.route(mux, "POST /clients/{$}", s.handleCreateClient)
	s.route(mux, "GET /clients/{id}/{$}", s.handleGetClient)
	s.route(mux, "GET /clients/sites/{$}", s.handleListSites)
	s.route(mux, "POST /clients/sites/{$}", s.handleCreateSite)
	s.route(mux, "GET /clients/sites/{id}/{$}", s.handleGetSite)
	s.route(mux, "GET /agents/{$}", s.handleListAgents)
	s.route(mux, "GET /agents/{agent_id}/{$}", s.handleGetAgent)
	s.route(mux, "PATCH /alerts/{$}", s.handleQueryAlerts)
	s.route(mux, "GET /core/urlaction/{$}", s.handleListURLActions)
	s.route(mux, "POST /core/urlaction/{$}", s.handleCreateURLAction)
	s.route(mux, "GET /alerts/templates/{$}", s.handleListTemplates)
	s.route(mux, "POST /alerts/templates/{$}", s.handleCreateTemplate)
	s.route(mux, "GET /beta/v1/agent/{$}", s.beta(s.handleBetaAgents))
	s.route(mux, "GET /beta/v1/client/{$}", s.beta(s.handleBetaClients))
	s.route(mux, "GET /beta/v1/site/{$}", s.beta(s.handleBetaSites))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.counts["unmatched"]++
		s.mu.Unlock()
		djangoNotFound(w)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/") {
			probe := r.Clone(r.Context())
			probe.URL.Path += "/"
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				s.mu.Lock()
				s.counts["redirected"]++
				s.mu.Unlock()
				u := *r.URL
				u.Path += "/"
				http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// beta serves h only when the beta API is enabled (else Django's 404, the
// routes are not installed).
func (s *Server) beta(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		on := s.opt.BetaAPI
		s.mu.Unlock()
		if !on {
			djangoNotFound(w)
			return
		}
		h(w, r)
	}
}
