// Package providers opens vendor clients for saved connections: it knows
// which package speaks each provider and how a connection's credentials map
// onto that client's configuration. It is also the connection tester behind
// "Test & save".
package providers

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// Registry opens clients. The zero value is usable.
type Registry struct {
	// HTTPClient is shared by every vendor client; a 30 s timeout client
	// when nil (requests also honour their context deadline).
	HTTPClient *http.Client
}

var _ connection.Tester = Registry{}

func (r Registry) httpClient() *http.Client {
	if r.HTTPClient != nil {
		return r.HTTPClient
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func unsupported(provider string) error {
	return apperr.New(apperr.Invalid, "provider %s is not supported yet", provider)
}

// RMM opens an RMM client.
func (r Registry) RMM(provider, baseURL string, creds connection.Credentials) (rmm.Client, error) {
	return nil, unsupported(provider)
}

// PSA opens a PSA client.
func (r Registry) PSA(provider, baseURL string, creds connection.Credentials) (psa.Client, error) {
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
		c, err = r.PSA(provider, baseURL, creds)
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
	var client any
	if c.Kind == connection.KindRMM {
		client, err = o.Registry.RMM(c.Provider, c.BaseURL, creds)
	} else {
		client, err = o.Registry.PSA(c.Provider, c.BaseURL, creds)
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
