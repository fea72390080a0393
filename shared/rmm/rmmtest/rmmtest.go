// Package rmmtest is the behaviour suite every RMM vendor client runs
// against its own sandbox, and that the in-memory fake
// (shared/rmm/rmmfake) passes too. A vendor package runs it from a test
// of a few lines:
//
//	func TestConformance(t *testing.T) {
//		rmmtest.Run(t, rmmtest.Harness{Name: "NinjaOne", Open: open, ...})
//	}
//
// The suite describes the data it needs (a Fixture: more organizations
// than one page holds, an organization with more devices than one page,
// one with exactly one page, one with none, every device attribute
// populated) and the Harness starts a fresh sandbox holding it, with a
// client configured to page with Fixture.PageSize and to give up one
// attempt after Fixture.AttemptTimeout. The suite checks organizations and
// sites, devices paging to the end with every attribute, GetDevice,
// creating organizations with sites and sites, webhook parsing, rejected
// credentials, 429 with Retry-After, 5xx and timeouts, and that no error
// carries a credential.
//
// Roles a vendor may lack are declared, not skipped: a capability the
// Harness does not list must answer apperr.NotImplemented; one it lists
// must work. The suite never calls t.Skip.
package rmmtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/internal/conformance"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// T is what the suite runs on: a *testing.T (through Run) or a recorder
// (through RunT, in meta-tests of the suite itself).
type T = conformance.T

// Faults inject failures into the next requests the client sends.
type Faults = conformance.Faults

// Capability names a role an RMM client may or may not support. The names
// are the vendor specs' capability names.
type Capability string

// The capabilities the suite checks.
const (
	// OrgsCreate: CreateOrganization works.
	OrgsCreate Capability = "orgs.create"
	// SitesCreate: CreateSite works.
	SitesCreate Capability = "sites.create"
	// WebhooksParse: ParseWebhook reads the vendor's alert webhooks.
	WebhooksParse Capability = "webhooks.parse"
	// DevicesSnapshot: the client is an rmm.DeviceSnapshotLister whose
	// pages, read to the end, hold every device of the organization exactly
	// as GetDevice reads it.
	DevicesSnapshot Capability = "devices.snapshot"
)

// AllCapabilities lists every capability the suite knows.
var AllCapabilities = []Capability{OrgsCreate, SitesCreate, WebhooksParse, DevicesSnapshot}

// Harness is how the suite reaches one vendor's client.
type Harness struct {
	// Name is the vendor's name, for messages.
	Name string
	// Capabilities the client supports; every other one must answer "not
	// supported".
	Capabilities []Capability
	// ListOmits names rmm.Device fields the vendor's list call does not
	// carry (GetDevice fills them); listed devices may leave them empty.
	// Each must be documented in the vendor package.
	ListOmits []string
	// OneSitePerOrganization says the vendor's organizations each have
	// exactly one site, with the organization's id and name (Datto RMM,
	// whose site is the customer): the fixture's sites of an organization
	// all collapse into it (the harness gives the organization's id as
	// each of their SiteIDs), and a created organization has that one
	// site whatever site names were asked for.
	OneSitePerOrganization bool
	// DeviceAsKept, when set, maps a fixture device to what the vendor's
	// model can hold of it (Datto RMM keeps the operating system as one
	// string, no volume labels); the suite compares read devices with its
	// result. Each loss must be documented in the vendor package.
	DeviceAsKept func(rmm.Device) rmm.Device
	// OrganizationOmits names rmm.Organization fields the vendor does not
	// keep at all (Tactical RMM clients have no description): they are
	// not compared, nor expected back from a create. DeviceOmits names
	// rmm.Device fields the vendor does not report for every device
	// (Tactical's POSIX agents report no MAC address), ignored in lists
	// and GetDevice; "Volume.<field>" names a field of rmm.Volume
	// ("Volume.Label"). Each must be documented in the vendor package.
	OrganizationOmits []string
	DeviceOmits       []string
	// SizeTolerance is the relative error allowed on volume sizes for a
	// vendor that reports rounded, human-readable sizes (Tactical's
	// "232.3G"); 0 compares bytes exactly.
	SizeTolerance float64
	// AuthFailureReason is text the vendor's safe message for rejected
	// credentials contains.
	AuthFailureReason string
	// Open starts a fresh sandbox holding f and returns a client for it.
	// It registers its own cleanup with t.
	Open func(t T, f Fixture) *Env
}

// Fixture is the data the suite needs in a fresh sandbox, besides what
// the sandbox holds of its own.
type Fixture struct {
	// PageSize is the page size the client must list with.
	PageSize int
	// AttemptTimeout is how long the client waits for one answer before it
	// gives up the attempt (and retries a read).
	AttemptTimeout time.Duration
	Organizations  []FixtureOrganization
	// Devices belong to Organizations[Organization], at its site Site.
	Devices []FixtureDevice
}

// FixtureOrganization is an organization to seed with its sites.
type FixtureOrganization struct {
	Name, Description string
	Sites             []string
}

// FixtureDevice is a device to seed. Device's ID, OrganizationID and
// SiteID are ignored (the sandbox assigns them); every other field is
// what the client must read back.
type FixtureDevice struct {
	Organization, Site int
	Device             rmm.Device
}

