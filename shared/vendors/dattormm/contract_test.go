package dattormm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
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

// specFile locates the extract: walk up to go.mod, then
// testdata/vendor-contracts/.
func specFile(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("contract test: no go.mod above the package directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "testdata", "vendor-contracts", "datto-rmm-openapi.yaml")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("contract test: the Datto RMM OpenAPI extract is missing: %v", err)
	}
	return p
}

// specDoc is the loaded document with compiled path templates.
type specDoc struct {
	doc   *openapi3.T
	paths []specPath
}

type specPath struct {
	template string
	re       *regexp.Regexp
	names    []string
	params   int
	item     *openapi3.PathItem
}

var (
	specOnce   sync.Once
	specCached *specDoc
)

// loadSpec loads the document once per test binary.
func loadSpec(t *testing.T) *specDoc {
	t.Helper()
	path := specFile(t)
	specOnce.Do(func() { specCached = parseSpec(t, path) })
	if specCached == nil {
		t.Fatal("the Datto RMM OpenAPI extract failed to load earlier")
	}
	return specCached
}

func parseSpec(t *testing.T, path string) *specDoc {
	t.Helper()
	// Datto names a component "Account Descriptor", outside OpenAPI's
	// component-name charset; the extract keeps the vendor's names, so
	// only '/' (which would break a reference) is refused, as
	// cmd/specextract's own check does.
	saved := openapi3.IdentifierRegExp
	openapi3.IdentifierRegExp = regexp.MustCompile(`^[^/]+$`)
	defer func() { openapi3.IdentifierRegExp = saved }()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		t.Errorf("load the Datto RMM OpenAPI extract %s: %v", path, err)
		return nil
	}
	// The extract must validate: a broken extract would make the checks
	// below meaningless.
	if err := doc.Validate(context.Background()); err != nil {
		t.Errorf("the Datto RMM OpenAPI extract %s does not validate as a document: %v", path, err)
		return nil
	}
	s := &specDoc{doc: doc}
	for tmpl, item := range doc.Paths.Map() {
		var names, parts []string
		for _, seg := range strings.Split(tmpl, "/") {
			if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
				names = append(names, strings.Trim(seg, "{}"))
				parts = append(parts, "([^/]+)")
			} else {
				parts = append(parts, regexp.QuoteMeta(seg))
			}
		}
		re := regexp.MustCompile("^" + strings.Join(parts, "/") + "$")
		s.paths = append(s.paths, specPath{template: tmpl, re: re, names: names, params: len(names), item: item})
	}
	// Literal segments win over parameters (/v2/account/sites
	// before /v2/site/{siteUid}).
	sort.Slice(s.paths, func(i, j int) bool {
		if s.paths[i].params != s.paths[j].params {
			return s.paths[i].params < s.paths[j].params
		}
		return s.paths[i].template < s.paths[j].template
	})
	return s
}

// find returns the operation for method and a concrete path, with the
// path parameter values.
func (s *specDoc) find(method, path string) (string, *openapi3.PathItem, *openapi3.Operation, map[string]string) {
	for _, p := range s.paths {
		m := p.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		op := p.item.GetOperation(method)
		if op == nil {
			continue
		}
		vals := map[string]string{}
		for i, n := range p.names {
			vals[n] = m[i+1]
		}
		return p.template, p.item, op, vals
	}
	return "", nil, nil, nil
}

func schemaOptions() []openapi3.SchemaValidationOption {
	return []openapi3.SchemaValidationOption{
		openapi3.MultiErrors(),
		openapi3.EnableFormatValidation(),
		openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC4122)),
	}
}

// paramValue converts a textual parameter to the JSON value its schema
// expects.
func paramValue(schema *openapi3.Schema, raw string) any {
	if schema != nil && schema.Type != nil && (schema.Type.Is("integer") || schema.Type.Is("number")) {
		if f, err := strconv.ParseFloat(raw, 64); err == nil {
			return f
		}
	}
	return raw
}

