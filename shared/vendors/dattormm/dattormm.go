// Package dattormm is the Datto RMM client: it implements the shared/rmm
// interfaces on Datto RMM's API v2 through shared/vendorhttp.
//
// Datto has no organization above the site: a Datto site is the customer.
// The client maps each site to an rmm.Organization whose ID is the site's
// uid and which has exactly one rmm.Site with the same uid and name.
// Devices are addressed by their uid.
//
// Authentication is the OAuth password grant at {platform}/auth/oauth/token
// (the API key and secret as username and password, the fixed public
// client "public-client:public" as HTTP Basic auth); the token (100 hours)
// is cached and renewed once on 401. Lists page with page/max and follow
// pageDetails.nextPageUrl to its end, re-adding the query parameters
// Datto's links drop (max, filters).
//
// Rate limits: Datto allows 600 requests per rolling 60 s per account
// (reads and writes counted apart), slows answers past 90 %, answers 429
// past 100 %, and blocks the caller's address for minutes (403) when it
// keeps calling after a 429. So the client never retries a 429: the first
// one ends the call as apperr.Throttled with RetryAfter at least the 60 s
// window (longer when Datto's Retry-After says so; whether Datto sends one
// is unconfirmed), and the client then sends nothing until that time has
// passed (every call fails fast with Throttled). A 403 whose body speaks of
// a block is Throttled with a 5 min RetryAfter. 5xx answers and timeouts
// of reads are retried as vendorhttp does.
//
// Request budget: every request, token requests included, draws from the
// shared budget the opener gives (Config.Limiter, Spec.Budget: strict, 540
// a minute, keyed by the account: BudgetKey), and Datto's 429s and blocks
// cool it down for every function, so that no client sharing the budget
// sends anything until the window has passed. The budget calibrates itself
// on GET /v2/system/request_rate (at most once a minute across functions).
//
// Requests per call (token requests not counted; one per 100 h):
//
//	TestConnection        1   GET /v2/account
//	ListOrganizations     1 per page   GET /v2/account/sites
//	GetOrganization       1   GET /v2/site/{uid}
//	ListSites             1   GET /v2/site/{uid}
//	ListDevices           1 per page   GET /v2/site/{uid}/devices
//	GetDevice             2 (in turn)  GET /v2/device/{uid}, GET /v2/audit/device/{uid}
//	ListDeviceSnapshots   1 per page of 50 + 1 per device (audits, one at a time by default)
//	CreateOrganization    1   PUT /v2/site (+1 GET /v2/account/sites on 409)
//	ListAlerts            1 per page   GET /v2/site/{uid}/alerts/open or /v2/account/alerts/open
//	GetAlert, ResolveAlert 1  GET /v2/alert/{uid}
//	SetDeviceUDF, LinkAsset 1 POST /v2/device/{uid}/udf
//	RequestRate           1   GET /v2/system/request_rate
//
// ParseWebhook reads the two JSON bodies the README tells an MSP to paste
// into Datto (no request).
package dattormm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
)

// Defaults and fixed waits.
const (
	DefaultPageSize = 250
	// DefaultSnapshotPageSize is ListDeviceSnapshots' page: each device of
	// a page costs one audit read, and a page is all or nothing (a 429
	// ends it), so pages stay small enough to finish well inside a
	// minute's quota and a function's time.
	DefaultSnapshotPageSize = 50
	// DefaultConcurrency is 1: requests already in flight when Datto
	// answers a 429 reach it after that 429, which is what Datto answers
	// with its address block; one request at a time guarantees nothing
	// is sent after a 429.
	DefaultConcurrency = 1
	// throttleFloor is the least RetryAfter of a 429: Datto's rolling
	// window, after which the requests that filled it have aged out.
	throttleFloor = 60 * time.Second
	// blockWait is the RetryAfter of a 403 address block (community
	// clients wait 5 minutes).
	blockWait = 5 * time.Minute
)

