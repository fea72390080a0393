package sandbox

import (
	"fmt"
	"strings"
	"time"
)

// Adding records by hand, beside the seeded ones, for tests that need
// exact data (the conformance suite's fixture: more records than one page,
// given statuses and types, shared and placeholder serial numbers).

// NewCompany is a company to add.
type NewCompany struct {
	Name string
	// Identifier defaults to one derived from Name (unique).
	Identifier string
	// Status and Type are names of existing company statuses and types
	// (default: the default status, no type).
	Status, Type string
	// RMMReference is the value of the CompanyRefFieldID custom field
	// (rmmbridge's RMM organization id); "" leaves it unset.
	RMMReference string
	// Sites are added besides the primary site "Main".
	Sites []string
	// EnteredAt is _info/dateEntered (default: the seed epoch).
	EnteredAt time.Time
}

// AddCompany adds a company and returns its id.
func (s *Server) AddCompany(c NewCompany) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := companySpec{name: strings.TrimSpace(c.Name), identifier: c.Identifier, siteName: "Main", extra: map[string]string{}, at: c.EnteredAt, by: "zadmin"}
	if sp.name == "" {
		return 0, fmt.Errorf("add company: no name")
	}
	if sp.at.IsZero() {
		sp.at = seedEpoch
	}
	if sp.identifier == "" {
		taken := map[string]bool{}
		for _, co := range s.companies.items {
			taken[strings.ToUpper(strOf(co["identifier"]))] = true
		}
		sp.identifier = identifierFor(sp.name, taken)
	}
	sp.status = defaultOf(s.companyStatuses.items)
	if c.Status != "" {
		st, ok := findRef(s.companyStatuses, map[string]any{"name": c.Status}, "name")
		if !ok {
			return 0, fmt.Errorf("add company %q: no company status %q", c.Name, c.Status)
		}
		sp.status = st
	}
	if c.Type != "" {
		ty, ok := findRef(s.companyTypes, map[string]any{"name": c.Type}, "name")
		if !ok {
			return 0, fmt.Errorf("add company %q: no company type %q", c.Name, c.Type)
		}
		sp.types = []map[string]any{ty}
	}
	if c.RMMReference != "" {
		sp.fields = map[int]any{CompanyRefFieldID: c.RMMReference}
	}
	id := s.insertCompany(sp)
	for _, site := range c.Sites {
		s.insertSite(id, site, false, map[string]string{}, sp.at, sp.by)
	}
	return id, nil
}

// NewMember is a member (technician) to add.
type NewMember struct {
	Identifier, FirstName, LastName, Email string
	Inactive                               bool
	// Role is the member's security role (one of the sandbox's: Admin,
	// Technician, Dispatcher); empty: none.
	Role string
}

// AddMember adds a member and returns its id.
func (s *Server) AddMember(m NewMember) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := normalize(map[string]any{
		"identifier": m.Identifier, "firstName": m.FirstName, "lastName": m.LastName, "title": "Technician",
		"primaryEmail": m.Email, "officeEmail": m.Email, "officePhone": "",
		"inactiveFlag": m.Inactive, "licenseClass": "F", "defaultEmail": "Office",
	})
	if id, ok := securityRoles[m.Role]; ok {
		rec["securityRole"] = normalize(map[string]any{"id": id, "name": m.Role})
	}
	rec["_info"] = normalize(info(seedEpoch, "zadmin"))
	return s.members.add(rec)
}

// NewConfiguration is a configuration to add.
type NewConfiguration struct {
	CompanyID int
	Name      string
	// Type is a configuration type name (default "Workstation").
	Type                           string
	DeviceIdentifier, SerialNumber string
}

// AddConfiguration adds an active configuration at the company's primary
// site and returns its id.
func (s *Server) AddConfiguration(c NewConfiguration) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	co, ok := s.companies.get(c.CompanyID)
	if !ok {
		return 0, fmt.Errorf("add configuration %q: no company %d", c.Name, c.CompanyID)
	}
	if c.Type == "" {
		c.Type = "Workstation"
	}
	typ, ok := findRef(s.configTypes, map[string]any{"name": c.Type}, "name")
	if !ok {
		return 0, fmt.Errorf("add configuration %q: no configuration type %q", c.Name, c.Type)
	}
	return s.configs.add(s.configRecord(configSpec{
		name: c.Name, typ: typ, status: defaultOf(s.configStatuses.items), company: co, site: s.mainSite(c.CompanyID),
		deviceIdentifier: c.DeviceIdentifier, serial: c.SerialNumber, active: true,
		strs: map[string]string{}, at: seedEpoch, by: "zadmin",
	})), nil
}
