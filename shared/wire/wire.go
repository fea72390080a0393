// Package wire builds each function's handlers from its environment. The
// Lambda mains (functions/<name>/main.go) and the local stack call the same
// factories, so what runs locally is what is deployed.
package wire

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/api"
	"github.com/rmmbridge/rmmbridge/shared/authorizer"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/secretstore"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
)

// Functions returns every function's factory keyed by its template.yaml
// logical id.
func Functions() map[string]lambdafn.Factory {
	return map[string]lambdafn.Factory{
		"ApiFunction":            API,
		"AuthorizerFunction":     Authorizer,
		"AlertWebhookFunction":   AlertWebhook,
		"AlertWorkerFunction":    AlertWorker,
		"ImportDispatchFunction": ImportDispatch,
		"AssetRefreshFunction":   AssetRefresh,
		"SchedulerFunction":      Scheduler,
	}
}

// Route keys served outside the api function.
const (
	WebhookRoute   = "POST /v1/webhooks/{integrationId}/rmm"
	AssetSyncRoute = "POST /v1/integrations/{integrationId}/assets/{deviceId}/sync"
)

// env is the configuration every function shares; fields a function does
// not use stay empty because it never reads them.
type env struct {
	Table, ImportQueue, AssetQueue, AlertQueue, SecretPrefix string
	// ImportStallAfter is how long an import may go without progress
	// before it is reconciled from its item records (ImportStallAfterEnv).
	ImportStallAfter time.Duration
}

// ImportStallAfterEnv optionally sets, as a Go duration, how long an
// import job may go without progress before a GET or the scheduler
// reconciles it from its item records (default
// importjob.DefaultStallAfter); the local end-to-end tests shorten it.
const ImportStallAfterEnv = "IMPORT_STALL_AFTER"

func store(cfg aws.Config, table string) *dynamostore.Store {
	return dynamostore.New(dynamodb.NewFromConfig(cfg), table)
}

// AllowLoopbackEnv is a local-only switch (never in template.yaml) that lets
// connections point at the sandboxes on 127.0.0.1 over http. Every function
// reads it: it decides both what checkBaseURL accepts and what the vendor
// clients' guarded dialer connects to (loopback only; private, link-local
// and the other non-public addresses stay refused).
const AllowLoopbackEnv = "RMMBRIDGE_ALLOW_LOOPBACK_VENDORS"

// registry is the vendor client registry every function uses: its clients
// connect only to public addresses, plus loopback when allowLoopback.
func registry(allowLoopback bool) providers.Registry {
	return providers.Registry{AllowLoopback: allowLoopback}
}

// budgets are the vendors' request budgets, kept in the table and shared
// by every client the function opens.
func budgets(st *dynamostore.Store) *ratelimit.Budgets {
	return ratelimit.NewBudgets(dynamostore.NewBudgets(st), ratelimit.Options{})
}

// API builds the management API.
func API(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	e := env{Table: r.String("TABLE_NAME"), ImportQueue: r.URL("IMPORT_QUEUE_URL"), AssetQueue: r.URL("ASSET_QUEUE_URL"), SecretPrefix: r.String("SECRET_PREFIX"),
		ImportStallAfter: r.Duration(ImportStallAfterEnv, importjob.DefaultStallAfter)}
	allowLoopback := r.Bool(AllowLoopbackEnv, false)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("api: %w", err)
	}
	st := store(cfg, e.Table) // one DynamoDB client for the whole function
	conns := connections(st, cfg, e, allowLoopback)
	rt := api.New(api.Deps{
		Logger:      slog.Default(),
		Connections: conns,
		Clients:     &providers.Opener{Conns: conns, Registry: registry(allowLoopback), Budgets: budgets(st)},
		Accounts:    account.NewService(dynamostore.NewMappings(st), account.Options{}),
		Imports:     importService(st, cfg, e),
		Assets:      assetService(st),
		Alerts:      alertService(st, nil, ""),
	})
	return lambdafn.Handlers{HTTP: rt.Serve}, nil
}

// connections builds the connection service: DynamoDB for records, Secrets
// Manager for credentials, the guarded vendor registry for tests, the
// system resolver for base URL checks.
func connections(st *dynamostore.Store, cfg aws.Config, e env, allowLoopback bool) *connection.Service {
	return connection.NewService(
		dynamostore.NewConnections(st),
		secretstore.New(secretsmanager.NewFromConfig(cfg), e.SecretPrefix),
		registry(allowLoopback),
		connection.Options{AllowLoopback: allowLoopback},
	)
}

// Authorizer builds the API key authorizer.
func Authorizer(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	table := r.String("TABLE_NAME")
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("authorizer: %w", err)
	}
	svc := tenant.NewService(dynamostore.NewTenants(store(cfg, table)))
	return lambdafn.Handlers{Authorizer: authorizer.New(svc, slog.Default()).Serve}, nil
}

// DemoTenantID is the tenant the local stack seeds.
const DemoTenantID = "t_demo"

// SeedDemo makes sure the demo tenant exists with an admin API key: devKey
// when given (RMMBRIDGE_DEV_API_KEY), otherwise a newly issued one. It
// returns the key to print; for a chosen key that is the key itself.
func SeedDemo(ctx context.Context, cfg aws.Config, table, devKey string) (string, error) {
	svc := tenant.NewService(dynamostore.NewTenants(store(cfg, table)))
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