// Config configures a Client.
type Config struct {
	// BaseURL is the platform's API URL, as Datto shows it next to the
	// API keys: https://{platform}-api.centrastage.net (a trailing /api
	// is accepted). The API is under /api, the token endpoint at
	// /auth/oauth/token.
	BaseURL   string
	APIKey    string
	APISecret string
	// PageSize is max per page (default 250, Datto's usual account
	// maximum); SnapshotPageSize is ListDeviceSnapshots' (default 50, at
	// most PageSize).
	PageSize         int
	SnapshotPageSize int
	// AssetUDF, 1 to 30, is the device user-defined field LinkAsset writes
	// our PSA asset id to (0: none).
	AssetUDF int
	// Concurrency bounds the audits ListDeviceSnapshots reads at once
	// (default 1; more is only safe while a budget keeps the account well
	// under Datto's quota).
	Concurrency int
	// Limiter is the account's request budget (shared/ratelimit, the
	// opener's p.Limiter(BudgetKey(...))): every request and token request
	// draws from it, and Datto's throttle answers cool it down. When it
	// can calibrate (ratelimit.Calibrator), the client calibrates it on
	// RequestRate. nil: no budget.
	Limiter vendorhttp.Limiter

	// Logger for request logs (nil discards); OnRequest observes every
	// attempt; Sleep replaces the retry wait (tests); MaxAttempts and
	// AttemptTimeout override vendorhttp's defaults; Now is the clock.
	Logger         *slog.Logger
	OnRequest      func(vendorhttp.Attempt)
	Sleep          func(ctx context.Context, d time.Duration) error
	MaxAttempts    int
	AttemptTimeout time.Duration
	Now            func() time.Time
}

// Client is a Datto RMM API client. It is safe for concurrent use.
type Client struct {
	http     *vendorhttp.Client
	auth     *passwordGrant
	pageSize int
	snapSize int
	udf      int
	conc     int
	now      func() time.Time
	calib    ratelimit.Calibrator // nil: no calibration
	logger   *slog.Logger

	mu        sync.Mutex
	coolUntil time.Time
}

// Compile-time checks: a complete RMM client with the bulk role.
var (
	_ rmm.Client               = (*Client)(nil)
	_ rmm.DeviceSnapshotLister = (*Client)(nil)
)

// New returns a client for cfg. httpClient sends API and token requests
// (nil: a default client).
func New(cfg Config, httpClient *http.Client) (*Client, error) {
	if strings.TrimSpace(cfg.APIKey) == "" || strings.TrimSpace(cfg.APISecret) == "" {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "credentials", Message: "Datto RMM needs an API key and an API secret key"})
	}
	host := strings.TrimSuffix(strings.TrimRight(cfg.BaseURL, "/"), "/api")
	if u, err := url.Parse(host); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "baseUrl", Message: "must be the platform's API URL, e.g. https://merlot-api.centrastage.net"})
	}
	if cfg.AssetUDF < 0 || cfg.AssetUDF > 30 {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "assetUdf", Message: "must be a user-defined field number from 1 to 30"})
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	hc := *httpClient
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = throttleTransport{base: base, now: now}
	c := &Client{pageSize: cfg.PageSize, udf: cfg.AssetUDF, conc: cfg.Concurrency, now: now}
	if c.pageSize <= 0 {
		c.pageSize = DefaultPageSize
	}
	if c.conc <= 0 {
		c.conc = DefaultConcurrency
	}
	c.snapSize = cfg.SnapshotPageSize
	if c.snapSize <= 0 {
		c.snapSize = DefaultSnapshotPageSize
	}
	c.snapSize = min(c.snapSize, c.pageSize)
	c.logger = cfg.Logger
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if cal, ok := cfg.Limiter.(ratelimit.Calibrator); ok {
		c.calib = cal
	}
	c.auth = newPasswordGrant(host+"/auth/oauth/token", cfg.APIKey, cfg.APISecret, &hc, now, c.gate, cfg.Limiter)
	v, err := vendorhttp.New(vendorhttp.Options{
		Name: "Datto RMM", BaseURL: host + "/api", Auth: c.auth, HTTPClient: &hc,
		ErrorDecoder: decodeError, Logger: cfg.Logger, OnRequest: cfg.OnRequest, Sleep: cfg.Sleep,
		MaxAttempts: cfg.MaxAttempts, AttemptTimeout: cfg.AttemptTimeout, Now: now,
		// Below throttleFloor, so a 429 (whose Retry-After the transport
		// raises to at least the floor) is never waited out and retried.
		MaxRetryAfter: throttleFloor / 2,
		Limiter:       cfg.Limiter,
		// A 403 address block is a throttle answer too (the transport
		// gives it blockWait as Retry-After): it cools the budget down.
		Throttled: func(status int, _ http.Header, body []byte) bool {
			return status == http.StatusForbidden && isBlock(body)
		},
	})
	if err != nil {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "baseUrl", Message: "must be an absolute http(s) URL"})
	}
	c.http = v
	return c, nil
}

