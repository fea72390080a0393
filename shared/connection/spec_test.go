package connection

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// testVendors are vendors made up for these tests: the service knows only
// what its catalog says, whatever the vendors of the day are.
func testVendors() *vendorspec.Catalog {
	notOpened := errors.New("these tests open no client")
	return vendorspec.MustCatalog(
		vendorspec.Spec{Name: "acmermm", Kind: KindRMM, DisplayName: "Acme RMM",
			Credentials:  []vendorspec.CredentialField{{Name: "clientId", Required: true}, {Name: "clientSecret", Required: true, Secret: true}},
			Capabilities: []vendorspec.Offer{{Capability: vendorspec.OrgsCreate}},
			OpenRMM:      func(vendorspec.Params) (rmm.Client, error) { return nil, notOpened }},
		vendorspec.Spec{Name: "acmepsa", Kind: KindPSA, DisplayName: "Acme PSA",
			Credentials: []vendorspec.CredentialField{
				{Name: "companyId", Required: true}, {Name: "publicKey", Required: true},
				{Name: "privateKey", Required: true, Secret: true}, {Name: "clientId", Required: true},
				{Name: "region", Pattern: `^[a-z]{2}$`},
			},
			Settings: []vendorspec.Setting{
				{Name: "refField", Type: vendorspec.Integer, Min: vendorspec.Int(1)},
				{Name: "mode", Type: vendorspec.String, Enum: []string{"fast", "safe"}, Default: "safe"},
				{Name: "members", Type: vendorspec.StringList, MaxItems: 2},
				{Name: "verbose", Type: vendorspec.Boolean, Default: false},
			},
			Capabilities: []vendorspec.Offer{
				{Capability: vendorspec.AccountsCreate},
				{Capability: vendorspec.AccountsFindByRef, NeedsSetting: "refField"},
				{Capability: vendorspec.TicketsReopen},
			},
			OpenPSA: func(vendorspec.Params) (psa.Client, error) { return nil, notOpened }},
		vendorspec.Spec{Name: "plannedpsa", Kind: KindPSA, DisplayName: "Planned PSA",
			Credentials: []vendorspec.CredentialField{{Name: "apiKey", Required: true, Secret: true}}},
	)
}

func acmePSA(settings map[string]any) CreateInput {
	return CreateInput{Name: "psa", Kind: KindPSA, Provider: "acmepsa", BaseURL: "https://na.myconnectwise.net",
		Credentials: Credentials{"companyId": "acme", "publicKey": "pub", "privateKey": "priv", "clientId": "guid"}, Settings: settings}
}

