// Package autotask is the Autotask PSA client: it implements the shared/psa
// interfaces on the REST API v1.0 (vendor-apis.md §5) through
// shared/vendorhttp.
//
// Connection. The client first finds the API user's zone with
// GET {BaseURL}/V1.0/ZoneInformation?user=… (no secret; exempt from the
// limits) and then sends every request to the zone's url, with the three
// headers ApiIntegrationCode, UserName and Secret. Config.FixedBase skips
// the lookup and uses BaseURL as the zone's REST root. The zone's url is
// checked before any credential is sent to it: same scheme as BaseURL, and
// on *.autotask.net when BaseURL is. Autotask answers bad credentials with
// HTTP 500 and errors[] [P]; the client turns "Zone information could not
// be determined" (an unknown user name), "IntegrationCode is invalid" and
// 401 (a wrong secret) into apperr.Unauthorized errors that say which of
// the three is wrong, and other 500s carrying errors[] (business-rule
// refusals) into apperr.Invalid. Threshold and thread-limit refusals (429,
// or a 500 whose errors[] mention the threshold [U]) are apperr.Throttled.
//
// Metadata. entityInformation/fields and …/userDefinedFields of Companies,
// ConfigurationItems, Tickets and TicketNotes are read on first use and
// cached for Config.LookupTTL (15 min): required fields, read-only fields
// and picklists (company types, CI types, ticket statuses, priorities,
// queues, ticket types, note types). TestConnection reads them and checks
// the connection's defaults against them (CheckSettings), with a 422 naming
// the missing or unknown default.
//
// Where the records live:
//   - accounts are Companies; status is isActive (Active/Inactive), type is
//     companyType; our RMM organization id is in the company UDF named by
//     Config.AccountRefUDF;
//   - locations are CompanyLocations, created under the company;
//   - assets are ConfigurationItems: referenceTitle, serialNumber, our
//     device id in the CI UDF Config.AssetRefUDF, the device type as
//     configurationItemType, and the rmmDeviceAudit* fields (operating
//     system, last user, IP and MAC address, storage bytes) where the
//     tenant's metadata says they are writable. Manufacturer, model (read-
//     only ids in Autotask), last check-in, free bytes and the volume text
//     are stored nowhere;
//   - tickets are Tickets, our alert series id in externalID; notes via
//     Tickets/{id}/Notes; closing sets Config.CompleteStatus.
//
// Listings follow pageDetails.nextPageUrl to the end (500 records a page,
// Config.PageSize), always with an id filter so the continuation is
// stable; cursors handed to callers are "after id N".
//
// Requests per call (after the zone lookup, once per client, and the
// metadata of an entity, once per LookupTTL):
//
//	TestConnection            4–6 GET entityInformation fields/UDFs (+1 to
//	                              resolve the API user's resource)
//	SearchAccounts            1  POST Companies/query
//	GetAccount                1  GET Companies/{id}
//	FindAccountsByExternalRef n  POST Companies/query (UDF filter)
//	AccountsCreatedSince      n  POST Companies/query (createDate gte)
//	CreateAccount             1  POST Companies (the answer is built from
//	                             the body and the itemId)
//	ListLocations             n  POST CompanyLocations/query (+1 GET
//	                             Companies/{id} when none)
//	CreateLocation            1  POST Companies/{id}/Locations
//	GetAsset                  1  GET ConfigurationItems/{id}
//	FindAssetsByExternalRef   n  POST ConfigurationItems/query (UDF filter)
//	FindAssetsBySerial        n  POST ConfigurationItems/query (0 for a
//	                             placeholder serial)
//	ListAccountAssets         1  POST ConfigurationItems/query (one page)
//	CreateAsset               1  POST ConfigurationItems (answer as for
//	                             CreateAccount)
//	UpdateAsset               1  PATCH ConfigurationItems (+1 GET of the
//	                             CI when the tenant keeps an audit field
//	                             from the client)
//	CreateTicket              1  POST Tickets
//	GetTicket                 1  GET Tickets/{id}
//	FindTicketsByExternalRef  n  POST Tickets/query
//	AddTicketNote             1  POST Tickets/{id}/Notes
//	CloseTicket, ReopenTicket 2  GET the ticket, PATCH its status (+1 note)
//	TicketTouched             1–3 GET the ticket, count other resources'
//	                             notes, query their time entries
//	ListMembers               n  POST Resources/query (+1 GET Resources
//	                             entityInformation/fields per LookupTTL:
//	                             the security level names)
package autotask

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
)

