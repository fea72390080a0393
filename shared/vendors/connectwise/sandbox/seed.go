package sandbox

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Summary counts what the sandbox was seeded with.
type Summary struct {
	Orgs           int `json:"orgs"`
	Companies      int `json:"companies"`
	Sites          int `json:"sites"`
	Configurations int `json:"configurations"`
	Members        int `json:"members"`
	// How the organizations relate to companies.
	Exact          int `json:"exact"`
	Variant        int `json:"variant"`
	NearDuplicates int `json:"nearDuplicates"` // organizations with two companies
	LookAlikeOnly  int `json:"lookAlikeOnly"`  // organizations with only an unrelated look-alike
	NoCompany      int `json:"noCompany"`
	LookAlikes     int `json:"lookAlikes"` // look-alike companies in all
	// How devices relate to configurations.
	LinkedDevices int `json:"linkedDevices"` // deviceIdentifier set
	SerialOnly    int `json:"serialOnly"`
	SerialTies    int `json:"serialTies"`
}

// Seed returns the seeding summary.
func (s *Server) Seed() Summary { return s.seedCounts }

// Orgs returns the organization names the companies relate to (the given
// ones, or the generated ones).
func (s *Server) Orgs() []string { return slices.Clone(s.orgs) }

// Truth returns, per organization name, the ids of the companies that are
// that organization (none, one, or a near-duplicate pair).
func (s *Server) Truth() map[string][]int { return cloneIDs(s.truth) }

// LookAlikes returns, per organization name, the ids of companies that
// resemble it but are other customers and must not match.
func (s *Server) LookAlikes() map[string][]int { return cloneIDs(s.lookAlikes) }

// AssetTruth returns, per RMM device id, the configurations that are that
// device (by deviceIdentifier or by serial number).
func (s *Server) AssetTruth() map[string][]int { return cloneIDs(s.assetTruth) }

