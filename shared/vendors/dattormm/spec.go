package dattormm

import (
	"fmt"

	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Spec is Datto RMM as rmmbridge knows it: its credentials, its setting,
// its capabilities and its opener. Sites are organizations (one site each,
// same id), so there is no sites.create.
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
	OpenRMM: open,
}

// open opens a client for a connection.
func open(p vendorspec.Params) (rmm.Client, error) {
	c, err := New(Config{BaseURL: p.BaseURL, APIKey: p.Credentials["apiKey"], APISecret: p.Credentials["apiSecret"], AssetUDF: p.Settings.Int("assetUdf")}, p.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("open Datto RMM client: %w", err)
	}
	return c, nil
}
