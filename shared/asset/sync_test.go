package asset_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/assetrefreshfn"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

const syncRoute = assetrefreshfn.SyncRoute

func assetSchema(t *testing.T) *openapi3.Schema {
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
	return doc.Components.Schemas["Asset"].Value
}

// TestSyncHandler runs the Sync button (the asset-refresh function's HTTP
// edge, assetrefreshfn.SyncHandler) over the asset service of this
// package's harness.
func TestSyncHandler(t *testing.T) {
	tests := []struct {
		name   string
		iid    string
		device string
		role   string
		setup  func(h *harness)
		status int
		detail string
	}{
		{name: "refreshes and answers the asset", iid: "i_a", device: "1001", role: "operator", status: 200},
		{name: "device the RMM does not know", iid: "i_a", device: "1999", role: "operator", status: 404,
			detail: "the RMM has no device 1999"},
		{name: "unknown integration", iid: "i_x", device: "1001", role: "operator", status: 404, detail: "no integration i_x"},
		{name: "unmapped organization", iid: "i_a", device: "1001", role: "admin", status: 409,
			setup:  func(h *harness) { delete(h.maps, "o1") },
			detail: "device 1001 was not synced: organization o1 is not mapped"},
		{name: "serial tie", iid: "i_a", device: "1001", role: "operator", status: 409,
			setup: func(h *harness) {
				for _, id := range []string{"61", "62"} {
					h.psa.put(psa.Asset{ID: id, SerialNumber: "5CG3211XYZ"})
				}
			},
			detail: "device 1001 was not synced: serial number 5CG3211XYZ matches 2 PSA assets (61, 62); choose one"},
		{name: "PSA throttling is a 429", iid: "i_a", device: "1001", role: "operator", status: 429,
			setup: func(h *harness) {
				h.psa.fail = func(string) error { return &apperr.Error{Kind: apperr.Throttled, Message: "PSA is rate limiting"} }
			},
			detail: "PSA is rate limiting"},
		{name: "viewers may not sync", iid: "i_a", device: "1001", role: "viewer", status: 403,
			detail: `role "viewer" may not call ` + syncRoute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.setup != nil {
				tc.setup(h)
			}
			open := func(_ context.Context, _, iid string) (asset.Clients, error) {
				if iid != "i_a" {
					return asset.Clients{}, apperr.New(apperr.NotFound, "no integration %s", iid)
				}
				return h.clients(), nil
			}
			rt := httpapi.NewRouter(httpapi.Options{})
			rt.Handle(syncRoute, httpapi.Operator, assetrefreshfn.SyncHandler(h.svc, open))
			resp, err := rt.Serve(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: syncRoute,
				PathParameters: map[string]string{"integrationId": tc.iid, "deviceId": tc.device},
				RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "r1",
					Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
						Lambda: map[string]any{"tenantId": "t_a", "role": tc.role, "keyId": "k_1"}}}})
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body is not JSON: %s", resp.Body)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%v), want %d", resp.StatusCode, body, tc.status)
			}
			if tc.status != 200 {
				if body["detail"] != tc.detail {
					t.Errorf("detail = %q, want %q", body["detail"], tc.detail)
				}
				return
			}
			if err := assetSchema(t).VisitJSON(body); err != nil {
				t.Errorf("body does not match the Asset schema: %v", err)
			}
			if body["assetId"] != "501" || body["deviceId"] != "1001" || body["name"] != "ACME-LT-042" {
				t.Errorf("body = %v, want the created asset 501 of device 1001", body)
			}
			if h.psa.count("create") != 1 {
				t.Errorf("creates = %d, want 1", h.psa.count("create"))
			}
		})
	}
}
