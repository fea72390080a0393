// Package providers opens vendor clients for saved connections from the
// vendors' specs (shared/vendorspec; the list is shared/vendors/registry):
// each spec types the connection's settings and opens its client, which
// providers wraps with the connection's capabilities. It is also the
// connection tester behind "Test & save".
package providers

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/netguard"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendors/registry"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Registry opens clients. The zero value is usable and safe: every vendor
// client it opens (API and OAuth token requests alike) connects through
// netguard, which refuses loopback, private, link-local, CGNAT, ULA,
// NAT64, multicast, broadcast and unspecified addresses at connect time,
// and vendorhttp never follows a redirect.
type Registry struct {
	// AllowLoopback lets vendor clients connect to loopback addresses (the
	// local stack's sandboxes, RMMBRIDGE_ALLOW_LOOPBACK_VENDORS) and to
	// nothing else that is not public. Never set in AWS.
	AllowLoopback bool
	// Resolver and Dial replace DNS and the socket dial under the guard
	// (tests: a fake resolver, a dialer that records attempts); nil uses
	// the system's.
	Resolver netguard.Resolver
	Dial     netguard.DialFunc
	// Vendors are the vendors it opens; nil is the runtime list
	// (shared/vendors/registry).
	Vendors *vendorspec.Catalog

	// budget, set by the Opener for one connection, is where the
	// clients it opens draw their request budgets; nil: none (as for
	// "Test & save", one request).
	budget *connBudget
}

// connBudget is one connection's request budgets.
type connBudget struct {
	budgets      *ratelimit.Budgets
	tenantID     string
	connectionID string
}

// BudgetKey is the budget key of a connection's own budget.
func BudgetKey(connectionID string) string { return "conn-" + connectionID }

// budgetFunc opens the connection's budgets of vendor v configured by its
// typed settings.
func (r Registry) budgetFunc(v *vendorspec.Vendor, typed vendorspec.Settings) vendorspec.BudgetFunc {
	cb := r.budget
	if cb == nil || cb.budgets == nil {
		return nil
	}
	b := v.Budget(typed)
	return func(key string) *ratelimit.Limiter {
		if key == "" {
			key = BudgetKey(cb.connectionID)
		}
		return cb.budgets.Limiter(ratelimit.ID{Tenant: cb.tenantID, Key: key}, b)
	}
}

var (
	_ connection.Tester            = Registry{}
	_ connection.SettingsTester    = Registry{}
	_ connection.TicketListsOpener = Registry{}
	_ vendorspec.Cataloged         = Registry{}
)

// clientTimeout bounds one vendor HTTP request (requests also honour their
// context deadline).
const clientTimeout = 30 * time.Second

// sharedClients are the guarded clients of registries without seams, one
// per policy, so that every vendor client of a Lambda shares one
// connection pool.
var sharedClients = [2]func() *http.Client{
	sync.OnceValue(func() *http.Client { return guardedClient(&netguard.Dialer{}) }),
	sync.OnceValue(func() *http.Client {
		return guardedClient(&netguard.Dialer{Policy: netguard.Policy{AllowLoopback: true}})
	}),
}

func guardedClient(d *netguard.Dialer) *http.Client {
	return &http.Client{Timeout: clientTimeout, Transport: netguard.NewTransport(d)}
}

// httpClient returns the guarded client vendor clients send through.
func (r Registry) httpClient() *http.Client {
	if r.Resolver != nil || r.Dial != nil {
		return guardedClient(&netguard.Dialer{Policy: netguard.Policy{AllowLoopback: r.AllowLoopback}, Resolver: r.Resolver, Dial: r.Dial})
	}
	if r.AllowLoopback {
		return sharedClients[1]()
	}
	return sharedClients[0]()
}

// Catalog returns the vendors the registry opens: Vendors, or the
// runtime list.
func (r Registry) Catalog() *vendorspec.Catalog {
	if r.Vendors != nil {
		return r.Vendors
	}
	return registry.Catalog()
}

func unsupported(provider string) error {
	return apperr.New(apperr.Invalid, "provider %s is not supported yet", provider)
}

// vendor returns the spec of provider, which must be of kind k and spoken
// (not planned).
func (r Registry) vendor(provider string, k vendorspec.Kind) (*vendorspec.Vendor, error) {
	v, ok := r.Catalog().Vendor(provider)
	switch {
	case !ok || v.Planned():
		return nil, unsupported(provider)
	case v.Kind != k:
		return nil, apperr.New(apperr.Invalid, "provider %s is a %s, not a %s", provider, v.Kind, k)
	}
	return v, nil
}

// params are what a vendor's opener gets: settings typed with defaults,
// and the guarded HTTP client.
func (r Registry) params(v *vendorspec.Vendor, baseURL string, creds connection.Credentials, settings map[string]any) (vendorspec.Params, vendorspec.Settings, error) {
	typed, err := v.TypedSettings(settings)
	if err != nil {
		return vendorspec.Params{}, nil, err
	}
	return vendorspec.Params{BaseURL: baseURL, Credentials: creds, Settings: typed, HTTPClient: r.httpClient(),
		Budget: r.budgetFunc(v, typed)}, typed, nil
}

