package sandbox

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/rmm"
	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// seeded is the generated world.
type seeded struct {
	sites   []*Site
	devices []*Device
	alerts  []*Alert
}

// seed generates the data from the NinjaOne sandbox's generator, so the
// two RMM sandboxes hold the same customers and machines for the same
// seed: one site per NinjaOne organization (same name and numeric id;
// its locations have no Datto counterpart), one device per NinjaOne
// device in Datto's shapes, one alert per NinjaOne active alert.
func seed(seedVal int64, sites, devices int, epoch time.Time) seeded {
	n := ninjasandbox.New(ninjasandbox.Options{Seed: seedVal, Orgs: sites, Devices: devices, Epoch: epoch})
	r := rand.New(rand.NewPCG(uint64(seedVal), 0x73697465))
	var w seeded
	siteUID := map[int]string{}
	for _, o := range n.Orgs() {
		st := &Site{ID: int64(o.ID), UID: uid(r), Name: o.Name, Description: o.Description}
		siteUID[o.ID] = st.UID
		w.sites = append(w.sites, st)
	}
	devUID := map[int]string{}
	for _, d := range n.Devices() {
		dev := fromNinja(d, siteUID[d.OrganizationID])
		devUID[d.ID] = dev.UID
		w.devices = append(w.devices, dev)
	}
	for _, a := range n.Alerts() {
		i := conditionIndex(a.SourceType)
		w.alerts = append(w.alerts, &Alert{
			UID: a.UID, DeviceUID: devUID[a.DeviceID], Priority: conditions[i].priority,
			Diagnostics: a.Message, Timestamp: fromEpoch(a.CreateTime), Context: conditions[i].context(r),
		})
	}
	return w
}

// uid draws a Datto-style uid (a UUID).
func uid(r *rand.Rand) string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func fromEpoch(secs float64) time.Time {
	if secs == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(math.Round(secs * 1000))).UTC()
}

// OSString renders an operating system as Datto's operatingSystem, one
// string ("Windows 11 Pro 23H2 (22631)").
func OSString(name, version, build string) string {
	return rmm.OS{Name: name, Version: version, Build: build}.String()
}

// fromNinja maps a NinjaOne sandbox device to Datto's shapes: the system
// serial is the audit's bios.serialNumber and the firmware's one the
// baseBoard's, so "BIOS serial unless it is a placeholder, else the
// board's" picks what NinjaOne's "system serial unless placeholder, else
// BIOS" picks.
func fromNinja(d ninjasandbox.Device, site string) *Device {
	dev := &Device{
		ID: int64(d.ID), UID: d.UID, SiteUID: site, Hostname: d.SystemName, DeviceClass: "device",
		IntIPAddress: first(d.IPAddresses), ExtIPAddress: d.PublicIP, LastLoggedInUser: d.LastLoggedUser,
		Online: !d.Offline, LastSeen: fromEpoch(d.LastContact), CreationDate: fromEpoch(d.Created),
		LastAuditDate: fromEpoch(d.LastUpdate), UDF: map[string]string{},
	}
	if d.DisplayName != d.SystemName {
		dev.Description = d.DisplayName
	}
	category := "Desktop"
	switch {
	case strings.Contains(d.NodeClass, "SERVER"):
		category = "Server"
	case d.System != nil && d.System.ChassisType == "LAPTOP":
		category = "Laptop"
	}
	dev.DeviceType = DeviceType{Category: category, Type: category}
	if os := d.OS; os != nil {
		dev.OperatingSystem = OSString(os.Name, os.ReleaseID, os.BuildNumber)
		dev.A64Bit = strings.Contains(os.Architecture, "64")
		dev.RebootRequired = os.NeedsReboot
		dev.LastReboot = fromEpoch(os.LastBootTime)
	}
	if s := d.System; s != nil {
		dev.Domain = s.Domain
		dev.Audit.SystemInfo = SystemInfo{Manufacturer: s.Manufacturer, Model: s.Model, TotalPhysicalMemory: s.TotalPhysicalMemory,
			Username: d.LastLoggedUser, TotalCPUCores: 4}
		dev.Audit.Bios = Bios{Instance: s.Manufacturer + " BIOS", SerialNumber: s.SerialNumber, SMBiosVersion: "3.4"}
		dev.Audit.BaseBoard = BaseBoard{Manufacturer: s.Manufacturer, Product: s.Model, SerialNumber: s.BIOSSerialNumber}
	}
	dev.Audit.Nics = nics(d.IPAddresses, d.MACAddresses)
	for _, v := range d.Volumes {
		dev.Audit.LogicalDisks = append(dev.Audit.LogicalDisks, LogicalDisk{
			Description: diskDescription(v.DeviceType), DiskIdentifier: firstNonEmpty(v.DriveLetter, v.Name),
			Freespace: v.FreeSpace, Size: v.Capacity,
		})
	}
	dev.Audit.Processors = []Processor{{Name: "Intel(R) Core(TM) i7-1185G7 @ 3.00GHz"}}
	return dev
}

