package localrun

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/devtools/samtemplate"
)

// segKind orders route path segments from most to least specific.
type segKind int

const (
	segLiteral segKind = iota
	segParam
	segGreedy
)

type segment struct {
	kind segKind
	text string // the literal, or the variable's name
}

// route is one HttpApi event: a route key served by a function.
type route struct {
	key     string // "GET /v1/items/{id}" or "$default"
	method  string // upper case, "ANY", or "" for $default
	segs    []segment
	fn      *function
	auth    *authorizer // nil: no authorizer on this route
	timeout time.Duration
}

// router is the HTTP API: it picks the route for a request, runs the
// authorizer and the function, and maps the response back.
type router struct {
	s      *Stack
	routes []*route
	def    *route
}

func (s *Stack) buildRouter() (*router, error) {
	rt := &router{s: s}
	auths := map[string]*authorizer{} // by API and name: one cache per authorizer
	seen := map[string]bool{}
	for _, tf := range s.tmpl.Functions {
		for _, e := range tf.Events {
			if e.HTTPAPI == nil {
				continue
			}
			ev := e.HTTPAPI
			if ev.PayloadFormatVersion != "2.0" {
				return nil, apperr.New(apperr.Invalid, "%s event %s: payload format %s is not supported locally (only 2.0)", tf.LogicalID, e.Name, ev.PayloadFormatVersion)
			}
			r := &route{key: ev.RouteKey(), method: ev.Method, fn: s.funcs[tf.LogicalID],
				timeout: time.Duration(ev.TimeoutInMillis) * time.Millisecond}
			if seen[r.key] {
				return nil, apperr.New(apperr.Invalid, "route %s is served by two HTTP APIs; the local stack serves them at one address", r.key)
			}
			seen[r.key] = true
			api, _ := s.tmpl.HTTPAPI(ev.APIRef)
			name := api.DefaultAuthorizer
			if ev.Authorizer != "" {
				name = ev.Authorizer
			}
			if ev.AuthNone {
				name = ""
			}
			if name != "" {
				a, err := s.authorizerFor(api, name, auths)
				if err != nil {
					return nil, fmt.Errorf("%s event %s: %w", tf.LogicalID, e.Name, err)
				}
				r.auth = a
			}
			if r.key == "$default" {
				rt.def = r
				continue
			}
			for _, p := range strings.Split(strings.TrimPrefix(ev.Path, "/"), "/") {
				switch {
				case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}"):
					r.segs = append(r.segs, segment{segGreedy, p[1 : len(p)-2]})
				case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
					r.segs = append(r.segs, segment{segParam, p[1 : len(p)-1]})
				default:
					r.segs = append(r.segs, segment{segLiteral, p})
				}
			}
			rt.routes = append(rt.routes, r)
		}
	}
	return rt, nil
}

func (s *Stack) authorizerFor(api *samtemplate.HTTPAPI, name string, auths map[string]*authorizer) (*authorizer, error) {
	key := api.LogicalID + "/" + name
	if a, ok := auths[key]; ok {
		return a, nil
	}
	def, _ := api.Authorizer(name)
	switch {
	case def.JWT:
		return nil, apperr.New(apperr.NotImplemented, "JWT authorizer %s is not supported locally", name)
	case def.FunctionRef == "":
		return nil, apperr.New(apperr.NotImplemented, "authorizer %s: only authorizer functions of this template are supported locally", name)
	case def.PayloadFormatVersion != "2.0":
		return nil, apperr.New(apperr.NotImplemented, "authorizer %s: payload format %q is not supported locally (only 2.0)", name, def.PayloadFormatVersion)
	case !def.SimpleResponses:
		return nil, apperr.New(apperr.NotImplemented, "authorizer %s: only simple responses are supported locally", name)
	}
	a := &authorizer{name: name, fn: s.funcs[def.FunctionRef], headers: def.IdentityHeaders,
		queries: def.IdentityQueryStrings, ttl: time.Duration(def.ReauthorizeEvery) * time.Second,
		cache: map[string]authEntry{}}
	auths[key] = a
	return a, nil
}

