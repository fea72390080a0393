package sandbox

import (
	"fmt"
	"slices"
	"strings"
	"time"

	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

// Summary counts what the sandbox was seeded with.
type Summary struct {
	Orgs               int `json:"orgs"`
	Companies          int `json:"companies"`
	Locations          int `json:"locations"`
	ConfigurationItems int `json:"configurationItems"`
	Resources          int `json:"resources"`
	// How organizations and devices relate, as in the ConnectWise sandbox.
	Relations cwsandbox.Summary `json:"relations"`
}

// Seed returns the seeding summary.
func (s *Server) Seed() Summary { return s.seedCounts }

// Orgs returns the organization names the companies relate to.
func (s *Server) Orgs() []string { return slices.Clone(s.orgs) }

// Truth returns, per organization name, the ids of the companies that are
// that organization (none, one, or a near-duplicate pair).
func (s *Server) Truth() map[string][]int { return cloneIDs(s.truth) }

// LookAlikes returns, per organization name, the ids of companies that
// resemble it but are other customers and must not match.
func (s *Server) LookAlikes() map[string][]int { return cloneIDs(s.lookAlikes) }

// AssetTruth returns, per RMM device id, the configuration items that are
// that device (by our device reference or by serial number).
func (s *Server) AssetTruth() map[string][]int { return cloneIDs(s.assetTruth) }

func cloneIDs(m map[string][]int) map[string][]int {
	out := make(map[string][]int, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// seedResources: user name, first, last, email, user type label, active.
var seedResources = [][6]string{
	{"jsmith", "John", "Smith", "jsmith@msp.example", "Administrator", "active"},
	{"mgarcia", "Maria", "Garcia", "mgarcia@msp.example", "Technician", "active"},
	{"akim", "Alex", "Kim", "akim@msp.example", "Technician", "active"},
	{"pwilliams", "Priya", "Williams", "pwilliams@msp.example", "Dispatcher", "active"},
	{"tnguyen", "Tom", "Nguyen", "tnguyen@msp.example", "Technician", "inactive"},
	{"slee", "Sam", "Lee", "", "Technician", "active"},                            // no email
	{"helpdesk", "Help", "Desk", "helpdesk@msp.example", "Full Access", "active"}, // shares an address
	{"helpdesk2", "Help", "Desk Night", "helpdesk@msp.example", "Technician", "active"},
}

// ciTypeOf maps the ConnectWise sandbox's configuration types to CI types.
var ciTypeOf = map[string]float64{"Workstation": 1, "Server": 2, "Network Device": 3, "Mobile Device": 4, "Printer": 5, "Other": 6}

// companyTypeOf maps the ConnectWise sandbox's company types.
var companyTypeOf = map[string]float64{"Client": 1, "Prospect": 3, "Vendor": 7, "Partner": 8}

// seed fills the entities. The companies, locations and configuration
// items are the ConnectWise sandbox's for the same options, so that both
// PSAs relate to the RMM's organizations through the same table and a
// matching test's expected outcomes hold for either (the ids differ).
func (s *Server) seed() {
	s.ents = newEntities()
	for _, r := range s.opt.Require {
		ent, name, _ := strings.Cut(r, ".")
		if e := s.ents[strings.ToLower(ent)]; e != nil {
			if f := e.field(name); f != nil {
				f.Required = true
			}
		}
	}
	for _, r := range s.opt.ReadOnly {
		ent, name, _ := strings.Cut(r, ".")
		if e := s.ents[strings.ToLower(ent)]; e != nil {
			if f := e.field(name); f != nil {
				f.ReadOnly = true
			}
		}
	}
	s.truth, s.lookAlikes, s.assetTruth = map[string][]int{}, map[string][]int{}, map[string][]int{}
	const epoch = "2024-03-01T09:00:00.000Z"

	res := s.ents["resources"]
	rt := res.field("userType")
	label := func(l string) float64 { v, _ := rt.pickValue(l); return v }
	s.apiResource = res.insert(map[string]any{"firstName": "rmmbridge", "lastName": "API", "email": s.opt.Username,
		"userName": s.opt.Username, "isActive": true, "userType": label("API User (system)"), "title": "API user", "licenseType": float64(7)})
	s.users[strings.ToLower(s.opt.Username)] = apiUser{secret: s.opt.Secret, resource: s.apiResource}
	owner := 0
	for _, r := range seedResources {
		var email any
		if r[3] != "" {
			email = r[3]
		}
		id := res.insert(map[string]any{"firstName": r[1], "lastName": r[2], "email": email, "userName": r[0],
			"isActive": r[5] == "active", "userType": label(r[4]), "title": r[4], "licenseType": float64(1)})
		if owner == 0 {
			owner = id
		}
	}

	cwDevices := make([]cwsandbox.Device, len(s.opt.Devices))
	for i, d := range s.opt.Devices {
		cwDevices[i] = cwsandbox.Device(d)
	}
	cw := cwsandbox.New(cwsandbox.Options{Seed: s.opt.Seed, Orgs: s.opt.Orgs, OrgCount: s.opt.OrgCount, OrgSites: s.opt.OrgSites,
		Devices: cwDevices, DeviceCount: s.opt.DeviceCount})
	companies, locs, cis := s.ents["companies"], s.ents["companylocations"], s.ents["configurationitems"]
	idOf, primary := map[int]int{}, map[int]int{}
	for _, co := range cw.Companies() {
		ty := companyTypeOf["Client"]
		if len(co.Types) > 0 {
			if t, ok := companyTypeOf[co.Types[0]]; ok {
				ty = t
			}
		}
		id := companies.insert(map[string]any{"companyName": co.Name, "companyNumber": co.Identifier, "companyType": ty,
			"isActive": co.Status != "Inactive", "ownerResourceID": float64(owner), "createDate": epoch,
			"lastActivityDate": epoch, "lastTrackedModifiedDateTime": epoch, "createdByResourceID": float64(owner)})
		idOf[co.ID] = id
		for i, site := range co.Sites {
			lid := locs.insert(map[string]any{"companyID": float64(id), "name": site, "isActive": true, "isPrimary": i == 0})
			if i == 0 {
				primary[id] = lid
			}
		}
	}
	for _, cf := range cw.Configurations() {
		co := idOf[cf.CompanyID]
		product := float64(101)
		if cf.Type == "Server" {
			product = 102
		}
		rec := map[string]any{"companyID": float64(co), "companyLocationID": float64(primary[co]), "configurationItemType": ciTypeOf[cf.Type],
			"productID": product, "isActive": cf.Active, "referenceTitle": cf.Name, "serialNumber": nilIfEmpty(cf.SerialNumber),
			"createDate": epoch, "lastModifiedTime": epoch, "_udf": map[string]string{}}
		if cf.DeviceIdentifier != "" {
			rec["_udf"].(map[string]string)[DeviceRefUDF] = cf.DeviceIdentifier
		}
		cis.insert(rec)
	}
	cfgID := map[int]int{}
	for i, cf := range cw.Configurations() {
		cfgID[cf.ID] = cis.ids[i]
	}
	mapIDs := func(in map[string][]int, of map[int]int) map[string][]int {
		out := map[string][]int{}
		for k, ids := range in {
			for _, id := range ids {
				out[k] = append(out[k], of[id])
			}
		}
		return out
	}
	s.truth, s.lookAlikes, s.assetTruth = mapIDs(cw.Truth(), idOf), mapIDs(cw.LookAlikes(), idOf), mapIDs(cw.AssetTruth(), cfgID)
	s.orgs = cw.Orgs()
	s.seedCounts = Summary{Orgs: len(s.orgs), Companies: len(companies.ids), Locations: len(locs.ids),
		ConfigurationItems: len(cis.ids), Resources: len(res.ids), Relations: cw.Seed()}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Snapshots and hand-added records, for tests.

// Company is a company as the sandbox holds it.
type Company struct {
	ID           int
	Name         string
	Type         string
	Active       bool
	RMMReference string
	Locations    []string
}

// ConfigurationItem is a CI as the sandbox holds it.
type ConfigurationItem struct {
	ID, CompanyID, LocationID int
	Title, Serial, DeviceRef  string
	Type                      string
	Active                    bool
}

// Companies returns every company in id order.
func (s *Server) Companies() []Company {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, locs := s.ents["companies"], s.ents["companylocations"]
	var out []Company
	for _, id := range e.ids {
		rec := e.recs[id]
		ty, _ := e.field("companyType").pickLabel(rec["companyType"])
		c := Company{ID: id, Name: valueString(rec["companyName"]), Type: ty, Active: rec["isActive"] == true,
			RMMReference: rec["_udf"].(map[string]string)[CompanyRefUDF]}
		for _, lid := range locs.ids {
			if l := locs.recs[lid]; compare(l["companyID"], float64(id)) == 0 {
				c.Locations = append(c.Locations, valueString(l["name"]))
			}
		}
		out = append(out, c)
	}
	return out
}

// ConfigurationItems returns every CI in id order.
func (s *Server) ConfigurationItems() []ConfigurationItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.ents["configurationitems"]
	var out []ConfigurationItem
	for _, id := range e.ids {
		rec := e.recs[id]
		ty, _ := e.field("configurationItemType").pickLabel(rec["configurationItemType"])
		cid, _ := num(rec["companyID"])
		lid, _ := num(rec["companyLocationID"])
		out = append(out, ConfigurationItem{ID: id, CompanyID: int(cid), LocationID: int(lid), Title: valueString(rec["referenceTitle"]),
			Serial: valueString(rec["serialNumber"]), DeviceRef: rec["_udf"].(map[string]string)[DeviceRefUDF], Type: ty, Active: rec["isActive"] == true})
	}
	return out
}

// Record returns a copy of one record of an entity ("Tickets") as the API
// shows it, or nil.
func (s *Server) Record(entity string, id int) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.ents[strings.ToLower(entity)]
	if e == nil || e.recs[id] == nil {
		return nil
	}
	return e.render(e.recs[id], nil)
}

// Ticket is a ticket as the sandbox holds it, for end-to-end assertions.
type Ticket struct {
	ID, CompanyID, ConfigurationItemID int
	Title, Status, ExternalID          string
	// Closed is true on the Complete status.
	Closed bool
	// Created is the ticket's createDate (zero when it has none).
	Created time.Time
}

// Tickets returns every ticket in id order.
func (s *Server) Tickets() []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.ents["tickets"]
	var out []Ticket
	for _, id := range e.ids {
		rec := e.recs[id]
		st, _ := e.field("status").pickLabel(rec["status"])
		cid, _ := num(rec["companyID"])
		ci, _ := num(rec["configurationItemID"])
		created, _ := time.Parse(time.RFC3339Nano, valueString(rec["createDate"]))
		out = append(out, Ticket{ID: id, CompanyID: int(cid), ConfigurationItemID: int(ci), Title: valueString(rec["title"]),
			Status: st, ExternalID: valueString(rec["externalID"]), Closed: st == "Complete", Created: created})
	}
	return out
}

// TicketNote is a ticket note as the sandbox holds it.
type TicketNote struct {
	ID, TicketID, Creator int
	Title, Text           string
	Publish               int
}

// TicketNotes returns every ticket note in id order.
func (s *Server) TicketNotes() []TicketNote {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.ents["ticketnotes"]
	var out []TicketNote
	for _, id := range e.ids {
		rec := e.recs[id]
		t, _ := num(rec["ticketID"])
		c, _ := num(rec["creatorResourceID"])
		p, _ := num(rec["publish"])
		out = append(out, TicketNote{ID: id, TicketID: int(t), Creator: int(c), Title: valueString(rec["title"]), Text: valueString(rec["description"]), Publish: int(p)})
	}
	return out
}

// NewCompany is a company to add.
type NewCompany struct {
	Name string
	// Type is a company type label (default Customer); Inactive clears
	// isActive.
	Type     string
	Inactive bool
	// RMMReference is the CompanyRefUDF value ("" leaves it unset).
	RMMReference string
	// Locations are added, the first as primary (default one "Main").
	Locations []string
	// CreateDate defaults to the seed epoch (RFC 3339).
	CreateDate string
}

// AddCompany adds a company with its locations and returns its id.
func (s *Server) AddCompany(c NewCompany) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.TrimSpace(c.Name) == "" {
		return 0, fmt.Errorf("add company: no name")
	}
	e := s.ents["companies"]
	ty := float64(1)
	if c.Type != "" {
		v, ok := e.field("companyType").pickValue(c.Type)
		if !ok {
			return 0, fmt.Errorf("add company %q: no company type %q", c.Name, c.Type)
		}
		ty = v
	}
	at := c.CreateDate
	if at == "" {
		at = "2024-03-01T09:00:00.000Z"
	}
	udf := map[string]string{}
	if c.RMMReference != "" {
		udf[CompanyRefUDF] = c.RMMReference
	}
	owner := s.ents["resources"].ids[1]
	id := e.insert(map[string]any{"companyName": c.Name, "companyType": ty, "isActive": !c.Inactive, "ownerResourceID": float64(owner),
		"createDate": at, "lastActivityDate": at, "lastTrackedModifiedDateTime": at, "createdByResourceID": float64(owner), "_udf": udf})
	locs := c.Locations
	if len(locs) == 0 {
		locs = []string{"Main"}
	}
	for i, name := range locs {
		s.ents["companylocations"].insert(map[string]any{"companyID": float64(id), "name": name, "isActive": true, "isPrimary": i == 0})
	}
	return id, nil
}