// checkRequest reports how ex breaks the document, if it does.
func (s *specDoc) checkRequest(ex exchange) []string {
	tmpl, item, op, pathVals := s.find(ex.Method, apiPath(ex.Path))
	if op == nil {
		return []string{fmt.Sprintf("%s %s is not an operation of the Datto RMM API document", ex.Method, ex.Path)}
	}
	var problems []string
	declared := map[string]*openapi3.Parameter{}
	for _, refs := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, ref := range refs {
			if ref.Value != nil {
				declared[ref.Value.In+":"+ref.Value.Name] = ref.Value
			}
		}
	}
	check := func(in, name, raw string) {
		p, ok := declared[in+":"+name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s %s: %s parameter %q is not declared", ex.Method, tmpl, in, name))
			return
		}
		if p.Schema != nil && p.Schema.Value != nil {
			if err := p.Schema.Value.VisitJSON(paramValue(p.Schema.Value, raw), schemaOptions()...); err != nil {
				problems = append(problems, fmt.Sprintf("%s %s: %s parameter %s=%q: %v", ex.Method, tmpl, in, name, raw, err))
			}
		}
	}
	for name, v := range pathVals {
		check("path", name, v)
	}
	for name, vs := range ex.Query {
		for _, v := range vs {
			check("query", name, v)
		}
	}
	if len(ex.RequestBody) > 0 {
		if op.RequestBody == nil || op.RequestBody.Value == nil {
			problems = append(problems, fmt.Sprintf("%s %s: the operation takes no body", ex.Method, tmpl))
		} else if mt := op.RequestBody.Value.Content.Get("application/json"); mt == nil || mt.Schema == nil {
			problems = append(problems, fmt.Sprintf("%s %s: no JSON request schema", ex.Method, tmpl))
		} else {
			var body any
			if err := json.Unmarshal(ex.RequestBody, &body); err != nil {
				problems = append(problems, fmt.Sprintf("%s %s: request body is not JSON: %v", ex.Method, tmpl, err))
			} else if err := mt.Schema.Value.VisitJSON(body, append(schemaOptions(), openapi3.VisitAsRequest())...); err != nil {
				problems = append(problems, fmt.Sprintf("%s %s: request body: %v", ex.Method, tmpl, err))
			}
		}
	}
	return problems
}

// entitySchema is the JSON schema the operation documents for its
// entity, whatever status the generator filed it under.
func entitySchema(op *openapi3.Operation) *openapi3.SchemaRef {
	var codes []string
	for code := range op.Responses.Map() {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		r := op.Responses.Value(code)
		if r == nil || r.Value == nil {
			continue
		}
		for _, ct := range []string{"application/json", "*/*"} {
			if mt := r.Value.Content.Get(ct); mt != nil && mt.Schema != nil {
				return mt.Schema
			}
		}
	}
	return nil
}

// checkResponse validates a 2xx JSON answer against the operation's entity
// schema; ok is false when the document gives none.
func (s *specDoc) checkResponse(ex exchange) (problems []string, ok bool) {
	tmpl, _, op, _ := s.find(ex.Method, apiPath(ex.Path))
	if op == nil || ex.Status/100 != 2 || len(ex.Body) == 0 {
		return nil, false
	}
	schema := entitySchema(op)
	if schema == nil {
		return nil, false
	}
	if !strings.HasPrefix(ex.ContentType, "application/json") {
		return []string{fmt.Sprintf("%s %s: answered %q, want application/json", ex.Method, tmpl, ex.ContentType)}, true
	}
	var body any
	if err := json.Unmarshal(ex.Body, &body); err != nil {
		return []string{fmt.Sprintf("%s %s: response is not JSON: %v", ex.Method, tmpl, err)}, true
	}
	for _, ctx := range takeAlertContexts(body) {
		if p := s.checkAlertContext(ctx); p != "" {
			problems = append(problems, fmt.Sprintf("%s %s: %s", ex.Method, tmpl, p))
		}
	}
	if err := schema.Value.VisitJSON(body, append(schemaOptions(), openapi3.VisitAsResponse())...); err != nil {
		problems = append(problems, fmt.Sprintf("%s %s: response body: %v", ex.Method, tmpl, err))
	}
	return problems, true
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
func (s *specDoc) checkAlertContext(ctx any) string {
	m, ok := ctx.(map[string]any)
	if !ok {
		return fmt.Sprintf("alertContext %v is not an object", ctx)
	}
	class, _ := m["@class"].(string)
	name, ok := contextSchemas[class]
	if !ok {
		return fmt.Sprintf("alertContext @class %q has no branch the check knows", class)
	}
	ref := s.doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return fmt.Sprintf("the document has no schema %s", name)
	}
	if err := ref.Value.VisitJSON(ctx, append(schemaOptions(), openapi3.VisitAsResponse())...); err != nil {
		return fmt.Sprintf("alertContext (%s): %v", name, err)
	}
	return ""
}

