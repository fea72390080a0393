package ninjaone

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmtest"
	"github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// TestConformance runs the RMM behaviour suite against the sandbox.
func TestConformance(t *testing.T) {
	rmmtest.Run(t, rmmtest.Harness{
		Name:         "NinjaOne",
		Capabilities: specCapabilities(),
		// devices-detailed carries neither volumes nor the last logged-on
		// user; GetDevice reads them from their own endpoints.
		ListOmits:         []string{"Volumes", "LastLoggedInUser"},
		AuthFailureReason: "invalid_client",
		Open:              openConformance,
	})
}

// nodeClasses maps the fixture's device types to NinjaOne node classes.
var nodeClasses = map[rmm.DeviceType]string{
	rmm.DeviceWorkstation: "WINDOWS_WORKSTATION", rmm.DeviceServer: "WINDOWS_SERVER",
	rmm.DeviceMac: "MAC", rmm.DeviceLinux: "LINUX_WORKSTATION",
}

// sandboxDevice writes a fixture device in NinjaOne's shape.
func sandboxDevice(d rmm.Device, org, loc int) sandbox.Device {
	sd := sandbox.Device{
		OrganizationID: org, LocationID: loc, NodeClass: nodeClasses[d.DeviceType], Offline: d.Offline,
		DisplayName: d.DisplayName, SystemName: d.Name, DNSName: strings.ToLower(d.Name) + ".qf.local",
		LastContact: float64(d.LastCheckIn.UnixMilli()) / 1000, IPAddresses: d.IPAddresses, MACAddresses: d.MACAddresses,
		OS: &sandbox.OperatingSystem{Name: d.OS.Name, ReleaseID: d.OS.Version, BuildNumber: d.OS.Build, Architecture: d.OS.Architecture},
		System: &sandbox.ComputerSystem{Name: d.Name, Manufacturer: d.Manufacturer, Model: d.Model,
			SerialNumber: d.SerialNumber, BIOSSerialNumber: d.SerialNumber},
		LastLoggedUser: d.LastLoggedInUser,
	}
	for _, v := range d.Volumes {
		sd.Volumes = append(sd.Volumes, sandbox.Volume{Name: v.Name, DriveLetter: v.Name, Label: v.Label, DeviceType: "Local Disk",
			FileSystem: "NTFS", Capacity: v.CapacityBytes, FreeSpace: v.FreeBytes})
	}
	return sd
}

// openConformance starts a sandbox holding the suite's fixture and a client
// configured as the suite asks.
func openConformance(t rmmtest.T, f rmmtest.Fixture) *rmmtest.Env {
	t.Helper()
	sb := sandbox.New(sandbox.Options{Seed: 4, Orgs: 4, Devices: 12, Epoch: testEpoch})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	env := &rmmtest.Env{}
	for _, o := range f.Organizations {
		org, err := sb.AddOrganization(o.Name, o.Description, o.Sites)
		if err != nil {
			t.Fatal(err)
		}
		env.OrganizationIDs = append(env.OrganizationIDs, strconv.Itoa(org.ID))
		var sites []string
		for _, l := range org.Locations {
			sites = append(sites, strconv.Itoa(l.ID))
		}
		env.SiteIDs = append(env.SiteIDs, sites)
	}
	var deviceIDs []int
	for _, fd := range f.Devices {
		org, _ := strconv.Atoi(env.OrganizationIDs[fd.Organization])
		loc, _ := strconv.Atoi(env.SiteIDs[fd.Organization][fd.Site])
		id, err := sb.AddDevice(sandboxDevice(fd.Device, org, loc))
		if err != nil {
			t.Fatal(err)
		}
		deviceIDs = append(deviceIDs, id)
		env.DeviceIDs = append(env.DeviceIDs, strconv.Itoa(id))
	}
	id, secret := sb.Credentials()
	const wrongSecret = "qf-wrong-client-secret"
	sl := &sleeps{}
	open := func(secret string) *Client {
		c, err := New(Config{BaseURL: base, ClientID: id, ClientSecret: secret, PageSize: f.PageSize, ReportPageSize: 10,
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
		a, err := sb.ConditionActivity(deviceIDs[device], triggered, series, 0)
		if err != nil {
			t.Fatalf("webhook activity: %v", err)
		}
		body, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	env.NonAlertWebhook = []byte(`{"id":5001,"activityTime":1741944400.5,"deviceId":` + env.DeviceIDs[0] +
		`,"activityType":"ACTIONSET","statusCode":"COMPLETED","status":"Completed","sourceName":"Patch Tuesday"}`)
	return env
}

// specCapabilities are the capabilities Spec offers: the suite
// checks the client against what the spec promises.
func specCapabilities() []rmmtest.Capability {
	var out []rmmtest.Capability
	for _, o := range Spec.Capabilities {
		out = append(out, rmmtest.Capability(o.Capability))
	}
	return out
}
