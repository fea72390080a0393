package tacticalrmm

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendors/tacticalrmm/sandbox"
)

// TestDeviceMaintenance: an agent's maintenance_mode becomes
// rmm.Device.Maintenance (true or false, never nil: Tactical always
// reports it), through the agent detail (GetDevice, which the alert
// policy reads) and, with the beta API, the device list and snapshots
// (the classic list is the thin ?detail=false rows), so the policy's
// skipMaintenance applies to Tactical; an agent body without the field
// leaves it nil.
func TestDeviceMaintenance(t *testing.T) {
	ctx := context.Background()
	for _, beta := range []bool{false, true} {
		t.Run("beta="+strconv.FormatBool(beta), func(t *testing.T) {
			sb, c := newEnv(t, sandbox.Options{Seed: 3, Clients: 1, Agents: 0, BetaAPI: beta}, Config{BetaAPI: beta})
			site := sb.Sites()[0].ID
			want := map[string]bool{}
			for i, in := range []bool{true, false, true} {
				id, err := sb.AddAgent(sandbox.Agent{Site: site, Hostname: "HOST-" + strconv.Itoa(i), Plat: "windows", MonitoringType: "workstation",
					MaintenanceMode: in, LastSeen: time.Now().UTC().Truncate(time.Microsecond)})
				if err != nil {
					t.Fatal(err)
				}
				want[id] = in
			}
			check := func(how string, d rmm.Device) {
				t.Helper()
				w, ok := want[d.ID]
				if !ok {
					return
				}
				if d.Maintenance == nil || *d.Maintenance != w {
					t.Errorf("%s of %s: Maintenance %v, want %v", how, d.ID, show(d.Maintenance), w)
				}
			}
			for id := range want {
				d, err := c.GetDevice(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				check("GetDevice", d)
			}
			if !beta {
				return
			}
			org := strconv.Itoa(sb.Clients()[0].ID)
			seen := 0
			for cur := ""; ; {
				p, err := c.ListDevices(ctx, org, cur)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range p.Devices {
					if _, ok := want[d.ID]; ok {
						seen++
					}
					check("ListDevices", d)
				}
				if cur = p.NextCursor; cur == "" {
					break
				}
			}
			p, err := c.ListDeviceSnapshots(ctx, org, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range p.Devices {
				check("ListDeviceSnapshots", d)
			}
			if seen != len(want) {
				t.Errorf("ListDevices listed %d of the %d agents", seen, len(want))
			}
		})
	}
	if d := toDevice(apiAgent{AgentID: "x", Status: "online"}, "1"); d.Maintenance != nil {
		t.Errorf("an agent without maintenance_mode: Maintenance %v, want nil", *d.Maintenance)
	}
}

func show(b *bool) string {
	if b == nil {
		return "nil"
	}
	return strconv.FormatBool(*b)
}
