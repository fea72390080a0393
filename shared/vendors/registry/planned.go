package registry

import "github.com/rmmbridge/rmmbridge/shared/vendorspec"

// The planned vendors: a connection to one is validated (its credentials)
// and then refused as not supported yet. Each is replaced by its
// package's Spec when its client lands.
var (
	tacticalRMM = vendorspec.Spec{Name: "tacticalrmm", Kind: vendorspec.KindRMM, DisplayName: "Tactical RMM",
		Credentials: []vendorspec.CredentialField{
			{Name: "apiKey", Required: true, Secret: true, Description: "An API key (X-API-KEY)."},
		}}
)
