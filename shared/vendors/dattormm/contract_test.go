package dattormm

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/rmmbridge/rmmbridge/shared/internal/contract"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
	"github.com/rmmbridge/rmmbridge/shared/vendors/dattormm/sandbox"
)

// The contract tests hold the client and the sandbox to Datto RMM's own
// OpenAPI document ("Datto RMM API" 2.0.0, build 1.22.1), as kept in the
// repository: testdata/vendor-contracts/datto-rmm-openapi.yaml, the
// operations of datto-rmm-openapi.keep beside it with every schema they
// reference, cut from the vendor's file by cmd/specextract. Every request
// the client sends must be an operation of the document (method, path
// template below /api, declared query parameters with valid values, a
// request body valid against the operation's schema), and every successful
// sandbox answer must validate against the operation's entity schema. The
// document's generator attached that schema to the 401/403/404 answers
// instead of 200 (see vendor-apis.md §2.5); a 2xx body is checked against
// the first JSON schema the operation documents. The token endpoint
// (/auth/oauth/token) is outside the document and the only exception.

// loadDoc loads the extract once per test binary.
var loadDoc = sync.OnceValues(func() (*contract.Doc, error) {
	path, err := contract.Extract("datto-rmm-openapi.yaml")
	if err != nil {
		return nil, err
	}
	return contract.Load(path, contract.Options{
		Name: "the Datto RMM API document",
		Root: "/api",
		// Datto names a component "Account Descriptor", outside OpenAPI's
		// component-name charset; the extract keeps the vendor's names, so
		// only '/' (which would break a reference) is refused, as
		// cmd/specextract's own check does.
		ComponentNames: regexp.MustCompile(`^[^/]+$`),
		// The generator filed the entity schema under 401/403/404.
		EntitySchema: true,
		Answer:       checkAlertContexts,
	})
})

func loadSpec(t *testing.T) *contract.Doc {
	t.Helper()
	d, err := loadDoc()
	if err != nil {
		t.Fatalf("the Datto RMM OpenAPI extract: %v", err)
	}
	return d
}

// checkAlertContexts takes the alertContext out of an Alert or of each of
// an AlertsPage's alerts (the rest of the answer is then checked against
// its schema) and checks each against the branch its @class names.
func checkAlertContexts(d *contract.Doc, body any) []string {
	var problems []string
	for _, ctx := range takeAlertContexts(body) {
		if p := checkAlertContext(d, ctx); p != "" {
			problems = append(problems, p)
		}
	}
	return problems
}

// contextSchemas names the document's alertContext branch of each @class
// the sandbox sends. Alert.alertContext is a oneOf of 27 branches whose
// properties are all optional and open, with the @class discriminator on
// their common parent and no mapping: any context matches several
// branches, so no answer can pass the oneOf as written. The check takes
// each context out of the alert, validates the alert without it, and
// validates the context against the branch its @class names.
var contextSchemas = map[string]string{
	"perf_disk_usage_ctx":       "DiskUsageContext",
	"perf_resource_usage_ctx":   "ResourceUsageContext",
	"online_offline_status_ctx": "OnlineOfflineStatusContext",
}

// takeAlertContexts removes the alertContext of an Alert or of each of an
// AlertsPage's alerts, and returns them.
func takeAlertContexts(body any) []any {
	var out []any
	take := func(a any) {
		if m, ok := a.(map[string]any); ok {
			if c, ok := m["alertContext"]; ok {
				out = append(out, c)
				delete(m, "alertContext")
			}
		}
	}
	take(body)
	if m, ok := body.(map[string]any); ok {
		if list, ok := m["alerts"].([]any); ok {
			for _, a := range list {
				take(a)
			}
		}
	}
	return out
}

// checkAlertContext validates one alertContext against its @class's
// branch.
func checkAlertContext(d *contract.Doc, ctx any) string {
	m, ok := ctx.(map[string]any)
	if !ok {
		return fmt.Sprintf("alertContext %v is not an object", ctx)
	}
	class, _ := m["@class"].(string)
	name, ok := contextSchemas[class]
	if !ok {
		return fmt.Sprintf("alertContext @class %q has no branch the check knows", class)
	}
	ref := d.Component(name)
	if ref == nil || ref.Value == nil {
		return fmt.Sprintf("the document has no schema %s", name)
	}
	if err := ref.Value.VisitJSON(ctx, append(contract.SchemaOptions(), openapi3.VisitAsResponse())...); err != nil {
		return fmt.Sprintf("alertContext (%s): %v", name, err)
	}
	return ""
}

func isTokenEndpoint(ex contract.Exchange) bool {
	return ex.Method == http.MethodPost && ex.Path == "/auth/oauth/token"
}

