// Package connectwise is the ConnectWise PSA (Manage) client: it implements
// the shared/psa interfaces on the REST API v3.0 through shared/vendorhttp.
//
// Authentication is HTTP Basic "companyId+publicKey:privateKey" plus the
// registered integration's clientId header (vendor-apis.md §4.2); the keys
// are static, so a 401 is final and surfaces as apperr.Unauthorized with
// ConnectWise's message. Queries use the conditions grammar of §4.4 built
// with Quote/Eq/Like/And/Or, and listings follow the Link header's
// rel="next" (§4.3) with page/pageSize (Config.PageSize, default 1000) or,
// when Config.ForwardOnly is set, the "pagination-type: forward-only" keyset
// mode. Error bodies {code, message, errors[]} (§4.6) become the safe
// message of the apperr error.
//
// Where the records live:
//   - accounts are companies; Config.AccountRefFieldID names a company
//     custom field that holds our RMM organization id (NewAccount.ExternalRef,
//     FindAccountsByExternalRef);
//   - assets are configurations, our RMM device id in deviceIdentifier, the
//     serial in serialNumber, storage totals and volumes in localHardDrives,
//     the last check-in in the custom field Config.AssetCheckInFieldID if set;
//   - tickets are service tickets; our alert series id goes in externalXRef.
//
// Requests per call, as measured against the sandbox (n = pages of
// PageSize, 1 for ordinary answers). Picklists — company statuses and
// types, boards, a board's statuses, priorities, configuration types, a
// manufacturer by name — are cached for Config.LookupTTL and cost one
// request each on first use only:
//
//	TestConnection            1  GET /company/companies?pageSize=1&fields=id
//	SearchAccounts            1  GET /company/companies (one page)
//	GetAccount                1  GET /company/companies/{id}
//	FindAccountsByExternalRef n  GET /company/companies?customFieldConditions=…
//	ListAccountStatuses       n  GET /company/companies/statuses
//	ListAccountTypes          n  GET /company/companies/types
//	CreateAccount             1  POST /company/companies (+1 per derived
//	                             identifier already taken, at most 3)
//	ListLocations             n  GET /company/companies/{id}/sites
//	CreateLocation            1  POST /company/companies/{id}/sites
//	GetAsset                  1  GET /company/configurations/{id}
//	FindAssetsByExternalRef   n  GET /company/configurations?conditions=deviceIdentifier="…"
//	FindAssetsBySerial        n  GET /company/configurations?conditions=serialNumber="…"
//	                             (0 for a placeholder serial)
//	CreateAsset               1  POST /company/configurations
//	UpdateAsset               1  PATCH /company/configurations/{id}
//	CreateTicket              1  POST /service/tickets (+1 POST
//	                             …/{id}/configurations with an asset)
//	GetTicket                 2  GET /service/tickets/{id} and …/configurations
//	FindTicketsByExternalRef  n  GET /service/tickets?conditions=externalXRef="…"
//	AddTicketNote             1  POST /service/tickets/{id}/notes
//	CloseTicket               2  GET the ticket, PATCH its status (+1 POST of
//	                             the resolution note); 1 if already closed
//	ReopenTicket              2  GET the ticket, PATCH its status; 1 if
//	                             already open
//	TicketTouched             1–3 GET the ticket, its notes, its audit trail
//	                             (stops at the first sign of a human)
//	ListMembers               n  GET /system/members (inactive ones too)
package connectwise

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
)

// Defaults for Config fields left zero.
const (
	DefaultPageSize      = 1000
	DefaultSearchLimit   = 25
	DefaultMaxSummaryLen = 100
	DefaultMainSiteName  = "Main"
	DefaultLookupTTL     = 15 * time.Minute
	// MaxPageSize is ConnectWise's largest pageSize (vendor-apis.md §4.3).
	MaxPageSize = 1000
	// maxPages bounds one listing, against a server whose next links loop.
	maxPages = 10000
)

// DefaultConfigTypes maps normalized device types (rmm.DeviceType values)
// to ConnectWise configuration type names. Types missing in the PSA fall
// back to Config.FallbackConfigType.
var DefaultConfigTypes = map[string]string{
	"workstation": "Workstation",
	"server":      "Server",
	"mac":         "Workstation",
	"linux":       "Workstation",
	"mobile":      "Mobile Device",
	"vm_host":     "Server",
	"vm":          "Server",
	"network":     "Network Device",
	"other":       "Other",
}

