// Package halopsa is the HaloPSA client: it implements the shared/psa
// interfaces on Halo's REST API (vendor-apis.md §6) through
// shared/vendorhttp.
//
// No vendor OpenAPI file is in the handbook, and several facts of §6 are
// marked [P] (probable) or [U] (unknown). Where the client depends on one,
// it does what fails safely, and says so where it does it:
//
//   - the token URL is discovered from GET /api/authinfo (auth_url +
//     "/token"); a discovered URL on another scheme or host than the
//     instance is refused (the client secret is never posted elsewhere),
//     and an instance without /api/authinfo (404) uses {instance}/auth;
//   - the client-credentials grant carries ?tenant= when Config.Tenant is
//     set (Halo-hosted instances) and scope Config.Scope ("all");
//   - a token is cached until shortly before expires_in and fetched again
//     once on a 401 (vendorhttp); a second 401 is final;
//   - lists always send pageinate=true&page_size&page_no and stop when
//     page_no·page_size reaches record_count (or a page comes back short
//     or empty, against a server that counts differently);
//   - creates and updates are POST /api/{Entity} with a JSON array; the
//     answer is read whether it is the object or an array of it;
//   - error bodies are opaque text (§6.4 [U]): vendorhttp's decoder keeps
//     their (redacted, clipped) text as the message; 429 is Throttled with
//     Retry-After;
//   - searches (asset and ticket lookups by our reference or a serial) use
//     Halo's free-text search to narrow the candidates and then compare
//     the exact value on every returned record, so a search that matches
//     more never links a wrong record; a search that covers less finds
//     nothing and the caller creates a visible duplicate (never a wrong
//     link). Accounts by reference are found by listing every client (a
//     few pages at most), which depends on no search semantics.
//
// Where the records live:
//   - accounts are clients: status is the inactive flag (statuses
//     "Active" and "Inactive"), type is the top level; our RMM
//     organization id is in the client custom field
//     Config.AccountRefFieldID (not the client's "ref" property: it is
//     the MSP's own reference, often an accounting code, and writing ours
//     there would overwrite it; a dedicated custom field is ours alone);
//   - locations are sites;
//   - assets are assets: the name in inventory_number (the asset tag),
//     our RMM device id in third_party_id_string (a plain text property
//     every asset has, which Halo's own RMM integrations leave to the
//     integration that owns the asset — so no custom field has to be
//     created for it), the asset type from Config.AssetTypes by device
//     class, serial, OS, last user, manufacturer, model, IP, MAC, last
//     check-in and disks in the asset-type fields of Config.AssetFields
//     (a field left 0 is not written: its psa.Asset field reads back
//     empty);
//   - tickets are tickets: team = board, tickettype, status and priority
//     by id or name from Halo's lists, the asset attached in assets[],
//     our alert series id in the ticket custom field
//     Config.TicketRefFieldID (§6.5 documents no free external-reference
//     property on tickets; custom fields are how the public alert
//     integrations tag theirs); notes are actions; a ticket is closed when
//     its status is Config.ClosedStatusID;
//   - members are agents (never end users: users take licence seats),
//     without inactive and API-only agents.
//
// Requests per call against the sandbox (n = pages of PageSize; lookups —
// top levels, asset types, statuses, ticket types, priorities, teams, our
// agent — are cached for Config.LookupTTL and cost one request on first
// use; the token request and the authinfo discovery are not counted):
//
//	TestConnection            6  GET Agent/me, then one page of 1 of Client,
//	                             Site, Asset, Tickets, Agent (+ lookups for
//	                             the settings it validates)
//	SearchAccounts            1  GET /api/Client (one page)
//	GetAccount                1  GET /api/Client/{id}
//	FindAccountsByExternalRef n  GET /api/Client (every client)
//	CreateAccount             1  POST /api/Client
//	ListLocations             n  GET /api/Site?client_id (+1 GET Client when
//	                             empty, to tell a missing client)
//	CreateLocation            1  POST /api/Site
//	GetAsset                  1  GET /api/Asset/{id}
//	FindAssetsByExternalRef   n  GET /api/Asset?search=ref
//	FindAssetsBySerial        n  GET /api/Asset?search=serial (0 for a
//	                             placeholder serial)
//	ListAccountAssets         1  GET /api/Asset?client_id (one page)
//	CreateAsset, UpdateAsset  1  POST /api/Asset
//	CreateTicket              1  POST /api/Tickets
//	GetTicket                 1  GET /api/Tickets/{id}
//	FindTicketsByExternalRef  n  GET /api/Tickets?search=ref
//	AddTicketNote             1  POST /api/Actions
//	CloseTicket               1–3 GET the ticket, POST the resolution
//	                             action, POST the status; 1 if closed
//	ReopenTicket              1–2 GET the ticket, POST the status
//	TicketTouched             n  GET /api/Actions?ticket_id
//	ListMembers               1  GET /api/Agent (+ Agent/me once)
package halopsa

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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
	DefaultScope       = "all"
	DefaultPageSize    = 500
	MaxPageSize        = 1000
	DefaultSearchLimit = 25
	// DefaultMaxSummaryLen truncates ticket summaries. Halo's limit is not
	// documented (§6 [U]); 100 characters is under any limit seen.
	DefaultMaxSummaryLen = 100
	// DefaultClosedStatusID is Halo's built-in "Closed" status (§6 [P]);
	// Test & save checks the configured one exists.
	DefaultClosedStatusID = 9
	DefaultLookupTTL      = 15 * time.Minute
	// DefaultRateWindow is the window X-RateLimit-* counts over: not sent
	// by Halo (§6.4 [U]); third parties report limits per 5 minutes.
	DefaultRateWindow = 5 * time.Minute
	maxPages          = 10000
)

