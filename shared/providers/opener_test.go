package providers_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/secretstore"
	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
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
