package connectwise_test

import (
	"encoding/base64"
	"strconv"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psatest"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

// TestConformance runs the PSA behaviour suite against the sandbox, with
// numbered pages and with forward-only (keyset) paging.
func TestConformance(t *testing.T) {
	t.Run("numbered pages", func(t *testing.T) { psatest.Run(t, conformanceHarness(false)) })
	t.Run("forward-only pages", func(t *testing.T) { psatest.Run(t, conformanceHarness(true)) })
}

func conformanceHarness(forwardOnly bool) psatest.Harness {
	return psatest.Harness{
		Name:              "ConnectWise",
		Capabilities:      specCapabilities(),
		AccountStatuses:   [2]string{"Active", "Inactive"},
		AccountTypes:      [2]string{"Client", "Prospect"},
		TicketDefaults:    psa.NewTicket{Board: psa.NamedRef{Name: "Monitoring"}},
		AssetManufacturer: "Dell Inc.",
		AuthFailureReason: "The API keys are not valid for this company",
		Open: func(t psatest.T, f psatest.Fixture) *psatest.Env {
			return openConformance(t, f, forwardOnly)
		},
	}
}

// openConformance starts a sandbox holding the suite's fixture, with the
// client configured as the suite asks (page size, attempt timeout) and
// the sandbox's custom fields and API member.
func openConformance(t psatest.T, f psatest.Fixture, forwardOnly bool) *psatest.Env {
	t.Helper()
	srv := sandbox.New(sandbox.Options{Seed: 7, OrgCount: 4})
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	env := &psatest.Env{}
	for _, a := range f.Accounts {
		id, err := srv.AddCompany(sandbox.NewCompany{Name: a.Name, Status: a.Status, Type: a.Type, RMMReference: a.ExternalRef, Sites: a.Locations})
		if err != nil {
			t.Fatal(err)
		}
		env.AccountIDs = append(env.AccountIDs, itoa(id))
	}
	for _, a := range f.Assets {
		id, err := srv.AddConfiguration(sandbox.NewConfiguration{
			CompanyID: atoi(env.AccountIDs[a.Account]), Name: a.Name, DeviceIdentifier: a.ExternalRef, SerialNumber: a.SerialNumber,
		})
		if err != nil {
			t.Fatal(err)
		}
		env.AssetIDs = append(env.AssetIDs, itoa(id))
	}
	for _, m := range f.Members {
		env.MemberIDs = append(env.MemberIDs, itoa(srv.AddMember(sandbox.NewMember{
			Identifier: m.Identifier, FirstName: m.FirstName, LastName: m.LastName, Email: m.Email, Inactive: m.Inactive,
		})))
	}
	const techPublic, techPrivate, wrongPrivate = "qf-tech-public", "qf-tech-private", "qf-wrong-private-key"
	srv.AddAPIKey(f.Members[0].Identifier, techPublic, techPrivate)

	rec := &sleeps{}
	open := func(mutate func(*connectwise.Config)) *connectwise.Client {
		cfg := clientConfig(srv, rec)
		cfg.PageSize, cfg.AttemptTimeout, cfg.APIMember = f.PageSize, f.AttemptTimeout, sandbox.DefaultAPIMember
		cfg.ForwardOnly = forwardOnly
		if mutate != nil {
			mutate(&cfg)
		}
		c, err := connectwise.New(cfg, nil)
		if err != nil {
			t.Fatalf("connectwise.New: %v", err)
		}
		return c
	}
	c := open(nil)
	bad := open(func(cfg *connectwise.Config) { cfg.PrivateKey = wrongPrivate })
	o := srv.Options()
	basic := func(private string) string {
		return base64.StdEncoding.EncodeToString([]byte(o.CompanyID + "+" + o.PublicKey + ":" + private))
	}
	env.Client = c
	env.Other = open(func(cfg *connectwise.Config) { cfg.PublicKey, cfg.PrivateKey = techPublic, techPrivate })
	env.BadCredentials = bad
	env.Secrets = []string{o.PrivateKey, wrongPrivate, techPrivate, basic(o.PrivateKey), basic(wrongPrivate)}
	env.Faults = psatest.Faults{Throttle: srv.ThrottleNext, Fail: srv.FailNext, Hang: srv.HangNext}
	env.Requests, env.BadRequests, env.Waits = c.Requests, bad.Requests, rec.all
	return env
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// specCapabilities are the capabilities connectwise.Spec offers, every
// setting they need being configured by openConformance: the suite checks
// the client against what the spec promises, so the two cannot drift.
func specCapabilities() []psatest.Capability {
	var out []psatest.Capability
	for _, o := range connectwise.Spec.Capabilities {
		out = append(out, psatest.Capability(o.Capability))
	}
	return out
}
