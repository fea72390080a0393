package sandbox

import "slices"

// Snapshots of the sandbox's data for test assertions.

// Company is a company as the sandbox holds it.
type Company struct {
	ID         int
	Identifier string
	Name       string
	Status     string
	Types      []string
	Deleted    bool
	// CustomFields holds the set custom field values by id, as text.
	CustomFields map[int]string
	Sites        []string
}

// Configuration is a configuration as the sandbox holds it.
type Configuration struct {
	ID               int
	CompanyID        int
	SiteID           int
	Name             string
	Type             string
	DeviceIdentifier string
	SerialNumber     string
	Active           bool
}

// Ticket is a ticket with its notes and attached configurations.
type Ticket struct {
	ID               int
	CompanyID        int
	BoardID          int
	Summary          string
	Status           string
	Priority         string
	Type             string
	ExternalXRef     string
	Closed           bool
	EnteredBy        string
	ConfigurationIDs []int
	Notes            []Note
}

// Note is a ticket note.
type Note struct {
	ID         int
	Text       string
	CreatedBy  string
	Internal   bool
	Resolution bool
}

// Companies returns every company in id order.
func (s *Server) Companies() []Company {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Company, 0, len(s.companies.items))
	for _, rec := range s.companies.items {
		c := Company{
			ID: intOf(rec["id"]), Identifier: strOf(rec["identifier"]), Name: strOf(rec["name"]),
			Status: strOf(objOf(rec["status"])["name"]), Deleted: boolOf(rec["deletedFlag"]),
			CustomFields: map[int]string{},
		}
		for _, t := range rec["types"].([]any) {
			c.Types = append(c.Types, strOf(objOf(t)["name"]))
		}
		for _, f := range rec["customFields"].([]any) {
			if m := objOf(f); m["value"] != nil {
				c.CustomFields[intOf(m["id"])] = strOf(m["value"])
			}
		}
		for _, site := range s.sites.items {
			if intOf(objOf(site["company"])["id"]) == c.ID {
				c.Sites = append(c.Sites, strOf(site["name"]))
			}
		}
		out = append(out, c)
	}
	return out
}

// Configurations returns every configuration in id order.
func (s *Server) Configurations() []Configuration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Configuration, 0, len(s.configs.items))
	for _, rec := range s.configs.items {
		out = append(out, Configuration{
			ID: intOf(rec["id"]), CompanyID: intOf(objOf(rec["company"])["id"]), SiteID: intOf(objOf(rec["site"])["id"]),
			Name: strOf(rec["name"]), Type: strOf(objOf(rec["type"])["name"]),
			DeviceIdentifier: strOf(rec["deviceIdentifier"]), SerialNumber: strOf(rec["serialNumber"]),
			Active: boolOf(rec["activeFlag"]),
		})
	}
	return out
}

// Tickets returns every ticket in id order.
func (s *Server) Tickets() []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Ticket, 0, len(s.tickets.items))
	for _, rec := range s.tickets.items {
		t := Ticket{
			ID: intOf(rec["id"]), CompanyID: intOf(objOf(rec["company"])["id"]), BoardID: intOf(objOf(rec["board"])["id"]),
			Summary: strOf(rec["summary"]), Status: strOf(objOf(rec["status"])["name"]),
			Priority: strOf(objOf(rec["priority"])["name"]), Type: strOf(objOf(rec["type"])["name"]), ExternalXRef: strOf(rec["externalXRef"]),
			Closed: boolOf(rec["closedFlag"]), EnteredBy: strOf(objOf(rec["_info"])["enteredBy"]),
			ConfigurationIDs: slices.Clone(s.ticketConfigs[intOf(rec["id"])]),
		}
		for _, n := range s.notes.items {
			if intOf(n["ticketId"]) == t.ID {
				t.Notes = append(t.Notes, Note{ID: intOf(n["id"]), Text: strOf(n["text"]), CreatedBy: strOf(n["createdBy"]),
					Internal: boolOf(n["internalAnalysisFlag"]), Resolution: boolOf(n["resolutionFlag"])})
			}
		}
		out = append(out, t)
	}
	return out
}
