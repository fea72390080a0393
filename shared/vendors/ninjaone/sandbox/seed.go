package sandbox

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"
)

// fixedOrgNames open every organization list, in this order: real-looking
// names that exercise account matching (punctuation, "&", legal suffixes,
// non-ASCII letters, near-duplicates).
var fixedOrgNames = []string{
	"Acme, Inc.",
	"Smith & Sons LLC",
	"Müller GmbH",
	"Northwind Traders",
	"Contoso Ltd",
	"Blue Sky Dental",
	"Fabrikam, Inc.",
	"Tailspin Toys",
	"Wide World Importers",
	"Adventure Works Cycles",
	"O'Brien & Associates",
	"Greenfield Accounting LLP",
	"Lakeside Family Practice",
	"Rossi S.r.l.",
	"Dupont et Fils SARL",
	"Summit Legal Group, P.C.",
	"Riverbend Credit Union",
	"Café Lumière",
	"Northwind Health",
	"Oak and Iron Construction",
	"Van der Berg B.V.",
	"St. Mary's Parish",
	"Pinecrest Veterinary Clinic",
	"Nordfjord AS",
}

var (
	namePlaces = []string{"Maple", "Cedar", "Granite", "Silver Lake", "Redwood", "Bayview", "Hillcrest", "Westbrook",
		"Eastgate", "Brookside", "Sunrise", "Ironwood", "Willow Creek", "Highland", "Prairie", "Coastal", "Meridian",
		"Evergreen", "Falcon Ridge", "Harborview", "Juniper", "Stonebridge", "Clearwater", "Foxglove"}
	nameTrades = []string{"Dental Care", "Family Medicine", "Law Group", "Accounting", "Construction", "Realty",
		"Auto Repair", "Insurance Agency", "Veterinary Hospital", "Engineering", "Architects", "Bakery",
		"Brewing Company", "Plumbing & Heating", "Logistics", "Consulting", "Chiropractic", "Pharmacy",
		"Orthodontics", "Property Management", "Credit Union", "Montessori School", "Dermatology", "Landscaping"}
	nameSuffixes = []string{"", "", "", " LLC", ", Inc.", " Ltd", " GmbH", " Corp.", " & Co.", " LLP", " PLLC", " S.r.l."}
)

// OrganizationNames returns the names of the n organizations a sandbox
// seeded with seed holds, in id order (organization i+1 has name i). The
// first names are always the fixed list above ("Acme, Inc.", "Smith & Sons
// LLC", "Müller GmbH", "Northwind Traders", "Contoso Ltd", "Blue Sky
// Dental", ...); after it, names are drawn from the seed as
// "<place> <trade><legal suffix>" (e.g. "Cedar Dental Care LLC"), unique,
// with " #k" appended only once the combinations run out. Other sandboxes
// (the ConnectWise one) call this to derive matching company names without
// running the NinjaOne sandbox.
func OrganizationNames(seed int64, n int) []string {
	if n <= 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x6f7267))
	names := make([]string, 0, n)
	seen := map[string]bool{}
	for _, s := range fixedOrgNames {
		if len(names) == n {
			return names
		}
		names = append(names, s)
		seen[s] = true
	}
	for k := 0; len(names) < n; k++ {
		name := namePlaces[r.IntN(len(namePlaces))] + " " + nameTrades[r.IntN(len(nameTrades))] + nameSuffixes[r.IntN(len(nameSuffixes))]
		if seen[name] {
			if k < 4*len(namePlaces)*len(nameTrades) {
				continue
			}
			for i := 2; seen[name]; i++ {
				name = fmt.Sprintf("%s #%d", strings.TrimSuffix(name, fmt.Sprintf(" #%d", i-1)), i)
			}
		}
		seen[name] = true
		names = append(names, name)
	}
	return names
}

