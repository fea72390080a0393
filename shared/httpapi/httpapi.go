// Package httpapi turns API Gateway HTTP API (payload 2.0) events into
// calls on rmmbridge handlers and their results back into responses.
//
// Routes are looked up by the event's RouteKey ("GET /v1/connections/{connectionId}"),
// the same key template.yaml declares, so the table here and the template
// can be checked against each other. Errors become application/problem+json
// through one table from apperr kinds to HTTP status codes.
package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/limits"
)

// Authorizer context keys, written by the authorizer function and read here.
// An API key's request carries keyId and keyName, a signed-in user's userId
// and email.
const (
	ContextTenantID = "tenantId"
	ContextRole     = "role"
	ContextKeyID    = "keyId"
	ContextKeyName  = "keyName"
	ContextUserID   = "userId"
	ContextEmail    = "email"
)

// DefaultMaxBody is the request body limit when Options.MaxBody is zero.
const DefaultMaxBody = 1 << 20

// Principal is who is calling, as the authorizer established it. Handlers
// read the tenant from here only, never from the request body or path.
type Principal struct {
	TenantID string
	Role     string
	// KeyID and KeyName are set for an API key, UserID and Email for a
	// signed-in user.
	KeyID   string
	KeyName string
	UserID  string
	Email   string
}

// Actor names the principal in audit events: "user/<id> (<email>)" for a
// user, "key/<id> (<name>)" for an API key.
func (p Principal) Actor() string {
	if p.UserID != "" {
		return "user/" + p.UserID + " (" + p.Email + ")"
	}
	return "key/" + p.KeyID + " (" + p.KeyName + ")"
}

// Request is one decoded HTTP API request.
type Request struct {
	Event     events.APIGatewayV2HTTPRequest
	Principal Principal // zero for public routes
	RequestID string
	maxBody   int
}

// PathParam returns a path parameter ("" when absent).
func (r *Request) PathParam(name string) string { return r.Event.PathParameters[name] }

// Query returns a query string parameter ("" when absent).
func (r *Request) Query(name string) string { return r.Event.QueryStringParameters[name] }

// Header returns a header value; payload 2.0 header names are lowercase.
func (r *Request) Header(name string) string { return r.Event.Headers[strings.ToLower(name)] }

// RawBody returns the body bytes, base64-decoded when API Gateway encoded
// them, enforcing the size limit (413).
func (r *Request) RawBody() ([]byte, error) {
	body := []byte(r.Event.Body)
	if r.Event.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(r.Event.Body)
		if err != nil {
			return nil, apperr.New(apperr.Malformed, "the body is not valid base64")
		}
		body = b
	}
	if len(body) > r.maxBody {
		return nil, apperr.New(apperr.TooLarge, "the body is %d bytes; the limit is %d", len(body), r.maxBody)
	}
	return body, nil
}

// Decode reads a JSON body into v: the content type must be JSON (415),
// the body within the limit (413), well-formed (400), nested at most
// limits.MaxBodyDepth levels (422, naming where) and without unknown fields
// or wrongly typed values (400, naming the field by its full path, e.g.
// settings.zzz).
func (r *Request) Decode(v any) error {
	body, err := r.RawBody()
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.New(apperr.Malformed, "a JSON body is required")
	}
	if ct := r.Header("content-type"); ct != "" {
		mt, _, perr := mime.ParseMediaType(ct)
		if perr != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return apperr.New(apperr.UnsupportedMedia, "content type %q is not JSON; send application/json", limits.Clip(ct))
		}
	}
	// One linear pass over the bytes first: a body nested deeper than the
	// limit is refused before encoding/json's recursive decoder sees it.
	if err := checkDepth(body, limits.MaxBodyDepth); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, body, v)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.Malformed, "the body has data after the JSON value")
	}
	return nil
}

func decodeError(err error, body []byte, v any) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return apperr.Wrap(apperr.Malformed, err, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		field = limits.Clip(field)
		e := apperr.Wrap(apperr.Malformed, err, "%s: must be %s", field, jsonKind(typ.Type.Kind().String()))
		e.Fields = []apperr.FieldError{{Field: field, Message: "must be " + jsonKind(typ.Type.Kind().String())}}
		return e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json names only the key; find where it is.
		field := unknownFieldPath(body, v)
		if field == "" {
			field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		}
		field = limits.Clip(field)
		e := apperr.New(apperr.Malformed, "unknown field %q", field)
		e.Fields = []apperr.FieldError{{Field: field, Message: "unknown field"}}
		return e
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Wrap(apperr.Malformed, err, "the JSON body ends early")
	}
	return apperr.Wrap(apperr.Malformed, err, "the body is not valid JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return "a number"
}

