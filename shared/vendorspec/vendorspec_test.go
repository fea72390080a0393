package vendorspec_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

func openPSA(vendorspec.Params) (psa.Client, error) { return nil, nil }

// base is a well-formed PSA spec the tables below vary.
func base() vendorspec.Spec {
	return vendorspec.Spec{Name: "acme", Kind: vendorspec.KindPSA, DisplayName: "Acme PSA",
		Credentials: []vendorspec.CredentialField{
			{Name: "user", Required: true},
			{Name: "secret", Required: true, Secret: true, MaxLength: 8},
			{Name: "zone", Pattern: `^[a-z]{2}[0-9]$`},
		},
		Settings: []vendorspec.Setting{
			{Name: "refField", Type: vendorspec.Integer, Min: vendorspec.Int(1), Max: vendorspec.Int(999)},
			{Name: "mode", Type: vendorspec.String, Enum: []string{"fast", "safe"}, Default: "safe"},
			{Name: "code", Type: vendorspec.String, Pattern: `^[A-Z]+$`, MaxLength: 5},
			{Name: "tags", Type: vendorspec.StringList, MaxItems: 3, MaxLength: 4, Default: []string{"a"}},
			{Name: "dryRun", Type: vendorspec.Boolean, Default: true},
			{Name: "board", Type: vendorspec.String, Required: true},
		},
		Capabilities: []vendorspec.Offer{
			{Capability: vendorspec.AccountsCreate},
			{Capability: vendorspec.AccountsFindByRef, NeedsSetting: "refField"},
		},
		OpenPSA: openPSA,
	}
}

func vendor(t *testing.T, s vendorspec.Spec) *vendorspec.Vendor {
	t.Helper()
	cat, err := vendorspec.NewCatalog(s)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := cat.Vendor(s.Name)
	if !ok {
		t.Fatalf("catalog lost %s", s.Name)
	}
	return v
}

func TestValidateRefusesMalformedSpecs(t *testing.T) {
	tests := []struct {
		name string
		edit func(s *vendorspec.Spec)
		want string
	}{
		{"upper-case name", func(s *vendorspec.Spec) { s.Name = "Acme" }, "lower-case"},
		{"unknown kind", func(s *vendorspec.Spec) { s.Kind = "crm" }, "neither rmm nor psa"},
		{"RMM opener on a PSA", func(s *vendorspec.Spec) {
			s.OpenRMM = func(vendorspec.Params) (rmm.Client, error) { return nil, nil }
		}, "no RMM opener"},
		{"no display name", func(s *vendorspec.Spec) { s.DisplayName = "" }, "display name"},
		{"repeated credential", func(s *vendorspec.Spec) { s.Credentials = append(s.Credentials, s.Credentials[0]) }, `credential "user"`},
		{"bad credential pattern", func(s *vendorspec.Spec) { s.Credentials[2].Pattern = "(" }, "pattern"},
		{"unknown setting type", func(s *vendorspec.Spec) { s.Settings[0].Type = "date" }, "unknown type"},
		{"bounds on a string", func(s *vendorspec.Spec) { s.Settings[1].Min = vendorspec.Int(1) }, "integers only"},
		{"min over max", func(s *vendorspec.Spec) { s.Settings[0].Min = vendorspec.Int(5000) }, "over max"},
		{"enum on an integer", func(s *vendorspec.Spec) { s.Settings[0].Enum = []string{"1"} }, "strings only"},
		{"default of another type", func(s *vendorspec.Spec) { s.Settings[4].Default = "yes" }, "must be true or false"},
		{"default outside the enum", func(s *vendorspec.Spec) { s.Settings[1].Default = "turbo" }, "must be one of fast, safe"},
		{"required with a default", func(s *vendorspec.Spec) { s.Settings[5].Default = "x" }, "no default"},
		{"repeated setting", func(s *vendorspec.Spec) { s.Settings = append(s.Settings, s.Settings[0]) }, "repeated"},
		{"unknown capability", func(s *vendorspec.Spec) {
			s.Capabilities = append(s.Capabilities, vendorspec.Offer{Capability: "tickets.print"})
		}, "unknown capability"},
		{"RMM capability on a PSA", func(s *vendorspec.Spec) {
			s.Capabilities = append(s.Capabilities, vendorspec.Offer{Capability: vendorspec.OrgsCreate})
		}, "is a rmm capability"},
		{"capability offered twice", func(s *vendorspec.Spec) {
			s.Capabilities = append(s.Capabilities, vendorspec.Offer{Capability: vendorspec.AccountsCreate})
		}, "offered twice"},
		{"capability needing an undeclared setting", func(s *vendorspec.Spec) { s.Capabilities[1].NeedsSetting = "field" }, "undeclared setting"},
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("the base spec: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.edit(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
			if _, err := vendorspec.NewCatalog(s); err == nil {
				t.Error("NewCatalog accepted the malformed spec")
			}
		})
	}
	if _, err := vendorspec.NewCatalog(base(), base()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a vendor listed twice: %v", err)
	}
}