// Defaults for Config fields left zero.
const (
	// DefaultZoneLookupURL is where the zone lookup goes when BaseURL is
	// empty (any webservicesN host answers it).
	DefaultZoneLookupURL = "https://webservices2.autotask.net/ATServicesRest"
	DefaultPageSize      = 500
	DefaultSearchLimit   = 25
	DefaultLookupTTL     = 15 * time.Minute
	// MaxPageSize is Autotask's page size (vendor-apis.md §5.3).
	MaxPageSize = 500
	// Field lengths (entityInformation; Tickets.title 255, externalID 50).
	maxTitleLen       = 255
	maxDescriptionLen = 8000
	maxExternalIDLen  = 50
	maxPages          = 10000
)

// Config configures a Client.
type Config struct {
	// BaseURL is the zone lookup root (default DefaultZoneLookupURL), or,
	// with FixedBase, the zone's REST root itself
	// (https://webservices5.autotask.net/ATServicesRest).
	BaseURL   string
	FixedBase bool
	// The API user's credentials and the integration's tracking
	// identifier.
	Username, Secret, IntegrationCode string

	// AccountRefUDF and AssetRefUDF name the company and CI UDFs that hold
	// our references ("" stores none: the find-by-reference roles answer
	// NotImplemented).
	AccountRefUDF, AssetRefUDF string
	// Defaults for the fields the tenant requires: the owner of new
	// companies, their type, the type and product of new CIs, and the
	// queue, status and priority of new tickets; CompleteStatus closes a
	// ticket and ReopenStatus (default TicketStatus) reopens it. Picklist
	// settings take a label or a value.
	OwnerResourceID       int
	CompanyType           string
	ConfigurationItemType string
	ProductID             int
	TicketQueue           string
	TicketStatus          string
	TicketPriority        string
	CompleteStatus        string
	ReopenStatus          string

	// PageSize is MaxRecords of listings (default and maximum 500).
	PageSize int
	// LookupTTL is how long metadata and picklists are cached (15 min).
	LookupTTL time.Duration

	// Budget opens the request budget of the Autotask database the client
	// works in, by key ("autotask-" + BudgetKey, known once the zone is):
	// every request but the zone lookup draws from it, at most
	// MaxConcurrency in flight per entity endpoint (EndpointOf), and
	// Autotask's threshold and thread-limit refusals cool it down. When the
	// budget can calibrate (ratelimit.Calibrator), the client calibrates it
	// on ThresholdInformation. nil: no budget.
	Budget func(key string) vendorhttp.Limiter

	// Logger, OnRequest, Sleep, MaxAttempts and AttemptTimeout are passed
	// to vendorhttp; Now is the clock (tests).
	Logger         *slog.Logger
	OnRequest      func(vendorhttp.Attempt)
	Sleep          func(ctx context.Context, d time.Duration) error
	MaxAttempts    int
	AttemptTimeout time.Duration
	Now            func() time.Time
}

// Client is an Autotask client. It is safe for concurrent use.
type Client struct {
	cfg  Config
	hc   *http.Client
	zone *vendorhttp.Client // the zone lookup host (nil with FixedBase)
	auth vendorhttp.HeaderAuth

	zoneMu sync.Mutex // one zone lookup at a time
	mu     sync.Mutex
	api    *vendorhttp.Client   // the zone's REST root, once known
	calib  ratelimit.Calibrator // the api client's budget, when it calibrates

	meta     metaCache
	selfOnce sync.Mutex
	self     int // the API user's resource id, once known

	threshold thresholdReader
}

// Compile-time checks that Client is a complete PSA client.
var (
	_ psa.Client           = (*Client)(nil)
	_ psa.AccountRefFinder = (*Client)(nil)
	_ psa.TicketRefFinder  = (*Client)(nil)
	_ psa.TicketReopener   = (*Client)(nil)
	_ psa.AssetLister      = (*Client)(nil)
	_ psa.TicketPicklists  = (*Client)(nil)
	_ psa.RecentAccounts   = (*Client)(nil)
)