// Config configures a Client.
type Config struct {
	// BaseURL is the REST root including the codebase, e.g.
	// https://api-na.myconnectwise.net/v4_6_release/apis/3.0 (the sandbox
	// serves the same path).
	BaseURL    string
	CompanyID  string
	PublicKey  string
	PrivateKey string
	// ClientID is the integration's registered clientId GUID.
	ClientID string

	// PageSize for listings (default and maximum 1000).
	PageSize int
	// ForwardOnly asks for "pagination-type: forward-only" (keyset) paging
	// on listings. vendor-apis.md §4.3 rates it [P] and says an endpoint
	// without it answers with no Link header: when the first page is full
	// and has no next link, the client lists again with page/pageSize.
	ForwardOnly bool
	// MaxSummaryLen truncates ticket summaries (default 100, ConnectWise's
	// limit; §4.7 marks it [U]).
	MaxSummaryLen int
	// MainSiteName names the site created with a new company (default
	// "Main").
	MainSiteName string
	// AccountRefFieldID is the id of the company custom field that holds
	// our RMM organization id; 0 stores no reference and
	// FindAccountsByExternalRef answers NotImplemented.
	AccountRefFieldID int
	// AssetCheckInFieldID is the id of a configuration custom field that
	// receives the device's last check-in time (RFC 3339); 0 drops it.
	AssetCheckInFieldID int
	// ConfigTypes maps device types to configuration type names (default
	// DefaultConfigTypes); FallbackConfigType (default "Other") is used when
	// the mapped type does not exist in the PSA.
	ConfigTypes        map[string]string
	FallbackConfigType string
	// ClosedStatus names the board status CloseTicket sets; empty picks the
	// board's first closed status by sort order.
	ClosedStatus string
	// ReopenStatus names the board status ReopenTicket sets; empty picks
	// the board's default status, or its first open one by sort order.
	ReopenStatus string
	// APIMember is the identifier of the API member whose keys the client
	// uses. TicketTouched treats changes by it (and by IgnoreMembers, e.g. a
	// workflow account) as ours; empty means "whoever entered the ticket".
	APIMember     string
	IgnoreMembers []string
	// LookupTTL is how long picklists are cached (default 15 min).
	LookupTTL time.Duration

	// Logger for request logs (nil discards); OnRequest observes every
	// attempt; Sleep replaces the retry wait (tests); MaxAttempts and
	// AttemptTimeout override vendorhttp's defaults.
	Logger         *slog.Logger
	OnRequest      func(vendorhttp.Attempt)
	Sleep          func(ctx context.Context, d time.Duration) error
	MaxAttempts    int
	AttemptTimeout time.Duration
	// Limiter is the connection's request budget (shared/ratelimit);
	// every request draws from it. nil: none.
	Limiter vendorhttp.Limiter
	// Now is the clock (tests); nil uses time.Now.
	Now func() time.Time
}

// Client is a ConnectWise PSA client. It is safe for concurrent use.
type Client struct {
	http    *vendorhttp.Client
	cfg     Config
	lookups lookups
}

// Compile-time checks that Client is a complete PSA client.
var (
	_ psa.Client           = (*Client)(nil)
	_ psa.AccountRefFinder = (*Client)(nil)
	_ psa.TicketRefFinder  = (*Client)(nil)
	_ psa.TicketReopener   = (*Client)(nil)
)