// nics spreads addresses over interfaces: the i-th IPv4 address and MAC
// on interface i, IPv6 addresses on the first interface.
func nics(ips, macs []string) []Nic {
	var out []Nic
	for i, m := range macs {
		out = append(out, Nic{Instance: fmt.Sprintf("Ethernet %d", i+1), MACAddress: m, Type: "Ethernet"})
	}
	v4 := 0
	for _, ip := range ips {
		if strings.Contains(ip, ":") {
			if len(out) == 0 {
				out = append(out, Nic{Instance: "Ethernet 1", Type: "Ethernet"})
			}
			out[0].IPv6 = strings.TrimPrefix(out[0].IPv6+","+ip, ",")
			continue
		}
		if v4 >= len(out) {
			out = append(out, Nic{Instance: fmt.Sprintf("Ethernet %d", v4+1), Type: "Ethernet"})
		}
		out[v4].IPv4 = ip
		v4++
	}
	return out
}

// diskDescription is Datto's description of a logical disk of NinjaOne
// device type t.
func diskDescription(t string) string {
	switch strings.ToLower(t) {
	case "removable disk":
		return "Removable Disk"
	case "network drive", "network disk":
		return "Network Connection"
	case "cd-rom disc", "cd", "optical":
		return "CD-ROM Disc"
	}
	return "Local Fixed Disk"
}

func first(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// condition is an alert template, in the order of the NinjaOne sandbox's
// conditions (disk, memory, CPU, offline, pending reboot).
type condition struct {
	sourceType, priority, diagnostics string
	context                           func(r *rand.Rand) map[string]any
}

var conditions = []condition{
	{"CONDITION_AGENT_DISK_FREE_SPACE", "High", "Disk usage on C: is above 90%", func(r *rand.Rand) map[string]any {
		return map[string]any{"@class": "perf_disk_usage_ctx", "diskName": "C:", "totalVolume": 476.0, "freeSpace": float64(5 + r.IntN(40)),
			"unitOfMeasure": "FREE", "diskNameDesignation": "SINGLE_VOLUME"}
	}},
	{"CONDITION_AGENT_MEMORY", "Moderate", "Memory usage is above 90%", func(r *rand.Rand) map[string]any {
		return map[string]any{"@class": "perf_resource_usage_ctx", "type": "MEMORY", "sample": float64(91 + r.IntN(8))}
	}},
	{"CONDITION_AGENT_CPU", "Low", "CPU usage is above 95%", func(r *rand.Rand) map[string]any {
		return map[string]any{"@class": "perf_resource_usage_ctx", "type": "CPU", "sample": float64(96 + r.IntN(4)), "processName": "MsMpEng.exe"}
	}},
	{"AGENT_OFFLINE", "Critical", "The device has been offline for 15 minutes", func(*rand.Rand) map[string]any {
		return map[string]any{"@class": "online_offline_status_ctx", "status": "OFFLINE"}
	}},
	{"CONDITION_PENDING_REBOOT", "Information", "A reboot has been pending for 7 days", func(*rand.Rand) map[string]any {
		return map[string]any{"@class": "online_offline_status_ctx", "status": "ONLINE"}
	}},
}

func conditionIndex(sourceType string) int {
	for i, c := range conditions {
		if c.sourceType == sourceType {
			return i
		}
	}
	return 0
}
