package sandbox

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// Clients are named from the same table as the NinjaOne sandbox's
// organizations (ninjasandbox.OrganizationNames), so a PSA sandbox related
// to this one (the ConnectWise sandbox's exact, variant, look-alike and
// missing accounts) gives the same account-matching outcomes whichever
// RMM sandbox runs.

var (
	siteNames  = []string{"Warehouse", "Branch Office", "Remote Workers", "Data Center", "Clinic", "Shop Floor", "Downtown", "North Campus", "Lab"}
	firstNames = []string{"james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "carlos", "aisha", "wei", "priya", "lukas", "sofia"}
	lastNames  = []string{"smith", "johnson", "garcia", "miller", "davis", "nguyen", "schmidt", "rossi", "patel", "tanaka", "dubois", "larsen"}
)

type hw struct {
	maker  string
	models []string
	serial func(r *rand.Rand) string
}

const upperDigits = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"

func alnum(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = upperDigits[r.IntN(len(upperDigits))]
	}
	return string(b)
}

var (
	winHW = []hw{
		{"Dell Inc.", []string{"Latitude 5440", "OptiPlex 7010", "Precision 3581"}, func(r *rand.Rand) string { return alnum(r, 7) }},
		{"HP", []string{"HP EliteBook 840 G9 Notebook PC", "HP ProBook 450 G10 Notebook PC"}, func(r *rand.Rand) string { return "5CG" + alnum(r, 7) }},
		{"LENOVO", []string{"21CB0064US", "20XW004GUS"}, func(r *rand.Rand) string { return "PF" + alnum(r, 6) }},
	}
	serverHW = []hw{
		{"Dell Inc.", []string{"PowerEdge R750", "PowerEdge T350"}, func(r *rand.Rand) string { return alnum(r, 7) }},
		{"VMware, Inc.", []string{"VMware7,1"}, func(r *rand.Rand) string { return "VMware-56 4d " + strings.ToLower(alnum(r, 2)) + " 1f" }},
	}
	macHW   = hw{"Apple Inc.", []string{"MacBookPro18,3", "Mac14,2", "iMac21,1"}, func(r *rand.Rand) string { return "C02" + alnum(r, 9) }}
	linuxHW = hw{"System76", []string{"Lemur Pro", "Thelio Major"}, func(r *rand.Rand) string { return alnum(r, 10) }}

	winOS    = []string{"Windows 11 Pro, 64 bit v23H2 (build 22631.3447)", "Windows 10 Pro, 64 bit v22H2 (build 19045.4291)", "Windows 11 Enterprise, 64 bit v24H2 (build 26100.2033)"}
	serverOS = []string{"Windows Server 2022 Standard, 64 bit v21H2 (build 20348.2402)", "Windows Server 2019 Standard, 64 bit v1809 (build 17763.5696)"}
	macOS    = []string{"darwin 14.5 arm64 23.5.0", "darwin 15.1 arm64 24.1.0"}
	linuxOS  = []string{"ubuntu 22.04 x86_64 5.15.0-105-generic", "debian 12 x86_64 6.1.0-21-amd64"}

	placeholders = []string{"To be filled by O.E.M.", "Default string", "0"}
)

// world is the generated data.
type world struct {
	clients []*Client
	sites   []*Site
	agents  []*Agent
	alerts  []*Alert
}

const gib = int64(1) << 30

// generate builds nClients clients with their sites and nAgents agents
// from seedVal; the same arguments always give the same data.
func generate(seedVal int64, nClients, nAgents int, epoch time.Time) world {
	r := rand.New(rand.NewPCG(uint64(seedVal), 0x74726d6d))
	var w world
	nClients, nAgents = max(nClients, 0), max(nAgents, 0)
	siteID := 0
	weights := make([]float64, nClients)
	total := 0.0
	for i, name := range ninjasandbox.OrganizationNames(seedVal, nClients) {
		c := &Client{ID: i + 1, Name: name}
		w.clients = append(w.clients, c)
		used := map[string]bool{}
		for j := range 1 + r.IntN(3) {
			siteID++
			sn := "Main Office"
			if j > 0 {
				for sn = siteNames[r.IntN(len(siteNames))]; used[sn]; sn = siteNames[r.IntN(len(siteNames))] {
				}
			}
			used[sn] = true
			w.sites = append(w.sites, &Site{ID: siteID, Client: c.ID, Name: sn})
		}
		weights[i] = 0.3 + r.ExpFloat64()
		total += weights[i]
	}
	if nClients == 0 {
		return w
	}
	seq := map[string]int{}
	for pk := 1; pk <= nAgents; pk++ {
		x, ci := r.Float64()*total, 0
		for ; ci < len(weights)-1 && x >= weights[ci]; ci++ {
			x -= weights[ci]
		}
		var sites []*Site
		for _, s := range w.sites {
			if s.Client == ci+1 {
				sites = append(sites, s)
			}
		}
		a := newAgent(r, pk, w.clients[ci], sites[r.IntN(len(sites))], epoch, seq)
		w.agents = append(w.agents, a)
		if r.IntN(25) == 0 {
			w.alerts = append(w.alerts, &Alert{ID: len(w.alerts) + 1, AgentID: a.AgentID, AlertType: "check", Severity: "error",
				Message: a.Hostname + " has a Disk space check: Drive C: failing", CheckDesc: "Disk space check: Drive C:",
				AlertTime: epoch.Add(-time.Duration(r.IntN(86400)) * time.Second)})
		}
	}
	return w
}

