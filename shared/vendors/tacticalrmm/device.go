package tacticalrmm

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// toDevice maps an agent detail or a beta list item of client clientID.
//
//   - Name is the hostname, DisplayName the admin's description.
//   - DeviceType: plat darwin → mac; monitoring_type server → server;
//     plat linux → linux; other workstations → workstation.
//   - OS from the operating_system line (parseOS).
//   - Serial, manufacturer, model, MACs from wmi_detail (hardwareOf).
//   - LastLoggedInUser: logged_in_username, or last_logged_in_user when
//     nobody is logged in (Tactical stores the text "None").
//   - LastCheckIn: last_seen (ISO 8601).
//   - Volumes from disks (human-readable sizes parsed by ParseSize).
//   - IPAddresses: the detail's local_ips ("10.0.0.5, 192.168.1.9"), else
//     wmi_detail's (POSIX "10.0.0.5/24", Windows network_config).
//   - Maintenance: maintenance_mode (left nil when the agent carries
//     none, so the alert policy's skipMaintenance stays inert).
//   - Offline: the detail's status is not "online"; beta items carry no
//     status and are computed as Tactical computes it: offline when
//     last_seen is older than the agent's offline_time minutes (default
//     4), or unknown.
func toDevice(a apiAgent, clientID string) rmm.Device {
	return toDeviceAt(a, clientID, time.Now())
}

func toDeviceAt(a apiAgent, clientID string, now time.Time) rmm.Device {
	d := rmm.Device{
		ID:             a.AgentID,
		OrganizationID: clientID,
		SiteID:         a.Site.String(),
		Name:           strings.TrimSpace(a.Hostname),
		DisplayName:    strings.TrimSpace(a.Description),
		DeviceType:     deviceType(a.Plat, a.MonitoringType),
		Offline:        a.Status != "" && !strings.EqualFold(a.Status, "online"),
	}
	d.OS.Name, d.OS.Version, d.OS.Build, d.OS.Architecture = parseOS(a.OperatingSystem, a.Plat)
	d.LastLoggedInUser = user(a.LoggedInUsername)
	if d.LastLoggedInUser == "" {
		d.LastLoggedInUser = user(a.LastLoggedInUser)
	}
	d.LastCheckIn, _ = parseTime(a.LastSeen)
	if a.Status == "" {
		limit := 4
		if a.OfflineTime != nil {
			limit = *a.OfflineTime
		}
		d.Offline = d.LastCheckIn.IsZero() || now.Sub(d.LastCheckIn) > time.Duration(limit)*time.Minute
	}
	var wmi map[string]json.RawMessage
	_ = json.Unmarshal(a.WMIDetail, &wmi)
	hw := hardwareOf(wmi, a.Plat)
	d.SerialNumber = hw.serial
	if d.SerialNumber == "" {
		d.SerialNumber = strings.TrimSpace(a.SerialNumber)
	}
	d.Manufacturer, d.Model = hw.maker, hw.model
	if d.Manufacturer == "" && d.Model == "" && a.MakeModel != "" {
		d.Manufacturer, d.Model = splitMakeModel(a.MakeModel)
	}
	d.MACAddresses = hw.macs
	d.IPAddresses = localIPs(a.LocalIPs)
	if len(d.IPAddresses) == 0 {
		d.IPAddresses = wmiIPs(wmi, a.Plat)
	}
	d.Volumes = volumes(a.Disks)
	if a.MaintenanceMode != nil {
		in := *a.MaintenanceMode
		d.Maintenance = &in
	}
	return d
}

func user(s string) string {
	s = strings.TrimSpace(s)
	if s == "None" || s == "-" {
		return ""
	}
	return s
}