// New returns a client for cfg; httpClient sends the requests (nil uses a
// default client). It sends nothing.
func New(cfg Config, httpClient *http.Client) (*Client, error) {
	var missing []apperr.FieldError
	for _, f := range []struct{ name, v string }{
		{"username", cfg.Username}, {"secret", cfg.Secret}, {"integrationCode", cfg.IntegrationCode},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, apperr.FieldError{Field: "credentials." + f.name, Message: "is required for Autotask"})
		}
	}
	if len(missing) > 0 {
		return nil, apperr.InvalidFields(missing...)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultZoneLookupURL
	}
	if u, err := url.Parse(cfg.BaseURL); err == nil && strings.Trim(u.Path, "/") == "" && u.Host != "" {
		// https://webservices2.autotask.net alone: the REST root is below it.
		u.Path = "/ATServicesRest"
		cfg.BaseURL = u.String()
	}
	if cfg.PageSize <= 0 || cfg.PageSize > MaxPageSize {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.LookupTTL <= 0 {
		cfg.LookupTTL = DefaultLookupTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReopenStatus == "" {
		cfg.ReopenStatus = cfg.TicketStatus
	}
	c := &Client{cfg: cfg, hc: httpClient, auth: vendorhttp.HeaderAuth{Header: http.Header{
		"Apiintegrationcode": {cfg.IntegrationCode}, "Username": {cfg.Username}, "Secret": {cfg.Secret},
	}}}
	base, calib, err := c.newHTTP(cfg.BaseURL, !cfg.FixedBase)
	if err != nil {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "baseUrl", Message: "must be an absolute http(s) URL"})
	}
	if cfg.FixedBase {
		c.api = base
		c.calib = calib
	} else {
		c.zone = base
	}
	return c, nil
}

// newHTTP builds a vendorhttp client for root; the zone lookup client
// sends no credentials and draws from no budget (Autotask exempts the
// lookup from its limits). The zone's client draws from the database's
// budget (Config.Budget), names each request's entity endpoint for its
// concurrency limit, and counts threshold and thread-limit refusals as
// throttle answers. It returns the budget too when it calibrates.
func (c *Client) newHTTP(root string, zoneLookup bool) (*vendorhttp.Client, ratelimit.Calibrator, error) {
	opt := vendorhttp.Options{
		Name: "Autotask", BaseURL: root, HTTPClient: c.hc, ErrorDecoder: decodeError,
		Logger: c.cfg.Logger, OnRequest: c.cfg.OnRequest, Sleep: c.cfg.Sleep,
		MaxAttempts: c.cfg.MaxAttempts, AttemptTimeout: c.cfg.AttemptTimeout,
	}
	var calib ratelimit.Calibrator
	if !zoneLookup {
		opt.Auth = c.auth
		opt.Endpoint = func(_ string, r vendorhttp.Request) string { return EndpointOf(r.Path) }
		opt.Throttled = isThrottleRefusal
		if c.cfg.Budget != nil {
			lim := c.cfg.Budget("autotask-" + budgetKey(root, c.cfg.IntegrationCode))
			opt.Limiter = lim
			calib, _ = lim.(ratelimit.Calibrator)
		}
	}
	v, err := vendorhttp.New(opt)
	return v, calib, err
}

// isThrottleRefusal says whether an answer is Autotask's threshold or
// thread-limit refusal (a 429, or a 500 whose errors[] speak of the
// threshold or the thread limit [U]).
func isThrottleRefusal(status int, _ http.Header, body []byte) bool {
	if status == http.StatusTooManyRequests {
		return true
	}
	if status < 400 {
		return false
	}
	var e errorBody
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	text := strings.ToLower(strings.Join(e.Errors, " "))
	return strings.Contains(text, "threshold") || strings.Contains(text, "thread limit")
}

// Requests returns how many HTTP requests the client has sent (retries
// and the zone lookup included).
func (c *Client) Requests() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	if c.zone != nil {
		n += c.zone.Requests()
	}
	if c.api != nil {
		n += c.api.Requests()
	}
	return n
}

// errorBody is Autotask's error body.
type errorBody struct {
	Errors []string `json:"errors"`
}

// decodeError joins errors[].
func decodeError(status int, body []byte) string {
	var e errorBody
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return vendorhttp.DecodeErrorMessage(status, body)
	}
	return strings.Join(e.Errors, "; ")
}

// classify refines vendorhttp's error for Autotask's answers.
func classify(err error, resp *vendorhttp.Response) error {
	e, ok := apperr.As(err)
	if !ok || resp == nil {
		return err
	}
	var body errorBody
	_ = json.Unmarshal(resp.Body, &body)
	text := strings.ToLower(strings.Join(body.Errors, " "))
	msg := strings.Join(body.Errors, "; ")
	with := func(k apperr.Kind, prefix string) error {
		out := &apperr.Error{Kind: k, VendorStatus: e.VendorStatus, RetryAfter: e.RetryAfter,
			Message: vendorhttp.Redact(prefix + ": " + msg)}
		if len(out.Message) > 400 {
			out.Message = out.Message[:400] + "…"
		}
		return out
	}
	switch {
	case strings.Contains(text, "zone information could not be determined"):
		return with(apperr.Unauthorized, "Autotask does not know the API user name (zone lookup)")
	case strings.Contains(text, "integrationcode is invalid"):
		return with(apperr.Unauthorized, "Autotask refused the integration code (API tracking identifier)")
	case resp.Status == http.StatusUnauthorized:
		return with(apperr.Unauthorized, "Autotask refused the API user's secret")
	case e.Kind == apperr.Throttled:
		return err
	case strings.Contains(text, "threshold") || strings.Contains(text, "thread limit"):
		out := with(apperr.Throttled, "Autotask is over its request limits").(*apperr.Error)
		if out.RetryAfter <= 0 {
			out.RetryAfter = time.Minute
		}
		return out
	case resp.Status == http.StatusInternalServerError && len(body.Errors) > 0 && e.Kind == apperr.Vendor:
		return with(apperr.Invalid, "Autotask refused the request")
	}
	return err
}

