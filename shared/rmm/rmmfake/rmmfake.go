// Package rmmfake is an in-memory RMM for domain tests: one fake that
// passes the RMM behaviour suite (shared/rmm/rmmtest) like a vendor
// client, with the knobs the domain tests need — seeding, call counts,
// per-call hooks and failures, injected 429/5xx/hangs (with the retry
// policy of a vendor client), a page size, and a webhook parser of the
// test's choice (e.g. the real NinjaOne one).
//
// An RMM holds the data; clients see it through Client (the right
// credentials) and ClientWithSecret. Ids of created records are numbers
// counted from FirstID; a new organization's sites are "<org id>-<n>".
//
// It is a test helper: nothing that ships in a Lambda imports it.
package rmmfake

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/internal/fakevendor"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// Defaults for the options.
const (
	DefaultFirstID        = 700
	DefaultPageSize       = 10
	DefaultSecret         = "fake-rmm-secret"
	DefaultMaxAttempts    = 4
	DefaultAttemptTimeout = time.Second
	// MaxRetryAfter is the longest Retry-After the fake's client waits
	// for itself (as vendorhttp); longer ones come back as Throttled.
	MaxRetryAfter = 20 * time.Second
	// RejectedReason is the safe message of a wrong-credentials answer.
	RejectedReason = "the fake RMM rejected the client credentials"
)

// Option configures an RMM.
type Option func(*config)

type config struct {
	firstID        int
	pageSize       int
	secret         string
	maxAttempts    int
	attemptTimeout time.Duration
	parser         rmm.WebhookParser
	unsupported    map[string]bool
	only           map[string]bool
}

// FirstID makes created ids count up from n+1 (default 700).
func FirstID(n int) Option { return func(c *config) { c.firstID = n } }

// PageSize sets ListDevices' page size (default 10).
func PageSize(n int) Option { return func(c *config) { c.pageSize = n } }

// Secret sets the secret the RMM accepts (default DefaultSecret).
func Secret(s string) Option { return func(c *config) { c.secret = s } }

// Retries sets the fake client's attempts per call and how long an
// injected hang holds one attempt (defaults 4 and 1 s).
func Retries(maxAttempts int, attemptTimeout time.Duration) Option {
	return func(c *config) { c.maxAttempts, c.attemptTimeout = maxAttempts, attemptTimeout }
}

// WebhookParser makes ParseWebhook delegate to p (e.g. the NinjaOne
// parser); by default the fake reads its own format (see WebhookBody).
func WebhookParser(p rmm.WebhookParser) Option { return func(c *config) { c.parser = p } }

// Only makes every client method but the named ones answer
// apperr.NotImplemented: a test whose old fake implemented only those
// keeps failing loudly if the code under test calls anything else.
func Only(methods ...string) Option {
	return func(c *config) {
		c.only = map[string]bool{}
		for _, m := range methods {
			c.only[m] = true
		}
	}
}

// Unsupported makes the named client methods (e.g. "CreateOrganization")
// answer apperr.NotImplemented, as a vendor without the role does.
func Unsupported(methods ...string) Option {
	return func(c *config) {
		for _, m := range methods {
			c.unsupported[m] = true
		}
	}
}

// RMM is the fake's data. It is safe for concurrent use. Its Gate counts
// the client calls and holds the hook, the queued failures and the
// injected faults (OnCall, Fail, ThrottleNext, FailNext, HangNext, Calls,
// Requests, Waits).
type RMM struct {
	*fakevendor.Gate
	opt config

	mu      sync.Mutex
	next    int
	orgs    []rmm.Organization
	devices []rmm.Device
	alerts  []rmm.Alert
	created []rmm.NewOrganization
}