// AssetFields are the ids of the asset-type fields psa.Asset's attributes
// are written to; 0 leaves the attribute unstored.
type AssetFields struct {
	Serial, OS, LastUser, Manufacturer, Model, IP, MAC, CheckIn, Disks int
}

// AssetType maps a device class (rmm.DeviceType as text) to a Halo asset
// type id.
type AssetType struct {
	DeviceType string
	TypeID     int
}

// Config configures a Client.
type Config struct {
	// BaseURL is the instance URL (https://acme.halopsa.com); the API is
	// below /api.
	BaseURL      string
	ClientID     string
	ClientSecret string
	// Tenant is sent with the token request (Halo-hosted instances).
	Tenant string
	// Scope of the token (default "all").
	Scope string

	// PageSize for listings (default 500, at most 1000).
	PageSize      int
	MaxSummaryLen int
	// AccountRefFieldID is the client custom field holding our RMM
	// organization id; 0 stores none (FindAccountsByExternalRef answers
	// NotImplemented).
	AccountRefFieldID int
	// TicketRefFieldID is the ticket custom field holding our alert series
	// id; 0 stores none (FindTicketsByExternalRef answers NotImplemented).
	TicketRefFieldID int
	AssetFields      AssetFields
	// AssetTypes maps device classes to asset types, in order (the first
	// class mapped to a type is the one it reads back as);
	// DefaultAssetTypeID is used for classes not mapped. A class with
	// neither is refused (Invalid naming the setting): Halo needs a type.
	AssetTypes         []AssetType
	DefaultAssetTypeID int
	// ClosedStatusID closes a ticket (default 9, §6 [P]); ReopenStatusID reopens
	// one (0: ReopenTicket answers NotImplemented).
	ClosedStatusID int
	ReopenStatusID int
	// APIAgentID is the agent the API application runs as; 0 asks
	// GET /api/Agent/me. IgnoreAgentIDs also count as ours when deciding
	// whether a ticket was touched.
	APIAgentID     int
	IgnoreAgentIDs []int
	// LookupTTL caches Halo's lists (default 15 min); RateWindow is the
	// window of the calibration reading (default 5 min).
	LookupTTL  time.Duration
	RateWindow time.Duration
	// Limiter is the instance's request budget (shared/ratelimit; the
	// opener's p.Limiter(BudgetKey(...))): every request, the discovery
	// and token requests included, draws from it, and Halo's 429s cool it
	// down. When it can calibrate (ratelimit.Calibrator), the client
	// calibrates it on the X-RateLimit headers it last saw
	// (RateLimitReading). nil: no budget.
	Limiter vendorhttp.Limiter

	Logger         *slog.Logger
	OnRequest      func(vendorhttp.Attempt)
	Sleep          func(ctx context.Context, d time.Duration) error
	MaxAttempts    int
	AttemptTimeout time.Duration
	Now            func() time.Time
}