// apiPath is a request path below the API root /api.
func apiPath(p string) string { return strings.TrimPrefix(p, "/api") }

func isTokenEndpoint(ex exchange) bool {
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
	seen := map[string]bool{}
	for _, ex := range e.rec.exchanges() {
		if isTokenEndpoint(ex) {
			continue
		}
		if !strings.HasPrefix(ex.Path, "/api/") {
			t.Errorf("%s %s is not below the API root /api", ex.Method, ex.Path)
		}
		tmpl, _, _, _ := spec.find(ex.Method, apiPath(ex.Path))
		var names []string
		for k := range ex.Query {
			names = append(names, k)
		}
		sort.Strings(names)
		seen[ex.Method+" "+tmpl+" "+strings.Join(names, ",")] = true
		for _, p := range spec.checkRequest(ex) {
			t.Error(p)
		}
	}
	var got []string
	for k := range seen {
		got = append(got, k)
	}
	sort.Strings(got)
	t.Logf("operations used by the client:\n  %s", strings.Join(got, "\n  "))
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
	validated := map[string]int{}
	for _, ex := range e.rec.exchanges() {
		if isTokenEndpoint(ex) {
			continue
		}
		problems, ok := spec.checkResponse(ex)
		for _, p := range problems {
			t.Error(p)
		}
		if tmpl, _, _, _ := spec.find(ex.Method, apiPath(ex.Path)); ok && tmpl != "" {
			validated[ex.Method+" "+tmpl]++
		}
	}
	if len(validated) < 8 {
		t.Errorf("validated answers of %d operations, want at least 8: %v", len(validated), validated)
	}
	t.Logf("validated answers: %v", validated)

	ms := newEnv(t, sandbox.Options{Seed: 4, Sites: 2, Devices: 6, EpochMillis: true}, Config{})
	orgs, err := ms.client.ListOrganizations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rmm.AllDevices(ctx, ms.client, orgs[0].ID); err != nil {
		t.Fatal(err)
	}
	reported := false
	for _, ex := range ms.rec.exchanges() {
		if p, _ := spec.checkResponse(ex); len(p) > 0 && strings.Contains(ex.Path, "/devices") {
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
		ex   exchange
		req  bool
	}{
		{name: "unknown path", ex: exchange{Method: "GET", Path: "/api/v2/device/abc/serials"}, req: true},
		{name: "undeclared query parameter", ex: exchange{Method: "GET", Path: "/api/v2/site/abc/devices", Query: map[string][]string{"pageSize": {"1"}}}, req: true},
		{name: "non-integer page", ex: exchange{Method: "GET", Path: "/api/v2/account/sites", Query: map[string][]string{"page": {"two"}}}, req: true},
		{name: "site created with POST", ex: exchange{Method: "POST", Path: "/api/v2/site", RequestBody: []byte(`{"name":"x"}`)}, req: true},
		{name: "request body without the required name", ex: exchange{Method: "PUT", Path: "/api/v2/site", RequestBody: []byte(`{"description":"x"}`)}, req: true},
		{name: "wrong type in answer", ex: exchange{Method: "GET", Path: "/api/v2/device/abc", Status: 200, ContentType: "application/json", Body: []byte(`{"id":"one","online":"yes"}`)}},
		{name: "bad enum in answer", ex: exchange{Method: "GET", Path: "/api/v2/device/abc", Status: 200, ContentType: "application/json", Body: []byte(`{"id":1,"deviceClass":"toaster"}`)}},
		{name: "alert context of the wrong shape", ex: exchange{Method: "GET", Path: "/api/v2/alert/abc", Status: 200, ContentType: "application/json", Body: []byte(`{"alertUid":"abc","alertContext":{"@class":"online_offline_status_ctx","status":"SLEEPING"}}`)}},
		{name: "alert context without @class", ex: exchange{Method: "GET", Path: "/api/v2/alert/abc", Status: 200, ContentType: "application/json", Body: []byte(`{"alertUid":"abc","alertContext":{"status":"OFFLINE"}}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var problems []string
			if tt.req {
				problems = spec.checkRequest(tt.ex)
			} else {
				problems, _ = spec.checkResponse(tt.ex)
			}
			if len(problems) == 0 {
				t.Error("the checker found nothing wrong")
			}
		})
	}
}
