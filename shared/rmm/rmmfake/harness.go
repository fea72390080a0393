package rmmfake

import (
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmtest"
)

// capabilityMethods maps the suite's capabilities to the client methods
// that carry them (see Unsupported).
var capabilityMethods = map[rmmtest.Capability]string{
	rmmtest.OrgsCreate:      "CreateOrganization",
	rmmtest.SitesCreate:     "CreateSite",
	rmmtest.WebhooksParse:   "ParseWebhook",
	rmmtest.DevicesSnapshot: "ListDeviceSnapshots",
}

// Harness runs the RMM behaviour suite against the fake: a fresh RMM per
// Open, built with opts, seeded with the suite's fixture, in the fake's
// own webhook format. The capabilities are what the options leave
// (Unsupported removes them).
func Harness(opts ...Option) rmmtest.Harness {
	probe := New(opts...)
	var caps []rmmtest.Capability
	for _, c := range rmmtest.AllCapabilities {
		if !probe.opt.unsupported[capabilityMethods[c]] {
			caps = append(caps, c)
		}
	}
	return rmmtest.Harness{
		Name:              "rmmfake",
		Capabilities:      caps,
		AuthFailureReason: RejectedReason,
		Open: func(t rmmtest.T, f rmmtest.Fixture) *rmmtest.Env {
			r := New(append(opts, PageSize(f.PageSize), Retries(DefaultMaxAttempts, f.AttemptTimeout))...)
			env := &rmmtest.Env{}
			for _, fo := range f.Organizations {
				o := rmm.Organization{Name: fo.Name, Description: fo.Description}
				for _, s := range fo.Sites {
					o.Sites = append(o.Sites, rmm.Site{Name: s})
				}
				o = r.AddOrganization(o)
				env.OrganizationIDs = append(env.OrganizationIDs, o.ID)
				var sites []string
				for _, s := range o.Sites {
					sites = append(sites, s.ID)
				}
				env.SiteIDs = append(env.SiteIDs, sites)
			}
			for _, fd := range f.Devices {
				d := fd.Device
				d.ID = ""
				d.OrganizationID = env.OrganizationIDs[fd.Organization]
				d.SiteID = env.SiteIDs[fd.Organization][fd.Site]
				env.DeviceIDs = append(env.DeviceIDs, r.PutDevice(d).ID)
			}
			const wrong = "fake-rmm-wrong-secret"
			env.Client, env.BadCredentials = r.Client(), r.ClientWithSecret(wrong)
			env.Secrets = []string{r.opt.secret, wrong}
			env.Faults = rmmtest.Faults{Throttle: r.ThrottleNext, Fail: r.FailNext, Hang: r.HangNext}
			env.Requests, env.BadRequests, env.Waits = r.Requests, r.Requests, r.Waits
			env.Webhook = func(device int, series string, triggered bool) []byte {
				state := rmm.AlertReset
				if triggered {
					state = rmm.AlertTriggered
				}
				return WebhookBody(rmm.Alert{SeriesID: series, State: state, DeviceID: env.DeviceIDs[device],
					OrganizationID: env.OrganizationIDs[f.Devices[device].Organization]})
			}
			env.NonAlertWebhook = NonAlertBody()
			return env
		},
	}
}
