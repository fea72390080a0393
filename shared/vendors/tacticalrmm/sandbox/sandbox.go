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
	"encoding/json"
	"flag"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxkit"
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
	rng             *rand.Rand
	handler         http.Handler

	counts sandboxkit.Counts
	bucket sandboxkit.Bucket
	faults sandboxkit.Faults
	lis    sandboxkit.Listener
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
		rng: rand.New(rand.NewPCG(uint64(opt.Seed), 0x6661696c))}
	s.bucket.SetRate(opt.RateLimit)
	s.handler = s.routes()
	return s
}

// Handler returns the sandbox as an http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr ("127.0.0.1:0" for a free loopback port) and
// serves in the background. It returns the base URL.
func (s *Server) Start(addr string) (string, error) {
	return s.lis.Start(addr, s.handler, s.log, "tacticalrmm sandbox")
}

// Close stops a started server, abandoning hanging requests.
func (s *Server) Close() error { return s.lis.Close() }

// APIKey returns the accepted API key.
func (s *Server) APIKey() string { return s.opt.APIKey }

// TotalRequests returns the number of requests received.
func (s *Server) TotalRequests() int64 { return s.counts.TotalRequests() }

// Requests returns how many requests each route received, keyed by its
// pattern ("GET /agents/{agent_id}/"); "unmatched" and "redirected" count
// the others.
func (s *Server) Requests() map[string]int64 { return s.counts.Requests() }

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
		s.counts.Count(pattern)
		defer func() {
			s.log.Debug("tacticalrmm sandbox request", "route", pattern, "path", r.URL.Path, "durationMs", time.Since(start).Milliseconds())
		}()
		if !sandboxkit.Sleep(r.Context(), s.opt.Latency) {
			return
		}
		if wait, ok := s.bucket.Take(); !ok {
			w.Header().Set("Retry-After", sandboxkit.RetryAfter(wait))
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte("<html><body><h1>429 Too Many Requests</h1></body></html>"))
			return
		}
		f, queued := s.faults.Next()
		if !queued {
			f = sandboxkit.Fault{Status: s.injectFailure()}
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
func (s *Server) answerFault(w http.ResponseWriter, r *http.Request, f sandboxkit.Fault) bool {
	html := func(status int, text string) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("<html><body><h1>" + text + "</h1></body></html>"))
	}
	switch f.Status {
	case 0:
		return false
	case sandboxkit.Throttle:
		w.Header().Set("Retry-After", sandboxkit.RetryAfter(f.RetryAfter))
		html(http.StatusTooManyRequests, "429 Too Many Requests")
	case sandboxkit.Hang:
		if !sandboxkit.Sleep(r.Context(), s.opt.TimeoutDelay) {
			return true
		}
		html(http.StatusGatewayTimeout, "504 Gateway Time-out")
	case sandboxkit.Reject:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.BodyStatus)
		_, _ = w.Write([]byte(f.Body))
	case http.StatusBadGateway:
		html(http.StatusBadGateway, "502 Bad Gateway")
	case http.StatusGatewayTimeout:
		html(http.StatusGatewayTimeout, "504 Gateway Time-out")
	default:
		html(f.Status, strconv.Itoa(f.Status)+" "+http.StatusText(f.Status))
	}
	return true
}

// FailNext answers the next n API requests with status (an HTML body, as
// the reverse proxy in front of Tactical sends).
func (s *Server) FailNext(n, status int) { s.faults.FailNext(n, status) }

// ThrottleNext answers the next n API requests 429 with a Retry-After of
// retryAfter (whole seconds, rounded up), as a rate-limiting proxy does.
func (s *Server) ThrottleNext(n int, retryAfter time.Duration) { s.faults.ThrottleNext(n, retryAfter) }

// HangNext holds the next n API requests until the client gives up.
func (s *Server) HangNext(n int) { s.faults.HangNext(n) }

// RejectNext answers the next n API requests with status and the raw JSON
// body (tests of the error shapes: a bare string, a DRF field body).
func (s *Server) RejectNext(n, status int, body string) {
	s.faults.Queue(n, sandboxkit.Fault{Status: sandboxkit.Reject, BodyStatus: status, Body: body})
}

func (s *Server) injectFailure() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sandboxkit.Draw(s.rng, s.opt.TimeoutRate, s.opt.FailRate5xx,
		[]int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout})
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
		s.counts.Count("unmatched")
		djangoNotFound(w)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/") {
			probe := r.Clone(r.Context())
			probe.URL.Path += "/"
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				s.counts.Count("redirected")
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
