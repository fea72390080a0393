package wire

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
)

// AssetRefresh builds the asset upsert worker (AssetQueue) and the Sync
// button (AssetSyncRoute).
func AssetRefresh(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	e := env{Table: r.String("TABLE_NAME"), AssetQueue: r.URL("ASSET_QUEUE_URL"), SecretPrefix: r.String("SECRET_PREFIX")}
	allowLoopback := r.Bool(AllowLoopbackEnv, false)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("asset-refresh: %w", err)
	}
	st := store(cfg, e.Table)
	svc := assetService(st)
	open := assetOpener(&providers.Opener{Conns: connections(st, cfg, e, allowLoopback), Registry: registry(allowLoopback), Budgets: budgets(st)})

	rt := httpapi.NewRouter(httpapi.Options{Logger: slog.Default()})
	rt.Handle(AssetSyncRoute, httpapi.Operator, asset.SyncHandler(svc, open))

	w := asset.NewWorker(svc, open, assetRecorder(st), sqsbatch.Processor{
		Name:     "asset-refresh",
		QueueURL: e.AssetQueue,
		Vis:      sqsqueue.New(sqs.NewFromConfig(cfg)),
		Log:      slog.Default(),
	})
	return lambdafn.Handlers{HTTP: rt.Serve, SQS: w.Handle}, nil
}

// assetService is asset sync over the table's links and mappings.
func assetService(st *dynamostore.Store) *asset.Service {
	return asset.NewService(dynamostore.NewAssets(st), dynamostore.NewMappings(st), asset.Options{})
}

// assetOpener narrows an integration's clients to what a refresh uses.
func assetOpener(o *providers.Opener) asset.Opener {
	return func(ctx context.Context, tenantID, integrationID string) (asset.Clients, error) {
		c, err := o.Open(ctx, tenantID, integrationID)
		if err != nil {
			return asset.Clients{}, err
		}
		return asset.Clients{RMM: c.RMM, PSA: c.PSA}, nil
	}
}

// assetRecorder records import items' outcomes (and finishes their jobs).
func assetRecorder(st *dynamostore.Store) importjob.Recorder {
	return importjob.NewTracker(dynamostore.NewImportJobs(st), importjob.Options{Logger: slog.Default()})
}
