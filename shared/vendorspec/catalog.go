package vendorspec

import (
	"fmt"
	"sort"
	"strings"
)

// Catalog is the list of vendors rmmbridge knows (shared/vendors/registry
// builds the runtime one), validated, by name.
type Catalog struct {
	byName map[string]*Vendor
	names  []string
}

// NewCatalog validates each spec and returns the catalog; names must be
// unique.
func NewCatalog(specs ...Spec) (*Catalog, error) {
	c := &Catalog{byName: map[string]*Vendor{}}
	for _, s := range specs {
		v, err := newVendor(s)
		if err != nil {
			return nil, err
		}
		if _, dup := c.byName[s.Name]; dup {
			return nil, fmt.Errorf("vendor %s is listed twice", s.Name)
		}
		c.byName[s.Name] = v
		c.names = append(c.names, s.Name)
	}
	sort.Strings(c.names)
	return c, nil
}

// MustCatalog is NewCatalog for lists fixed in the code; it panics on a
// malformed spec (a programming error every test catches).
func MustCatalog(specs ...Spec) *Catalog {
	c, err := NewCatalog(specs...)
	if err != nil {
		panic(err)
	}
	return c
}

// Vendor returns the named vendor. A nil catalog knows none.
func (c *Catalog) Vendor(name string) (*Vendor, bool) {
	if c == nil {
		return nil, false
	}
	v, ok := c.byName[name]
	return v, ok
}

// Names returns every vendor's name, sorted.
func (c *Catalog) Names() []string {
	if c == nil {
		return nil
	}
	return append([]string(nil), c.names...)
}

// Vendors returns every vendor, sorted by name.
func (c *Catalog) Vendors() []*Vendor {
	if c == nil {
		return nil
	}
	out := make([]*Vendor, 0, len(c.names))
	for _, n := range c.names {
		out = append(out, c.byName[n])
	}
	return out
}

// NamesOf returns the names of the vendors of kind k, sorted.
func (c *Catalog) NamesOf(k Kind) []string {
	var out []string
	for _, v := range c.Vendors() {
		if v.Kind == k {
			out = append(out, v.Name)
		}
	}
	return out
}

// OneOf is the message of an unknown provider name.
func (c *Catalog) OneOf() string {
	return "must be one of " + strings.Join(c.Names(), ", ")
}

// Cataloged is implemented by what knows the vendor catalog
// (providers.Registry), so a service given it as its connection tester
// validates against the same list.
type Cataloged interface {
	Catalog() *Catalog
}
