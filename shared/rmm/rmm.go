// Package rmm is the normalized model of an RMM (remote monitoring and
// management: NinjaOne, Datto RMM, Tactical RMM) as rmmbridge's domain sees
// it — organizations, sites, devices, alerts — and the small interfaces an
// RMM vendor client implements.
//
// Identifiers are strings whatever the vendor uses; a vendor client converts
// at its edge. Errors returned by implementations are classified with
// shared/apperr (NotFound, Unauthorized, Invalid, Throttled with RetryAfter,
// Vendor, Unavailable).
package rmm

import (
	"context"
	"strings"
	"time"
)

// Organization is an RMM customer organization with its sites.
type Organization struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Sites       []Site `json:"sites"`
}

// Site is a site (NinjaOne location) of an organization.
type Site struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	Name           string `json:"name"`
}

// NewOrganization is an organization to create, with the names of the
// sites to create with it.
type NewOrganization struct {
	Name        string
	Description string
	Sites       []string
}

// DeviceType is the normalized kind of a device.
type DeviceType string

// The device types. Vendors' finer classes map onto these (NinjaOne:
// WINDOWS_WORKSTATION → workstation, WINDOWS_SERVER/LINUX_SERVER/MAC_SERVER
// → server, MAC → mac, LINUX_WORKSTATION → linux, ...).
const (
	DeviceWorkstation DeviceType = "workstation"
	DeviceServer      DeviceType = "server"
	DeviceMac         DeviceType = "mac"
	DeviceLinux       DeviceType = "linux"
	DeviceMobile      DeviceType = "mobile"
	DeviceVMHost      DeviceType = "vm_host"
	DeviceVM          DeviceType = "vm"
	DeviceNetwork     DeviceType = "network"
	DeviceOther       DeviceType = "other"
)

// OS describes a device's operating system.
type OS struct {
	// Name is the product name ("Windows 11 Pro", "macOS Sonoma",
	// "Ubuntu 22.04.4 LTS").
	Name string `json:"name,omitempty"`
	// Version is the release/feature version ("23H2", "14.4.1").
	Version string `json:"version,omitempty"`
	// Build is the build number ("22631").
	Build        string `json:"build,omitempty"`
	Architecture string `json:"architecture,omitempty"`
}

// String renders the OS on one line ("Windows 11 Pro 23H2 (22631)").
func (o OS) String() string {
	s := o.Name
	if o.Version != "" && !strings.Contains(s, o.Version) {
		s = strings.TrimSpace(s + " " + o.Version)
	}
	if o.Build != "" && !strings.Contains(s, o.Build) {
		s = strings.TrimSpace(s + " (" + o.Build + ")")
	}
	return s
}

// Volume is one storage volume of a device.
type Volume struct {
	// Name is the mount point or drive ("C:", "/").
	Name          string `json:"name"`
	Label         string `json:"label,omitempty"`
	CapacityBytes int64  `json:"capacityBytes"`
	FreeBytes     int64  `json:"freeBytes"`
}

// UsedPercent returns the used share of the volume (0–100), 0 when the
// capacity is unknown.
func (v Volume) UsedPercent() float64 {
	if v.CapacityBytes <= 0 {
		return 0
	}
	return float64(v.CapacityBytes-v.FreeBytes) * 100 / float64(v.CapacityBytes)
}

// Device is an RMM-managed device with the attributes rmmbridge syncs to
// PSA assets.
type Device struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	SiteID         string `json:"siteId,omitempty"`
	// Name is the hostname (NinjaOne systemName).
	Name         string     `json:"name"`
	DisplayName  string     `json:"displayName,omitempty"`
	DeviceType   DeviceType `json:"deviceType"`
	OS           OS         `json:"os"`
	Manufacturer string     `json:"manufacturer,omitempty"`
	Model        string     `json:"model,omitempty"`
	// SerialNumber is as the RMM reports it; check IsPlaceholderSerial
	// before matching on it.
	SerialNumber     string    `json:"serialNumber,omitempty"`
	LastLoggedInUser string    `json:"lastLoggedInUser,omitempty"`
	LastCheckIn      time.Time `json:"lastCheckIn,omitzero"`
	Volumes          []Volume  `json:"volumes,omitempty"`
	IPAddresses      []string  `json:"ipAddresses,omitempty"`
	MACAddresses     []string  `json:"macAddresses,omitempty"`
	Offline          bool      `json:"offline"`
	// Maintenance says whether the device is in maintenance mode (alerts
	// suppressed by the MSP); nil when the RMM does not report it.
	Maintenance *bool `json:"maintenance,omitempty"`
}

