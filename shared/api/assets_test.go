package api

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// newAssetTable creates the project's table layout in moto.
func newAssetTable(t *testing.T) *dynamostore.Store {
	t.Helper()
	client := dynamodb.NewFromConfig(motoserver.ForTest(t))
	table := testtable.Create(t, client, "api")
	return dynamostore.New(client, table)
}

// noSecrets is a secret store that is never asked for anything here.
type noSecrets struct{}

func (noSecrets) Stage(context.Context, string, []byte) (string, error) { return "", nil }
func (noSecrets) Promote(context.Context, string) error                 { return nil }
func (noSecrets) Get(context.Context, string) ([]byte, error)           { return nil, nil }
func (noSecrets) Delete(context.Context, string) error                  { return nil }

// openapiSchema returns a component schema of the repository's openapi.yaml.
func openapiSchema(t *testing.T, name string) *openapi3.Schema {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join(dir, "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ref, ok := doc.Components.Schemas[name]
	if !ok {
		t.Fatalf("openapi.yaml has no schema %s", name)
	}
	return ref.Value
}

func assetRequest(route string, params, query map[string]string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{RouteKey: route, PathParameters: params, QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-1",
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				Lambda: map[string]any{"tenantId": "t_a", "role": "viewer", "keyId": "k_1"}}}}
}

const (
	listAssetsRoute = "GET /v1/integrations/{integrationId}/assets"
	getAssetRoute   = "GET /v1/integrations/{integrationId}/assets/{deviceId}"
)

