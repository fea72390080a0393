// Package tacticalrmm is the Tactical RMM client: it implements the
// shared/rmm interfaces on a self-hosted Tactical install's REST API (its
// Django routes, trailing slashes included) through shared/vendorhttp.
//
// Authentication is the X-API-KEY header (an API key bound to a Tactical
// user, whose role sets its permissions). Clients are organizations,
// sites are sites, agents are devices; a device's id is the agent's string
// agent_id (the detail endpoint's key).
//
// Lists: classic endpoints return whole arrays. With Config.BetaAPI (the
// install has BETA_API_ENABLED) agents are read from /beta/v1/agent/ in
// pages of up to 1,000 with every model field (site id, wmi_detail,
// disks), which makes the devices.snapshot role one request per 1,000
// devices. Without it, devices are listed with ?detail=false (ids and
// names) and each device's attributes come from its detail. If the beta
// API answers 404 (the setting is on but the install does not serve it)
// the client falls back to the classic endpoints for its lifetime and logs
// a warning: slower, never wrong.
//
// Errors: Tactical answers refusals in three shapes, all read into
// apperr: notify_error's bare JSON string with 400 ("monitoring type does
// not exist"), DRF validation bodies {field: [msg]} (the field becomes an
// apperr.FieldError), and {"detail": msg} for 401/403/404. Creates answer
// a plain string ("Acme was added"), never the record: the client reads
// the record back by its name (unique per install for clients, per client
// for sites).
//
// Requests per call:
//
//	TestConnection      1   GET /clients/
//	ListOrganizations   1   GET /clients/ (sites nested)
//	GetOrganization     1   GET /clients/{id}/
//	ListSites           1   GET /clients/{id}/
//	ListDevices         beta: 1 per page   GET /beta/v1/agent/?client_id=
//	                    (+1 GET /clients/{id}/ when the first page is
//	                    empty: a missing client is NotFound, not empty)
//	                    classic: 2 per page   GET /clients/{id}/ (site ids),
//	                    GET /agents/?detail=false&client= (the whole list,
//	                    cut into pages by the client)
//	ListDeviceSnapshots beta: as ListDevices; after a fallback: classic
//	                    ListDevices + 1 GET /agents/{agent_id}/ per device
//	GetDevice           1–2 GET /agents/{agent_id}/, and GET
//	                    /clients/sites/{id}/ (the detail names the client,
//	                    the site has its id) unless a list of the last
//	                    10 minutes showed the site's client
//	CreateOrganization  3 + sites-1   POST /clients/ (with the first site),
//	                    GET /clients/ (its id), POST /clients/sites/ per
//	                    further site, GET /clients/{id}/
//	CreateSite          2   POST /clients/sites/, GET /clients/{id}/
//	ListAlerts          1   PATCH /alerts/ (the alerts query)
//
// ParseWebhook reads the URL Action bodies the README documents (no
// request).
package tacticalrmm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
)

// Defaults and limits.
const (
	// MaxBetaPageSize is the beta API's page size cap (max_page_size).
	MaxBetaPageSize = 1000
	// DefaultPageSize is the page size of device lists.
	DefaultPageSize = MaxBetaPageSize
	// DefaultFirstSite names the first site of an organization created
	// without site names (Tactical creates a client with its first site).
	DefaultFirstSite = "Main Office"
	// snapshotConcurrency bounds the detail reads of a classic snapshot.
	snapshotConcurrency = 4
	// siteCacheTTL is how long the client trusts a site's client id it
	// has seen (sites practically never move between clients; one that
	// does shows under its old organization for at most this long).
	siteCacheTTL = 10 * time.Minute
)

