package authorizer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/tenant"
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
			Context: map[string]any{"tenantId": "t_acme", "role": "operator", "keyId": k.ID}}},
		{"lowercase scheme", "bearer " + key, events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true,
			Context: map[string]any{"tenantId": "t_acme", "role": "operator", "keyId": k.ID}}},
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
