package authorizer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/idtoken"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

type failingAuth struct{}

func (failingAuth) Authenticate(context.Context, string) (tenant.Key, error) {
	return tenant.Key{}, errors.New("table unreachable")
}

func TestServe(t *testing.T) {
	ctx := context.Background()
	svc := tenant.NewService(tenant.NewMemStore())
	key, k, err := svc.IssueKey(ctx, "t_acme", tenant.RoleOperator, "test")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := New(svc, slog.New(slog.NewJSONHandler(&logs, nil)))

	tests := []struct {
		name   string
		header string
		want   events.APIGatewayV2CustomAuthorizerSimpleResponse
	}{
		{"valid key", "Bearer " + key, events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true,
			Context: map[string]any{"tenantId": "t_acme", "role": "operator", "keyId": k.ID, "keyName": "test"}}},
		{"lowercase scheme", "bearer " + key, events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true,
			Context: map[string]any{"tenantId": "t_acme", "role": "operator", "keyId": k.ID, "keyName": "test"}}},
		{"wrong key", "Bearer rmb_wrongwrongwrongwrong", events.APIGatewayV2CustomAuthorizerSimpleResponse{}},
		{"missing header", "", events.APIGatewayV2CustomAuthorizerSimpleResponse{}},
		{"basic scheme", "Basic " + key, events.APIGatewayV2CustomAuthorizerSimpleResponse{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := events.APIGatewayV2CustomAuthorizerV2Request{Type: "REQUEST", RouteKey: "GET /v1/connections",
				Headers: map[string]string{"authorization": tc.header}}
			got, err := h.Serve(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if strings.Contains(logs.String(), key) {
		t.Error("the API key appears in the logs")
	}
}

func TestServeStoreFailureIsAnError(t *testing.T) {
	h := New(failingAuth{}, slog.New(slog.DiscardHandler))
	_, err := h.Serve(context.Background(), events.APIGatewayV2CustomAuthorizerV2Request{
		Headers: map[string]string{"authorization": "Bearer whatever-long-enough"}})
	if err == nil {
		t.Error("Serve with an unreachable store returned no error; a denial would be cached")
	}
}

// fakeTokens verifies tokens by table: token text → claims or error.
type fakeTokens map[string]struct {
	c   idtoken.Claims
	err error
}

func (f fakeTokens) Verify(_ context.Context, tok string) (idtoken.Claims, error) {
	r, ok := f[tok]
	if !ok {
		return idtoken.Claims{}, apperr.New(apperr.Unauthorized, "token refused: bad signature")
	}
	return r.c, r.err
}

type fakeStatuses map[string]user.Status

func (f fakeStatuses) UserStatus(_ context.Context, tenantID, id string) (user.Status, error) {
	if id == "u-broken" {
		return user.Status{}, apperr.New(apperr.Unavailable, "table down")
	}
	st, ok := f[tenantID+"/"+id]
	if !ok {
		return user.Status{}, apperr.New(apperr.NotFound, "no user")
	}
	return st, nil
}

// jwt makes a token-shaped string (the fake verifier decides).
func jwt(name string) string { return "eyJhbGciOiJSUzI1NiJ9.pXw7" + name + ".sig" }

// TestServeTokens: a user's ID token is admitted with the tenant and role
// it names only when the user's record agrees; every refusal is a denial,
// an outage an error (never a cached denial); API keys keep working; the
// token never reaches the log.
func TestServeTokens(t *testing.T) {
	ctx := context.Background()
	iat := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	claims := func(tenantID, sub string, groups ...string) idtoken.Claims {
		return idtoken.Claims{Subject: sub, Email: sub + "@msp.example", TenantID: tenantID, Groups: groups, IssuedAt: iat}
	}
	toks := fakeTokens{}
	add := func(name string, c idtoken.Claims, err error) string {
		toks[jwt(name)] = struct {
			c   idtoken.Claims
			err error
		}{c, err}
		return jwt(name)
	}
	ok := add("ok", claims("t_a", "u-op", "operator"), nil)
	statuses := fakeStatuses{
		"t_a/u-op":       {Role: "operator", State: "active"},
		"t_a/u-off":      {Role: "operator", State: "active", Disabled: true},
		"t_a/u-promoted": {Role: "admin", State: "active"},
		"t_a/u-out":      {Role: "viewer", State: "active", SignedOutAt: iat.Add(time.Minute)},
		"t_a/u-gone":     {Role: "viewer", State: "deleting", Disabled: true},
	}
	svc := tenant.NewService(tenant.NewMemStore())
	key, k, err := svc.IssueKey(ctx, "t_acme", tenant.RoleViewer, "ci")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := New(svc, slog.New(slog.NewJSONHandler(&logs, nil))).WithUsers(toks, fakeStatuses(statuses))
	serve := func(tok string) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		return h.Serve(ctx, events.APIGatewayV2CustomAuthorizerV2Request{Type: "REQUEST", RouteKey: "GET /v1/connections",
			Headers: map[string]string{"authorization": "Bearer " + tok}})
	}
	got, err := serve(ok)
	want := events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true,
		Context: map[string]any{"tenantId": "t_a", "role": "operator", "userId": "u-op", "email": "u-op@msp.example"}}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("valid token = %+v, %v; want %+v", got, err, want)
	}
	got, err = serve(key)
	if err != nil || !got.IsAuthorized || got.Context["keyId"] != k.ID || got.Context["keyName"] != "ci" {
		t.Errorf("API key = %+v, %v; want authorized with the key's id and name", got, err)
	}
	for _, tc := range []struct{ name, tok string }{
		{"signature refused", jwt("forged")},
		{"expired", add("expired", idtoken.Claims{}, apperr.New(apperr.Unauthorized, "token refused: expired"))},
		{"no tenant", add("no-tenant", claims("", "u-op", "operator"), nil)},
		{"tenant with a key separator", add("bad-tenant", claims("t_a#USER", "u-op", "operator"), nil)},
		{"no role group", add("no-role", claims("t_a", "u-op"), nil)},
		{"two role groups", add("two-roles", claims("t_a", "u-op", "viewer", "admin"), nil)},
		{"user of another tenant (no record there)", add("other-tenant", claims("t_b", "u-op", "operator"), nil)},
		{"unknown user", add("unknown", claims("t_a", "u-nobody", "viewer"), nil)},
		{"disabled user", add("off", claims("t_a", "u-off", "operator"), nil)},
		{"role changed since the token (promoted)", add("promoted", claims("t_a", "u-promoted", "operator"), nil)},
		{"signed out after the token", add("out", claims("t_a", "u-out", "viewer"), nil)},
		{"being deleted", add("gone", claims("t_a", "u-gone", "viewer"), nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := serve(tc.tok)
			if err != nil || got.IsAuthorized || got.Context != nil {
				t.Errorf("= %+v, %v; want a plain denial", got, err)
			}
		})
	}
	for _, tc := range []struct{ name, tok string }{
		{"key set unavailable", add("jwks-down", idtoken.Claims{}, apperr.New(apperr.Unavailable, "jwks down"))},
		{"table unavailable", add("table-down", claims("t_a", "u-broken", "viewer"), nil)},
	} {
		if _, err := serve(tc.tok); err == nil {
			t.Errorf("%s: no error; a denial would be cached", tc.name)
		}
	}
	for tok := range toks {
		if strings.Contains(logs.String(), strings.Split(tok, ".")[1]) {
			t.Errorf("a token appears in the logs: %s", logs.String())
			break
		}
	}
	if !strings.Contains(logs.String(), "the user is disabled") {
		t.Errorf("the log does not say why a token was refused: %s", logs.String())
	}
}
