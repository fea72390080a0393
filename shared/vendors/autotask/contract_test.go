package autotask_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rmmbridge/rmmbridge/shared/psa/psatest"
)

// The contract test holds the client to Autotask's own Swagger document
// ("Datto|Autotask PSA Rest API" v1), as kept in the repository:
// testdata/vendor-contracts/autotask-rest-v1.yaml, the operations of
// autotask-rest-v1.keep with every definition they reference, cut from the
// vendor's file by cmd/specextract. Every request the client sends while
// the conformance suite runs must be an operation of the document (method
// and path template, spelled as the document spells them below its
// basePath /ATServicesRest), with only declared query parameters, and a
// JSON body whose every key (at any depth) is a property of the
// operation's body schema, of the declared type. Autotask reads JSON keys
// in any case [P], so keys are compared case-insensitively. An operation
// the client starts to use must be added to the keep-list and the extract
// regenerated (see testdata/vendor-contracts/README.md).

type swagger struct {
	BasePath    string                          `yaml:"basePath"`
	Paths       map[string]map[string]swaggerOp `yaml:"paths"`
	Definitions map[string]map[string]any       `yaml:"definitions"`
	compiled    []struct {
		tmpl string
		re   *regexp.Regexp
	}
}

type swaggerOp struct {
	Responses map[string]struct {
		Schema map[string]any `yaml:"schema"`
	} `yaml:"responses"`
	Parameters []struct {
		Name   string         `yaml:"name"`
		In     string         `yaml:"in"`
		Schema map[string]any `yaml:"schema"`
	} `yaml:"parameters"`
}

