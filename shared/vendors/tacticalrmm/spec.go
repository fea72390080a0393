package tacticalrmm

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Spec is Tactical RMM as rmmbridge knows it. devices.snapshot needs the
// betaApi setting (the install's paged beta API); without it an import
// reads each device's detail.
//
// Its request budget is the install's (BudgetKey: every connection to the
// same host shares it). Tactical RMM is self-hosted and publishes no
// limits (its API runs on the MSP's own, often small, server), so the
// default is protective: DefaultRequestsPerMinute, at most
// DefaultMaxConcurrency requests in flight on the install. No calibration:
// Tactical reports no count.
var Spec = vendorspec.Spec{
	Name:        "tacticalrmm",
	Kind:        vendorspec.KindRMM,
	DisplayName: "Tactical RMM",
	Credentials: []vendorspec.CredentialField{
		{Name: "apiKey", Required: true, Secret: true, Description: "An API key (X-API-KEY)."},
	},
	Settings: []vendorspec.Setting{
		{Name: "betaApi", Type: vendorspec.Boolean, Default: false, Description: "The install serves the paged beta API " +
			"(BETA_API_ENABLED=True in local_settings.py): devices are read 1,000 per request with every attribute. " +
			"If the install turns out not to serve it, rmmbridge falls back to the classic endpoints."},
	},
	Capabilities: []vendorspec.Offer{
		{Capability: vendorspec.OrgsCreate},
		{Capability: vendorspec.SitesCreate},
		{Capability: vendorspec.WebhooksParse},
		{Capability: vendorspec.DevicesSnapshot, NeedsSetting: "betaApi"},
	},
	Budget:  vendorspec.Budget{RequestsPerMinute: DefaultRequestsPerMinute, MaxConcurrency: DefaultMaxConcurrency},
	OpenRMM: open,
}

// The install's budget unless the connection's settings say otherwise.
const (
	DefaultRequestsPerMinute = 600
	DefaultMaxConcurrency    = 4
)

// BudgetKey names the request budget of a Tactical RMM install: its API
// host.
func BudgetKey(baseURL string) string {
	host := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	if u, err := url.Parse(host); err == nil && u.Host != "" {
		host = u.Host
	}
	return "tacticalrmm-" + strings.ToLower(host)
}

func open(p vendorspec.Params) (rmm.Client, error) {
	c, err := New(Config{BaseURL: p.BaseURL, APIKey: p.Credentials["apiKey"], BetaAPI: p.Settings.Bool("betaApi"),
		Limiter: p.Limiter(BudgetKey(p.BaseURL))}, p.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("open tacticalrmm client: %w", err)
	}
	return c, nil
}