// exerciseClient makes every call of the client, with small pages so that
// paging parameters appear.
func exerciseClient(t *testing.T, e *env) {
	t.Helper()
	c := e.client
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
	_, err = c.ListDeviceSnapshots(ctx, orgs[0].ID, "")
	must("ListDeviceSnapshots", err)
	_, err = c.CreateOrganization(ctx, rmm.NewOrganization{Name: "Contract Test Site", Description: "d", Sites: []string{"HQ"}})
	must("CreateOrganization", err)
	_, err = c.CreateOrganization(ctx, rmm.NewOrganization{Name: "Contract Test Site"})
	must("CreateOrganization again (409, adopted)", err)
	_, err = c.ListAlerts(ctx, "")
	must("ListAlerts", err)
	alerts, err := c.ListAlerts(ctx, orgs[0].ID)
	must("ListAlerts(site)", err)
	id, err := e.sb.NewAlert(devs[0].ID, "", 0)
	must("NewAlert", err)
	_, err = c.GetAlert(ctx, id)
	must("GetAlert", err)
	_ = alerts
	must("SetDeviceUDF", c.SetDeviceUDF(ctx, devs[0].ID, 5, "PSA-42"))
	_, err = c.RequestRate(ctx)
	must("RequestRate", err)
}

// TestClientRequestsMatchTheVendorDocument checks every request the client
// sends against the Datto RMM OpenAPI document.
func TestClientRequestsMatchTheVendorDocument(t *testing.T) {
	spec := loadSpec(t)
	e := newEnv(t, sandbox.Options{Seed: 2, Sites: 7, Devices: 40, PageMax: 10}, Config{PageSize: 3})
	exerciseClient(t, e)
	exs := e.rec.Exchanges()
	for _, ex := range exs {
		if !isTokenEndpoint(ex) && !strings.HasPrefix(ex.Path, "/api/") {
			t.Errorf("%s %s is not below the API root /api", ex.Method, ex.Path)
		}
	}
	problems, got, checked := spec.CheckRequests(exs, isTokenEndpoint)
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d requests checked; operations used by the client:\n  %s", checked, strings.Join(got, "\n  "))
	if len(got) < 12 {
		t.Errorf("only %d distinct operations were exercised", len(got))
	}
}

// TestSandboxAnswersMatchTheVendorDocument validates the sandbox's answers
// (times as ISO strings, and as epoch milliseconds, which the document's
// string type refuses and the check must then report) against the
// document's schemas.
func TestSandboxAnswersMatchTheVendorDocument(t *testing.T) {
	spec := loadSpec(t)
	e := newEnv(t, sandbox.Options{Seed: 4, Sites: 6, Devices: 120, PageMax: 10}, Config{PageSize: 4})
	exerciseClient(t, e)
	ctx := context.Background()
	for _, path := range []string{"/api/v2/account/alerts/open?max=2", "/api/v2/system/pagination"} {
		if _, err := e.client.http.Do(ctx, vendorhttp.Request{Path: e.url + path}, nil); err != nil {
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
	if len(validated) < 8 {
		t.Errorf("validated answers of %d operations, want at least 8: %v", len(validated), validated)
	}
	t.Logf("%d answers validated, of %d operations: %v", answers, len(validated), validated)

	ms := newEnv(t, sandbox.Options{Seed: 4, Sites: 2, Devices: 6, EpochMillis: true}, Config{})
	orgs, err := ms.client.ListOrganizations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rmm.AllDevices(ctx, ms.client, orgs[0].ID); err != nil {
		t.Fatal(err)
	}
	reported := false
	for _, ex := range ms.rec.Exchanges() {
		if p, _ := spec.CheckResponse(ex); len(p) > 0 && strings.Contains(ex.Path, "/devices") {
			reported = true
		}
	}
	if !reported {
		t.Error("epoch-millisecond times pass the document's date-time strings: the check is vacuous")
	}
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
		{name: "unknown path", ex: contract.Exchange{Method: "GET", Path: "/api/v2/device/abc/serials"}, req: true},
		{name: "undeclared query parameter", ex: contract.Exchange{Method: "GET", Path: "/api/v2/site/abc/devices", Query: map[string][]string{"pageSize": {"1"}}}, req: true},
		{name: "non-integer page", ex: contract.Exchange{Method: "GET", Path: "/api/v2/account/sites", Query: map[string][]string{"page": {"two"}}}, req: true},
		{name: "site created with POST", ex: contract.Exchange{Method: "POST", Path: "/api/v2/site", RequestBody: []byte(`{"name":"x"}`)}, req: true},
		{name: "request body without the required name", ex: contract.Exchange{Method: "PUT", Path: "/api/v2/site", RequestBody: []byte(`{"description":"x"}`)}, req: true},
		{name: "wrong type in answer", ex: contract.Exchange{Method: "GET", Path: "/api/v2/device/abc", Status: 200, ContentType: "application/json", Body: []byte(`{"id":"one","online":"yes"}`)}},
		{name: "bad enum in answer", ex: contract.Exchange{Method: "GET", Path: "/api/v2/device/abc", Status: 200, ContentType: "application/json", Body: []byte(`{"id":1,"deviceClass":"toaster"}`)}},
		{name: "alert context of the wrong shape", ex: contract.Exchange{Method: "GET", Path: "/api/v2/alert/abc", Status: 200, ContentType: "application/json", Body: []byte(`{"alertUid":"abc","alertContext":{"@class":"online_offline_status_ctx","status":"SLEEPING"}}`)}},
		{name: "alert context without @class", ex: contract.Exchange{Method: "GET", Path: "/api/v2/alert/abc", Status: 200, ContentType: "application/json", Body: []byte(`{"alertUid":"abc","alertContext":{"status":"OFFLINE"}}`)}},
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
