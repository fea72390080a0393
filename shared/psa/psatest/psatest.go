// Package psatest is the behaviour suite every PSA vendor client runs
// against its own sandbox, and that an in-memory fake (shared/psa/psafake)
// passes too. A vendor package runs it from a test of a few lines:
//
//	func TestConformance(t *testing.T) {
//		psatest.Run(t, psatest.Harness{Name: "ConnectWise", Open: open, ...})
//	}
//
// The suite describes the data it needs (a Fixture: more accounts,
// locations and members than one page holds, assets with real, shared,
// look-alike and placeholder serial numbers) and the Harness starts a
// fresh sandbox holding it, with a client configured to page with
// Fixture.PageSize and to give up one attempt after Fixture.AttemptTimeout.
// The suite then checks what rmmbridge relies on: paging to the last page,
// status and type filters, create and find by our external reference
// (accounts, assets, tickets), serial lookups (placeholder serials never
// match), the ticket lifecycle (create, note, touched by another member vs
// by our own, close, reopen where supported), members, rejected
// credentials (apperr.Unauthorized with the vendor's reason), 429 with
// Retry-After, 5xx and timeouts, and that no error carries a credential.
//
// Roles a vendor may lack are declared, not skipped: a capability the
// Harness does not list is checked to answer the documented "not
// supported" (the role interface is absent, or the call returns
// apperr.NotImplemented), and one it lists must work. The suite never
// calls t.Skip.
package psatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/internal/conformance"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// T is what the suite runs on: a *testing.T (through Run) or a recorder
// (through RunT, in meta-tests of the suite itself).
type T = conformance.T

// Faults inject failures into the next requests the client sends.
type Faults = conformance.Faults

// Capability names a role a PSA client may or may not support. The names
// are the vendor specs' capability names.
type Capability string

// The capabilities the suite checks.
const (
	// AccountsCreate: CreateAccount works (otherwise it answers
	// apperr.NotImplemented).
	AccountsCreate Capability = "accounts.create"
	// AccountsFindByRef: psa.AccountRefFinder.
	AccountsFindByRef Capability = "accounts.findByRef"
	// AccountsRecent: psa.RecentAccounts (needs AccountsCreate to be
	// checked: the suite creates the recent accounts).
	AccountsRecent Capability = "accounts.recent"
	// AssetsFindByRef: FindAssetsByExternalRef finds what CreateAsset
	// stored with an ExternalRef.
	AssetsFindByRef Capability = "assets.findByRef"
	// TicketsFindByRef: psa.TicketRefFinder.
	TicketsFindByRef Capability = "tickets.findByRef"
	// AssetsList: the client is a psa.AssetLister whose pages, read to the
	// end, hold every asset of the account once, as GetAsset reads it
	// (our reference and the serial included), and no other account's.
	AssetsList Capability = "assets.list"
	// TicketsReopen: TicketReopener.
	TicketsReopen Capability = "tickets.reopen"
	// MembersList: ListMembers works.
	MembersList Capability = "members.list"
	// TicketsPicklists: psa.TicketPicklists lists the boards, priorities,
	// and a board's statuses and types, including the harness's
	// TicketDefaults.
	TicketsPicklists Capability = "tickets.picklists"
)

// AllCapabilities lists every capability the suite knows.
var AllCapabilities = []Capability{AccountsCreate, AccountsFindByRef, AccountsRecent, AssetsFindByRef, AssetsList, TicketsFindByRef, TicketsReopen, MembersList, TicketsPicklists}

// TicketReopener is the role of a client that can reopen a closed ticket
// (the alert worker's alert.TicketReopener).
type TicketReopener interface {
	ReopenTicket(ctx context.Context, id string) error
}

// Harness is how the suite reaches one vendor's client.
type Harness struct {
	// Name is the vendor's name, for messages.
	Name string
	// Capabilities the client supports; every other one must answer "not
	// supported".
	Capabilities []Capability
	// AccountStatuses and AccountTypes name two account statuses and two
	// account types the sandbox has; the fixture's accounts use them.
	AccountStatuses [2]string
	AccountTypes    [2]string
	// TicketDefaults gives every ticket the suite creates its board,
	// status, priority and type (e.g. the ConnectWise board).
	TicketDefaults psa.NewTicket
	// AssetManufacturer is a manufacturer name the PSA knows, for the asset
	// round trip.
	AssetManufacturer string
	// UnstoredAssetFields names psa.Asset fields the vendor keeps nowhere;
	// the asset round trip leaves them out. Each must be documented in the
	// vendor package.
	UnstoredAssetFields []string
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
	// PageSize is the page size the client must list with (lists longer
	// than one page are the point).
	PageSize int
	// AttemptTimeout is how long the client waits for one answer before it
	// gives up the attempt (and retries a read).
	AttemptTimeout time.Duration
	// Accounts, with the names of their status and type (from the
	// Harness), our external reference ("" for none) and extra locations
	// (besides any the vendor creates with an account).
	Accounts []FixtureAccount
	// Members are technicians; Members[0] is the one Env.Other acts as.
	Members []FixtureMember
	// Assets belong to Accounts[Account].
	Assets []FixtureAsset
}

