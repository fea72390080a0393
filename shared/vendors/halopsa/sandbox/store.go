package sandbox

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

// The sandbox's fixed ids: custom fields, asset-type fields, lookups and the
// integration's API agent.
const (
	// ClientRefFieldID is the client custom field ("CFrmmbridgeOrgId")
	// holding our RMM organization id.
	ClientRefFieldID   = 142
	ClientRefFieldName = "CFrmmbridgeOrgId"
	// TicketRefFieldID is the ticket custom field ("CFrmmbridgeSeries")
	// holding our alert series id.
	TicketRefFieldID   = 143
	TicketRefFieldName = "CFrmmbridgeSeries"

	// Asset-type fields (shared by every asset type in the sandbox).
	SerialFieldID       = 1
	OSFieldID           = 2
	LastUserFieldID     = 3
	ManufacturerFieldID = 4
	ModelFieldID        = 5
	IPFieldID           = 6
	MACFieldID          = 7
	CheckInFieldID      = 8
	VolumesFieldID      = 9

	// Asset types.
	WorkstationTypeID = 101
	ServerTypeID      = 102
	NetworkTypeID     = 104
	OtherTypeID       = 107

	// Ticket lookups.
	NewStatusID        = 1
	InProgressStatusID = 2
	ClosedStatusID     = 9
	IncidentTypeID     = 1
	AlertTypeID        = 21
	MonitoringTeamID   = 2
	MonitoringTeam     = "Monitoring"

	// APIAgentID is the API-only agent the default application runs as.
	APIAgentID = 99
)

type named struct {
	ID   int
	Name string
}

var (
	topLevels   = []named{{1, "Clients"}, {2, "Prospects"}, {3, "Vendors"}, {4, "Partners"}}
	assetTypes  = []named{{WorkstationTypeID, "Workstation"}, {ServerTypeID, "Server"}, {103, "Laptop"}, {NetworkTypeID, "Network Device"}, {105, "Mobile Device"}, {106, "Printer"}, {OtherTypeID, "Other"}}
	assetFields = []named{{SerialFieldID, "Serial Number"}, {OSFieldID, "Operating System"}, {LastUserFieldID, "Last Logged In User"},
		{ManufacturerFieldID, "Manufacturer"}, {ModelFieldID, "Model"}, {IPFieldID, "IP Address"}, {MACFieldID, "MAC Address"},
		{CheckInFieldID, "Last Seen"}, {VolumesFieldID, "Disks"}}
	statuses    = []named{{NewStatusID, "New"}, {InProgressStatusID, "In Progress"}, {3, "Waiting on Customer"}, {8, "Resolved"}, {ClosedStatusID, "Closed"}}
	ticketTypes = []named{{IncidentTypeID, "Incident"}, {2, "Problem"}, {3, "Service Request"}, {AlertTypeID, "Alert"}}
	priorities  = []named{{1, "Critical"}, {2, "High"}, {3, "Medium"}, {4, "Low"}}
	// customFields are the custom field definitions (GET /api/FieldInfo/{id}).
	customFields = []named{{ClientRefFieldID, ClientRefFieldName}, {TicketRefFieldID, TicketRefFieldName}}
	teams        = []named{{1, "1st Line Support"}, {MonitoringTeamID, MonitoringTeam}, {3, "Projects"}}
)

func nameOf(list []named, id int) (string, bool) {
	for _, n := range list {
		if n.ID == id {
			return n.Name, true
		}
	}
	return "", false
}

func idOf(list []named, name string) (int, bool) {
	for _, n := range list {
		if strings.EqualFold(n.Name, name) {
			return n.ID, true
		}
	}
	return 0, false
}

// Client is a client as the sandbox holds it.
type Client struct {
	ID         int
	Name       string
	TopLevelID int
	Inactive   bool
	// Ref is the ClientRefFieldID custom field.
	Ref         string
	DateCreated time.Time
}

// Site is a client's site.
type Site struct {
	ID, ClientID int
	Name         string
}

// Asset is an asset; Fields holds the asset-type field values by id.
type Asset struct {
	ID, ClientID, SiteID, TypeID int
	Tag                          string
	ThirdPartyID                 string
	Inactive                     bool
	Fields                       map[int]string
}

// Action is one action (note, status change) of a ticket; ID is numbered
// per ticket.
type Action struct {
	ID        int
	Outcome   string
	Note      string
	AgentID   int
	Hidden    bool
	NewStatus int
	At        time.Time
}

// Ticket is a ticket with its actions.
type Ticket struct {
	ID, ClientID, SiteID         int
	TypeID, StatusID, PriorityID int
	Team                         string
	Summary, Details             string
	AssetIDs                     []int
	Ref                          string
	AgentID                      int
	Actions                      []Action
	DateCreated                  time.Time
}

// Closed reports whether the ticket has the closed status (the demo
// settings' closedStatusId).
func (t Ticket) Closed() bool { return t.StatusID == ClosedStatusID }

