package ninjaone

import (
	"context"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// TestSnapshotRequests: an organization's snapshot costs devices-detailed
// plus the volumes and logged-on-users reports (cursor-paged to the end),
// the computer-systems report only when a device came without its system
// block, and equals the per-device reads either way.
func TestSnapshotRequests(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 3, Orgs: 2, Devices: 60}, Config{ReportPageSize: 10})
	ctx := context.Background()
	org := strconv.Itoa(e.sb.Orgs()[0].ID)
	read := func() []rmm.Device {
		t.Helper()
		p, err := e.client.ListDeviceSnapshots(ctx, org, "")
		if err != nil {
			t.Fatal(err)
		}
		if p.NextCursor != "" {
			t.Fatalf("one page expected with the default page size")
		}
		return p.Devices
	}
	before := e.sb.Requests()
	devs := read()
	after := e.sb.Requests()
	delta := func(route string) int64 { return after[route] - before[route] }
	if len(devs) < 10 {
		t.Fatalf("only %d devices in the organization", len(devs))
	}
	if delta("GET /v2/devices-detailed") != 1 || delta("GET /v2/queries/volumes") < 2 || delta("GET /v2/queries/logged-on-users") < 1 ||
		delta("GET /v2/queries/computer-systems") != 0 {
		t.Errorf("requests: devices-detailed %d, volumes %d, logged-on-users %d, computer-systems %d; want 1, ≥2 (pages of 10), ≥1, 0",
			delta("GET /v2/devices-detailed"), delta("GET /v2/queries/volumes"), delta("GET /v2/queries/logged-on-users"), delta("GET /v2/queries/computer-systems"))
	}
	for _, d := range devs {
		live, err := e.client.GetDevice(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(live, d, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("device %s (-get +snapshot):\n%s", d.ID, diff)
		}
	}

	n, _ := strconv.Atoi(org)
	loc := e.sb.Orgs()[0].Locations[0].ID
	if _, err := e.sb.AddDevice(sandbox.Device{OrganizationID: n, LocationID: loc, NodeClass: "NMS_SWITCH", SystemName: "core-sw-1"}); err != nil {
		t.Fatal(err)
	}
	before = e.sb.Requests()
	read()
	after = e.sb.Requests()
	if delta("GET /v2/queries/computer-systems") < 1 {
		t.Errorf("a device without its system block: %d computer-systems report pages read, want the report", delta("GET /v2/queries/computer-systems"))
	}
}
