package sandboxes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxes"
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/vendors/registry"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// TestEverySandboxServesItsRuntimeSpec: each sandbox names a vendor of
// the runtime list of the same kind; its demo credentials and settings
// pass that vendor's spec; its integration settings are integration
// settings; and, started on loopback, the vendor's own client (opened by
// providers from the spec) passes "Test & save" against it with the demo
// credentials. A PSA sandbox relates to an RMM sandbox's data.
func TestEverySandboxServesItsRuntimeSpec(t *testing.T) {
	cat := registry.Catalog()
	reg := providers.Registry{AllowLoopback: true}
	var related *sandboxspec.RMMData
	specs := sandboxes.Specs()
	slices.SortFunc(specs, func(a, b sandboxspec.Spec) int { // RMMs first: a PSA relates to one
		if a.Kind == b.Kind {
			return 0
		}
		if a.Kind == vendorspec.KindRMM {
			return -1
		}
		return 1
	})
	names := map[string]bool{}
	for _, s := range specs {
		t.Run(s.Name, func(t *testing.T) {
			if names[s.Name] {
				t.Fatalf("sandbox %s is listed twice", s.Name)
			}
			names[s.Name] = true
			v, ok := cat.Vendor(s.Name)
			if !ok || v.Kind != s.Kind || v.Planned() {
				t.Fatalf("no spoken %s vendor %s in the runtime list", s.Kind, s.Name)
			}
			if fe := v.CheckCredentials(s.Credentials); len(fe) > 0 {
				t.Errorf("demo credentials: %v", fe)
			}
			settings, fe := v.CheckSettings(s.Settings)
			if len(fe) > 0 {
				t.Errorf("demo settings: %v", fe)
			}
			b, _ := json.Marshal(s.IntegrationSettings)
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			var is connection.Settings
			if err := dec.Decode(&is); err != nil {
				t.Errorf("integration settings %s: %v", b, err)
			}
			if s.DefaultPort < 1024 || s.DisplayName == "" {
				t.Errorf("default port %d, display name %q", s.DefaultPort, s.DisplayName)
			}
			var sb sandboxspec.Sandbox
			if s.Kind == vendorspec.KindRMM {
				if s.NewRMM == nil || s.NewPSA != nil {
					t.Fatal("an RMM sandbox has NewRMM only")
				}
				r := s.NewRMM(sandboxspec.Options{Seed: 3, Orgs: 4, Devices: 12})
				d := r.Data()
				if len(d.Orgs) != 4 || len(d.Devices) != 12 || d.OrgName(d.Devices[0].OrgID) == "" {
					t.Errorf("RMM data: %d organizations, %d devices, first device's organization %q", len(d.Orgs), len(d.Devices), d.OrgName(d.Devices[0].OrgID))
				}
				related, sb = &d, r
			} else {
				if s.NewPSA == nil || s.NewRMM != nil {
					t.Fatal("a PSA sandbox has NewPSA only")
				}
				if related == nil {
					t.Fatal("no RMM sandbox to relate to")
				}
				p := s.NewPSA(sandboxspec.Options{Seed: 3, Related: related})
				if len(p.Accounts()) == 0 || len(p.Assets()) == 0 {
					t.Errorf("PSA data related to the RMM's: %d accounts, %d assets", len(p.Accounts()), len(p.Assets()))
				}
				sb = p
			}
			url, err := sb.Start("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close()
			if err := reg.TestSettings(context.Background(), s.Name, url+s.BasePath, s.Credentials, s.Settings); err != nil {
				t.Errorf("Test & save with the demo credentials: %v", err)
			}
			if s.Kind == vendorspec.KindPSA && !v.Capabilities(settings).Has(vendorspec.AccountsFindByRef) {
				t.Errorf("the demo PSA connection cannot find accounts by reference: the dev stack's integration auto-creates accounts")
			}
		})
	}
	if got := sandboxes.Choices(vendorspec.KindPSA); got != "autotask|connectwise|halopsa" {
		t.Errorf("PSA choices %q", got)
	}
	if _, ok := sandboxes.Get("connectwise", vendorspec.KindRMM); ok {
		t.Error("Get found connectwise as an RMM")
	}
}