func TestCheckCredentials(t *testing.T) {
	v := vendor(t, base())
	tests := []struct {
		name  string
		creds map[string]string
		want  []apperr.FieldError
	}{
		{"all good", map[string]string{"user": "u", "secret": "s", "zone": "eu1"}, nil},
		{"optional left out", map[string]string{"user": "u", "secret": "s"}, nil},
		{"missing, blank and unknown", map[string]string{"secret": "  ", "region": "x", "alpha": "y"}, []apperr.FieldError{
			{Field: "credentials.user", Message: "is required for acme"},
			{Field: "credentials.secret", Message: "is required for acme"},
			{Field: "credentials.alpha", Message: "is not a acme credential"},
			{Field: "credentials.region", Message: "is not a acme credential"},
		}},
		{"over its own length", map[string]string{"user": "u", "secret": "123456789"}, []apperr.FieldError{
			{Field: "credentials.secret", Message: "must be at most 8 bytes"},
		}},
		{"over the global length", map[string]string{"user": strings.Repeat("u", 4097), "secret": "s"}, []apperr.FieldError{
			{Field: "credentials.user", Message: "must be at most 4096 bytes"},
		}},
		{"not matching its pattern", map[string]string{"user": "u", "secret": "s", "zone": "EU-1"}, []apperr.FieldError{
			{Field: "credentials.zone", Message: "must match ^[a-z]{2}[0-9]$"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, v.CheckCredentials(tc.creds)); diff != "" {
				t.Errorf("CheckCredentials (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckSettings(t *testing.T) {
	v := vendor(t, base())
	tests := []struct {
		name string
		in   map[string]any
		want vendorspec.Settings
		errs []apperr.FieldError
	}{
		{"defaults applied, others kept", map[string]any{"board": "Help Desk", "note": map[string]any{"x": 1.0}},
			vendorspec.Settings{"board": "Help Desk", "mode": "safe", "tags": []string{"a"}, "dryRun": true, "note": map[string]any{"x": 1.0}}, nil},
		{"null takes the default", map[string]any{"board": "b", "mode": nil, "dryRun": nil},
			vendorspec.Settings{"board": "b", "mode": "safe", "tags": []string{"a"}, "dryRun": true}, nil},
		{"typed from JSON", map[string]any{"board": "b", "refField": 12.0, "mode": "fast", "code": "ABC", "tags": []any{"x", "y"}, "dryRun": false},
			vendorspec.Settings{"board": "b", "refField": 12, "mode": "fast", "code": "ABC", "tags": []string{"x", "y"}, "dryRun": false}, nil},
		{"integer as decimal text (stored by earlier versions)", map[string]any{"board": "b", "refField": "42"},
			vendorspec.Settings{"board": "b", "refField": 42, "mode": "safe", "tags": []string{"a"}, "dryRun": true}, nil},
		{"required missing", map[string]any{}, nil, []apperr.FieldError{{Field: "settings.board", Message: "is required for acme"}}},
		{"every kind of wrong", map[string]any{"board": 7.0, "refField": 1000.0, "mode": "turbo", "code": "abc", "tags": []any{"ok", "toolong"}, "dryRun": "yes"},
			nil, []apperr.FieldError{
				{Field: "settings.refField", Message: "must be at most 999"},
				{Field: "settings.mode", Message: "must be one of fast, safe"},
				{Field: "settings.code", Message: "must match ^[A-Z]+$"},
				{Field: "settings.tags[1]", Message: "must be at most 4 characters"},
				{Field: "settings.dryRun", Message: "must be true or false"},
				{Field: "settings.board", Message: "must be a string"},
			}},
		{"integer with a fraction, under its minimum, too long a string, too many items", map[string]any{"board": "b", "refField": 0.5, "code": "ABCDEF", "tags": []any{"a", "b", "c", "d"}},
			nil, []apperr.FieldError{
				{Field: "settings.refField", Message: "must be an integer"},
				{Field: "settings.code", Message: "must be at most 5 characters"},
				{Field: "settings.tags", Message: "must have at most 3 items"},
			}},
		{"under the minimum, list of numbers", map[string]any{"board": "b", "refField": 0.0, "tags": []any{1.0}},
			nil, []apperr.FieldError{
				{Field: "settings.refField", Message: "must be at least 1"},
				{Field: "settings.tags", Message: "must be a list of strings"},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := v.CheckSettings(tc.in)
			if diff := cmp.Diff(tc.errs, errs, cmp.Comparer(func(a, b apperr.FieldError) bool { return a == b })); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
	// Typed accessors.
	s, _ := v.CheckSettings(map[string]any{"board": "b", "refField": 3.0, "tags": []any{"x"}})
	if s.Int("refField") != 3 || s.String("mode") != "safe" || !s.Bool("dryRun") || !cmp.Equal(s.Strings("tags"), []string{"x"}) || s.Int("nothing") != 0 {
		t.Errorf("accessors read %v wrong", s)
	}
	if _, err := v.TypedSettings(map[string]any{"board": 1.0}); !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "settings.board") {
		t.Errorf("TypedSettings of invalid stored settings = %v, want Invalid naming settings.board", err)
	}
}

// fullPSA implements every optional PSA role.
type fullPSA struct{ psa.Client }

func (fullPSA) FindAccountsByExternalRef(context.Context, string) ([]psa.Account, error) {
	return nil, nil
}
func (fullPSA) ReopenTicket(context.Context, string) error { return nil }

func TestCapabilities(t *testing.T) {
	v := vendor(t, base())
	without := v.Capabilities(vendorspec.Settings{})
	with := v.Capabilities(vendorspec.Settings{"refField": 4})
	if diff := cmp.Diff([]string{"accounts.create"}, without.Strings()); diff != "" {
		t.Errorf("without refField (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"accounts.create", "accounts.findByRef"}, with.Strings()); diff != "" {
		t.Errorf("with refField (-want +got):\n%s", diff)
	}
	err := without.Require(vendorspec.AccountsFindByRef, "creating an account")
	want := "creating an account needs capability accounts.findByRef (find accounts by rmmbridge's reference), " +
		"which the psa connection (acme) does not have: set settings.refField on the psa connection"
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.Invalid || e.Message != want {
		t.Errorf("Require = %v, want Invalid %q", err, want)
	}
	if err := without.Require(vendorspec.TicketsReopen, "reopening"); err == nil || !strings.Contains(err.Error(), "acme does not support it") {
		t.Errorf("Require of a capability never offered = %v", err)
	}

	// Through a client carrying them, the role is found on the vendor
	// client it wraps; a declared capability decides over the methods.
	c := vendorspec.WithPSA(fullPSA{}, with)
	if _, err := vendorspec.Require[psa.AccountRefFinder](c, vendorspec.AccountsFindByRef, "x"); err != nil {
		t.Errorf("Require through the wrapper: %v", err)
	}
	c = vendorspec.WithPSA(fullPSA{}, without)
	if _, err := vendorspec.Require[psa.AccountRefFinder](c, vendorspec.AccountsFindByRef, "x"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("Require of a capability the connection lacks = %v, want Invalid", err)
	}
	if vendorspec.Has(c, vendorspec.TicketsReopen) {
		t.Error("Has: the connection does not declare tickets.reopen, whatever its client can")
	}
	// A declared capability whose role is missing is a spec out of step.
	bare := vendorspec.WithPSA(struct{ psa.Client }{}, with)
	if _, err := vendorspec.Require[psa.AccountRefFinder](bare, vendorspec.AccountsFindByRef, "x"); !apperr.Is(err, apperr.Internal) {
		t.Errorf("Require of a declared role the client lacks = %v, want Internal", err)
	}
	if err := vendorspec.CheckRoles(base(), struct{ psa.Client }{}); err == nil {
		t.Error("CheckRoles accepted a client without the accounts.findByRef role")
	}
	if err := vendorspec.CheckRoles(base(), fullPSA{}); err != nil {
		t.Errorf("CheckRoles: %v", err)
	}

	// A client that declares nothing (a test fake) is judged by its roles.
	if !vendorspec.Has(fullPSA{}, vendorspec.TicketsReopen) || vendorspec.Has(struct{ psa.Client }{}, vendorspec.TicketsReopen) {
		t.Error("Has of undeclared clients does not follow their roles")
	}
	if _, err := vendorspec.Require[psa.TicketReopener](struct{ psa.Client }{}, vendorspec.TicketsReopen, "reopening"); !apperr.Is(err, apperr.Invalid) ||
		!strings.Contains(err.Error(), "reopening needs capability tickets.reopen") {
		t.Errorf("Require on an undeclared client without the role = %v", err)
	}
}