// match picks the route for a request: the most specific path (literal
// segments before {param} before {proxy+}, left to right), then a
// specific method before ANY; $default when nothing else matches. It
// returns the decoded path parameters.
func (rt *router) match(method, escapedPath string) (*route, map[string]string) {
	reqSegs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	var best *route
	var bestParams map[string]string
	for _, r := range rt.routes {
		if r.method != method && r.method != "ANY" {
			continue
		}
		params, ok := r.matchPath(reqSegs)
		if !ok {
			continue
		}
		if best == nil || moreSpecific(r, best) {
			best, bestParams = r, params
		}
	}
	if best == nil && rt.def != nil {
		return rt.def, nil
	}
	return best, bestParams
}

func (r *route) matchPath(reqSegs []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, seg := range r.segs {
		if seg.kind == segGreedy {
			if i >= len(reqSegs) {
				return nil, false
			}
			v, err := url.PathUnescape(strings.Join(reqSegs[i:], "/"))
			if err != nil || v == "" {
				return nil, false
			}
			params[seg.text] = v
			return params, true
		}
		if i >= len(reqSegs) {
			return nil, false
		}
		v, err := url.PathUnescape(reqSegs[i])
		if err != nil {
			return nil, false
		}
		switch seg.kind {
		case segLiteral:
			if v != seg.text {
				return nil, false
			}
		case segParam:
			if v == "" {
				return nil, false
			}
			params[seg.text] = v
		}
	}
	if len(reqSegs) != len(r.segs) {
		return nil, false
	}
	if len(params) == 0 {
		params = nil
	}
	return params, true
}

func moreSpecific(a, b *route) bool {
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if a.segs[i].kind != b.segs[i].kind {
			return a.segs[i].kind < b.segs[i].kind
		}
	}
	if len(a.segs) != len(b.segs) {
		return len(a.segs) > len(b.segs)
	}
	return a.method != "ANY" && b.method == "ANY"
}

// ServeHTTP answers one HTTP API request.
func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	apiReqID := newAPIRequestID()
	w.Header().Set("Apigw-Requestid", apiReqID)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxHTTPBody+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > maxHTTPBody {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	rte, params := rt.match(r.Method, r.URL.EscapedPath())
	if rte == nil {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	ev := rt.event(r, rte, params, body, apiReqID)
	if rte.auth != nil {
		lambdaCtx, status := rte.auth.authorize(rt.s, ev)
		if status != 0 {
			writeMessage(w, status, http.StatusText(status))
			return
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaCtx}
	}
	res := invoke(rt.s, rte.fn, rte.timeout, ev, rte.fn.h.HTTP)
	status := 0
	switch res.outcome {
	case outcomeOK:
		if err := writeResponse(w, res.resp); err != nil {
			res.outcome, res.err = outcomeError, err
			status = http.StatusInternalServerError
			writeMessage(w, status, "Internal Server Error")
		} else {
			status = res.resp.StatusCode
		}
	case outcomeAbandoned:
		status = http.StatusServiceUnavailable
		writeMessage(w, status, "Service Unavailable")
	case outcomeTooLarge:
		status = http.StatusRequestEntityTooLarge
		writeMessage(w, status, "Request Entity Too Large")
	default: // error, panic, timeout of the function itself
		status = http.StatusInternalServerError
		writeMessage(w, status, "Internal Server Error")
	}
	logInvocation(rt.s, rte.fn, "http", res, slog.String("route", rte.key), slog.Int("status", status))
}

// event builds the payload 2.0 event API Gateway sends for r.
func (rt *router) event(r *http.Request, rte *route, params map[string]string, body []byte, apiReqID string) events.APIGatewayV2HTTPRequest {
	now := time.Now()
	sourceIP, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		sourceIP = r.RemoteAddr
	}
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	if _, ok := headers["content-length"]; !ok && len(body) > 0 {
		headers["content-length"] = strconv.Itoa(len(body))
	}
	if xff := headers["x-forwarded-for"]; xff != "" {
		headers["x-forwarded-for"] = xff + ", " + sourceIP
	} else {
		headers["x-forwarded-for"] = sourceIP
	}
	headers["x-forwarded-proto"] = "http"
	if _, port, err := net.SplitHostPort(rt.s.listener.Addr().String()); err == nil {
		headers["x-forwarded-port"] = port
	}
	headers["x-amzn-trace-id"] = traceID(now)

	var query map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		query = make(map[string]string, len(q))
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	domain := r.Host
	if h, _, err := net.SplitHostPort(domain); err == nil {
		domain = h
	}
	prefix := domain
	if net.ParseIP(domain) == nil {
		prefix, _, _ = strings.Cut(domain, ".")
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rte.key,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     rte.key,
			AccountID:    accountID,
			Stage:        "$default",
			RequestID:    apiReqID,
			APIID:        apiID,
			DomainName:   domain,
			DomainPrefix: prefix,
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	ev.Body, ev.IsBase64Encoded = encodeBody(r.Header.Get("Content-Type"), body)
	return ev
}

// encodeBody passes text bodies as they are and base64-encodes anything
// else, as API Gateway does.
func encodeBody(contentType string, body []byte) (string, bool) {
	if len(body) == 0 {
		return "", false
	}
	if isText(contentType) {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript", mt == "application/graphql":
		return true
	}
	return false
}

// writeResponse maps a payload 2.0 response onto the HTTP response.
func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) error {
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return fmt.Errorf("invalid statusCode %d in the function's response", resp.StatusCode)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return fmt.Errorf("response body is not valid base64: %w", err)
		}
		body = b
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		if _, single := resp.Headers[k]; single {
			continue
		}
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" {
		h["Content-Type"] = nil // send none rather than a sniffed one
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return nil
}

