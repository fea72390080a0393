package sandbox

import (
	"net/http"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Demo credentials of the dev stack's Datto RMM sandbox.
const (
	DemoAPIKey    = "dev-datto-api-key"
	DemoAPISecret = "dev-datto-api-secret"
)

// Spec is the Datto RMM sandbox as the dev stack, `rmmbridge sandbox
// dattormm` and the benchmark start it: Datto's limits (600 reads and 600
// writes per rolling minute, 1 s delay past 90 %, 429, the 403 block).
var Spec = sandboxspec.Spec{
	Name:        "dattormm",
	Kind:        vendorspec.KindRMM,
	DisplayName: "Datto RMM",
	DefaultPort: 8093,
	Credentials: map[string]string{"apiKey": DemoAPIKey, "apiSecret": DemoAPISecret},
	NewRMM:      newRMM,
}

// newRMM builds the sandbox; a Faults.RateLimit (requests per second)
// replaces Datto's quotas with that rate over the 60 s window.
func newRMM(o sandboxspec.Options) sandboxspec.RMM {
	opt := Options{Seed: o.Seed, Sites: o.Orgs, Devices: o.Devices,
		APIKey: DemoAPIKey, APISecret: DemoAPISecret, Logger: o.Logger,
		Latency: o.Faults.Latency, FailRate5xx: o.Faults.FailRate5xx,
		TimeoutRate: o.Faults.TimeoutRate, TimeoutDelay: o.Faults.Hang}
	if o.Faults.RateLimit > 0 {
		opt.ReadLimit = max(1, int(o.Faults.RateLimit*DefaultWindow.Seconds()))
		opt.WriteLimit = opt.ReadLimit
	}
	return rmmSandbox{New(opt)}
}

// rmmSandbox is the Server as a sandboxspec.RMM: organizations are sites
// (ids are uids), each with one site of the same name.
type rmmSandbox struct{ s *Server }

func (r rmmSandbox) Handler() http.Handler             { return r.s.Handler() }
func (r rmmSandbox) Start(addr string) (string, error) { return r.s.Start(addr) }
func (r rmmSandbox) Close() error                      { return r.s.Close() }
func (r rmmSandbox) Server() any                       { return r.s }
func (r rmmSandbox) Requests() int64                   { return r.s.TotalRequests() }
func (r rmmSandbox) TouchDevices(n int) []string       { return r.s.TouchDevices(n) }

func (r rmmSandbox) Data() sandboxspec.RMMData {
	var d sandboxspec.RMMData
	for _, st := range r.s.Sites() {
		d.Orgs = append(d.Orgs, sandboxspec.Org{ID: st.UID, Name: st.Name, Sites: []string{st.Name}})
	}
	for _, dev := range r.s.Devices() {
		d.Devices = append(d.Devices, sandboxspec.Device{ID: dev.UID, OrgID: dev.SiteUID, Name: dev.Hostname, Serial: dev.Audit.Bios.SerialNumber})
	}
	return d
}