// Page reads the list parameters: limit (default 50, 1..500) and cursor
// (at most limits.MaxCursorLength bytes). A bad value is a 400 naming the
// parameter, as on every list route.
func (r *Request) Page() (limit int, cursor string, err error) {
	limit = 50
	if s := r.Query("limit"); s != "" {
		n, perr := strconv.Atoi(s)
		if perr != nil || n < 1 || n > 500 {
			return 0, "", BadRequest(apperr.FieldError{Field: "limit", Message: "must be a whole number from 1 to 500"})
		}
		limit = n
	}
	cursor = r.Query("cursor")
	if len(cursor) > limits.MaxCursorLength {
		return 0, "", BadRequest(apperr.FieldError{Field: "cursor", Message: "is not a cursor this list returned"})
	}
	return limit, cursor, nil
}

// BadRequest is a 400 naming the fields at fault: bad query parameters or
// path ids.
func BadRequest(fields ...apperr.FieldError) *apperr.Error {
	e := apperr.InvalidFields(fields...)
	e.Kind = apperr.Malformed
	return e
}

// QueryError returns err as the 400 of a bad query parameter when it is an
// Invalid error about the named query parameters only (for instance a
// service refusing an unknown state filter, or a cursor it did not issue),
// and err unchanged otherwise: a list route answers every bad query
// parameter alike, whichever layer noticed it.
func QueryError(err error, params ...string) error {
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid || len(e.Fields) == 0 {
		return err
	}
	for _, f := range e.Fields {
		if !slices.Contains(params, f.Field) {
			return err
		}
	}
	q := *e
	q.Kind = apperr.Malformed
	q.Err = err
	return &q
}

// QueryChecked returns a query string parameter checked with check (for example
// a limits function); a failed check is a 400 naming the parameter.
func (r *Request) QueryChecked(name string, check func(field, s string) *apperr.FieldError) (string, error) {
	v := r.Query(name)
	if v == "" {
		return "", nil
	}
	if fe := check(name, v); fe != nil {
		return "", BadRequest(*fe)
	}
	return v, nil
}

// Response is what a handler returns on success.
type Response struct {
	Status  int
	Body    any // marshalled as JSON; nil means no body
	Headers map[string]string
}

// JSON returns a JSON response.
func JSON(status int, body any) *Response { return &Response{Status: status, Body: body} }

// List is the list envelope every collection route returns.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// HandlerFunc handles one route.
type HandlerFunc func(ctx context.Context, r *Request) (*Response, error)

// Access says who may call a route.
type Access int

// Access levels, lowest first. Roles map onto them: viewer reads, operator
// also changes mappings and runs imports, admin also manages connections,
// integrations and users.
const (
	Public Access = iota // no authorizer context needed (health, webhook)
	Viewer
	Operator
	Admin
)

var roleAccess = map[string]Access{"viewer": Viewer, "operator": Operator, "admin": Admin}

type route struct {
	access Access
	h      HandlerFunc
	params []string // the route key's path parameters, in order
}

// pathParams lists the {name} segments of a route key.
func pathParams(routeKey string) []string {
	var names []string
	for _, seg := range strings.Split(routeKey, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			names = append(names, strings.TrimSuffix(strings.Trim(seg, "{}"), "+"))
		}
	}
	return names
}

// checkPath refuses a request whose path ids are not well-formed ids
// (limits.IDPattern): 400 naming the parameter, before any handler turns
// the id into a key. An id may not carry '#', '/', whitespace, non-ASCII
// or more than limits.MaxIDLength characters, and may not be empty. Public
// routes are left to check their own ids: the RMM webhook, authenticated
// by a secret, answers a malformed integration id as it answers an unknown
// one (401), revealing nothing.
func (rte route) checkPath(ev events.APIGatewayV2HTTPRequest) error {
	var fe []apperr.FieldError
	for _, name := range rte.params {
		if !limits.ValidID(ev.PathParameters[name]) {
			fe = append(fe, apperr.FieldError{Field: name, Message: limits.IDMessage})
		}
	}
	if len(fe) == 0 {
		return nil
	}
	e := BadRequest(fe...)
	e.Message = "malformed id in the path: " + e.Message
	return e
}