// RMM opens an RMM client (its connection settings are not needed; see
// OpenRMM).
func (r Registry) RMM(provider, baseURL string, creds connection.Credentials) (rmm.Client, error) {
	return r.OpenRMM(provider, baseURL, creds, nil)
}

// OpenRMM opens an RMM client from its vendor's spec. The client carries
// the connection's capabilities (vendorspec.Capable).
func (r Registry) OpenRMM(provider, baseURL string, creds connection.Credentials, settings map[string]any) (rmm.Client, error) {
	v, err := r.vendor(provider, vendorspec.KindRMM)
	if err != nil {
		return nil, err
	}
	p, typed, err := r.params(v, baseURL, creds, settings)
	if err != nil {
		return nil, err
	}
	c, err := v.OpenRMM(p)
	if err != nil {
		return nil, err
	}
	if err := vendorspec.CheckRoles(v.Spec, c); err != nil {
		return nil, apperr.Wrap(apperr.Internal, err, "the %s client does not match its spec", provider)
	}
	return vendorspec.WithRMM(c, v.Capabilities(typed)), nil
}

// PSA opens a PSA client from its vendor's spec. Settings are the
// connection's (ConnectWise: accountRefFieldId, assetCheckInFieldId,
// apiMember, ignoreMembers, closedStatus, reopenStatus), typed and
// defaulted by the spec. The client carries the connection's capabilities
// (vendorspec.Capable).
func (r Registry) PSA(provider, baseURL string, creds connection.Credentials, settings map[string]any) (psa.Client, error) {
	v, err := r.vendor(provider, vendorspec.KindPSA)
	if err != nil {
		return nil, err
	}
	p, typed, err := r.params(v, baseURL, creds, settings)
	if err != nil {
		return nil, err
	}
	c, err := v.OpenPSA(p)
	if err != nil {
		return nil, err
	}
	if err := vendorspec.CheckRoles(v.Spec, c); err != nil {
		return nil, apperr.Wrap(apperr.Internal, err, "the %s client does not match its spec", provider)
	}
	return vendorspec.WithPSA(c, v.Capabilities(typed)), nil
}

// tester is what every client offers for "Test & save".
type tester interface {
	TestConnection(ctx context.Context) error
}

// Test implements connection.Tester: it opens the client and makes one
// cheap authenticated call.
func (r Registry) Test(ctx context.Context, provider, baseURL string, creds connection.Credentials) error {
	return r.TestSettings(ctx, provider, baseURL, creds, nil)
}

