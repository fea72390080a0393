package sandbox

import (
	"fmt"
	"slices"
	"testing"
)

// TestTouchDevices: touched devices answer a later last contact and less
// free space on their first sized volume; untouched ones are unchanged;
// the choice is spread over the ids and the same on every run.
func TestTouchDevices(t *testing.T) {
	s, base := start(t, Options{Seed: 3, Orgs: 4, Devices: 50})
	before := map[int]Device{}
	for _, d := range s.Devices() {
		before[d.ID] = d
	}
	ids := s.TouchDevices(5)
	if len(ids) != 5 || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != 5 {
		t.Fatalf("TouchDevices(5) = %v; want 5 distinct ascending ids", ids)
	}
	if again := New(Options{Seed: 3, Orgs: 4, Devices: 50}).TouchDevices(5); !slices.Equal(again, ids) {
		t.Errorf("a second sandbox with the same seed touched %v, not %v", again, ids)
	}
	touched := map[int]bool{}
	for _, id := range ids {
		touched[id] = true
	}
	for _, d := range s.Devices() {
		old := before[d.ID]
		if !touched[d.ID] {
			if d.LastContact != old.LastContact || fmt.Sprint(d.Volumes) != fmt.Sprint(old.Volumes) {
				t.Errorf("untouched device %d changed", d.ID)
			}
			continue
		}
		if d.LastContact < old.LastContact+1 {
			t.Errorf("device %d last contact %v → %v; want at least a second later", d.ID, old.LastContact, d.LastContact)
		}
		for i, v := range d.Volumes {
			if v.Capacity > 0 {
				if v.FreeSpace == old.Volumes[i].FreeSpace {
					t.Errorf("device %d volume %s free space unchanged", d.ID, v.Name)
				}
				break
			}
		}
	}

	// The API answers the new values.
	var got Device
	call(t, "GET", fmt.Sprintf("%s/v2/device/%d", base, ids[0]), accessToken(t, base, "monitoring"), "").json(t, &got)
	if want := s.Devices(); got.LastContact != want[slices.IndexFunc(want, func(d Device) bool { return d.ID == ids[0] })].LastContact {
		t.Errorf("GET /v2/device/%d lastContact = %v; want the touched value", ids[0], got.LastContact)
	}

	if s.TouchDevice(-1) {
		t.Error("TouchDevice(-1) = true for a device that does not exist")
	}
	if !s.TouchDevice(ids[1]) {
		t.Errorf("TouchDevice(%d) = false for an existing device", ids[1])
	}
	if n := len(s.TouchDevices(500)); n != 50 {
		t.Errorf("TouchDevices(500) touched %d devices; want all 50", n)
	}
}
