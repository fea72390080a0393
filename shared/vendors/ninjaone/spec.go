package ninjaone

import (
	"fmt"

	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Spec is NinjaOne as rmmbridge knows it: its credentials, its
// capabilities and its opener. Its request budget is the default one per
// connection (NinjaOne publishes no limits; its 429s cool the budget
// down), every request, token requests included, drawn from it.
var Spec = vendorspec.Spec{
	Name:        "ninjaone",
	Kind:        vendorspec.KindRMM,
	DisplayName: "NinjaOne",
	Credentials: []vendorspec.CredentialField{
		{Name: "clientId", Required: true, Description: "The API client id (client credentials grant)."},
		{Name: "clientSecret", Required: true, Secret: true, Description: "The API client secret."},
	},
	Capabilities: []vendorspec.Offer{
		{Capability: vendorspec.OrgsCreate},
		{Capability: vendorspec.SitesCreate},
		{Capability: vendorspec.WebhooksParse},
		{Capability: vendorspec.DevicesSnapshot},
	},
	OpenRMM: open,
}

// open opens a client for a connection.
func open(p vendorspec.Params) (rmm.Client, error) {
	c, err := New(Config{BaseURL: p.BaseURL, ClientID: p.Credentials["clientId"], ClientSecret: p.Credentials["clientSecret"],
		Limiter: p.Limiter("")}, p.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("open ninjaone client: %w", err)
	}
	return c, nil
}
