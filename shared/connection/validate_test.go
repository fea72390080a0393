package connection

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

func TestCheckBaseURL(t *testing.T) {
	tests := []struct {
		url           string
		allowLoopback bool
		want          string // normalized URL, or "" when refused
	}{
		{"https://app.ninjarmm.com", false, "https://app.ninjarmm.com"},
		{"https://eu.ninjarmm.com/", false, "https://eu.ninjarmm.com"},
		{"https://na.myconnectwise.net/v4_6_release/apis/3.0", false, "https://na.myconnectwise.net/v4_6_release/apis/3.0"},
		{"http://app.ninjarmm.com", false, ""},
		{"ftp://app.ninjarmm.com", false, ""},
		{"app.ninjarmm.com", false, ""},
		{"https://user:pw@app.ninjarmm.com", false, ""},
		{"https://app.ninjarmm.com/?x=1", false, ""},
		{"http://169.254.169.254/latest/meta-data", true, ""},
		{"https://169.254.10.20", false, ""},
		{"https://[fe80::1]", false, ""},
		{"https://[fd00:ec2::254]", false, ""},
		{"https://metadata.google.internal", false, ""},
		{"https://0.0.0.0", true, ""},
		{"http://127.0.0.1:8081", false, ""},
		{"https://localhost:8443", false, ""},
		{"http://127.0.0.1:8081", true, "http://127.0.0.1:8081"},
		{"http://localhost:8081/", true, "http://localhost:8081"},
		{"http://[::1]:8081", true, "http://[::1]:8081"},
	}
	for _, tc := range tests {
		s := NewService(nil, nil, nil, Options{AllowLoopback: tc.allowLoopback})
		got, fe := s.checkBaseURL(tc.url)
		if tc.want == "" {
			if fe == nil || fe.Field != "baseUrl" {
				t.Errorf("checkBaseURL(%q, loopback=%v) = %q, want refusal on baseUrl", tc.url, tc.allowLoopback, got)
			}
			continue
		}
		if fe != nil || got != tc.want {
			t.Errorf("checkBaseURL(%q, loopback=%v) = %q, %v; want %q", tc.url, tc.allowLoopback, got, fe, tc.want)
		}
	}
}

func TestCheckCredentials(t *testing.T) {
	cw := Providers["connectwise"]
	got := checkCredentials(cw, Credentials{"companyId": "acme", "publicKey": "pub", "privateKey": " ", "extra": "x"})
	want := []apperr.FieldError{
		{Field: "credentials.privateKey", Message: "is required for connectwise"},
		{Field: "credentials.clientId", Message: "is required for connectwise"},
		{Field: "credentials.extra", Message: "is not a connectwise credential"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checkCredentials (-want +got):\n%s", diff)
	}
	if fe := checkCredentials(Providers["halopsa"], Credentials{"clientId": "a", "clientSecret": "b", "tenant": "t"}); fe != nil {
		t.Errorf("halopsa with optional tenant: %v, want no errors", fe)
	}
}

func TestSettingsValidate(t *testing.T) {
	s := Settings{PriorityMap: map[string]string{"critical": "P1", "urgent": "P0"}, ReopenWindowMinutes: -1}
	want := []apperr.FieldError{
		{Field: "settings.priorityMap.urgent", Message: "must be one of critical, major, moderate, minor, none"},
		{Field: "settings.reopenWindowMinutes", Message: "must be from 0 to 10080"},
	}
	if diff := cmp.Diff(want, s.validate()); diff != "" {
		t.Errorf("validate (-want +got):\n%s", diff)
	}
}

func TestCheckWebhookSecret(t *testing.T) {
	s := NewService(nil, nopSecrets{}, nil, Options{})
	ig := Integration{ID: "i_1", TenantID: "t"}
	secret, err := s.newWebhookSecret(t.Context(), &ig)
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < 40 || secret[:6] != "whsec_" {
		t.Errorf("secret %q: want whsec_ and ≥ 32 random bytes", secret)
	}
	if !ig.CheckWebhookSecret(secret) || ig.CheckWebhookSecret(secret+"x") || ig.CheckWebhookSecret("") {
		t.Error("CheckWebhookSecret accepts the wrong secret or refuses the right one")
	}
}

type nopSecrets struct{}

func (nopSecrets) Stage(_ context.Context, name string, _ []byte) (string, error) {
	return "ref:" + name, nil
}
func (nopSecrets) Promote(context.Context, string) error       { return nil }
func (nopSecrets) Get(context.Context, string) ([]byte, error) { return nil, nil }
func (nopSecrets) Delete(context.Context, string) error        { return nil }