// Requests returns how many API requests the client has sent (retries
// included, token requests not).
func (c *Client) Requests() int64 { return c.http.Requests() }

// TokenRequests returns how many token requests the client has sent.
func (c *Client) TokenRequests() int64 { return c.auth.Fetches() }

// throttleTransport raises a 429's Retry-After to at least throttleFloor
// (setting it when Datto sends none), so vendorhttp returns the 429 as
// Throttled at once instead of retrying into Datto's address block.
type throttleTransport struct {
	base http.RoundTripper
	now  func() time.Time
}

func (t throttleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	var ra time.Duration
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		ra, _ = vendorhttp.ParseRetryAfter(resp.Header, t.now())
		ra = max(ra, throttleFloor)
	case http.StatusForbidden:
		// An address block: its Retry-After (blockWait) makes vendorhttp
		// return it at once and cool the budget down for that long.
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if rerr != nil || !isBlock(body) {
			return resp, nil
		}
		ra = blockWait
	default:
		return resp, nil
	}
	resp.Header = resp.Header.Clone()
	resp.Header.Set("Retry-After", strconv.FormatInt(int64((ra+time.Second-1)/time.Second), 10))
	return resp, nil
}

// gate refuses to send while the client cools down after a 429 or a
// block.
func (c *Client) gate() error {
	c.mu.Lock()
	until := c.coolUntil
	c.mu.Unlock()
	if d := until.Sub(c.now()); d > 0 {
		return &apperr.Error{Kind: apperr.Throttled, RetryAfter: max(d.Round(time.Second), time.Second),
			Message: "Datto RMM asked rmmbridge to slow down; no request is sent until its rate window has passed"}
	}
	return nil
}

// coolDown holds every request for d.
func (c *Client) coolDown(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until := c.now().Add(d); until.After(c.coolUntil) {
		c.coolUntil = until
	}
}

// isBlock reports whether a 403 body is Datto's address block rather
// than a refusal of the API user (the block's body is undocumented; any
// mention of a block or of the rate limit counts).
func isBlock(body []byte) bool {
	b := strings.ToLower(string(body))
	return strings.Contains(b, "block") || strings.Contains(b, "rate limit")
}