// Config configures a Client.
type Config struct {
	// BaseURL is the install's API host, e.g. https://api.example.com
	// (Tactical's routes are below it).
	BaseURL string
	// APIKey is sent as X-API-KEY.
	APIKey string
	// BetaAPI reads agents from the paged /beta/v1/ API (the install has
	// BETA_API_ENABLED).
	BetaAPI bool
	// PageSize of device lists (default and cap 1,000).
	PageSize int
	// Limiter is the install's request budget (shared/ratelimit; the
	// opener's p.Limiter(BudgetKey(...))): every request draws from it,
	// all of them one endpoint for its concurrency limit, and 429s cool it
	// down. nil: no budget.
	Limiter vendorhttp.Limiter

	Logger         *slog.Logger
	OnRequest      func(vendorhttp.Attempt)
	Sleep          func(ctx context.Context, d time.Duration) error
	MaxAttempts    int
	AttemptTimeout time.Duration
}

// Client is a Tactical RMM API client. It is safe for concurrent use.
type Client struct {
	http     *vendorhttp.Client
	log      *slog.Logger
	pageSize int
	beta     bool
	// betaMissing is set when the install answered the beta API with 404.
	betaMissing atomic.Bool
	// sites caches site id → client id, from every answer that names
	// both, so GetDevice needs no site read when it is warm.
	mu    sync.Mutex
	sites map[int]siteOwner
	now   func() time.Time
}

type siteOwner struct {
	client int
	at     time.Time
}

// remember caches the client of each site of cl.
func (c *Client) remember(cl apiClient) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for _, s := range cl.Sites {
		if s.ID != 0 {
			c.sites[int(s.ID)] = siteOwner{client: int(cmp.Or(s.Client, cl.ID)), at: now}
		}
	}
}

// clientOfSite returns the cached client of site, if fresh.
func (c *Client) clientOfSite(site int) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.sites[site]
	if !ok || c.now().Sub(o.at) > siteCacheTTL {
		return 0, false
	}
	return o.client, true
}

// Compile-time checks: a complete RMM client with the bulk role.
var (
	_ rmm.Client               = (*Client)(nil)
	_ rmm.DeviceSnapshotLister = (*Client)(nil)
)

// New returns a client for cfg; httpClient nil uses a default client.
func New(cfg Config, httpClient *http.Client) (*Client, error) {
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "credentials.apiKey", Message: "Tactical RMM needs an API key"})
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc, err := vendorhttp.New(vendorhttp.Options{
		Name:           "Tactical RMM",
		BaseURL:        strings.TrimRight(cfg.BaseURL, "/"),
		Auth:           vendorhttp.HeaderAuth{Header: http.Header{"X-Api-Key": {cfg.APIKey}}},
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
	ps := cfg.PageSize
	if ps <= 0 || ps > MaxBetaPageSize {
		ps = DefaultPageSize
	}
	return &Client{http: hc, log: log, pageSize: ps, beta: cfg.BetaAPI, sites: map[int]siteOwner{}, now: time.Now}, nil
}

// Requests returns how many API requests the client has sent.
func (c *Client) Requests() int64 { return c.http.Requests() }

// decodeError reads Tactical's three error shapes: a bare JSON string
// (notify_error), {"detail": msg}, and DRF's {field: [msg, ...]}
// ("field: msg; other: msg").
func decodeError(status int, body []byte) string {
	var s string
	if json.Unmarshal(body, &s) == nil {
		return s
	}
	var d struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &d) == nil && d.Detail != "" {
		return d.Detail
	}
	if fields := drfFields(body); len(fields) > 0 {
		parts := make([]string, len(fields))
		for i, f := range fields {
			parts[i] = f.Field + ": " + f.Message
			if f.Field == "" {
				parts[i] = f.Message
			}
		}
		return strings.Join(parts, "; ")
	}
	return vendorhttp.DecodeErrorMessage(status, body)
}

