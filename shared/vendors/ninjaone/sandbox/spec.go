package sandbox

import (
	"net/http"
	"strconv"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Demo credentials of the dev stack's NinjaOne sandbox (the events/
// fixtures use them too).
const (
	DemoClientID     = "dev-ninja-client"
	DemoClientSecret = "dev-ninja-secret"
)

// Spec is the NinjaOne sandbox as the dev stack, `rmmbridge sandbox` and
// the benchmark start it.
var Spec = sandboxspec.Spec{
	Name:        "ninjaone",
	Kind:        vendorspec.KindRMM,
	DisplayName: "NinjaOne",
	DefaultPort: 8081,
	Credentials: map[string]string{"clientId": DemoClientID, "clientSecret": DemoClientSecret},
	NewRMM:      newRMM,
}

func newRMM(o sandboxspec.Options) sandboxspec.RMM {
	return rmmSandbox{New(Options{Seed: o.Seed, Orgs: o.Orgs, Devices: o.Devices,
		ClientID: DemoClientID, ClientSecret: DemoClientSecret, Logger: o.Logger,
		Latency: o.Faults.Latency, RateLimit: o.Faults.RateLimit, FailRate5xx: o.Faults.FailRate5xx,
		TimeoutRate: o.Faults.TimeoutRate, TimeoutDelay: o.Faults.Hang})}
}

// rmmSandbox is the Server as a sandboxspec.RMM.
type rmmSandbox struct{ s *Server }

func (r rmmSandbox) Handler() http.Handler             { return r.s.Handler() }
func (r rmmSandbox) Start(addr string) (string, error) { return r.s.Start(addr) }
func (r rmmSandbox) Close() error                      { return r.s.Close() }
func (r rmmSandbox) Server() any                       { return r.s }
func (r rmmSandbox) Requests() int64                   { return r.s.TotalRequests() }

func (r rmmSandbox) Data() sandboxspec.RMMData {
	var d sandboxspec.RMMData
	for _, o := range r.s.Orgs() {
		org := sandboxspec.Org{ID: strconv.Itoa(o.ID), Name: o.Name}
		for _, l := range o.Locations {
			org.Sites = append(org.Sites, l.Name)
		}
		d.Orgs = append(d.Orgs, org)
	}
	for _, dev := range r.s.Devices() {
		serial := ""
		if dev.System != nil {
			serial = dev.System.SerialNumber
		}
		d.Devices = append(d.Devices, sandboxspec.Device{ID: strconv.Itoa(dev.ID), OrgID: strconv.Itoa(dev.OrganizationID),
			Name: dev.SystemName, Serial: serial})
	}
	return d
}

func (r rmmSandbox) TouchDevices(n int) []string {
	var out []string
	for _, id := range r.s.TouchDevices(n) {
		out = append(out, strconv.Itoa(id))
	}
	return out
}
