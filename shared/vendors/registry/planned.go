package registry

import "github.com/rmmbridge/rmmbridge/shared/vendorspec"

// The planned vendors: a connection to one is validated (its credentials)
// and then refused as not supported yet. Each is replaced by its
// package's Spec when its client lands.
var (
	dattoRMM = vendorspec.Spec{Name: "dattormm", Kind: vendorspec.KindRMM, DisplayName: "Datto RMM",
		Credentials: []vendorspec.CredentialField{
			{Name: "apiKey", Required: true, Description: "The API user's key."},
			{Name: "apiSecret", Required: true, Secret: true, Description: "The API user's secret key."},
		}}
	tacticalRMM = vendorspec.Spec{Name: "tacticalrmm", Kind: vendorspec.KindRMM, DisplayName: "Tactical RMM",
		Credentials: []vendorspec.CredentialField{
			{Name: "apiKey", Required: true, Secret: true, Description: "An API key (X-API-KEY)."},
		}}
	autotask = vendorspec.Spec{Name: "autotask", Kind: vendorspec.KindPSA, DisplayName: "Autotask PSA",
		Credentials: []vendorspec.CredentialField{
			{Name: "username", Required: true, Description: "The API user's user name."},
			{Name: "secret", Required: true, Secret: true, Description: "The API user's secret."},
			{Name: "integrationCode", Required: true, Description: "The API tracking identifier (integration code)."},
		}}
)
