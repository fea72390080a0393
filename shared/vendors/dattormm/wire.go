package dattormm

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The Datto RMM API v2 shapes the client reads and writes (field names
// from the vendor's OpenAPI document, API 2.0.0 build 1.22.1; only the
// fields we use).

// pageDetails is PaginationData. nextPageUrl is absent or null on the
// last page.
type pageDetails struct {
	Count       int    `json:"count"`
	TotalCount  int64  `json:"totalCount"`
	NextPageURL string `json:"nextPageUrl"`
}

// apiSite is Site.
type apiSite struct {
	ID          int64  `json:"id"`
	UID         string `json:"uid"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

type sitesPage struct {
	PageDetails pageDetails `json:"pageDetails"`
	Sites       []apiSite   `json:"sites"`
}

// apiNewSite is CreateSiteRequest.
type apiNewSite struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// apiDevice is Device.
type apiDevice struct {
	ID               int64  `json:"id"`
	UID              string `json:"uid"`
	SiteUID          string `json:"siteUid"`
	Hostname         string `json:"hostname"`
	Description      string `json:"description"`
	IntIPAddress     string `json:"intIpAddress"`
	OperatingSystem  string `json:"operatingSystem"`
	A64Bit           bool   `json:"a64Bit"`
	LastLoggedInUser string `json:"lastLoggedInUser"`
	Online           bool   `json:"online"`
	DeviceClass      string `json:"deviceClass"`
	DeviceType       struct {
		Category string `json:"category"`
		Type     string `json:"type"`
	} `json:"deviceType"`
	LastSeen flexTime `json:"lastSeen"`
}

type devicesPage struct {
	PageDetails pageDetails `json:"pageDetails"`
	Devices     []apiDevice `json:"devices"`
}

// apiAudit is DeviceAudit.
type apiAudit struct {
	SystemInfo struct {
		Manufacturer string `json:"manufacturer"`
		Model        string `json:"model"`
	} `json:"systemInfo"`
	Nics []struct {
		IPv4       string `json:"ipv4"`
		IPv6       string `json:"ipv6"`
		MACAddress string `json:"macAddress"`
	} `json:"nics"`
	Bios struct {
		SerialNumber string `json:"serialNumber"`
	} `json:"bios"`
	// BaseBoard's serialNumber is not in the 1.22.1 document; Datto's
	// audit and community clients have it [P]. Read when present.
	BaseBoard struct {
		SerialNumber string `json:"serialNumber"`
	} `json:"baseBoard"`
	LogicalDisks []struct {
		Description    string `json:"description"`
		DiskIdentifier string `json:"diskIdentifier"`
		Freespace      int64  `json:"freespace"`
		Size           int64  `json:"size"`
	} `json:"logicalDisks"`
}

// apiAlert is Alert.
type apiAlert struct {
	AlertUID        string         `json:"alertUid"`
	Priority        string         `json:"priority"`
	Diagnostics     string         `json:"diagnostics"`
	Resolved        bool           `json:"resolved"`
	Timestamp       flexTime       `json:"timestamp"`
	AlertContext    map[string]any `json:"alertContext"`
	AlertSourceInfo struct {
		DeviceUID  string `json:"deviceUid"`
		DeviceName string `json:"deviceName"`
		SiteUID    string `json:"siteUid"`
		SiteName   string `json:"siteName"`
	} `json:"alertSourceInfo"`
}

type alertsPage struct {
	PageDetails pageDetails `json:"pageDetails"`
	Alerts      []apiAlert  `json:"alerts"`
}

// apiRequestRate is RateStatusResponse plus the write counters community
// clients read (accountWriteCount, accountWriteRateLimit) [P].
type apiRequestRate struct {
	SlidingTimeWindowSizeSeconds int64   `json:"slidingTimeWindowSizeSeconds"`
	AccountUID                   string  `json:"accountUid"`
	AccountCount                 int64   `json:"accountCount"`
	AccountRateLimit             int64   `json:"accountRateLimit"`
	AccountCutOffRatio           float64 `json:"accountCutOffRatio"`
	AccountWriteCount            *int64  `json:"accountWriteCount"`
	AccountWriteRateLimit        *int64  `json:"accountWriteRateLimit"`
}

// flexTime reads a Datto time: the document types them as date-time
// strings, community clients report epoch milliseconds. It accepts a JSON
// number or numeric string (epoch milliseconds; values below 1e11 are taken
// as seconds), an RFC 3339 / ISO-8601 string with or without zone (UTC
// then), and null or "" (zero).
type flexTime struct{ time.Time }

func (t *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	s := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
	}
	t.Time = parseTime(s)
	return nil
}

// parseTime is flexTime's parser; text it cannot read gives the zero time
// (a device's last seen is informative, never a reason to drop it).
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f <= 0 || f > 1e15 {
			return time.Time{}
		}
		if f < 1e11 {
			f *= 1000
		}
		return time.UnixMilli(int64(f)).UTC()
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02T15:04:05.999999999Z0700"} {
		if v, err := time.Parse(layout, s); err == nil {
			return v.UTC()
		}
	}
	return time.Time{}
}