// abbreviation makes an uppercase ASCII short name of an organization, used
// in hostnames and domains: the first word of short names ("Acme, Inc." →
// "ACME", "Contoso Ltd" → "CONTOSO"), else initials ("Smith & Sons LLC" →
// "SSL", "Northwind Traders" → "NT").
func abbreviation(name string) string {
	words := strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) })
	ascii := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToUpper(s) {
			switch r {
			case 'Ä':
				r = 'A'
			case 'Ö':
				r = 'O'
			case 'Ü':
				r = 'U'
			case 'É', 'È':
				r = 'E'
			}
			if r >= 'A' && r <= 'Z' {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	if len(words) == 0 {
		return "ORG"
	}
	if a := ascii(words[0]); len(words) == 1 || len(words) == 2 && len(a) >= 4 && len(a) <= 8 {
		if len(a) > 8 {
			a = a[:8]
		}
		if a != "" {
			return a
		}
	}
	var b strings.Builder
	for _, w := range words {
		if a := ascii(w); a != "" && b.Len() < 4 {
			b.WriteByte(a[0])
		}
	}
	if b.Len() == 0 {
		return "ORG"
	}
	return b.String()
}

var (
	firstNames = []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
		"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Aisha", "Wei", "Priya",
		"Lukas", "Sofia", "Mateo", "Hannah", "Noah", "Olga", "Kenji", "Fatima"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
		"Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
		"Nguyen", "Schmidt", "Rossi", "Kowalski", "Okafor", "Patel", "Tanaka", "Dubois", "Novak", "Larsen"}
	locationNames = []string{"Warehouse", "Branch Office", "Remote Workers", "Data Center", "Clinic", "Shop Floor",
		"Downtown", "North Campus", "Lab", "Front Desk"}
	streets = []string{"Main St", "Oak Ave", "Maple Dr", "Industrial Pkwy", "Market St", "Harbor Rd", "Elm St",
		"Commerce Blvd", "Lake Shore Dr", "Mill Rd"}
	cities = []string{"Springfield, IL", "Portland, OR", "Austin, TX", "Columbus, OH", "Raleigh, NC", "Denver, CO",
		"Madison, WI", "Boise, ID", "Munich", "Milan", "Lyon", "Utrecht", "Bergen"}

	placeholderSerials = []string{"To be filled by O.E.M.", "System Serial Number", "Default string", "0", "None", "123456789", "Not Specified"}
)

type hardware struct {
	manufacturer string
	models       []string
	serial       func(r *rand.Rand) string
	macOUI       string
	virtual      bool
}

func alnum(r *rand.Rand, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	upperDigits = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
	digits      = "0123456789"
	hexdigits   = "0123456789abcdef"
)

var (
	dell   = hardware{"Dell Inc.", nil, func(r *rand.Rand) string { return alnum(r, 7, upperDigits) }, "D4:81:D7", false}
	hp     = hardware{"HP", nil, func(r *rand.Rand) string { return "5CG" + alnum(r, 7, upperDigits) }, "3C:52:82", false}
	lenovo = hardware{"LENOVO", nil, func(r *rand.Rand) string { return "PF" + alnum(r, 6, upperDigits) }, "8C:16:45", false}
	msft   = hardware{"Microsoft Corporation", nil, func(r *rand.Rand) string { return alnum(r, 12, digits) }, "C4:9D:ED", false}
	apple  = hardware{"Apple Inc.", nil, func(r *rand.Rand) string {
		if r.IntN(2) == 0 {
			return "C02" + alnum(r, 9, upperDigits)
		}
		return alnum(r, 10, upperDigits)
	}, "F0:18:98", false}
	vmware = hardware{"VMware, Inc.", []string{"VMware7,1", "VMware Virtual Platform"}, func(r *rand.Rand) string {
		h := alnum(r, 32, hexdigits)
		pairs := make([]string, 16)
		for i := range pairs {
			pairs[i] = h[2*i : 2*i+2]
		}
		return "VMware-" + strings.Join(pairs[:8], " ") + "-" + strings.Join(pairs[8:], " ")
	}, "00:50:56", true}
	hyperv = hardware{"Microsoft Corporation", []string{"Virtual Machine"}, func(r *rand.Rand) string {
		return alnum(r, 4, digits) + "-" + alnum(r, 4, digits) + "-" + alnum(r, 4, digits) + "-" + alnum(r, 4, digits) + "-" + alnum(r, 4, digits) + "-" + alnum(r, 4, digits) + "-" + alnum(r, 2, digits)
	}, "00:15:5D", true}
	supermicro = hardware{"Supermicro", []string{"SYS-5019C-MR", "SYS-1029P-WTR"}, func(r *rand.Rand) string { return "S" + alnum(r, 9, digits) }, "AC:1F:6B", false}
)