// New returns an empty RMM.
func New(opts ...Option) *RMM {
	c := config{firstID: DefaultFirstID, pageSize: DefaultPageSize, secret: DefaultSecret,
		maxAttempts: DefaultMaxAttempts, attemptTimeout: DefaultAttemptTimeout, unsupported: map[string]bool{}}
	for _, o := range opts {
		o(&c)
	}
	if c.pageSize <= 0 {
		c.pageSize = DefaultPageSize
	}
	gate := fakevendor.NewGate(fakevendor.Policy{Name: "RMM", Secret: c.secret, RejectedReason: RejectedReason,
		MaxAttempts: c.maxAttempts, AttemptTimeout: c.attemptTimeout, MaxRetryAfter: MaxRetryAfter,
		Unsupported: c.unsupported, Only: c.only})
	return &RMM{Gate: gate, opt: c, next: c.firstID}
}

func (r *RMM) nextID() string {
	r.next++
	return strconv.Itoa(r.next)
}

// --- seeding -----------------------------------------------------------

// AddOrganizations adds organizations (ids assigned when empty; sites get
// the organization's id). Organizations are served as given: nil Sites
// stay nil.
func (r *RMM) AddOrganizations(orgs ...rmm.Organization) {
	for _, o := range orgs {
		r.AddOrganization(o)
	}
}

// AddOrganization adds an organization and returns it with its ids.
func (r *RMM) AddOrganization(o rmm.Organization) rmm.Organization {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o.ID == "" {
		o.ID = r.nextID()
	}
	o.Sites = slices.Clone(o.Sites)
	for i := range o.Sites {
		if o.Sites[i].ID == "" {
			o.Sites[i].ID = fmt.Sprintf("%s-%d", o.ID, i)
		}
		o.Sites[i].OrganizationID = o.ID
	}
	r.orgs = append(r.orgs, o)
	return o
}

// PutDevice stores d (replacing the device with its id; an id is
// assigned when empty) and returns it.
func (r *RMM) PutDevice(d rmm.Device) rmm.Device {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.ID == "" {
		d.ID = r.nextID()
	}
	if i := slices.IndexFunc(r.devices, func(x rmm.Device) bool { return x.ID == d.ID }); i >= 0 {
		r.devices[i] = d
	} else {
		r.devices = append(r.devices, d)
	}
	return d
}

// RemoveDevice deletes a device.
func (r *RMM) RemoveDevice(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.devices = slices.DeleteFunc(r.devices, func(d rmm.Device) bool { return d.ID == id })
}

// AddAlert adds an active alert (ListAlerts).
func (r *RMM) AddAlert(a rmm.Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a)
}

// --- inspection --------------------------------------------------------

// Organizations returns the organizations in creation order.
func (r *RMM) Organizations() []rmm.Organization {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.orgs)
}

// CreatedOrganizations returns what CreateOrganization was given.
func (r *RMM) CreatedOrganizations() []rmm.NewOrganization {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.created)
}

// Devices returns the devices in insertion order.
func (r *RMM) Devices() []rmm.Device {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.devices)
}

// --- the webhook format ------------------------------------------------

// webhook is the fake's own webhook body.
type webhook struct {
	Event          string `json:"event"` // "alert" or anything else
	SeriesID       string `json:"seriesId"`
	State          string `json:"state"`
	DeviceID       string `json:"deviceId"`
	OrganizationID string `json:"organizationId"`
	Subject        string `json:"subject,omitempty"`
}

// WebhookBody returns the body the fake RMM posts for an alert event
// (event "alert"); NonAlertBody one for something else.
func WebhookBody(a rmm.Alert) []byte {
	b, _ := json.Marshal(webhook{Event: "alert", SeriesID: a.SeriesID, State: string(a.State), DeviceID: a.DeviceID,
		OrganizationID: a.OrganizationID, Subject: a.Subject})
	return b
}

// NonAlertBody is a well-formed webhook body that is not an alert.
func NonAlertBody() []byte { return []byte(`{"event":"device.updated","deviceId":"1"}`) }

// --- clients -----------------------------------------------------------

// Client is a client of the fake RMM. It implements rmm.Client.
type Client struct {
	r      *RMM
	secret string
}

var _ rmm.Client = (*Client)(nil)

// Client returns a client with the right credentials.
func (r *RMM) Client() *Client { return &Client{r: r, secret: r.opt.secret} }