func TestAssetRoutes(t *testing.T) {
	ctx := context.Background()
	st := newAssetTable(t)
	conns := dynamostore.NewConnections(st)
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, c := range []connection.Connection{
		{ID: "c_rmm", TenantID: "t_a", Name: "rmm", Kind: connection.KindRMM, Provider: "ninjaone", CreatedAt: now, UpdatedAt: now},
		{ID: "c_psa", TenantID: "t_a", Name: "psa", Kind: connection.KindPSA, Provider: "connectwise", CreatedAt: now, UpdatedAt: now},
	} {
		if err := conns.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := conns.PutIntegration(ctx, connection.Integration{ID: "i_a", TenantID: "t_a", Name: "prod",
		RMMConnectionID: "c_rmm", PSAConnectionID: "c_psa", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	links := dynamostore.NewAssets(st)
	sc := tenancy.Scope{TenantID: "t_a", IntegrationID: "i_a"}
	for i, id := range []string{"1001", "1002", "1003"} {
		org := "o1"
		if id == "1002" {
			org = "o2"
		}
		l := asset.Link{DeviceID: id, OrganizationID: org, AssetID: "50" + string(rune('1'+i)), AccountID: "250",
			LocationID: "31", Hash: "h", State: asset.StateLinked, Version: 1, LastSyncedAt: now, Name: "PC-" + id,
			SerialNumber: "SN-" + id, OS: "Windows 11 Pro 23H2 (22631)", LastLoggedInUser: `ACME\jdoe`,
			LastCheckIn: now.Add(-time.Hour),
			Storage:     asset.Storage{TotalBytes: 512, FreeBytes: 128, Volumes: []asset.Volume{{Name: "C:", CapacityBytes: 512, FreeBytes: 128}}}}
		claim := asset.Link{DeviceID: id, State: asset.StateCreating, LeaseOwner: "w", LeaseUntil: now.Add(time.Minute), Version: 0}
		if err := links.ClaimLink(ctx, sc, claim, now); err != nil {
			t.Fatal(err)
		}
		if err := links.PutLink(ctx, sc, l, asset.Precondition{Owner: "w"}); err != nil {
			t.Fatal(err)
		}
	}
	svc := asset.NewService(links, dynamostore.NewMappings(st), asset.Options{})
	rt := New(Deps{Connections: connection.NewService(conns, noSecrets{}, nil, connection.Options{}), Assets: svc})

	serve := func(t *testing.T, ev events.APIGatewayV2HTTPRequest) (int, map[string]any) {
		t.Helper()
		resp, err := rt.Serve(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
			t.Fatalf("body is not JSON: %s", resp.Body)
		}
		return resp.StatusCode, body
	}
	ids := func(body map[string]any) []string {
		var out []string
		items, _ := body["items"].([]any)
		for _, it := range items {
			out = append(out, it.(map[string]any)["deviceId"].(string))
		}
		return out
	}

	t.Run("list matches the contract", func(t *testing.T) {
		status, body := serve(t, assetRequest(listAssetsRoute, map[string]string{"integrationId": "i_a"}, nil))
		if status != http.StatusOK {
			t.Fatalf("status %d: %v", status, body)
		}
		if err := openapiSchema(t, "AssetList").VisitJSON(body); err != nil {
			t.Errorf("body does not match AssetList: %v", err)
		}
		if diff := cmp.Diff([]string{"1001", "1002", "1003"}, ids(body)); diff != "" {
			t.Errorf("devices (-want +got):\n%s", diff)
		}
		want := map[string]any{"deviceId": "1001", "assetId": "501", "accountId": "250", "locationId": "31",
			"name": "PC-1001", "serialNumber": "SN-1001", "os": "Windows 11 Pro 23H2 (22631)", "lastLoggedInUser": `ACME\jdoe`,
			"lastCheckIn": "2026-11-21T08:00:00Z", "lastSyncedAt": "2026-11-21T09:00:00Z",
			"storage": map[string]any{"totalBytes": 512.0, "freeBytes": 128.0,
				"volumes": []any{map[string]any{"name": "C:", "capacityBytes": 512.0, "freeBytes": 128.0}}}}
		if diff := cmp.Diff(want, body["items"].([]any)[0]); diff != "" {
			t.Errorf("first item (-want +got):\n%s", diff)
		}
	})
	t.Run("filtered by organization", func(t *testing.T) {
		_, body := serve(t, assetRequest(listAssetsRoute, map[string]string{"integrationId": "i_a"}, map[string]string{"organizationId": "o1"}))
		if diff := cmp.Diff([]string{"1001", "1003"}, ids(body)); diff != "" {
			t.Errorf("devices (-want +got):\n%s", diff)
		}
	})
	t.Run("paged", func(t *testing.T) {
		var got []string
		query := map[string]string{"limit": "2"}
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatal("too many pages")
			}
			_, body := serve(t, assetRequest(listAssetsRoute, map[string]string{"integrationId": "i_a"}, query))
			got = append(got, ids(body)...)
			next, _ := body["nextCursor"].(string)
			if next == "" {
				break
			}
			query = map[string]string{"limit": "2", "cursor": next}
		}
		if diff := cmp.Diff([]string{"1001", "1002", "1003"}, got); diff != "" {
			t.Errorf("devices (-want +got):\n%s", diff)
		}
	})
	t.Run("one asset matches the contract", func(t *testing.T) {
		status, body := serve(t, assetRequest(getAssetRoute, map[string]string{"integrationId": "i_a", "deviceId": "1002"}, nil))
		if status != http.StatusOK || body["assetId"] != "502" {
			t.Fatalf("status %d: %v", status, body)
		}
		if err := openapiSchema(t, "Asset").VisitJSON(body); err != nil {
			t.Errorf("body does not match Asset: %v", err)
		}
	})

	errorsCases := []struct {
		name   string
		ev     events.APIGatewayV2HTTPRequest
		status int
		detail string
	}{
		{"device never synced", assetRequest(getAssetRoute, map[string]string{"integrationId": "i_a", "deviceId": "1999"}, nil),
			404, "no synced asset for device 1999"},
		{"unknown integration (list)", assetRequest(listAssetsRoute, map[string]string{"integrationId": "i_x"}, nil),
			404, "no integration i_x"},
		{"unknown integration (get)", assetRequest(getAssetRoute, map[string]string{"integrationId": "i_x", "deviceId": "1001"}, nil),
			404, "no integration i_x"},
		{"limit out of range", assetRequest(listAssetsRoute, map[string]string{"integrationId": "i_a"}, map[string]string{"limit": "0"}),
			400, "limit: must be a whole number from 1 to 500"},
		{"foreign cursor", assetRequest(listAssetsRoute, map[string]string{"integrationId": "i_a"}, map[string]string{"cursor": "bm9wZQ"}),
			400, "cursor: is not a valid cursor"},
	}
	for _, tc := range errorsCases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := serve(t, tc.ev)
			if status != tc.status || body["detail"] != tc.detail {
				t.Errorf("got %d %v, want %d %q", status, body["detail"], tc.status, tc.detail)
			}
		})
	}
	t.Run("without the asset service the routes answer 501", func(t *testing.T) {
		resp, _ := New(Deps{}).Serve(ctx, assetRequest(listAssetsRoute, map[string]string{"integrationId": "i_a"}, nil))
		if resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("status %d, want 501", resp.StatusCode)
		}
	})
}