func deviceType(plat, monitoring string) rmm.DeviceType {
	switch p := strings.ToLower(plat); {
	case p == "darwin":
		return rmm.DeviceMac
	case strings.EqualFold(monitoring, "server"):
		return rmm.DeviceServer
	case p == "linux":
		return rmm.DeviceLinux
	case p == "windows" || strings.EqualFold(monitoring, "workstation"):
		return rmm.DeviceWorkstation
	}
	return rmm.DeviceOther
}

// hardwareOf reads wmi_detail (see hardware).
func hardwareOf(wmi map[string]json.RawMessage, plat string) hardware {
	var hw hardware
	if wmi == nil {
		return hw
	}
	if plat != "windows" {
		var s, mm string
		_ = json.Unmarshal(wmi["serialnumber"], &s)
		_ = json.Unmarshal(wmi["make_model"], &mm)
		hw.serial = strings.TrimSpace(s)
		hw.maker, hw.model = splitMakeModel(mm)
		return hw
	}
	hw.serial = str(wmiTable(wmi, "bios"), "SerialNumber")
	if alt := str(wmiTable(wmi, "comp_sys_prod"), "IdentifyingNumber"); rmm.IsPlaceholderSerial(hw.serial) && !rmm.IsPlaceholderSerial(alt) {
		hw.serial = alt
	}
	cs := wmiTable(wmi, "comp_sys")
	hw.maker, hw.model = str(cs, "Manufacturer"), str(cs, "Model")
	var nics [][]map[string]any
	if json.Unmarshal(wmi["network_config"], &nics) == nil {
		for _, row := range nics {
			for _, n := range row {
				if mac := str(n, "MACAddress"); mac != "" {
					hw.macs = append(hw.macs, mac)
				}
			}
		}
	}
	return hw
}

// localIPs reads the detail's local_ips: a comma-separated string or a
// list; "N/A" and CIDR suffixes are dropped.
func localIPs(raw json.RawMessage) []string {
	var list []string
	var s string
	if json.Unmarshal(raw, &s) == nil {
		list = strings.Split(s, ",")
	} else {
		_ = json.Unmarshal(raw, &list)
	}
	var out []string
	for _, ip := range list {
		ip, _, _ = strings.Cut(strings.TrimSpace(ip), "/")
		if ip != "" && !strings.EqualFold(ip, "N/A") && ip != "None" {
			out = append(out, ip)
		}
	}
	return out
}

func wmiIPs(wmi map[string]json.RawMessage, plat string) []string {
	if plat != "windows" {
		return localIPs(wmi["local_ips"])
	}
	var nics [][]map[string]any
	var out []string
	if json.Unmarshal(wmi["network_config"], &nics) == nil {
		for _, row := range nics {
			for _, n := range row {
				ips, _ := n["IPAddress"].([]any)
				for _, ip := range ips {
					if s, ok := ip.(string); ok && s != "" {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

// volumes maps disks; a disk whose total cannot be read is skipped, a
// free size that cannot be read is derived from percent (used %).
func volumes(raw json.RawMessage) []rmm.Volume {
	var disks []apiDisk
	if json.Unmarshal(raw, &disks) != nil {
		return nil
	}
	var out []rmm.Volume
	for _, dk := range disks {
		total, ok := sizeOf(dk.Total)
		if !ok || total <= 0 {
			continue
		}
		free, ok := sizeOf(dk.Free)
		if !ok {
			if p, err := dk.Percent.Float64(); err == nil && p >= 0 && p <= 100 {
				free = int64(float64(total) * (100 - p) / 100)
			}
		}
		out = append(out, rmm.Volume{Name: strings.TrimSpace(dk.Device), CapacityBytes: total, FreeBytes: min(free, total)})
	}
	return out
}

// severity maps Tactical's three severities: error → major, warning →
// moderate, info → minor (Tactical has nothing above error; the alert
// policy's minimum severity filters on these).
func severity(s string) rmm.Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "error":
		return rmm.SeverityMajor
	case "warning":
		return rmm.SeverityModerate
	case "info":
		return rmm.SeverityMinor
	}
	return rmm.SeverityNone
}
