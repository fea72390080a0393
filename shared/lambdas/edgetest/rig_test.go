package edgetest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/conns"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

const tenantID = "t_edge"

// rig is one tenant's integration NinjaOne → ConnectWise on sandboxes,
// saved in the template's table and Secrets Manager on moto, with the
// environment the functions are built from.
type rig struct {
	cfg   aws.Config
	st    *dynamostore.Store
	env   map[string]string
	ninja *ninjasandbox.Server
	cw    *cwsandbox.Server
	cwLog *requestLog
	svc   *connection.Service
	rmmID string
	psaID string
	igID  string
	sqs   *sqs.Client
}

type rigOptions struct {
	rmmSettings, psaSettings map[string]any
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	ctx := context.Background()
	cfg := motoserver.SafeForTest(t)
	table := testtable.Create(t, dynamodb.NewFromConfig(cfg), "edge")
	st := fnenv.Table(cfg, table)
	r := &rig{cfg: cfg, st: st, sqs: sqs.NewFromConfig(cfg)}

	r.ninja = ninjasandbox.New(ninjasandbox.Options{Orgs: 2, Devices: 6})
	nsrv := httptest.NewServer(r.ninja.Handler())
	t.Cleanup(nsrv.Close)
	r.cw = cwsandbox.New(cwsandbox.Options{CompanyID: "acme", PublicKey: "pub", PrivateKey: "priv", ClientID: "cid", OrgCount: 3})
	r.cwLog = &requestLog{next: r.cw.Handler()}
	csrv := httptest.NewServer(r.cwLog)
	t.Cleanup(csrv.Close)

	prefix := "rmmbridge/" + motoserver.UniqueName("edge") + "/"
	r.env = map[string]string{
		"TABLE_NAME":              table,
		"SECRET_PREFIX":           prefix,
		"ALERT_QUEUE_URL":         r.queue(t, "alerts.fifo"),
		"ASSET_QUEUE_URL":         r.queue(t, "assets"),
		"IMPORT_QUEUE_URL":        r.queue(t, "imports"),
		fnenv.AllowLoopbackEnv:    "true",
		fnenv.ImportStallAfterEnv: "5m",
	}
	r.svc = conns.Service(st, cfg, prefix, true)
	cid, secret := r.ninja.Credentials()
	rc, err := r.svc.Create(ctx, tenantID, connection.CreateInput{Name: "ninja", Kind: "rmm", Provider: "ninjaone", BaseURL: nsrv.URL,
		Credentials: connection.Credentials{"clientId": cid, "clientSecret": secret}, Settings: o.rmmSettings})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := r.svc.Create(ctx, tenantID, connection.CreateInput{Name: "cw", Kind: "psa", Provider: "connectwise",
		BaseURL:     csrv.URL + cwsandbox.BasePath,
		Credentials: connection.Credentials{"companyId": "acme", "publicKey": "pub", "privateKey": "priv", "clientId": "cid"},
		Settings:    o.psaSettings})
	if err != nil {
		t.Fatal(err)
	}
	catchAll := ""
	for _, c := range r.cw.Companies() {
		if !c.Deleted {
			catchAll = strconv.Itoa(c.ID)
			break
		}
	}
	ig, _, err := r.svc.CreateIntegration(ctx, tenantID, connection.IntegrationInput{Name: "pair", RMMConnectionID: rc.ID, PSAConnectionID: pc.ID,
		Settings: connection.Settings{CatchAllAccountID: catchAll,
			TicketDefaults: map[string]string{"board": "Help Desk", "status": "New", "type": "Incident"}}})
	if err != nil {
		t.Fatal(err)
	}
	r.rmmID, r.psaID, r.igID = rc.ID, pc.ID, ig.ID
	// Every organization mapped to that account (with clients outside any
	// budget), so that refreshes reach the PSA.
	c, err := (&providers.Opener{Conns: r.svc, Registry: conns.Registry(true)}).Open(ctx, tenantID, ig.ID)
	if err != nil {
		t.Fatal(err)
	}
	accounts := account.NewService(dynamostore.NewMappings(st), account.Options{})
	for _, org := range r.ninja.Orgs() {
		if _, err := accounts.Map(ctx, tenancy.Scope{TenantID: tenantID, IntegrationID: ig.ID, Actor: "test"}, c.RMM, account.PSAOf(c.PSA),
			strconv.Itoa(org.ID), account.MapInput{AccountID: catchAll}); err != nil {
			t.Fatalf("map organization %d: %v", org.ID, err)
		}
	}
	r.cwLog.reset() // "Test & save" requests are not the test's
	return r
}

// queue creates a queue (FIFO when its name says so) and returns its URL.
func (r *rig) queue(t *testing.T, name string) string {
	t.Helper()
	in := &sqs.CreateQueueInput{QueueName: aws.String(motoserver.UniqueName("q") + "-" + name),
		Attributes: map[string]string{"VisibilityTimeout": "1"}}
	if strings.HasSuffix(name, ".fifo") {
		in.Attributes["FifoQueue"] = "true"
	}
	out, err := r.sqs.CreateQueue(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

func (r *rig) getenv(name string) string { return r.env[name] }

// build builds a function from the rig's environment.
func (r *rig) build(t *testing.T, f lambdafn.Factory) lambdafn.Handlers {
	t.Helper()
	h, err := f(context.Background(), r.getenv, r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// instance is another function instance's view of a connection's budget:
// its own Budgets (local state) over the same table.
func (r *rig) instance(connID string, b ratelimit.Budget) (*ratelimit.Budgets, *ratelimit.Limiter) {
	bs := ratelimit.NewBudgets(dynamostore.NewBudgets(r.st), ratelimit.Options{})
	return bs, bs.Limiter(ratelimit.ID{Tenant: tenantID, Key: providers.BudgetKey(connID)}, b)
}

// opener is another function instance's opener of the integration's
// clients (its own budgets' local state, the same table).
func (r *rig) opener() *providers.Opener {
	return conns.Opener(r.st, r.svc, true)
}

// requestLog records when the sandbox answered each request and how many
// were in flight at once.
type requestLog struct {
	next http.Handler

	mu       sync.Mutex
	at       []time.Time
	inFlight int
	most     int
}

func (l *requestLog) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	l.mu.Lock()
	l.inFlight++
	l.most = max(l.most, l.inFlight)
	l.at = append(l.at, time.Now())
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.inFlight--
		l.mu.Unlock()
	}()
	l.next.ServeHTTP(w, req)
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.at, l.most = nil, 0
}

func (l *requestLog) snapshot() (at []time.Time, most int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.at...), l.most
}
