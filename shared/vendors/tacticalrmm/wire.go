package tacticalrmm

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Tactical RMM's wire shapes, read leniently: fields the client does not
// need are ignored, ids may come as numbers or strings.

// apiSite is a site (SiteSerializer; nested in a client too).
type apiSite struct {
	ID     flexInt `json:"id"`
	Name   string  `json:"name"`
	Client flexInt `json:"client"`
}

// apiClient is a client with its sites (ClientSerializer).
type apiClient struct {
	ID    flexInt   `json:"id"`
	Name  string    `json:"name"`
	Sites []apiSite `json:"sites"`
}

// apiAgentRow is a GET /agents/?detail=false row: the pk, the string id
// and the client's and site's names (no ids).
type apiAgentRow struct {
	ID       flexInt `json:"id"`
	AgentID  string  `json:"agent_id"`
	Hostname string  `json:"hostname"`
	Client   string  `json:"client"`
	Site     string  `json:"site"`
}

// apiAgent is the agent detail (GET /agents/{agent_id}/, AgentSerializer)
// or a beta list item (the model's fields). Detail-only fields (status,
// local_ips, make_model, client as a name) are empty in beta items.
type apiAgent struct {
	ID               flexInt         `json:"id"`
	AgentID          string          `json:"agent_id"`
	Hostname         string          `json:"hostname"`
	Site             flexInt         `json:"site"`
	Description      string          `json:"description"`
	MonitoringType   string          `json:"monitoring_type"`
	Plat             string          `json:"plat"`
	Goarch           string          `json:"goarch"`
	OperatingSystem  string          `json:"operating_system"`
	LastSeen         string          `json:"last_seen"`
	LoggedInUsername string          `json:"logged_in_username"`
	LastLoggedInUser string          `json:"last_logged_in_user"`
	Status           string          `json:"status"`
	OfflineTime      *int            `json:"offline_time"`
	LocalIPs         json.RawMessage `json:"local_ips"`
	MakeModel        string          `json:"make_model"`
	SerialNumber     string          `json:"serial_number"`
	Disks            json.RawMessage `json:"disks"`
	WMIDetail        json.RawMessage `json:"wmi_detail"`
	// MaintenanceMode is the agent's maintenance_mode (a model field:
	// in the detail, the beta items and the table rows).
	MaintenanceMode *bool `json:"maintenance_mode"`
}

// apiDisk is one entry of an agent's disks: sizes are human-readable
// strings ("232.3G"), percent the used share.
type apiDisk struct {
	Device  string          `json:"device"`
	Fstype  string          `json:"fstype"`
	Total   json.RawMessage `json:"total"`
	Free    json.RawMessage `json:"free"`
	Used    json.RawMessage `json:"used"`
	Percent json.Number     `json:"percent"`
}

// apiBetaPage is a page of the beta API (DRF PageNumberPagination).
type apiBetaPage struct {
	Count   int        `json:"count"`
	Next    *string    `json:"next"`
	Results []apiAgent `json:"results"`
}

// apiAlert is an alert of the PATCH /alerts/ query (AlertSerializer).
type apiAlert struct {
	ID            flexInt         `json:"id"`
	AlertType     string          `json:"alert_type"`
	Severity      string          `json:"severity"`
	Message       string          `json:"message"`
	AlertTime     string          `json:"alert_time"`
	Resolved      bool            `json:"resolved"`
	Hostname      string          `json:"hostname"`
	AgentID       string          `json:"agent_id"`
	AssignedCheck json.RawMessage `json:"assigned_check"`
	AssignedTask  json.RawMessage `json:"assigned_task"`
}

// flexInt reads an id given as a number or a numeric string; null and ""
// are 0.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("id %s is not an integer", b)
	}
	*f = flexInt(n)
	return nil
}

func (f flexInt) String() string {
	if f == 0 {
		return ""
	}
	return strconv.Itoa(int(f))
}

