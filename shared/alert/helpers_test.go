package alert_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/devtools/fastsqs"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/alertwebhookfn"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmfake"
	"github.com/rmmbridge/rmmbridge/shared/secretstore"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// quiet discards logs in tests.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// ninjaParser is the real NinjaOne client, opened through the provider
// registry (parsing makes no request).
func ninjaParser(t testing.TB) rmm.Client {
	t.Helper()
	c, err := providers.Registry{}.RMM("ninjaone", "https://app.ninjarmm.com", connection.Credentials{"clientId": "id", "clientSecret": "secret"})
	if err != nil {
		t.Fatalf("open the NinjaOne client: %v", err)
	}
	return c
}

// newTable creates the project's table layout in moto.
func newTable(t testing.TB) (*dynamostore.Store, *dynamodb.Client) {
	t.Helper()
	return newTableOn(t, motoserver.ForTest(t))
}

// newTableOn creates the table layout where cfg points.
func newTableOn(t testing.TB, cfg aws.Config) (*dynamostore.Store, *dynamodb.Client) {
	t.Helper()
	client := dynamodb.NewFromConfig(cfg)
	table := testtable.Create(t, client, "alert")
	return dynamostore.New(client, table), client
}

// newFIFOQueue creates a FIFO queue like the template's AlertQueue.
func newFIFOQueue(t testing.TB) (string, *sqs.Client) {
	t.Helper()
	ctx := context.Background()
	client := sqs.NewFromConfig(motoserver.ForTest(t))
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(motoserver.UniqueName("alerts") + ".fifo"),
		Attributes: map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false",
			"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId", "VisibilityTimeout": "60"},
	})
	if err != nil {
		t.Fatalf("create FIFO queue: %v", err)
	}
	url := aws.ToString(out.QueueUrl)
	t.Cleanup(func() {
		_, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
	})
	return url, client
}

// hookEnv is an integration ready to receive webhooks: connections and the
// integration in the table (with its webhook pointer), the secret in
// Secrets Manager, the real NinjaOne parser, and a FIFO queue.
type hookEnv struct {
	store    *dynamostore.Store
	conns    dynamostore.Connections
	connSvc  *connection.Service
	secrets  *secretstore.Store
	alerts   dynamostore.Alerts
	ig       connection.Integration
	secret   string
	queueURL string
	sqs      *sqs.Client
	sender   *sqsqueue.Client
}

