package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/apitest"
	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise"
	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// TestReverseProvisioningEndToEnd runs the scheduler function through the
// local stack (its Schedule event, triggered on demand) against the
// NinjaOne and ConnectWise sandboxes:
//   - while provisionRmmOrgs is off, nothing happens;
//   - switched on, the first run provisions the company created since the
//     integration was created — not the sandbox's older companies;
//   - a company created later, with a second site, gets a NinjaOne
//     organization of its name with both sites, mapped to it;
//   - a company rmmbridge created for an organization is left alone;
//   - another run changes nothing.
func TestReverseProvisioningEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var logw io.Writer = io.Discard
	if testing.Verbose() {
		logw = os.Stderr
	}
	env, err := devstack.Start(ctx, devstack.Options{
		Template: "../../template.yaml", StackName: motoserver.UniqueName("sched"),
		APIAddr: "127.0.0.1:0", RMMAddr: "127.0.0.1:0", PSAAddr: "127.0.0.1:0",
		Endpoint: os.Getenv("AWS_ENDPOINT_URL"), Orgs: 8, Devices: 16, NoPSAAssets: true,
		Logger: slog.New(slog.NewJSONHandler(logw, nil)), PollWait: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("start dev environment: %v", err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := env.Stop(sctx); err != nil {
			t.Errorf("stop dev environment: %v", err)
		}
	})
	api := apitest.New(t, env.Stack.APIURL(), env.APIKey)
	integration := "/v1/integrations/" + env.IntegrationID
	cw := cwClient(t, env)
	trigger := func(t *testing.T) {
		t.Helper()
		if err := env.Stack.Trigger(ctx, "SchedulerFunction"); err != nil {
			t.Fatalf("trigger the scheduler: %v", err)
		}
	}
	orgsBefore := orgNames(env.Ninja().Orgs())

	early, err := cw.CreateAccount(ctx, psa.NewAccount{Name: "Early Bird Dental"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("off: nothing is provisioned", func(t *testing.T) {
		trigger(t)
		if diff := cmp.Diff(orgsBefore, orgNames(env.Ninja().Orgs())); diff != "" {
			t.Errorf("NinjaOne organizations changed while provisioning is off (-before +after):\n%s", diff)
		}
	})

	t.Run("switched on: the first run takes what was created since the integration", func(t *testing.T) {
		var ig struct {
			Settings map[string]any `json:"settings"`
		}
		r := api.Do(http.MethodGet, integration, nil)
		r.JSON(t, &ig)
		ig.Settings["provisionRmmOrgs"] = true
		if r := api.Do(http.MethodPatch, integration, map[string]any{"settings": ig.Settings}); r.Status != http.StatusOK {
			t.Fatalf("PATCH settings = %d %s", r.Status, r.Body)
		}
		trigger(t)
		want := append(slices.Clone(orgsBefore), early.Name)
		sort.Strings(want)
		if diff := cmp.Diff(want, orgNames(env.Ninja().Orgs())); diff != "" {
			t.Errorf("NinjaOne organizations (-want +got):\n%s", diff)
		}
		checkMapped(t, api, integration, env.Ninja().Orgs(), early, []string{connectwise.DefaultMainSiteName})
	})

	var fresh psa.Account
	t.Run("a new company gets its organization with one site per location", func(t *testing.T) {
		fresh, err = cw.CreateAccount(ctx, psa.NewAccount{Name: "Northwind Provisioning Test"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cw.CreateLocation(ctx, fresh.ID, psa.NewLocation{Name: "Harbor Branch"}); err != nil {
			t.Fatal(err)
		}
		// Created by rmmbridge for an organization: carries our reference.
		if _, err := cw.CreateAccount(ctx, psa.NewAccount{Name: "Made For Org 4242", ExternalRef: "4242"}); err != nil {
			t.Fatal(err)
		}
		trigger(t)
		want := append(slices.Clone(orgsBefore), early.Name, fresh.Name)
		sort.Strings(want)
		if diff := cmp.Diff(want, orgNames(env.Ninja().Orgs())); diff != "" {
			t.Errorf("NinjaOne organizations (-want +got):\n%s", diff)
		}
		checkMapped(t, api, integration, env.Ninja().Orgs(), fresh, []string{connectwise.DefaultMainSiteName, "Harbor Branch"})
	})

	t.Run("another run changes nothing", func(t *testing.T) {
		before := env.Ninja().Orgs()
		var maps struct{ Items []map[string]any }
		api.Do(http.MethodGet, integration+"/mappings", nil).JSON(t, &maps)
		trigger(t)
		if diff := cmp.Diff(before, env.Ninja().Orgs()); diff != "" {
			t.Errorf("NinjaOne organizations changed (-before +after):\n%s", diff)
		}
		var again struct{ Items []map[string]any }
		api.Do(http.MethodGet, integration+"/mappings", nil).JSON(t, &again)
		if diff := cmp.Diff(maps, again); diff != "" {
			t.Errorf("mappings changed (-before +after):\n%s", diff)
		}
	})
}

// cwClient is a ConnectWise client on the sandbox, with the reference
// field the demo connection uses.
func cwClient(t *testing.T, env *devstack.Env) *connectwise.Client {
	t.Helper()
	c, err := connectwise.New(connectwise.Config{BaseURL: env.PSA.BaseURL, CompanyID: devstack.CWCompanyID,
		PublicKey: devstack.CWPublicKey, PrivateKey: devstack.CWPrivateKey, ClientID: devstack.CWClientID,
		AccountRefFieldID: cwsandbox.CompanyRefFieldID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func orgNames(orgs []ninjasandbox.Organization) []string {
	var out []string
	for _, o := range orgs {
		out = append(out, o.Name)
	}
	sort.Strings(out)
	return out
}

// checkMapped finds the organization named like the account, checks its
// sites, and that the API shows it mapped to the account site by site.
func checkMapped(t *testing.T, api *apitest.Client, integration string, orgs []ninjasandbox.Organization, a psa.Account, sites []string) {
	t.Helper()
	var org *ninjasandbox.Organization
	for i := range orgs {
		if orgs[i].Name == a.Name {
			org = &orgs[i]
		}
	}
	if org == nil {
		t.Fatalf("no NinjaOne organization named %q", a.Name)
	}
	var got []string
	for _, l := range org.Locations {
		got = append(got, l.Name)
	}
	sort.Strings(got)
	sort.Strings(sites)
	if diff := cmp.Diff(sites, got); diff != "" {
		t.Errorf("sites of %q (-want +got):\n%s", a.Name, diff)
	}
	var m struct {
		OrganizationID string            `json:"organizationId"`
		AccountID      string            `json:"accountId"`
		AccountName    string            `json:"accountName"`
		Sites          map[string]string `json:"sites"`
	}
	r := api.Do(http.MethodGet, fmt.Sprintf("%s/mappings/%d", integration, org.ID), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET mapping of organization %d = %d %s", org.ID, r.Status, r.Body)
	}
	r.JSON(t, &m)
	if m.OrganizationID != strconv.Itoa(org.ID) || m.AccountID != a.ID || m.AccountName != a.Name || len(m.Sites) != len(sites) {
		t.Errorf("mapping = %+v, want organization %d → account %s (%s) with %d sites", m, org.ID, a.ID, a.Name, len(sites))
	}
}