// NewConfigurationItem is a CI to add.
type NewConfigurationItem struct {
	CompanyID int
	Title     string
	DeviceRef string
	Serial    string
	Inactive  bool
	// OS is the audit operating system (as an RMM integration writes it,
	// read-only or not).
	OS string
}

// AddConfigurationItem adds a workstation CI and returns its id.
func (s *Server) AddConfigurationItem(c NewConfigurationItem) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ents["companies"].recs[c.CompanyID]; !ok {
		return 0, fmt.Errorf("add configuration item: no company %d", c.CompanyID)
	}
	udf := map[string]string{}
	if c.DeviceRef != "" {
		udf[DeviceRefUDF] = c.DeviceRef
	}
	return s.ents["configurationitems"].insert(map[string]any{"companyID": float64(c.CompanyID), "configurationItemType": float64(1),
		"productID": float64(DefaultProductID), "isActive": !c.Inactive, "referenceTitle": c.Title, "serialNumber": nilIfEmpty(c.Serial),
		"rmmDeviceAuditOperatingSystem": nilIfEmpty(c.OS), "createDate": "2024-03-01T09:00:00.000Z", "_udf": udf}), nil
}

// NewResource is a resource (technician) to add.
type NewResource struct {
	UserName, FirstName, LastName, Email string
	Inactive                             bool
	// SecurityLevel is the userType picklist's label (Administrator,
	// Dispatcher, Technician, Full Access, API User (system)); empty or
	// unknown is Technician.
	SecurityLevel string
}

// AddResource adds a resource (a technician unless SecurityLevel says
// otherwise) and returns its id.
func (s *Server) AddResource(r NewResource) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.ents["resources"]
	level, ok := res.field("userType").pickValue(r.SecurityLevel)
	if !ok {
		r.SecurityLevel = "Technician"
		level, _ = res.field("userType").pickValue(r.SecurityLevel)
	}
	return res.insert(map[string]any{"firstName": r.FirstName, "lastName": r.LastName, "email": nilIfEmpty(r.Email),
		"userName": r.UserName, "isActive": !r.Inactive, "userType": level, "title": r.SecurityLevel, "licenseType": float64(1)})
}