// sizeRE reads a human-readable size: a number, optional space, an
// optional unit (B, K, KB, KiB, M, ... case-insensitive).
var sizeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([KMGTPE]?)(?:I?B)?$`) })

// ParseSize turns a disk size as Tactical reports it into bytes. Tactical
// renders sizes with bytes2human: 1024-based units K, M, G, T, P, E with
// one decimal ("232.3G", "1.8T", "512B"); agents of other versions write
// "232.3 GB" or "232.3GiB", and some send plain byte counts. Every form is
// read as 1024-based (Tactical's units are binary whatever the suffix
// says). The result is within half a unit of the last digit of the real
// size: "232.3G" is 232.3 × 2³⁰ bytes, rounded. ok is false for text that
// is no size ("", "N/A", negative numbers).
func ParseSize(s string) (bytes int64, ok bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	m := sizeRE().FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	exp := strings.Index("KMGTPE", m[2]) + 1 // 0 for bytes
	if m[2] == "" {
		exp = 0
	}
	f := v * math.Pow(1024, float64(exp))
	if f > math.MaxInt64/2 {
		return 0, false
	}
	return int64(math.Round(f)), true
}

// sizeOf reads a disk size given as a string or a number of bytes.
func sizeOf(raw json.RawMessage) (int64, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return ParseSize(s)
	}
	var n float64
	if json.Unmarshal(raw, &n) == nil && n >= 0 && n < math.MaxInt64/2 {
		return int64(n), true
	}
	return 0, false
}

// windowsOSRE reads the Windows agent's OS line: "Windows 11 Pro, 64 bit
// v23H2 (build 22631.3447)".
var windowsOSRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(.+?),\s*(\S+ bit|\S+)\s+v(\S+)\s+\(build\s+([^)]+)\)\s*$`)
})

// parseOS splits the agent's operating_system line. Windows: "<caption>,
// <arch> v<version> (build <build>)" ("64 bit" becomes "64-bit"). POSIX
// agents write "<platform> <version> <arch> <kernel>" ("ubuntu 22.04
// x86_64 5.15.0-105-generic"); the platform may hold spaces, so the line
// is split from the right. [P] The formats are the agent's, read from its
// source and real installs' screenshots; a line in neither form is the
// name as a whole.
func parseOS(line, plat string) (name, version, build, arch string) {
	line = strings.TrimSpace(line)
	if m := windowsOSRE().FindStringSubmatch(line); m != nil {
		return strings.TrimSpace(m[1]), m[3], strings.TrimSpace(m[4]), strings.Replace(m[2], " bit", "-bit", 1)
	}
	if plat != "windows" {
		f := strings.Fields(line)
		if n := len(f); n >= 4 && looksLikeArch(f[n-2]) {
			return strings.Join(f[:n-3], " "), f[n-3], f[n-1], f[n-2]
		}
	}
	return line, "", "", ""
}

func looksLikeArch(s string) bool {
	switch strings.ToLower(s) {
	case "x86_64", "amd64", "arm64", "aarch64", "i386", "i686", "386", "armv7l", "arm", "x86":
		return true
	}
	return false
}

// knownMakers are manufacturer names a POSIX agent's make_model line
// ("Dell Inc. OptiPlex 7090") may start with; the rest is the model.
var knownMakers = []string{"Dell Inc.", "Apple Inc.", "LENOVO", "Lenovo", "HP", "Hewlett-Packard", "HPE",
	"Microsoft Corporation", "VMware, Inc.", "QEMU", "System76", "Supermicro", "ASUSTeK COMPUTER INC.",
	"Acer", "Intel Corporation", "Gigabyte Technology Co., Ltd.", "Micro-Star International Co., Ltd.",
	"innotek GmbH", "Framework", "Raspberry Pi Foundation", "Xen", "Google", "Amazon EC2"}

// splitMakeModel splits a make_model line on a known manufacturer; an
// unknown one leaves the manufacturer empty and the whole line as model
// (no guess that could be wrong).
func splitMakeModel(s string) (maker, model string) {
	s = strings.TrimSpace(s)
	for _, m := range knownMakers {
		if rest, ok := strings.CutPrefix(s, m+" "); ok {
			return m, strings.TrimSpace(rest)
		}
	}
	return "", s
}

// wmiTable returns the first object of a Windows WMI table
// (wmi_detail[key][0][0]).
func wmiTable(wmi map[string]json.RawMessage, key string) map[string]any {
	var rows [][]map[string]any
	if json.Unmarshal(wmi[key], &rows) != nil {
		return nil
	}
	for _, r := range rows {
		for _, o := range r {
			if o != nil {
				return o
			}
		}
	}
	return nil
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return strings.TrimSpace(s)
}

// hardware reads the serial number, manufacturer, model and MAC addresses
// from wmi_detail: Windows bios[0][0].SerialNumber (else
// comp_sys_prod[0][0].IdentifyingNumber when the BIOS one is a
// placeholder), comp_sys[0][0].Manufacturer/Model, network_config MACs;
// POSIX serialnumber and make_model (POSIX agents report no MACs).
type hardware struct {
	serial, maker, model string
	macs                 []string
}

// timeLayouts are the datetime forms Tactical sends: DRF's ISO 8601 and
// Python's str(datetime) (URL Action placeholders).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

// parseTime reads a Tactical datetime; naive ones are UTC. ok is false
// for anything else ("None", "").
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