// Notes returns the ticket's note actions (not the logging and status
// change ones), in order.
func (t Ticket) Notes() []Action {
	var out []Action
	for _, a := range t.Actions {
		if a.Outcome != "Logged" && a.Outcome != "Status Change" && a.Note != "" {
			out = append(out, a)
		}
	}
	return out
}

// Agent is an agent (technician), or an API-only agent.
type Agent struct {
	ID                 int
	First, Last, Email string
	Role               string
	Inactive, APIOnly  bool
}

// Name is the agent's display name.
func (a Agent) Name() string { return strings.TrimSpace(a.First + " " + a.Last) }

type store struct {
	clients []*Client
	sites   []*Site
	assets  []*Asset
	tickets []*Ticket
	agents  []*Agent
	nextID  map[string]int

	orgs                          []string
	truth, lookAlikes, assetTruth map[string][]int
}

func (d *store) next(kind string, base int) int {
	if d.nextID[kind] < base {
		d.nextID[kind] = base
	}
	d.nextID[kind]++
	return d.nextID[kind]
}

var seedEpoch = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// seedAgents: first, last, email, role, state.
var seedAgents = [][5]string{
	{"John", "Smith", "jsmith@msp.example", "Service Manager", "active"},
	{"Maria", "Garcia", "mgarcia@msp.example", "Senior Technician", "active"},
	{"Alex", "Kim", "akim@msp.example", "Technician", "active"},
	{"Priya", "Williams", "", "Dispatcher", "active"},               // no email
	{"Sam", "Lee", "helpdesk@msp.example", "Technician", "active"},  // shares an address
	{"Jo", "Brown", "helpdesk@msp.example", "Technician", "active"}, // with Sam Lee
	{"Thanh", "Nguyen", "tnguyen@msp.example", "Technician", "inactive"},
}

// seed builds the data: the ConnectWise sandbox's relationship table,
// copied into Halo's shapes.
func (s *Server) seed() {
	d := &s.data
	d.nextID = map[string]int{}
	cwOpt := cwsandbox.Options{Seed: s.opt.Seed, Orgs: s.opt.Orgs, OrgCount: s.opt.OrgCount, DeviceCount: s.opt.DeviceCount}
	for _, dv := range s.opt.Devices {
		cwOpt.Devices = append(cwOpt.Devices, cwsandbox.Device(dv))
	}
	cw := cwsandbox.New(cwOpt)
	d.orgs, d.truth, d.lookAlikes, d.assetTruth = cw.Orgs(), cw.Truth(), cw.LookAlikes(), cw.AssetTruth()
	at := seedEpoch
	for _, co := range cw.Companies() {
		at = at.Add(7 * time.Minute)
		tl := 1
		if len(co.Types) > 0 {
			switch co.Types[0] {
			case "Prospect":
				tl = 2
			case "Vendor":
				tl = 3
			case "Partner":
				tl = 4
			}
		}
		d.clients = append(d.clients, &Client{ID: co.ID, Name: co.Name, TopLevelID: tl, Inactive: co.Status == "Inactive", DateCreated: at})
		d.nextID["client"] = max(d.nextID["client"], co.ID)
		for _, name := range co.Sites {
			d.sites = append(d.sites, &Site{ID: d.next("site", 1000), ClientID: co.ID, Name: name})
		}
	}
	for _, cf := range cw.Configurations() {
		typ, ok := idOf(assetTypes, cf.Type)
		if !ok {
			typ = OtherTypeID
		}
		a := &Asset{ID: cf.ID, ClientID: cf.CompanyID, SiteID: d.mainSite(cf.CompanyID), TypeID: typ, Tag: cf.Name,
			ThirdPartyID: cf.DeviceIdentifier, Inactive: !cf.Active, Fields: map[int]string{}}
		if cf.SerialNumber != "" {
			a.Fields[SerialFieldID] = cf.SerialNumber
		}
		d.assets = append(d.assets, a)
		d.nextID["asset"] = max(d.nextID["asset"], cf.ID)
	}
	for i, ag := range seedAgents {
		d.agents = append(d.agents, &Agent{ID: i + 1, First: ag[0], Last: ag[1], Email: ag[2], Role: ag[3], Inactive: ag[4] == "inactive"})
	}
	d.agents = append(d.agents, &Agent{ID: APIAgentID, First: "rmmbridge", Last: "API", Role: "API", APIOnly: true})
	d.nextID["agent"] = APIAgentID
	d.nextID["ticket"] = 1000
}

func (d *store) mainSite(clientID int) int {
	for _, st := range d.sites {
		if st.ClientID == clientID {
			return st.ID
		}
	}
	return 0
}

func (d *store) client(id int) (*Client, bool) {
	for _, c := range d.clients {
		if c.ID == id {
			return c, true
		}
	}
	return nil, false
}

func (d *store) site(id int) (*Site, bool) {
	for _, st := range d.sites {
		if st.ID == id {
			return st, true
		}
	}
	return nil, false
}

func (d *store) asset(id int) (*Asset, bool) {
	for _, a := range d.assets {
		if a.ID == id {
			return a, true
		}
	}
	return nil, false
}