func cloneIDs(m map[string][]int) map[string][]int {
	out := make(map[string][]int, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// seedEpoch is the time seeded records were "entered".
var seedEpoch = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

func (s *Server) seed() {
	rng := rand.New(rand.NewPCG(uint64(s.opt.Seed), 0xc0ffee))
	clock := seedEpoch
	at := func() time.Time { clock = clock.Add(7 * time.Minute); return clock }
	const seeder = "zadmin"

	s.companies = newCollection("companies", 100)
	s.sites = newCollection("sites", 1000)
	s.configs = newCollection("configurations", 5000)
	s.tickets = newCollection("tickets", 20000)
	s.notes = newCollection("notes", 300000)
	s.companyStatuses = newCollection("companyStatuses", 1)
	s.companyTypes = newCollection("companyTypes", 1)
	s.configTypes = newCollection("configTypes", 1)
	s.configStatuses = newCollection("configStatuses", 1)
	s.manufacturers = newCollection("manufacturers", 1)
	s.boards = newCollection("boards", 1)
	s.boardStatuses = newCollection("boardStatuses", 1)
	s.boardTypes = newCollection("boardTypes", 1)
	s.priorities = newCollection("priorities", 1)
	s.members = newCollection("members", 150)
	s.apiMembers = newCollection("apiMembers", 140)
	s.ticketConfigs = map[int][]int{}
	s.audit = map[int][]map[string]any{}
	s.truth, s.lookAlikes, s.assetTruth = map[string][]int{}, map[string][]int{}, map[string][]int{}
	s.companyFields = []fieldDef{{ID: CompanyRefFieldID, Caption: CompanyRefFieldName, Type: "Text"}}
	s.configFields = []fieldDef{{ID: ConfigCheckInFieldID, Caption: ConfigCheckInFieldCap, Type: "Text"}}

	inf := normalize(info(seedEpoch, seeder))
	add := func(c *collection, recs ...map[string]any) {
		for _, r := range recs {
			r["_info"] = clone(inf)
			c.add(normalize(r))
		}
	}
	add(s.companyStatuses,
		map[string]any{"name": "Active", "defaultFlag": true, "inactiveFlag": false, "notifyFlag": false, "disallowSavingFlag": false, "notificationMessage": "", "customNoteFlag": false, "cancelOpenTracksFlag": false},
		map[string]any{"name": "Inactive", "defaultFlag": false, "inactiveFlag": false, "notifyFlag": false, "disallowSavingFlag": false, "notificationMessage": "", "customNoteFlag": false, "cancelOpenTracksFlag": true},
		map[string]any{"name": "Not-Approved", "defaultFlag": false, "inactiveFlag": false, "notifyFlag": true, "disallowSavingFlag": false, "notificationMessage": "Company is not approved", "customNoteFlag": false, "cancelOpenTracksFlag": false})
	for i, name := range []string{"Client", "Prospect", "Vendor", "Partner"} {
		add(s.companyTypes, map[string]any{"name": name, "defaultFlag": i == 0, "vendorFlag": name == "Vendor", "serviceAlertFlag": false})
	}
	for _, name := range []string{"Workstation", "Server", "Mobile Device", "Network Device", "Printer", "Other"} {
		add(s.configTypes, map[string]any{"name": name, "inactiveFlag": false, "systemFlag": false})
	}
	add(s.configStatuses,
		map[string]any{"description": "Active", "name": "Active", "closedFlag": false, "defaultFlag": true},
		map[string]any{"description": "Inactive", "name": "Inactive", "closedFlag": true, "defaultFlag": false})
	for _, name := range manufacturerNames {
		add(s.manufacturers, map[string]any{"name": name, "inactiveFlag": false})
	}
	boardStatuses := map[string][]string{
		"Help Desk":  {"New", "In Progress", "Waiting Customer", "Closed (resolved)", "Cancelled"},
		"Monitoring": {"New", "In Progress", "Closed (resolved)"},
	}
	for _, board := range []string{"Help Desk", "Monitoring"} {
		add(s.boards, map[string]any{"name": board, "inactiveFlag": false, "projectFlag": false})
		b := s.boards.items[len(s.boards.items)-1]
		for i, ty := range []string{"Incident", "Problem", "Service Request"} {
			add(s.boardTypes, map[string]any{"name": ty, "board": namedRef(b), "category": "Reactive", "defaultFlag": i == 0, "inactiveFlag": false})
		}
		for i, st := range boardStatuses[board] {
			closed := strings.HasPrefix(st, "Closed") || st == "Cancelled"
			add(s.boardStatuses, map[string]any{
				"name": st, "board": namedRef(b), "sortOrder": i + 1, "displayOnBoard": !closed,
				"inactive": false, "closedStatus": closed, "timeEntryNotAllowed": closed,
				"defaultFlag": i == 0, "escalationStatus": map[bool]string{true: "Resolved", false: "NotResponded"}[closed],
			})
		}
	}
	for i, p := range []string{"Priority 1 - Emergency", "Priority 2 - High", "Priority 3 - Normal", "Priority 4 - Low"} {
		add(s.priorities, map[string]any{"name": p, "color": []string{"Red", "Orange", "Green", "Blue"}[i], "sortOrder": i + 1, "defaultFlag": i == 2})
	}
	for _, m := range seedMembers {
		add(s.members, map[string]any{
			"identifier": m.identifier, "firstName": m.first, "lastName": m.last, "title": m.title,
			"primaryEmail": m.email, "officeEmail": m.email, "officePhone": "",
			"inactiveFlag": m.inactive, "licenseClass": "F", "defaultEmail": "Office",
			"securityRole": map[string]any{"id": securityRoles[m.role], "name": m.role},
		})
	}
	add(s.apiMembers, map[string]any{"identifier": s.opt.APIMember, "firstName": "rmmbridge", "lastName": "API", "inactiveFlag": false})

	// Organizations and their companies.
	if len(s.opt.Orgs) > 0 {
		seen := map[string]bool{}
		for _, o := range s.opt.Orgs {
			if o = strings.TrimSpace(o); o != "" && !seen[o] {
				seen[o] = true
				s.orgs = append(s.orgs, o)
			}
		}
	} else {
		s.orgs = generateOrgs(rng, s.opt.OrgCount)
	}
	taken := map[string]bool{}
	status := func(name string) map[string]any {
		r, _ := findRef(s.companyStatuses, map[string]any{"name": name}, "name")
		return r
	}
	typ := func(name string) map[string]any {
		r, _ := findRef(s.companyTypes, map[string]any{"name": name}, "name")
		return r
	}
	newCompany := func(name, st, ty string) int {
		city := cities[rng.IntN(len(cities))]
		extra := map[string]string{
			"addressLine1": fmt.Sprintf("%d %s", 100+rng.IntN(9000), streets[rng.IntN(len(streets))]),
			"city":         city[0], "state": city[1], "zip": fmt.Sprintf("%05d", 10000+rng.IntN(89999)),
			"phoneNumber": fmt.Sprintf("555%07d", rng.IntN(10000000)),
		}
		return s.insertCompany(companySpec{
			identifier: identifierFor(name, taken), name: name, status: status(st),
			types: []map[string]any{typ(ty)}, siteName: "Main", extra: extra, at: at(), by: seeder,
		})
	}
	trueStatus := func() string {
		switch r := rng.Float64(); {
		case r < 0.88:
			return "Active"
		case r < 0.95:
			return "Inactive"
		}
		return "Not-Approved"
	}
	trueType := func() string {
		if rng.Float64() < 0.85 {
			return "Client"
		}
		return "Prospect"
	}
	addLookAlike := func(org string) {
		id := newCompany(lookAlike(rng, org), "Active", "Client")
		s.lookAlikes[org] = append(s.lookAlikes[org], id)
		s.seedCounts.LookAlikes++
	}
	plan := categoryPlan(rng, len(s.orgs))
	for i, org := range s.orgs {
		switch plan[i] {
		case catExact:
			s.truth[org] = []int{newCompany(org, trueStatus(), trueType())}
			s.seedCounts.Exact++
		case catVariant:
			s.truth[org] = []int{newCompany(variant(rng, org), trueStatus(), trueType())}
			s.seedCounts.Variant++
		case catNearDuplicate:
			a, b := nearDuplicates(rng, org)
			second := "Active"
			if rng.Float64() < 0.5 {
				second = "Inactive"
			}
			s.truth[org] = []int{newCompany(a, "Active", "Client"), newCompany(b, second, "Client")}
			s.seedCounts.NearDuplicates++
		case catNone:
			s.seedCounts.NoCompany++
			continue
		default:
			addLookAlike(org)
			s.seedCounts.LookAlikeOnly++
			continue
		}
		if rng.Float64() < 0.25 {
			addLookAlike(org)
		}
		for _, id := range s.truth[org] {
			s.seedSites(rng, id, org, at, seeder)
		}
	}
	for _, v := range vendorCompanies {
		newCompany(v[0], "Active", v[1])
	}

	// Configurations.
	cfgType := func(name string) map[string]any {
		r, _ := findRef(s.configTypes, map[string]any{"name": name}, "name")
		return r
	}
	active := defaultOf(s.configStatuses.items)
	inactive, _ := findRef(s.configStatuses, map[string]any{"name": "Inactive"}, "name")
	addConfig := func(companyID int, name, deviceID, serial string, on bool) int {
		co, _ := s.companies.get(companyID)
		t := "Workstation"
		if u := strings.ToUpper(name); strings.Contains(u, "SRV") || strings.Contains(u, "SERVER") {
			t = "Server"
		}
		st := active
		if !on {
			st = inactive
		}
		mfr := s.manufacturers.items[rng.IntN(5)]
		return s.configs.add(s.configRecord(configSpec{
			name: name, typ: cfgType(t), status: st, company: co, site: s.mainSite(companyID),
			manufacturer: mfr, deviceIdentifier: deviceID, serial: serial, active: on,
			strs: map[string]string{
				"osType":      []string{"Windows 11 Pro", "Windows 10 Pro", "Windows Server 2022 Standard"}[rng.IntN(3)],
				"modelNumber": modelFor(strOf(mfr["name"]), rng), "lastLoginName": "",
			},
			at: at(), by: seeder,
		}))
	}
	if len(s.opt.Devices) > 0 {
		for _, d := range s.opt.Devices {
			ids := s.truth[d.Org]
			if len(ids) == 0 || d.ID == "" {
				continue
			}
			co := ids[0]
			switch r := rng.Float64(); {
			case r < 0.35:
				s.assetTruth[d.ID] = []int{addConfig(co, d.Name, d.ID, d.Serial, true)}
				s.seedCounts.LinkedDevices++
			case r < 0.55 && d.Serial != "":
				s.assetTruth[d.ID] = []int{addConfig(co, strings.ToUpper(d.Name), "", d.Serial, true)}
				s.seedCounts.SerialOnly++
			case r < 0.60 && d.Serial != "":
				s.assetTruth[d.ID] = []int{addConfig(co, d.Name, "", d.Serial, true), addConfig(co, d.Name+"-OLD", "", d.Serial, false)}
				s.seedCounts.SerialTies++
			}
		}
	} else {
		var companies []int
		for _, org := range s.orgs {
			companies = append(companies, s.truth[org]...)
		}
		for i := range s.opt.DeviceCount {
			if len(companies) == 0 {
				break
			}
			addConfig(companies[rng.IntN(len(companies))], fmt.Sprintf("WS-%04d", i+1), "", fmt.Sprintf("SN%08X", rng.Uint32()), true)
		}
	}
	for _, org := range s.orgs {
		for _, id := range s.truth[org] {
			if rng.Float64() < 0.2 {
				co, _ := s.companies.get(id)
				cisco, _ := findRef(s.manufacturers, map[string]any{"name": "Cisco Systems, Inc."}, "name")
				s.configs.add(s.configRecord(configSpec{
					name: strOf(co["identifier"]) + "-FW01", typ: cfgType("Network Device"), status: active,
					company: co, site: s.mainSite(id), manufacturer: cisco, serial: fmt.Sprintf("FTX%07d", rng.IntN(10000000)),
					active: true, strs: map[string]string{"modelNumber": "Meraki MX68"}, at: at(), by: seeder,
				}))
			}
		}
	}

	s.seedCounts.Orgs = len(s.orgs)
	s.seedCounts.Companies = len(s.companies.items)
	s.seedCounts.Sites = len(s.sites.items)
	s.seedCounts.Configurations = len(s.configs.items)
	s.seedCounts.Members = len(s.members.items)
}

// How an organization relates to the companies.
const (
	catExact = iota
	catVariant
	catNearDuplicate
	catNone
	catLookAlike
)

// categoryWeights are the shares of each category (exact, variant,
// near-duplicate, none, look-alike only).
var categoryWeights = []float64{0.30, 0.30, 0.12, 0.15, 0.13}

// categoryPlan assigns n organizations to categories in proportion to
// categoryWeights (largest remainder; every category at least once from
// five organizations on), in a seeded random order.
func categoryPlan(rng *rand.Rand, n int) []int {
	counts := make([]int, len(categoryWeights))
	type rem struct {
		cat  int
		frac float64
	}
	var rems []rem
	total := 0
	for c, w := range categoryWeights {
		x := w * float64(n)
		counts[c] = int(x)
		total += counts[c]
		rems = append(rems, rem{c, x - float64(counts[c])})
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		switch {
		case a.frac > b.frac:
			return -1
		case a.frac < b.frac:
			return 1
		}
		return 0
	})
	for i := 0; total < n; i++ {
		counts[rems[i%len(rems)].cat]++
		total++
	}
	if n >= len(counts) {
		for c := range counts {
			for counts[c] == 0 {
				big := slices.Index(counts, slices.Max(counts))
				counts[big]--
				counts[c]++
			}
		}
	}
	plan := make([]int, 0, n)
	for c, k := range counts {
		for range k {
			plan = append(plan, c)
		}
	}
	rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	return plan
}

// seedSites adds the company's sites beyond Main: names like some of the
// organization's RMM sites, and sometimes a warehouse.
func (s *Server) seedSites(rng *rand.Rand, companyID int, org string, at func() time.Time, by string) {
	names := map[string]bool{"main": true}
	for _, site := range s.opt.OrgSites[org] {
		name := site
		switch r := rng.Float64(); {
		case r < 0.55:
		case r < 0.75:
			name = strings.ToUpper(site)
		default:
			continue
		}
		if !names[strings.ToLower(name)] {
			names[strings.ToLower(name)] = true
			s.insertSite(companyID, name, false, map[string]string{}, at(), by)
		}
	}
	if rng.Float64() < 0.15 && !names["warehouse"] {
		s.insertSite(companyID, "Warehouse", false, map[string]string{}, at(), by)
	}
}

// mainSite returns the company's primary site.
func (s *Server) mainSite(companyID int) map[string]any {
	for _, site := range s.sites.items {
		if intOf(objOf(site["company"])["id"]) == companyID && boolOf(site["primaryAddressFlag"]) {
			return site
		}
	}
	return nil
}

func modelFor(mfr string, rng *rand.Rand) string {
	models := map[string][]string{
		"Dell Inc.":             {"OptiPlex 7090", "Latitude 5440", "PowerEdge R650"},
		"HP Inc.":               {"EliteDesk 800 G6", "ProBook 450 G9"},
		"Lenovo":                {"ThinkPad T14 Gen 3", "ThinkCentre M70q"},
		"Apple Inc.":            {"MacBook Pro (14-inch, 2023)", "Mac mini (M2)"},
		"Microsoft Corporation": {"Surface Laptop 5", "Virtual Machine"},
	}[mfr]
	if len(models) == 0 {
		return ""
	}
	return models[rng.IntN(len(models))]
}

var manufacturerNames = []string{"Dell Inc.", "HP Inc.", "Lenovo", "Apple Inc.", "Microsoft Corporation", "VMware, Inc.", "Cisco Systems, Inc.", "ASUSTeK Computer Inc."}

// seedMembers are the sandbox's technicians the way real member lists
// look: an inactive member, a second login sharing an email address with
// another member, and a shared kiosk login without an email.
var seedMembers = []struct {
	identifier, first, last, title, email, role string
	inactive                                    bool
}{
	{"jsmith", "John", "Smith", "Service Manager", "jsmith@msp.example", "Admin", false},
	{"mgarcia", "Maria", "Garcia", "Senior Technician", "mgarcia@msp.example", "Technician", false},
	{"akim", "Alex", "Kim", "Technician", "akim@msp.example", "Technician", false},
	{"pwilliams", "Priya", "Williams", "Dispatcher", "pwilliams@msp.example", "Dispatcher", false},
	{"tnguyen", "Thanh", "Nguyen", "Technician", "tnguyen@msp.example", "Technician", true},
	{"jsmith-admin", "John", "Smith (admin login)", "Service Manager", "jsmith@msp.example", "Admin", false},
	{"frontdesk", "Front", "Desk", "Kiosk", "", "Dispatcher", false},
}

// securityRoles are the sandbox's security roles (ConnectWise's default
// ones), by name.
var securityRoles = map[string]int{"Admin": 1, "Technician": 4, "Dispatcher": 6}

var vendorCompanies = [][2]string{
	{"Microsoft Corporation", "Vendor"},
	{"Dell Technologies Inc.", "Vendor"},
	{"Ingram Micro", "Vendor"},
	{"TD SYNNEX Corporation", "Vendor"},
	{"Pax8, Inc.", "Partner"},
}

var cities = [][2]string{{"Albany", "NY"}, {"Sacramento", "CA"}, {"Austin", "TX"}, {"Springfield", "IL"}, {"Tacoma", "WA"}, {"Worcester", "MA"}, {"Boulder", "CO"}, {"Savannah", "GA"}}
var streets = []string{"Main St", "Oak Ave", "Commerce Dr", "Harbor Blvd", "Industrial Pkwy", "Elm St", "Market St"}
