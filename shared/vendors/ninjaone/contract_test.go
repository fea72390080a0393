package ninjaone

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/internal/contract"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
	"github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// The contract tests hold the client and the sandbox to NinjaOne's own
// OpenAPI document ("NinjaOne Public API 2.0", version 2.0.9-draft), as
// kept in the repository: testdata/vendor-contracts/ninjaone-openapi.yaml,
// the operations of ninjaone-openapi.keep beside it with every schema they
// reference, cut from the vendor's file by cmd/specextract. Every request
// the client sends must be an operation of the document (method, path
// template, declared query parameters with valid values, a request body
// valid against the operation's schema), and every successful sandbox
// answer must validate against the operation's response schema. The OAuth
// token endpoint is not part of the document and is the only exception.
// An operation the client or sandbox starts to use must be added to the
// keep-list and the extract regenerated (see the extract's header).

// loadDoc loads the extract once per test binary.
var loadDoc = sync.OnceValues(func() (*contract.Doc, error) {
	path, err := contract.Extract("ninjaone-openapi.yaml")
	if err != nil {
		return nil, err
	}
	// The vendor's full draft does not validate (it has conflicting
	// /v2/tag/{...} paths), but the extract must (Load checks it).
	return contract.Load(path, contract.Options{Name: "the NinjaOne API document"})
})

func loadSpec(t *testing.T) *contract.Doc {
	t.Helper()
	d, err := loadDoc()
	if err != nil {
		t.Fatalf("the NinjaOne OpenAPI extract: %v", err)
	}
	return d
}

func isTokenEndpoint(ex contract.Exchange) bool {
	return ex.Method == http.MethodPost && (ex.Path == "/ws/oauth/token" || ex.Path == "/oauth/token")
}

// exerciseClient makes every call of the client, with small pages so that
// keyset parameters appear.
func exerciseClient(t *testing.T, c *Client) {
	t.Helper()
	ctx := context.Background()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("TestConnection", c.TestConnection(ctx))
	orgs, err := c.ListOrganizations(ctx)
	must("ListOrganizations", err)
	_, err = c.GetOrganization(ctx, orgs[0].ID)
	must("GetOrganization", err)
	_, err = c.ListSites(ctx, orgs[0].ID)
	must("ListSites", err)
	devs, err := rmm.AllDevices(ctx, c, orgs[0].ID)
	must("ListDevices", err)
	_, err = c.GetDevice(ctx, devs[0].ID)
	must("GetDevice", err)
	for cursor := ""; ; {
		p, err := c.ListDeviceSnapshots(ctx, orgs[0].ID, cursor)
		must("ListDeviceSnapshots", err)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	org, err := c.CreateOrganization(ctx, rmm.NewOrganization{Name: "Contract Test Org", Description: "d", Sites: []string{"HQ", "Lab"}})
	must("CreateOrganization", err)
	_, err = c.CreateSite(ctx, org.ID, "Annex")
	must("CreateSite", err)
	_, err = c.ListAlerts(ctx, "")
	must("ListAlerts", err)
	_, err = c.ListAlerts(ctx, orgs[0].ID)
	must("ListAlerts(org)", err)
}

// TestClientRequestsMatchTheVendorDocument checks every request the client
// sends against the NinjaOne OpenAPI document.
func TestClientRequestsMatchTheVendorDocument(t *testing.T) {
	spec := loadSpec(t)
	e := newEnv(t, sandbox.Options{Seed: 2, Orgs: 7, Devices: 40}, Config{PageSize: 3, ReportPageSize: 10})
	exerciseClient(t, e.client)
	problems, got, checked := spec.CheckRequests(e.rec.Exchanges(), isTokenEndpoint)
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d requests checked; operations used by the client:\n  %s", checked, strings.Join(got, "\n  "))
	if len(got) < 10 {
		t.Errorf("only %d distinct operations were exercised", len(got))
	}
}

// TestSandboxAnswersMatchTheVendorDocument validates the sandbox's answers
// to the client, and to the endpoints the client does not use, against the
// document's response schemas.
func TestSandboxAnswersMatchTheVendorDocument(t *testing.T) {
	spec := loadSpec(t)
	e := newEnv(t, sandbox.Options{Seed: 4, Orgs: 6, Devices: 120}, Config{PageSize: 4, ReportPageSize: 10})
	exerciseClient(t, e.client)
	ctx := context.Background()
	for _, path := range []string{
		"/v2/organizations?pageSize=2&after=1", "/v2/locations?pageSize=5", "/v2/devices?df=class%20%3D%20MAC",
		"/v2/organization/2/devices?pageSize=3", "/v2/device/5/alerts", "/v2/alerts?df=org%20in%20(1,2,3)",
		"/v2/device/1/volumes", "/v2/device/2/last-logged-on-user",
		"/v2/queries/volumes?pageSize=10", "/v2/queries/logged-on-users?df=org%20%3D%202&pageSize=10",
		"/v2/queries/computer-systems?pageSize=10&df=org%20in%20(1,2)",
	} {
		u := e.url + path
		if _, err := e.client.http.Do(ctx, vendorhttp.Request{Path: u}, nil); err != nil {
			t.Errorf("GET %s: %v", path, err)
		}
	}
	problems, validated := spec.CheckResponses(e.rec.Exchanges(), isTokenEndpoint)
	for _, p := range problems {
		t.Error(p)
	}
	answers := 0
	for _, n := range validated {
		answers += n
	}
	if len(validated) < 17 {
		t.Errorf("validated answers of %d operations, want at least 17: %v", len(validated), validated)
	}
	t.Logf("%d answers validated, of %d operations: %v", answers, len(validated), validated)
}

// TestContractCheckerCatchesDrift proves the checker is not vacuous: a
// request outside the document and an answer that breaks its schema are
// both reported.
func TestContractCheckerCatchesDrift(t *testing.T) {
	spec := loadSpec(t)
	tests := []struct {
		name string
		ex   contract.Exchange
		req  bool
	}{
		{name: "unknown path", ex: contract.Exchange{Method: "GET", Path: "/v2/device/1/serials"}, req: true},
		{name: "undeclared query parameter", ex: contract.Exchange{Method: "GET", Path: "/v2/devices-detailed", Query: map[string][]string{"orgId": {"1"}}}, req: true},
		{name: "non-integer path id", ex: contract.Exchange{Method: "GET", Path: "/v2/device/abc"}, req: true},
		{name: "wrong type in answer", ex: contract.Exchange{Method: "GET", Path: "/v2/device/1", Status: 200, ContentType: "application/json", Body: []byte(`{"id":"one","lastContact":"yesterday"}`)}},
		{name: "request body of the wrong type", ex: contract.Exchange{Method: "POST", Path: "/v2/organizations", RequestBody: []byte(`{"name":5,"locations":"HQ"}`)}, req: true},
		{name: "uid that is not a uuid", ex: contract.Exchange{Method: "GET", Path: "/v2/device/1", Status: 200, ContentType: "application/json", Body: []byte(`{"id":1,"uid":"not-a-uuid"}`)}},
		{name: "bad enum in answer", ex: contract.Exchange{Method: "GET", Path: "/v2/devices-detailed", Status: 200, ContentType: "application/json", Body: []byte(`[{"id":1,"nodeClass":"TOASTER"}]`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var problems []string
			if tt.req {
				problems = spec.CheckRequest(tt.ex)
			} else {
				problems, _ = spec.CheckResponse(tt.ex)
			}
			if len(problems) == 0 {
				t.Error("the checker found nothing wrong")
			}
		})
	}
}
