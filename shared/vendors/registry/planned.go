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
	autotask = vendorspec.Spec{Name: "autotask", Kind: vendorspec.KindPSA, DisplayName: "Autotask PSA",
		Credentials: []vendorspec.CredentialField{
			{Name: "username", Required: true, Description: "The API user's user name."},
			{Name: "secret", Required: true, Secret: true, Description: "The API user's secret."},
			{Name: "integrationCode", Required: true, Description: "The API tracking identifier (integration code)."},
		}}
	haloPSA = vendorspec.Spec{Name: "halopsa", Kind: vendorspec.KindPSA, DisplayName: "HaloPSA",
		Credentials: []vendorspec.CredentialField{
			{Name: "clientId", Required: true, Description: "The API application's client id."},
			{Name: "clientSecret", Required: true, Secret: true, Description: "The API application's client secret."},
			{Name: "tenant", Description: "The tenant, for hosted instances that need it."},
		}}
)
