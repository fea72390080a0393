// Package authorizerfn builds the authorizer function (API key → tenant and
// role) from its environment. It reads only the table: no vendor client,
// no queue, no Secrets Manager.
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
	"github.com/rmmbridge/rmmbridge/shared/tenant"
)

// Build builds the API key authorizer over TABLE_NAME.
func Build(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	table := r.String("TABLE_NAME")
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("authorizer: %w", err)
	}
	svc := tenant.NewService(dynamostore.NewTenants(fnenv.Table(cfg, table)))
	return lambdafn.Handlers{Authorizer: authorizer.New(svc, slog.Default()).Serve}, nil
}
