package sandbox

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Demo credentials of the dev stack's ConnectWise sandbox (the events/
// fixtures use them too).
const (
	DemoCompanyID  = "rmmbridge"
	DemoPublicKey  = "dev-public"
	DemoPrivateKey = "dev-private"
	DemoClientID   = "dev-client-id"
)

// Spec is the ConnectWise sandbox as the dev stack, `rmmbridge sandbox`
// and the benchmark start it: the demo connection stores our references in
// the sandbox's custom fields, and the demo integration opens tickets on
// the Help Desk board.
var Spec = sandboxspec.Spec{
	Name:        "connectwise",
	Kind:        vendorspec.KindPSA,
	DisplayName: "ConnectWise",
	DefaultPort: 8082,
	BasePath:    BasePath,
	Credentials: map[string]string{"companyId": DemoCompanyID, "publicKey": DemoPublicKey, "privateKey": DemoPrivateKey, "clientId": DemoClientID},
	Settings:    map[string]any{"accountRefFieldId": CompanyRefFieldID, "assetCheckInFieldId": ConfigCheckInFieldID},
	IntegrationSettings: map[string]any{
		"ticketDefaults": map[string]string{"board": "Help Desk", "status": "New", "type": "Incident"},
		"priorityMap": map[string]string{"critical": "Priority 1 - Emergency", "major": "Priority 2 - High",
			"moderate": "Priority 3 - Normal", "minor": "Priority 4 - Low", "none": "Priority 4 - Low"},
	},
	NewPSA: newPSA,
}

func newPSA(o sandboxspec.Options) sandboxspec.PSA {
	opt := Options{Seed: o.Seed, CompanyID: DemoCompanyID, PublicKey: DemoPublicKey, PrivateKey: DemoPrivateKey, ClientID: DemoClientID,
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
		out[i] = sandboxspec.Request{Method: r.Method, Path: r.Path, Asset: strings.HasPrefix(r.Path, "/company/configurations")}
	}
	return out
}

func (p psaSandbox) Accounts() []sandboxspec.Account {
	var out []sandboxspec.Account
	for _, co := range p.s.Companies() {
		out = append(out, sandboxspec.Account{ID: strconv.Itoa(co.ID), Name: co.Name, ExternalRef: co.CustomFields[CompanyRefFieldID]})
	}
	return out
}

func (p psaSandbox) Assets() []sandboxspec.Asset {
	var out []sandboxspec.Asset
	for _, cf := range p.s.Configurations() {
		out = append(out, sandboxspec.Asset{ID: strconv.Itoa(cf.ID), AccountID: strconv.Itoa(cf.CompanyID), ExternalRef: cf.DeviceIdentifier})
	}
	return out
}
