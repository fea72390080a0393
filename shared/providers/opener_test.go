package providers_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/secretstore"
	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone"
	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// TestOpenerGivesEachConnectionItsBudget: the clients an Opener opens
// draw from their connection's budget, in the table under the tenant, as
// the connection's settings configure it, and a change of the settings
// reaches the budget.
func TestOpenerGivesEachConnectionItsBudget(t *testing.T) {
	ctx := context.Background()
	cfg := motoserver.ForTest(t)
	client := dynamodb.NewFromConfig(cfg)
	table := motoserver.UniqueName("providers")
	str := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str("pk"), str("sk")},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	st := dynamostore.New(client, table)

	ninja := ninjasandbox.New(ninjasandbox.Options{Orgs: 2, Devices: 4})
	nsrv := httptest.NewServer(ninja.Handler())
	defer nsrv.Close()
	cw := cwsandbox.New(cwsandbox.Options{CompanyID: "acme", PublicKey: "pub", PrivateKey: "priv", ClientID: "cid"})
	csrv := httptest.NewServer(cw.Handler())
	defer csrv.Close()

	reg := providers.Registry{AllowLoopback: true}
	secrets := secretstore.New(secretsmanager.NewFromConfig(cfg), "rmmbridge/"+motoserver.UniqueName("prov")+"/", secretstore.WithRecoveryWindow(0))
	conns := connection.NewService(dynamostore.NewConnections(st), secrets, reg, connection.Options{AllowLoopback: true})
	cid, csecret := ninja.Credentials()
	rc, err := conns.Create(ctx, "t1", connection.CreateInput{Name: "ninja", Kind: "rmm", Provider: "ninjaone", BaseURL: nsrv.URL,
		Credentials: connection.Credentials{"clientId": cid, "clientSecret": csecret}, Settings: map[string]any{"requestsPerMinute": 4}})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := conns.Create(ctx, "t1", connection.CreateInput{Name: "cw", Kind: "psa", Provider: "connectwise", BaseURL: csrv.URL + cwsandbox.BasePath,
		Credentials: connection.Credentials{"companyId": "acme", "publicKey": "pub", "privateKey": "priv", "clientId": "cid"},
		Settings:    map[string]any{"maxConcurrency": 2}})
	if err != nil {
		t.Fatal(err)
	}
	ig, _, err := conns.CreateIntegration(ctx, "t1", connection.IntegrationInput{Name: "pair", RMMConnectionID: rc.ID, PSAConnectionID: pc.ID})
	if err != nil {
		t.Fatal(err)
	}
	budgets := ratelimit.NewBudgets(dynamostore.NewBudgets(st), ratelimit.Options{})
	o := &providers.Opener{Conns: conns, Registry: reg, Budgets: budgets}
	c, err := o.Open(ctx, "t1", ig.ID)
	if err != nil {
		t.Fatal(err)
	}
	alert := ratelimit.WithLane(ctx, ratelimit.LaneAlert)
	// Four a minute: a token request and a listing empty the bucket (two
	// tokens); a Sync-button request is then refused.
	if _, err := c.RMM.ListOrganizations(alert); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RMM.ListOrganizations(ratelimit.WithLane(ctx, ratelimit.LaneSync)); !apperr.Is(err, apperr.Throttled) {
		t.Errorf("third NinjaOne request within the minute: got %v, want Throttled", err)
	}
	if _, err := c.PSA.SearchAccounts(alert, psa.AccountQuery{Search: "Acme"}); err != nil {
		t.Fatal(err)
	}
	store := dynamostore.NewBudgets(st)
	rb, found, err := store.GetBucket(ctx, ratelimit.ID{Tenant: "t1", Key: providers.BudgetKey(rc.ID)})
	if err != nil || !found || rb.Requests != 4 || rb.Taken != 2 {
		t.Errorf("NinjaOne budget: found %v requests %d taken %d (%v), want 4 and 2", found, rb.Requests, rb.Taken, err)
	}
	pb, found, err := store.GetBucket(ctx, ratelimit.ID{Tenant: "t1", Key: providers.BudgetKey(pc.ID)})
	if err != nil || !found || pb.Requests != vendorspec.DefaultRequestsPerMinute || pb.Taken < 1 {
		t.Errorf("ConnectWise budget: found %v requests %d taken %d (%v)", found, pb.Requests, pb.Taken, err)
	}
	if leases, err := store.Leases(ctx, ratelimit.ID{Tenant: "t1", Key: providers.BudgetKey(pc.ID)}, "all"); err != nil || len(leases) != 0 {
		t.Errorf("ConnectWise leases after the request: %v %v, want none left", leases, err)
	}

	// New settings: the next client draws from the budget as configured.
	if _, err := conns.Update(ctx, "t1", rc.ID, connection.UpdateInput{Settings: &map[string]any{"requestsPerMinute": 600}}); err != nil {
		t.Fatal(err)
	}
	c, err = o.Open(ctx, "t1", ig.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RMM.ListOrganizations(alert); err != nil {
		t.Fatalf("after raising the budget: %v", err)
	}
	if rb, _, _ := store.GetBucket(ctx, ratelimit.ID{Tenant: "t1", Key: providers.BudgetKey(rc.ID)}); rb.Requests != 600 {
		t.Errorf("NinjaOne budget after the update: %d requests a minute, want 600", rb.Requests)
	}
}

// budgetPSA is a PSA vendor whose opener records the budgets it is given:
// its connection's, and one it shares by key with every connection of the
// tenant to the same vendor account (as Autotask's database).
type budgetPSA struct {
	mu     sync.Mutex
	opened []*ratelimit.Limiter
}