// LogKeyAPIRequestID is the log attribute carrying API Gateway's request id
// (the x-request-id a caller quotes). The Lambda logger already writes
// requestId, the invocation's id, on every line.
const LogKeyAPIRequestID = "apiRequestId"

// Router dispatches on RouteKey.
type Router struct {
	routes  map[string]route
	log     *slog.Logger
	maxBody int
}

// Options configure a Router.
type Options struct {
	Logger  *slog.Logger
	MaxBody int // bytes; DefaultMaxBody when zero
}

// NewRouter returns an empty Router.
func NewRouter(o Options) *Router {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBody == 0 {
		o.MaxBody = DefaultMaxBody
	}
	return &Router{routes: map[string]route{}, log: o.Logger, maxBody: o.MaxBody}
}

// Handle registers h for routeKey ("METHOD /path/{param}") with an access
// level. Registering a key twice panics: it is a wiring bug.
func (rt *Router) Handle(routeKey string, access Access, h HandlerFunc) {
	if _, dup := rt.routes[routeKey]; dup {
		panic("httpapi: route registered twice: " + routeKey)
	}
	rt.routes[routeKey] = route{access: access, h: h, params: pathParams(routeKey)}
}

// RouteKeys lists the registered route keys, sorted (for checks against
// template.yaml and openapi.yaml).
func (rt *Router) RouteKeys() []string {
	keys := make([]string, 0, len(rt.routes))
	for k := range rt.routes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Serve is the Lambda handler: it never returns an error for a request it
// could answer, so API Gateway passes our problem+json through.
func (rt *Router) Serve(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	reqID := ev.RequestContext.RequestID
	key := ev.RouteKey
	if key == "" || key == "$default" {
		key = ev.RequestContext.RouteKey
	}
	// apiRequestId, not requestId: the Lambda logger adds requestId (the
	// invocation's id) to every line, and a JSON object must not carry a
	// key twice.
	log := rt.log.With(LogKeyAPIRequestID, reqID, "route", key)
	rte, ok := rt.routes[key]
	if !ok {
		return problem(reqID, apperr.New(apperr.NotFound, "no route %s", key)), nil
	}
	req := &Request{Event: ev, RequestID: reqID, maxBody: rt.maxBody}
	if rte.access > Public {
		p, err := principalOf(ev)
		if err != nil {
			return problem(reqID, err), nil
		}
		if roleAccess[p.Role] < rte.access {
			return problem(reqID, apperr.New(apperr.Forbidden, "role %q may not call %s", p.Role, key)), nil
		}
		req.Principal = p
		log = log.With("tenantId", p.TenantID)
	}
	if rte.access > Public {
		if err := rte.checkPath(ev); err != nil {
			log.InfoContext(ctx, "request refused", "kind", apperr.KindOf(err).String(), "error", err)
			return problem(reqID, err), nil
		}
	}
	resp, err := rte.h(ctx, req)
	if err != nil {
		kind := apperr.KindOf(err)
		if status(kind) >= 500 {
			log.ErrorContext(ctx, "request failed", "kind", kind.String(), "error", err)
		} else {
			log.InfoContext(ctx, "request refused", "kind", kind.String(), "error", err)
		}
		return problem(reqID, err), nil
	}
	return encode(reqID, resp), nil
}

func principalOf(ev events.APIGatewayV2HTTPRequest) (Principal, error) {
	var lam map[string]any
	if a := ev.RequestContext.Authorizer; a != nil {
		lam = a.Lambda
	}
	str := func(k string) string { s, _ := lam[k].(string); return s }
	p := Principal{TenantID: str(ContextTenantID), Role: str(ContextRole), KeyID: str(ContextKeyID), KeyName: str(ContextKeyName),
		UserID: str(ContextUserID), Email: str(ContextEmail)}
	if p.TenantID == "" {
		return Principal{}, apperr.New(apperr.Unauthorized, "no authorized tenant on this request")
	}
	if _, ok := roleAccess[p.Role]; !ok {
		return Principal{}, apperr.New(apperr.Unauthorized, "the credential has no valid role")
	}
	return p, nil
}

func encode(reqID string, r *Response) events.APIGatewayV2HTTPResponse {
	if r == nil {
		r = &Response{Status: http.StatusNoContent}
	}
	headers := map[string]string{"x-request-id": reqID}
	for k, v := range r.Headers {
		headers[k] = v
	}
	out := events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: headers}
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return problem(reqID, fmt.Errorf("encode response: %w", err))
		}
		headers["content-type"] = "application/json"
		out.Body = string(b)
	}
	return out
}