func loadSwagger(t *testing.T) *swagger {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod above the package")
		}
		dir = filepath.Dir(dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "testdata", "vendor-contracts", "autotask-rest-v1.yaml"))
	if err != nil {
		t.Fatalf("the Autotask Swagger extract is missing: %v", err)
	}
	var s swagger
	if err := yaml.Unmarshal(b, &s); err != nil {
		t.Fatalf("parse the Autotask Swagger extract: %v", err)
	}
	for tmpl := range s.Paths {
		re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^/]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[0-9]+`) + "$")
		s.compiled = append(s.compiled, struct {
			tmpl string
			re   *regexp.Regexp
		}{tmpl, re})
	}
	// Literal segments before parameters.
	sort.Slice(s.compiled, func(i, j int) bool {
		return strings.Count(s.compiled[i].tmpl, "{") < strings.Count(s.compiled[j].tmpl, "{")
	})
	return &s
}

// find returns the operation of a request path below basePath.
func (s *swagger) find(method, path string) (*swaggerOp, string) {
	rel, ok := strings.CutPrefix(path, s.BasePath)
	if !ok {
		return nil, ""
	}
	for _, c := range s.compiled {
		if c.re.MatchString(rel) {
			if o, ok := s.Paths[c.tmpl][strings.ToLower(method)]; ok {
				return &o, c.tmpl
			}
		}
	}
	return nil, ""
}

// checkAnswer validates a successful answer's records against the
// operation's 200 schema. The vendor's document gives the record model
// for every entity operation and leaves out Autotask's wrappers: a page
// {items, pageDetails}, a read {item} and a create or update {itemId}
// [P]; the records inside are what is checked.
func (s *swagger) checkAnswer(method, path string, status int, answer []byte) []string {
	op, tmpl := s.find(method, path)
	if op == nil || status < 200 || status > 299 {
		return nil
	}
	schema := op.Responses["200"].Schema
	if schema == nil {
		return []string{fmt.Sprintf("%s %s: no 200 schema", method, tmpl)}
	}
	var v map[string]any
	if err := json.Unmarshal(answer, &v); err != nil {
		return []string{fmt.Sprintf("%s %s: the answer is not a JSON object", method, tmpl)}
	}
	at := fmt.Sprintf("%s %s answer", method, tmpl)
	switch {
	case v["items"] != nil:
		var out []string
		for i, it := range v["items"].([]any) {
			out = append(out, s.validate(fmt.Sprintf("%s.items[%d]", at, i), it, schema)...)
		}
		pd, _ := v["pageDetails"].(map[string]any)
		if _, ok := pd["nextPageUrl"]; !ok {
			out = append(out, at+": a page without pageDetails.nextPageUrl")
		}
		return out
	case v["item"] != nil:
		return s.validate(at+".item", v["item"], schema)
	case v["itemId"] != nil:
		if n, ok := v["itemId"].(float64); !ok || n <= 0 {
			return []string{at + ": itemId is not a positive id"}
		}
		return nil
	}
	return s.validate(at, v, schema)
}

// check returns the problems of one request.
func (s *swagger) check(method, path, rawQuery string, body []byte) []string {
	if _, ok := strings.CutPrefix(path, s.BasePath); !ok {
		return []string{fmt.Sprintf("%s %s is not below the basePath %s", method, path, s.BasePath)}
	}
	op, tmpl := s.find(method, path)
	if op == nil {
		return []string{fmt.Sprintf("%s %s is no operation of the Swagger extract", method, strings.TrimPrefix(path, s.BasePath))}
	}
	var problems []string
	q, _ := url.ParseQuery(rawQuery)
	var bodySchema map[string]any
	for name := range q {
		declared := false
		for _, p := range op.Parameters {
			if p.In == "query" && p.Name == name {
				declared = true
			}
		}
		if !declared {
			problems = append(problems, fmt.Sprintf("%s %s: query parameter %q is not declared", method, tmpl, name))
		}
	}
	for _, p := range op.Parameters {
		if p.In == "body" {
			bodySchema = p.Schema
		}
	}
	if search := q.Get("search"); search != "" {
		body = []byte(search)
		bodySchema = map[string]any{"$ref": "#/definitions/QueryModel"}
	}
	if len(body) > 0 {
		if bodySchema == nil {
			return append(problems, fmt.Sprintf("%s %s sends a body the operation does not take", method, tmpl))
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return append(problems, fmt.Sprintf("%s %s: body is not JSON", method, tmpl))
		}
		problems = append(problems, s.validate(fmt.Sprintf("%s %s body", method, tmpl), v, bodySchema)...)
	}
	return problems
}

// validate checks v against a schema: object keys are properties
// (case-insensitive), types as declared; null is accepted (Autotask
// clears fields with null).
func (s *swagger) validate(at string, v any, schema map[string]any) []string {
	if ref, _ := schema["$ref"].(string); ref != "" {
		name := strings.TrimPrefix(ref, "#/definitions/")
		def, ok := s.Definitions[name]
		if !ok {
			return []string{at + ": unresolved " + ref}
		}
		if name == "ValueItem" || name == "Object" {
			return nil
		}
		schema = def
	}
	if v == nil {
		return nil
	}
	switch schema["type"] {
	case "object", nil:
		props, _ := schema["properties"].(map[string]any)
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %v is not an object", at, v)}
		}
		var out []string
		for k, x := range m {
			var ps map[string]any
			for name, p := range props {
				if strings.EqualFold(name, k) {
					ps, _ = p.(map[string]any)
				}
			}
			if ps == nil {
				out = append(out, fmt.Sprintf("%s: %q is not a property", at, k))
				continue
			}
			out = append(out, s.validate(at+"."+k, x, ps)...)
		}
		return out
	case "array":
		list, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: not an array", at)}
		}
		items, _ := schema["items"].(map[string]any)
		var out []string
		for i, x := range list {
			out = append(out, s.validate(fmt.Sprintf("%s[%d]", at, i), x, items)...)
		}
		return out
	case "integer":
		if n, ok := v.(float64); !ok || n != math.Trunc(n) {
			return []string{fmt.Sprintf("%s: %v is not an integer", at, v)}
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return []string{fmt.Sprintf("%s: %v is not a number", at, v)}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return []string{fmt.Sprintf("%s: %v is not a string", at, v)}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return []string{fmt.Sprintf("%s: %v is not a boolean", at, v)}
		}
	}
	return nil
}

// TestClientRequestsMatchTheSwagger runs the conformance suite with every
// request recorded and checks each against the extract, and each
// successful sandbox answer's records against the operation's model.
func TestClientRequestsMatchTheSwagger(t *testing.T) {
	doc := loadSwagger(t)
	rec := &recorder{}
	psatest.Run(t, conformanceHarness(rec))
	reqs := rec.all()
	if len(reqs) < 100 {
		t.Fatalf("only %d requests recorded", len(reqs))
	}
	ops := map[string]bool{}
	seen := map[string]bool{}
	for _, r := range reqs {
		for _, p := range append(doc.check(r.method, r.path, r.rawQuery, r.body), doc.checkAnswer(r.method, r.path, r.status, r.answer)...) {
			if !seen[p] {
				seen[p] = true
				t.Error(p)
			}
		}
		ops[r.method+" "+regexp.MustCompile(`/[0-9]+`).ReplaceAllString(r.path, "/{id}")] = true
	}
	t.Logf("%d requests, %d distinct operations", len(reqs), len(ops))
}

// TestContractCheckCatchesDrift: the check reports a path, a query
// parameter and a body key the document does not have.
func TestContractCheckCatchesDrift(t *testing.T) {
	doc := loadSwagger(t)
	for _, tc := range []struct {
		method, path, query, body, want string
	}{
		{"POST", "/ATServicesRest/V1.0/Companies/search", "", `{}`, "is no operation"},
		{"GET", "/ATServicesRest/V1.0/Companies/query", "search=%7B%7D&page=2", "", `query parameter "page"`},
		{"POST", "/ATServicesRest/V1.0/Companies", "", `{"companyName":"x","companyTypo":1}`, `"companyTypo" is not a property`},
		{"POST", "/ATServicesRest/V1.0/Companies/query", "", `{"filter":[{"op":"eq","field":"id","value":1,"udfs":true}]}`, `"udfs" is not a property`},
		{"POST", "/ATServicesRest/V1.0/Tickets", "", `{"title":"x","status":"New"}`, "is not an integer"},
	} {
		problems := doc.check(tc.method, tc.path, tc.query, []byte(tc.body))
		if !strings.Contains(strings.Join(problems, "\n"), tc.want) {
			t.Errorf("%s %s %s: problems %q lack %q", tc.method, tc.path, tc.body, problems, tc.want)
		}
	}
	if p := doc.check("POST", "/ATServicesRest/V1.0/Companies/query", "", []byte(`{"filter":[{"op":"or","items":[{"op":"contains","field":"companyName","value":"a"}]}],"MaxRecords":3}`)); len(p) > 0 {
		t.Errorf("a valid query: %q", p)
	}
	for _, tc := range []struct{ path, answer, want string }{
		{"/ATServicesRest/V1.0/Companies/query", `{"items":[{"id":1,"companyNam":"x"}],"pageDetails":{"nextPageUrl":null}}`, `"companyNam" is not a property`},
		{"/ATServicesRest/V1.0/Companies/query", `{"items":[{"id":1}]}`, "without pageDetails.nextPageUrl"},
		{"/ATServicesRest/V1.0/Companies/5", `{"item":{"id":"5"}}`, "is not an integer"},
		{"/ATServicesRest/V1.0/ThresholdInformation", `{"externalRequestThreshold":10000,"threshold":1}`, `"threshold" is not a property`},
	} {
		if p := doc.checkAnswer("GET", tc.path, 200, []byte(tc.answer)); !strings.Contains(strings.Join(p, "\n"), tc.want) {
			t.Errorf("answer %s: problems %q lack %q", tc.answer, p, tc.want)
		}
	}
}
