package wire

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
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/scheduler"
)

// Scheduler builds the scheduled function. Each tick runs two passes: the
// import sweep (every unfinished import job that looks stalled is
// reconciled from its item records, and finished when they say so), then
// reverse provisioning of new PSA accounts for every integration with
// provisionRmmOrgs on, through the integration's clients (credentials from
// Secrets Manager under SECRET_PREFIX).
func Scheduler(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	e := env{Table: r.String("TABLE_NAME"), SecretPrefix: r.String("SECRET_PREFIX"),
		ImportStallAfter: r.Duration(ImportStallAfterEnv, importjob.DefaultStallAfter)}
	allowLoopback := r.Bool(AllowLoopbackEnv, false)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("scheduler: %w", err)
	}
	st := store(cfg, e.Table)
	maps := dynamostore.NewMappings(st)
	s := scheduler.New(dynamostore.NewSchedules(st), maps, account.NewService(maps, account.Options{}),
		schedulerOpener(&providers.Opener{Conns: connections(st, cfg, e, allowLoopback), Registry: registry(allowLoopback), Budgets: budgets(st)}),
		scheduler.Options{Logger: slog.Default()})
	jobs := dynamostore.NewImportJobs(st)
	sweep := scheduler.NewImportSweep(jobs, importjob.NewTracker(jobs, importjob.Options{Logger: slog.Default(), StallAfter: e.ImportStallAfter}),
		scheduler.ImportSweepOptions{StallAfter: e.ImportStallAfter, Logger: slog.Default()})
	return lambdafn.Handlers{Scheduled: scheduler.Passes(sweep.Handle, s.Handle)}, nil
}

// schedulerOpener narrows an integration's clients to what reverse
// provisioning uses; a PSA that cannot list accounts by creation date, or
// cannot provision, leaves Recent or PSA nil (the integration is skipped).
func schedulerOpener(o *providers.Opener) scheduler.Opener {
	return func(ctx context.Context, tenantID, integrationID string) (scheduler.Clients, error) {
		c, err := o.Open(ctx, tenantID, integrationID)
		if err != nil {
			return scheduler.Clients{}, err
		}
		out := scheduler.Clients{Integration: c.Integration, RMM: c.RMM}
		if p, ok := c.PSA.(account.PSA); ok {
			out.PSA = p
		}
		if r, ok := c.PSA.(psa.RecentAccounts); ok {
			out.Recent = r
		}
		return out, nil
	}
}
