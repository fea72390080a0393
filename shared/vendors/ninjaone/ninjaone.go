// Package ninjaone is the NinjaOne (RMM) client: it implements the shared/rmm
// interfaces on NinjaOne's Public API v2 through shared/vendorhttp.
//
// Authentication is OAuth 2.0 client credentials against a configurable
// token URL (default {BaseURL}/ws/oauth/token, scope "monitoring
// management"); the token is cached and renewed once on 401. Entity lists
// use NinjaOne's keyset paging (pageSize + after = last id seen).
//
// Requests per call (token requests not counted; one per hour per client):
//
//	TestConnection      1   GET /v2/organizations?pageSize=1
//	ListOrganizations   ⌈(orgs+1)/PageSize⌉   GET /v2/organizations-detailed
//	GetOrganization     1   GET /v2/organization/{id}
//	ListSites           1   GET /v2/organization/{id}/locations
//	ListDevices         1 per page   GET /v2/devices-detailed?df=org = {id}
//	GetDevice           3 (in parallel)   GET /v2/device/{id}, …/volumes,
//	                    …/last-logged-on-user
//	ListDeviceSnapshots 1 + 2 report pages per page (in parallel)
//	                    GET /v2/devices-detailed?df=org = {id}, then
//	                    /v2/queries/volumes and …/logged-on-users (and
//	                    …/computer-systems when a device lacks its system
//	                    block) ?df=org = {id}, each to its end
//	CreateOrganization  1   POST /v2/organizations (+1 GET of the locations
//	                    only if the answer lacks their ids)
//	CreateSite          1   POST /v2/organization/{id}/locations
//	ListAlerts          1   GET /v2/alerts[?df=org = {id}]
//
// ParseWebhook reads NinjaOne activity webhooks (no request).
package ninjaone

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
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
)

// Defaults for Config fields left zero.
const (
	DefaultScope     = "monitoring management"
	DefaultPageSize  = 500
	DefaultTokenPath = "/ws/oauth/token"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the instance host, e.g. https://app.ninjarmm.com or
	// https://eu.ninjarmm.com (API paths are /v2/... below it).
	BaseURL string
	// TokenURL defaults to BaseURL + "/ws/oauth/token"; some instances use
	// BaseURL + "/oauth/token".
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Scope defaults to "monitoring management". Never add
	// offline_access: EU instances reject it for client credentials.
	Scope string
	// PageSize for keyset paging (default 500).
	PageSize int
	// ReportPageSize for the /v2/queries reports' cursor paging (default
	// DefaultReportPageSize; the vendor accepts 10 to 10,000).
	ReportPageSize int

	// Logger for request logs (nil discards); OnRequest observes every
	// attempt (metrics, benchmarks); Sleep replaces the retry wait (tests);
	// MaxAttempts overrides vendorhttp's default.
	Logger      *slog.Logger
	OnRequest   func(vendorhttp.Attempt)
	Sleep       func(ctx context.Context, d time.Duration) error
	MaxAttempts int
	// Limiter is the connection's request budget (shared/ratelimit);
	// every request, token requests included, draws from it. nil: none.
	Limiter vendorhttp.Limiter

	// AttemptTimeout bounds one request attempt (default vendorhttp's);
	// an attempt that times out is retried like a connection error.
	AttemptTimeout time.Duration
}

// Client is a NinjaOne API client. It is safe for concurrent use.
type Client struct {
	http           *vendorhttp.Client
	auth           *vendorhttp.OAuthClientCredentials
	pageSize       int
	reportPageSize int
}

// Compile-time check that Client is a complete RMM client.
var _ rmm.Client = (*Client)(nil)

