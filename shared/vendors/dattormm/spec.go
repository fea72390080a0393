package dattormm

import (
	"fmt"

	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Spec is Datto RMM as rmmbridge knows it: its credentials, its setting,
// its capabilities and its opener. Sites are organizations (one site each,
// same id), so there is no sites.create.
//
// Its request budget is the Datto account's (BudgetKey: every connection
// with the same platform and API key shares it), strict (Datto blocks the
// address of a caller that keeps calling after a 429, so nothing is sent
// while it cools down), at 540 requests a minute: Datto allows 600 reads
// and 600 writes per rolling minute, counted apart, and slows answers past
// 90 %; one budget for both at 90 % of the read limit can never reach
// either limit, whatever the mix. The client calibrates it on Datto's own
// count (RequestRate), which shrinks it when other integrations use the
// account.
var Spec = vendorspec.Spec{
	Name:        "dattormm",
	Kind:        vendorspec.KindRMM,
	DisplayName: "Datto RMM",
	Credentials: []vendorspec.CredentialField{
		{Name: "apiKey", Required: true, Description: "The API user's key."},
		{Name: "apiSecret", Required: true, Secret: true, Description: "The API user's secret key."},
	},
	Settings: []vendorspec.Setting{
		{Name: "assetUdf", Type: vendorspec.Integer, Min: vendorspec.Int(1), Max: vendorspec.Int(30),
			Description: "The device user-defined field (1 to 30) rmmbridge writes the PSA asset id to; unset: none."},
	},
	Capabilities: []vendorspec.Offer{
		{Capability: vendorspec.OrgsCreate},
		{Capability: vendorspec.WebhooksParse},
		{Capability: vendorspec.DevicesSnapshot},
	},
	Budget:  vendorspec.Budget{Strict: true, RequestsPerMinute: DefaultRequestsPerMinute},
	OpenRMM: open,
}

// DefaultRequestsPerMinute is the budget of a connection whose
// requestsPerMinute setting is unset: 90 % of Datto's 600 reads a minute.
const DefaultRequestsPerMinute = 600 * 9 / 10

// open opens a client for a connection.
func open(p vendorspec.Params) (rmm.Client, error) {
	c, err := New(Config{BaseURL: p.BaseURL, APIKey: p.Credentials["apiKey"], APISecret: p.Credentials["apiSecret"], AssetUDF: p.Settings.Int("assetUdf"),
		Limiter: p.Limiter(BudgetKey(p.BaseURL, p.Credentials["apiKey"]))}, p.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("open Datto RMM client: %w", err)
	}
	return c, nil
}
