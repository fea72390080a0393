package ninjaone

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
	p := filepath.Join(dir, "testdata", "vendor-contracts", "ninjaone-openapi.yaml")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("contract test: the NinjaOne OpenAPI extract is missing: %v", err)
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
		t.Fatal("the NinjaOne OpenAPI extract failed to load earlier")
	}
	return specCached
}

func parseSpec(t *testing.T, path string) *specDoc {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		t.Errorf("load the NinjaOne OpenAPI extract %s: %v", path, err)
		return nil
	}
	// The vendor's full draft does not validate (it has conflicting
	// /v2/tag/{...} paths), but the extract must: a broken extract would
	// make the checks below meaningless.
	if err := doc.Validate(context.Background()); err != nil {
		t.Errorf("the NinjaOne OpenAPI extract %s does not validate as a document: %v", path, err)
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
	// Literal segments win over parameters (/v2/organizations-detailed
	// before /v2/organization/{id}).
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
	tmpl, item, op, pathVals := s.find(ex.Method, ex.Path)
	if op == nil {
		return []string{fmt.Sprintf("%s %s is not an operation of the NinjaOne API document", ex.Method, ex.Path)}
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

// checkResponse validates a 2xx JSON answer against the operation's schema.
func (s *specDoc) checkResponse(ex exchange) []string {
	tmpl, _, op, _ := s.find(ex.Method, ex.Path)
	if op == nil || ex.Status/100 != 2 || len(ex.Body) == 0 {
		return nil
	}
	resp := op.Responses.Status(ex.Status)
	if resp == nil {
		resp = op.Responses.Default()
	}
	if resp == nil || resp.Value == nil {
		return []string{fmt.Sprintf("%s %s: status %d is not documented", ex.Method, tmpl, ex.Status)}
	}
	mt := resp.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return []string{fmt.Sprintf("%s %s: no JSON response schema for %d", ex.Method, tmpl, ex.Status)}
	}
	if !strings.HasPrefix(ex.ContentType, "application/json") {
		return []string{fmt.Sprintf("%s %s: answered %q, want application/json", ex.Method, tmpl, ex.ContentType)}
	}
	var body any
	if err := json.Unmarshal(ex.Body, &body); err != nil {
		return []string{fmt.Sprintf("%s %s: response is not JSON: %v", ex.Method, tmpl, err)}
	}
	if err := mt.Schema.Value.VisitJSON(body, append(schemaOptions(), openapi3.VisitAsResponse())...); err != nil {
		return []string{fmt.Sprintf("%s %s: response body: %v", ex.Method, tmpl, err)}
	}
	return nil
}

func isTokenEndpoint(ex exchange) bool {
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
	seen := map[string]bool{}
	for _, ex := range e.rec.exchanges() {
		if isTokenEndpoint(ex) {
			continue
		}
		tmpl, _, _, _ := spec.find(ex.Method, ex.Path)
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
	validated := map[string]int{}
	for _, ex := range e.rec.exchanges() {
		if isTokenEndpoint(ex) {
			continue
		}
		for _, p := range spec.checkResponse(ex) {
			t.Error(p)
		}
		if tmpl, _, _, _ := spec.find(ex.Method, ex.Path); tmpl != "" && ex.Status/100 == 2 {
			validated[ex.Method+" "+tmpl]++
		}
	}
	if len(validated) < 17 {
		t.Errorf("validated answers of %d operations, want at least 17: %v", len(validated), validated)
	}
	t.Logf("validated answers: %v", validated)
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
		{name: "unknown path", ex: exchange{Method: "GET", Path: "/v2/device/1/serials"}, req: true},
		{name: "undeclared query parameter", ex: exchange{Method: "GET", Path: "/v2/devices-detailed", Query: map[string][]string{"orgId": {"1"}}}, req: true},
		{name: "non-integer path id", ex: exchange{Method: "GET", Path: "/v2/device/abc"}, req: true},
		{name: "wrong type in answer", ex: exchange{Method: "GET", Path: "/v2/device/1", Status: 200, ContentType: "application/json", Body: []byte(`{"id":"one","lastContact":"yesterday"}`)}},
		{name: "request body of the wrong type", ex: exchange{Method: "POST", Path: "/v2/organizations", RequestBody: []byte(`{"name":5,"locations":"HQ"}`)}, req: true},
		{name: "uid that is not a uuid", ex: exchange{Method: "GET", Path: "/v2/device/1", Status: 200, ContentType: "application/json", Body: []byte(`{"id":1,"uid":"not-a-uuid"}`)}},
		{name: "bad enum in answer", ex: exchange{Method: "GET", Path: "/v2/devices-detailed", Status: 200, ContentType: "application/json", Body: []byte(`[{"id":1,"nodeClass":"TOASTER"}]`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var problems []string
			if tt.req {
				problems = spec.checkRequest(tt.ex)
			} else {
				problems = spec.checkResponse(tt.ex)
			}
			if len(problems) == 0 {
				t.Error("the checker found nothing wrong")
			}
		})
	}
}