// New returns a client for cfg. httpClient sends both API and token
// requests; nil uses a default client.
func New(cfg Config, httpClient *http.Client) (*Client, error) {
	base := strings.TrimRight(cfg.BaseURL, "/")
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "credentials", Message: "NinjaOne needs a client id and a client secret"})
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = base + DefaultTokenPath
	}
	if u, err := url.Parse(tokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "tokenUrl", Message: "must be an absolute http(s) URL"})
	}
	scope := cfg.Scope
	if scope == "" {
		scope = DefaultScope
	}
	auth := &vendorhttp.OAuthClientCredentials{
		TokenURL: tokenURL, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Scope: scope, HTTPClient: httpClient,
	}
	opts := vendorhttp.Options{
		Name:         "NinjaOne",
		BaseURL:      base,
		Auth:         auth,
		HTTPClient:   httpClient,
		ErrorDecoder: decodeError,
		Logger:       cfg.Logger,
		OnRequest:    cfg.OnRequest,
		Sleep:        cfg.Sleep,
		MaxAttempts:  cfg.MaxAttempts,
		Limiter:      cfg.Limiter,
	}
	opts.AttemptTimeout = cfg.AttemptTimeout
	hc, err := vendorhttp.New(opts)
	if err != nil {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "baseUrl", Message: "must be an absolute http(s) URL"})
	}
	ps := cfg.PageSize
	if ps <= 0 {
		ps = DefaultPageSize
	}
	rps := cfg.ReportPageSize
	if rps <= 0 {
		rps = DefaultReportPageSize
	}
	return &Client{http: hc, auth: auth, pageSize: ps, reportPageSize: min(max(rps, 10), 10000)}, nil
}

// Requests returns how many API requests the client has sent (retries
// included).
func (c *Client) Requests() int64 { return c.http.Requests() }

// TokenRequests returns how many token requests the client has sent.
func (c *Client) TokenRequests() int64 { return c.auth.Fetches() }

// decodeError reads NinjaOne's {resultCode, errorMessage, incidentId} or the
// OAuth {error} body.
func decodeError(status int, body []byte) string {
	var e apiError
	if json.Unmarshal(body, &e) == nil {
		msg := firstNonEmpty(e.ErrorMessage, e.Error, e.ResultCode)
		if msg != "" && e.IncidentID != "" {
			msg += " (incident " + e.IncidentID + ")"
		}
		if msg != "" {
			return msg
		}
	}
	return vendorhttp.DecodeErrorMessage(status, body)
}

func (c *Client) get(ctx context.Context, route, path string, q url.Values, out any) error {
	_, err := c.http.Do(ctx, vendorhttp.Request{Method: http.MethodGet, Path: path, Query: q, Route: route}, out)
	return err
}

// TestConnection implements rmm.Tester with the cheapest authenticated
// call: one organization.
func (c *Client) TestConnection(ctx context.Context) error {
	var orgs []apiOrganization
	if err := c.get(ctx, "GET /v2/organizations", "/v2/organizations", url.Values{"pageSize": {"1"}}, &orgs); err != nil {
		return fmt.Errorf("test NinjaOne connection: %w", err)
	}
	return nil
}

// keysetQuery builds the query of one keyset page.
func keysetQuery(after string, pageSize int, extra url.Values) url.Values {
	q := url.Values{"pageSize": {strconv.Itoa(pageSize)}}
	if after != "" {
		q.Set("after", after)
	}
	for k, v := range extra {
		q[k] = v
	}
	return q
}

// ListOrganizations implements rmm.OrganizationLister through
// organizations-detailed (organizations with their locations).
func (c *Client) ListOrganizations(ctx context.Context) ([]rmm.Organization, error) {
	orgs, err := vendorhttp.CollectKeyset(ctx, c.pageSize,
		func(ctx context.Context, after string, size int) ([]apiOrganization, error) {
			var page []apiOrganization
			err := c.get(ctx, "GET /v2/organizations-detailed", "/v2/organizations-detailed", keysetQuery(after, size, nil), &page)
			return page, err
		},
		func(o apiOrganization) string { return strconv.Itoa(o.ID) })
	if err != nil {
		return nil, fmt.Errorf("list NinjaOne organizations: %w", err)
	}
	out := make([]rmm.Organization, len(orgs))
	for i, o := range orgs {
		out[i] = toOrganization(o)
	}
	return out, nil
}

// parseID validates an rmm id as a NinjaOne integer id.
func parseID(kind, id string) (int, error) {
	n, err := strconv.Atoi(id)
	if err != nil || n <= 0 {
		return 0, apperr.New(apperr.NotFound, "no NinjaOne %s %q", kind, id)
	}
	return n, nil
}

// GetOrganization implements rmm.OrganizationGetter.
func (c *Client) GetOrganization(ctx context.Context, id string) (rmm.Organization, error) {
	n, err := parseID("organization", id)
	if err != nil {
		return rmm.Organization{}, err
	}
	var o apiOrganization
	if err := c.get(ctx, "GET /v2/organization/{id}", fmt.Sprintf("/v2/organization/%d", n), nil, &o); err != nil {
		return rmm.Organization{}, fmt.Errorf("get NinjaOne organization %d: %w", n, err)
	}
	return toOrganization(o), nil
}