func withModels(h hardware, models ...string) hardware { h.models = models; return h }

var (
	workstationHW = []hardware{
		withModels(dell, "Latitude 5440", "Latitude 7430", "OptiPlex 7010", "Precision 3581"),
		withModels(hp, "HP EliteBook 840 G9 Notebook PC", "HP ProBook 450 G10 Notebook PC", "HP EliteDesk 800 G6 Desktop Mini PC"),
		withModels(lenovo, "21CB0064US", "20XW004GUS", "11A4S0E400"),
		withModels(msft, "Surface Laptop 5", "Surface Pro 9"),
	}
	serverHW = []hardware{
		withModels(dell, "PowerEdge R750", "PowerEdge T350", "PowerEdge R650xs"),
		withModels(hardware{"HPE", nil, func(r *rand.Rand) string { return "CZ" + alnum(r, 8, upperDigits) }, "94:40:C9", false}, "ProLiant DL380 Gen10", "ProLiant ML350 Gen10"),
		vmware, hyperv,
	}
	macHW   = []hardware{withModels(apple, "MacBookPro18,3", "MacBookPro18,1", "Mac14,2", "Mac14,7", "Mac15,3", "iMac21,1", "Macmini9,1")}
	linuxHW = []hardware{withModels(dell, "OptiPlex 7080", "Precision 3660"), withModels(hardware{"System76", nil, func(r *rand.Rand) string { return alnum(r, 10, upperDigits) }, "80:FA:5B", false}, "Lemur Pro", "Thelio Major"), supermicro,
		withModels(hardware{"QEMU", nil, func(*rand.Rand) string { return "" }, "52:54:00", true}, "Standard PC (Q35 + ICH9, 2009)")}

	windowsWorkstationOS = []OperatingSystem{
		{Manufacturer: "Microsoft Corporation", Name: "Windows 11 Pro", BuildNumber: "22631", ReleaseID: "23H2", Architecture: "64-bit"},
		{Manufacturer: "Microsoft Corporation", Name: "Windows 11 Pro", BuildNumber: "22621", ReleaseID: "22H2", Architecture: "64-bit"},
		{Manufacturer: "Microsoft Corporation", Name: "Windows 11 Enterprise", BuildNumber: "26100", ReleaseID: "24H2", Architecture: "64-bit"},
		{Manufacturer: "Microsoft Corporation", Name: "Windows 10 Pro", BuildNumber: "19045", ReleaseID: "22H2", Architecture: "64-bit"},
	}
	windowsServerOS = []OperatingSystem{
		{Manufacturer: "Microsoft Corporation", Name: "Windows Server 2022 Standard", BuildNumber: "20348", ReleaseID: "21H2", Architecture: "64-bit"},
		{Manufacturer: "Microsoft Corporation", Name: "Windows Server 2019 Standard", BuildNumber: "17763", ReleaseID: "1809", Architecture: "64-bit"},
		{Manufacturer: "Microsoft Corporation", Name: "Windows Server 2016 Datacenter", BuildNumber: "14393", ReleaseID: "1607", Architecture: "64-bit"},
	}
	macOS = []OperatingSystem{
		{Manufacturer: "Apple Inc.", Name: "macOS Sonoma", BuildNumber: "23F79", ReleaseID: "14.5", Architecture: "arm64"},
		{Manufacturer: "Apple Inc.", Name: "macOS Sequoia", BuildNumber: "24B83", ReleaseID: "15.1", Architecture: "arm64"},
		{Manufacturer: "Apple Inc.", Name: "macOS Ventura", BuildNumber: "22G720", ReleaseID: "13.6.7", Architecture: "x86_64"},
	}
	linuxOS = []OperatingSystem{
		{Manufacturer: "Canonical", Name: "Ubuntu 22.04.4 LTS", BuildNumber: "5.15.0-105-generic", ReleaseID: "22.04", Architecture: "x86_64"},
		{Manufacturer: "Canonical", Name: "Ubuntu 24.04 LTS", BuildNumber: "6.8.0-35-generic", ReleaseID: "24.04", Architecture: "x86_64"},
		{Manufacturer: "Debian", Name: "Debian GNU/Linux 12 (bookworm)", BuildNumber: "6.1.0-21-amd64", ReleaseID: "12", Architecture: "x86_64"},
		{Manufacturer: "Rocky Enterprise Software Foundation", Name: "Rocky Linux 9.3 (Blue Onyx)", BuildNumber: "5.14.0-362.8.1.el9_3.x86_64", ReleaseID: "9.3", Architecture: "x86_64"},
	}
	serverRoles = []string{"DC", "FS", "APP", "SQL", "RDS", "HV", "PRINT", "BKP"}
)

