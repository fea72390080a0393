// Package registry is the runtime list of vendors: each vendor package's
// Spec. Adding a
// vendor is one line here (and its folder under shared/vendors); the
// providers registry, the connection service and the openapi.yaml check
// all read this list.
package registry

import (
	"sync"

	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise"
	"github.com/rmmbridge/rmmbridge/shared/vendors/dattormm"
	"github.com/rmmbridge/rmmbridge/shared/vendors/halopsa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone"
	"github.com/rmmbridge/rmmbridge/shared/vendors/tacticalrmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Specs returns every vendor's spec.
func Specs() []vendorspec.Spec {
	return []vendorspec.Spec{
		ninjaone.Spec,
		connectwise.Spec,
		dattormm.Spec,
		autotask.Spec,
		halopsa.Spec,
		tacticalrmm.Spec,
	}
}

// Catalog returns the catalog of Specs, built once.
var Catalog = sync.OnceValue(func() *vendorspec.Catalog { return vendorspec.MustCatalog(Specs()...) })
