// Package sandboxes is the one list of vendor sandboxes (each sandbox
// package's Spec): `rmmbridge dev`, `rmmbridge sandbox`, `rmmbridge bench`
// and the dev stack start the sandboxes they are asked for from it, so a
// new vendor's sandbox is one line here. Development tooling only.
package sandboxes

import (
	"sort"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	atsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/autotask/sandbox"
	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
	dattosandbox "github.com/rmmbridge/rmmbridge/shared/vendors/dattormm/sandbox"
	halosandbox "github.com/rmmbridge/rmmbridge/shared/vendors/halopsa/sandbox"
	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
	tacticalsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/tacticalrmm/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Specs returns every sandbox.
func Specs() []sandboxspec.Spec {
	return []sandboxspec.Spec{
		ninjasandbox.Spec,
		cwsandbox.Spec,
		dattosandbox.Spec,
		atsandbox.Spec,
		halosandbox.Spec,
		tacticalsandbox.Spec,
	}
}

// Get returns the named sandbox of kind k (any kind when k is "").
func Get(name string, k vendorspec.Kind) (sandboxspec.Spec, bool) {
	for _, s := range Specs() {
		if s.Name == name && (k == "" || s.Kind == k) {
			return s, true
		}
	}
	return sandboxspec.Spec{}, false
}

// Names returns the names of the sandboxes of kind k (every kind when k
// is ""), sorted.
func Names(k vendorspec.Kind) []string {
	var out []string
	for _, s := range Specs() {
		if k == "" || s.Kind == k {
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Choices is Names joined for usage texts ("ninjaone|…").
func Choices(k vendorspec.Kind) string { return strings.Join(Names(k), "|") }
