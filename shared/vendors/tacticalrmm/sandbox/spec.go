package sandbox

import (
	"net/http"
	"strconv"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// DemoAPIKey is the dev stack's Tactical RMM API key.
const DemoAPIKey = "dev-tactical-api-key"

// Spec is the Tactical RMM sandbox as the dev stack, `rmmbridge sandbox`
// and the benchmark start it: with the beta API enabled, as the demo
// connection's settings say.
var Spec = sandboxspec.Spec{
	Name:        "tacticalrmm",
	Kind:        vendorspec.KindRMM,
	DisplayName: "Tactical RMM",
	DefaultPort: 8086,
	Credentials: map[string]string{"apiKey": DemoAPIKey},
	Settings:    map[string]any{"betaApi": true},
	NewRMM:      newRMM,
}

func newRMM(o sandboxspec.Options) sandboxspec.RMM {
	return rmmSandbox{New(Options{Seed: o.Seed, Clients: o.Orgs, Agents: o.Devices, APIKey: DemoAPIKey, BetaAPI: true,
		Logger: o.Logger, Latency: o.Faults.Latency, RateLimit: o.Faults.RateLimit, FailRate5xx: o.Faults.FailRate5xx,
		TimeoutRate: o.Faults.TimeoutRate, TimeoutDelay: o.Faults.Hang})}
}

// rmmSandbox is the Server as a sandboxspec.RMM.
type rmmSandbox struct{ s *Server }

func (r rmmSandbox) Handler() http.Handler             { return r.s.Handler() }
func (r rmmSandbox) Start(addr string) (string, error) { return r.s.Start(addr) }
func (r rmmSandbox) Close() error                      { return r.s.Close() }
func (r rmmSandbox) Server() any                       { return r.s }
func (r rmmSandbox) Requests() int64                   { return r.s.TotalRequests() }
func (r rmmSandbox) TouchDevices(n int) []string       { return r.s.TouchAgents(n) }

func (r rmmSandbox) Data() sandboxspec.RMMData {
	var d sandboxspec.RMMData
	sites := r.s.Sites()
	clientOfSite := map[int]int{}
	for _, c := range r.s.Clients() {
		org := sandboxspec.Org{ID: strconv.Itoa(c.ID), Name: c.Name}
		for _, x := range sites {
			if x.Client == c.ID {
				org.Sites = append(org.Sites, x.Name)
				clientOfSite[x.ID] = c.ID
			}
		}
		d.Orgs = append(d.Orgs, org)
	}
	for _, a := range r.s.Agents() {
		d.Devices = append(d.Devices, sandboxspec.Device{ID: a.AgentID, OrgID: strconv.Itoa(clientOfSite[a.Site]), Name: a.Hostname, Serial: a.Serial})
	}
	return d
}
