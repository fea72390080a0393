// Package schedulerfn builds the scheduler function (the periodic work on
// an EventBridge schedule) from its environment.
package schedulerfn

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/conns"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/scheduler"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Build builds the scheduled function. Each tick runs two passes: the
// import sweep (every unfinished import job that looks stalled is
// reconciled from its item records, and finished when they say so), then
// reverse provisioning of new PSA accounts for every integration with
// provisionRmmOrgs on, through the integration's clients (credentials from
// Secrets Manager under SECRET_PREFIX).
func Build(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	table, secretPrefix := r.String("TABLE_NAME"), r.String("SECRET_PREFIX")
	stallAfter := r.Duration(fnenv.ImportStallAfterEnv, importjob.DefaultStallAfter)
	allowLoopback := r.Bool(fnenv.AllowLoopbackEnv, false)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("scheduler: %w", err)
	}
	st := fnenv.Table(cfg, table)
	maps := dynamostore.NewMappings(st)
	s := scheduler.New(dynamostore.NewSchedules(st), maps, account.NewService(maps, account.Options{}),
		schedulerOpener(conns.Opener(st, conns.Service(st, cfg, secretPrefix, allowLoopback), allowLoopback)),
		scheduler.Options{Logger: slog.Default()})
	jobs := dynamostore.NewImportJobs(st)
	sweep := scheduler.NewImportSweep(jobs, importjob.NewTracker(jobs, importjob.Options{Logger: slog.Default(), StallAfter: stallAfter,
		// The sweep runs in the background (timeout 300 s, every 5 min): a
		// longer step than an API read's, so a big recount ends sooner.
		ReconcileBudget: time.Minute}),
		scheduler.ImportSweepOptions{StallAfter: stallAfter, Logger: slog.Default()})
	return lambdafn.Handlers{Scheduled: Scheduled(scheduler.Passes(sweep.OnTick, s.OnTick))}, nil
}

// Scheduled is the scheduler's EventBridge edge: each scheduled event is
// one tick of pass, its vendor requests in the import lane of their
// request budgets (background work, after alerts and the Sync button).
func Scheduled(pass scheduler.Pass) lambdafn.ScheduledHandler {
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		ctx = ratelimit.WithLane(ctx, ratelimit.LaneImport)
		return pass(ctx, scheduler.Tick{ID: ev.ID, At: ev.Time})
	}
}

// schedulerOpener narrows an integration's clients to what reverse
// provisioning uses; a PSA without accounts.recent, or an RMM without
// orgs.create, leaves Recent nil (the integration is skipped, and the log
// says why).
func schedulerOpener(o *providers.Opener) scheduler.Opener {
	return func(ctx context.Context, tenantID, integrationID string) (scheduler.Clients, error) {
		c, err := o.Open(ctx, tenantID, integrationID)
		if err != nil {
			return scheduler.Clients{}, err
		}
		out := scheduler.Clients{Integration: c.Integration, RMM: c.RMM, PSA: account.PSAOf(c.PSA)}
		const feature = "reverse provisioning"
		if _, err := vendorspec.Require[any](c.RMM, vendorspec.OrgsCreate, feature); err != nil {
			out.Unsupported = err.Error()
			return out, nil
		}
		if out.Recent, err = vendorspec.Require[psa.RecentAccounts](c.PSA, vendorspec.AccountsRecent, feature); err != nil {
			out.Unsupported = err.Error()
		}
		return out, nil
	}
}