// drfFields reads a DRF validation body {field: [msg, ...]} (a message may
// also be a bare string), sorted by field; "non_field_errors" has no field.
func drfFields(body []byte) []apperr.FieldError {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	var out []apperr.FieldError
	for k, raw := range m {
		var msgs []string
		if json.Unmarshal(raw, &msgs) != nil {
			var one string
			if json.Unmarshal(raw, &one) != nil {
				continue
			}
			msgs = []string{one}
		}
		field := k
		if k == "non_field_errors" {
			field = ""
		}
		for _, msg := range msgs {
			out = append(out, apperr.FieldError{Field: field, Message: msg})
		}
	}
	slices.SortFunc(out, func(a, b apperr.FieldError) int { return cmp.Compare(a.Field, b.Field) })
	return out
}

// do sends r; a 400 with a DRF body gets its fields on the apperr.Error.
func (c *Client) do(ctx context.Context, r vendorhttp.Request, out any) error {
	resp, err := c.http.Do(ctx, r, out)
	if e, ok := apperr.As(err); ok && e.VendorStatus == http.StatusBadRequest && resp != nil {
		if fields := drfFields(resp.Body); len(fields) > 0 {
			cp := *e
			for _, f := range fields {
				if f.Field != "" {
					cp.Fields = append(cp.Fields, f)
				}
			}
			return &cp
		}
	}
	return err
}

func (c *Client) get(ctx context.Context, route, path string, q url.Values, out any) error {
	return c.do(ctx, vendorhttp.Request{Method: http.MethodGet, Path: path, Query: q, Route: route}, out)
}

// TestConnection implements rmm.Tester: the client list (the key must
// be able to read clients).
func (c *Client) TestConnection(ctx context.Context) error {
	var clients []apiClient
	if err := c.get(ctx, "GET /clients/", "/clients/", nil, &clients); err != nil {
		return fmt.Errorf("test Tactical RMM connection: %w", err)
	}
	return nil
}

// parseID validates an organization or site id (Tactical's integer pk).
func parseID(kind, id string) (int, error) {
	n, err := strconv.Atoi(id)
	if err != nil || n <= 0 {
		return 0, apperr.New(apperr.NotFound, "no Tactical RMM %s %q", kind, id)
	}
	return n, nil
}

// ListOrganizations implements rmm.OrganizationLister.
func (c *Client) ListOrganizations(ctx context.Context) ([]rmm.Organization, error) {
	var clients []apiClient
	if err := c.get(ctx, "GET /clients/", "/clients/", nil, &clients); err != nil {
		return nil, fmt.Errorf("list Tactical RMM clients: %w", err)
	}
	out := make([]rmm.Organization, len(clients))
	for i, cl := range clients {
		c.remember(cl)
		out[i] = toOrganization(cl)
	}
	return out, nil
}

func (c *Client) getClient(ctx context.Context, n int) (apiClient, error) {
	var cl apiClient
	if err := c.get(ctx, "GET /clients/{id}/", fmt.Sprintf("/clients/%d/", n), nil, &cl); err != nil {
		return apiClient{}, fmt.Errorf("get Tactical RMM client %d: %w", n, err)
	}
	c.remember(cl)
	return cl, nil
}

// GetOrganization implements rmm.OrganizationGetter.
func (c *Client) GetOrganization(ctx context.Context, id string) (rmm.Organization, error) {
	n, err := parseID("client", id)
	if err != nil {
		return rmm.Organization{}, err
	}
	cl, err := c.getClient(ctx, n)
	if err != nil {
		return rmm.Organization{}, err
	}
	return toOrganization(cl), nil
}

// ListSites implements rmm.SiteLister (the client's nested sites).
func (c *Client) ListSites(ctx context.Context, organizationID string) ([]rmm.Site, error) {
	o, err := c.GetOrganization(ctx, organizationID)
	if err != nil {
		return nil, err
	}
	return o.Sites, nil
}

// cursor is a position in a device list: a beta page number or an offset
// into the classic list.
type cursor struct {
	beta  bool
	value int
}

