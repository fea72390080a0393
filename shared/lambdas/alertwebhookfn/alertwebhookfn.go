// Package alertwebhookfn builds the alert-webhook function (the RMM's
// webhook receiver) from its environment.
package alertwebhookfn

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/conns"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/sqsclient"
	"github.com/rmmbridge/rmmbridge/shared/metrics"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/secretstore"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
)

// Route is the route key the function serves (template.yaml's HttpApi
// event of AlertWebhookFunction).
const Route = "POST /v1/webhooks/{integrationId}/rmm"

// Build builds the RMM alert webhook receiver: it authenticates deliveries
// with the integration's webhook secret (HMAC secrets read from Secrets
// Manager under SECRET_PREFIX), records them in the table and enqueues them
// to ALERT_QUEUE_URL.
func Build(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	table, alertQueueURL, secretPrefix := r.String("TABLE_NAME"), r.URL("ALERT_QUEUE_URL"), r.String("SECRET_PREFIX")
	allowLoopback := r.Bool(fnenv.AllowLoopbackEnv, false)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("alert-webhook: %w", err)
	}
	st := fnenv.Table(cfg, table)
	// The webhook caches each secret by its hash in the integration, so
	// the store's own time-based cache is off: a rotation applies at once.
	secrets := conns.Secrets(cfg, secretPrefix, secretstore.WithCacheTTL(0))
	wh := alert.NewWebhook(
		dynamostore.NewConnections(st),
		secrets,
		&webhookParsers{conns: conns.Service(st, cfg, secretPrefix, allowLoopback), registry: conns.Registry(allowLoopback)},
		dynamostore.NewAlerts(st),
		alertQueue{q: sqsclient.New(cfg), url: alertQueueURL},
		alert.WebhookOptions{Logger: slog.Default()},
	)
	rt := httpapi.NewRouter(httpapi.Options{Logger: slog.Default(), MaxBody: alert.MaxBody})
	rt.Handle(Route, httpapi.Public, Handler(wh))
	return lambdafn.Handlers{HTTP: CountDeliveries(rt.Serve)}, nil
}

// CountDeliveries emits the WebhookDeliveries metric with the status each
// delivery is answered with (202 accepted, 401 wrong secret, ...).
func CountDeliveries(h lambdafn.HTTPHandler) lambdafn.HTTPHandler {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		resp, err := h(ctx, ev)
		if err == nil {
			metrics.WebhookDelivery(resp.StatusCode)
		}
		return resp, err
	}
}

// Handler is the webhook's HTTP edge: it reads the delivery out of the
// request and answers 202 with the webhook's Ack (errors become
// problem+json through the router). The router serving it must be built
// with alert.MaxBody as its MaxBody.
func Handler(wh *alert.Webhook) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		body, err := r.RawBody()
		if err != nil {
			return nil, err
		}
		ack, err := wh.Accept(ctx, alert.WebhookRequest{
			IntegrationID:    r.PathParam("integrationId"),
			Body:             body,
			ContentType:      r.Header("content-type"),
			Authorization:    r.Header("authorization"),
			Token:            r.Query("token"),
			WebhookID:        r.Header(alert.HeaderWebhookID),
			WebhookTimestamp: r.Header(alert.HeaderWebhookTimestamp),
			WebhookSignature: r.Header(alert.HeaderWebhookSignature),
			RequestID:        r.RequestID,
		})
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusAccepted, ack), nil
	}
}

// alertQueue sends AlertQueue messages through sqsqueue.
type alertQueue struct {
	q   *sqsqueue.Client
	url string
}

func (a alertQueue) Enqueue(ctx context.Context, m alert.QueueMessage) error {
	return a.q.Send(ctx, a.url, sqsqueue.Message{Body: m.Body, GroupID: m.GroupID, DedupID: m.DedupID})
}

// webhookParsers opens an integration's RMM client once per connection and
// keeps it for its webhook parser: parsing needs no request to the vendor,
// and a connection's provider never changes.
type webhookParsers struct {
	conns    *connection.Service
	registry providers.Registry

	mu    sync.Mutex
	cache map[string]rmm.WebhookParser // tenant/connection id
}

func (p *webhookParsers) WebhookParser(ctx context.Context, ig connection.Integration) (rmm.WebhookParser, error) {
	key := ig.TenantID + "/" + ig.RMMConnectionID
	p.mu.Lock()
	wp, ok := p.cache[key]
	p.mu.Unlock()
	if ok {
		return wp, nil
	}
	c, err := p.conns.Get(ctx, ig.TenantID, ig.RMMConnectionID)
	if err != nil {
		return nil, fmt.Errorf("read the RMM connection %s: %w", ig.RMMConnectionID, err)
	}
	creds, err := p.conns.Credentials(ctx, c)
	if err != nil {
		return nil, err
	}
	client, err := p.registry.RMM(c.Provider, c.BaseURL, creds)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.cache == nil {
		p.cache = map[string]rmm.WebhookParser{}
	}
	p.cache[key] = client
	p.mu.Unlock()
	return client, nil
}