// Client is a HaloPSA client. It is safe for concurrent use.
type Client struct {
	cfg   Config
	http  *vendorhttp.Client
	plain *vendorhttp.Client // no auth: /api/authinfo
	auth  *auth

	mu      sync.Mutex
	lookups map[string]cached
	me      int
	rate    rateState
	calib   ratelimit.Calibrator // the budget, when it calibrates
	// closedSet: ClosedStatusID was configured (the default 9 is not
	// checked against the instance: a connection test without settings
	// must not fail on an instance that renumbered its statuses).
	closedSet bool
}

type cached struct {
	refs []psa.NamedRef
	at   time.Time
}

// Compile-time checks of the roles the client implements.
var (
	_ psa.Client           = (*Client)(nil)
	_ psa.AccountRefFinder = (*Client)(nil)
	_ psa.TicketRefFinder  = (*Client)(nil)
	_ psa.TicketReopener   = (*Client)(nil)
	_ psa.TicketPicklists  = (*Client)(nil)
	_ psa.AssetLister      = (*Client)(nil)
)

// New returns a client for cfg; httpClient sends every request, the
// discovery and token requests included (nil uses a default client). It
// sends nothing.
func New(cfg Config, httpClient *http.Client) (*Client, error) {
	var missing []apperr.FieldError
	for _, f := range []struct{ name, v string }{{"clientId", cfg.ClientID}, {"clientSecret", cfg.ClientSecret}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, apperr.FieldError{Field: "credentials." + f.name, Message: "is required for HaloPSA"})
		}
	}
	if len(missing) > 0 {
		return nil, apperr.InvalidFields(missing...)
	}
	if cfg.Scope == "" {
		cfg.Scope = DefaultScope
	}
	if cfg.PageSize <= 0 || cfg.PageSize > MaxPageSize {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.MaxSummaryLen <= 0 {
		cfg.MaxSummaryLen = DefaultMaxSummaryLen
	}
	closedSet := cfg.ClosedStatusID > 0
	if !closedSet {
		cfg.ClosedStatusID = DefaultClosedStatusID
	}
	if cfg.LookupTTL <= 0 {
		cfg.LookupTTL = DefaultLookupTTL
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = DefaultRateWindow
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, lookups: map[string]cached{}, me: cfg.APIAgentID, closedSet: closedSet}
	base := strings.TrimRight(cfg.BaseURL, "/")
	c.auth = &auth{c: c, base: base, httpClient: httpClient}
	opts := vendorhttp.Options{
		Name: "HaloPSA", BaseURL: base + "/api", HTTPClient: httpClient, Logger: cfg.Logger, OnRequest: cfg.OnRequest, ErrorDecoder: decodeError,
		Sleep: cfg.Sleep, MaxAttempts: cfg.MaxAttempts, AttemptTimeout: cfg.AttemptTimeout, Now: cfg.Now,
		Limiter: cfg.Limiter,
	}
	c.calib, _ = cfg.Limiter.(ratelimit.Calibrator)
	plain, err := vendorhttp.New(opts)
	if err != nil {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "baseUrl", Message: "must be an absolute http(s) URL"})
	}
	opts.Auth = c.auth
	hc, err := vendorhttp.New(opts)
	if err != nil {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "baseUrl", Message: "must be an absolute http(s) URL"})
	}
	c.http, c.plain = hc, plain
	return c, nil
}