// ListSites implements rmm.SiteLister.
func (c *Client) ListSites(ctx context.Context, organizationID string) ([]rmm.Site, error) {
	n, err := parseID("organization", organizationID)
	if err != nil {
		return nil, err
	}
	var locs []apiLocation
	if err := c.get(ctx, "GET /v2/organization/{id}/locations", fmt.Sprintf("/v2/organization/%d/locations", n), nil, &locs); err != nil {
		return nil, fmt.Errorf("list NinjaOne locations of organization %d: %w", n, err)
	}
	sites := make([]rmm.Site, len(locs))
	for i, l := range locs {
		sites[i] = toSite(n, l)
	}
	return sites, nil
}

// ListDevices implements rmm.DeviceLister with devices-detailed filtered by
// organization (df=org = N); the cursor is the last device id of the
// previous page. Listed devices carry what devices-detailed returns; their
// volumes and last logged-on user are only certain from GetDevice.
func (c *Client) ListDevices(ctx context.Context, organizationID, cursor string) (rmm.DevicePage, error) {
	n, err := parseID("organization", organizationID)
	if err != nil {
		return rmm.DevicePage{}, err
	}
	if cursor != "" {
		if _, err := strconv.Atoi(cursor); err != nil {
			return rmm.DevicePage{}, apperr.New(apperr.Invalid, "the device cursor %q is not a NinjaOne device id", cursor)
		}
	}
	var devs []apiDevice
	q := keysetQuery(cursor, c.pageSize, url.Values{"df": {fmt.Sprintf("org = %d", n)}})
	if err := c.get(ctx, "GET /v2/devices-detailed", "/v2/devices-detailed", q, &devs); err != nil {
		return rmm.DevicePage{}, fmt.Errorf("list NinjaOne devices of organization %d: %w", n, err)
	}
	page := rmm.DevicePage{Devices: make([]rmm.Device, len(devs))}
	for i, d := range devs {
		page.Devices[i] = toDevice(d)
	}
	if len(devs) == c.pageSize {
		page.NextCursor = strconv.Itoa(devs[len(devs)-1].ID)
	}
	return page, nil
}

// GetDevice implements rmm.DeviceGetter: the device, its volumes and its
// last logged-on user, fetched in parallel (3 requests). A missing volume
// list or logged-on user (404) leaves those fields empty.
func (c *Client) GetDevice(ctx context.Context, id string) (rmm.Device, error) {
	n, err := parseID("device", id)
	if err != nil {
		return rmm.Device{}, err
	}
	var (
		dev     apiDevice
		vols    []apiVolume
		user    apiLoggedOnUser
		errs    [3]error
		wg      sync.WaitGroup
		devPath = fmt.Sprintf("/v2/device/%d", n)
	)
	wg.Go(func() { errs[0] = c.get(ctx, "GET /v2/device/{id}", devPath, nil, &dev) })
	wg.Go(func() { errs[1] = c.get(ctx, "GET /v2/device/{id}/volumes", devPath+"/volumes", nil, &vols) })
	wg.Go(func() {
		errs[2] = c.get(ctx, "GET /v2/device/{id}/last-logged-on-user", devPath+"/last-logged-on-user", nil, &user)
	})
	wg.Wait()
	if errs[0] != nil {
		return rmm.Device{}, fmt.Errorf("get NinjaOne device %d: %w", n, errs[0])
	}
	if errs[1] != nil && !apperr.Is(errs[1], apperr.NotFound) {
		return rmm.Device{}, fmt.Errorf("get NinjaOne device %d volumes: %w", n, errs[1])
	}
	if errs[2] != nil && !apperr.Is(errs[2], apperr.NotFound) {
		return rmm.Device{}, fmt.Errorf("get NinjaOne device %d last logged-on user: %w", n, errs[2])
	}
	if errs[1] == nil {
		dev.Volumes = vols
	}
	if errs[2] == nil && user.UserName != "" {
		dev.LastLoggedInUser = user.UserName
	}
	return toDevice(dev), nil
}