// Env is a client against a fresh sandbox holding a Fixture.
type Env struct {
	Client rmm.Client
	// BadCredentials is a client of the same sandbox with a wrong secret.
	BadCredentials rmm.Client
	// Secrets are the credentials' secret parts (right and wrong) that
	// must appear in no error.
	Secrets []string
	// OrganizationIDs, SiteIDs (per organization, per site) and DeviceIDs
	// are the ids the sandbox gave the fixture's records.
	OrganizationIDs []string
	SiteIDs         [][]string
	DeviceIDs       []string
	// Webhook returns the body the vendor posts when a condition of
	// fixture device `device` triggers (or, with triggered false, resets)
	// in the alert series `series`; NonAlertWebhook is a well-formed
	// webhook body that is not an alert. Needed with WebhooksParse.
	Webhook         func(device int, series string, triggered bool) []byte
	NonAlertWebhook []byte
	// Faults inject failures into Client's next requests.
	Faults Faults
	// Requests counts Client's requests (nil: not counted); BadRequests
	// counts BadCredentials' requests.
	Requests    func() int64
	BadRequests func() int64
	// Waits returns the retry waits Client took instead of sleeping (nil:
	// the client really sleeps).
	Waits func() []time.Duration
}

// Run runs the suite against h.
func Run(t *testing.T, h Harness) { RunT(conformance.Adapt(t), h) }

// The fixture's shape.
const (
	fixturePageSize       = 3
	fixtureAttemptTimeout = 250 * time.Millisecond
	prefix                = "Quillfeather"
)

// The fixture's organizations by role.
const (
	orgPaged = 0 // 2 pages and one device
	orgExact = 1 // exactly one page of devices
	orgEmpty = 2 // no device
)

// checkIn is the fixture devices' last check-in (millisecond precision,
// as vendors keep it).
var checkIn = time.Date(2025, 3, 14, 9, 26, 53, 531e6, time.UTC)

// newFixture builds the suite's fixture.
func newFixture() Fixture {
	f := Fixture{PageSize: fixturePageSize, AttemptTimeout: fixtureAttemptTimeout}
	n := 2*fixturePageSize + 1
	for i := range n {
		o := FixtureOrganization{Name: fmt.Sprintf("%s Org %02d", prefix, i+1), Sites: []string{"Main Office"}}
		if i%2 == 0 {
			o.Description = fmt.Sprintf("Managed since %d", 2019+i)
		}
		if i == orgPaged {
			o.Sites = append(o.Sites, "Warehouse", "Branch 2")
		}
		f.Organizations = append(f.Organizations, o)
	}
	kinds := []struct {
		typ          rmm.DeviceType
		os           rmm.OS
		manufacturer string
		model        string
		prefix       string
	}{
		{rmm.DeviceWorkstation, rmm.OS{Name: "Windows 11 Pro", Version: "23H2", Build: "22631", Architecture: "64-bit"}, "Dell Inc.", "OptiPlex 7090", "QF-WS"},
		{rmm.DeviceServer, rmm.OS{Name: "Windows Server 2022 Standard", Version: "21H2", Build: "20348", Architecture: "64-bit"}, "Dell Inc.", "PowerEdge R650", "QF-SRV"},
		{rmm.DeviceMac, rmm.OS{Name: "macOS Sonoma", Version: "14.4.1", Build: "23E224", Architecture: "arm64"}, "Apple Inc.", "Mac14,2", "QF-MAC"},
		{rmm.DeviceLinux, rmm.OS{Name: "Ubuntu 22.04.4 LTS", Version: "22.04", Build: "5.15.0-101", Architecture: "x86_64"}, "LENOVO", "ThinkPad T14 Gen 3", "qf-lnx"},
	}
	add := func(org, site, seq int) {
		k := kinds[seq%len(kinds)]
		name := fmt.Sprintf("%s-%03d", k.prefix, seq+1)
		f.Devices = append(f.Devices, FixtureDevice{Organization: org, Site: site, Device: rmm.Device{
			Name: name, DisplayName: name + " (front desk)", DeviceType: k.typ, OS: k.os,
			Manufacturer: k.manufacturer, Model: k.model, SerialNumber: fmt.Sprintf("QFSER%05d", seq+1),
			LastLoggedInUser: fmt.Sprintf(`QF\user%02d`, seq+1),
			LastCheckIn:      checkIn.Add(-time.Duration(seq) * 37 * time.Minute),
			Volumes: []rmm.Volume{
				{Name: "C:", Label: "OS", CapacityBytes: 510_770_802_688, FreeBytes: 100_000_000_000 + int64(seq)*1_000_000_000},
				{Name: "D:", Label: "Data", CapacityBytes: 1_022_999_998_464, FreeBytes: 900_000_000_000},
			},
			IPAddresses:  []string{fmt.Sprintf("10.20.%d.%d", org, 10+seq)},
			MACAddresses: []string{fmt.Sprintf("00:1A:2B:3C:%02X:%02X", org, seq)},
			Offline:      seq%3 == 2,
		}})
	}
	seq := 0
	for i := range n {
		add(orgPaged, i%len(f.Organizations[orgPaged].Sites), seq)
		seq++
	}
	for range fixturePageSize {
		add(orgExact, 0, seq)
		seq++
	}
	return f
}
