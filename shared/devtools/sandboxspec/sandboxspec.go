// Package sandboxspec describes a vendor sandbox as one value, the local
// twin of the vendor's runtime spec (shared/vendorspec): how to build it,
// its default port, the demo credentials it accepts and the connection
// (and, for a PSA, integration) settings the dev stack uses with it. Each
// sandbox package (shared/vendors/<name>/sandbox) exports its Spec; the
// one list is shared/devtools/sandboxes. It is development tooling: no
// Lambda links it.
package sandboxspec

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Spec is one vendor's sandbox.
type Spec struct {
	// Name is the vendor's provider name (its runtime spec's Name).
	Name string
	Kind vendorspec.Kind
	// DisplayName names the vendor in the dev stack ("NinjaOne"); the
	// demo connection is "<DisplayName> (sandbox)".
	DisplayName string
	// DefaultPort is where `rmmbridge dev` and `rmmbridge sandbox` serve
	// it on 127.0.0.1.
	DefaultPort int
	// BasePath follows the server's URL in a connection's base URL (the
	// vendor's REST root, e.g. ConnectWise's /v4_6_release/apis/3.0).
	BasePath string
	// Credentials are the demo credentials the sandbox accepts, as the
	// connection's credentials.
	Credentials map[string]string
	// Settings are the demo connection's settings.
	Settings map[string]any
	// IntegrationSettings are what the demo integration needs of this
	// vendor (a PSA's ticketDefaults and priorityMap), merged into its
	// settings.
	IntegrationSettings map[string]any
	// NewRMM (Kind rmm) or NewPSA (Kind psa) builds a sandbox, not started.
	NewRMM func(Options) RMM
	NewPSA func(Options) PSA
}

// Options shape a sandbox. Zero values give the vendor's defaults.
type Options struct {
	// Seed makes the data deterministic.
	Seed int64
	// Orgs and Devices size an RMM sandbox's data.
	Orgs, Devices int
	// Related is the RMM sandbox's data a PSA sandbox relates its
	// accounts (by organization name, the way real data relates: exact,
	// variants, look-alikes, missing) and its assets to; nil generates
	// unrelated data.
	Related *RMMData
	// NoAssets leaves a PSA sandbox without assets for Related's devices
	// (by default it holds some: linked by device id, by serial only,
	// serial ties).
	NoAssets bool
	// Faults are injected into the sandbox's answers.
	Faults Faults
	// Logger receives the sandbox's request log (nil discards).
	Logger *slog.Logger
}

// Faults simulate a vendor's bad days.
type Faults struct {
	// Latency is added to every answer.
	Latency time.Duration
	// RateLimit caps requests per second (answered 429 with
	// Retry-After); 0 is unlimited.
	RateLimit float64
	// FailRate5xx is the share of requests answered 502/503/504.
	FailRate5xx float64
	// TimeoutRate is the share of requests that hang for Hang (or until
	// the client gives up).
	TimeoutRate float64
	Hang        time.Duration
}

// Sandbox is a sandbox of either kind.
type Sandbox interface {
	// Handler serves the vendor's API (for tests that wrap it).
	Handler() http.Handler
	// Start listens on addr ("127.0.0.1:0" for a free port) and returns
	// the server's URL.
	Start(addr string) (string, error)
	Close() error
	// Server is the vendor's own server (*sandbox.Server of its package),
	// for tests that use its vendor-specific knobs.
	Server() any
}

// Org is an RMM organization.
type Org struct {
	ID, Name string
	Sites    []string
}

// Device is an RMM device.
type Device struct {
	ID, OrgID, Name, Serial string
}

// RMMData is an RMM sandbox's organizations and devices.
type RMMData struct {
	Orgs    []Org
	Devices []Device
}

// OrgName returns the name of the organization id ("" if unknown).
func (d RMMData) OrgName(id string) string {
	for _, o := range d.Orgs {
		if o.ID == id {
			return o.Name
		}
	}
	return ""
}

// RMM is an RMM sandbox.
type RMM interface {
	Sandbox
	// Data returns the organizations and devices as they are now.
	Data() RMMData
	// TouchDevices changes n devices (as a user would: new last contact,
	// another logged-on user) and returns their ids.
	TouchDevices(n int) []string
	// Requests counts the API requests served.
	Requests() int64
}

// PSA is a PSA sandbox.
type PSA interface {
	Sandbox
	// Requests are the API requests served, in order.
	Requests() []Request
	// Accounts and Assets are the PSA's records as they are now.
	Accounts() []Account
	Assets() []Asset
}

// Request is one request a PSA sandbox served.
type Request struct {
	Method, Path string
	// Asset says the request was about assets (configurations, CIs).
	Asset bool
}

// Account is a PSA account.
type Account struct {
	ID, Name string
	// ExternalRef is rmmbridge's reference on it (the RMM organization
	// id), "" if none.
	ExternalRef string
}

// Asset is a PSA asset.
type Asset struct {
	ID, AccountID string
	// ExternalRef is rmmbridge's device reference on it, "" if none.
	ExternalRef string
}

// ServerOf returns a sandbox's vendor server as T, and whether it is one
// (for example ServerOf[*cwsandbox.Server](env.PSA)).
func ServerOf[T any](s Sandbox) (T, bool) {
	var zero T
	if s == nil {
		return zero, false
	}
	t, ok := s.Server().(T)
	return t, ok
}
