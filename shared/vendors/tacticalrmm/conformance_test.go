package tacticalrmm

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmtest"
	"github.com/rmmbridge/rmmbridge/shared/vendors/tacticalrmm/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// The fields Tactical RMM does not keep or report, declared to the suite
// (each documented in the package): clients have no description; POSIX
// agents report no MAC address; disks have no label; disk sizes are rounded human-readable
// strings (one decimal of 1024-based units: at most 5 % off at "1.0T",
// far less for real sizes). Maintenance is the other way round: Tactical
// reports maintenance_mode for every agent (false where the suite's
// fixture, which knows no maintenance, expects nil); TestDeviceMaintenance
// checks it.
var (
	organizationOmits = []string{"Description"}
	deviceOmits       = []string{"MACAddresses", "Volume.Label", "Maintenance"}
	sizeTolerance     = 0.05
)

// TestConformance runs the RMM behaviour suite against the sandbox, on the
// classic endpoints (devices listed with ?detail=false: ids, site and name
// only) and on the beta API (every attribute in the list).
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name      string
		beta      bool
		listOmits []string
	}{
		{"classic", false, []string{"DisplayName", "DeviceType", "OS", "Manufacturer", "Model", "SerialNumber",
			"LastLoggedInUser", "LastCheckIn", "Volumes", "IPAddresses", "MACAddresses", "Offline"}},
		{"beta", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rmmtest.Run(t, rmmtest.Harness{
				Name:              "Tactical RMM (" + tc.name + ")",
				Capabilities:      specCapabilities(tc.beta),
				ListOmits:         tc.listOmits,
				OrganizationOmits: organizationOmits,
				DeviceOmits:       deviceOmits,
				SizeTolerance:     sizeTolerance,
				AuthFailureReason: "Invalid token",
				Open:              func(t rmmtest.T, f rmmtest.Fixture) *rmmtest.Env { return openConformance(t, f, tc.beta) },
			})
		})
	}
}

// specCapabilities are Spec's capabilities for the install: devices.snapshot
// needs the beta API (the betaApi setting).
func specCapabilities(beta bool) []rmmtest.Capability {
	var out []rmmtest.Capability
	for _, o := range Spec.Capabilities {
		if o.Capability != vendorspec.DevicesSnapshot || beta {
			out = append(out, rmmtest.Capability(o.Capability))
		}
	}
	return out
}

// fixtureOS writes a fixture OS as the agent's operating_system line.
func fixtureOS(d rmm.Device) (line, plat, monitoring string) {
	o := d.OS
	switch d.DeviceType {
	case rmm.DeviceMac:
		return o.Name + " " + o.Version + " " + o.Architecture + " " + o.Build, "darwin", "workstation"
	case rmm.DeviceLinux:
		return o.Name + " " + o.Version + " " + o.Architecture + " " + o.Build, "linux", "workstation"
	case rmm.DeviceServer:
		plat, monitoring = "windows", "server"
	default:
		plat, monitoring = "windows", "workstation"
	}
	arch := o.Architecture
	if arch == "64-bit" {
		arch = "64 bit"
	}
	return o.Name + ", " + arch + " v" + o.Version + " (build " + o.Build + ")", plat, monitoring
}

// sandboxAgent writes a fixture device as a Tactical agent.
func sandboxAgent(d rmm.Device, site int) sandbox.Agent {
	line, plat, mt := fixtureOS(d)
	a := sandbox.Agent{Site: site, Hostname: d.Name, Description: d.DisplayName, MonitoringType: mt, Plat: plat,
		OperatingSystem: line, Manufacturer: d.Manufacturer, Model: d.Model, Serial: d.SerialNumber,
		LastSeen: d.LastCheckIn, LoggedInUsername: d.LastLoggedInUser, LastLoggedInUser: d.LastLoggedInUser,
		LocalIPs: d.IPAddresses, MACs: d.MACAddresses, Offline: d.Offline, TotalRAM: 16}
	if d.Offline {
		a.LoggedInUsername = "None"
	}
	for _, v := range d.Volumes {
		a.Disks = append(a.Disks, sandbox.Disk{Device: v.Name, Fstype: "NTFS", Total: v.CapacityBytes, Free: v.FreeBytes})
	}
	return a
}

// sleeps records retry waits instead of sleeping.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

var testEpoch = time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)

func openConformance(t rmmtest.T, f rmmtest.Fixture, beta bool) *rmmtest.Env {
	t.Helper()
	sb := sandbox.New(sandbox.Options{Seed: 4, Clients: 4, Agents: 12, Epoch: testEpoch, BetaAPI: beta})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	env := &rmmtest.Env{}
	for _, o := range f.Organizations {
		id, sites, err := sb.AddClient(o.Name, o.Sites)
		if err != nil {
			t.Fatal(err)
		}
		env.OrganizationIDs = append(env.OrganizationIDs, strconv.Itoa(id))
		var ids []string
		for _, s := range sites {
			ids = append(ids, strconv.Itoa(s))
		}
		env.SiteIDs = append(env.SiteIDs, ids)
	}
	for _, fd := range f.Devices {
		site, _ := strconv.Atoi(env.SiteIDs[fd.Organization][fd.Site])
		id, err := sb.AddAgent(sandboxAgent(fd.Device, site))
		if err != nil {
			t.Fatal(err)
		}
		env.DeviceIDs = append(env.DeviceIDs, id)
	}
	const wrongKey = "qf-wrong-api-key"
	sl := &sleeps{}
	open := func(key string) *Client {
		c, err := New(Config{BaseURL: base, APIKey: key, BetaAPI: beta, PageSize: f.PageSize, AttemptTimeout: f.AttemptTimeout, Sleep: sl.Sleep}, nil)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return c
	}
	c, bad := open(sb.APIKey()), open(wrongKey)
	env.Client, env.BadCredentials = c, bad
	env.Secrets = []string{sb.APIKey(), wrongKey}
	env.Faults = rmmtest.Faults{Throttle: sb.ThrottleNext, Fail: sb.FailNext, Hang: sb.HangNext}
	env.Requests, env.BadRequests, env.Waits = c.Requests, bad.Requests, sl.Waits
	env.Webhook = func(device int, series string, triggered bool) []byte {
		tmpl, ev := sandbox.FailureBody, sandbox.AlertEvent{ID: series, AgentID: env.DeviceIDs[device], AlertType: "check",
			Severity: "error", Message: "Disk space check failing", CheckDesc: "Disk space check: Drive C:", AlertTime: testEpoch}
		if !triggered {
			tmpl, ev.ResolvedOn = sandbox.ResolvedBody, testEpoch.Add(time.Hour)
		}
		body, err := sb.Render(tmpl, ev)
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	// The Web Hook's Test button: an agent, no alert.
	test, err := sb.Render(sandbox.FailureBody, sandbox.AlertEvent{AgentID: env.DeviceIDs[0]})
	if err != nil {
		t.Fatal(err)
	}
	env.NonAlertWebhook = test
	return env
}
