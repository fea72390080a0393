package sandbox

import "time"

// The sandbox's records. Wire shapes follow Datto RMM's OpenAPI document
// (API 2.0.0, build 1.22.1; testdata/vendor-contracts/datto-rmm-openapi.yaml):
// sites and devices carry a numeric id and a uid, the API addresses them by
// uid. Times are kept as time.Time and rendered on the wire as ISO-8601
// strings (the document's "date-time") or, with Options.EpochMillis, as
// epoch milliseconds (what community clients report seeing).

// Site is a Datto site: the customer (Datto has no level above it).
type Site struct {
	ID          int64
	UID         string
	Name        string
	Description string
	Notes       string
	OnDemand    bool
}

// DeviceType is a device's deviceType block.
type DeviceType struct {
	Category string `json:"category"`
	Type     string `json:"type"`
}

// Device is a device with its audit.
type Device struct {
	ID               int64
	UID              string
	SiteUID          string
	Hostname         string
	Description      string
	DeviceType       DeviceType
	DeviceClass      string // device, printer, esxihost, rmmnetworkdevice, unknown
	OperatingSystem  string
	A64Bit           bool
	IntIPAddress     string
	ExtIPAddress     string
	Domain           string
	LastLoggedInUser string
	Online           bool
	RebootRequired   bool
	LastSeen         time.Time
	LastReboot       time.Time
	LastAuditDate    time.Time
	CreationDate     time.Time
	// UDF holds udf1..udf30 (keys "udf1"…); unset ones are absent.
	UDF   map[string]string
	Audit Audit
}

// Audit is a device's hardware audit (GET /v2/audit/device/{uid}).
type Audit struct {
	SystemInfo   SystemInfo    `json:"systemInfo"`
	Nics         []Nic         `json:"nics"`
	Bios         Bios          `json:"bios"`
	BaseBoard    BaseBoard     `json:"baseBoard"`
	LogicalDisks []LogicalDisk `json:"logicalDisks"`
	Processors   []Processor   `json:"processors"`
}

// SystemInfo is the audit's systemInfo block.
type SystemInfo struct {
	Manufacturer        string `json:"manufacturer"`
	Model               string `json:"model"`
	TotalPhysicalMemory int64  `json:"totalPhysicalMemory"`
	Username            string `json:"username,omitempty"`
	TotalCPUCores       int    `json:"totalCpuCores"`
}

// Nic is one network interface.
type Nic struct {
	Instance   string `json:"instance"`
	IPv4       string `json:"ipv4,omitempty"`
	IPv6       string `json:"ipv6,omitempty"`
	MACAddress string `json:"macAddress"`
	Type       string `json:"type,omitempty"`
}

// Bios is the audit's bios block: serialNumber is the machine's serial.
type Bios struct {
	Instance      string `json:"instance,omitempty"`
	SerialNumber  string `json:"serialNumber"`
	SMBiosVersion string `json:"smBiosVersion,omitempty"`
}

// BaseBoard is the audit's baseBoard block. serialNumber is not in the
// 1.22.1 document but is reported by Datto's own audit screens and
// community clients [P]; clients use it when the BIOS serial is a
// placeholder.
type BaseBoard struct {
	Manufacturer string `json:"manufacturer"`
	Product      string `json:"product"`
	SerialNumber string `json:"serialNumber,omitempty"`
}

// LogicalDisk is one logical disk: sizes in bytes.
type LogicalDisk struct {
	Description    string `json:"description"`
	DiskIdentifier string `json:"diskIdentifier"`
	Freespace      int64  `json:"freespace"`
	Size           int64  `json:"size"`
}

// Processor is one CPU.
type Processor struct {
	Name string `json:"name"`
}

// Alert is an alert raised on a device.
type Alert struct {
	UID         string
	DeviceUID   string
	Priority    string // Critical, High, Moderate, Low, Information
	Diagnostics string
	Resolved    bool
	ResolvedOn  time.Time
	Timestamp   time.Time
	// Context is the alertContext, "@class" included.
	Context map[string]any
}
