// Package providers opens vendor clients for saved connections: it knows
// which package speaks each provider and how a connection's credentials map
// onto that client's configuration. It is also the connection tester behind
// "Test & save".
package providers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/netguard"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise"
	"github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone"
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
	// Limiter is the request budget the clients it opens draw from (the
	// Opener sets one per connection); nil: none, as for "Test & save".
	Limiter vendorhttp.Limiter
}

var _ connection.Tester = Registry{}

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

func unsupported(provider string) error {
	return apperr.New(apperr.Invalid, "provider %s is not supported yet", provider)
}

// RMM opens an RMM client.
func (r Registry) RMM(provider, baseURL string, creds connection.Credentials) (rmm.Client, error) {
	switch provider {
	case "ninjaone":
		c, err := ninjaone.New(ninjaone.Config{BaseURL: baseURL, ClientID: creds["clientId"], ClientSecret: creds["clientSecret"], Limiter: r.Limiter}, r.httpClient())
		if err != nil {
			return nil, fmt.Errorf("open ninjaone client: %w", err)
		}
		return c, nil
	}
	return nil, unsupported(provider)
}

// PSA opens a PSA client. Settings are the connection's vendor settings
// (ConnectWise: accountRefFieldId, assetCheckInFieldId, apiMember,
// closedStatus, ignoreMembers).
func (r Registry) PSA(provider, baseURL string, creds connection.Credentials, settings map[string]any) (psa.Client, error) {
	switch provider {
	case "connectwise":
		c, err := connectwise.New(connectwise.Config{BaseURL: baseURL, CompanyID: creds["companyId"], PublicKey: creds["publicKey"],
			PrivateKey: creds["privateKey"], ClientID: creds["clientId"],
			AccountRefFieldID: intSetting(settings, "accountRefFieldId"), AssetCheckInFieldID: intSetting(settings, "assetCheckInFieldId"),
			APIMember: strSetting(settings, "apiMember"), ClosedStatus: strSetting(settings, "closedStatus"),
			IgnoreMembers: strsSetting(settings, "ignoreMembers"), Limiter: r.Limiter}, r.httpClient())
		if err != nil {
			return nil, fmt.Errorf("open connectwise client: %w", err)
		}
		return c, nil
	}
	return nil, unsupported(provider)
}

// tester is what every client offers for "Test & save".
type tester interface {
	TestConnection(ctx context.Context) error
}

// Test implements connection.Tester: it opens the client and makes one
// cheap authenticated call.
func (r Registry) Test(ctx context.Context, provider, baseURL string, creds connection.Credentials) error {
	p, ok := connection.Providers[provider]
	if !ok {
		return unsupported(provider)
	}
	var (
		c   tester
		err error
	)
	if p.Kind == connection.KindRMM {
		c, err = r.RMM(provider, baseURL, creds)
	} else {
		c, err = r.PSA(provider, baseURL, creds, nil)
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return c.TestConnection(ctx)
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
type Opener struct {
	Conns    *connection.Service
	Registry Registry
	// Budgets, when set, gives each connection's client its request
	// budget (BudgetFor), shared by every instance through the table.
	Budgets *ratelimit.Budgets

	mu    sync.Mutex
	cache map[string]cachedClient // by tenant/connection id
}

type cachedClient struct {
	version time.Time // the connection's UpdatedAt when opened
	client  any
}

// Open returns the integration and its clients (NotFound for an unknown
// integration of this tenant).
func (o *Opener) Open(ctx context.Context, tenantID, integrationID string) (Clients, error) {
	ig, err := o.Conns.GetIntegration(ctx, tenantID, integrationID)
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
	c, err := o.Conns.Get(ctx, tenantID, connID)
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
		reg.Limiter = o.Budgets.Limiter(ratelimit.ID{Tenant: tenantID, Key: BudgetKey(connID)}, BudgetFor(c.Provider, c.Settings))
	}
	var client any
	if c.Kind == connection.KindRMM {
		client, err = reg.RMM(c.Provider, c.BaseURL, creds)
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

// Budget defaults for connections whose settings name none. Neither
// NinjaOne nor ConnectWise publishes its limits (vendor-apis.md §1.4,
// §4.5): 1,200 requests a minute keeps a runaway import from hammering
// them without slowing any flow rmmbridge has, and concurrency is left to
// the vendor (0: no leases, no store request for them). Both honour the
// vendor's 429s through the budget's cool-down.
const (
	DefaultRequestsPerMinute = 1200
	DefaultMaxConcurrency    = 0
)

// BudgetKey is the budget key of a connection.
func BudgetKey(connectionID string) string { return "conn-" + connectionID }

// BudgetFor is the request budget of a connection from its settings
// requestsPerMinute and maxConcurrency (positive integers; anything else
// takes the default). This plain reading stands until the vendor specs
// type the settings (issue 10 §1).
func BudgetFor(provider string, settings map[string]any) ratelimit.Budget {
	b := ratelimit.Budget{Name: displayNames[provider], Requests: DefaultRequestsPerMinute, Window: time.Minute, MaxConcurrency: DefaultMaxConcurrency}
	if b.Name == "" {
		b.Name = provider
	}
	if n := intSetting(settings, "requestsPerMinute"); n > 0 {
		b.Requests = n
	}
	if n := intSetting(settings, "maxConcurrency"); n > 0 {
		b.MaxConcurrency = n
	}
	return b
}

var displayNames = map[string]string{"ninjaone": "NinjaOne", "connectwise": "ConnectWise"}

func intSetting(m map[string]any, k string) int {
	switch v := m[k].(type) {
	case float64:
		return int(v)
	case int:
		return v
	case string:
		n, _ := strconv.Atoi(v)
		return n
	}
	return 0
}

func strSetting(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func strsSetting(m map[string]any, k string) []string {
	var out []string
	if list, ok := m[k].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}