// Requests returns how many API requests the client has sent (retries
// included; not the discovery and token requests).
func (c *Client) Requests() int64 { return c.http.Requests() }

// TokenFetches returns how many token requests the client has sent.
func (c *Client) TokenFetches() int64 {
	if o := c.auth.current(); o != nil {
		return o.Fetches()
	}
	return 0
}

// decodeError reads Halo's error bodies. Their shape is not documented
// (§6.4 [U]: "commonly a JSON/plain message"): the common JSON shapes are
// read as everywhere; a JSON string or a short plain-text answer to a
// request Halo refused (4xx) is Halo's own message and becomes the safe
// message (vendorhttp redacts and clips it). HTML pages, long bodies and
// 5xx answers (a proxy's) yield nothing: no raw reply text is shown.
func decodeError(status int, body []byte) string {
	if msg := vendorhttp.DecodeErrorMessage(status, body); msg != "" {
		return msg
	}
	t := strings.TrimSpace(string(body))
	if status < 400 || status >= 500 || t == "" || len(t) > 300 || strings.HasPrefix(t, "<") {
		return ""
	}
	if strings.HasPrefix(t, `"`) {
		var s string
		if json.Unmarshal([]byte(t), &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		return ""
	}
	return t
}

// auth discovers the token URL on first use, then is the client-credentials
// grant.
type auth struct {
	c          *Client
	base       string
	httpClient *http.Client

	mu    sync.Mutex
	oauth *vendorhttp.OAuthClientCredentials
}

func (a *auth) current() *vendorhttp.OAuthClientCredentials {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.oauth
}

// ensure discovers the token URL once (a failed discovery is tried again
// on the next request).
func (a *auth) ensure(ctx context.Context) (*vendorhttp.OAuthClientCredentials, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.oauth != nil {
		return a.oauth, nil
	}
	tokenURL, err := a.discover(ctx)
	if err != nil {
		return nil, err
	}
	o := &vendorhttp.OAuthClientCredentials{
		TokenURL: tokenURL, ClientID: a.c.cfg.ClientID, ClientSecret: a.c.cfg.ClientSecret,
		Scope: a.c.cfg.Scope, HTTPClient: a.httpClient, Now: a.c.cfg.Now, Limiter: a.c.cfg.Limiter,
	}
	a.oauth = o
	return o, nil
}

// discover reads auth_url from /api/authinfo.
func (a *auth) discover(ctx context.Context) (string, error) {
	var info struct {
		AuthURL string `json:"auth_url"`
	}
	authURL := a.base + "/auth"
	_, err := a.c.plain.Do(ctx, vendorhttp.Request{Method: http.MethodGet, Path: "/authinfo", Route: "GET /api/authinfo"}, &info)
	switch {
	case apperr.Is(err, apperr.NotFound):
		// An instance without the discovery document: the authorisation
		// server's documented place on the same host (§6.1 [P]).
	case err != nil:
		return "", fmt.Errorf("discover the HaloPSA token URL: %w", err)
	case strings.TrimSpace(info.AuthURL) != "":
		authURL = strings.TrimRight(strings.TrimSpace(info.AuthURL), "/")
	}
	au, err := url.Parse(authURL)
	bu, _ := url.Parse(a.base)
	if err != nil || au.Scheme != bu.Scheme || !strings.EqualFold(au.Host, bu.Host) {
		// The client secret goes only to the instance's own host.
		host := ""
		if au != nil {
			host = au.Host
		}
		return "", apperr.New(apperr.Invalid, "HaloPSA advertises its authorisation server on another host (%q); rmmbridge sends the client secret only to the instance's own host %s", clipText(host, 100), bu.Host)
	}
	tu := authURL + "/token"
	if t := strings.TrimSpace(a.c.cfg.Tenant); t != "" {
		tu += "?tenant=" + url.QueryEscape(t)
	}
	return tu, nil
}

// Apply implements vendorhttp.Auth.
func (a *auth) Apply(ctx context.Context, req *http.Request) error {
	o, err := a.ensure(ctx)
	if err != nil {
		return err
	}
	return o.Apply(ctx, req)
}

// Invalidate implements vendorhttp.Auth: the token is dropped once.
func (a *auth) Invalidate() bool {
	if o := a.current(); o != nil {
		return o.Invalidate()
	}
	return false
}

// String keeps the secret out of logs.
func (a *auth) String() string { return "halopsa.auth{" + vendorhttp.Redacted + "}" }

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// do sends one request through the authenticated client, records the
// rate-limit headers of its answer and calibrates the budget on them when
// it is due.
func (c *Client) do(ctx context.Context, method, route, path string, q url.Values, body, out any) error {
	resp, err := c.http.Do(ctx, vendorhttp.Request{Method: method, Path: path, Query: q, Body: body, Route: method + " " + route}, out)
	if resp != nil {
		c.observe(resp.Header)
		c.calibrate(ctx)
	}
	return err
}

func (c *Client) get(ctx context.Context, route, path string, q url.Values, out any) error {
	return c.do(ctx, http.MethodGet, route, path, q, nil, out)
}

// post sends one object as Halo's array body and decodes the saved object
// (the answer may be the object or an array of it).
func (c *Client) post(ctx context.Context, entity string, obj, out any) error {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodPost, "/api/"+entity, "/"+entity, nil, []any{obj}, &raw); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	t := strings.TrimSpace(string(raw))
	if strings.HasPrefix(t, "[") {
		var arr []json.RawMessage
		if err := json.Unmarshal(raw, &arr); err != nil || len(arr) == 0 {
			return apperr.New(apperr.Vendor, "HaloPSA answered a save of %s without the saved record", entity)
		}
		raw = arr[0]
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return apperr.Wrap(apperr.Vendor, err, "HaloPSA answered a save of %s with a body that is not the expected JSON", entity)
	}
	return nil
}

