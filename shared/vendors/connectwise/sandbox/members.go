package sandbox

import (
	"fmt"
	"strings"
)

// Member changes the way an MSP's PSA changes between imports of its
// technicians (the re-import tests): a member made inactive, renamed, or
// hired.

// SetMemberInactive marks the member with identifier inactive (or active).
func (s *Server) SetMemberInactive(identifier string, inactive bool) error {
	return s.changeMember(identifier, func(m map[string]any) { m["inactiveFlag"] = inactive })
}

// RenameMember changes a member's names and email address.
func (s *Server) RenameMember(identifier, first, last, email string) error {
	return s.changeMember(identifier, func(m map[string]any) {
		m["firstName"], m["lastName"], m["primaryEmail"], m["officeEmail"] = first, last, email, email
	})
}

// AddMember hires a technician with the given security role and returns
// its id.
func (s *Server) AddMember(identifier, first, last, email, role string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opt.Now()
	rec := map[string]any{
		"identifier": identifier, "firstName": first, "lastName": last, "title": "Technician",
		"primaryEmail": email, "officeEmail": email, "officePhone": "", "inactiveFlag": false,
		"licenseClass": "F", "defaultEmail": "Office",
		"securityRole": map[string]any{"id": float64(securityRoles[role]), "name": role},
	}
	touch(rec, now, DefaultAPIMember)
	return s.members.add(rec)
}

func (s *Server) changeMember(identifier string, change func(map[string]any)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.members.items {
		if strings.EqualFold(strOf(m["identifier"]), identifier) {
			change(m)
			touch(m, s.opt.Now(), DefaultAPIMember)
			return nil
		}
	}
	return fmt.Errorf("no member %s", identifier)
}
