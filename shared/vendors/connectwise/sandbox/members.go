package sandbox

import (
	"fmt"
	"strings"
)

// Member changes the way an MSP's PSA changes between imports of its
// technicians (the re-import tests): a member made inactive or renamed
// (AddMember hires one).

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