func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	if len(s) > 1 && (s[0] == 'p' || s[0] == 'o') {
		if n, err := strconv.Atoi(s[1:]); err == nil && n > 0 {
			return cursor{beta: s[0] == 'p', value: n}, nil
		}
	}
	return cursor{}, apperr.New(apperr.Invalid, "the device cursor %q is not one this client returned", s)
}

// useBeta reports whether agent lists go to the beta API.
func (c *Client) useBeta() bool { return c.beta && !c.betaMissing.Load() }

// ListDevices implements rmm.DeviceLister. With the beta API, listed
// devices carry every attribute; from the classic list they carry the id,
// organization, site and name only (GetDevice reads the rest).
func (c *Client) ListDevices(ctx context.Context, organizationID, cur string) (rmm.DevicePage, error) {
	return c.listDevices(ctx, organizationID, cur, false)
}

// ListDeviceSnapshots implements rmm.DeviceSnapshotLister: beta pages
// (every attribute, one request per page); when the install turned out
// not to serve the beta API, the classic page with one detail read per
// device. Without Config.BetaAPI the role is not offered
// (apperr.NotImplemented).
func (c *Client) ListDeviceSnapshots(ctx context.Context, organizationID, cur string) (rmm.DevicePage, error) {
	if !c.beta {
		return rmm.DevicePage{}, apperr.New(apperr.NotImplemented, "Tactical RMM device snapshots need the beta API (the betaApi setting)")
	}
	return c.listDevices(ctx, organizationID, cur, true)
}

func (c *Client) listDevices(ctx context.Context, organizationID, cur string, full bool) (rmm.DevicePage, error) {
	n, err := parseID("client", organizationID)
	if err != nil {
		return rmm.DevicePage{}, err
	}
	pos, err := parseCursor(cur)
	if err != nil {
		return rmm.DevicePage{}, err
	}
	if c.useBeta() && (cur == "" || pos.beta) {
		page, err := c.betaPage(ctx, n, max(pos.value, 1))
		if !errors.Is(err, errBetaMissing) {
			return page, err
		}
		if cur != "" {
			return rmm.DevicePage{}, apperr.New(apperr.Unavailable, "the Tactical RMM beta API disappeared while listing devices; list again")
		}
	}
	if pos.beta {
		return rmm.DevicePage{}, apperr.New(apperr.Invalid, "the device cursor %q belongs to the beta API, which this client does not use", cur)
	}
	page, err := c.classicPage(ctx, n, pos.value)
	if err != nil || !full {
		return page, err
	}
	return c.fillDetails(ctx, page)
}

// errBetaMissing says the install does not serve the beta API.
var errBetaMissing = errors.New("the install does not serve /beta/v1/")

// betaPage reads page p (from 1) of the client's agents from the beta API.
// A 404 other than DRF's "Invalid page." means the install has no beta
// API: the client remembers it and falls back.
func (c *Client) betaPage(ctx context.Context, clientID, p int) (rmm.DevicePage, error) {
	q := url.Values{"client_id": {strconv.Itoa(clientID)}, "page": {strconv.Itoa(p)},
		"page_size": {strconv.Itoa(c.pageSize)}, "ordering": {"id"}}
	var page apiBetaPage
	resp, err := c.http.Do(ctx, vendorhttp.Request{Method: http.MethodGet, Path: "/beta/v1/agent/", Query: q, Route: "GET /beta/v1/agent/"}, &page)
	if apperr.Is(err, apperr.NotFound) {
		if resp != nil && strings.Contains(decodeError(resp.Status, resp.Body), "Invalid page") {
			// The list shrank under us: this page is past its end.
			return rmm.DevicePage{}, nil
		}
		c.betaMissing.Store(true)
		c.log.WarnContext(ctx, "Tactical RMM beta API not served (BETA_API_ENABLED off?); using the classic endpoints", "client", clientID)
		return rmm.DevicePage{}, errBetaMissing
	}
	if err != nil {
		return rmm.DevicePage{}, fmt.Errorf("list Tactical RMM agents of client %d (beta page %d): %w", clientID, p, err)
	}
	if p == 1 && len(page.Results) == 0 {
		// The beta filter answers an empty page for a client that does
		// not exist; a deleted client must not read as one without
		// devices.
		if _, err := c.getClient(ctx, clientID); err != nil {
			return rmm.DevicePage{}, err
		}
	}
	out := rmm.DevicePage{Devices: make([]rmm.Device, 0, len(page.Results))}
	for _, a := range page.Results {
		out.Devices = append(out.Devices, toDevice(a, strconv.Itoa(clientID)))
	}
	if page.Next != nil && *page.Next != "" && len(page.Results) > 0 {
		out.NextCursor = "p" + strconv.Itoa(p+1)
	}
	return out, nil
}

