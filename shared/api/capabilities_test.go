package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/api"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/user"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// limitedPSA is the client of a PSA whose spec offers accounts.create but
// not accounts.findByRef nor members.list. It even has the methods (as a
// ConnectWise client without its custom field does): the spec decides.
// It counts every call: a refused feature must call nothing.
type limitedPSA struct {
	psa.Client
	calls *atomic.Int64
}

func (p limitedPSA) FindAccountsByExternalRef(context.Context, string) ([]psa.Account, error) {
	p.calls.Add(1)
	return nil, nil
}

func (p limitedPSA) ListMembers(context.Context) ([]psa.Member, error) {
	p.calls.Add(1)
	return nil, nil
}

// limitedRMM is the client of an RMM whose spec offers nothing.
type limitedRMM struct {
	rmm.Client
	calls *atomic.Int64
}

func (r limitedRMM) GetOrganization(context.Context, string) (rmm.Organization, error) {
	r.calls.Add(1)
	return rmm.Organization{}, apperr.New(apperr.NotFound, "not here")
}

// oneIntegration is the tenant's one integration, i_1.
type oneIntegration struct{}

func (oneIntegration) GetIntegration(_ context.Context, _, id string) (connection.Integration, error) {
	if id != "i_1" {
		return connection.Integration{}, apperr.New(apperr.NotFound, "no integration %s", id)
	}
	return connection.Integration{ID: "i_1", PSAConnectionID: "c_psa"}, nil
}

// TestFeaturesNeedingAMissingCapabilityAre422: vendors registered in the
// test (a PSA spec without accounts.findByRef and members.list, an RMM
// spec without orgs.create), opened through the providers registry built
// from them; every feature that needs what they lack answers 422 naming
// the capability, before anything is read or written, and never 501.
func TestFeaturesNeedingAMissingCapabilityAre422(t *testing.T) {
	var calls atomic.Int64
	cat := vendorspec.MustCatalog(
		vendorspec.Spec{Name: "testrmm", Kind: vendorspec.KindRMM, DisplayName: "Test RMM",
			OpenRMM: func(vendorspec.Params) (rmm.Client, error) { return limitedRMM{calls: &calls}, nil }},
		vendorspec.Spec{Name: "testpsa", Kind: vendorspec.KindPSA, DisplayName: "Test PSA",
			Settings: []vendorspec.Setting{{Name: "refField", Type: vendorspec.Integer}},
			Capabilities: []vendorspec.Offer{
				{Capability: vendorspec.AccountsCreate},
				{Capability: vendorspec.AccountsFindByRef, NeedsSetting: "refField"},
			},
			OpenPSA: func(vendorspec.Params) (psa.Client, error) { return limitedPSA{calls: &calls}, nil }},
	)
	reg := providers.Registry{Vendors: cat}
	r, err := reg.RMM("testrmm", "https://rmm.example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := reg.PSA("testpsa", "https://psa.example.com", nil, nil) // no refField: no accounts.findByRef
	if err != nil {
		t.Fatal(err)
	}
	opener := importOpener(func(context.Context, string, string) (api.Clients, error) {
		return api.Clients{Integration: connection.Integration{ID: "i_1"}, RMM: r, PSA: p}, nil
	})
	// Importing users reads the members through the same capability check
	// (the user store and pool are never reached).
	users := user.NewService(nil, noPool{}, api.MemberRoster{Integrations: oneIntegration{}, Clients: opener}, user.Options{})
	rt := api.New(api.Deps{Clients: opener, Accounts: account.NewService(nil, account.Options{}),
		Imports: importjob.NewService(nil, nil, nil, importjob.Queues{}, importjob.Options{}), Users: users})
	const i = "/v1/integrations/{integrationId}"
	tests := []struct {
		name, method, route string
		params              map[string]string
		body                string
		capability          string
	}{
		{"create an account", "PUT", i + "/mappings/{orgId}", map[string]string{"orgId": "1"}, `{"createAccount":{}}`, "accounts.findByRef"},
		{"organization import", "POST", i + "/imports", map[string]string{}, `{"kind":"organizations","createMissingAccounts":false}`, "accounts.findByRef"},
		{"asset import creating accounts", "POST", i + "/imports", map[string]string{}, `{"kind":"assets"}`, "accounts.findByRef"},
		{"provision an RMM organization", "POST", i + "/psa/accounts/{accountId}/provision-rmm", map[string]string{"accountId": "7"}, "", "orgs.create"},
		{"list members", "GET", i + "/psa/members", map[string]string{}, "", "members.list"},
		{"import users", "POST", "/v1/users/import", map[string]string{}, `{"integrationId":"i_1","members":[{"memberId":"1","role":"viewer"}]}`, "members.list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body := importCall(t, rt, "admin", tc.method, tc.route, importIDs(tc.params), nil, tc.body)
			detail, _ := body["detail"].(string)
			if st != http.StatusUnprocessableEntity || !strings.Contains(detail, "capability "+tc.capability) {
				t.Errorf("%s %s = %d %q, want 422 naming capability %s", tc.method, tc.route, st, detail, tc.capability)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the vendors were called %d times, want none", n)
	}

	// With the setting, the same connection finds accounts by reference.
	withRef, err := reg.PSA("testpsa", "https://psa.example.com", nil, map[string]any{"refField": 12.0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vendorspec.Require[account.PSA](withRef, vendorspec.AccountsFindByRef, "test"); err != nil {
		t.Errorf("with refField set: %v", err)
	}
	if got := account.PSAOf(p); got == nil {
		t.Fatal("PSAOf returned nil")
	} else if _, err := got.FindAccountsByExternalRef(t.Context(), "1"); !strings.Contains(err.Error(), "accounts.findByRef") || calls.Load() != 0 {
		t.Errorf("PSAOf(without the capability).FindAccountsByExternalRef = %v (%d calls), want the capability's 422 and no call", err, calls.Load())
	}
}
