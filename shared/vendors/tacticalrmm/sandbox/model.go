package sandbox

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// The records the sandbox keeps. They are stored in a neutral form (sizes
// in bytes, times as time.Time) and rendered in Tactical RMM's wire shapes
// by the handlers (human-readable disk sizes, ISO datetimes, names instead
// of ids where Tactical's serializers give names).

// Client is a Tactical RMM client (rmmbridge's organization).
type Client struct {
	ID   int
	Name string
	// AlertTemplate is the id of the client's alert template (0: none).
	AlertTemplate int
}

// Site is a site of a client.
type Site struct {
	ID, Client int
	Name       string
}

// Disk is one disk of an agent, in bytes (rendered "232.3G").
type Disk struct {
	Device, Fstype   string
	Total, Free      int64
	RemovableOrOther bool
}

// Agent is an installed agent (rmmbridge's device).
type Agent struct {
	// PK is the database id (listed by ?detail=false and the beta API as
	// "id"); AgentID is the string id the detail endpoint takes.
	PK      int
	AgentID string
	Site    int
	// Hostname and Description (the free text an admin writes).
	Hostname, Description string
	// MonitoringType is "server" or "workstation"; Plat "windows",
	// "linux" or "darwin"; Goarch "amd64" or "arm64".
	MonitoringType, Plat, Goarch string
	// OperatingSystem is the agent's one-line OS string: Windows
	// "Windows 11 Pro, 64 bit v23H2 (build 22631.3447)", POSIX
	// "<platform> <version> <arch> <kernel>".
	OperatingSystem string
	// Manufacturer, Model and Serial go into wmi_detail (Windows bios,
	// comp_sys; POSIX make_model, serialnumber).
	Manufacturer, Model, Serial string
	LastSeen                    time.Time
	BootTime                    float64
	// LoggedInUsername is "None" when nobody is logged in (as Tactical
	// stores it); LastLoggedInUser keeps the previous one.
	LoggedInUsername, LastLoggedInUser string
	PublicIP                           string
	LocalIPs                           []string
	MACs                               []string
	TotalRAM                           int
	Version                            string
	Disks                              []Disk
	// Offline fixes the computed status (the sandbox does not derive it
	// from last_seen and the offline time, so fixtures in the past can be
	// online).
	Offline         bool
	MaintenanceMode bool
	NeedsReboot     bool
}

// URLAction is a Web Hook (Settings → Global Settings → Web Hooks).
type URLAction struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Desc        string `json:"desc"`
	ActionType  string `json:"action_type"`
	Pattern     string `json:"pattern"`
	RestMethod  string `json:"rest_method"`
	RestBody    string `json:"rest_body"`
	RestHeaders string `json:"rest_headers"`
}

// AlertTemplate binds URL Actions as an alert's failure and resolved
// actions, with the switches that say which alerts run them.
type AlertTemplate struct {
	ID                 int    `json:"id"`
	Name               string `json:"name"`
	IsActive           bool   `json:"is_active"`
	ActionType         string `json:"action_type"`
	ActionRest         *int   `json:"action_rest"`
	ResolvedActionType string `json:"resolved_action_type"`
	ResolvedActionRest *int   `json:"resolved_action_rest"`
	// Which alerts run the actions.
	AgentScriptActions bool `json:"agent_script_actions"`
	CheckScriptActions bool `json:"check_script_actions"`
	TaskScriptActions  bool `json:"task_script_actions"`
}

// Alert is a Tactical alert: one per failing check, task or overdue agent
// until it resolves.
type Alert struct {
	ID         int
	AgentID    string
	AlertType  string // availability, check, task, custom
	Severity   string // info, warning, error
	Message    string
	CheckDesc  string // the assigned check's readable_desc
	TaskName   string
	AlertTime  time.Time
	Resolved   bool
	ResolvedOn time.Time
	Snoozed    bool
}

// bytes2human renders n as Tactical does (tacticalrmm.utils bytes2human:
// 1024-based, one decimal, the largest unit n reaches: "232.3G", "1.8T",
// "512B").
func bytes2human(n int64) string {
	symbols := []string{"K", "M", "G", "T", "P", "E"}
	for i := len(symbols) - 1; i >= 0; i-- {
		unit := int64(1) << (10 * (i + 1))
		if n >= unit {
			return fmt.Sprintf("%.1f%s", float64(n)/float64(unit), symbols[i])
		}
	}
	return fmt.Sprintf("%dB", n)
}

// HumanBytes is bytes2human, for tests that build expected wire values.
func HumanBytes(n int64) string { return bytes2human(n) }

// pyTime renders t as Python's str(datetime) with a UTC offset
// ("2024-05-01 10:00:00.123456+00:00"), the way URL Action placeholders
// substitute datetimes.
func pyTime(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + "+00:00"
}

// isoTime renders t as DRF renders a DateTimeField ("2025-03-14T09:26:53.531000Z").
func isoTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000000Z")
}

// diskJSON renders a disk as the agent reports it.
func diskJSON(d Disk) map[string]any {
	used := max(d.Total-d.Free, 0)
	pct := 0
	if d.Total > 0 {
		pct = int(math.Round(float64(used) * 100 / float64(d.Total)))
	}
	return map[string]any{"device": d.Device, "fstype": d.Fstype, "total": bytes2human(d.Total),
		"used": bytes2human(used), "free": bytes2human(d.Free), "percent": pct}
}

// wmiDetail renders the agent's wmi_detail: the WMI tables (lists of lists
// of objects) for Windows, a flat object for POSIX agents.
func wmiDetail(a *Agent) map[string]any {
	if a.Plat != "windows" {
		ips := make([]string, len(a.LocalIPs))
		for i, ip := range a.LocalIPs {
			ips[i] = ip + "/24"
		}
		return map[string]any{"cpus": []string{"Intel(R) Core(TM) i7-1185G7 @ 3.00GHz"}, "gpus": []string{},
			"disks": []string{}, "local_ips": ips, "make_model": strings.TrimSpace(a.Manufacturer + " " + a.Model),
			"serialnumber": a.Serial, "total_ram": a.TotalRAM}
	}
	var nics []any
	for i, mac := range a.MACs {
		nic := map[string]any{"MACAddress": mac, "IPEnabled": true, "Description": "Intel(R) Ethernet Connection"}
		if i < len(a.LocalIPs) {
			nic["IPAddress"] = []string{a.LocalIPs[i]}
		}
		nics = append(nics, []any{nic})
	}
	return map[string]any{
		"bios":           []any{[]any{map[string]any{"SerialNumber": a.Serial, "Manufacturer": a.Manufacturer, "SMBIOSBIOSVersion": "1.21.0"}}},
		"comp_sys":       []any{[]any{map[string]any{"Manufacturer": a.Manufacturer, "Model": a.Model, "TotalPhysicalMemory": a.TotalRAM << 30}}},
		"comp_sys_prod":  []any{[]any{map[string]any{"IdentifyingNumber": a.Serial, "Vendor": a.Manufacturer, "Name": a.Model}}},
		"network_config": nics,
		"os":             []any{[]any{map[string]any{"Caption": "Microsoft " + strings.SplitN(a.OperatingSystem, ",", 2)[0]}}},
	}
}