// classicPage cuts the page at offset from the client's whole agent list
// (?detail=false), ordered by pk; site names become ids through the
// client's sites.
func (c *Client) classicPage(ctx context.Context, clientID, offset int) (rmm.DevicePage, error) {
	cl, err := c.getClient(ctx, clientID)
	if err != nil {
		return rmm.DevicePage{}, err
	}
	siteIDs := map[string]string{}
	for _, s := range cl.Sites {
		siteIDs[s.Name] = s.ID.String()
	}
	var rows []apiAgentRow
	q := url.Values{"detail": {"false"}, "client": {strconv.Itoa(clientID)}}
	if err := c.get(ctx, "GET /agents/", "/agents/", q, &rows); err != nil {
		return rmm.DevicePage{}, fmt.Errorf("list Tactical RMM agents of client %d: %w", clientID, err)
	}
	slices.SortFunc(rows, func(a, b apiAgentRow) int { return cmp.Compare(a.ID, b.ID) })
	if offset > len(rows) {
		offset = len(rows)
	}
	end := min(offset+c.pageSize, len(rows))
	page := rmm.DevicePage{Devices: make([]rmm.Device, 0, end-offset)}
	for _, r := range rows[offset:end] {
		page.Devices = append(page.Devices, rmm.Device{ID: r.AgentID, OrganizationID: strconv.Itoa(clientID),
			SiteID: siteIDs[r.Site], Name: r.Hostname, DeviceType: rmm.DeviceOther})
	}
	if end < len(rows) {
		page.NextCursor = "o" + strconv.Itoa(end)
	}
	return page, nil
}

// fillDetails replaces a classic page's devices by their details.
func (c *Client) fillDetails(ctx context.Context, page rmm.DevicePage) (rmm.DevicePage, error) {
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, snapshotConcurrency)
		errs = make([]error, len(page.Devices))
	)
	for i := range page.Devices {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			d := page.Devices[i]
			a, err := c.agentDetail(ctx, d.ID)
			if err != nil {
				errs[i] = err
				return
			}
			full := toDevice(a, d.OrganizationID)
			full.SiteID = cmp.Or(full.SiteID, d.SiteID)
			page.Devices[i] = full
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return rmm.DevicePage{}, err
	}
	return page, nil
}

func (c *Client) agentDetail(ctx context.Context, id string) (apiAgent, error) {
	if strings.TrimSpace(id) == "" || strings.ContainsAny(id, "/?#") {
		return apiAgent{}, apperr.New(apperr.NotFound, "no Tactical RMM agent %q", id)
	}
	var a apiAgent
	if err := c.get(ctx, "GET /agents/{agent_id}/", "/agents/"+url.PathEscape(id)+"/", nil, &a); err != nil {
		return apiAgent{}, fmt.Errorf("get Tactical RMM agent %s: %w", id, err)
	}
	if a.AgentID == "" {
		a.AgentID = id
	}
	return a, nil
}