// New returns a client for cfg; httpClient sends the requests (nil uses a
// default client).
func New(cfg Config, httpClient *http.Client) (*Client, error) {
	var missing []apperr.FieldError
	for _, f := range []struct{ name, v string }{
		{"companyId", cfg.CompanyID}, {"publicKey", cfg.PublicKey},
		{"privateKey", cfg.PrivateKey}, {"clientId", cfg.ClientID},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, apperr.FieldError{Field: "credentials." + f.name, Message: "is required for ConnectWise"})
		}
	}
	if len(missing) > 0 {
		return nil, apperr.InvalidFields(missing...)
	}
	hc, err := vendorhttp.New(vendorhttp.Options{
		Name:    "ConnectWise",
		BaseURL: cfg.BaseURL,
		Auth: vendorhttp.BasicWithClientID{
			Username: cfg.CompanyID + "+" + cfg.PublicKey,
			Password: cfg.PrivateKey,
			ClientID: cfg.ClientID,
		},
		HTTPClient:     httpClient,
		ErrorDecoder:   decodeError,
		Logger:         cfg.Logger,
		OnRequest:      cfg.OnRequest,
		Sleep:          cfg.Sleep,
		MaxAttempts:    cfg.MaxAttempts,
		AttemptTimeout: cfg.AttemptTimeout,
		Limiter:        cfg.Limiter,
	})
	if err != nil {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "baseUrl", Message: "must be an absolute http(s) URL"})
	}
	if cfg.PageSize <= 0 || cfg.PageSize > MaxPageSize {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.MaxSummaryLen <= 0 {
		cfg.MaxSummaryLen = DefaultMaxSummaryLen
	}
	if cfg.MainSiteName == "" {
		cfg.MainSiteName = DefaultMainSiteName
	}
	if cfg.ConfigTypes == nil {
		cfg.ConfigTypes = DefaultConfigTypes
	}
	if cfg.FallbackConfigType == "" {
		cfg.FallbackConfigType = "Other"
	}
	if cfg.LookupTTL <= 0 {
		cfg.LookupTTL = DefaultLookupTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{http: hc, cfg: cfg}, nil
}

// Requests returns how many HTTP requests the client has sent (retries
// included).
func (c *Client) Requests() int64 { return c.http.Requests() }

// decodeError turns ConnectWise's {code, message, errors[]} body into one
// line: the message, then each field error as "field: message".
func decodeError(status int, body []byte) string {
	var e apiError
	if json.Unmarshal(body, &e) != nil || (e.Message == "" && len(e.Errors) == 0) {
		return vendorhttp.DecodeErrorMessage(status, body)
	}
	parts := make([]string, 0, 1+len(e.Errors))
	if m := strings.TrimSpace(e.Message); m != "" {
		parts = append(parts, m)
	} else if e.Code != "" {
		parts = append(parts, e.Code)
	}
	for _, fe := range e.Errors {
		msg := strings.TrimSpace(fe.Message)
		if msg == "" {
			msg = fe.Code
		}
		if fe.Field != "" {
			msg = fe.Field + ": " + msg
		}
		if msg != "" {
			parts = append(parts, msg)
		}
	}
	return strings.Join(parts, "; ")
}

// vendorError decodes the error body of a failed call, if any.
func vendorError(resp *vendorhttp.Response) (apiError, bool) {
	var e apiError
	if resp == nil || json.Unmarshal(resp.Body, &e) != nil {
		return apiError{}, false
	}
	return e, true
}

// hasFieldError reports whether the error body names code for field.
func (e apiError) hasFieldError(code, field string) bool {
	for _, fe := range e.Errors {
		if strings.EqualFold(fe.Code, code) && (field == "" || strings.EqualFold(fe.Field, field)) {
			return true
		}
	}
	return false
}

func (c *Client) do(ctx context.Context, method, route, path string, q url.Values, body, out any) (*vendorhttp.Response, error) {
	return c.http.Do(ctx, vendorhttp.Request{Method: method, Path: path, Query: q, Body: body, Route: method + " " + route}, out)
}

func (c *Client) get(ctx context.Context, route, path string, q url.Values, out any) error {
	_, err := c.do(ctx, http.MethodGet, route, path, q, nil, out)
	return err
}

// query builds listing parameters.
func query(conditions Cond, extra url.Values) url.Values {
	q := url.Values{}
	if conditions != "" {
		q.Set("conditions", string(conditions))
	}
	for k, v := range extra {
		q[k] = v
	}
	return q
}

// collect fetches every page of a listing by following Link rel="next".
func collect[T any](ctx context.Context, c *Client, route, path string, q url.Values) ([]T, error) {
	if q == nil {
		q = url.Values{}
	}
	q.Set("pageSize", strconv.Itoa(c.cfg.PageSize))
	forward := c.cfg.ForwardOnly
	var all []T
	next, seen := "", map[string]bool{}
	for pages := 0; ; pages++ {
		if pages >= maxPages {
			return all, apperr.New(apperr.Vendor, "ConnectWise listing %s did not end after %d pages", path, maxPages)
		}
		req := vendorhttp.Request{Method: http.MethodGet, Path: path, Query: q, Route: "GET " + route}
		if next != "" {
			req.Path, req.Query = next, nil
		}
		if forward {
			req.Header = http.Header{"Pagination-Type": {"forward-only"}}
		}
		var page []T
		resp, err := c.http.Do(ctx, req, &page)
		if err != nil {
			return all, err
		}
		all = append(all, page...)
		link := vendorhttp.NextLink(resp.Header)
		if link == "" {
			if forward && pages == 0 && len(page) >= c.cfg.PageSize {
				// A full first page without a link: the endpoint ignores
				// forward-only paging (or holds exactly one page). Start
				// over with numbered pages, which always carry their links.
				if c.cfg.Logger != nil {
					c.cfg.Logger.WarnContext(ctx, "ConnectWise ignored forward-only paging; listing again by page number", "path", path)
				}
				forward, all, next, seen = false, nil, "", map[string]bool{}
				continue
			}
			return all, nil
		}
		if seen[link] {
			return all, apperr.New(apperr.Vendor, "ConnectWise paging of %s repeated a page", path)
		}
		seen[link] = true
		next = link
	}
}

// parseID validates a psa id as a ConnectWise integer id.
func parseID(kind, id string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(id))
	if err != nil || n <= 0 {
		return 0, apperr.New(apperr.NotFound, "no ConnectWise %s %q", kind, id)
	}
	return n, nil
}

// TestConnection implements psa.Tester with the cheapest authenticated
// call that needs company read rights: one company, id only. (GET
// /system/info is cheaper but may answer without credentials.)
func (c *Client) TestConnection(ctx context.Context) error {
	var page []struct {
		ID int `json:"id"`
	}
	q := url.Values{"pageSize": {"1"}, "fields": {"id"}}
	if err := c.get(ctx, "/company/companies", "/company/companies", q, &page); err != nil {
		return fmt.Errorf("test ConnectWise connection: %w", err)
	}
	return nil
}

// nextLink reports whether an answer links to a next page.
func nextLink(resp *vendorhttp.Response) bool {
	return resp != nil && vendorhttp.NextLink(resp.Header) != ""
}
