package halopsa_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psatest"
	"github.com/rmmbridge/rmmbridge/shared/vendors/halopsa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/halopsa/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// TestConformance runs the PSA behaviour suite against the sandbox, with
// every capability the spec declares (the suite's; assets.list has its own
// test below).
func TestConformance(t *testing.T) {
	psatest.Run(t, psatest.Harness{
		Name:            "HaloPSA",
		Capabilities:    specCapabilities(),
		AccountStatuses: [2]string{"Active", "Inactive"},
		AccountTypes:    [2]string{"Clients", "Prospects"},
		TicketDefaults: psa.NewTicket{Board: psa.NamedRef{Name: sandbox.MonitoringTeam}, Status: psa.NamedRef{Name: "New"},
			Priority: psa.NamedRef{Name: "Medium"}, Type: psa.NamedRef{Name: "Alert"}},
		AssetManufacturer: "Dell Inc.",
		AuthFailureReason: "invalid_client",
		Open:              openConformance,
	})
}

// sleeps records the client's retry waits instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

const techID, techSecret, wrongSecret = "qf-tech-app", "qf-tech-secret", "qf-wrong-secret"

// demoConfig is a client of srv configured with the sandbox's demo
// settings (every field and reference configured).
func demoConfig(t testing.TB, srv *sandbox.Server, rec *sleeps) halopsa.Config {
	t.Helper()
	o := srv.Options()
	cfg := halopsa.Config{BaseURL: srv.URL(), ClientID: o.ClientID, ClientSecret: o.ClientSecret, Tenant: o.Tenant, Sleep: rec.sleep}
	if err := halopsa.ConfigFromSettings(&cfg, vendorspec.Settings(sandbox.DemoSettings)); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func openConformance(t psatest.T, f psatest.Fixture) *psatest.Env {
	t.Helper()
	srv := sandbox.New(sandbox.Options{Seed: 7, OrgCount: 4})
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	env := &psatest.Env{}
	for _, a := range f.Accounts {
		id, err := srv.AddClient(sandbox.NewClient{Name: a.Name, TopLevel: a.Type, Inactive: a.Status == "Inactive", Ref: a.ExternalRef, Sites: a.Locations})
		if err != nil {
			t.Fatal(err)
		}
		env.AccountIDs = append(env.AccountIDs, strconv.Itoa(id))
	}
	for _, a := range f.Assets {
		cid, _ := strconv.Atoi(env.AccountIDs[a.Account])
		id, err := srv.AddAsset(sandbox.NewAsset{ClientID: cid, Tag: a.Name, ThirdPartyID: a.ExternalRef, Serial: a.SerialNumber})
		if err != nil {
			t.Fatal(err)
		}
		env.AssetIDs = append(env.AssetIDs, strconv.Itoa(id))
	}
	for _, m := range f.Members {
		env.MemberIDs = append(env.MemberIDs, strconv.Itoa(srv.AddAgent(sandbox.NewAgent{First: m.FirstName, Last: m.LastName, Email: m.Email, Role: "Technician", Inactive: m.Inactive})))
	}
	tech, _ := strconv.Atoi(env.MemberIDs[0])
	srv.AddApp(techID, techSecret, tech)

	rec := &sleeps{}
	open := func(mutate func(*halopsa.Config)) *halopsa.Client {
		cfg := demoConfig(t, srv, rec)
		cfg.PageSize, cfg.AttemptTimeout = f.PageSize, f.AttemptTimeout
		if mutate != nil {
			mutate(&cfg)
		}
		c, err := halopsa.New(cfg, nil)
		if err != nil {
			t.Fatalf("halopsa.New: %v", err)
		}
		return c
	}
	c := open(nil)
	bad := open(func(cfg *halopsa.Config) { cfg.ClientSecret = wrongSecret })
	env.Client = c
	env.Other = open(func(cfg *halopsa.Config) { cfg.ClientID, cfg.ClientSecret = techID, techSecret })
	env.BadCredentials = bad
	env.Secrets = []string{srv.Options().ClientSecret, wrongSecret, techSecret}
	env.Faults = psatest.Faults{Throttle: srv.ThrottleNext, Fail: srv.FailNext, Hang: srv.HangNext}
	env.Requests, env.BadRequests, env.Waits = c.Requests, bad.Requests, rec.all
	return env
}

// specCapabilities are the capabilities halopsa.Spec offers that the suite
// knows.
func specCapabilities() []psatest.Capability {
	var out []psatest.Capability
	for _, o := range halopsa.Spec.Capabilities {
		if c := psatest.Capability(o.Capability); slices.Contains(psatest.AllCapabilities, c) {
			out = append(out, c)
		}
	}
	return out
}
