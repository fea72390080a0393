package connection

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// settingsTester records the settings each test was given and refuses
// those it is told to.
type settingsTester struct {
	got    []map[string]any
	refuse error
}

func (s *settingsTester) Test(context.Context, string, string, Credentials) error {
	panic("the service must use TestSettings when the tester has it")
}

func (s *settingsTester) TestSettings(_ context.Context, _, _ string, _ Credentials, settings map[string]any) error {
	s.got = append(s.got, settings)
	return s.refuse
}

// TestTestAndSaveGivesTheVendorTheSettings: a SettingsTester is given the
// connection's typed settings on create, retest and a PATCH that retests,
// and a refusal naming settings fields is a 422 naming those fields (a
// vendor checking its defaults against its own picklists: Autotask).
func TestTestAndSaveGivesTheVendorTheSettings(t *testing.T) {
	ctx := t.Context()
	tester := &settingsTester{}
	s := NewService(newMemStore(), &memSecrets{m: map[string][]byte{}}, tester, Options{Resolver: testResolver(), Vendors: testVendors()})
	c, err := s.Create(ctx, "t_1", acmePSA(map[string]any{"refField": float64(12)}))
	if err != nil {
		t.Fatal(err)
	}
	typed := map[string]any{"refField": 12, "mode": "safe", "verbose": false}
	if _, err := s.Retest(ctx, "t_1", c.ID); err != nil {
		t.Fatal(err)
	}
	creds := Credentials{"companyId": "acme", "publicKey": "pub", "privateKey": "new-private", "clientId": "guid"}
	changed := map[string]any{"refField": 13}
	if _, err := s.Update(ctx, "t_1", c.ID, UpdateInput{Credentials: creds, Settings: &changed}); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{typed, typed, {"refField": 13, "mode": "safe", "verbose": false}}
	if d := cmp.Diff(want, tester.got); d != "" {
		t.Errorf("settings the vendor test was given (-want +got):\n%s", d)
	}

	tester.refuse = apperr.InvalidFields(apperr.FieldError{Field: "settings.refField", Message: "names no custom field of this tenant"})
	_, err = s.Create(ctx, "t_1", acmePSA(map[string]any{"refField": 99}))
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "settings.refField" {
		t.Errorf("Create refused for a setting = %v (fields %+v), want a 422 naming settings.refField", err, e.Fields)
	}
	tester.refuse = apperr.New(apperr.Unauthorized, "the keys are wrong")
	_, err = s.Create(ctx, "t_1", acmePSA(nil))
	if !hasField(err, "credentials") {
		t.Errorf("Create refused for the credentials = %v, want a 422 naming credentials", err)
	}
}