// page is one page of a Halo list; the records are under the list key.
type page[T any] struct {
	count    int
	hasCount bool
	items    []T
	first    string // the first record as JSON, to notice a repeated page
}

// getPage fetches page no (1-based) of a list.
func getPage[T any](ctx context.Context, c *Client, entity, key string, q url.Values, size, no int) (page[T], error) {
	qq := url.Values{}
	for k, v := range q {
		qq[k] = v
	}
	qq.Set("pageinate", "true")
	qq.Set("page_size", strconv.Itoa(size))
	qq.Set("page_no", strconv.Itoa(no))
	var raw map[string]json.RawMessage
	if err := c.get(ctx, "/api/"+entity, "/"+entity, qq, &raw); err != nil {
		return page[T]{}, err
	}
	var p page[T]
	if rc, ok := raw["record_count"]; ok {
		p.hasCount = json.Unmarshal(rc, &p.count) == nil
	}
	if list, ok := raw[key]; ok && string(list) != "null" {
		var items []json.RawMessage
		if err := json.Unmarshal(list, &items); err != nil {
			return page[T]{}, apperr.Wrap(apperr.Vendor, err, "HaloPSA answered a %s list that is not the expected JSON", entity)
		}
		if len(items) > 0 {
			p.first = string(items[0])
		}
		if err := json.Unmarshal(list, &p.items); err != nil {
			return page[T]{}, apperr.Wrap(apperr.Vendor, err, "HaloPSA answered a %s list that is not the expected JSON", entity)
		}
	}
	return p, nil
}

