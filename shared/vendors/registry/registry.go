// Package registry is the runtime list of vendors: each vendor package's
// Spec, and the planned vendors rmmbridge does not speak yet. Adding a
// vendor is one line here (and its folder under shared/vendors); the
// providers registry, the connection service and the openapi.yaml check
// all read this list.
package registry

import (
	"sync"

	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise"
	"github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone"
	"github.com/rmmbridge/rmmbridge/shared/vendors/tacticalrmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Specs returns every vendor's spec.
func Specs() []vendorspec.Spec {
	return []vendorspec.Spec{
		ninjaone.Spec,
		connectwise.Spec,
		tacticalrmm.Spec,
		// Planned: known names and credentials, refused as not supported
		// yet until their package replaces the line.
		dattoRMM,
		autotask,
		haloPSA,
	}
}

// Catalog returns the catalog of Specs, built once.
var Catalog = sync.OnceValue(func() *vendorspec.Catalog { return vendorspec.MustCatalog(Specs()...) })
