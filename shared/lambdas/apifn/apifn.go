// Package apifn builds the api function (the management API) from its
// environment; functions/api/main.go and the local stack call Build.
package apifn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/api"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/conns"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/queues"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/sqsclient"
	"github.com/rmmbridge/rmmbridge/shared/providers"
)

// Build builds the management API: connections and integrations (Secrets
// Manager under SECRET_PREFIX), account sync, imports (sent to
// IMPORT_QUEUE_URL and ASSET_QUEUE_URL), assets and the alert list: every
// route but the users and sign-in ones (api.ManagementRoutes), which are the
// users function's (shared/lambdas/usersfn), so this one links no Cognito SDK.
func Build(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	table, importQueue, assetQueue, secretPrefix := r.String("TABLE_NAME"), r.URL("IMPORT_QUEUE_URL"), r.URL("ASSET_QUEUE_URL"), r.String("SECRET_PREFIX")
	stallAfter := r.Duration(fnenv.ImportStallAfterEnv, importjob.DefaultStallAfter)
	allowLoopback := r.Bool(fnenv.AllowLoopbackEnv, false)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("api: %w", err)
	}
	st := fnenv.Table(cfg, table)
	cs := conns.Service(st, cfg, secretPrefix, allowLoopback)
	jobs := dynamostore.NewImportJobs(st)
	o := importjob.Options{Logger: slog.Default(), StallAfter: stallAfter}
	clients := opener{conns.Opener(st, cs, allowLoopback)}
	rt := api.NewRoutes(api.Deps{
		Logger:      slog.Default(),
		Connections: cs,
		Clients:     clients,
		Accounts:    account.NewService(dynamostore.NewMappings(st), account.Options{}),
		Imports: importjob.NewService(jobs, importjob.NewTracker(jobs, o), queues.Sender{Client: sqsclient.New(cfg)},
			importjob.Queues{Import: importQueue, Asset: assetQueue}, o),
		Assets: asset.NewService(dynamostore.NewAssets(st), dynamostore.NewMappings(st), asset.Options{}),
		// The API only lists alert series.
		Alerts: alert.NewService(dynamostore.NewAlerts(st), nil, nil, nil, alert.Options{Logger: slog.Default()}),
		Audit:  dynamostore.NewMappings(st),
	}, api.ManagementRoutes)
	return lambdafn.Handlers{HTTP: rt.Serve}, nil
}

// opener gives the API an integration's clients.
type opener struct{ o *providers.Opener }

func (o opener) Open(ctx context.Context, tenantID, integrationID string) (api.Clients, error) {
	c, err := o.o.Open(ctx, tenantID, integrationID)
	if err != nil {
		return api.Clients{}, err
	}
	return api.Clients{Integration: c.Integration, RMM: c.RMM, PSA: c.PSA}, nil
}
