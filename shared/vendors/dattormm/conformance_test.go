package dattormm

import (
	"strings"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmtest"
	"github.com/rmmbridge/rmmbridge/shared/vendors/dattormm/sandbox"
)

// TestConformance runs the RMM behaviour suite against the sandbox.
func TestConformance(t *testing.T) {
	rmmtest.Run(t, rmmtest.Harness{
		Name:         "Datto RMM",
		Capabilities: specCapabilities(),
		// The site devices list carries no audit: serial, manufacturer,
		// model, disks and MAC addresses come from GET /v2/audit/device.
		ListOmits:              []string{"SerialNumber", "Manufacturer", "Model", "Volumes", "MACAddresses"},
		OneSitePerOrganization: true,
		DeviceAsKept:           deviceAsKept,
		AuthFailureReason:      "invalid_grant",
		Open:                   openConformance,
	})
}

// deviceAsKept is what Datto's model keeps of a device: the operating
// system as one string and whether it is 64-bit, disks without labels.
func deviceAsKept(d rmm.Device) rmm.Device {
	arch := ""
	if strings.Contains(d.OS.Architecture, "64") {
		arch = "64-bit"
	}
	d.OS = rmm.OS{Name: sandbox.OSString(d.OS.Name, d.OS.Version, d.OS.Build), Architecture: arch}
	for i := range d.Volumes {
		d.Volumes[i].Label = ""
	}
	return d
}

// categories maps the fixture's device types to Datto's deviceType
// categories.
var categories = map[rmm.DeviceType]string{
	rmm.DeviceWorkstation: "Desktop", rmm.DeviceServer: "Server", rmm.DeviceMac: "Laptop", rmm.DeviceLinux: "Desktop",
}

// sandboxDevice writes a fixture device in Datto's shape.
func sandboxDevice(d rmm.Device, site string) sandbox.Device {
	sd := sandbox.Device{
		SiteUID: site, Hostname: d.Name, Description: d.DisplayName,
		DeviceType:      sandbox.DeviceType{Category: categories[d.DeviceType], Type: categories[d.DeviceType]},
		OperatingSystem: sandbox.OSString(d.OS.Name, d.OS.Version, d.OS.Build), A64Bit: strings.Contains(d.OS.Architecture, "64"),
		LastLoggedInUser: d.LastLoggedInUser, Online: !d.Offline, LastSeen: d.LastCheckIn,
	}
	if len(d.IPAddresses) > 0 {
		sd.IntIPAddress = d.IPAddresses[0]
	}
	sd.Audit.SystemInfo = sandbox.SystemInfo{Manufacturer: d.Manufacturer, Model: d.Model}
	sd.Audit.Bios = sandbox.Bios{SerialNumber: d.SerialNumber}
	sd.Audit.BaseBoard = sandbox.BaseBoard{Manufacturer: d.Manufacturer, Product: d.Model, SerialNumber: d.SerialNumber}
	for i, m := range d.MACAddresses {
		n := sandbox.Nic{Instance: "Ethernet", MACAddress: m}
		if i < len(d.IPAddresses) {
			n.IPv4 = d.IPAddresses[i]
		}
		sd.Audit.Nics = append(sd.Audit.Nics, n)
	}
	for _, v := range d.Volumes {
		sd.Audit.LogicalDisks = append(sd.Audit.LogicalDisks, sandbox.LogicalDisk{Description: "Local Fixed Disk",
			DiskIdentifier: v.Name, Freespace: v.FreeBytes, Size: v.CapacityBytes})
	}
	return sd
}

// openConformance starts a sandbox holding the suite's fixture and a client
// configured as the suite asks.
func openConformance(t rmmtest.T, f rmmtest.Fixture) *rmmtest.Env {
	t.Helper()
	sb := sandbox.New(sandbox.Options{Seed: 4, Sites: 4, Devices: 12, Epoch: testEpoch, SlowDelay: -1})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	env := &rmmtest.Env{}
	for _, o := range f.Organizations {
		st, err := sb.AddSite(o.Name, o.Description)
		if err != nil {
			t.Fatal(err)
		}
		env.OrganizationIDs = append(env.OrganizationIDs, st.UID)
		var sites []string
		for range o.Sites {
			sites = append(sites, st.UID)
		}
		env.SiteIDs = append(env.SiteIDs, sites)
	}
	for _, fd := range f.Devices {
		id, err := sb.AddDevice(sandboxDevice(fd.Device, env.OrganizationIDs[fd.Organization]))
		if err != nil {
			t.Fatal(err)
		}
		env.DeviceIDs = append(env.DeviceIDs, id)
	}
	key, secret := sb.Credentials()
	const wrongSecret = "qf-wrong-api-secret"
	sl := &sleeps{}
	open := func(secret string) *Client {
		c, err := New(Config{BaseURL: base, APIKey: key, APISecret: secret, PageSize: f.PageSize,
			AttemptTimeout: f.AttemptTimeout, Sleep: sl.Sleep}, nil)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return c
	}
	c, bad := open(secret), open(wrongSecret)
	env.Client, env.BadCredentials = c, bad
	env.Secrets = []string{secret, wrongSecret}
	env.Faults = rmmtest.Faults{Throttle: sb.ThrottleNext, Fail: sb.FailNext, Hang: sb.HangNext}
	env.Requests, env.BadRequests, env.Waits = c.Requests, bad.Requests, sl.Waits
	env.Webhook = func(device int, series string, triggered bool) []byte {
		if _, err := sb.NewAlert(env.DeviceIDs[device], series, 0); err != nil {
			t.Fatalf("alert: %v", err)
		}
		body, err := sb.WebhookBody(series, triggered)
		if err != nil {
			t.Fatalf("webhook body: %v", err)
		}
		return body
	}
	env.NonAlertWebhook = []byte(`{"source":"datto-rmm","event":"test","platform":"merlot"}`)
	return env
}

// specCapabilities are the capabilities Spec offers that the suite
// checks: the client is held to what the spec promises.
func specCapabilities() []rmmtest.Capability {
	var out []rmmtest.Capability
	for _, o := range Spec.Capabilities {
		for _, c := range rmmtest.AllCapabilities {
			if string(c) == string(o.Capability) {
				out = append(out, c)
			}
		}
	}
	return out
}