// Storage is the total over a device's volumes.
type Storage struct {
	CapacityBytes int64 `json:"capacityBytes"`
	FreeBytes     int64 `json:"freeBytes"`
}

// UsedPercent returns the used share (0–100), 0 when the capacity is
// unknown.
func (s Storage) UsedPercent() float64 {
	return Volume{CapacityBytes: s.CapacityBytes, FreeBytes: s.FreeBytes}.UsedPercent()
}

// Storage sums the device's volumes.
func (d Device) Storage() Storage {
	var s Storage
	for _, v := range d.Volumes {
		s.CapacityBytes += v.CapacityBytes
		s.FreeBytes += v.FreeBytes
	}
	return s
}

// DevicePage is one page of an organization's devices.
type DevicePage struct {
	Devices []Device
	// NextCursor continues the listing; empty on the last page.
	NextCursor string
}

// AlertState says whether an alert event opens or closes its series.
type AlertState string

// The alert states.
const (
	AlertTriggered AlertState = "triggered"
	AlertReset     AlertState = "reset"
	AlertOther     AlertState = "other"
)

// Severity is the normalized alert severity.
type Severity string

// The severities, least to most severe.
const (
	SeverityNone     Severity = "none"
	SeverityMinor    Severity = "minor"
	SeverityModerate Severity = "moderate"
	SeverityMajor    Severity = "major"
	SeverityCritical Severity = "critical"
)

// ParseSeverity maps a vendor severity name to a Severity,
// case-insensitively; unknown names are SeverityNone.
func ParseSeverity(s string) Severity {
	switch Severity(strings.ToLower(strings.TrimSpace(s))) {
	case SeverityMinor:
		return SeverityMinor
	case SeverityModerate:
		return SeverityModerate
	case SeverityMajor:
		return SeverityMajor
	case SeverityCritical:
		return SeverityCritical
	}
	return SeverityNone
}

// Alert is one alert event (a trigger or a reset of a condition series).
type Alert struct {
	// SeriesID ties a trigger to its repeats and its reset.
	SeriesID string `json:"seriesId"`
	// ActivityID identifies this event, for deduplication.
	ActivityID     string     `json:"activityId,omitempty"`
	DeviceID       string     `json:"deviceId,omitempty"`
	DeviceName     string     `json:"deviceName,omitempty"`
	OrganizationID string     `json:"organizationId,omitempty"`
	SiteID         string     `json:"siteId,omitempty"`
	State          AlertState `json:"state"`
	Severity       Severity   `json:"severity"`
	// Priority is the vendor's priority name, lower-cased ("high").
	Priority string `json:"priority,omitempty"`
	// Code is the vendor's condition code ("vmm_cond_memory_usage_ge").
	Code       string `json:"code,omitempty"`
	Subject    string `json:"subject,omitempty"`
	Message    string `json:"message,omitempty"`
	SourceName string `json:"sourceName,omitempty"`
	// Values are the condition's parameters (threshold, value, unit, ...).
	Values     map[string]string `json:"values,omitempty"`
	OccurredAt time.Time         `json:"occurredAt,omitzero"`
}

// Tester checks a connection's credentials with a cheap authenticated call.
// Rejected credentials are an apperr.Unauthorized error carrying the
// vendor's safe message.
type Tester interface {
	TestConnection(ctx context.Context) error
}

// OrganizationLister lists every organization with its sites.
type OrganizationLister interface {
	ListOrganizations(ctx context.Context) ([]Organization, error)
}

// OrganizationGetter reads one organization with its sites (apperr.NotFound
// if missing).
type OrganizationGetter interface {
	GetOrganization(ctx context.Context, id string) (Organization, error)
}

