// Package authorizer is the HTTP API Lambda authorizer: it maps the bearer
// credential on a request — an API key (machines) or a Cognito ID token
// (people) — to its tenant and role, answered as a simple response whose
// context the API handlers read (httpapi.Principal).
//
// A token is admitted when its signature, issuer, audience, token use and
// expiry check out (idtoken), it names a tenant (custom:tenant_id) and
// exactly one role group, and its user's record in the table exists, is
// enabled, has the token's role and was not signed out after the token was
// issued. The record is read on every invocation; API Gateway caches each
// answer per Authorization header for the authorizer's ReauthorizeEvery
// (template.yaml: 300 s), which therefore bounds how long a disabled or
// signed-out user's token keeps working. A token the gateway has not
// cached is refused at once.
package authorizer

import (
	"context"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/idtoken"
	"github.com/rmmbridge/rmmbridge/shared/limits"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// Authenticator checks a presented API key.
type Authenticator interface {
	Authenticate(ctx context.Context, presented string) (tenant.Key, error)
}

// TokenVerifier checks a Cognito ID token (idtoken.Verifier).
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (idtoken.Claims, error)
}

// UserStatuses reads a user's record (dynamostore.Users).
type UserStatuses interface {
	UserStatus(ctx context.Context, tenantID, id string) (user.Status, error)
}

// Handler is the authorizer function.
type Handler struct {
	auth   Authenticator
	tokens TokenVerifier
	users  UserStatuses
	log    *slog.Logger
}

// WithUsers makes h accept the user pool's ID tokens besides API keys.
func (h *Handler) WithUsers(tokens TokenVerifier, users UserStatuses) *Handler {
	h.tokens, h.users = tokens, users
	return h
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
	presented := BearerToken(header)
	if h.tokens != nil && idtoken.LooksLikeJWT(presented) {
		return h.serveToken(ctx, ev, presented)
	}
	k, err := h.auth.Authenticate(ctx, presented)
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
			httpapi.ContextKeyName:  k.Label,
		},
	}, nil
}

// serveToken answers for a Cognito ID token.
func (h *Handler) serveToken(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request, token string) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	deny := func(err error) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		// The reason names the check, never the token.
		h.log.InfoContext(ctx, "token refused", "route", ev.RouteKey, "sourceIp", ev.RequestContext.HTTP.SourceIP, "reason", err.Error())
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
	}
	fail := func(err error) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		h.log.ErrorContext(ctx, "token check failed", "route", ev.RouteKey, "error", err)
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, err
	}
	c, err := h.tokens.Verify(ctx, token)
	switch {
	case apperr.Is(err, apperr.Unauthorized):
		return deny(err)
	case err != nil:
		return fail(err)
	case !limits.ValidID(c.TenantID):
		return deny(apperr.New(apperr.Unauthorized, "the token names no valid tenant"))
	case !limits.ValidID(c.Subject):
		return deny(apperr.New(apperr.Unauthorized, "the token names no valid user"))
	}
	role, err := user.RoleOf(c.Groups)
	if err != nil {
		return deny(err)
	}
	st, err := h.users.UserStatus(ctx, c.TenantID, c.Subject)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return deny(apperr.New(apperr.Unauthorized, "no such user"))
	case err != nil:
		return fail(err)
	}
	if err := st.Admits(role, c.IssuedAt); err != nil {
		return deny(err)
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{
		IsAuthorized: true,
		Context: map[string]any{
			httpapi.ContextTenantID: c.TenantID,
			httpapi.ContextRole:     role,
			httpapi.ContextUserID:   c.Subject,
			httpapi.ContextEmail:    c.Email,
		},
	}, nil
}
