package sandbox

import (
	"fmt"
	"strings"
)

// Adding records by hand, beside the generated ones, for tests that need
// exact data (the conformance suite's fixture).

// AddOrganization adds an organization with a location per site name
// and returns it with the ids it got.
func (s *Server) AddOrganization(name, description string, sites []string) (Organization, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.TrimSpace(name)
	if name == "" {
		return Organization{}, fmt.Errorf("add organization: no name")
	}
	s.nextOrg++
	o := &Organization{ID: s.nextOrg, Name: name, Description: description, NodeApprovalMode: "AUTOMATIC",
		Tags: []string{}, Fields: map[string]any{}, Policies: []PolicyRef{}}
	for _, site := range sites {
		s.nextLoc++
		o.Locations = append(o.Locations, Location{ID: s.nextLoc, Name: site, OrganizationID: o.ID, Tags: []string{}, Fields: map[string]any{}})
	}
	s.orgs = append(s.orgs, o)
	return copyOrg(o), nil
}

// AddDevice adds d (its ID is assigned: one more than the highest) to its
// OrganizationID and LocationID, which must exist, and returns the id.
// Volumes and LastLoggedUser are served by their own endpoints, as for
// generated devices.
func (s *Server) AddDevice(d Device) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.findOrg(d.OrganizationID)
	if o == nil {
		return 0, fmt.Errorf("add device %q: no organization %d", d.SystemName, d.OrganizationID)
	}
	found := false
	for _, l := range o.Locations {
		found = found || l.ID == d.LocationID
	}
	if !found {
		return 0, fmt.Errorf("add device %q: organization %d has no location %d", d.SystemName, d.OrganizationID, d.LocationID)
	}
	d.ID = 1
	if n := len(s.devices); n > 0 {
		d.ID = s.devices[n-1].ID + 1
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	if d.Fields == nil {
		d.Fields = map[string]any{}
	}
	if d.ApprovalStatus == "" {
		d.ApprovalStatus = "APPROVED"
	}
	if d.DeviceType == "" {
		d.DeviceType = "AGENT"
	}
	s.devices = append(s.devices, &d)
	return d.ID, nil
}
