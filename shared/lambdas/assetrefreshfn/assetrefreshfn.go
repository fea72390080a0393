// Package assetrefreshfn builds the asset-refresh function (the AssetQueue
// worker and the Sync button) from its environment.
package assetrefreshfn

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/conns"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/sqsclient"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// SyncRoute is the route key the function serves (template.yaml's HttpApi
// event of AssetRefreshFunction): the Sync button.
const SyncRoute = "POST /v1/integrations/{integrationId}/assets/{deviceId}/sync"

// Build builds the asset upsert worker (AssetQueue; throttled messages go
// back to ASSET_QUEUE_URL with the vendor's delay) and the Sync button
// (SyncRoute).
func Build(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	table, assetQueue, secretPrefix := r.String("TABLE_NAME"), r.URL("ASSET_QUEUE_URL"), r.String("SECRET_PREFIX")
	allowLoopback := r.Bool(fnenv.AllowLoopbackEnv, false)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("asset-refresh: %w", err)
	}
	st := fnenv.Table(cfg, table)
	svc := asset.NewService(dynamostore.NewAssets(st), dynamostore.NewMappings(st), asset.Options{})
	cs := conns.Service(st, cfg, secretPrefix, allowLoopback)
	open := assetOpener(conns.Opener(st, cs, allowLoopback))

	rt := httpapi.NewRouter(httpapi.Options{Logger: slog.Default()})
	rt.Handle(SyncRoute, httpapi.Operator, SyncHandler(svc, open))

	// The queue worker reuses integration and connection reads for a few
	// seconds (one import refreshes many devices of one integration); the
	// Sync button reads them each time.
	queued := conns.Opener(st, cs, allowLoopback)
	queued.ReadTTL = conns.ReadTTL
	jobs := dynamostore.NewImportJobs(st)
	w := asset.NewWorker(svc, assetOpener(queued), importjob.NewTracker(jobs, importjob.Options{Logger: slog.Default()}), slog.Default())
	proc := sqsbatch.Processor{
		Name:     "asset-refresh",
		QueueURL: assetQueue,
		Vis:      sqsclient.New(cfg),
		Log:      slog.Default(),
		Lane:     ratelimit.LaneImport, // after alerts and the Sync button
	}
	return lambdafn.Handlers{HTTP: rt.Serve, SQS: proc.FinishingHandler(w.Batch)}, nil
}

// SyncHandler is the Sync button (POST
// /v1/integrations/{integrationId}/assets/{deviceId}/sync): it refreshes the
// device now and answers 200 with the asset. An unknown integration or a
// device the RMM does not know is 404; a device of an unmapped
// organization, or whose serial number matches several PSA assets, is 409
// with the reason. Its vendor requests are in the sync lane of their
// request budgets: one that would wait more than 5 s answers 429 with
// Retry-After at once.
func SyncHandler(svc *asset.Service, open asset.Opener) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		ctx = ratelimit.WithLane(ctx, ratelimit.LaneSync)
		sc := tenancy.Scope{TenantID: r.Principal.TenantID, IntegrationID: r.PathParam("integrationId"), Actor: r.Principal.Actor()}
		c, err := open(ctx, sc.TenantID, sc.IntegrationID)
		if err != nil {
			return nil, err
		}
		deviceID := r.PathParam("deviceId")
		res, err := svc.Refresh(ctx, sc, c, deviceID)
		if err != nil {
			return nil, err
		}
		switch res.Outcome {
		case importjob.Skipped, importjob.Review:
			return nil, apperr.New(apperr.Conflict, "device %s was not synced: %s", deviceID, res.Reason)
		}
		return httpapi.JSON(http.StatusOK, res.Link.View()), nil
	}
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