func (d *store) ticket(id int) (*Ticket, bool) {
	for _, t := range d.tickets {
		if t.ID == id {
			return t, true
		}
	}
	return nil, false
}

func (d *store) agent(id int) (*Agent, bool) {
	for _, a := range d.agents {
		if a.ID == id {
			return a, true
		}
	}
	return nil, false
}

// Ground truth and snapshots for tests.

// Orgs returns the organization names the clients relate to.
func (s *Server) Orgs() []string { return slices.Clone(s.data.orgs) }

// Truth returns, per organization name, the ids of the clients that are
// that organization — the ConnectWise sandbox's companies' ids for the
// same options.
func (s *Server) Truth() map[string][]int { return cloneIDs(s.data.truth) }

// LookAlikes returns, per organization name, the ids of clients that
// resemble it but are other customers.
func (s *Server) LookAlikes() map[string][]int { return cloneIDs(s.data.lookAlikes) }

// AssetTruth returns, per RMM device id, the assets that are that device.
func (s *Server) AssetTruth() map[string][]int { return cloneIDs(s.data.assetTruth) }

func cloneIDs(m map[string][]int) map[string][]int {
	out := make(map[string][]int, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// Clients returns every client in id order.
func (s *Server) Clients() []Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Client, 0, len(s.data.clients))
	for _, c := range s.data.clients {
		out = append(out, *c)
	}
	return out
}

// Sites returns every site.
func (s *Server) Sites() []Site {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Site, 0, len(s.data.sites))
	for _, st := range s.data.sites {
		out = append(out, *st)
	}
	return out
}

// Assets returns every asset in id order.
func (s *Server) Assets() []Asset {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Asset, 0, len(s.data.assets))
	for _, a := range s.data.assets {
		c := *a
		c.Fields = maps.Clone(a.Fields)
		out = append(out, c)
	}
	return out
}

// Tickets returns every ticket with its actions.
func (s *Server) Tickets() []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Ticket, 0, len(s.data.tickets))
	for _, t := range s.data.tickets {
		c := *t
		c.AssetIDs, c.Actions = slices.Clone(t.AssetIDs), slices.Clone(t.Actions)
		out = append(out, c)
	}
	return out
}

// Agents returns every agent.
func (s *Server) Agents() []Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Agent, 0, len(s.data.agents))
	for _, a := range s.data.agents {
		out = append(out, *a)
	}
	return out
}

// Adding records by hand (the conformance suite's fixture).

// NewClient is a client to add.
type NewClient struct {
	Name string
	// TopLevel names a top level (default "Clients").
	TopLevel string
	Inactive bool
	// Ref is the ClientRefFieldID custom field value.
	Ref string
	// Sites are created besides "Main".
	Sites []string
}

// AddClient adds a client with a "Main" site and returns its id.
func (s *Server) AddClient(c NewClient) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tl := 1
	if c.TopLevel != "" {
		id, ok := idOf(topLevels, c.TopLevel)
		if !ok {
			return 0, fmt.Errorf("add client %q: no top level %q", c.Name, c.TopLevel)
		}
		tl = id
	}
	d := &s.data
	id := d.next("client", 0)
	d.clients = append(d.clients, &Client{ID: id, Name: c.Name, TopLevelID: tl, Inactive: c.Inactive, Ref: c.Ref, DateCreated: seedEpoch})
	for _, name := range append([]string{"Main"}, c.Sites...) {
		d.sites = append(d.sites, &Site{ID: d.next("site", 1000), ClientID: id, Name: name})
	}
	return id, nil
}

// NewAsset is an asset to add at the client's main site.
type NewAsset struct {
	ClientID          int
	Tag, ThirdPartyID string
	Serial            string
	TypeID            int
}

// AddAsset adds an asset and returns its id.
func (s *Server) AddAsset(a NewAsset) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &s.data
	if _, ok := d.client(a.ClientID); !ok {
		return 0, fmt.Errorf("add asset %q: no client %d", a.Tag, a.ClientID)
	}
	if a.TypeID == 0 {
		a.TypeID = WorkstationTypeID
	}
	id := d.next("asset", 0)
	rec := &Asset{ID: id, ClientID: a.ClientID, SiteID: d.mainSite(a.ClientID), TypeID: a.TypeID, Tag: a.Tag, ThirdPartyID: a.ThirdPartyID, Fields: map[int]string{}}
	if a.Serial != "" {
		rec.Fields[SerialFieldID] = a.Serial
	}
	d.assets = append(d.assets, rec)
	return id, nil
}

// NewAgent is an agent to add.
type NewAgent struct {
	First, Last, Email, Role string
	Inactive, APIOnly        bool
}

// AddAgent adds an agent and returns its id.
func (s *Server) AddAgent(a NewAgent) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.data.next("agent", 0)
	s.data.agents = append(s.data.agents, &Agent{ID: id, First: a.First, Last: a.Last, Email: a.Email, Role: a.Role, Inactive: a.Inactive, APIOnly: a.APIOnly})
	return id
}