// SiteLister lists an organization's sites.
type SiteLister interface {
	ListSites(ctx context.Context, organizationID string) ([]Site, error)
}

// DeviceLister pages through an organization's devices. cursor is "" for
// the first page, then the previous page's NextCursor. Listed devices carry
// what the vendor's list call returns; GetDevice fills every attribute.
type DeviceLister interface {
	ListDevices(ctx context.Context, organizationID, cursor string) (DevicePage, error)
}

// DeviceGetter reads one device with every synced attribute (volumes and
// last logged-in user included).
type DeviceGetter interface {
	GetDevice(ctx context.Context, id string) (Device, error)
}

// DeviceSnapshotLister pages through an organization's devices with every
// attribute GetDevice fills (serial, OS, volumes, last logged-in user, last
// check-in, addresses), read in bulk (NinjaOne: devices-detailed plus the
// organization-filtered /v2/queries reports), so an import carries each
// device's snapshot in its queue message and the asset worker needs no RMM
// request. cursor is "" for the first page, then the previous page's
// NextCursor; the client pages every underlying list to its end.
type DeviceSnapshotLister interface {
	ListDeviceSnapshots(ctx context.Context, organizationID, cursor string) (DevicePage, error)
}

// AlertLister lists active (triggered) alerts, of one organization or, with
// "", of all.
type AlertLister interface {
	ListAlerts(ctx context.Context, organizationID string) ([]Alert, error)
}

// OrganizationCreator creates an organization with its sites.
type OrganizationCreator interface {
	CreateOrganization(ctx context.Context, o NewOrganization) (Organization, error)
}

// SiteCreator creates a site in an organization.
type SiteCreator interface {
	CreateSite(ctx context.Context, organizationID, name string) (Site, error)
}

// WebhookParser turns a vendor webhook body into an alert. isAlert is false
// (with a nil error) for well-formed events that are not alert triggers or
// resets; a malformed body is an apperr.Malformed error.
type WebhookParser interface {
	ParseWebhook(body []byte) (a Alert, isAlert bool, err error)
}

// Client is everything rmmbridge asks of an RMM vendor client.
type Client interface {
	Tester
	OrganizationLister
	OrganizationGetter
	SiteLister
	DeviceLister
	DeviceGetter
	AlertLister
	OrganizationCreator
	SiteCreator
	WebhookParser
}

// AllDevices pages through every device of an organization.
func AllDevices(ctx context.Context, l DeviceLister, organizationID string) ([]Device, error) {
	var all []Device
	cursor := ""
	for {
		p, err := l.ListDevices(ctx, organizationID, cursor)
		if err != nil {
			return all, err
		}
		all = append(all, p.Devices...)
		if p.NextCursor == "" || p.NextCursor == cursor {
			return all, nil
		}
		cursor = p.NextCursor
	}
}

// placeholderSerials are serial numbers that firmware reports when the
// maker left the field unset, normalized by normalizeSerial.
var placeholderSerials = map[string]bool{
	"tobefilledbyoem":     true, // "To be filled by O.E.M."
	"systemserialnumber":  true,
	"chassisserialnumber": true,
	"serialnumber":        true,
	"none":                true,
	"defaultstring":       true,
	"notspecified":        true,
	"notapplicable":       true,
	"notavailable":        true,
	"n/a":                 true,
	"na":                  true,
	"unknown":             true,
	"invalid":             true,
	"oem":                 true,
	"123456789":           true,
	"1234567890":          true,
}

// normalizeSerial lower-cases s and drops whitespace, dots, dashes and
// underscores.
func normalizeSerial(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case ' ', '\t', '\n', '\r', '-', '_', '.':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// IsPlaceholderSerial reports whether s is not a real serial number: empty,
// a firmware placeholder ("To be filled by O.E.M.", "System Serial Number",
// "None", "Default string", "Not Specified", "123456789", ...), or made of
// zeros only ("0", "00000000"). The comparison ignores case, spaces, dots,
// dashes and underscores. Placeholder serials never match assets.
func IsPlaceholderSerial(s string) bool {
	n := normalizeSerial(s)
	return placeholderSerials[n] || strings.Trim(n, "0") == ""
}
