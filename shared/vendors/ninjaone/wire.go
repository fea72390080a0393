package ninjaone

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// The NinjaOne Public API v2 shapes the client reads and writes (field
// names from the vendor's OpenAPI document; only the fields we use).

// apiOrganization is Organization / OrganizationDetailed.
type apiOrganization struct {
	ID          int           `json:"id"`
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	Locations   []apiLocation `json:"locations,omitempty"`
}

// apiLocation is Location / LocationWithOrganizationRef.
type apiLocation struct {
	ID             int    `json:"id,omitempty"`
	OrganizationID int    `json:"organizationId,omitempty"`
	Name           string `json:"name"`
	Description    string `json:"description,omitempty"`
}

// apiNewOrganization is OrganizationWithLocationsAndPolicyAssignmentsModel.
type apiNewOrganization struct {
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Locations   []apiNewLocation `json:"locations,omitempty"`
}

// apiNewLocation is LocationModel.
type apiNewLocation struct {
	Name string `json:"name"`
}

// apiDevice is Device as devices-detailed and device/{id} return it, with
// the AgentDevice extras (os, system, volumes, lastLoggedInUser) that agent
// devices carry.
type apiDevice struct {
	ID               int             `json:"id"`
	OrganizationID   int             `json:"organizationId"`
	LocationID       int             `json:"locationId"`
	NodeClass        string          `json:"nodeClass"`
	Offline          bool            `json:"offline"`
	DisplayName      string          `json:"displayName"`
	SystemName       string          `json:"systemName"`
	DNSName          string          `json:"dnsName"`
	NetbiosName      string          `json:"netbiosName"`
	LastContact      epochSeconds    `json:"lastContact"`
	IPAddresses      []string        `json:"ipAddresses"`
	MACAddresses     []string        `json:"macAddresses"`
	OS               *apiOS          `json:"os"`
	System           *apiSystem      `json:"system"`
	Volumes          []apiVolume     `json:"volumes"`
	LastLoggedInUser string          `json:"lastLoggedInUser"`
	References       *apiDeviceRefs  `json:"references"`
	Maintenance      *apiMaintenance `json:"maintenance"`
}

// apiMaintenance is Maintenance: status PENDING, IN_MAINTENANCE or FAILED.
type apiMaintenance struct {
	Status string `json:"status"`
}

type apiDeviceRefs struct {
	Organization *apiOrganization `json:"organization"`
	Location     *apiLocation     `json:"location"`
}

// apiOS is OperatingSystem.
type apiOS struct {
	Manufacturer string `json:"manufacturer"`
	Name         string `json:"name"`
	Architecture string `json:"architecture"`
	BuildNumber  string `json:"buildNumber"`
	ReleaseID    string `json:"releaseId"`
}

// apiSystem is ComputerSystem.
type apiSystem struct {
	Manufacturer     string `json:"manufacturer"`
	Model            string `json:"model"`
	SerialNumber     string `json:"serialNumber"`
	BIOSSerialNumber string `json:"biosSerialNumber"`
}

// apiVolume is Volume.
type apiVolume struct {
	Name        string `json:"name"`
	DriveLetter string `json:"driveLetter"`
	Label       string `json:"label"`
	DeviceType  string `json:"deviceType"`
	Capacity    int64  `json:"capacity"`
	FreeSpace   int64  `json:"freeSpace"`
}

// apiLoggedOnUser is LoggedOnUser.
type apiLoggedOnUser struct {
	UserName  string       `json:"userName"`
	LogonTime epochSeconds `json:"logonTime"`
}

// apiAlert is Alert (an active triggered condition).
type apiAlert struct {
	UID             string         `json:"uid"`
	DeviceID        int            `json:"deviceId"`
	Message         string         `json:"message"`
	CreateTime      epochSeconds   `json:"createTime"`
	SourceType      string         `json:"sourceType"`
	SourceConfigUID string         `json:"sourceConfigUid"`
	SourceName      string         `json:"sourceName"`
	Subject         string         `json:"subject"`
	Data            map[string]any `json:"data"`
	Device          *apiDevice     `json:"device"`
}

// apiError is NinjaOne's error body; OAuth errors use Error.
type apiError struct {
	ResultCode   string `json:"resultCode"`
	ErrorMessage string `json:"errorMessage"`
	IncidentID   string `json:"incidentId"`
	Error        string `json:"error"`
}

// epochSeconds is a NinjaOne timestamp: epoch seconds as a number with a
// fraction (1741793638.531). Values that can only be milliseconds (after
// the year 33658 as seconds) are read as milliseconds; strings holding a
// number are accepted too.
type epochSeconds struct{ time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (e *epochSeconds) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(bytes.TrimSpace(b), `"`)
	if len(b) == 0 || string(b) == "null" {
		e.Time = time.Time{}
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	e.Time = epochToTime(f)
	return nil
}

// MarshalJSON implements json.Marshaler (seconds with milliseconds).
func (e epochSeconds) MarshalJSON() ([]byte, error) {
	if e.IsZero() {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(float64(e.UnixMilli())/1000, 'f', 3, 64)), nil
}

// epochToTime converts float epoch seconds to UTC time at millisecond
// precision.
func epochToTime(f float64) time.Time {
	if f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}
	}
	if f > 1e12 { // milliseconds
		return time.UnixMilli(int64(math.Round(f))).UTC()
	}
	return time.UnixMilli(int64(math.Round(f * 1000))).UTC()
}

// flexString decodes a JSON string or number as its text (ids that some
// payloads send as numbers and others as strings).
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*s = flexString(n.String())
	}
	return nil
}

// valueText renders a JSON value decoded into any as text for
// rmm.Alert.Values: numbers without exponents, nested values as JSON.
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return strings.TrimSpace(string(b))
	}
}