// writeMessage writes API Gateway's own error shape: {"message": "..."}.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func traceID(now time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s", now.Unix(), hex.EncodeToString(b[:]))
}

// authorizer is an HTTP API Lambda authorizer (payload 2.0, simple
// responses) with its result cache.
type authorizer struct {
	name    string
	fn      *function
	headers []string
	queries []string
	ttl     time.Duration

	mu    sync.Mutex
	cache map[string]authEntry
}

type authEntry struct {
	authorized bool
	context    map[string]any
	expires    time.Time
}

// authorize returns the authorizer's context for the request, or the
// status to answer instead (0 when authorized).
func (a *authorizer) authorize(s *Stack, ev events.APIGatewayV2HTTPRequest) (map[string]any, int) {
	var identity []string
	for _, h := range a.headers {
		v := ev.Headers[strings.ToLower(h)]
		if v == "" {
			// A missing identity source: 401 without calling the function.
			return nil, http.StatusUnauthorized
		}
		identity = append(identity, v)
	}
	for _, q := range a.queries {
		v := ev.QueryStringParameters[q]
		if v == "" {
			return nil, http.StatusUnauthorized
		}
		identity = append(identity, v)
	}
	key := strings.Join(identity, "\x00")
	if a.ttl > 0 {
		a.mu.Lock()
		e, ok := a.cache[key]
		a.mu.Unlock()
		if ok && time.Now().Before(e.expires) {
			return a.decide(e)
		}
	}
	req := events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               "2.0",
		Type:                  "REQUEST",
		RouteArn:              fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", s.region, accountID, apiID, ev.RequestContext.Stage, ev.RequestContext.HTTP.Method, ev.RawPath),
		IdentitySource:        identity,
		RouteKey:              ev.RouteKey,
		RawPath:               ev.RawPath,
		RawQueryString:        ev.RawQueryString,
		Cookies:               ev.Cookies,
		Headers:               ev.Headers,
		QueryStringParameters: ev.QueryStringParameters,
		PathParameters:        ev.PathParameters,
		RequestContext:        ev.RequestContext,
	}
	res := invoke(s, a.fn, authorizerTimeout, req, a.fn.h.Authorizer)
	logInvocation(s, a.fn, "authorizer", res, slog.String("route", ev.RouteKey), slog.String("authorizer", a.name),
		slog.Bool("authorized", res.outcome == outcomeOK && res.resp.IsAuthorized))
	if res.outcome != outcomeOK {
		return nil, http.StatusInternalServerError
	}
	e := authEntry{authorized: res.resp.IsAuthorized, context: res.resp.Context, expires: time.Now().Add(a.ttl)}
	if a.ttl > 0 {
		a.mu.Lock()
		a.cache[key] = e
		a.mu.Unlock()
	}
	return a.decide(e)
}

func (a *authorizer) decide(e authEntry) (map[string]any, int) {
	if !e.authorized {
		// Deployed API Gateway answers 403 {"message":"Forbidden"} when a
		// simple response says isAuthorized: false. Our API contract is 401
		// for a refused key, so the local stack answers 401.
		return nil, http.StatusUnauthorized
	}
	return e.context, 0
}