// do sends r unless the client cools down, and classifies Datto's
// throttling: a 429 (Throttled from vendorhttp) or a 403 block starts the
// cool-down.
func (c *Client) do(ctx context.Context, r vendorhttp.Request, out any) (*vendorhttp.Response, error) {
	if err := c.gate(); err != nil {
		return nil, err
	}
	resp, err := c.http.Do(ctx, r, out)
	if err == nil {
		// After an answer the budget's bucket exists, which a
		// calibration claim needs.
		c.calibrate(ctx)
		return resp, nil
	}
	e, ok := apperr.As(err)
	if !ok {
		return resp, err
	}
	if e.VendorStatus == http.StatusForbidden && resp != nil && isBlock(resp.Body) {
		e = &apperr.Error{Kind: apperr.Throttled, RetryAfter: blockWait, VendorStatus: http.StatusForbidden, Err: err,
			Message: "Datto RMM has blocked rmmbridge's address for calling after a rate limit; it waits 5 minutes"}
	}
	// Only Datto's own refusals (they carry its status) start or extend
	// the cool-down; the gate's refusal inside a token fetch does not.
	if e.Kind == apperr.Throttled && e.VendorStatus != 0 {
		c.coolDown(max(e.RetryAfter, throttleFloor))
		if e.RetryAfter < throttleFloor {
			cp := *e
			cp.RetryAfter = throttleFloor
			e = &cp
		}
	}
	return resp, e
}

func (c *Client) get(ctx context.Context, route, path string, q url.Values, out any) error {
	_, err := c.do(ctx, vendorhttp.Request{Method: http.MethodGet, Path: path, Query: q, Route: route}, out)
	return err
}

// decodeError reads the Spring error body ({status, error, message}) or
// the OAuth one ({error, error_description}).
func decodeError(status int, body []byte) string {
	return vendorhttp.DecodeErrorMessage(status, body)
}

