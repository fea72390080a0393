// Package layers holds the dependency checks `make test` runs over the
// module (its tests call `go list -deps`): the domain is free of the edge
// and of the vendors, and each Lambda links only its own wiring. It has
// no code of its own.
package layers
