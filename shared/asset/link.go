package asset

import (
	"context"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// Link states: a claim is held while the device's asset is being created;
// linked is final.
const (
	StateCreating = "creating"
	StateLinked   = "linked"
)

// Link ties an RMM device to its PSA asset. Besides the ids, the content
// hash and the sync time it carries the asset's display fields as last
// written, so that listing assets never calls the PSA.
type Link struct {
	DeviceID       string
	OrganizationID string
	AssetID        string // empty while creating
	AccountID      string
	LocationID     string
	// Hash is Hash of the asset as last written.
	Hash  string
	State string
	// LeaseOwner and LeaseUntil hold a creating claim.
	LeaseOwner string
	LeaseUntil time.Time
	// Version counts the link's writes; every write but a claim is
	// conditioned on the version it read (or on its own claim).
	Version          int64
	LastSyncedAt     time.Time
	Name             string
	SerialNumber     string
	OS               string
	LastLoggedInUser string
	LastCheckIn      time.Time
	Storage          Storage
}

// Storage is a device's storage as last synced.
type Storage struct {
	TotalBytes int64    `json:"totalBytes"`
	FreeBytes  int64    `json:"freeBytes"`
	Volumes    []Volume `json:"volumes"`
}

// Volume is one volume of Storage.
type Volume struct {
	Name          string `json:"name"`
	CapacityBytes int64  `json:"capacityBytes"`
	FreeBytes     int64  `json:"freeBytes"`
}

// storageOf converts a device's volumes, sorted by name.
func storageOf(d rmm.Device) Storage {
	st := d.Storage()
	out := Storage{TotalBytes: st.CapacityBytes, FreeBytes: st.FreeBytes, Volumes: []Volume{}}
	for _, v := range sortedVolumes(d.Volumes) {
		out.Volumes = append(out.Volumes, Volume{Name: v.Name, CapacityBytes: v.CapacityBytes, FreeBytes: v.FreeBytes})
	}
	return out
}

// linkFor is the final link of device d written as asset a.
func linkFor(d rmm.Device, a psa.Asset, assetID string, now time.Time) Link {
	return Link{DeviceID: d.ID, OrganizationID: d.OrganizationID, AssetID: assetID, AccountID: a.AccountID,
		LocationID: a.LocationID, Hash: Hash(a), State: StateLinked, LastSyncedAt: now, Name: a.Name,
		SerialNumber: a.SerialNumber, OS: a.OS, LastLoggedInUser: a.LastLoggedInUser, LastCheckIn: a.LastCheckIn,
		Storage: storageOf(d)}
}

// View is a synced asset as the API answers it (GET /assets, GET
// /assets/{deviceId}, POST /assets/{deviceId}/sync).
type View struct {
	DeviceID         string    `json:"deviceId"`
	AssetID          string    `json:"assetId"`
	AccountID        string    `json:"accountId"`
	LocationID       string    `json:"locationId,omitempty"`
	Name             string    `json:"name"`
	SerialNumber     string    `json:"serialNumber,omitempty"`
	OS               string    `json:"os,omitempty"`
	LastLoggedInUser string    `json:"lastLoggedInUser,omitempty"`
	LastCheckIn      time.Time `json:"lastCheckIn,omitzero"`
	Storage          Storage   `json:"storage"`
	LastSyncedAt     time.Time `json:"lastSyncedAt"`
}

// View returns the link as the API shows it.
func (l Link) View() View {
	st := l.Storage
	if st.Volumes == nil {
		st.Volumes = []Volume{}
	}
	return View{DeviceID: l.DeviceID, AssetID: l.AssetID, AccountID: l.AccountID, LocationID: l.LocationID,
		Name: l.Name, SerialNumber: l.SerialNumber, OS: l.OS, LastLoggedInUser: l.LastLoggedInUser,
		LastCheckIn: l.LastCheckIn, Storage: st, LastSyncedAt: l.LastSyncedAt}
}

// Precondition is what a link write or delete expects of the stored link:
// the claim of Owner (when Owner is set), otherwise the link at Version.
type Precondition struct {
	Owner   string
	Version int64
}

// ListQuery selects a page of links.
type ListQuery struct {
	// OrganizationID keeps only the devices of one RMM organization.
	OrganizationID string
	Limit          int
	Cursor         string
}

// Store persists links. Implementations classify errors with apperr: a
// missing link is NotFound, a failed precondition or claim Conflict.
type Store interface {
	// GetLink reads a device's link with a strongly consistent read.
	GetLink(ctx context.Context, sc tenancy.Scope, deviceID string) (Link, error)
	// ClaimLink writes l (a creating claim owned by l.LeaseOwner until
	// l.LeaseUntil) when the device has no link or only a claim whose
	// lease ended before now; Conflict otherwise. With a zero now only a
	// device with no link and no claim at all is claimed.
	ClaimLink(ctx context.Context, sc tenancy.Scope, l Link, now time.Time) error
	// PutLink writes l when the stored link meets pre; Conflict otherwise.
	PutLink(ctx context.Context, sc tenancy.Scope, l Link, pre Precondition) error
	// DeleteLink deletes a device's link when it meets pre; Conflict
	// otherwise.
	DeleteLink(ctx context.Context, sc tenancy.Scope, deviceID string, pre Precondition) error
	// ListLinks returns a page of final links (claims are left out) by
	// device id, and the cursor of the next page ("" on the last).
	ListLinks(ctx context.Context, sc tenancy.Scope, q ListQuery) ([]Link, string, error)
}

// Mappings reads organization mappings (dynamostore.Mappings satisfies it).
type Mappings interface {
	GetMapping(ctx context.Context, sc tenancy.Scope, orgID string) (account.Mapping, error)
}