// abbreviation is a hostname prefix from a client name ("Acme, Inc." → "ACME").
func abbreviation(name string) string {
	var b strings.Builder
	for _, w := range strings.Fields(name) {
		for _, c := range strings.ToUpper(w) {
			if c >= 'A' && c <= 'Z' {
				b.WriteRune(c)
			}
			if b.Len() >= 4 {
				return b.String()
			}
		}
		if b.Len() >= 3 {
			break
		}
	}
	if b.Len() == 0 {
		return "ORG"
	}
	return b.String()
}

func newAgent(r *rand.Rand, pk int, c *Client, s *Site, epoch time.Time, seq map[string]int) *Agent {
	abbr := abbreviation(c.Name)
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	a := &Agent{PK: pk, AgentID: alnumLower(r, 40), Site: s.ID, Goarch: "amd64", Version: "2.8.0",
		PublicIP: fmt.Sprintf("203.0.113.%d", 1+c.ID%254), TotalRAM: 8 << r.IntN(3)}
	var h hw
	next := func(p string) int { seq[p]++; return seq[p] }
	switch x := r.IntN(100); {
	case x < 62:
		h = winHW[r.IntN(len(winHW))]
		a.MonitoringType, a.Plat, a.OperatingSystem = "workstation", "windows", winOS[r.IntN(len(winOS))]
		a.Hostname = fmt.Sprintf("%s-WS-%03d", abbr, next(abbr+"ws"))
		a.LastLoggedInUser = abbr + `\` + first[:1] + last
	case x < 76:
		h = serverHW[r.IntN(len(serverHW))]
		a.MonitoringType, a.Plat, a.OperatingSystem = "server", "windows", serverOS[r.IntN(len(serverOS))]
		a.Hostname = fmt.Sprintf("%s-SRV%02d", abbr, next(abbr+"srv"))
		a.LastLoggedInUser = abbr + `\administrator`
	case x < 92:
		h = macHW
		a.MonitoringType, a.Plat, a.Goarch, a.OperatingSystem = "workstation", "darwin", "arm64", macOS[r.IntN(len(macOS))]
		a.Hostname = fmt.Sprintf("%ss-MacBook-Pro-%d", strings.ToUpper(first[:1])+first[1:], next(first+"mac"))
		a.LastLoggedInUser = first
	default:
		h = linuxHW
		a.MonitoringType, a.Plat, a.OperatingSystem = "workstation", "linux", linuxOS[r.IntN(len(linuxOS))]
		a.Hostname = fmt.Sprintf("%s-%s-%d", first, strings.Fields(a.OperatingSystem)[0], next(first+"lnx"))
		a.LastLoggedInUser = first[:1] + last
	}
	a.Manufacturer, a.Model, a.Serial = h.maker, h.models[r.IntN(len(h.models))], h.serial(r)
	if r.IntN(30) == 0 {
		a.Serial = placeholders[r.IntN(len(placeholders))]
	}
	a.LoggedInUsername = a.LastLoggedInUser
	a.LastSeen = epoch.Add(-time.Duration(r.IntN(300_000)) * time.Millisecond).Truncate(time.Microsecond)
	if r.IntN(10) == 0 {
		a.Offline, a.LoggedInUsername = true, "None"
		a.LastSeen = epoch.Add(-time.Duration(2+r.IntN(600)) * time.Hour)
	}
	a.BootTime = float64(a.LastSeen.Add(-time.Duration(1+r.IntN(240))*time.Hour).Unix()) + 0.5
	a.LocalIPs = []string{fmt.Sprintf("10.%d.%d.%d", c.ID%250, s.ID%250, 10+r.IntN(240))}
	a.MACs = []string{fmt.Sprintf("D4:81:D7:%02X:%02X:%02X", r.IntN(256), r.IntN(256), r.IntN(256))}
	sizes := []int64{254_721_126_400, 510_770_802_688, 1_022_999_998_464}
	if a.Plat == "windows" {
		t := sizes[r.IntN(len(sizes))]
		a.Disks = append(a.Disks, Disk{Device: "C:", Fstype: "NTFS", Total: t, Free: int64(float64(t) * (0.05 + 0.8*r.Float64()))})
		if r.IntN(3) == 0 {
			t := sizes[r.IntN(len(sizes))]
			a.Disks = append(a.Disks, Disk{Device: "D:", Fstype: "NTFS", Total: t, Free: int64(float64(t) * (0.05 + 0.8*r.Float64()))})
		}
	} else {
		t := sizes[r.IntN(len(sizes))]
		a.Disks = append(a.Disks, Disk{Device: "/dev/sda1", Fstype: map[string]string{"darwin": "apfs", "linux": "ext4"}[a.Plat], Total: t, Free: int64(float64(t) * (0.05 + 0.8*r.Float64()))})
	}
	return a
}

func alnumLower(r *rand.Rand, n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[r.IntN(len(letters))]
	}
	return string(b)
}