// seeded is the generated world.
type seeded struct {
	orgs    []*Organization
	devices []*Device
	alerts  []*Alert
}

// epochFloat renders t as NinjaOne epoch seconds with milliseconds.
func epochFloat(t time.Time) float64 {
	return math.Round(float64(t.UnixMilli())) / 1000
}

func uuid(r *rand.Rand) string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func mac(r *rand.Rand, oui string) string {
	return fmt.Sprintf("%s:%02X:%02X:%02X", oui, r.IntN(256), r.IntN(256), r.IntN(256))
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

const gib = int64(1) << 30

// diskSizes are typical formatted capacities in bytes.
var diskSizes = []int64{254_721_126_400, 510_770_802_688, 1_022_999_998_464, 2_000_381_014_016}

// seed generates orgs organizations and devices devices from seed.
func seed(seedVal int64, orgCount, deviceCount int, epoch time.Time) seeded {
	r := rand.New(rand.NewPCG(uint64(seedVal), 0x6e696e6a61))
	var w seeded
	names := OrganizationNames(seedVal, orgCount)
	locID := 0
	weights := make([]float64, len(names))
	total := 0.0
	for i, name := range names {
		o := &Organization{ID: i + 1, Name: name, NodeApprovalMode: "AUTOMATIC", Tags: []string{}, Fields: map[string]any{}, Policies: []PolicyRef{}}
		if r.IntN(3) == 0 {
			o.Description = "Managed since " + epoch.AddDate(0, -1-r.IntN(60), 0).Format("January 2006")
		}
		nLoc := 2 + r.IntN(3)
		used := map[string]bool{}
		for j := 0; j < nLoc; j++ {
			locID++
			lname := "Main Office"
			if j > 0 {
				for lname = pick(r, locationNames); used[lname]; lname = pick(r, locationNames) {
				}
			}
			used[lname] = true
			o.Locations = append(o.Locations, Location{
				ID: locID, Name: lname, OrganizationID: o.ID, Tags: []string{}, Fields: map[string]any{},
				Address: fmt.Sprintf("%d %s, %s", 10+r.IntN(9000), pick(r, streets), pick(r, cities)),
			})
		}
		w.orgs = append(w.orgs, o)
		weights[i] = 0.3 + r.ExpFloat64()
		total += weights[i]
	}
	if len(w.orgs) == 0 {
		return w
	}
	hostSeq := map[string]int{}
	for id := 1; id <= deviceCount; id++ {
		x, oi := r.Float64()*total, 0
		for ; oi < len(weights)-1 && x >= weights[oi]; oi++ {
			x -= weights[oi]
		}
		org := w.orgs[oi]
		loc := org.Locations[r.IntN(len(org.Locations))]
		d := newDevice(r, id, org, loc, epoch, hostSeq)
		w.devices = append(w.devices, d)
		if r.IntN(30) == 0 {
			w.alerts = append(w.alerts, newAlert(r, d, org, epoch))
		}
	}
	return w
}

func newDevice(r *rand.Rand, id int, org *Organization, loc Location, epoch time.Time, hostSeq map[string]int) *Device {
	abbr := abbreviation(org.Name)
	domain := strings.ToLower(abbr) + ".local"
	first, surname := pick(r, firstNames), pick(r, lastNames)
	d := &Device{
		ID: id, UID: uuid(r), OrganizationID: org.ID, LocationID: loc.ID,
		ApprovalStatus: "APPROVED", Tags: []string{}, Fields: map[string]any{}, DeviceType: "AGENT",
		NodeRoleID: 1, RolePolicyID: 1,
	}
	var (
		hw    hardware
		os    OperatingSystem
		model string
	)
	seq := func(prefix string) int { hostSeq[prefix]++; return hostSeq[prefix] }
	switch x := r.IntN(100); {
	case x < 60:
		d.NodeClass = "WINDOWS_WORKSTATION"
		hw, os = pick(r, workstationHW), pick(r, windowsWorkstationOS)
		model = pick(r, hw.models)
		if r.IntN(4) == 0 {
			d.SystemName = "DESKTOP-" + alnum(r, 7, upperDigits)
		} else {
			kind := "WS"
			for _, laptop := range []string{"Latitude", "Book", "Surface", "21CB", "20XW"} {
				if strings.Contains(model, laptop) {
					kind = "LT"
				}
			}
			p := abbr + "-" + kind
			d.SystemName = fmt.Sprintf("%s-%03d", p, seq(p))
		}
		d.LastLoggedUser = abbr + `\` + strings.ToLower(first[:1]+surname)
		if r.IntN(5) == 0 {
			d.LastLoggedUser = `AzureAD\` + first + surname
		}
	case x < 72:
		d.NodeClass = "WINDOWS_SERVER"
		hw, os = pick(r, serverHW), pick(r, windowsServerOS)
		model = pick(r, hw.models)
		role := pick(r, serverRoles)
		p := abbr + "-" + role
		d.SystemName = fmt.Sprintf("%s%02d", p, seq(p))
		d.LastLoggedUser = abbr + `\administrator`
		if r.IntN(3) == 0 {
			d.LastLoggedUser = abbr + `\` + strings.ToLower(first[:1]+surname) + ".adm"
		}
	case x < 90:
		d.NodeClass = "MAC"
		hw, os = pick(r, macHW), pick(r, macOS)
		model = pick(r, hw.models)
		kind := "MacBook-Pro"
		switch {
		case strings.HasPrefix(model, "iMac"):
			kind = "iMac"
		case strings.HasPrefix(model, "Macmini"):
			kind = "Mac-mini"
		case model == "Mac14,2":
			kind = "MacBook-Air"
		}
		d.SystemName = first + "s-" + kind
		if n := seq(d.SystemName); n > 1 {
			d.SystemName = fmt.Sprintf("%s-%d", d.SystemName, n)
		}
		d.LastLoggedUser = strings.ToLower(first)
	case x < 97:
		d.NodeClass = "LINUX_WORKSTATION"
		hw, os = pick(r, linuxHW[:2]), pick(r, linuxOS)
		model = pick(r, hw.models)
		p := strings.ToLower(first)
		d.SystemName = fmt.Sprintf("%s-%s", p, strings.ToLower(strings.Fields(os.Name)[0]))
		if n := seq(d.SystemName); n > 1 {
			d.SystemName = fmt.Sprintf("%s%d", d.SystemName, n)
		}
		d.LastLoggedUser = strings.ToLower(first[:1] + surname)
	default:
		d.NodeClass = "LINUX_SERVER"
		hw, os = pick(r, linuxHW[2:]), pick(r, linuxOS)
		model = pick(r, hw.models)
		p := strings.ToLower(abbr) + "-" + pick(r, []string{"web", "build", "db", "proxy", "mon"})
		d.SystemName = fmt.Sprintf("%s-%02d", p, seq(p))
		d.LastLoggedUser = pick(r, []string{"root", "ubuntu", strings.ToLower(first[:1] + surname)})
	}
	if r.IntN(12) == 0 {
		d.LastLoggedUser = ""
	}
	d.DisplayName = d.SystemName
	d.DNSName = strings.ToLower(d.SystemName) + "." + domain
	if strings.HasPrefix(d.NodeClass, "WINDOWS") {
		d.NetbiosName = strings.ToUpper(d.SystemName)
		if len(d.NetbiosName) > 15 {
			d.NetbiosName = d.NetbiosName[:15]
		}
	}

	serial := hw.serial(r)
	bios := serial
	if r.IntN(100) < 3 || serial == "" {
		serial = pick(r, placeholderSerials)
		bios = serial
		if r.IntN(3) == 0 && hw.manufacturer != "QEMU" {
			bios = alnum(r, 10, upperDigits) // firmware knows better than SMBIOS
		}
	}
	mem := int64(8<<r.IntN(4)) * gib
	chassis := "DESKTOP"
	if strings.Contains(d.SystemName, "-LT-") || strings.Contains(d.SystemName, "MacBook") {
		chassis = "LAPTOP"
	} else if strings.Contains(d.NodeClass, "SERVER") {
		chassis = "RACK"
	}
	d.System = &ComputerSystem{
		Name: d.SystemName, Manufacturer: hw.manufacturer, Model: model,
		SerialNumber: serial, BIOSSerialNumber: bios,
		NumberOfProcessors: 1, TotalPhysicalMemory: mem, VirtualMachine: hw.virtual, ChassisType: chassis,
	}
	if strings.HasPrefix(d.NodeClass, "WINDOWS") {
		d.System.Domain = domain
		d.System.DomainRole = "MEMBER_WORKSTATION"
		if d.NodeClass == "WINDOWS_SERVER" {
			d.System.DomainRole = "MEMBER_SERVER"
		}
	}
	d.Memory = &Memory{Capacity: mem}

	created := epoch.Add(-time.Duration(30+r.IntN(900)) * 24 * time.Hour).Add(-time.Duration(r.IntN(86_400_000)) * time.Millisecond)
	last := epoch.Add(-time.Duration(r.IntN(600_000)) * time.Millisecond)
	if r.IntN(12) == 0 {
		d.Offline = true
		last = epoch.Add(-2*time.Hour - time.Duration(r.IntN(30*86_400))*time.Second - time.Duration(r.IntN(1000))*time.Millisecond)
	}
	d.Created, d.LastContact = epochFloat(created), epochFloat(last)
	d.LastUpdate = epochFloat(last.Add(-time.Duration(r.IntN(120_000)) * time.Millisecond))
	osCopy := os
	osCopy.LastBootTime = epochFloat(last.Add(-time.Duration(1+r.IntN(30*24)) * time.Hour))
	osCopy.NeedsReboot = r.IntN(8) == 0
	if strings.HasPrefix(d.NodeClass, "WINDOWS") {
		osCopy.Locale, osCopy.Language = "en-US", "English"
	}
	d.OS = &osCopy
	if d.LastLoggedUser != "" {
		d.LastLogonTime = epochFloat(last.Add(-time.Duration(r.IntN(72*3600)) * time.Second))
	}

	// Addresses: one LAN per location, a v6 link-local on some.
	nics := 1
	if d.NodeClass == "WINDOWS_SERVER" || r.IntN(4) == 0 {
		nics = 2
	}
	for n := 0; n < nics; n++ {
		d.IPAddresses = append(d.IPAddresses, fmt.Sprintf("10.%d.%d.%d", org.ID%250, loc.ID%250, 10+r.IntN(240)))
		d.MACAddresses = append(d.MACAddresses, mac(r, hw.macOUI))
	}
	if r.IntN(3) == 0 {
		d.IPAddresses = append(d.IPAddresses, fmt.Sprintf("fe80::%x:%x:%x:%x", r.IntN(65536), r.IntN(65536), r.IntN(65536), r.IntN(65536)))
	}
	d.PublicIP = fmt.Sprintf("203.0.113.%d", 1+org.ID%254)
	d.Volumes = newVolumes(r, d.NodeClass)
	return d
}

func volumeFree(r *rand.Rand, capacity int64) int64 {
	return int64(float64(capacity) * (0.03 + 0.85*r.Float64()))
}

func newVolumes(r *rand.Rand, nodeClass string) []Volume {
	n := 1 + r.IntN(4) // 1–4 volumes
	var vols []Volume
	ntfsSerial := func() string { return strings.ToUpper(alnum(r, 8, hexdigits)) }
	switch nodeClass {
	case "WINDOWS_WORKSTATION", "WINDOWS_SERVER":
		c := pick(r, diskSizes[:3])
		if nodeClass == "WINDOWS_SERVER" {
			c = 126_841_810_944
		}
		vols = append(vols, Volume{Name: `C:\`, DriveLetter: "C:", Label: pick(r, []string{"", "OS", "Windows", "System"}), DeviceType: "Local Disk", FileSystem: "NTFS", AutoMount: true, Capacity: c, FreeSpace: volumeFree(r, c), SerialNumber: ntfsSerial()})
		extras := []Volume{
			{Name: `D:\`, DriveLetter: "D:", Label: "Data", DeviceType: "Local Disk", FileSystem: "NTFS", AutoMount: true, Capacity: pick(r, diskSizes[1:]), SerialNumber: ntfsSerial()},
			{Name: `\\?\Volume{` + uuid(r) + `}\`, Label: "Recovery", DeviceType: "Local Disk", FileSystem: "NTFS", AutoMount: true, Capacity: 1_073_737_728, SerialNumber: ntfsSerial()},
			{Name: `E:\`, DriveLetter: "E:", Label: pick(r, []string{"Logs", "Backup", "USB DISK"}), DeviceType: "Local Disk", FileSystem: "NTFS", AutoMount: true, Capacity: pick(r, diskSizes), SerialNumber: ntfsSerial()},
		}
		if nodeClass == "WINDOWS_WORKSTATION" {
			extras[2] = Volume{Name: `E:\`, DriveLetter: "E:", Label: "USB DISK", DeviceType: "Removable Disk", FileSystem: "FAT32", AutoMount: true, Capacity: 31_004_295_168, SerialNumber: ntfsSerial()}
		}
		for _, v := range extras[:n-1] {
			v.FreeSpace = volumeFree(r, v.Capacity)
			vols = append(vols, v)
		}
	case "MAC":
		c := pick(r, []int64{245_107_195_904, 494_384_795_648, 994_662_584_320})
		vols = append(vols, Volume{Name: "/", Label: "Macintosh HD", DeviceType: "Local Disk", FileSystem: "apfs", Capacity: c, FreeSpace: volumeFree(r, c)})
		extras := []Volume{
			{Name: "/System/Volumes/Data", Label: "Macintosh HD - Data", DeviceType: "Local Disk", FileSystem: "apfs", Capacity: c},
			{Name: "/Volumes/Archive", Label: "Archive", DeviceType: "Removable Disk", FileSystem: "exfat", Capacity: 4_000_650_883_072},
			{Name: "/Volumes/Backup", Label: "Backup", DeviceType: "Removable Disk", FileSystem: "apfs", Capacity: 1_999_844_147_200},
		}
		for _, v := range extras[:n-1] {
			v.FreeSpace = volumeFree(r, v.Capacity)
			vols = append(vols, v)
		}
	default: // Linux
		c := pick(r, []int64{105_089_261_568, 254_721_126_400, 510_770_802_688})
		vols = append(vols, Volume{Name: "/", DeviceType: "Local Disk", FileSystem: pick(r, []string{"ext4", "xfs"}), Capacity: c, FreeSpace: volumeFree(r, c)})
		extras := []Volume{
			{Name: "/boot", DeviceType: "Local Disk", FileSystem: "ext4", Capacity: 1_020_702_720},
			{Name: "/home", DeviceType: "Local Disk", FileSystem: "ext4", Capacity: 402_653_184_000},
			{Name: "/var", DeviceType: "Local Disk", FileSystem: "xfs", Capacity: 214_748_364_800},
		}
		for _, v := range extras[:n-1] {
			v.FreeSpace = volumeFree(r, v.Capacity)
			vols = append(vols, v)
		}
	}
	return vols
}

// condition templates for seeded alerts and webhook activities.
type condition struct {
	sourceType, code, name, subject, unit string
	threshold                             float64
	severity, priority                    string
}

var conditions = []condition{
	{"CONDITION_AGENT_DISK_FREE_SPACE", "vmm_cond_disk_free_space_le", "Disk free space below 10%", "Disk space is low", "%", 10, "MAJOR", "HIGH"},
	{"CONDITION_AGENT_MEMORY", "vmm_cond_memory_usage_ge", "Memory utilization above 90%", "Memory utilization is high", "%", 90, "MODERATE", "MEDIUM"},
	{"CONDITION_AGENT_CPU", "vmm_cond_cpu_usage_ge", "CPU above 95% for 15 minutes", "CPU utilization is high", "%", 95, "MINOR", "LOW"},
	{"AGENT_OFFLINE", "vmm_cond_agent_offline", "Device offline for 15 minutes", "Device is offline", "min", 15, "CRITICAL", "HIGH"},
	{"CONDITION_PENDING_REBOOT", "vmm_cond_pending_reboot", "Pending reboot for 7 days", "Reboot pending", "days", 7, "MINOR", "LOW"},
}

// conditionUIDs gives each condition template a stable policy element id.
var conditionUIDs = func() []string {
	r := rand.New(rand.NewPCG(7, 7))
	out := make([]string, len(conditions))
	for i := range out {
		out[i] = uuid(r)
	}
	return out
}()

func deviceRef(d *Device, org *Organization) DeviceRef {
	ref := DeviceRef{ID: d.ID, UID: d.UID, OrganizationID: d.OrganizationID, LocationID: d.LocationID, NodeClass: d.NodeClass,
		Offline: d.Offline, DisplayName: d.DisplayName, SystemName: d.SystemName, DNSName: d.DNSName, LastContact: d.LastContact}
	ref.References.Organization = RefOrganization{ID: org.ID, Name: org.Name, Description: org.Description}
	for _, l := range org.Locations {
		if l.ID == d.LocationID {
			ref.References.Location = RefLocation{ID: l.ID, Name: l.Name}
		}
	}
	return ref
}

func conditionData(c condition, value float64) map[string]any {
	return map[string]any{"message": map[string]any{
		"code":   c.code,
		"params": map[string]any{"threshold": c.threshold, "value": value, "unit": c.unit, "condition_name": c.name},
	}}
}

func newAlert(r *rand.Rand, d *Device, org *Organization, epoch time.Time) *Alert {
	i := r.IntN(len(conditions))
	c := conditions[i]
	at := epoch.Add(-time.Duration(r.IntN(48*3600)) * time.Second)
	value := c.threshold + float64(1+r.IntN(5))
	return &Alert{
		UID: uuid(r), DeviceID: d.ID, SourceType: c.sourceType, SourceConfigUID: conditionUIDs[i], SourceName: c.name,
		Subject: c.subject, Message: fmt.Sprintf("%s on %s: %g%s", c.subject, d.SystemName, value, c.unit),
		CreateTime: epochFloat(at), UpdateTime: epochFloat(at), Data: conditionData(c, value), Device: deviceRef(d, org),
	}
}
