// Package authorizerfn builds the authorizer function (API key or the user
// pool's ID token → tenant and role) from its environment. It reads the
// table and verifies tokens against the pool's JWKS: no vendor client, no
// queue, no Secrets Manager, no Cognito SDK.
package authorizerfn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/authorizer"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/userpool"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
)

// Build builds the authorizer over TABLE_NAME: API keys, and the ID tokens
// of the user pool (USER_POOL_ID, USER_POOL_CLIENT_ID, USER_POOL_ISSUER)
// checked against the user's record.
func Build(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	table := r.String("TABLE_NAME")
	up := userpool.Read(r)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("authorizer: %w", err)
	}
	st := fnenv.Table(cfg, table)
	v, err := userpool.Verifier(getenv, cfg, up)
	if err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("authorizer: %w", err)
	}
	h := authorizer.New(tenant.NewService(dynamostore.NewTenants(st)), slog.Default()).WithUsers(v, dynamostore.NewUsers(st))
	return lambdafn.Handlers{Authorizer: h.Serve}, nil
}