// ClientWithSecret returns a client using secret; anything but the RMM's
// secret is rejected (apperr.Unauthorized with RejectedReason).
func (r *RMM) ClientWithSecret(secret string) *Client { return &Client{r: r, secret: secret} }

// Fake returns the RMM the client talks to.
func (c *Client) Fake() *RMM { return c.r }

func notFound(kind, id string) error {
	return apperr.New(apperr.NotFound, "the fake RMM has no %s %q", kind, id)
}

// begin runs what every call goes through (fakevendor.Gate.Begin; the
// same policy as psafake).
func (c *Client) begin(ctx context.Context, method string) error {
	return c.r.Begin(ctx, method, c.secret)
}

func (r *RMM) org(id string) (int, bool) {
	i := slices.IndexFunc(r.orgs, func(o rmm.Organization) bool { return o.ID == id })
	return i, i >= 0
}

func cloneOrg(o rmm.Organization) rmm.Organization {
	o.Sites = slices.Clone(o.Sites)
	return o
}

// TestConnection implements rmm.Tester.
func (c *Client) TestConnection(ctx context.Context) error { return c.begin(ctx, "TestConnection") }

// ListOrganizations implements rmm.OrganizationLister.
func (c *Client) ListOrganizations(ctx context.Context) ([]rmm.Organization, error) {
	if err := c.begin(ctx, "ListOrganizations"); err != nil {
		return nil, err
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	out := make([]rmm.Organization, len(c.r.orgs))
	for i, o := range c.r.orgs {
		out[i] = cloneOrg(o)
	}
	return out, nil
}

// GetOrganization implements rmm.OrganizationGetter.
func (c *Client) GetOrganization(ctx context.Context, id string) (rmm.Organization, error) {
	if err := c.begin(ctx, "GetOrganization"); err != nil {
		return rmm.Organization{}, err
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	i, ok := c.r.org(id)
	if !ok {
		return rmm.Organization{}, notFound("organization", id)
	}
	return cloneOrg(c.r.orgs[i]), nil
}

// ListSites implements rmm.SiteLister.
func (c *Client) ListSites(ctx context.Context, organizationID string) ([]rmm.Site, error) {
	if err := c.begin(ctx, "ListSites"); err != nil {
		return nil, err
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	i, ok := c.r.org(organizationID)
	if !ok {
		return nil, notFound("organization", organizationID)
	}
	return slices.Clone(c.r.orgs[i].Sites), nil
}

// ListDevices implements rmm.DeviceLister: the organization's devices in
// insertion order, PageSize a page; the cursor is an offset.
func (c *Client) ListDevices(ctx context.Context, organizationID, cursor string) (rmm.DevicePage, error) {
	return c.listDevices(ctx, "ListDevices", organizationID, cursor)
}

// ListDeviceSnapshots implements rmm.DeviceSnapshotLister: the same pages
// as ListDevices (the fake's list already carries every attribute), one
// request a page.
func (c *Client) ListDeviceSnapshots(ctx context.Context, organizationID, cursor string) (rmm.DevicePage, error) {
	return c.listDevices(ctx, "ListDeviceSnapshots", organizationID, cursor)
}

func (c *Client) listDevices(ctx context.Context, method, organizationID, cursor string) (rmm.DevicePage, error) {
	if err := c.begin(ctx, method); err != nil {
		return rmm.DevicePage{}, err
	}
	start, ok := fakevendor.ParseOffset(cursor)
	if !ok {
		return rmm.DevicePage{}, apperr.New(apperr.Invalid, "the device cursor %q is not one this listing returned", cursor)
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if _, ok := c.r.org(organizationID); !ok {
		return rmm.DevicePage{}, notFound("organization", organizationID)
	}
	var all []rmm.Device
	for _, d := range c.r.devices {
		if d.OrganizationID == organizationID {
			all = append(all, d)
		}
	}
	var p rmm.DevicePage
	page, next := fakevendor.Page(all, start, c.r.opt.pageSize)
	p.Devices, p.NextCursor = slices.Clone(page), next
	for i := range p.Devices {
		p.Devices[i].Volumes = slices.Clone(p.Devices[i].Volumes)
	}
	return p, nil
}

// GetDevice implements rmm.DeviceGetter.
func (c *Client) GetDevice(ctx context.Context, id string) (rmm.Device, error) {
	if err := c.begin(ctx, "GetDevice"); err != nil {
		return rmm.Device{}, err
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	i := slices.IndexFunc(c.r.devices, func(d rmm.Device) bool { return d.ID == id })
	if i < 0 {
		return rmm.Device{}, notFound("device", id)
	}
	d := c.r.devices[i]
	d.Volumes = slices.Clone(d.Volumes)
	return d, nil
}

// ListAlerts implements rmm.AlertLister.
func (c *Client) ListAlerts(ctx context.Context, organizationID string) ([]rmm.Alert, error) {
	if err := c.begin(ctx, "ListAlerts"); err != nil {
		return nil, err
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	var out []rmm.Alert
	for _, a := range c.r.alerts {
		if organizationID == "" || a.OrganizationID == organizationID {
			out = append(out, a)
		}
	}
	return out, nil
}

// CreateOrganization implements rmm.OrganizationCreator.
func (c *Client) CreateOrganization(ctx context.Context, no rmm.NewOrganization) (rmm.Organization, error) {
	if err := c.begin(ctx, "CreateOrganization"); err != nil {
		return rmm.Organization{}, err
	}
	name := strings.TrimSpace(no.Name)
	if name == "" {
		return rmm.Organization{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	c.r.mu.Lock()
	c.r.created = append(c.r.created, no)
	c.r.mu.Unlock()
	o := rmm.Organization{Name: name, Description: no.Description}
	for _, s := range no.Sites {
		o.Sites = append(o.Sites, rmm.Site{Name: s})
	}
	return c.r.AddOrganization(o), nil
}

// CreateSite implements rmm.SiteCreator.
func (c *Client) CreateSite(ctx context.Context, organizationID, name string) (rmm.Site, error) {
	if err := c.begin(ctx, "CreateSite"); err != nil {
		return rmm.Site{}, err
	}
	if name = strings.TrimSpace(name); name == "" {
		return rmm.Site{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	i, ok := c.r.org(organizationID)
	if !ok {
		return rmm.Site{}, notFound("organization", organizationID)
	}
	o := &c.r.orgs[i]
	s := rmm.Site{ID: fmt.Sprintf("%s-%d", o.ID, len(o.Sites)), OrganizationID: o.ID, Name: name}
	o.Sites = append(slices.Clone(o.Sites), s)
	return s, nil
}

// ParseWebhook implements rmm.WebhookParser: the configured parser, or
// the fake's own format (WebhookBody).
func (c *Client) ParseWebhook(body []byte) (rmm.Alert, bool, error) {
	if err := c.r.Enter("ParseWebhook"); err != nil {
		return rmm.Alert{}, false, err
	}
	if parser := c.r.opt.parser; parser != nil {
		return parser.ParseWebhook(body)
	}
	var w webhook
	if err := json.Unmarshal(body, &w); err != nil {
		return rmm.Alert{}, false, apperr.Wrap(apperr.Malformed, err, "the fake RMM webhook body is not JSON")
	}
	if w.Event == "" {
		return rmm.Alert{}, false, apperr.New(apperr.Malformed, "the fake RMM webhook body has no event")
	}
	if w.Event != "alert" {
		return rmm.Alert{}, false, nil
	}
	state := rmm.AlertState(w.State)
	if state != rmm.AlertTriggered && state != rmm.AlertReset {
		return rmm.Alert{}, false, nil
	}
	if w.SeriesID == "" {
		return rmm.Alert{}, false, apperr.New(apperr.Invalid, "the fake RMM alert has no series id")
	}
	return rmm.Alert{SeriesID: w.SeriesID, DeviceID: w.DeviceID, OrganizationID: w.OrganizationID, State: state, Subject: w.Subject}, true, nil
}