// collect fetches every page of a list.
func collect[T any](ctx context.Context, c *Client, entity, key string, q url.Values) ([]T, error) {
	var all []T
	size := c.cfg.PageSize
	prev := ""
	for no := 1; ; no++ {
		if no > maxPages {
			return all, apperr.New(apperr.Vendor, "HaloPSA list %s did not end after %d pages", entity, maxPages)
		}
		p, err := getPage[T](ctx, c, entity, key, q, size, no)
		if err != nil {
			return all, err
		}
		if no > 1 && p.first != "" && p.first == prev {
			// A server that ignores page_no answers page 1 again: fail
			// rather than list the same records forever or twice.
			return all, apperr.New(apperr.Vendor, "HaloPSA repeated a page of %s (is page_no ignored?)", entity)
		}
		prev = p.first
		all = append(all, p.items...)
		// A short or empty page ends the list; so does record_count when
		// Halo sends it. Without it, full pages go on: stopping at the
		// first page would lose records silently.
		if len(p.items) < size || (p.hasCount && no*size >= p.count) {
			return all, nil
		}
	}
}

// parseID validates a psa id as a Halo integer id.
func parseID(kind, id string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(id))
	if err != nil || n <= 0 {
		return 0, apperr.New(apperr.NotFound, "no HaloPSA %s %q", kind, id)
	}
	return n, nil
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// TestConnection implements psa.Tester, naming what failed: the
// credentials (the token request: client id, secret or tenant), or a
// permission of the API application (an entity it may not read), or a
// setting that names something the instance lacks.
func (c *Client) TestConnection(ctx context.Context) error {
	o, err := c.auth.ensure(ctx)
	if err == nil {
		_, err = o.Token(ctx)
	}
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Kind == apperr.Unauthorized {
			return &apperr.Error{Kind: apperr.Unauthorized, Message: "HaloPSA authentication failed (check the client id, the client secret and, for a hosted instance, the tenant): " + e.Message, VendorStatus: e.VendorStatus, Err: err}
		}
		return fmt.Errorf("test HaloPSA connection: %w", err)
	}
	me, err := c.agentID(ctx)
	if err != nil {
		return fmt.Errorf("test HaloPSA connection: read the API application's agent: %w", err)
	}
	for _, p := range []struct{ entity, key, what string }{
		{"Client", "clients", "customers (clients)"}, {"Site", "sites", "sites"}, {"Asset", "assets", "assets"},
		{"Tickets", "tickets", "tickets"},
	} {
		if _, err := getPage[json.RawMessage](ctx, c, p.entity, p.key, nil, 1, 1); err != nil {
			return permissionError(err, me, p.what)
		}
	}
	if err := c.get(ctx, "/api/Agent", "/Agent", nil, &[]json.RawMessage{}); err != nil {
		return permissionError(err, me, "agents")
	}
	return c.validateSettings(ctx)
}

// permissionError names the permission a 401/403 after a granted token
// means.
func permissionError(err error, agent int, what string) error {
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Unauthorized {
		return &apperr.Error{Kind: apperr.Unauthorized, VendorStatus: e.VendorStatus, Err: err,
			Message: fmt.Sprintf("HaloPSA accepted the credentials, but the API application (agent %d) may not read %s: give the application, and the agent it runs as, permission on %s (%s)", agent, what, what, e.Message)}
	}
	return fmt.Errorf("test HaloPSA connection: read %s: %w", what, err)
}

// agentID returns the agent the API application runs as.
func (c *Client) agentID(ctx context.Context) (int, error) {
	c.mu.Lock()
	me := c.me
	c.mu.Unlock()
	if me != 0 {
		return me, nil
	}
	var a apiAgent
	if err := c.get(ctx, "/api/Agent/me", "/Agent/me", nil, &a); err != nil {
		return 0, err
	}
	if a.ID == 0 {
		return 0, apperr.New(apperr.Vendor, "HaloPSA answered Agent/me without an agent id")
	}
	c.mu.Lock()
	c.me = a.ID
	c.mu.Unlock()
	return a.ID, nil
}
