// Package alertworkerfn builds the alert-worker function (alert → ticket,
// on the AlertQueue) from its environment.
package alertworkerfn

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/conns"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/sqsclient"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Build builds the alert → ticket worker (AlertQueue): tickets are written
// through the integration's PSA client in the alert lane of its request
// budget, asset refreshes go to ASSET_QUEUE_URL; an alert that would wait
// for the budget longer than the invocation has left goes back to
// ALERT_QUEUE_URL with that delay.
func Build(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	table, assetQueueURL, alertQueueURL, secretPrefix := r.String("TABLE_NAME"), r.URL("ASSET_QUEUE_URL"), r.URL("ALERT_QUEUE_URL"), r.String("SECRET_PREFIX")
	allowLoopback := r.Bool(fnenv.AllowLoopbackEnv, false)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("alert-worker: %w", err)
	}
	st := fnenv.Table(cfg, table)
	opener := conns.Opener(st, conns.Service(st, cfg, secretPrefix, allowLoopback), allowLoopback)
	maps := dynamostore.NewMappings(st)
	assets := asset.NewService(dynamostore.NewAssets(st), maps, asset.Options{})
	accounts := account.NewService(maps, account.Options{})
	q := sqsclient.New(cfg)
	svc := alert.NewService(
		dynamostore.NewAlerts(st),
		linkedAssets{svc: assets},
		maps,
		assetRefreshQueue{q: q, url: assetQueueURL},
		alert.Options{Logger: slog.Default()},
	)
	w := alert.NewWorker(svc, alertOpener(opener, assets, accounts), slog.Default())
	proc := sqsbatch.Processor{Name: "alert-worker", QueueURL: alertQueueURL, Vis: q, Log: slog.Default(), Lane: ratelimit.LaneAlert}
	return lambdafn.Handlers{SQS: proc.BatchHandler(w.Prepare)}, nil
}

// alertOpener narrows an integration's clients to what its alerts use, and
// binds the asset and account sync to them.
func alertOpener(o *providers.Opener, assets *asset.Service, accounts *account.Service) alert.Opener {
	return func(ctx context.Context, tenantID, integrationID string) (alert.Clients, error) {
		c, err := o.Open(ctx, tenantID, integrationID)
		if err != nil {
			return alert.Clients{}, err
		}
		return alert.Clients{Integration: c.Integration, RMM: c.RMM, PSA: c.PSA,
			Sync: boundSync{c: c, assets: assets, accounts: accounts}}, nil
	}
}

// linkedAssets gives the alert lifecycle the devices' asset links.
type linkedAssets struct{ svc *asset.Service }

func (a linkedAssets) LinkedAsset(ctx context.Context, sc tenancy.Scope, deviceID string) (alert.AssetRef, error) {
	l, err := a.svc.Get(ctx, sc, deviceID)
	if err != nil {
		return alert.AssetRef{}, err
	}
	return alert.AssetRef{AssetID: l.AssetID, AccountID: l.AccountID, LocationID: l.LocationID}, nil
}

// boundSync is the asset and account sync with one integration's clients.
type boundSync struct {
	c        providers.Clients
	assets   *asset.Service
	accounts *account.Service
}

func (b boundSync) EnsureAsset(ctx context.Context, sc tenancy.Scope, deviceID string) (alert.AssetRef, error) {
	res, err := b.assets.Refresh(ctx, sc, asset.Clients{RMM: b.c.RMM, PSA: b.c.PSA}, deviceID)
	if err != nil {
		return alert.AssetRef{}, err
	}
	if res.Link.AssetID == "" {
		return alert.AssetRef{}, nil
	}
	return alert.AssetRef{AssetID: res.Link.AssetID, AccountID: res.Link.AccountID, LocationID: res.Link.LocationID}, nil
}

// EnsureAccount gives an unmapped organization the account the account
// decision says: linked to a confident auto-match, or created (exactly
// once, with the integration's account defaults) when nothing matches and
// the integration has autoCreateAccounts on. Otherwise — several accounts
// could match, or creating is off — nothing is written and the error
// carries account.ErrNoAccount with the reason and the candidates.
func (b boundSync) EnsureAccount(ctx context.Context, sc tenancy.Scope, orgID string) (account.Mapping, error) {
	p, err := vendorspec.Require[account.PSA](b.c.PSA, vendorspec.AccountsFindByRef, "routing an alert of an unmapped organization (the account decision)")
	if err != nil {
		return account.Mapping{}, err
	}
	org, err := b.c.RMM.GetOrganization(ctx, orgID)
	if err != nil {
		return account.Mapping{}, fmt.Errorf("read organization %s: %w", orgID, err)
	}
	s := b.c.Integration.Settings
	return b.accounts.EnsureMapped(ctx, sc, p, org, account.Policy{Create: s.AutoCreateAccounts, Setting: "autoCreateAccounts"},
		account.NewAccountSpec{Status: s.AccountDefaults.Status, Type: s.AccountDefaults.Type})
}

// assetRefreshQueue sends alert-triggered refreshes to the AssetQueue, in
// the tenant's fair-queue group.
type assetRefreshQueue struct {
	q   *sqsqueue.Client
	url string
}

func (a assetRefreshQueue) EnqueueRefresh(ctx context.Context, m queuemsg.AssetRefresh) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode asset message: %w", err)
	}
	return a.q.Send(ctx, a.url, sqsqueue.Message{Body: string(b), GroupID: m.TenantID})
}