// isUID reports whether s has the shape of a Datto uid (a UUID; any
// letters, digits and dashes are let through to the API, anything else
// cannot be one): an ASCII letter or digit, then up to 63 letters, digits
// or dashes. A loop, not a regexp: nothing to compile at start.
func isUID(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// checkUID validates an rmm id as a Datto uid.
func checkUID(kind, id string) error {
	if !isUID(id) {
		return apperr.New(apperr.NotFound, "no Datto RMM %s %q", kind, id)
	}
	return nil
}

// TestConnection implements rmm.Tester with the account read.
func (c *Client) TestConnection(ctx context.Context) error {
	if err := c.get(ctx, "GET /v2/account", "/v2/account", nil, nil); err != nil {
		return fmt.Errorf("test Datto RMM connection: %w", err)
	}
	return nil
}

// followQuery turns a nextPageUrl into the query of the next request on
// path: the link's own parameters plus those of ours it dropped. The link
// is used for its parameters only; the request goes to the configured
// host, so a link can never send the token elsewhere.
func followQuery(next, path string, ours url.Values) (url.Values, error) {
	u, err := url.Parse(next)
	if err != nil || !strings.HasSuffix(u.Path, path) {
		return nil, fmt.Errorf("%q is not a next page of %s", clipText(next, 80), path)
	}
	q := u.Query()
	if p, err := strconv.Atoi(q.Get("page")); err != nil || p < 0 {
		return nil, fmt.Errorf("%q has no page number", clipText(next, 80))
	}
	for k, v := range ours {
		if _, ok := q[k]; !ok {
			q[k] = v
		}
	}
	return q, nil
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// collect pages through a list from its first page to the last,
// following nextPageUrl; page decodes one answer and returns its
// nextPageUrl and item count.
func (c *Client) collect(ctx context.Context, route, path string, q url.Values, page func(ctx context.Context, q url.Values) (next string, n int, err error)) error {
	next := ""
	for pages := 0; ; pages++ {
		query := q
		if next != "" {
			var err error
			if query, err = followQuery(next, path, q); err != nil {
				return apperr.Wrap(apperr.Vendor, err, "Datto RMM returned an unusable next page link")
			}
		}
		link, n, err := page(ctx, query)
		if err != nil {
			return err
		}
		if link == "" || n == 0 {
			return nil
		}
		if link == next || pages > 100_000 {
			return apperr.New(apperr.Vendor, "Datto RMM's %s paging does not end", route)
		}
		next = link
	}
}

// ListOrganizations implements rmm.OrganizationLister: every site, as an
// organization with itself as its one site.
func (c *Client) ListOrganizations(ctx context.Context) ([]rmm.Organization, error) {
	var out []rmm.Organization
	const route, path = "GET /v2/account/sites", "/v2/account/sites"
	err := c.collect(ctx, route, path, url.Values{"max": {strconv.Itoa(c.pageSize)}}, func(ctx context.Context, q url.Values) (string, int, error) {
		var p sitesPage
		if err := c.get(ctx, route, path, q, &p); err != nil {
			return "", 0, err
		}
		for _, s := range p.Sites {
			out = append(out, toOrganization(s))
		}
		return p.PageDetails.NextPageURL, len(p.Sites), nil
	})
	if err != nil {
		return nil, fmt.Errorf("list Datto RMM sites: %w", err)
	}
	return out, nil
}

// GetOrganization implements rmm.OrganizationGetter: the site of uid id.
func (c *Client) GetOrganization(ctx context.Context, id string) (rmm.Organization, error) {
	if err := checkUID("site", id); err != nil {
		return rmm.Organization{}, err
	}
	var s apiSite
	if err := c.get(ctx, "GET /v2/site/{siteUid}", "/v2/site/"+id, nil, &s); err != nil {
		return rmm.Organization{}, fmt.Errorf("get Datto RMM site %s: %w", id, err)
	}
	return toOrganization(s), nil
}

// ListSites implements rmm.SiteLister: the organization's one site.
func (c *Client) ListSites(ctx context.Context, organizationID string) ([]rmm.Site, error) {
	o, err := c.GetOrganization(ctx, organizationID)
	if err != nil {
		return nil, err
	}
	return o.Sites, nil
}

// devicePage reads one page of a site's devices: the first when cursor is
// "", else the nextPageUrl cursor names (with max re-added).
func (c *Client) devicePage(ctx context.Context, organizationID, cursor string, size int) ([]apiDevice, string, error) {
	if err := checkUID("site", organizationID); err != nil {
		return nil, "", err
	}
	path := "/v2/site/" + organizationID + "/devices"
	q := url.Values{"max": {strconv.Itoa(size)}}
	if cursor != "" {
		var err error
		if q, err = followQuery(cursor, path, q); err != nil {
			return nil, "", apperr.Wrap(apperr.Invalid, err, "the device cursor is not a Datto RMM next page link of site %s", organizationID)
		}
	}
	var p devicesPage
	if err := c.get(ctx, "GET /v2/site/{siteUid}/devices", path, q, &p); err != nil {
		return nil, "", fmt.Errorf("list Datto RMM devices of site %s: %w", organizationID, err)
	}
	next := p.PageDetails.NextPageURL
	if len(p.Devices) == 0 || next == cursor {
		next = ""
	}
	return p.Devices, next, nil
}

// ListDevices implements rmm.DeviceLister; the cursor is Datto's
// nextPageUrl. Listed devices lack what only the audit carries: serial
// number, manufacturer, model, volumes and MAC addresses (GetDevice and
// ListDeviceSnapshots fill them); their IP address is intIpAddress.
func (c *Client) ListDevices(ctx context.Context, organizationID, cursor string) (rmm.DevicePage, error) {
	devs, next, err := c.devicePage(ctx, organizationID, cursor, c.pageSize)
	if err != nil {
		return rmm.DevicePage{}, err
	}
	page := rmm.DevicePage{Devices: make([]rmm.Device, len(devs)), NextCursor: next}
	for i, d := range devs {
		page.Devices[i] = toDevice(d, nil)
	}
	return page, nil
}

// audit reads a device's audit; a device without one (404) gives nil.
func (c *Client) audit(ctx context.Context, uid string) (*apiAudit, error) {
	var a apiAudit
	err := c.get(ctx, "GET /v2/audit/device/{deviceUid}", "/v2/audit/device/"+uid, nil, &a)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read the Datto RMM audit of device %s: %w", uid, err)
	}
	return &a, nil
}

// GetDevice implements rmm.DeviceGetter: the device, then its audit (in
// turn, so a 429 on the first stops the second).
func (c *Client) GetDevice(ctx context.Context, id string) (rmm.Device, error) {
	if err := checkUID("device", id); err != nil {
		return rmm.Device{}, err
	}
	var d apiDevice
	if err := c.get(ctx, "GET /v2/device/{deviceUid}", "/v2/device/"+id, nil, &d); err != nil {
		return rmm.Device{}, fmt.Errorf("get Datto RMM device %s: %w", id, err)
	}
	a, err := c.audit(ctx, id)
	if err != nil {
		return rmm.Device{}, err
	}
	return toDevice(d, a), nil
}

// ListDeviceSnapshots implements rmm.DeviceSnapshotLister: a page of the
// site's devices (SnapshotPageSize of them) with each device's audit
// (Concurrency at a time). The first error (a 429 included) ends the
// page: no audit starts after it.
func (c *Client) ListDeviceSnapshots(ctx context.Context, organizationID, cursor string) (rmm.DevicePage, error) {
	devs, next, err := c.devicePage(ctx, organizationID, cursor, c.snapSize)
	if err != nil {
		return rmm.DevicePage{}, err
	}
	audits := make([]*apiAudit, len(devs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		work     = make(chan int)
	)
	for range min(c.conc, len(devs)) {
		wg.Go(func() {
			for i := range work {
				a, err := c.audit(ctx, devs[i].UID)
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					continue
				}
				audits[i] = a
			}
		})
	}
feed:
	for i := range devs {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return rmm.DevicePage{}, fmt.Errorf("snapshot Datto RMM devices of site %s: %w", organizationID, firstErr)
	}
	if err := ctx.Err(); err != nil {
		return rmm.DevicePage{}, apperr.Wrap(apperr.Unavailable, err, "snapshot Datto RMM devices of site %s", organizationID)
	}
	page := rmm.DevicePage{Devices: make([]rmm.Device, len(devs)), NextCursor: next}
	for i, d := range devs {
		page.Devices[i] = toDevice(d, audits[i])
	}
	return page, nil
}

// CreateOrganization implements rmm.OrganizationCreator with PUT
// /v2/site: the new site is the organization, and its one site. The
// requested site names have no Datto counterpart and are not used. A 409
// (a site of that name exists, e.g. our own earlier PUT whose answer was
// lost and which vendorhttp repeated) returns that site when exactly one
// has the name.
func (c *Client) CreateOrganization(ctx context.Context, o rmm.NewOrganization) (rmm.Organization, error) {
	name := strings.TrimSpace(o.Name)
	if name == "" {
		return rmm.Organization{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	var s apiSite
	_, err := c.do(ctx, vendorhttp.Request{Method: http.MethodPut, Path: "/v2/site", Route: "PUT /v2/site",
		Body: apiNewSite{Name: name, Description: o.Description}}, &s)
	if apperr.Is(err, apperr.Conflict) {
		if found, ok, ferr := c.siteNamed(ctx, name); ferr == nil && ok {
			return toOrganization(found), nil
		}
	}
	if err != nil {
		return rmm.Organization{}, fmt.Errorf("create Datto RMM site %q: %w", name, err)
	}
	if s.UID == "" {
		return rmm.Organization{}, apperr.New(apperr.Vendor, "Datto RMM created the site without returning its uid")
	}
	return toOrganization(s), nil
}

// siteNamed finds the one site named name (case and outer spaces
// ignored) with the siteName filter.
func (c *Client) siteNamed(ctx context.Context, name string) (apiSite, bool, error) {
	var found []apiSite
	const route, path = "GET /v2/account/sites", "/v2/account/sites"
	err := c.collect(ctx, route, path, url.Values{"max": {strconv.Itoa(c.pageSize)}, "siteName": {name}}, func(ctx context.Context, q url.Values) (string, int, error) {
		var p sitesPage
		if err := c.get(ctx, route, path, q, &p); err != nil {
			return "", 0, err
		}
		for _, s := range p.Sites {
			if strings.EqualFold(strings.TrimSpace(s.Name), name) {
				found = append(found, s)
			}
		}
		return p.PageDetails.NextPageURL, len(p.Sites), nil
	})
	if err != nil || len(found) != 1 {
		return apiSite{}, false, err
	}
	return found[0], true, nil
}

// CreateSite implements rmm.SiteCreator: Datto has no site inside a site,
// so it answers apperr.NotImplemented (the spec does not offer
// sites.create).
func (c *Client) CreateSite(ctx context.Context, organizationID, name string) (rmm.Site, error) {
	return rmm.Site{}, apperr.New(apperr.NotImplemented, "Datto RMM has no sites inside a site: each Datto site is one organization with one site")
}

// ListAlerts implements rmm.AlertLister: the open alerts of a site, or of
// the account when organizationID is "".
func (c *Client) ListAlerts(ctx context.Context, organizationID string) ([]rmm.Alert, error) {
	route, path := "GET /v2/account/alerts/open", "/v2/account/alerts/open"
	if organizationID != "" {
		if err := checkUID("site", organizationID); err != nil {
			return nil, err
		}
		route, path = "GET /v2/site/{siteUid}/alerts/open", "/v2/site/"+organizationID+"/alerts/open"
	}
	var out []rmm.Alert
	err := c.collect(ctx, route, path, url.Values{"max": {strconv.Itoa(c.pageSize)}}, func(ctx context.Context, q url.Values) (string, int, error) {
		var p alertsPage
		if err := c.get(ctx, route, path, q, &p); err != nil {
			return "", 0, err
		}
		for _, a := range p.Alerts {
			out = append(out, toAlert(a))
		}
		return p.PageDetails.NextPageURL, len(p.Alerts), nil
	})
	if err != nil {
		return nil, fmt.Errorf("list Datto RMM open alerts: %w", err)
	}
	return out, nil
}

// SetDeviceUDF writes value to user-defined field n (1–30) of device id
// ("" clears it).
func (c *Client) SetDeviceUDF(ctx context.Context, id string, n int, value string) error {
	if err := checkUID("device", id); err != nil {
		return err
	}
	if n < 1 || n > 30 {
		return apperr.InvalidFields(apperr.FieldError{Field: "assetUdf", Message: "must be a user-defined field number from 1 to 30"})
	}
	if len(value) > 255 {
		return apperr.InvalidFields(apperr.FieldError{Field: "value", Message: "a Datto user-defined field holds at most 255 characters"})
	}
	body := map[string]string{"udf" + strconv.Itoa(n): value}
	if _, err := c.do(ctx, vendorhttp.Request{Method: http.MethodPost, Path: "/v2/device/" + id + "/udf", Body: body,
		Route: "POST /v2/device/{deviceUid}/udf", Idempotent: true}, nil); err != nil {
		return fmt.Errorf("set Datto RMM device %s udf%d: %w", id, n, err)
	}
	return nil
}

// LinkAsset writes our PSA asset id to the device UDF the connection's
// assetUdf setting names; without that setting it does nothing.
func (c *Client) LinkAsset(ctx context.Context, deviceID, assetID string) error {
	if c.udf == 0 {
		return nil
	}
	return c.SetDeviceUDF(ctx, deviceID, c.udf, assetID)
}

// toOrganization maps a site.
func toOrganization(s apiSite) rmm.Organization {
	return rmm.Organization{ID: s.UID, Name: s.Name, Description: s.Description,
		Sites: []rmm.Site{{ID: s.UID, OrganizationID: s.UID, Name: s.Name}}}
}

// deviceType maps deviceClass, deviceType.category and the operating
// system's name.
func deviceType(d apiDevice) rmm.DeviceType {
	class, cat, os := strings.ToLower(d.DeviceClass), strings.ToLower(d.DeviceType.Category), strings.ToLower(d.OperatingSystem)
	has := func(s string, subs ...string) bool {
		for _, x := range subs {
			if strings.Contains(s, x) {
				return true
			}
		}
		return false
	}
	switch {
	case class == "esxihost" || has(cat, "esxi", "hypervisor"):
		return rmm.DeviceVMHost
	case class == "printer" || class == "rmmnetworkdevice" || has(cat, "network", "printer"):
		return rmm.DeviceNetwork
	case has(cat, "mobile", "phone", "tablet") || strings.HasPrefix(os, "ios") || strings.HasPrefix(os, "ipados") || has(os, "android"):
		return rmm.DeviceMobile
	case has(cat, "server") || has(os, "server"):
		return rmm.DeviceServer
	case has(os, "mac"):
		return rmm.DeviceMac
	case has(os, "linux", "ubuntu", "debian", "centos", "rocky", "red hat", "fedora", "suse"):
		return rmm.DeviceLinux
	case has(cat, "virtual"):
		return rmm.DeviceVM
	case has(os, "windows") || has(cat, "desktop", "laptop", "workstation"):
		return rmm.DeviceWorkstation
	}
	return rmm.DeviceOther
}

// storageDisk reports whether a logical disk is the device's own storage
// (removable, optical and network drives are not).
func storageDisk(description string, size int64) bool {
	d := strings.ToLower(description)
	for _, not := range []string{"removable", "cd-rom", "optical", "network", "floppy"} {
		if strings.Contains(d, not) {
			return false
		}
	}
	return size > 0
}

// toDevice maps a device and, when read, its audit. Datto keeps the
// operating system as one string (OS.Name) and only whether it is 64-bit
// (Architecture "64-bit", else empty). The serial number is the BIOS
// serial, or the base board's when the BIOS one is a placeholder and the
// board's is not.
func toDevice(d apiDevice, a *apiAudit) rmm.Device {
	dev := rmm.Device{
		ID: d.UID, OrganizationID: d.SiteUID, SiteID: d.SiteUID, Name: strings.TrimSpace(d.Hostname),
		DisplayName: strings.TrimSpace(d.Description), DeviceType: deviceType(d),
		OS: rmm.OS{Name: strings.TrimSpace(d.OperatingSystem)}, LastLoggedInUser: strings.TrimSpace(d.LastLoggedInUser),
		LastCheckIn: d.LastSeen.Time, Offline: !d.Online,
	}
	if d.A64Bit {
		dev.OS.Architecture = "64-bit"
	}
	if d.IntIPAddress != "" {
		dev.IPAddresses = []string{d.IntIPAddress}
	}
	if a == nil {
		return dev
	}
	dev.Manufacturer, dev.Model = strings.TrimSpace(a.SystemInfo.Manufacturer), strings.TrimSpace(a.SystemInfo.Model)
	dev.SerialNumber = strings.TrimSpace(a.Bios.SerialNumber)
	if board := strings.TrimSpace(a.BaseBoard.SerialNumber); rmm.IsPlaceholderSerial(dev.SerialNumber) && !rmm.IsPlaceholderSerial(board) {
		dev.SerialNumber = board
	}
	for _, ld := range a.LogicalDisks {
		if storageDisk(ld.Description, ld.Size) {
			dev.Volumes = append(dev.Volumes, rmm.Volume{Name: strings.TrimSpace(ld.DiskIdentifier), CapacityBytes: ld.Size, FreeBytes: max(0, min(ld.Freespace, ld.Size))})
		}
	}
	var v4, v6 []string
	for _, n := range a.Nics {
		if ip := strings.TrimSpace(n.IPv4); ip != "" {
			v4 = append(v4, ip)
		}
		for _, ip := range strings.Split(n.IPv6, ",") {
			if ip = strings.TrimSpace(ip); ip != "" {
				v6 = append(v6, ip)
			}
		}
		if m := strings.TrimSpace(n.MACAddress); m != "" {
			dev.MACAddresses = append(dev.MACAddresses, m)
		}
	}
	if ips := append(v4, v6...); len(ips) > 0 {
		dev.IPAddresses = ips
	}
	return dev
}
