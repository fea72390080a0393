package sandbox

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Demo credentials of the dev stack's HaloPSA sandbox.
const (
	DemoClientID     = "dev-halo-client"
	DemoClientSecret = "dev-halo-secret"
)

// DemoSettings are the demo connection's settings: our references in the
// sandbox's custom fields, the asset-type fields and the asset types per
// device class, and the status that closes a ticket.
var DemoSettings = map[string]any{
	"accountRefFieldId": ClientRefFieldID, "ticketRefFieldId": TicketRefFieldID,
	"assetSerialFieldId": SerialFieldID, "assetOsFieldId": OSFieldID, "assetLastUserFieldId": LastUserFieldID,
	"assetManufacturerFieldId": ManufacturerFieldID, "assetModelFieldId": ModelFieldID, "assetIpFieldId": IPFieldID,
	"assetMacFieldId": MACFieldID, "assetCheckInFieldId": CheckInFieldID, "assetVolumesFieldId": VolumesFieldID,
	"assetTypeMap": []string{"workstation=" + strconv.Itoa(WorkstationTypeID), "server=" + strconv.Itoa(ServerTypeID),
		"network=" + strconv.Itoa(NetworkTypeID), "other=" + strconv.Itoa(OtherTypeID)},
	"defaultAssetTypeId": OtherTypeID,
	"closedStatusId":     ClosedStatusID,
	"reopenStatusId":     InProgressStatusID,
}

// Spec is the HaloPSA sandbox as the dev stack, `rmmbridge sandbox` and
// the benchmark start it (self-hosted mode: no tenant). It sends
// X-RateLimit-* headers with a sandbox figure of 100,000 requests per 5
// minutes, far above what a benchmark sends, so the headers are there to
// read without slowing local runs (third parties report 450–700 for real
// instances, §6.4 [U]; tests set Options.ReportLimit lower).
var Spec = sandboxspec.Spec{
	Name:        "halopsa",
	Kind:        vendorspec.KindPSA,
	DisplayName: "HaloPSA",
	DefaultPort: 8084,
	BasePath:    "",
	Credentials: map[string]string{"clientId": DemoClientID, "clientSecret": DemoClientSecret},
	Settings:    DemoSettings,
	IntegrationSettings: map[string]any{
		"ticketDefaults": map[string]string{"board": MonitoringTeam, "status": "New", "type": "Alert"},
		"priorityMap":    map[string]string{"critical": "Critical", "major": "High", "moderate": "Medium", "minor": "Low", "none": "Low"},
	},
	NewPSA: newPSA,
}

func newPSA(o sandboxspec.Options) sandboxspec.PSA {
	opt := Options{Seed: o.Seed, ClientID: DemoClientID, ClientSecret: DemoClientSecret, ReportLimit: 100000,
		Logger: o.Logger, Latency: o.Faults.Latency, RateLimit: int(math.Ceil(o.Faults.RateLimit)),
		FailRate5xx: o.Faults.FailRate5xx, TimeoutRate: o.Faults.TimeoutRate, Hang: o.Faults.Hang}
	// The same options the ConnectWise sandbox takes from Related, so the
	// relationship table (and the ground truth) is the same.
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
		out[i] = sandboxspec.Request{Method: r.Method, Path: r.Path, Asset: strings.HasPrefix(strings.ToLower(r.Path), "/api/asset")}
	}
	return out
}

func (p psaSandbox) Accounts() []sandboxspec.Account {
	var out []sandboxspec.Account
	for _, c := range p.s.Clients() {
		out = append(out, sandboxspec.Account{ID: strconv.Itoa(c.ID), Name: c.Name, ExternalRef: c.Ref})
	}
	return out
}

func (p psaSandbox) Assets() []sandboxspec.Asset {
	var out []sandboxspec.Asset
	for _, a := range p.s.Assets() {
		out = append(out, sandboxspec.Asset{ID: strconv.Itoa(a.ID), AccountID: strconv.Itoa(a.ClientID), ExternalRef: a.ThirdPartyID})
	}
	return out
}
