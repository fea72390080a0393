package sandbox

import (
	"math"
	"time"
)

// touchedFree is how much free space a touch takes from a device's first
// volume with a known capacity.
const touchedFree = 1 << 20

// TouchDevice makes device id look as if it had checked in again and
// written a little data: its last contact (and last update) moves to now,
// at least one second past the previous value, and the first volume with a
// known capacity loses 1 MiB of free space (a nearly full one gains it). Everything a PSA asset mirrors
// from the device's check-in changes; nothing else does. It reports
// whether the device exists.
func (s *Server) TouchDevice(id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.findDevice(id)
	if d == nil {
		return false
	}
	touch(d, time.Now())
	return true
}

// TouchDevices touches n devices (see TouchDevice) spread evenly over the
// id range — every len/n-th device, starting with the first — and returns
// their ids in ascending order. The choice depends only on n and the
// device list, so reruns touch the same devices. n is clipped to [0, the
// number of devices].
func (s *Server) TouchDevices(n int) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = max(0, min(n, len(s.devices)))
	ids := make([]int, 0, n)
	now := time.Now()
	for i := range n {
		d := s.devices[i*len(s.devices)/n]
		touch(d, now)
		ids = append(ids, d.ID)
	}
	return ids
}

func touch(d *Device, now time.Time) {
	at := math.Max(epochFloat(now), d.LastContact+1)
	d.LastContact, d.LastUpdate = at, math.Max(d.LastUpdate, at)
	for i := range d.Volumes {
		if v := &d.Volumes[i]; v.Capacity > 0 {
			if v.FreeSpace >= touchedFree {
				v.FreeSpace -= touchedFree
			} else {
				v.FreeSpace = min(v.Capacity, v.FreeSpace+touchedFree) // a nearly full disk was cleaned up
			}
			break
		}
	}
}
