package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
)

// AlertWorker builds the alert → ticket worker (AlertQueue): tickets are
// written through the integration's PSA client, asset refreshes go to
// ASSET_QUEUE_URL.
func AlertWorker(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	e := env{Table: r.String("TABLE_NAME"), AssetQueue: r.URL("ASSET_QUEUE_URL"), AlertQueue: r.URL("ALERT_QUEUE_URL"), SecretPrefix: r.String("SECRET_PREFIX")}
	allowLoopback := r.Bool(AllowLoopbackEnv, false)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("alert-worker: %w", err)
	}
	st := store(cfg, e.Table)
	opener := &providers.Opener{Conns: connections(st, cfg, e, allowLoopback), Registry: registry(allowLoopback), Budgets: budgets(st)}
	q := sqsqueue.New(sqs.NewFromConfig(cfg))
	svc := alertService(st, q, e.AssetQueue)
	w := alert.NewWorker(svc, opener.Open, sqsbatch.Processor{Name: "alert-worker", QueueURL: e.AlertQueue, Vis: q, Log: slog.Default()})
	return lambdafn.Handlers{SQS: w.Handle}, nil
}

// alertService is the alert lifecycle over the table: alert links, asset
// links and mappings, with asset refreshes sent to assetQueueURL. With a
// nil sender it can only list (the api function).
func alertService(st *dynamostore.Store, sender *sqsqueue.Client, assetQueueURL string) *alert.Service {
	maps := dynamostore.NewMappings(st)
	var refresh alert.AssetQueue
	if sender != nil {
		refresh = assetRefreshQueue{q: sender, url: assetQueueURL}
	}
	return alert.NewService(
		dynamostore.NewAlerts(st),
		alertAssets{svc: assetService(st)},
		alertAccounts{maps: maps, svc: account.NewService(maps, account.Options{})},
		refresh,
		alert.Options{Logger: slog.Default()},
	)
}

// alertAssets gives the alert lifecycle the asset links and the refresh.
type alertAssets struct{ svc *asset.Service }

func (a alertAssets) LinkedAsset(ctx context.Context, sc account.Scope, deviceID string) (alert.AssetRef, error) {
	l, err := a.svc.Get(ctx, sc, deviceID)
	if err != nil {
		return alert.AssetRef{}, err
	}
	return alert.AssetRef{AssetID: l.AssetID, AccountID: l.AccountID, LocationID: l.LocationID}, nil
}

func (a alertAssets) EnsureAsset(ctx context.Context, sc account.Scope, c providers.Clients, deviceID string) (alert.AssetRef, error) {
	res, err := a.svc.Refresh(ctx, sc, asset.Clients{RMM: c.RMM, PSA: c.PSA}, deviceID)
	if err != nil {
		return alert.AssetRef{}, err
	}
	if res.Link.AssetID == "" {
		return alert.AssetRef{}, nil
	}
	return alert.AssetRef{AssetID: res.Link.AssetID, AccountID: res.Link.AccountID, LocationID: res.Link.LocationID}, nil
}

// alertAccounts gives the alert lifecycle the mappings and the account
// decision (account.Service.EnsureMapped).
type alertAccounts struct {
	maps dynamostore.Mappings
	svc  *account.Service
}

func (a alertAccounts) GetMapping(ctx context.Context, sc account.Scope, orgID string) (account.Mapping, error) {
	return a.maps.GetMapping(ctx, sc, orgID)
}

// EnsureAccount gives an unmapped organization the account the account
// decision says: linked to a confident auto-match, or created (exactly
// once, with the integration's account defaults) when nothing matches and
// the integration has autoCreateAccounts on. Otherwise — several accounts
// could match, or creating is off — nothing is written and the error
// carries account.ErrNoAccount with the reason and the candidates.
func (a alertAccounts) EnsureAccount(ctx context.Context, sc account.Scope, c providers.Clients, orgID string) (account.Mapping, error) {
	p, ok := c.PSA.(account.PSA)
	if !ok {
		return account.Mapping{}, apperr.New(apperr.NotImplemented, "this PSA cannot create accounts exactly once (no lookup by rmmbridge's reference)")
	}
	org, err := c.RMM.GetOrganization(ctx, orgID)
	if err != nil {
		return account.Mapping{}, fmt.Errorf("read organization %s: %w", orgID, err)
	}
	s := c.Integration.Settings
	return a.svc.EnsureMapped(ctx, sc, p, org, account.Policy{Create: s.AutoCreateAccounts, Setting: "autoCreateAccounts"},
		account.NewAccountSpec{Status: s.AccountDefaults.Status, Type: s.AccountDefaults.Type})
}

// assetRefreshQueue sends alert-triggered refreshes to the AssetQueue, in
// the tenant's fair-queue group.
type assetRefreshQueue struct {
	q   *sqsqueue.Client
	url string
}

func (a assetRefreshQueue) EnqueueRefresh(ctx context.Context, m importjob.AssetMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode asset message: %w", err)
	}
	return a.q.Send(ctx, a.url, sqsqueue.Message{Body: string(b), GroupID: m.TenantID})
}
