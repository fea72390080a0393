package tacticalrmm

import (
	"fmt"

	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Spec is Tactical RMM as rmmbridge knows it. devices.snapshot needs the
// betaApi setting (the install's paged beta API); without it an import
// reads each device's detail.
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
	OpenRMM: open,
}

func open(p vendorspec.Params) (rmm.Client, error) {
	c, err := New(Config{BaseURL: p.BaseURL, APIKey: p.Credentials["apiKey"], BetaAPI: p.Settings.Bool("betaApi")}, p.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("open tacticalrmm client: %w", err)
	}
	return c, nil
}
