package sandbox

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Demo credentials of the dev stack's Autotask sandbox.
const (
	DemoUsername        = DefaultUsername
	DemoSecret          = "dev-secret"
	DemoIntegrationCode = "DEVINTEGRATIONCODE"
	// DemoOwnerResourceID is the seeded resource (jsmith) new companies
	// are owned by.
	DemoOwnerResourceID = 29682801
)

// DemoSettings are the demo connection's settings: every default the
// sandbox tenant requires.
var DemoSettings = map[string]any{
	"accountRefUdf": CompanyRefUDF, "assetRefUdf": DeviceRefUDF, "ownerResourceId": DemoOwnerResourceID,
	"companyType": "Customer", "configurationItemType": "Workstation", "productId": DefaultProductID,
	"ticketQueue": "Monitoring Alert", "ticketStatus": "New", "ticketPriority": "Medium", "completeStatus": "Complete",
}

// Spec is the Autotask sandbox as the dev stack, `rmmbridge sandbox` and
// the benchmark start it.
var Spec = sandboxspec.Spec{
	Name:        "autotask",
	Kind:        vendorspec.KindPSA,
	DisplayName: "Autotask",
	DefaultPort: 8083,
	BasePath:    BasePath,
	Credentials: map[string]string{"username": DemoUsername, "secret": DemoSecret, "integrationCode": DemoIntegrationCode},
	Settings:    DemoSettings,
	IntegrationSettings: map[string]any{
		"ticketDefaults": map[string]string{"board": "Monitoring Alert", "status": "New", "type": "Alert"},
		"priorityMap":    map[string]string{"critical": "Critical", "major": "High", "moderate": "Medium", "minor": "Low", "none": "Low"},
	},
	NewPSA: newPSA,
}

func newPSA(o sandboxspec.Options) sandboxspec.PSA {
	opt := Options{Seed: o.Seed, Username: DemoUsername, Secret: DemoSecret, IntegrationCode: DemoIntegrationCode,
		Logger: o.Logger, Latency: o.Faults.Latency, RateLimit: int(math.Ceil(o.Faults.RateLimit)),
		FailRate5xx: o.Faults.FailRate5xx, TimeoutRate: o.Faults.TimeoutRate, Hang: o.Faults.Hang}
	if rel := o.Related; rel != nil {
		for _, org := range rel.Orgs {
			opt.Orgs = append(opt.Orgs, org.Name)
		}
		if !o.NoAssets {
			for _, d := range rel.Devices {
				opt.Devices = append(opt.Devices, Device{ID: d.ID, Org: rel.OrgName(d.OrgID), Name: d.Name, Serial: d.Serial})
			}
		}
	}
	return psaSandbox{New(opt)}
}

// psaSandbox is the Server as a sandboxspec.PSA.
type psaSandbox struct{ s *Server }

func (p psaSandbox) Handler() http.Handler             { return p.s.Handler() }
func (p psaSandbox) Start(addr string) (string, error) { return p.s.Start(addr) }
func (p psaSandbox) Close() error                      { return p.s.Close() }
func (p psaSandbox) Server() any                       { return p.s }

func (p psaSandbox) Requests() []sandboxspec.Request {
	rs := p.s.Requests()
	out := make([]sandboxspec.Request, len(rs))
	for i, r := range rs {
		out[i] = sandboxspec.Request{Method: r.Method, Path: r.Path, Asset: strings.Contains(strings.ToLower(r.Path), "/configurationitems")}
	}
	return out
}

func (p psaSandbox) Accounts() []sandboxspec.Account {
	var out []sandboxspec.Account
	for _, co := range p.s.Companies() {
		out = append(out, sandboxspec.Account{ID: strconv.Itoa(co.ID), Name: co.Name, ExternalRef: co.RMMReference})
	}
	return out
}

func (p psaSandbox) Assets() []sandboxspec.Asset {
	var out []sandboxspec.Asset
	for _, ci := range p.s.ConfigurationItems() {
		out = append(out, sandboxspec.Asset{ID: strconv.Itoa(ci.ID), AccountID: strconv.Itoa(ci.CompanyID), ExternalRef: ci.DeviceRef})
	}
	return out
}
