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

type failure struct {
	n   int
	err error
}

type fault struct {
	status     int // 429, 5xx; 0 for a hang
	retryAfter time.Duration
}

// RMM is the fake's data. It is safe for concurrent use.
type RMM struct {
	opt config

	mu       sync.Mutex
	next     int
	orgs     []rmm.Organization
	devices  []rmm.Device
	alerts   []rmm.Alert
	created  []rmm.NewOrganization
	calls    map[string]int
	hook     func(method string) error
	failures map[string]*failure
	faults   []fault
	waits    []time.Duration
	requests int64
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
	return &RMM{opt: c, next: c.firstID, calls: map[string]int{}, failures: map[string]*failure{}}
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

// Calls returns how many times a client method was called.
func (r *RMM) Calls(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[method]
}

// TotalCalls returns the number of client calls.
func (r *RMM) TotalCalls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.calls {
		n += v
	}
	return n
}

// Requests returns the simulated requests (one per attempt).
func (r *RMM) Requests() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// Waits returns the retry waits the fake's client took.
func (r *RMM) Waits() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.waits)
}

// --- behaviour ---------------------------------------------------------

// OnCall sets a hook run before every client call with the method's name,
// outside the fake's lock; an error it returns is the call's answer.
func (r *RMM) OnCall(hook func(method string) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = hook
}

// Fail makes the next n calls of method answer err (n < 0: every call
// until Fail(method, 0, nil)).
func (r *RMM) Fail(method string, n int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n == 0 || err == nil {
		delete(r.failures, method)
		return
	}
	r.failures[method] = &failure{n: n, err: err}
}

// ThrottleNext answers the next n simulated requests with 429 and a
// Retry-After.
func (r *RMM) ThrottleNext(n int, retryAfter time.Duration) {
	r.queue(n, fault{status: 429, retryAfter: retryAfter})
}

// FailNext answers the next n simulated requests with a 5xx status.
func (r *RMM) FailNext(n, status int) { r.queue(n, fault{status: status}) }

// HangNext leaves the next n simulated requests unanswered.
func (r *RMM) HangNext(n int) { r.queue(n, fault{}) }

func (r *RMM) queue(n int, f fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range n {
		r.faults = append(r.faults, f)
	}
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

// begin runs what every call goes through (see psafake: the same policy).
func (c *Client) begin(ctx context.Context, method string) error {
	r := c.r
	r.mu.Lock()
	r.calls[method]++
	hook := r.hook
	var failErr error
	if f, ok := r.failures[method]; ok {
		failErr = f.err
		if f.n > 0 {
			if f.n--; f.n == 0 {
				delete(r.failures, method)
			}
		}
	}
	unsupported := r.opt.unsupported[method] || (r.opt.only != nil && !r.opt.only[method])
	r.mu.Unlock()
	if unsupported {
		return apperr.New(apperr.NotImplemented, "the fake RMM does not support %s", method)
	}
	if hook != nil {
		if err := hook(method); err != nil {
			return err
		}
	}
	if failErr != nil {
		return failErr
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return apperr.Wrap(apperr.Unavailable, err, "the fake RMM did not answer in time")
		}
		r.mu.Lock()
		r.requests++
		if c.secret != r.opt.secret {
			r.mu.Unlock()
			return &apperr.Error{Kind: apperr.Unauthorized, Message: RejectedReason, VendorStatus: 401}
		}
		if len(r.faults) == 0 {
			r.mu.Unlock()
			return nil
		}
		f := r.faults[0]
		r.faults = r.faults[1:]
		r.mu.Unlock()
		last := attempt >= r.opt.maxAttempts
		switch {
		case f.status == 429:
			if f.retryAfter > MaxRetryAfter || last {
				return &apperr.Error{Kind: apperr.Throttled, VendorStatus: 429, RetryAfter: max(f.retryAfter, time.Second),
					Message: fmt.Sprintf("the fake RMM asks to retry after %s", f.retryAfter.Round(time.Second))}
			}
			r.wait(f.retryAfter)
		case f.status != 0:
			if last {
				return &apperr.Error{Kind: apperr.Vendor, VendorStatus: f.status, Message: fmt.Sprintf("the fake RMM failed (HTTP %d)", f.status)}
			}
			r.wait(time.Duration(attempt) * 100 * time.Millisecond)
		default:
			t := time.NewTimer(r.opt.attemptTimeout)
			select {
			case <-ctx.Done():
				t.Stop()
				return apperr.Wrap(apperr.Unavailable, ctx.Err(), "the fake RMM did not answer in time")
			case <-t.C:
			}
			if last {
				return apperr.New(apperr.Unavailable, "the fake RMM did not answer")
			}
			r.wait(time.Duration(attempt) * 100 * time.Millisecond)
		}
	}
}

func (r *RMM) wait(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
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
	start := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return rmm.DevicePage{}, apperr.New(apperr.Invalid, "the device cursor %q is not one this listing returned", cursor)
		}
		start = n
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
	if start < len(all) {
		end := min(start+c.r.opt.pageSize, len(all))
		p.Devices = slices.Clone(all[start:end])
		for i := range p.Devices {
			p.Devices[i].Volumes = slices.Clone(p.Devices[i].Volumes)
		}
		if end < len(all) {
			p.NextCursor = strconv.Itoa(end)
		}
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
	r := c.r
	r.mu.Lock()
	r.calls["ParseWebhook"]++
	unsupported := r.opt.unsupported["ParseWebhook"] || (r.opt.only != nil && !r.opt.only["ParseWebhook"])
	parser := r.opt.parser
	r.mu.Unlock()
	if unsupported {
		return rmm.Alert{}, false, apperr.New(apperr.NotImplemented, "the fake RMM does not support ParseWebhook")
	}
	if parser != nil {
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
