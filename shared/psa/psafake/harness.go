package psafake

import (
	"time"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psatest"
)

// capabilityMethods maps the suite's capabilities to the client methods
// that carry them (see Unsupported).
var capabilityMethods = map[psatest.Capability]string{
	psatest.AccountsCreate:    "CreateAccount",
	psatest.AccountsFindByRef: "FindAccountsByExternalRef",
	psatest.AccountsRecent:    "AccountsCreatedSince",
	psatest.AssetsFindByRef:   "FindAssetsByExternalRef",
	psatest.AssetsList:        "ListAccountAssets",
	psatest.TicketsFindByRef:  "FindTicketsByExternalRef",
	psatest.MembersList:       "ListMembers",
}

// Harness runs the PSA behaviour suite against the fake: a fresh PSA per
// Open, built with opts, seeded with the suite's fixture. With reopen the
// client is a ReopenClient. The capabilities are what the options leave
// (Unsupported removes them).
func Harness(reopen bool, opts ...Option) psatest.Harness {
	probe := New(opts...)
	var caps []psatest.Capability
	for _, c := range psatest.AllCapabilities {
		if m, ok := capabilityMethods[c]; ok && !probe.opt.unsupported[m] {
			caps = append(caps, c)
		}
	}
	if reopen {
		caps = append(caps, psatest.TicketsReopen)
	}
	statuses, types := probe.opt.statuses, probe.opt.types
	return psatest.Harness{
		Name:              "psafake",
		Capabilities:      caps,
		AccountStatuses:   [2]string{statuses[0].Name, statuses[1].Name},
		AccountTypes:      [2]string{types[0].Name, types[1].Name},
		AssetManufacturer: "Dell Inc.",
		AuthFailureReason: RejectedReason,
		Open: func(t psatest.T, f psatest.Fixture) *psatest.Env {
			p := New(append(opts, Retries(DefaultMaxAttempts, f.AttemptTimeout), AssetPageSize(f.PageSize))...)
			ref := func(refs []psa.NamedRef, name string) psa.NamedRef {
				for _, r := range refs {
					if r.Name == name {
						return r
					}
				}
				t.Fatalf("no %q among %v", name, refs)
				return psa.NamedRef{}
			}
			env := &psatest.Env{}
			created := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
			for _, a := range f.Accounts {
				acct := p.AddAccount(Account{Account: psa.Account{Name: a.Name, Status: ref(statuses, a.Status), Type: ref(types, a.Type)},
					ExternalRef: a.ExternalRef, Created: created})
				env.AccountIDs = append(env.AccountIDs, acct.ID)
				for _, l := range a.Locations {
					p.AddLocation(psa.Location{AccountID: acct.ID, Name: l})
				}
			}
			for _, a := range f.Assets {
				env.AssetIDs = append(env.AssetIDs, p.PutAsset(psa.Asset{AccountID: env.AccountIDs[a.Account], Name: a.Name,
					ExternalRef: a.ExternalRef, SerialNumber: a.SerialNumber}).ID)
			}
			for _, m := range f.Members {
				env.MemberIDs = append(env.MemberIDs, p.AddMember(Member{Member: psa.Member{Name: m.Name(), Email: m.Email},
					Identifier: m.Identifier, Inactive: m.Inactive}).ID)
			}
			const wrong = "fake-psa-wrong-secret"
			env.Client = p.Client()
			if reopen {
				env.Client = p.Reopener()
			}
			env.Other = p.ClientAs(f.Members[0].Identifier)
			env.BadCredentials = p.ClientWithSecret(wrong)
			env.Secrets = []string{p.opt.secret, wrong}
			env.Faults = psatest.Faults{Throttle: p.ThrottleNext, Fail: p.FailNext, Hang: p.HangNext}
			env.Requests, env.BadRequests, env.Waits = p.Requests, p.Requests, p.Waits
			return env
		},
	}
}