// statusByKind is the one table from error kinds to HTTP statuses.
var statusByKind = map[apperr.Kind]int{
	apperr.Internal:           http.StatusInternalServerError,
	apperr.Invalid:            http.StatusUnprocessableEntity,
	apperr.Malformed:          http.StatusBadRequest,
	apperr.NotFound:           http.StatusNotFound,
	apperr.Conflict:           http.StatusConflict,
	apperr.Unauthorized:       http.StatusUnauthorized,
	apperr.Forbidden:          http.StatusForbidden,
	apperr.TooLarge:           http.StatusRequestEntityTooLarge,
	apperr.UnsupportedMedia:   http.StatusUnsupportedMediaType,
	apperr.Throttled:          http.StatusTooManyRequests,
	apperr.Vendor:             http.StatusBadGateway,
	apperr.NotImplemented:     http.StatusNotImplemented,
	apperr.Unavailable:        http.StatusServiceUnavailable,
	apperr.PreconditionFailed: http.StatusPreconditionFailed,
}

func status(k apperr.Kind) int {
	if s, ok := statusByKind[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Problem is the RFC 9457 problem+json body.
type Problem struct {
	Type         string              `json:"type"`
	Title        string              `json:"title"`
	Status       int                 `json:"status"`
	Detail       string              `json:"detail,omitempty"`
	Errors       []apperr.FieldError `json:"errors,omitempty"`
	RequestID    string              `json:"requestId,omitempty"`
	VendorStatus int                 `json:"vendorStatus,omitempty"`
}

// ProblemFor builds the problem body for err. Internal errors get a generic
// detail: their causes are for logs only.
func ProblemFor(reqID string, err error) Problem {
	kind := apperr.KindOf(err)
	st := status(kind)
	p := Problem{
		Type:      "urn:rmmbridge:problem:" + strings.ReplaceAll(kind.String(), "_", "-"),
		Title:     http.StatusText(st),
		Status:    st,
		RequestID: reqID,
	}
	if e, ok := apperr.As(err); ok && kind != apperr.Internal {
		// Messages may quote a caller's input (a field name, a key): the
		// answer stays small whatever was sent.
		p.Detail = clipText(e.Message, maxDetail)
		for _, f := range limits.Cap(e.Fields) {
			p.Errors = append(p.Errors, apperr.FieldError{Field: limits.Clip(f.Field), Message: clipText(f.Message, maxDetail)})
		}
		p.VendorStatus = e.VendorStatus
	} else {
		p.Detail = "an internal error occurred; quote the request id when reporting it"
	}
	return p
}

// maxDetail bounds a problem's detail and each field message, in bytes.
const maxDetail = 1000

// clipText shortens s to at most max bytes on a character boundary.
func clipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func problem(reqID string, err error) events.APIGatewayV2HTTPResponse {
	p := ProblemFor(reqID, err)
	b, _ := json.Marshal(p)
	h := map[string]string{"content-type": "application/problem+json", "x-request-id": reqID}
	if e, ok := apperr.As(err); ok && e.RetryAfter > 0 {
		h["retry-after"] = strconv.Itoa(int(e.RetryAfter.Seconds() + 0.999))
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: p.Status, Headers: h, Body: string(b)}
}

// NotImplemented is the handler for routes whose feature is not built yet:
// a clear 501, never a silent success.
func NotImplemented(feature string) HandlerFunc {
	return func(context.Context, *Request) (*Response, error) {
		return nil, apperr.New(apperr.NotImplemented, "%s is not implemented yet", feature)
	}
}