// TestCreateChecksTheVendorSpec: every refusal names its field, and the
// vendor is never called for input its spec refuses.
func TestCreateChecksTheVendorSpec(t *testing.T) {
	tests := []struct {
		name string
		in   func(in *CreateInput)
		want []apperr.FieldError
	}{
		{"unknown provider", func(in *CreateInput) { in.Provider = "nosuch" },
			[]apperr.FieldError{{Field: "provider", Message: "must be one of acmepsa, acmermm, plannedpsa"}}},
		{"kind of another vendor", func(in *CreateInput) { in.Kind = KindRMM },
			[]apperr.FieldError{{Field: "kind", Message: `must be "psa" for provider acmepsa`}}},
		{"missing, blank and unknown credentials", func(in *CreateInput) {
			in.Credentials = Credentials{"companyId": "acme", "publicKey": "pub", "privateKey": " ", "extra": "x"}
		}, []apperr.FieldError{
			{Field: "credentials.privateKey", Message: "is required for acmepsa"},
			{Field: "credentials.clientId", Message: "is required for acmepsa"},
			{Field: "credentials.extra", Message: "is not a acmepsa credential"},
		}},
		{"credential not matching its pattern", func(in *CreateInput) { in.Credentials["region"] = "north" },
			[]apperr.FieldError{{Field: "credentials.region", Message: "must match ^[a-z]{2}$"}}},
		{"credential too long", func(in *CreateInput) { in.Credentials["privateKey"] = strings.Repeat("k", 4097) },
			[]apperr.FieldError{{Field: "credentials.privateKey", Message: "must be at most 4096 bytes"}}},
		{"integer setting given text", func(in *CreateInput) { in.Settings = map[string]any{"refField": "twelve"} },
			[]apperr.FieldError{{Field: "settings.refField", Message: "must be an integer"}}},
		{"integer setting with a fraction", func(in *CreateInput) { in.Settings = map[string]any{"refField": 1.5} },
			[]apperr.FieldError{{Field: "settings.refField", Message: "must be an integer"}}},
		{"integer setting under its minimum", func(in *CreateInput) { in.Settings = map[string]any{"refField": float64(0)} },
			[]apperr.FieldError{{Field: "settings.refField", Message: "must be at least 1"}}},
		{"string setting outside its enum", func(in *CreateInput) { in.Settings = map[string]any{"mode": "turbo"} },
			[]apperr.FieldError{{Field: "settings.mode", Message: "must be one of fast, safe"}}},
		{"list setting too long and of numbers", func(in *CreateInput) {
			in.Settings = map[string]any{"members": []any{"a", "b", "c"}, "verbose": "yes"}
		}, []apperr.FieldError{
			{Field: "settings.members", Message: "must have at most 2 items"},
			{Field: "settings.verbose", Message: "must be true or false"},
		}},
		{"list setting with a number", func(in *CreateInput) { in.Settings = map[string]any{"members": []any{"a", 2.0}} },
			[]apperr.FieldError{{Field: "settings.members", Message: "must be a list of strings"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tester := &countingTester{}
			s := NewService(nil, nopSecrets{}, tester, Options{Resolver: testResolver(), Vendors: testVendors()})
			in := acmePSA(nil)
			tc.in(&in)
			_, err := s.Create(t.Context(), "t_1", in)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Invalid {
				t.Fatalf("Create = %v, want a 422", err)
			}
			if diff := cmp.Diff(tc.want, e.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if tester.calls != 0 {
				t.Errorf("the vendor was tested %d times, want 0", tester.calls)
			}
		})
	}
}

// TestCreateStoresTypedSettingsAndReportsCapabilities: declared settings
// are stored typed with their defaults, others as given; the response,
// reads, the test and a PATCH report what the connection can do, which
// follows its settings.
func TestCreateStoresTypedSettingsAndReportsCapabilities(t *testing.T) {
	ctx := t.Context()
	store := newMemStore()
	s := NewService(store, &memSecrets{m: map[string][]byte{}}, &countingTester{}, Options{Resolver: testResolver(), Vendors: testVendors()})
	c, err := s.Create(ctx, "t_1", acmePSA(map[string]any{"refField": float64(12), "note": "kept"}))
	if err != nil {
		t.Fatal(err)
	}
	wantSettings := map[string]any{"refField": 12, "mode": "safe", "verbose": false, "note": "kept"}
	if diff := cmp.Diff(wantSettings, store.conns["t_1/"+c.ID].Settings); diff != "" {
		t.Errorf("stored settings (-want +got):\n%s", diff)
	}
	all := []string{"accounts.create", "accounts.findByRef", "tickets.reopen"}
	if diff := cmp.Diff(all, c.Capabilities); diff != "" {
		t.Errorf("Create capabilities (-want +got):\n%s", diff)
	}
	got, err := s.Get(ctx, "t_1", c.ID)
	if err != nil || !cmp.Equal(all, got.Capabilities) {
		t.Errorf("Get capabilities = %v, %v; want %v", got.Capabilities, err, all)
	}
	res, err := s.Retest(ctx, "t_1", c.ID)
	if err != nil || !cmp.Equal(all, res.Capabilities) {
		t.Errorf("Retest capabilities = %v, %v; want %v", res.Capabilities, err, all)
	}
	none := map[string]any{}
	up, err := s.Update(ctx, "t_1", c.ID, UpdateInput{Settings: &none})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"accounts.create", "tickets.reopen"}, up.Capabilities); diff != "" {
		t.Errorf("capabilities without refField (-want +got):\n%s", diff)
	}
	bad := map[string]any{"refField": -3}
	if _, err := s.Update(ctx, "t_1", c.ID, UpdateInput{Settings: &bad}); !hasField(err, "settings.refField") {
		t.Errorf("PATCH with a bad setting = %v, want a 422 naming settings.refField", err)
	}
	list, _, err := s.List(ctx, "t_1", 10, "")
	if err != nil || len(list) != 1 || list[0].Capabilities == nil {
		t.Errorf("List = %+v, %v; want one connection with its capabilities", list, err)
	}
}

