// Package psa is the normalized model of a PSA (professional services
// automation: ConnectWise, Autotask, HaloPSA) as rmmbridge's domain sees it,
// and the small interfaces a PSA vendor client implements.
//
// Identifiers are strings whatever the vendor uses (ConnectWise and Autotask
// use integers, others GUIDs); a vendor client converts at its edge. Errors
// returned by implementations are classified with shared/apperr: NotFound for
// a missing record, Unauthorized for rejected credentials, Invalid for a
// record the vendor refused (with the vendor's safe message), Throttled
// (with RetryAfter) when the vendor's rate limit applies, Vendor and
// Unavailable for vendor failures and outages.
//
// The domain packages depend on the role interfaces (AccountSearcher,
// AssetFinder, TicketWriter, ...) they need; Client composes them all and is
// what a vendor package's constructor returns.
package psa

import (
	"context"
	"time"
	"unicode/utf8"
)

// NamedRef is a reference to a vendor record by id and display name: an
// account status or type, a board, a ticket status or priority, a member.
// When a NamedRef is given to a vendor client as input, ID wins if set;
// otherwise the client resolves Name (case-insensitively) to an id.
type NamedRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// IsZero reports whether neither the id nor the name is set.
func (r NamedRef) IsZero() bool { return r.ID == "" && r.Name == "" }

// Account is a PSA customer account (ConnectWise company, Autotask company,
// Halo client).
type Account struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Identifier is the vendor's short unique code when it has one
	// (ConnectWise "identifier"); empty otherwise.
	Identifier string   `json:"identifier,omitempty"`
	Status     NamedRef `json:"status"`
	// Type is the account's primary type (ConnectWise accounts may carry
	// several; the first is reported).
	Type NamedRef `json:"type"`
}

// AccountQuery selects accounts for SearchAccounts.
type AccountQuery struct {
	// Search matches account names (and identifiers where the vendor has
	// them) containing the text, case-insensitively. Empty matches all.
	Search string
	// Status and Type filter by id, as returned by ListAccountStatuses and
	// ListAccountTypes. Empty means no filter.
	Status string
	Type   string
	// Limit caps the page size; 0 lets the client choose (25).
	Limit int
	// Cursor continues a previous search (Page.NextCursor); opaque.
	Cursor string
}

// Page is one page of a paged listing.
type Page[T any] struct {
	Items []T `json:"items"`
	// NextCursor continues the listing; empty on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// NewAccount is an account to create.
type NewAccount struct {
	Name string
	// Identifier is the vendor short code; the client derives one from Name
	// when empty and the vendor requires it.
	Identifier string
	// Status and Type are ids (or names) of the account status and type;
	// zero values let the client use the vendor's default.
	Status NamedRef
	Type   NamedRef
	// ExternalRef is our reference for the account (the RMM organization
	// id). Clients store it where the vendor allows, best effort.
	ExternalRef string
}

// Location is a site/location of an account.
type Location struct {
	ID        string `json:"id"`
	AccountID string `json:"accountId"`
	Name      string `json:"name"`
}

// NewLocation is a location to create under an account.
type NewLocation struct {
	Name string
}

// Asset is a configuration item / asset in the PSA, the image of one RMM
// device.
type Asset struct {
	ID         string `json:"id"`
	AccountID  string `json:"accountId"`
	LocationID string `json:"locationId,omitempty"`
	Name       string `json:"name"`
	// ExternalRef is our RMM device id as stored in the PSA (for example in
	// ConnectWise's deviceIdentifier); it is the first rung of the matching
	// ladder.
	ExternalRef      string    `json:"externalRef,omitempty"`
	SerialNumber     string    `json:"serialNumber,omitempty"`
	OS               string    `json:"os,omitempty"`
	Manufacturer     string    `json:"manufacturer,omitempty"`
	Model            string    `json:"model,omitempty"`
	LastLoggedInUser string    `json:"lastLoggedInUser,omitempty"`
	LastCheckIn      time.Time `json:"lastCheckIn,omitzero"`
	IPAddress        string    `json:"ipAddress,omitempty"`
	MACAddress       string    `json:"macAddress,omitempty"`
	// TotalBytes and FreeBytes are the storage totals over all volumes.
	TotalBytes int64 `json:"totalBytes,omitempty"`
	FreeBytes  int64 `json:"freeBytes,omitempty"`
	// Volumes is a human-readable per-volume summary (one line per volume),
	// for PSAs that only have a text field for it.
	Volumes string `json:"volumes,omitempty"`
	// DeviceType is the normalized RMM device type (rmm.DeviceType as text);
	// the client maps it to the vendor's asset/configuration type.
	DeviceType string `json:"deviceType,omitempty"`
}

// Ticket is a PSA service ticket.
type Ticket struct {
	ID          string    `json:"id"`
	AccountID   string    `json:"accountId"`
	LocationID  string    `json:"locationId,omitempty"`
	AssetID     string    `json:"assetId,omitempty"`
	Summary     string    `json:"summary"`
	Description string    `json:"description,omitempty"`
	Status      NamedRef  `json:"status"`
	Priority    NamedRef  `json:"priority"`
	Board       NamedRef  `json:"board"`
	Closed      bool      `json:"closed"`
	CreatedAt   time.Time `json:"createdAt,omitzero"`
}

// NewTicket is a ticket to create. Summary longer than the vendor allows is
// truncated by the client (see Truncate).
type NewTicket struct {
	AccountID   string
	LocationID  string
	AssetID     string
	Summary     string
	Description string
	// Board, Status and Priority are given by id or name; zero values let
	// the client use the vendor's default.
	Board    NamedRef
	Status   NamedRef
	Priority NamedRef
	// Type is the ticket type within the board (ConnectWise board types
	// such as "Incident"); zero leaves it unset.
	Type NamedRef
	// ExternalRef is our reference for the ticket (the alert series id),
	// stored where the vendor allows.
	ExternalRef string
}

// Note is a note added to a ticket.
type Note struct {
	Text string
	// Internal notes are hidden from the customer.
	Internal bool
}

// Member is a PSA member/resource (technician). MemberLister lists every
// member, active or not: importing users refuses inactive members with the
// reason, and a re-import shows members that became inactive.
type Member struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Email  string `json:"email,omitempty"`
	Active bool   `json:"active"`
	// Role is the PSA's own role or security level of the member
	// (ConnectWise's security role, Autotask's security level, HaloPSA's
	// role), shown to help choose rmmbridge's role.
	Role string `json:"role,omitempty"`
}

