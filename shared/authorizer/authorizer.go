// Package authorizer is the HTTP API Lambda authorizer: it maps the bearer
// API key on a request to its tenant and role, answered as a simple response
// whose context the API handlers read (httpapi.Principal).
package authorizer

import (
	"context"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
)

// Authenticator checks a presented API key.
type Authenticator interface {
	Authenticate(ctx context.Context, presented string) (tenant.Key, error)
}

// Handler is the authorizer function.
type Handler struct {
	auth Authenticator
	log  *slog.Logger
}

// New returns a Handler.
func New(auth Authenticator, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{auth: auth, log: log}
}

// BearerToken extracts the token of an "Authorization: Bearer <token>" value.
func BearerToken(header string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// Serve answers one authorizer request. A wrong or missing key is a denial;
// a failure to check the key (the table is unreachable) is an error, so that
// API Gateway fails the request instead of caching a denial.
func (h *Handler) Serve(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	header := ev.Headers["authorization"]
	if header == "" && len(ev.IdentitySource) > 0 {
		header = ev.IdentitySource[0]
	}
	k, err := h.auth.Authenticate(ctx, BearerToken(header))
	switch {
	case apperr.Is(err, apperr.Unauthorized):
		h.log.InfoContext(ctx, "api key refused", "route", ev.RouteKey, "sourceIp", ev.RequestContext.HTTP.SourceIP)
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
	case err != nil:
		h.log.ErrorContext(ctx, "api key check failed", "route", ev.RouteKey, "error", err)
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, err
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{
		IsAuthorized: true,
		Context: map[string]any{
			httpapi.ContextTenantID: k.TenantID,
			httpapi.ContextRole:     k.Role,
			httpapi.ContextKeyID:    k.ID,
		},
	}, nil
}