// TestIntegrationFeaturesNeedCapabilities: an integration setting that
// switches on a feature the connections cannot do is a 422 naming the
// setting and the capability, on create and on PATCH.
func TestIntegrationFeaturesNeedCapabilities(t *testing.T) {
	ctx := t.Context()
	store := newMemStore()
	s := NewService(store, &memSecrets{m: map[string][]byte{}}, &countingTester{}, Options{Resolver: testResolver(), Vendors: testVendors()})
	rc, err := s.Create(ctx, "t_1", CreateInput{Name: "rmm", Kind: KindRMM, Provider: "acmermm", BaseURL: "https://app.ninjarmm.com",
		Credentials: Credentials{"clientId": "id", "clientSecret": "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	noRef, err := s.Create(ctx, "t_1", acmePSA(nil))
	if err != nil {
		t.Fatal(err)
	}
	withRef, err := s.Create(ctx, "t_1", acmePSA(map[string]any{"refField": 7}))
	if err != nil {
		t.Fatal(err)
	}
	create := func(psaID string, set Settings) error {
		_, _, err := s.CreateIntegration(ctx, "t_1", IntegrationInput{Name: "i", RMMConnectionID: rc.ID, PSAConnectionID: psaID, Settings: set})
		return err
	}
	err = create(noRef.ID, Settings{AutoCreateAccounts: true})
	if !hasField(err, "settings.autoCreateAccounts") || !strings.Contains(err.Error(), "accounts.findByRef") ||
		!strings.Contains(err.Error(), "set settings.refField on the psa connection") {
		t.Errorf("autoCreateAccounts without accounts.findByRef = %v, want a 422 naming the setting, the capability and the remedy", err)
	}
	err = create(withRef.ID, Settings{ProvisionRmmOrgs: true})
	if !hasField(err, "settings.provisionRmmOrgs") || !strings.Contains(err.Error(), "accounts.recent") ||
		!strings.Contains(err.Error(), "acmepsa does not support it") {
		t.Errorf("provisionRmmOrgs without accounts.recent = %v, want a 422 naming the capability", err)
	}
	if err := create(withRef.ID, Settings{AutoCreateAccounts: true}); err != nil {
		t.Fatalf("autoCreateAccounts with accounts.findByRef: %v", err)
	}
	ig, _, err := s.CreateIntegration(ctx, "t_1", IntegrationInput{Name: "plain", RMMConnectionID: rc.ID, PSAConnectionID: noRef.ID})
	if err != nil {
		t.Fatal(err)
	}
	on := Settings{AutoCreateAccounts: true}
	if _, err := s.UpdateIntegration(ctx, "t_1", ig.ID, IntegrationPatch{Settings: &on}); !hasField(err, "settings.autoCreateAccounts") {
		t.Errorf("PATCH autoCreateAccounts on without the capability = %v, want a 422", err)
	}
	if got, _ := s.GetIntegration(ctx, "t_1", ig.ID); got.Settings.AutoCreateAccounts {
		t.Error("the refused PATCH was saved")
	}
}

func hasField(err error, field string) bool {
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid {
		return false
	}
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// memStore is an in-memory Store for the service's own rules.
type memStore struct {
	mu    sync.Mutex
	conns map[string]Connection
	ints  map[string]Integration
}

func newMemStore() *memStore {
	return &memStore{conns: map[string]Connection{}, ints: map[string]Integration{}}
}

func (m *memStore) PutConnection(_ context.Context, c Connection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.conns[c.TenantID+"/"+c.ID] = c
	return nil
}

func (m *memStore) UpdateConnection(ctx context.Context, c Connection) error {
	return m.PutConnection(ctx, c)
}

func (m *memStore) GetConnection(_ context.Context, tenantID, id string) (Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conns[tenantID+"/"+id]
	if !ok {
		return Connection{}, apperr.New(apperr.NotFound, "no connection %s", id)
	}
	c.Capabilities = nil // as a store returns it
	return c, nil
}

func (m *memStore) ListConnections(_ context.Context, tenantID string, _ int, _ string) ([]Connection, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Connection
	for _, c := range m.conns {
		if c.TenantID == tenantID {
			c.Capabilities = nil
			out = append(out, c)
		}
	}
	return out, "", nil
}

func (m *memStore) DeleteConnection(context.Context, string, string) error { return nil }

func (m *memStore) PutIntegration(_ context.Context, in Integration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ints[in.TenantID+"/"+in.ID] = in
	return nil
}

func (m *memStore) UpdateIntegration(ctx context.Context, in Integration) error {
	return m.PutIntegration(ctx, in)
}

func (m *memStore) GetIntegration(_ context.Context, tenantID, id string) (Integration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.ints[tenantID+"/"+id]
	if !ok {
		return Integration{}, apperr.New(apperr.NotFound, "no integration %s", id)
	}
	return in, nil
}

func (m *memStore) ListIntegrations(context.Context, string, int, string) ([]Integration, string, error) {
	return nil, "", nil
}

func (m *memStore) DeleteIntegration(context.Context, Integration) error { return nil }

// memSecrets keeps secrets in memory, one version per name.
type memSecrets struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (m *memSecrets) Stage(_ context.Context, name string, value []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[name] = append([]byte(nil), value...)
	return name, nil
}
func (m *memSecrets) Promote(context.Context, string) error { return nil }
func (m *memSecrets) Get(_ context.Context, ref string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[ref], nil
}
func (m *memSecrets) Delete(context.Context, string) error { return nil }