func (b *budgetPSA) spec() vendorspec.Spec {
	return vendorspec.Spec{Name: "acmepsa", Kind: vendorspec.KindPSA, DisplayName: "Acme PSA",
		Credentials: []vendorspec.CredentialField{{Name: "key", Required: true, Secret: true}},
		Budget:      vendorspec.Budget{RequestsPerMinute: 90, MaxConcurrency: 3},
		OpenPSA: func(p vendorspec.Params) (psa.Client, error) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.opened = append(b.opened, p.Limiter(""), p.Limiter("acme-db-"+p.Credentials["key"]))
			return psafake.New().Client(), nil
		},
	}
}

// TestOpenerBudgetsFollowTheSpecAndTheKey: the Opener gives a vendor's
// opener the connection's budget, configured by the vendor's defaults and
// the connection's budget settings, and budgets by key shared by every
// connection of the tenant that names the same key; "Test & save" opens
// clients without budgets.
func TestOpenerBudgetsFollowTheSpecAndTheKey(t *testing.T) {
	ctx := context.Background()
	cfg := motoserver.ForTest(t)
	st := dynamostore.New(dynamodb.NewFromConfig(cfg), testtable.Create(t, dynamodb.NewFromConfig(cfg), "providers"))
	vendor := &budgetPSA{}
	reg := providers.Registry{AllowLoopback: true, Vendors: vendorspec.MustCatalog(vendor.spec(), ninjaone.Spec)}
	secrets := secretstore.New(secretsmanager.NewFromConfig(cfg), "rmmbridge/"+motoserver.UniqueName("prov")+"/", secretstore.WithRecoveryWindow(0))
	conns := connection.NewService(dynamostore.NewConnections(st), secrets, reg, connection.Options{AllowLoopback: true})
	ninja := ninjasandbox.New(ninjasandbox.Options{Orgs: 1, Devices: 1})
	nsrv := httptest.NewServer(ninja.Handler())
	defer nsrv.Close()
	cid, csecret := ninja.Credentials()
	rc, err := conns.Create(ctx, "t1", connection.CreateInput{Name: "ninja", Kind: "rmm", Provider: "ninjaone", BaseURL: nsrv.URL,
		Credentials: connection.Credentials{"clientId": cid, "clientSecret": csecret}})
	if err != nil {
		t.Fatal(err)
	}
	var psaIDs []string
	for i, settings := range []map[string]any{nil, {"requestsPerMinute": 30}} {
		pc, err := conns.Create(ctx, "t1", connection.CreateInput{Name: "acme " + strconv.Itoa(i), Kind: "psa", Provider: "acmepsa",
			BaseURL: "http://127.0.0.1:9", Credentials: connection.Credentials{"key": "same-account"}, Settings: settings})
		if err != nil {
			t.Fatal(err)
		}
		psaIDs = append(psaIDs, pc.ID)
	}
	for _, l := range vendor.opened {
		if l != nil {
			t.Errorf("\"Test & save\" opened the client with budget %v, want none", l.ID())
		}
	}
	vendor.opened = nil

	o := &providers.Opener{Conns: conns, Registry: reg, Budgets: ratelimit.NewBudgets(dynamostore.NewBudgets(st), ratelimit.Options{})}
	for i, pid := range psaIDs {
		ig, _, err := conns.CreateIntegration(ctx, "t1", connection.IntegrationInput{Name: "pair " + strconv.Itoa(i), RMMConnectionID: rc.ID, PSAConnectionID: pid})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.Open(ctx, "t1", ig.ID); err != nil {
			t.Fatal(err)
		}
	}
	type got struct {
		ID     ratelimit.ID
		Budget ratelimit.Budget
	}
	var gots []got
	for _, l := range vendor.opened {
		if l == nil {
			t.Fatal("the Opener opened a client without a budget")
		}
		gots = append(gots, got{l.ID(), l.Budget()})
	}
	acme := func(n, c int) ratelimit.Budget {
		return ratelimit.Budget{Name: "Acme PSA", Requests: n, Window: time.Minute, MaxConcurrency: c, Ceiling: ratelimit.DefaultCeiling}
	}
	want := []got{
		{ratelimit.ID{Tenant: "t1", Key: providers.BudgetKey(psaIDs[0])}, acme(90, 3)},
		{ratelimit.ID{Tenant: "t1", Key: "acme-db-same-account"}, acme(90, 3)},
		{ratelimit.ID{Tenant: "t1", Key: providers.BudgetKey(psaIDs[1])}, acme(30, 3)},
		{ratelimit.ID{Tenant: "t1", Key: "acme-db-same-account"}, acme(30, 3)},
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("budgets opened (-want +got):\n%s", diff)
	}
	// One bucket for the shared key: what one connection takes, the other
	// sees.
	alert := ratelimit.WithLane(ctx, ratelimit.LaneAlert)
	for _, l := range []*ratelimit.Limiter{vendor.opened[1], vendor.opened[3]} {
		release, err := l.Acquire(alert, "Tickets")
		if err != nil {
			t.Fatal(err)
		}
		release(ratelimit.Outcome{Status: 200})
	}
	b, found, err := dynamostore.NewBudgets(st).GetBucket(ctx, ratelimit.ID{Tenant: "t1", Key: "acme-db-same-account"})
	if err != nil || !found || b.Taken != 2 {
		t.Errorf("the shared bucket: found %v, taken %d (%v); want both connections' 2 tokens in it", found, b.Taken, err)
	}
}
