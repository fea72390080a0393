package vendorspec

import (
	"fmt"
	"sort"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// Capability is something a connection can do beyond what every client
// of its kind does. "Test & save" reports a connection's capabilities; a
// feature that needs one the connection lacks is refused (422) with the
// reason when it is asked for, never attempted.
type Capability string

// PSA capabilities.
const (
	// AccountsCreate: create accounts (psa.AccountCreator).
	AccountsCreate Capability = "accounts.create"
	// AccountsFindByRef: find the accounts carrying rmmbridge's reference
	// (psa.AccountRefFinder), which creating accounts exactly once and
	// the account decision need.
	AccountsFindByRef Capability = "accounts.findByRef"
	// AccountsRecent: list the accounts created since a time
	// (psa.RecentAccounts), for reverse provisioning.
	AccountsRecent Capability = "accounts.recent"
	// AssetsFindByRef: find assets by our device reference
	// (psa.AssetFinder.FindAssetsByExternalRef).
	AssetsFindByRef Capability = "assets.findByRef"
	// TicketsFindByRef: find tickets by our alert series reference
	// (psa.TicketRefFinder), so a crashed alert worker adopts its ticket.
	TicketsFindByRef Capability = "tickets.findByRef"
	// TicketsReopen: reopen a closed ticket (psa.TicketReopener).
	TicketsReopen Capability = "tickets.reopen"
	// MembersList: list the PSA's members (psa.MemberLister).
	MembersList Capability = "members.list"
	// AssetsList: page through one account's assets (psa.AssetLister), so
	// an import indexes an account's assets by reference and serial with
	// list pages instead of two lookups per device.
	AssetsList Capability = "assets.list"
	// TicketsPicklists: list ticket boards/queues, priorities, statuses and
	// types (psa.TicketPicklists), so integration settings offer the PSA's
	// own values.
	TicketsPicklists Capability = "tickets.picklists"
)

// RMM capabilities.
const (
	// OrgsCreate: create organizations with their sites
	// (rmm.OrganizationCreator), for reverse provisioning.
	OrgsCreate Capability = "orgs.create"
	// SitesCreate: create a site in an organization (rmm.SiteCreator).
	SitesCreate Capability = "sites.create"
	// WebhooksParse: read the RMM's alert webhooks (rmm.WebhookParser).
	WebhooksParse Capability = "webhooks.parse"
	// DevicesSnapshot: page through an organization's devices with every
	// synced attribute (rmm.DeviceSnapshotLister), so an import needs no
	// request per device.
	DevicesSnapshot Capability = "devices.snapshot"
)

// capabilityInfo describes each capability: its kind, what it lets
// rmmbridge do (for messages), and, for the optional roles a client
// implements beyond psa.Client or rmm.Client, the role test.
var capabilityInfo = map[Capability]struct {
	kind Kind
	what string
	role func(client any) bool
}{
	AccountsCreate:    {KindPSA, "create accounts", nil},
	AccountsFindByRef: {KindPSA, "find accounts by rmmbridge's reference", is[psa.AccountRefFinder]},
	AccountsRecent:    {KindPSA, "list the accounts created since a time", is[psa.RecentAccounts]},
	AssetsFindByRef:   {KindPSA, "find assets by rmmbridge's reference", nil},
	TicketsFindByRef:  {KindPSA, "find tickets by rmmbridge's reference", is[psa.TicketRefFinder]},
	TicketsReopen:     {KindPSA, "reopen tickets", is[psa.TicketReopener]},
	MembersList:       {KindPSA, "list members", nil},
	AssetsList:        {KindPSA, "list an account's assets", is[psa.AssetLister]},
	TicketsPicklists:  {KindPSA, "list ticket boards, priorities, statuses and types", is[psa.TicketPicklists]},
	OrgsCreate:        {KindRMM, "create organizations", nil},
	SitesCreate:       {KindRMM, "create sites", nil},
	WebhooksParse:     {KindRMM, "read alert webhooks", nil},
	DevicesSnapshot:   {KindRMM, "list an organization's devices with every attribute", is[rmm.DeviceSnapshotLister]},
}

func is[T any](client any) bool {
	_, ok := findRole[T](client)
	return ok
}

// All returns every capability, sorted.
func All() []Capability {
	out := make([]Capability, 0, len(capabilityInfo))
	for c := range capabilityInfo {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Kind is the kind of vendor the capability belongs to ("" if unknown).
func (c Capability) Kind() Kind { return capabilityInfo[c].kind }

// What says what the capability lets rmmbridge do.
func (c Capability) What() string {
	if info, ok := capabilityInfo[c]; ok {
		return info.what
	}
	return string(c)
}

// Set is what one connection can do: its vendor's capabilities, less those
// whose setting is not set.
type Set struct {
	// Provider and Kind name the connection's vendor, for messages.
	Provider string
	Kind     Kind
	have     map[Capability]bool
	// why says, for a capability the connection lacks, how to get it
	// (or that the vendor does not have it).
	why map[Capability]string
}

// Capabilities returns what a connection with these settings can do.
func (v *Vendor) Capabilities(settings Settings) Set {
	s := Set{Provider: v.Name, Kind: v.Kind, have: map[Capability]bool{}, why: map[Capability]string{}}
	for _, o := range v.Spec.Capabilities {
		if o.NeedsSetting != "" && !settings.set(o.NeedsSetting) {
			s.why[o.Capability] = "set settings." + o.NeedsSetting + " on the " + string(v.Kind) + " connection"
			continue
		}
		s.have[o.Capability] = true
	}
	return s
}

// Has reports whether the connection can do c.
func (s Set) Has(c Capability) bool { return s.have[c] }

// List returns the capabilities the connection has, sorted.
func (s Set) List() []Capability {
	out := make([]Capability, 0, len(s.have))
	for c := range s.have {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Strings returns List as strings (never nil: an empty JSON array).
func (s Set) Strings() []string {
	out := []string{}
	for _, c := range s.List() {
		out = append(out, string(c))
	}
	return out
}

// Require returns nil when the connection can do c, else an Invalid
// (422) error saying that feature needs it and why the connection lacks
// it.
func (s Set) Require(c Capability, feature string) error {
	if s.have[c] {
		return nil
	}
	return s.missing(c, feature)
}

func (s Set) missing(c Capability, feature string) *apperr.Error {
	why := s.why[c]
	switch {
	case why != "":
	case s.Provider != "":
		why = s.Provider + " does not support it"
	default:
		why = "its client does not support it"
	}
	kind := string(s.Kind)
	if kind == "" {
		kind = string(c.Kind())
	}
	conn := "the " + kind + " connection"
	if s.Provider != "" {
		conn += " (" + s.Provider + ")"
	}
	return apperr.New(apperr.Invalid, "%s needs capability %s (%s), which %s does not have: %s", feature, c, c.What(), conn, why)
}

// Capable is implemented by clients that know their connection's
// capabilities: every client providers opens.
type Capable interface {
	Capabilities() Set
}

// Has reports whether client can do c: by its declared capabilities when
// it has them (Capable), else — a client built by hand, such as a test
// fake — by the role it implements (capabilities without a role of their
// own are then assumed).
func Has(client any, c Capability) bool {
	if d, ok := client.(Capable); ok {
		return d.Capabilities().Has(c)
	}
	if info, ok := capabilityInfo[c]; ok && info.role != nil {
		return info.role(client)
	}
	return true
}

// Require returns client as the role T that feature uses when the client
// can do c, else the Invalid (422) error saying why it cannot. It is how
// the domain reaches an optional role (psa.AccountRefFinder, …): the
// capability check decides, and the role is then found on the client or
// on the vendor client it wraps. A client that declares c without
// implementing T is an Internal error (a vendor spec out of step with its
// client).
func Require[T any](client any, c Capability, feature string) (T, error) {
	var zero T
	d, declared := client.(Capable)
	if declared && !d.Capabilities().Has(c) {
		return zero, d.Capabilities().missing(c, feature)
	}
	if t, ok := findRole[T](client); ok {
		return t, nil
	}
	if declared {
		return zero, apperr.New(apperr.Internal, "the %s client declares capability %s but does not implement it", d.Capabilities().Provider, c)
	}
	return zero, Set{Kind: c.Kind()}.missing(c, feature)
}

// Role returns the optional role T of client, looking through the
// wrappers that carry capabilities (WithPSA, WithRMM): for roles a
// consumer uses when offered, with no capability of their own.
func Role[T any](client any) (T, bool) { return findRole[T](client) }

// findRole finds T on client or on the clients it wraps (Unwrap).
func findRole[T any](client any) (T, bool) {
	for x, hops := client, 0; x != nil && hops < 8; hops++ {
		if t, ok := x.(T); ok {
			return t, true
		}
		u, ok := x.(interface{ Unwrap() any })
		if !ok {
			break
		}
		x = u.Unwrap()
	}
	var zero T
	return zero, false
}

// CheckRoles reports a declared capability whose role the vendor client
// does not implement (providers calls it when it opens a client; a
// vendor's tests catch a spec out of step with its client).
func CheckRoles(spec Spec, client any) error {
	for _, o := range spec.Capabilities {
		if info := capabilityInfo[o.Capability]; info.role != nil && !info.role(client) {
			return fmt.Errorf("vendor %s declares capability %s but its client %T does not implement it", spec.Name, o.Capability, client)
		}
	}
	return nil
}

// psaClient is a PSA client with its connection's capabilities.
type psaClient struct {
	psa.Client
	caps Set
}

func (c psaClient) Capabilities() Set { return c.caps }
func (c psaClient) Unwrap() any       { return c.Client }

// rmmClient is an RMM client with its connection's capabilities.
type rmmClient struct {
	rmm.Client
	caps Set
}

func (c rmmClient) Capabilities() Set { return c.caps }
func (c rmmClient) Unwrap() any       { return c.Client }

// WithPSA returns c carrying caps (Capable); optional roles stay
// reachable through Require.
func WithPSA(c psa.Client, caps Set) psa.Client { return psaClient{Client: c, caps: caps} }

// WithRMM returns c carrying caps (Capable).
func WithRMM(c rmm.Client, caps Set) rmm.Client { return rmmClient{Client: c, caps: caps} }

// CapabilitiesOf returns the capabilities a client declares, and whether
// it declares any.
func CapabilitiesOf(client any) (Set, bool) {
	d, ok := client.(Capable)
	if !ok {
		return Set{}, false
	}
	return d.Capabilities(), true
}