// TestSettings implements connection.SettingsTester: Test with the
// connection's settings, so that a client can check them against the
// vendor (Autotask's defaults against its picklists).
func (r Registry) TestSettings(ctx context.Context, provider, baseURL string, creds connection.Credentials, settings map[string]any) error {
	v, ok := r.Catalog().Vendor(provider)
	if !ok || v.Planned() {
		return unsupported(provider)
	}
	var (
		c   tester
		err error
	)
	if v.Kind == vendorspec.KindRMM {
		c, err = r.RMM(provider, baseURL, creds)
	} else {
		c, err = r.PSA(provider, baseURL, creds, settings)
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return c.TestConnection(ctx)
}

// TicketPicklists implements connection.TicketListsOpener: it opens the
// PSA connection's client and returns its ticket picklists when the
// connection offers them (vendorspec.TicketsPicklists). The lists' calls
// are bounded like a connection test's.
func (r Registry) TicketPicklists(ctx context.Context, provider, baseURL string, creds connection.Credentials, settings map[string]any) (psa.TicketPicklists, bool, error) {
	c, err := r.PSA(provider, baseURL, creds, settings)
	if err != nil {
		return nil, false, err
	}
	p, err := vendorspec.Require[psa.TicketPicklists](c, vendorspec.TicketsPicklists, "checking the ticket defaults against the PSA's lists")
	if apperr.KindOf(err) == apperr.Internal && err != nil {
		return nil, false, err // declared but not implemented: a bug, not free text
	}
	if err != nil {
		return nil, false, nil
	}
	return boundedPicklists{p}, true, nil
}

// picklistTimeout bounds each picklist call of a settings check.
const picklistTimeout = 15 * time.Second

// boundedPicklists gives each call of a settings check its own deadline,
// so a PSA that hangs answers the save with an error, not a hung request.
type boundedPicklists struct{ p psa.TicketPicklists }

func (b boundedPicklists) ListBoards(ctx context.Context) ([]psa.NamedRef, error) {
	ctx, cancel := context.WithTimeout(ctx, picklistTimeout)
	defer cancel()
	return b.p.ListBoards(ctx)
}

func (b boundedPicklists) ListPriorities(ctx context.Context) ([]psa.NamedRef, error) {
	ctx, cancel := context.WithTimeout(ctx, picklistTimeout)
	defer cancel()
	return b.p.ListPriorities(ctx)
}

func (b boundedPicklists) ListTicketStatuses(ctx context.Context, board psa.NamedRef) ([]psa.NamedRef, error) {
	ctx, cancel := context.WithTimeout(ctx, picklistTimeout)
	defer cancel()
	return b.p.ListTicketStatuses(ctx, board)
}

func (b boundedPicklists) ListTicketTypes(ctx context.Context, board psa.NamedRef) ([]psa.NamedRef, error) {
	ctx, cancel := context.WithTimeout(ctx, picklistTimeout)
	defer cancel()
	return b.p.ListTicketTypes(ctx, board)
}

// Clients are an integration's open vendor clients.
type Clients struct {
	Integration connection.Integration
	RMM         rmm.Client
	PSA         psa.Client
}

// Opener opens an integration's clients, reusing them (and their OAuth
// token caches) across invocations of a warm Lambda while the connection
// is unchanged.
//
// With ReadTTL set it also reuses the integration and connection records it
// read for that long (a per-instance cache: a changed integration or
// connection is seen by a warm instance within ReadTTL; a deleted one may
// still be used as long). The import workers set it, so a refresh per
// device stops re-reading three records; the API does not.
type Opener struct {
	Conns    *connection.Service
	Registry Registry
	// Budgets, when set, gives each connection's clients their request
	// budgets (the connection's, keyed BudgetKey, or one the client
	// names), shared by every instance through the table and configured
	// by the connection's budget settings and its vendor's defaults.
	Budgets *ratelimit.Budgets
	// ReadTTL is how long integration and connection reads are reused (0:
	// read each time). Now is the clock (default time.Now).
	ReadTTL time.Duration
	Now     func() time.Time

	mu    sync.Mutex
	cache map[string]cachedClient // by tenant/connection id
	reads map[string]cachedRead   // by kind/tenant/id
}

// cachedRead is an integration or connection record read at a time.
type cachedRead struct {
	at  time.Time
	rec any
}

// maxCachedReads bounds the read cache of one instance.
const maxCachedReads = 4096

// cachedGet returns get's answer, reused for ReadTTL.
func cachedGet[T any](o *Opener, key string, get func() (T, error)) (T, error) {
	if o.ReadTTL <= 0 {
		return get()
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	o.mu.Lock()
	hit, ok := o.reads[key]
	o.mu.Unlock()
	if ok && now().Sub(hit.at) < o.ReadTTL {
		if v, ok := hit.rec.(T); ok {
			return v, nil
		}
	}
	v, err := get()
	if err != nil {
		return v, err
	}
	o.mu.Lock()
	if o.reads == nil || len(o.reads) >= maxCachedReads {
		o.reads = map[string]cachedRead{}
	}
	o.reads[key] = cachedRead{at: now(), rec: v}
	o.mu.Unlock()
	return v, nil
}

type cachedClient struct {
	version time.Time // the connection's UpdatedAt when opened
	client  any
}

// Open returns the integration and its clients (NotFound for an unknown
// integration of this tenant).
func (o *Opener) Open(ctx context.Context, tenantID, integrationID string) (Clients, error) {
	ig, err := cachedGet(o, "integration/"+tenantID+"/"+integrationID, func() (connection.Integration, error) {
		return o.Conns.GetIntegration(ctx, tenantID, integrationID)
	})
	if err != nil {
		return Clients{}, err
	}
	r, err := o.client(ctx, tenantID, ig.RMMConnectionID)
	if err != nil {
		return Clients{}, err
	}
	p, err := o.client(ctx, tenantID, ig.PSAConnectionID)
	if err != nil {
		return Clients{}, err
	}
	rc, ok1 := r.(rmm.Client)
	pc, ok2 := p.(psa.Client)
	if !ok1 || !ok2 {
		return Clients{}, apperr.New(apperr.Invalid, "integration %s does not pair an RMM with a PSA connection", integrationID)
	}
	return Clients{Integration: ig, RMM: rc, PSA: pc}, nil
}

func (o *Opener) client(ctx context.Context, tenantID, connID string) (any, error) {
	c, err := cachedGet(o, "connection/"+tenantID+"/"+connID, func() (connection.Connection, error) {
		return o.Conns.Get(ctx, tenantID, connID)
	})
	if err != nil {
		return nil, fmt.Errorf("read connection %s: %w", connID, err)
	}
	key := tenantID + "/" + connID
	o.mu.Lock()
	hit, ok := o.cache[key]
	o.mu.Unlock()
	if ok && hit.version.Equal(c.UpdatedAt) {
		return hit.client, nil
	}
	creds, err := o.Conns.Credentials(ctx, c)
	if err != nil {
		return nil, err
	}
	reg := o.Registry
	if o.Budgets != nil {
		reg.budget = &connBudget{budgets: o.Budgets, tenantID: tenantID, connectionID: connID}
	}
	var client any
	if c.Kind == connection.KindRMM {
		client, err = reg.OpenRMM(c.Provider, c.BaseURL, creds, c.Settings)
	} else {
		client, err = reg.PSA(c.Provider, c.BaseURL, creds, c.Settings)
	}
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	if o.cache == nil {
		o.cache = map[string]cachedClient{}
	}
	o.cache[key] = cachedClient{version: c.UpdatedAt, client: client}
	o.mu.Unlock()
	return client, nil
}
