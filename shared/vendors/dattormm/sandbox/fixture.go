package sandbox

import (
	"fmt"
	"strings"
	"time"
)

// Adding records by hand, beside the generated ones, for tests that need
// exact data (the conformance suite's fixture).

// AddSite adds a site and returns it with the id and uid it got. A name
// another site has (compared case-insensitively, spaces trimmed) is
// refused.
func (s *Server) AddSite(name, description string) (Site, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.TrimSpace(name)
	if name == "" {
		return Site{}, fmt.Errorf("add site: no name")
	}
	var maxID int64
	for _, st := range s.sites {
		if strings.EqualFold(strings.TrimSpace(st.Name), name) {
			return Site{}, fmt.Errorf("a site named %q exists already", st.Name)
		}
		maxID = max(maxID, st.ID)
	}
	st := &Site{ID: maxID + 1, UID: uid(s.rng), Name: name, Description: description}
	s.sites = append(s.sites, st)
	return *st, nil
}

// AddDevice adds d to its SiteUID, which must exist, giving it the next id
// and a uid (unless set), and returns the uid.
func (s *Server) AddDevice(d Device) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.findSite(d.SiteUID) == nil {
		return "", fmt.Errorf("add device %q: no site %s", d.Hostname, d.SiteUID)
	}
	var maxID int64
	for _, x := range s.devices {
		maxID = max(maxID, x.ID)
	}
	d.ID = maxID + 1
	if d.UID == "" {
		d.UID = uid(s.rng)
	}
	if d.DeviceClass == "" {
		d.DeviceClass = "device"
	}
	if d.UDF == nil {
		d.UDF = map[string]string{}
	}
	s.devices = append(s.devices, &d)
	return d.UID, nil
}

// Sites returns a copy of the sites.
func (s *Server) Sites() []Site {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Site, len(s.sites))
	for i, st := range s.sites {
		out[i] = *st
	}
	return out
}

// Devices returns a copy of the devices with their audits.
func (s *Server) Devices() []Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Device, len(s.devices))
	for i, d := range s.devices {
		out[i] = *d
		out[i].UDF = cloneUDF(d.UDF)
	}
	return out
}

// Alerts returns a copy of the alerts (open and resolved).
func (s *Server) Alerts() []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Alert, len(s.alerts))
	for i, a := range s.alerts {
		out[i] = *a
	}
	return out
}

// TouchDevices makes n devices, spread evenly over the list, look as if
// they had checked in again (last seen moves to now, at least a second
// past the previous value; the first disk loses 1 MiB of free space) and
// returns their uids.
func (s *Server) TouchDevices(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = max(0, min(n, len(s.devices)))
	now := time.Now().UTC()
	var out []string
	for i := range n {
		d := s.devices[i*len(s.devices)/n]
		d.LastSeen = maxTime(now, d.LastSeen.Add(time.Second))
		for j := range d.Audit.LogicalDisks {
			if ld := &d.Audit.LogicalDisks[j]; ld.Size > 0 {
				if ld.Freespace >= 1<<20 {
					ld.Freespace -= 1 << 20
				} else {
					ld.Freespace = min(ld.Size, ld.Freespace+1<<20)
				}
				break
			}
		}
		out = append(out, d.UID)
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
