// Package providers opens vendor clients for saved connections: it knows
// which package speaks each provider and how a connection's credentials map
// onto that client's configuration. It is also the connection tester behind
// "Test & save".
package providers

import (
	"context"
	"net/http"
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