// GetDevice implements rmm.DeviceGetter: the agent's detail, and its
// site for the client id (the detail names the client only) unless the
// client has seen that site's client in the last siteCacheTTL.
func (c *Client) GetDevice(ctx context.Context, id string) (rmm.Device, error) {
	a, err := c.agentDetail(ctx, id)
	if err != nil {
		return rmm.Device{}, err
	}
	if a.Site == 0 {
		return toDevice(a, ""), nil
	}
	client, ok := c.clientOfSite(int(a.Site))
	if !ok {
		var site apiSite
		if err := c.get(ctx, "GET /clients/sites/{id}/", fmt.Sprintf("/clients/sites/%d/", a.Site), nil, &site); err != nil {
			return rmm.Device{}, fmt.Errorf("get the site of Tactical RMM agent %s: %w", id, err)
		}
		client = int(site.Client)
		c.remember(apiClient{ID: site.Client, Sites: []apiSite{site}})
	}
	return toDevice(a, flexInt(client).String()), nil
}

// checkName validates a client or site name as Tactical does (no "|").
func checkName(field, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return apperr.InvalidFields(apperr.FieldError{Field: field, Message: "is required"})
	case strings.Contains(name, "|"):
		return apperr.InvalidFields(apperr.FieldError{Field: field, Message: "Tactical RMM names may not contain |"})
	case len(name) > 255:
		return apperr.InvalidFields(apperr.FieldError{Field: field, Message: "Tactical RMM names have at most 255 characters"})
	}
	return nil
}

// CreateOrganization implements rmm.OrganizationCreator: POST /clients/
// with the first site (DefaultFirstSite when none is named), the new
// client's id read back by its name, one POST /clients/sites/ per further
// site, then the client read back. Tactical keeps no description. A
// failure after the client exists returns what was created with the
// error.
func (c *Client) CreateOrganization(ctx context.Context, o rmm.NewOrganization) (rmm.Organization, error) {
	name := strings.TrimSpace(o.Name)
	if err := checkName("name", name); err != nil {
		return rmm.Organization{}, err
	}
	var sites []string
	for _, s := range o.Sites {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(sites, s) {
			if err := checkName("sites", s); err != nil {
				return rmm.Organization{}, err
			}
			sites = append(sites, s)
		}
	}
	if len(sites) == 0 {
		sites = []string{DefaultFirstSite}
	}
	body := map[string]any{"client": map[string]string{"name": name}, "site": map[string]string{"name": sites[0]}, "custom_fields": []any{}}
	if err := c.do(ctx, vendorhttp.Request{Method: http.MethodPost, Path: "/clients/", Body: body, Route: "POST /clients/"}, nil); err != nil {
		return rmm.Organization{}, fmt.Errorf("create Tactical RMM client %q: %w", name, err)
	}
	all, err := c.ListOrganizations(ctx)
	if err != nil {
		return rmm.Organization{}, fmt.Errorf("read back new Tactical RMM client %q: %w", name, err)
	}
	var org rmm.Organization
	for _, x := range all {
		if x.Name == name {
			org = x
		}
	}
	if org.ID == "" {
		return rmm.Organization{}, apperr.New(apperr.Vendor, "Tactical RMM added client %q but does not list it", name)
	}
	for _, s := range sites[1:] {
		if _, err := c.postSite(ctx, org.ID, s); err != nil {
			return org, err
		}
	}
	if len(sites) > 1 {
		if org, err = c.GetOrganization(ctx, org.ID); err != nil {
			return org, fmt.Errorf("read back new Tactical RMM client %q: %w", name, err)
		}
	}
	return org, nil
}