// zoneInfo is the zone lookup's answer.
type zoneInfo struct {
	ZoneName string `json:"zoneName"`
	URL      string `json:"url"`
}

// client returns the zone's client, looking the zone up once.
func (c *Client) client(ctx context.Context) (*vendorhttp.Client, error) {
	c.mu.Lock()
	api := c.api
	c.mu.Unlock()
	if api != nil {
		return api, nil
	}
	c.zoneMu.Lock()
	defer c.zoneMu.Unlock()
	c.mu.Lock()
	api = c.api
	c.mu.Unlock()
	if api != nil {
		return api, nil
	}
	var z zoneInfo
	resp, err := c.zone.Do(ctx, vendorhttp.Request{Method: http.MethodGet, Path: "/V1.0/ZoneInformation",
		Query: url.Values{"user": {c.cfg.Username}}, Route: "GET /V1.0/ZoneInformation"}, &z)
	if err != nil {
		return nil, fmt.Errorf("find the Autotask zone: %w", classify(err, resp))
	}
	root, err := c.checkZoneURL(z.URL)
	if err != nil {
		return nil, err
	}
	api, calib, err := c.newHTTP(root, false)
	if err != nil {
		return nil, apperr.New(apperr.Vendor, "Autotask's zone lookup answered an unusable url")
	}
	c.mu.Lock()
	c.api, c.calib = api, calib
	c.mu.Unlock()
	return api, nil
}

// checkZoneURL accepts the zone's url only on the lookup's scheme, and on
// an autotask.net host when the lookup went to one: the answer decides
// where the secret goes next.
func (c *Client) checkZoneURL(raw string) (string, error) {
	base, _ := url.Parse(c.cfg.BaseURL)
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil || u.Host == "" || u.User != nil:
		return "", apperr.New(apperr.Vendor, "Autotask's zone lookup answered no usable url")
	case u.Scheme != base.Scheme:
		return "", apperr.New(apperr.Vendor, "Autotask's zone lookup answered a %s url; the lookup used %s", u.Scheme, base.Scheme)
	case strings.HasSuffix(strings.ToLower(base.Hostname()), ".autotask.net") && !strings.HasSuffix(strings.ToLower(u.Hostname()), ".autotask.net"):
		return "", apperr.New(apperr.Vendor, "Autotask's zone lookup pointed outside autotask.net (%s); not followed", u.Hostname())
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/"), nil
}

// do sends one request to the zone.
func (c *Client) do(ctx context.Context, r vendorhttp.Request, out any) (*vendorhttp.Response, error) {
	api, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	if r.Route == "" {
		r.Route = r.Method + " " + r.Path
	}
	resp, err := api.Do(ctx, r, out)
	if err != nil {
		return resp, classify(err, resp)
	}
	// After an answer the budget's bucket exists, which a calibration
	// claim needs.
	c.calibrate(ctx)
	return resp, nil
}

// get reads one path.
func (c *Client) get(ctx context.Context, route, path string, out any) error {
	_, err := c.do(ctx, vendorhttp.Request{Method: http.MethodGet, Path: path, Route: "GET " + route}, out)
	return err
}

// filter is one /query filter item.
type filter map[string]any

func eq(field string, v any) filter { return filter{"op": "eq", "field": field, "value": v} }

func op(o, field string, v any) filter { return filter{"op": o, "field": field, "value": v} }

func udfEq(name, v string) filter {
	return filter{"op": "eq", "field": name, "value": v, "udf": true}
}

func or(items ...filter) filter { return filter{"op": "or", "items": items} }

// queryBody is a /query body.
type queryBody struct {
	Filter        []filter `json:"filter"`
	IncludeFields []string `json:"IncludeFields,omitempty"`
	MaxRecords    int      `json:"MaxRecords,omitempty"`
}

// pageDetails is a page's paging block.
type pageDetails struct {
	Count       int    `json:"count"`
	NextPageURL string `json:"nextPageUrl"`
}

