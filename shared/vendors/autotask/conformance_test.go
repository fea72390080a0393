package autotask_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psatest"
	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask"
	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask/sandbox"
)

// TestConformance runs the PSA behaviour suite against the sandbox, the
// client finding its zone first as in production. Every request the
// client sends in it is kept for the contract check.
func TestConformance(t *testing.T) {
	psatest.Run(t, conformanceHarness(nil))
}

func conformanceHarness(rec *recorder) psatest.Harness {
	return psatest.Harness{
		Name:              "Autotask",
		Capabilities:      specCapabilities(),
		AccountStatuses:   [2]string{"Active", "Inactive"},
		AccountTypes:      [2]string{"Customer", "Prospect"},
		TicketDefaults:    psa.NewTicket{Board: psa.NamedRef{Name: "Monitoring Alert"}, Type: psa.NamedRef{Name: "Alert"}},
		AssetManufacturer: "Dell Inc.",
		// Autotask keeps manufacturer and model as read-only ids of its
		// own RMM integration, and has no field for the check-in time,
		// free space or the volume text (see the package doc).
		UnstoredAssetFields: []string{"Manufacturer", "Model", "LastCheckIn", "FreeBytes", "Volumes"},
		AuthFailureReason:   "the user name or secret is not valid",
		Open: func(t psatest.T, f psatest.Fixture) *psatest.Env {
			return openConformance(t, f, rec)
		},
	}
}

// openConformance starts a sandbox holding the suite's fixture.
func openConformance(t psatest.T, f psatest.Fixture, rec *recorder) *psatest.Env {
	t.Helper()
	srv := sandbox.New(sandbox.Options{Seed: 7, OrgCount: 4})
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	env := &psatest.Env{}
	for _, a := range f.Accounts {
		id, err := srv.AddCompany(sandbox.NewCompany{Name: a.Name, Type: a.Type, Inactive: a.Status == "Inactive", RMMReference: a.ExternalRef, Locations: a.Locations})
		if err != nil {
			t.Fatal(err)
		}
		env.AccountIDs = append(env.AccountIDs, strconv.Itoa(id))
	}
	for _, a := range f.Assets {
		acct, _ := strconv.Atoi(env.AccountIDs[a.Account])
		id, err := srv.AddConfigurationItem(sandbox.NewConfigurationItem{CompanyID: acct, Title: a.Name, DeviceRef: a.ExternalRef, Serial: a.SerialNumber})
		if err != nil {
			t.Fatal(err)
		}
		env.AssetIDs = append(env.AssetIDs, strconv.Itoa(id))
	}
	for _, m := range f.Members {
		env.MemberIDs = append(env.MemberIDs, strconv.Itoa(srv.AddResource(sandbox.NewResource{
			UserName: m.Identifier, FirstName: m.FirstName, LastName: m.LastName, Email: m.Email, Inactive: m.Inactive})))
	}
	const techUser, techSecret, wrongSecret = "qftech01-api@msp.example", "qf-tech-secret", "qf-wrong-secret"
	tech, _ := strconv.Atoi(env.MemberIDs[0])
	srv.AddAPIUser(tech, techUser, techSecret)

	sl := &sleeps{}
	var hc *http.Client
	if rec != nil {
		hc = &http.Client{Transport: rec}
	}
	open := func(mutate func(*autotask.Config)) *autotask.Client {
		cfg := clientConfig(srv, sl)
		cfg.PageSize, cfg.AttemptTimeout = f.PageSize, f.AttemptTimeout
		if mutate != nil {
			mutate(&cfg)
		}
		c, err := autotask.New(cfg, hc)
		if err != nil {
			t.Fatalf("autotask.New: %v", err)
		}
		return c
	}
	c := open(nil)
	bad := open(func(cfg *autotask.Config) { cfg.Secret = wrongSecret })
	env.Client = c
	env.Other = open(func(cfg *autotask.Config) { cfg.Username, cfg.Secret = techUser, techSecret })
	env.BadCredentials = bad
	env.Secrets = []string{srv.Options().Secret, wrongSecret, techSecret}
	env.Faults = psatest.Faults{Throttle: srv.ThrottleNext, Fail: srv.FailNext, Hang: srv.HangNext}
	env.Requests, env.BadRequests, env.Waits = c.Requests, bad.Requests, sl.all
	return env
}

// specCapabilities are the capabilities autotask.Spec offers that the
// suite knows (assets.list has its own test): the suite checks the client
// against what the spec promises.
func specCapabilities() []psatest.Capability {
	var out []psatest.Capability
	for _, o := range autotask.Spec.Capabilities {
		if c := psatest.Capability(o.Capability); slices.Contains(psatest.AllCapabilities, c) {
			out = append(out, c)
		}
	}
	return out
}