// postSite posts a site; a DRF refusal naming the client ("Invalid pk …
// does not exist") is NotFound.
func (c *Client) postSite(ctx context.Context, organizationID, name string) (int, error) {
	n, err := parseID("client", organizationID)
	if err != nil {
		return 0, err
	}
	body := map[string]any{"site": map[string]any{"client": n, "name": name}, "custom_fields": []any{}}
	err = c.do(ctx, vendorhttp.Request{Method: http.MethodPost, Path: "/clients/sites/", Body: body, Route: "POST /clients/sites/"}, nil)
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
		for _, f := range e.Fields {
			if f.Field == "client" && strings.Contains(f.Message, "does not exist") {
				return 0, apperr.Wrap(apperr.NotFound, err, "no Tactical RMM client %d", n)
			}
		}
	}
	if err != nil {
		return 0, fmt.Errorf("create Tactical RMM site %q in client %d: %w", name, n, err)
	}
	return n, nil
}

// CreateSite implements rmm.SiteCreator: POST /clients/sites/, then the
// client read back for the new site's id.
func (c *Client) CreateSite(ctx context.Context, organizationID, name string) (rmm.Site, error) {
	name = strings.TrimSpace(name)
	if _, err := parseID("client", organizationID); err != nil {
		return rmm.Site{}, err
	}
	if err := checkName("name", name); err != nil {
		return rmm.Site{}, err
	}
	if _, err := c.postSite(ctx, organizationID, name); err != nil {
		return rmm.Site{}, err
	}
	o, err := c.GetOrganization(ctx, organizationID)
	if err != nil {
		return rmm.Site{}, fmt.Errorf("read back new Tactical RMM site %q: %w", name, err)
	}
	for _, s := range o.Sites {
		if s.Name == name {
			return s, nil
		}
	}
	return rmm.Site{}, apperr.New(apperr.Vendor, "Tactical RMM added site %q but does not list it", name)
}

// ListAlerts implements rmm.AlertLister with the alerts query (PATCH
// /alerts/, unresolved and not snoozed). [P] The query's rows name the
// client, not its id: alerts of all organizations carry no
// OrganizationID.
func (c *Client) ListAlerts(ctx context.Context, organizationID string) ([]rmm.Alert, error) {
	body := map[string]any{"resolvedFilter": false, "snoozedFilter": false}
	if organizationID != "" {
		n, err := parseID("client", organizationID)
		if err != nil {
			return nil, err
		}
		body["clientFilter"] = []int{n}
	}
	var alerts []apiAlert
	if err := c.do(ctx, vendorhttp.Request{Method: http.MethodPatch, Path: "/alerts/", Body: body, Route: "PATCH /alerts/", Idempotent: true}, &alerts); err != nil {
		return nil, fmt.Errorf("list Tactical RMM alerts: %w", err)
	}
	out := make([]rmm.Alert, 0, len(alerts))
	for _, a := range alerts {
		if a.Resolved {
			continue
		}
		source := cmp.Or(nestedName(a.AssignedCheck, "readable_desc"), nestedName(a.AssignedTask, "name"), a.AlertType)
		al := rmm.Alert{SeriesID: a.ID.String(), DeviceID: a.AgentID, DeviceName: a.Hostname, OrganizationID: organizationID,
			State: rmm.AlertTriggered, Severity: severity(a.Severity), Code: a.AlertType, Subject: a.Message, Message: a.Message,
			SourceName: source}
		al.OccurredAt, _ = parseTime(a.AlertTime)
		out = append(out, al)
	}
	return out, nil
}

// nestedName reads key from a nested object (null or an id: "").
func nestedName(raw json.RawMessage, key string) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	s, _ := m[key].(string)
	return s
}

// ParseWebhook implements rmm.WebhookParser (see the package function).
func (c *Client) ParseWebhook(body []byte) (rmm.Alert, bool, error) { return ParseWebhook(body) }

func toOrganization(cl apiClient) rmm.Organization {
	o := rmm.Organization{ID: cl.ID.String(), Name: cl.Name, Sites: []rmm.Site{}}
	for _, s := range cl.Sites {
		o.Sites = append(o.Sites, rmm.Site{ID: s.ID.String(), OrganizationID: o.ID, Name: s.Name})
	}
	return o
}