// FixtureAccount is an account to seed.
type FixtureAccount struct {
	Name         string
	Status, Type string
	ExternalRef  string
	Locations    []string
}

// FixtureMember is a member (technician) to seed.
type FixtureMember struct {
	Identifier          string
	FirstName, LastName string
	Email               string
	Inactive            bool
}

// Name is the member's display name as psa.Member carries it.
func (m FixtureMember) Name() string { return m.FirstName + " " + m.LastName }

// FixtureAsset is an asset to seed.
type FixtureAsset struct {
	Account      int
	Name         string
	ExternalRef  string
	SerialNumber string
}

// Env is a client against a fresh sandbox holding a Fixture.
type Env struct {
	// Client acts as the integration's own API member.
	Client psa.Client
	// Other acts as Fixture.Members[0], a human technician.
	Other psa.Client
	// BadCredentials is a client of the same sandbox with a wrong secret.
	BadCredentials psa.Client
	// Secrets are the credentials' secret parts (right and wrong, and any
	// encoding of them that could travel in a header) that must appear in
	// no error.
	Secrets []string
	// AccountIDs, AssetIDs and MemberIDs are the ids the sandbox gave the
	// fixture's records, index for index.
	AccountIDs []string
	AssetIDs   []string
	MemberIDs  []string
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

// newFixture builds the suite's fixture with h's status and type names.
func newFixture(h Harness) Fixture {
	f := Fixture{PageSize: fixturePageSize, AttemptTimeout: fixtureAttemptTimeout}
	n := 2*fixturePageSize + 1
	for i := range n {
		a := FixtureAccount{
			Name:   fmt.Sprintf("%s Account %02d", prefix, i+1),
			Status: h.AccountStatuses[i%2],
			Type:   h.AccountTypes[(i/2)%2],
		}
		switch i {
		case 0:
			a.ExternalRef = "qf-org-01"
			for j := range n {
				a.Locations = append(a.Locations, fmt.Sprintf("QF Site %02d", j+1))
			}
		case 1:
			a.ExternalRef = "qf-org-02"
			a.Locations = []string{"QF Depot"}
		}
		f.Accounts = append(f.Accounts, a)
	}
	// Characters a query language must quote or escape, in a name and in
	// a reference.
	f.Accounts = append(f.Accounts, FixtureAccount{
		Name:   prefix + ` Account 08 "Q" & O'Brien, 100% \ Söhne`,
		Status: h.AccountStatuses[1], Type: h.AccountTypes[1],
		ExternalRef: `qf-org-"08" & \ 100%`,
	})
	for i := range n {
		id := fmt.Sprintf("qftech%02d", i+1)
		f.Members = append(f.Members, FixtureMember{Identifier: id, FirstName: "Quill", LastName: fmt.Sprintf("Tech%02d", i+1), Email: id + "@msp.example"})
	}
	f.Members = append(f.Members, FixtureMember{Identifier: "qfgone", FirstName: "Quill", LastName: "Gone", Email: "qfgone@msp.example", Inactive: true})
	f.Assets = []FixtureAsset{
		{Account: 0, Name: "QF-WS-001", ExternalRef: "qf-dev-001", SerialNumber: "QFSN-0001"},
		{Account: 0, Name: "QF-WS-002", ExternalRef: "qf-dev-002", SerialNumber: "QFSN-0002"},
		{Account: 1, Name: "QF-SRV-01", SerialNumber: "QFSN-0002"},
		{Account: 0, Name: "QF-WS-003", SerialNumber: "QFSN-00021"},
		{Account: 0, Name: "QF-WS-004", SerialNumber: "To be filled by O.E.M."},
		{Account: 1, Name: "QF-WS-005", SerialNumber: "0000000"},
	}
	return f
}

// specialAccount is the fixture account whose name and reference need
// quoting.
const specialAccount = 7

// The fixture's assets by role.
const (
	assetRef     = 0 // ExternalRef qf-dev-001, serial QFSN-0001
	assetTieA    = 1 // serial QFSN-0002
	assetTieB    = 2 // serial QFSN-0002, other account
	assetLonger  = 3 // serial QFSN-00021
	assetOEM     = 4 // placeholder serial
	assetZeroes  = 5 // placeholder serial
	fixtureAsset = "qf-dev-001"
)