func newHookEnv(t testing.TB) *hookEnv {
	t.Helper()
	ctx := context.Background()
	st, _ := newTable(t)
	cfg := motoserver.ForTest(t)
	e := &hookEnv{store: st, conns: dynamostore.NewConnections(st), alerts: dynamostore.NewAlerts(st)}
	e.secrets = secretstore.New(secretsmanager.NewFromConfig(cfg), "rmmbridge/"+motoserver.UniqueName("test")+"/",
		secretstore.WithRecoveryWindow(0))
	now := time.Date(2026, 1, 6, 14, 0, 0, 0, time.UTC)
	for _, c := range []connection.Connection{
		{ID: "c_rmm", TenantID: "t_demo", Name: "ninja", Kind: connection.KindRMM, Provider: "ninjaone", BaseURL: "https://app.ninjarmm.com", CreatedAt: now, UpdatedAt: now},
		{ID: "c_psa", TenantID: "t_demo", Name: "cw", Kind: connection.KindPSA, Provider: "connectwise", BaseURL: "https://cw.example.com", CreatedAt: now, UpdatedAt: now},
	} {
		if err := e.conns.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	e.connSvc = connection.NewService(e.conns, e.secrets, nil, connection.Options{})
	ig, secret, err := e.connSvc.CreateIntegration(ctx, "t_demo", connection.IntegrationInput{Name: "prod",
		RMMConnectionID: "c_rmm", PSAConnectionID: "c_psa"})
	if err != nil {
		t.Fatalf("create integration: %v", err)
	}
	e.ig, e.secret = ig, secret
	t.Cleanup(func() { _ = e.secrets.Delete(context.Background(), ig.WebhookSecretRef) })
	e.queueURL, e.sqs = newFIFOQueue(t)
	e.sender = sqsqueue.New(e.sqs)
	return e
}

// parsers gives every integration the NinjaOne parser.
type parsers struct{ p rmm.WebhookParser }

func (p parsers) WebhookParser(context.Context, connection.Integration) (rmm.WebhookParser, error) {
	return p.p, nil
}

// sqsQueue is the production adapter's shape: sqsqueue to the FIFO queue.
type sqsQueue struct {
	c   *sqsqueue.Client
	url string
}

func (q sqsQueue) Enqueue(ctx context.Context, m alert.QueueMessage) error {
	return q.c.Send(ctx, q.url, sqsqueue.Message{Body: m.Body, GroupID: m.GroupID, DedupID: m.DedupID})
}

// webhook builds the handler over the env's real adapters; queue may
// replace the SQS queue.
func (e *hookEnv) webhook(t testing.TB, queue alert.Queue, o alert.WebhookOptions) *alert.Webhook {
	t.Helper()
	if queue == nil {
		queue = sqsQueue{c: e.sender, url: e.queueURL}
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	return alert.NewWebhook(e.conns, e.secrets, parsers{ninjaParser(t)}, e.alerts, queue, o)
}

// router serves the webhook as the alert-webhook function does.
// router serves the webhook through the alert-webhook function's HTTP edge.
func router(w *alert.Webhook) *httpapi.Router {
	rt := httpapi.NewRouter(httpapi.Options{Logger: quiet, MaxBody: alert.MaxBody})
	rt.Handle(alertwebhookfn.Route, httpapi.Public, alertwebhookfn.Handler(w))
	return rt
}

// hookRequest is a webhook delivery as API Gateway hands it over.
func hookRequest(integrationID string, body []byte, headers, query map[string]string) events.APIGatewayV2HTTPRequest {
	h := map[string]string{"content-type": "application/json; charset=UTF-8"}
	for k, v := range headers {
		h[k] = v
	}
	return events.APIGatewayV2HTTPRequest{
		RouteKey: "POST /v1/webhooks/{integrationId}/rmm", RawPath: "/v1/webhooks/" + integrationID + "/rmm",
		Headers: h, QueryStringParameters: query, PathParameters: map[string]string{"integrationId": integrationID},
		Body: string(body), RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-test"},
	}
}

// activity is a NinjaOne CONDITION activity as the webhook posts it.
type activity struct {
	ID           int64           `json:"id"`
	ActivityTime float64         `json:"activityTime"`
	DeviceID     int             `json:"deviceId"`
	Severity     string          `json:"severity"`
	Priority     string          `json:"priority"`
	SeriesUID    string          `json:"seriesUid"`
	ActivityType string          `json:"activityType"`
	StatusCode   string          `json:"statusCode"`
	Status       string          `json:"status"`
	SourceName   string          `json:"sourceName"`
	Subject      string          `json:"subject"`
	Message      string          `json:"message"`
	Type         string          `json:"type"`
	Data         json.RawMessage `json:"data,omitempty"`
	Device       json.RawMessage `json:"device,omitempty"`
}

var t0 = time.Date(2026, 1, 6, 14, 8, 32, 0, time.UTC)

// condition builds the activity id of series on device, triggered or
// reset, at t0 + offset.
func condition(id int64, series string, device int, triggered bool, offset time.Duration) activity {
	a := activity{ID: id, ActivityTime: float64(t0.Add(offset).UnixMilli()) / 1000, DeviceID: device, Severity: "MAJOR",
		Priority: "HIGH", SeriesUID: series, ActivityType: "CONDITION", StatusCode: "TRIGGERED", Status: "Triggered",
		SourceName: "Memory utilization above 90%", Subject: fmt.Sprintf("Memory usage high on PC-%d", device),
		Message: "Memory utilization 93% is above the 90% threshold", Type: "Condition",
		Data:   json.RawMessage(`{"message":{"code":"vmm_cond_memory_usage_ge","params":{"threshold":"90","value":"93","unit":"%"}}}`),
		Device: json.RawMessage(fmt.Sprintf(`{"id":%d,"organizationId":12,"locationId":34,"systemName":"PC-%d"}`, device, device))}
	if !triggered {
		a.StatusCode, a.Status = "RESET", "Reset"
		a.Subject = fmt.Sprintf("Memory usage back to normal on PC-%d", device)
		a.Message = "Memory utilization 61% is below the 90% threshold"
	}
	return a
}

func (a activity) body(t testing.TB) []byte {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ---------------------------------------------------------------- PSA and RMM fakes

// fakePSA is the shared in-memory PSA (shared/psa/psafake): it runs
// ticket lifecycles (ids from 101) and counts every write; its Client
// cannot reopen tickets, its Reopener can. Calls beyond the ticket
// lifecycle answer NotImplemented: the alert worker makes none.
type fakePSA = psafake.PSA

func newFakePSA() *fakePSA {
	return psafake.New(psafake.Only("CreateTicket", "GetTicket", "AddTicketNote", "CloseTicket", "TicketTouched",
		"FindTicketsByExternalRef", "ReopenTicket"))
}

// newFakeRMM is the shared in-memory RMM with the real NinjaOne webhook
// parser, holding organizations and devices for routing.
func newFakeRMM(t testing.TB, orgs []rmm.Organization, devices ...rmm.Device) *rmmfake.Client {
	t.Helper()
	r := rmmfake.New(rmmfake.WebhookParser(ninjaParser(t)))
	r.AddOrganizations(orgs...)
	for _, d := range devices {
		r.PutDevice(d)
	}
	return r.Client()
}

// ---------------------------------------------------------------- routing fakes

// fakeAssets holds asset links; EnsureAsset "syncs" a device into a new
// asset under its organization's account.
type fakeAssets struct {
	mu      sync.Mutex
	links   map[string]alert.AssetRef
	ensured []string
	// unsyncable devices come back without an asset.
	unsyncable map[string]bool
}

func newFakeAssets() *fakeAssets {
	return &fakeAssets{links: map[string]alert.AssetRef{}, unsyncable: map[string]bool{}}
}

func (a *fakeAssets) LinkedAsset(_ context.Context, _ tenancy.Scope, deviceID string) (alert.AssetRef, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.links[deviceID]
	if !ok {
		return alert.AssetRef{}, apperr.New(apperr.NotFound, "no asset for device %s", deviceID)
	}
	return l, nil
}

func (a *fakeAssets) EnsureAsset(_ context.Context, _ tenancy.Scope, _ alert.Clients, deviceID string) (alert.AssetRef, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ensured = append(a.ensured, deviceID)
	if a.unsyncable[deviceID] {
		return alert.AssetRef{}, nil
	}
	ref := alert.AssetRef{AssetID: "asset-" + deviceID, AccountID: "acct-synced", LocationID: "loc-synced"}
	a.links[deviceID] = ref
	return ref, nil
}

// fakeAccounts holds mappings; EnsureAccount follows the account decision
// (account.Decide) over a per-organization auto-match result (no_match
// when none is set): a confident match is linked, a missing account is
// created when the integration auto-creates accounts, and otherwise the
// answer is the decision's *account.NoAccountError, as
// account.Service.EnsureMapped answers.
type fakeAccounts struct {
	mu       sync.Mutex
	mappings map[string]account.Mapping
	matches  map[string]account.MatchResult
	created  []string
	linked   []string
}

func newFakeAccounts() *fakeAccounts {
	return &fakeAccounts{mappings: map[string]account.Mapping{}, matches: map[string]account.MatchResult{}}
}

func (a *fakeAccounts) GetMapping(_ context.Context, _ tenancy.Scope, orgID string) (account.Mapping, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.mappings[orgID]
	if !ok {
		return account.Mapping{}, apperr.New(apperr.NotFound, "no mapping for organization %s", orgID)
	}
	return m, nil
}

func (a *fakeAccounts) EnsureAccount(ctx context.Context, _ tenancy.Scope, c alert.Clients, orgID string) (account.Mapping, error) {
	orgs, ok := c.RMM.(rmm.OrganizationGetter)
	if !ok {
		return account.Mapping{}, apperr.New(apperr.NotImplemented, "the test's RMM has no organizations")
	}
	org, err := orgs.GetOrganization(ctx, orgID)
	if err != nil {
		return account.Mapping{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	d := account.Decide(org, account.Facts{Match: a.matches[orgID]}, account.Policy{Create: c.Integration.Settings.AutoCreateAccounts, Setting: "autoCreateAccounts"})
	m := account.Mapping{OrganizationID: orgID, OrganizationName: org.Name, State: account.StateMapped, Sites: map[string]string{}}
	switch d.Action {
	case account.ActionLink:
		m.AccountID, m.Mode = d.Target.Account.ID, account.ModeLinked
		a.linked = append(a.linked, orgID)
	case account.ActionCreate:
		m.AccountID, m.Mode = "acct-new-"+orgID, account.ModeCreated
		a.created = append(a.created, orgID)
	default:
		return account.Mapping{}, &account.NoAccountError{Decision: d}
	}
	a.mappings[orgID] = m
	return m, nil
}

// accountEnsurer is the fake account sync of an integration.
type accountEnsurer interface {
	EnsureAccount(ctx context.Context, sc tenancy.Scope, c alert.Clients, orgID string) (account.Mapping, error)
}

// testSync binds the fake asset and account sync to one integration's
// clients, as alertworkerfn binds the real ones.
type testSync struct {
	c        alert.Clients
	assets   *fakeAssets
	accounts accountEnsurer
}

func (s testSync) EnsureAsset(ctx context.Context, sc tenancy.Scope, deviceID string) (alert.AssetRef, error) {
	return s.assets.EnsureAsset(ctx, sc, s.c, deviceID)
}

func (s testSync) EnsureAccount(ctx context.Context, sc tenancy.Scope, orgID string) (account.Mapping, error) {
	return s.accounts.EnsureAccount(ctx, sc, s.c, orgID)
}

// withSync returns c with its Sync bound to the fakes.
func withSync(c alert.Clients, assets *fakeAssets, accounts accountEnsurer) alert.Clients {
	c.Sync = testSync{c: c, assets: assets, accounts: accounts}
	return c
}

// fakeRefresh records asset refresh requests.
type fakeRefresh struct {
	mu   sync.Mutex
	msgs []queuemsg.AssetRefresh
}

func (f *fakeRefresh) EnqueueRefresh(_ context.Context, m queuemsg.AssetRefresh) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, m)
	return nil
}

func (f *fakeRefresh) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.msgs)
}

// useFastSQS moves the env's queue to a fastsqs server of the test's own
// (DynamoDB and Secrets Manager stay on moto).
func (e *hookEnv) useFastSQS(t testing.TB) {
	t.Helper()
	srv, err := fastsqs.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start fastsqs: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	e.sqs = sqs.NewFromConfig(motoserver.ForTest(t), func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL()) })
	out, err := e.sqs.CreateQueue(context.Background(), &sqs.CreateQueueInput{
		QueueName: aws.String("alerts.fifo"),
		Attributes: map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false",
			"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId", "VisibilityTimeout": "360"},
	})
	if err != nil {
		t.Fatalf("create the FIFO queue in fastsqs: %v", err)
	}
	e.queueURL = aws.ToString(out.QueueUrl)
	e.sender = sqsqueue.New(e.sqs)
}
