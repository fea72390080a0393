// Package userpool is what the api and authorizer functions' wiring share
// about the Cognito user pool: its settings from the environment and the
// verifier of its ID tokens (against the pool's JWKS). It links no AWS
// service client: the authorizer verifies tokens without the Cognito SDK.
package userpool

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/idtoken"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// Pool is the user pool a function reads from its environment
// (template.yaml: USER_POOL_ID, USER_POOL_CLIENT_ID, USER_POOL_ISSUER).
type Pool struct {
	ID, ClientID, Issuer string
}

// Read reads the pool's settings; r reports what is missing.
func Read(r *config.Reader) Pool {
	return Pool{ID: r.String("USER_POOL_ID"), ClientID: r.String("USER_POOL_CLIENT_ID"), Issuer: r.URL("USER_POOL_ISSUER")}
}

// CognitoEndpointEnv is the SDK's service-specific endpoint variable for
// Cognito user pools.
const CognitoEndpointEnv = "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"

// JWKSURL is where the pool's signing keys are: <issuer>/.well-known/jwks.json
// in AWS; when the SDK is pointed at another endpoint (moto, through the
// SDK's own endpoint settings), that endpoint's /<poolId>/.well-known/jwks.json,
// where moto serves them.
func JWKSURL(getenv func(string) string, cfg aws.Config, p Pool) string {
	base := strings.TrimSpace(getenv(CognitoEndpointEnv))
	if base == "" && cfg.BaseEndpoint != nil {
		base = *cfg.BaseEndpoint
	}
	if base != "" {
		return strings.TrimRight(base, "/") + "/" + p.ID + "/.well-known/jwks.json"
	}
	return strings.TrimRight(p.Issuer, "/") + "/.well-known/jwks.json"
}

// Verifier builds the verifier of the pool's ID tokens (keys cached).
func Verifier(getenv func(string) string, cfg aws.Config, p Pool) (*idtoken.Verifier, error) {
	v, err := idtoken.New(idtoken.Config{Issuer: p.Issuer, ClientID: p.ClientID, JWKSURL: JWKSURL(getenv, cfg, p),
		HTTP: &http.Client{Timeout: 3 * time.Second}})
	if err != nil {
		return nil, fmt.Errorf("user pool token verifier: %w", err)
	}
	return v, nil
}

// TokenReader reads the user of a verified ID token (user.TokenReader).
type TokenReader struct{ V *idtoken.Verifier }

var _ user.TokenReader = TokenReader{}

// Read implements user.TokenReader.
func (t TokenReader) Read(ctx context.Context, tok string) (user.TokenUser, error) {
	c, err := t.V.Verify(ctx, tok)
	if err != nil {
		return user.TokenUser{}, err
	}
	role, err := user.RoleOf(c.Groups)
	if err != nil {
		return user.TokenUser{}, err
	}
	return user.TokenUser{UserID: c.Subject, TenantID: c.TenantID, Role: role, IssuedAt: c.IssuedAt}, nil
}
