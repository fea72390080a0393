// Package importdispatchfn builds the import-dispatch function (one
// organization of an import per ImportQueue message) from its environment.
package importdispatchfn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/conns"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/queues"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/sqsclient"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Build builds the per-organization import worker: devices fan out to
// ASSET_QUEUE_URL; throttled messages go back to IMPORT_QUEUE_URL with the
// vendor's delay.
func Build(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	table, importQueue, assetQueue, secretPrefix := r.String("TABLE_NAME"), r.URL("IMPORT_QUEUE_URL"), r.URL("ASSET_QUEUE_URL"), r.String("SECRET_PREFIX")
	allowLoopback := r.Bool(fnenv.AllowLoopbackEnv, false)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("import-dispatch: %w", err)
	}
	st := fnenv.Table(cfg, table)
	q := sqsclient.New(cfg)
	jobs := dynamostore.NewImportJobs(st)
	o := importjob.Options{Logger: slog.Default()}
	d := importjob.NewDispatcher(importjob.DispatcherDeps{
		Store:    jobs,
		Tracker:  importjob.NewTracker(jobs, o),
		Accounts: account.NewService(dynamostore.NewMappings(st), account.Options{}),
		Opener:   opener{cachedOpener(conns.Opener(st, conns.Service(st, cfg, secretPrefix, allowLoopback), allowLoopback))},
		Sender:   queues.Sender{Client: q},
		Queues:   importjob.Queues{Import: importQueue, Asset: assetQueue},
		Links:    dynamostore.NewAssets(st),
		Options:  o,
	})
	proc := sqsbatch.Processor{Name: "import-dispatch", QueueURL: importQueue, Vis: q, Log: slog.Default(),
		Lane: ratelimit.LaneImport} // after alerts and the Sync button
	return lambdafn.Handlers{SQS: proc.Handler(d.Dispatch)}, nil
}

// cachedOpener reuses integration and connection reads for conns.ReadTTL.
func cachedOpener(o *providers.Opener) *providers.Opener {
	o.ReadTTL = conns.ReadTTL
	return o
}

// opener narrows an integration's clients to what an import uses; a PSA
// that cannot look accounts up by rmmbridge's reference leaves PSA nil (its
// organizations then fail with that reason).
type opener struct{ o *providers.Opener }

func (o opener) Open(ctx context.Context, tenantID, integrationID string) (importjob.Clients, error) {
	c, err := o.o.Open(ctx, tenantID, integrationID)
	if err != nil {
		return importjob.Clients{}, err
	}
	out := importjob.Clients{Integration: c.Integration, RMM: c.RMM}
	out.PSA, out.NoPSA = vendorspec.Require[account.PSA](c.PSA, vendorspec.AccountsFindByRef, "the account decision")
	// The bulk roles: a vendor without them keeps the per-device path.
	if l, err := vendorspec.Require[rmm.DeviceSnapshotLister](c.RMM, vendorspec.DevicesSnapshot, "bulk device reads"); err == nil {
		out.Snapshots = l
	}
	if l, err := vendorspec.Require[psa.AssetLister](c.PSA, vendorspec.AssetsList, "the asset index"); err == nil {
		out.Assets = l
	}
	return out, nil
}