// Tester checks a connection's credentials with a cheap authenticated call.
// A rejected credential is an apperr.Unauthorized error carrying the
// vendor's safe message.
type Tester interface {
	TestConnection(ctx context.Context) error
}

// AccountSearcher finds accounts by text with status and type filters.
type AccountSearcher interface {
	SearchAccounts(ctx context.Context, q AccountQuery) (Page[Account], error)
}

// AccountGetter reads one account by id (apperr.NotFound if missing).
type AccountGetter interface {
	GetAccount(ctx context.Context, id string) (Account, error)
}

// AccountPicklists lists the vendor's account statuses and types, the
// values AccountQuery and NewAccount filter and create with.
type AccountPicklists interface {
	ListAccountStatuses(ctx context.Context) ([]NamedRef, error)
	ListAccountTypes(ctx context.Context) ([]NamedRef, error)
}

// AccountCreator creates accounts.
type AccountCreator interface {
	CreateAccount(ctx context.Context, a NewAccount) (Account, error)
}

// LocationLister lists an account's locations.
type LocationLister interface {
	ListLocations(ctx context.Context, accountID string) ([]Location, error)
}

// LocationCreator creates a location under an account.
type LocationCreator interface {
	CreateLocation(ctx context.Context, accountID string, l NewLocation) (Location, error)
}

// AssetFinder looks assets up for the matching ladder. The Find methods
// return every match (possibly none, possibly several: ties go to review,
// the caller decides); they never return NotFound.
type AssetFinder interface {
	GetAsset(ctx context.Context, id string) (Asset, error)
	FindAssetsByExternalRef(ctx context.Context, ref string) ([]Asset, error)
	FindAssetsBySerial(ctx context.Context, serial string) ([]Asset, error)
}

// AssetLister pages through one account's assets: every asset whose
// AccountID is accountID, with the fields AssetFinder returns (our
// reference and the serial number included). cursor is "" for the first
// page, then the previous page's NextCursor; a client pages to the end of
// the vendor's list (a sync that stops at the first page is a classic bug).
// An import lists an account once and answers each device from that index
// ("asset 123 by our reference", "asset 456 by serial", a tie, or none)
// instead of two lookups per device.
type AssetLister interface {
	ListAccountAssets(ctx context.Context, accountID, cursor string) (Page[Asset], error)
}

// AssetWriter creates and updates assets. CreateAsset ignores a.ID;
// UpdateAsset writes every field of a to the asset a.ID.
type AssetWriter interface {
	CreateAsset(ctx context.Context, a Asset) (Asset, error)
	UpdateAsset(ctx context.Context, a Asset) (Asset, error)
}

// TicketWriter runs an alert ticket's lifecycle.
type TicketWriter interface {
	CreateTicket(ctx context.Context, t NewTicket) (Ticket, error)
	GetTicket(ctx context.Context, id string) (Ticket, error)
	AddTicketNote(ctx context.Context, id string, n Note) error
	// CloseTicket closes the ticket, recording resolution as a note when
	// it is not empty.
	CloseTicket(ctx context.Context, id string, resolution string) error
	// TicketTouched reports whether a human changed the ticket since it was
	// created (a note, time entry, status or owner change by someone other
	// than the integration's own member).
	TicketTouched(ctx context.Context, id string) (bool, error)
}

// MemberLister lists the PSA's members (technicians), inactive ones
// included.
type MemberLister interface {
	ListMembers(ctx context.Context) ([]Member, error)
}

// Client is everything rmmbridge asks of a PSA vendor client.
type Client interface {
	Tester
	AccountSearcher
	AccountGetter
	AccountPicklists
	AccountCreator
	LocationLister
	LocationCreator
	AssetFinder
	AssetWriter
	TicketWriter
	MemberLister
}

// Truncate shortens s to at most max runes, ending with "…" when it had to
// cut; vendor clients use it for length-limited fields such as ticket
// summaries (ConnectWise: 100 characters). max <= 0 returns s unchanged.
func Truncate(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
