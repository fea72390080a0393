// Package lambdaset is every function of template.yaml together: the
// factories keyed by logical id, for the local stack and the tests, and the
// demo tenant the local stack seeds. Nothing deployed imports it: each
// Lambda's main imports only its own wiring (shared/lambdas/<name>fn).
package lambdaset

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/alertwebhookfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/alertworkerfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/apifn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/assetrefreshfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/authorizerfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/consolefn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/importdispatchfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/schedulerfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/usersfn"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
)

// Functions returns every function's factory keyed by its template.yaml
// logical id.
func Functions() map[string]lambdafn.Factory {
	return map[string]lambdafn.Factory{
		"ApiFunction":            apifn.Build,
		"UsersFunction":          usersfn.Build,
		"AuthorizerFunction":     authorizerfn.Build,
		"AlertWebhookFunction":   alertwebhookfn.Build,
		"AlertWorkerFunction":    alertworkerfn.Build,
		"ImportDispatchFunction": importdispatchfn.Build,
		"AssetRefreshFunction":   assetrefreshfn.Build,
		"SchedulerFunction":      schedulerfn.Build,
		"ConsoleFunction":        consolefn.Build,
	}
}

// DemoTenantID is the tenant the local stack seeds.
const DemoTenantID = "t_demo"

// SeedDemo makes sure the demo tenant exists with an admin API key: devKey
// when given (RMMBRIDGE_DEV_API_KEY), otherwise a newly issued one. It
// returns the key to print; for a chosen key that is the key itself.
func SeedDemo(ctx context.Context, cfg aws.Config, table, devKey string) (string, error) {
	svc := tenant.NewService(dynamostore.NewTenants(fnenv.Table(cfg, table)))
	if _, err := svc.EnsureTenant(ctx, DemoTenantID, "Demo MSP"); err != nil {
		return "", fmt.Errorf("seed demo tenant: %w", err)
	}
	if devKey != "" {
		if _, err := svc.RegisterKey(ctx, DemoTenantID, tenant.RoleAdmin, "dev", devKey); err != nil {
			return "", fmt.Errorf("register RMMBRIDGE_DEV_API_KEY: %w", err)
		}
		return devKey, nil
	}
	key, _, err := svc.IssueKey(ctx, DemoTenantID, tenant.RoleAdmin, "dev (generated)")
	if err != nil {
		return "", fmt.Errorf("issue demo key: %w", err)
	}
	return key, nil
}