type page[T any] struct {
	Items       []T         `json:"items"`
	PageDetails pageDetails `json:"pageDetails"`
}

// queryPage runs one page of a query on entity.
func queryPage[T any](ctx context.Context, c *Client, entity string, q queryBody) (page[T], error) {
	var p page[T]
	_, err := c.do(ctx, vendorhttp.Request{Method: http.MethodPost, Path: "/V1.0/" + entity + "/query", Body: q,
		Idempotent: true, Route: "POST /V1.0/" + entity + "/query"}, &p)
	return p, err
}

// queryAll runs a query on entity and follows nextPageUrl to the end.
func queryAll[T any](ctx context.Context, c *Client, entity string, filters ...filter) ([]T, error) {
	q := queryBody{Filter: filters, MaxRecords: c.cfg.PageSize}
	p, err := queryPage[T](ctx, c, entity, q)
	if err != nil {
		return nil, err
	}
	all := p.Items
	seen := map[string]bool{}
	for pages := 1; p.PageDetails.NextPageURL != ""; pages++ {
		next := p.PageDetails.NextPageURL
		if seen[next] || pages >= maxPages {
			return all, apperr.New(apperr.Vendor, "Autotask paging of %s did not end", entity)
		}
		seen[next] = true
		p = page[T]{}
		if _, err := c.do(ctx, vendorhttp.Request{Method: http.MethodGet, Path: next, Route: "GET /V1.0/" + entity + "/query"}, &p); err != nil {
			return all, err
		}
		all = append(all, p.Items...)
	}
	return all, nil
}

// count runs a count query.
func (c *Client) count(ctx context.Context, entity string, filters ...filter) (int, error) {
	var out struct {
		QueryCount int `json:"queryCount"`
	}
	_, err := c.do(ctx, vendorhttp.Request{Method: http.MethodPost, Path: "/V1.0/" + entity + "/query/count",
		Body: queryBody{Filter: filters}, Idempotent: true, Route: "POST /V1.0/" + entity + "/query/count"}, &out)
	return out.QueryCount, err
}

// create posts a new record and returns its id; route is the path
// template (for metrics).
func (c *Client) create(ctx context.Context, route, path string, body any) (int, error) {
	var out struct {
		ItemID json.Number `json:"itemId"`
	}
	if _, err := c.do(ctx, vendorhttp.Request{Method: http.MethodPost, Path: path, Body: body, Route: "POST " + route}, &out); err != nil {
		return 0, err
	}
	id, err := strconv.Atoi(out.ItemID.String())
	if err != nil || id <= 0 {
		return 0, apperr.New(apperr.Vendor, "Autotask answered a create without an item id")
	}
	return id, nil
}

// written decodes a create's or an update's body, with the record's id,
// as the record type T: what a read of the record answers for every
// field the body carries (the client writes values as Autotask stores
// them: picklist values, ids, strings within the field's length).
func written[T any](id int, body map[string]any) (T, error) {
	rec := make(map[string]any, len(body)+1)
	maps.Copy(rec, body)
	rec["id"] = id
	var out T
	b, err := json.Marshal(rec)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		return out, fmt.Errorf("decode the Autotask record %d as written: %w", id, err)
	}
	return out, nil
}

// patch updates a record (body carries its id).
func (c *Client) patch(ctx context.Context, entity string, body map[string]any) error {
	_, err := c.do(ctx, vendorhttp.Request{Method: http.MethodPatch, Path: "/V1.0/" + entity, Body: body}, nil)
	return err
}

// parseID validates a psa id as an Autotask integer id.
func parseID(kind, id string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(id))
	if err != nil || n <= 0 {
		return 0, apperr.New(apperr.NotFound, "no Autotask %s %q", kind, id)
	}
	return n, nil
}

// udfValue is one entry of userDefinedFields.
type udfValue struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// udfs reads a UDF by name.
func udfOf(list []udfValue, name string) string {
	for _, u := range list {
		if strings.EqualFold(u.Name, name) && u.Value != nil {
			return fmt.Sprint(u.Value)
		}
	}
	return ""
}

// cursor is "after id N".
func cursorAfter(id int) string { return "a" + strconv.Itoa(id) }

func parseCursor(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "a"))
	if !strings.HasPrefix(s, "a") || err != nil || n < 0 {
		return 0, apperr.InvalidFields(apperr.FieldError{Field: "cursor", Message: "is not a cursor this listing returned"})
	}
	return n, nil
}

// idOf reads a JSON id.
func idOf(v json.Number) int {
	n, _ := strconv.Atoi(v.String())
	return n
}