// CreateOrganization implements rmm.OrganizationCreator: one POST creates
// the organization with its locations.
func (c *Client) CreateOrganization(ctx context.Context, o rmm.NewOrganization) (rmm.Organization, error) {
	if strings.TrimSpace(o.Name) == "" {
		return rmm.Organization{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	body := apiNewOrganization{Name: o.Name, Description: o.Description}
	for _, s := range o.Sites {
		body.Locations = append(body.Locations, apiNewLocation{Name: s})
	}
	var created apiOrganization
	if _, err := c.http.Do(ctx, vendorhttp.Request{Method: http.MethodPost, Path: "/v2/organizations", Body: body, Route: "POST /v2/organizations"}, &created); err != nil {
		return rmm.Organization{}, fmt.Errorf("create NinjaOne organization %q: %w", o.Name, err)
	}
	if created.ID == 0 {
		return rmm.Organization{}, apperr.New(apperr.Vendor, "NinjaOne created the organization without returning its id")
	}
	org := toOrganization(created)
	missingIDs := len(created.Locations) < len(o.Sites)
	for _, l := range created.Locations {
		missingIDs = missingIDs || l.ID == 0
	}
	if missingIDs {
		sites, err := c.ListSites(ctx, org.ID)
		if err != nil {
			return org, fmt.Errorf("read back the locations of new organization %s: %w", org.ID, err)
		}
		org.Sites = sites
	}
	return org, nil
}

// CreateSite implements rmm.SiteCreator.
func (c *Client) CreateSite(ctx context.Context, organizationID, name string) (rmm.Site, error) {
	n, err := parseID("organization", organizationID)
	if err != nil {
		return rmm.Site{}, err
	}
	if strings.TrimSpace(name) == "" {
		return rmm.Site{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	var loc apiLocation
	if _, err := c.http.Do(ctx, vendorhttp.Request{
		Method: http.MethodPost, Path: fmt.Sprintf("/v2/organization/%d/locations", n),
		Body: apiNewLocation{Name: name}, Route: "POST /v2/organization/{id}/locations",
	}, &loc); err != nil {
		return rmm.Site{}, fmt.Errorf("create NinjaOne location %q in organization %d: %w", name, n, err)
	}
	return toSite(n, loc), nil
}

// ListAlerts implements rmm.AlertLister: the active alerts (triggered
// conditions), of one organization when organizationID is set.
func (c *Client) ListAlerts(ctx context.Context, organizationID string) ([]rmm.Alert, error) {
	q := url.Values{}
	if organizationID != "" {
		n, err := parseID("organization", organizationID)
		if err != nil {
			return nil, err
		}
		q.Set("df", fmt.Sprintf("org = %d", n))
	}
	var alerts []apiAlert
	if err := c.get(ctx, "GET /v2/alerts", "/v2/alerts", q, &alerts); err != nil {
		return nil, fmt.Errorf("list NinjaOne alerts: %w", err)
	}
	out := make([]rmm.Alert, len(alerts))
	for i, a := range alerts {
		out[i] = toAlert(a)
	}
	return out, nil
}

// ParseWebhook implements rmm.WebhookParser (see the package function).
func (c *Client) ParseWebhook(body []byte) (rmm.Alert, bool, error) {
	return ParseWebhook(body)
}

// toOrganization maps an organization (detailed or not).
func toOrganization(o apiOrganization) rmm.Organization {
	org := rmm.Organization{ID: strconv.Itoa(o.ID), Name: o.Name, Description: o.Description, Sites: []rmm.Site{}}
	for _, l := range o.Locations {
		org.Sites = append(org.Sites, toSite(o.ID, l))
	}
	return org
}

func toSite(orgID int, l apiLocation) rmm.Site {
	if l.OrganizationID != 0 {
		orgID = l.OrganizationID
	}
	return rmm.Site{ID: strconv.Itoa(l.ID), OrganizationID: strconv.Itoa(orgID), Name: l.Name}
}

// deviceType maps NinjaOne's nodeClass.
func deviceType(nodeClass string) rmm.DeviceType {
	switch c := strings.ToUpper(nodeClass); {
	case c == "WINDOWS_WORKSTATION":
		return rmm.DeviceWorkstation
	case c == "WINDOWS_SERVER" || c == "LINUX_SERVER" || c == "MAC_SERVER" || c == "NMS_SERVER":
		return rmm.DeviceServer
	case c == "MAC":
		return rmm.DeviceMac
	case c == "LINUX_WORKSTATION":
		return rmm.DeviceLinux
	case c == "ANDROID" || c == "APPLE_IOS" || c == "APPLE_IPADOS" || c == "NMS_PHONE":
		return rmm.DeviceMobile
	case c == "VMWARE_VM_HOST" || c == "HYPERV_VMM_HOST" || c == "NMS_VM_HOST":
		return rmm.DeviceVMHost
	case c == "VMWARE_VM_GUEST" || c == "HYPERV_VMM_GUEST" || c == "NMS_VIRTUAL_MACHINE":
		return rmm.DeviceVM
	case strings.HasPrefix(c, "NMS_"):
		return rmm.DeviceNetwork
	}
	return rmm.DeviceOther
}

// storageVolume reports whether a volume is the device's own storage:
// removable, optical and network drives and empty entries are not.
func storageVolume(v apiVolume) bool {
	t := strings.ToLower(v.DeviceType)
	for _, not := range []string{"removable", "cd", "optical", "network"} {
		if strings.Contains(t, not) {
			return false
		}
	}
	return v.Capacity > 0
}

// toDevice maps a device. The serial number is system.serialNumber, or the
// BIOS serial when that is a placeholder and the BIOS one is not.
func toDevice(d apiDevice) rmm.Device {
	dev := rmm.Device{
		ID:               strconv.Itoa(d.ID),
		OrganizationID:   strconv.Itoa(d.OrganizationID),
		Name:             firstNonEmpty(d.SystemName, d.DNSName, d.NetbiosName, d.DisplayName),
		DisplayName:      d.DisplayName,
		DeviceType:       deviceType(d.NodeClass),
		LastLoggedInUser: d.LastLoggedInUser,
		LastCheckIn:      d.LastContact.Time,
		IPAddresses:      d.IPAddresses,
		MACAddresses:     d.MACAddresses,
		Offline:          d.Offline,
	}
	if d.LocationID != 0 {
		dev.SiteID = strconv.Itoa(d.LocationID)
	}
	if d.Maintenance != nil {
		// Only IN_MAINTENANCE suppresses tickets (the alert policy's
		// skipMaintenance); PENDING and FAILED windows do not.
		in := strings.EqualFold(d.Maintenance.Status, "IN_MAINTENANCE")
		dev.Maintenance = &in
	}
	if d.OS != nil {
		dev.OS = rmm.OS{Name: d.OS.Name, Version: d.OS.ReleaseID, Build: d.OS.BuildNumber, Architecture: d.OS.Architecture}
	}
	if d.System != nil {
		dev.Manufacturer, dev.Model = d.System.Manufacturer, d.System.Model
		dev.SerialNumber = strings.TrimSpace(d.System.SerialNumber)
		if bios := strings.TrimSpace(d.System.BIOSSerialNumber); rmm.IsPlaceholderSerial(dev.SerialNumber) && !rmm.IsPlaceholderSerial(bios) {
			dev.SerialNumber = bios
		}
	}
	for _, v := range d.Volumes {
		if !storageVolume(v) {
			continue
		}
		dev.Volumes = append(dev.Volumes, rmm.Volume{
			Name: firstNonEmpty(v.DriveLetter, v.Name), Label: v.Label,
			CapacityBytes: v.Capacity, FreeBytes: v.FreeSpace,
		})
	}
	return dev
}

// toAlert maps an active alert (always State triggered; NinjaOne alerts
// carry no severity).
func toAlert(a apiAlert) rmm.Alert {
	al := rmm.Alert{
		SeriesID:   a.UID,
		DeviceID:   strconv.Itoa(a.DeviceID),
		State:      rmm.AlertTriggered,
		Severity:   rmm.SeverityNone,
		Code:       a.SourceType,
		Subject:    a.Subject,
		Message:    a.Message,
		SourceName: a.SourceName,
		OccurredAt: a.CreateTime.Time,
	}
	if code, params := messageData(a.Data); code != "" || len(params) > 0 {
		if code != "" {
			al.Code = code
		}
		al.Values = params
	}
	if a.Device != nil {
		al.DeviceName = firstNonEmpty(a.Device.SystemName, a.Device.DisplayName)
		if a.Device.OrganizationID != 0 {
			al.OrganizationID = strconv.Itoa(a.Device.OrganizationID)
		}
		if a.Device.LocationID != 0 {
			al.SiteID = strconv.Itoa(a.Device.LocationID)
		}
	}
	return al
}

// messageData digs data.message.code and data.message.params out of an
// alert or activity's data.
func messageData(data map[string]any) (string, map[string]string) {
	msg, _ := data["message"].(map[string]any)
	if msg == nil {
		return "", nil
	}
	code, _ := msg["code"].(string)
	var params map[string]string
	if p, ok := msg["params"].(map[string]any); ok && len(p) > 0 {
		params = make(map[string]string, len(p))
		for k, v := range p {
			params[k] = valueText(v)
		}
	}
	return code, params
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
