// Package contract holds a vendor client's requests and a vendor sandbox's
// answers to the vendor's own OpenAPI 3 document, as trimmed into
// testdata/vendor-contracts by cmd/specextract. The vendor packages' tests
// use it (shared/vendors/ninjaone, shared/vendors/dattormm): a Recorder in
// front of the sandbox keeps every exchange, and a Doc reports how each one
// breaks the document. Every request must be an operation of the document
// (method, path template, declared parameters with valid values, a request
// body valid against the operation's schema), and every successful JSON
// answer must validate against the operation's response schema.
//
// Nothing outside tests imports it.
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

// Exchange is one request a client sent and the sandbox's answer.
type Exchange struct {
	Method      string
	Path        string
	Query       url.Values
	RequestBody []byte
	Status      int
	ContentType string
	Body        []byte
}

// Recorder wraps a sandbox's handler and keeps every exchange.
type Recorder struct {
	next http.Handler
	mu   sync.Mutex
	log  []Exchange
}

// NewRecorder records the exchanges next serves.
func NewRecorder(next http.Handler) *Recorder { return &Recorder{next: next} }

type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(status int) {
	c.status = status
	c.ResponseWriter.WriteHeader(status)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

// ServeHTTP serves r with the wrapped handler and records the exchange.
func (rec *Recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var reqBody []byte
	if r.Body != nil {
		reqBody, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	cw := &captureWriter{ResponseWriter: w}
	rec.next.ServeHTTP(cw, r)
	rec.mu.Lock()
	rec.log = append(rec.log, Exchange{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), RequestBody: reqBody,
		Status: cw.status, ContentType: cw.Header().Get("Content-Type"), Body: cw.body.Bytes()})
	rec.mu.Unlock()
}

// Exchanges returns the exchanges recorded so far, oldest first.
func (rec *Recorder) Exchanges() []Exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.log)
}

// Extract locates testdata/vendor-contracts/name: it walks up from the
// working directory (a test's package directory) to go.mod.
func Extract(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("contract extract %s: %w", name, err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("contract extract %s: no go.mod above %s", name, dir)
		}
		dir = parent
	}
	p := filepath.Join(dir, "testdata", "vendor-contracts", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("contract extract %s is missing: %w", name, err)
	}
	return p, nil
}

// Options say how a vendor's document is read.
type Options struct {
	// Name names the document in problems ("the NinjaOne API document").
	Name string
	// Root is the API root the document's paths stand below ("/api"),
	// cut from a request path before it is matched; empty for none.
	Root string
	// ComponentNames, when set, replaces kin-openapi's component-name
	// pattern while the document loads (a vendor may name a component
	// outside OpenAPI's charset).
	ComponentNames *regexp.Regexp
	// EntitySchema checks a 2xx answer against the first JSON schema the
	// operation documents, whatever status it is filed under (a generator
	// that attached the entity to the error statuses), instead of the
	// schema of the answer's own status; an operation without any schema
	// leaves its answers unchecked.
	EntitySchema bool
	// Answer, when set, sees each decoded 2xx body before its schema
	// check; it may take parts out of the body (checking them itself, e.g.
	// with Doc.Component) and returns their problems.
	Answer func(d *Doc, body any) []string
}

// Doc is a loaded document with compiled path templates.
type Doc struct {
	opt   Options
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

// identifierMu guards kin-openapi's package-level component-name pattern
// while Options.ComponentNames replaces it.
var identifierMu sync.Mutex

// Load reads the extract at path; see Parse.
func Load(path string, opt Options) (*Doc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI extract %s: %w", path, err)
	}
	d, err := Parse(b, opt)
	if err != nil {
		return nil, fmt.Errorf("the OpenAPI extract %s: %w", path, err)
	}
	return d, nil
}

// Parse loads a document, which must validate: a broken extract would make
// every check meaningless.
func Parse(data []byte, opt Options) (*Doc, error) {
	if opt.ComponentNames != nil {
		identifierMu.Lock()
		saved := openapi3.IdentifierRegExp
		openapi3.IdentifierRegExp = opt.ComponentNames
		defer func() {
			openapi3.IdentifierRegExp = saved
			identifierMu.Unlock()
		}()
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("does not validate as a document: %w", err)
	}
	d := &Doc{opt: opt, doc: doc}
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
		d.paths = append(d.paths, specPath{template: tmpl, re: re, names: names, params: len(names), item: item})
	}
	// Literal segments win over parameters (/v2/organizations-detailed
	// before /v2/organization/{id}).
	sort.Slice(d.paths, func(i, j int) bool {
		if d.paths[i].params != d.paths[j].params {
			return d.paths[i].params < d.paths[j].params
		}
		return d.paths[i].template < d.paths[j].template
	})
	return d, nil
}

// Template returns the path template of the operation a request to path
// (below Options.Root) with method is, or "" when it is none.
func (d *Doc) Template(method, path string) string {
	tmpl, _, _, _ := d.find(method, path)
	return tmpl
}

// Component returns the document's schema component name, or nil.
func (d *Doc) Component(name string) *openapi3.SchemaRef {
	return d.doc.Components.Schemas[name]
}

// find returns the operation for method and a concrete path, with the
// path parameter values.
func (d *Doc) find(method, path string) (string, *openapi3.PathItem, *openapi3.Operation, map[string]string) {
	path = strings.TrimPrefix(path, d.opt.Root)
	for _, p := range d.paths {
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

// SchemaOptions are the options every check validates with: all errors,
// formats checked, uuid as RFC 4122.
func SchemaOptions() []openapi3.SchemaValidationOption {
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

// CheckRequest reports how ex's request breaks the document, if it does.
func (d *Doc) CheckRequest(ex Exchange) []string {
	tmpl, item, op, pathVals := d.find(ex.Method, ex.Path)
	if op == nil {
		return []string{fmt.Sprintf("%s %s is not an operation of %s", ex.Method, ex.Path, d.opt.Name)}
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
			if err := p.Schema.Value.VisitJSON(paramValue(p.Schema.Value, raw), SchemaOptions()...); err != nil {
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
			} else if err := mt.Schema.Value.VisitJSON(body, append(SchemaOptions(), openapi3.VisitAsRequest())...); err != nil {
				problems = append(problems, fmt.Sprintf("%s %s: request body: %v", ex.Method, tmpl, err))
			}
		}
	}
	return problems
}

// entitySchema is the JSON schema the operation documents for its entity,
// whatever status it is filed under.
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

// CheckResponse validates a 2xx answer with a body against the operation's
// response schema (see Options.EntitySchema). checked is false when the
// answer is not one the check applies to: not an operation, not 2xx, no
// body, or (with EntitySchema) no schema in the document.
func (d *Doc) CheckResponse(ex Exchange) (problems []string, checked bool) {
	tmpl, _, op, _ := d.find(ex.Method, ex.Path)
	if op == nil || ex.Status/100 != 2 || len(ex.Body) == 0 {
		return nil, false
	}
	var schema *openapi3.SchemaRef
	if d.opt.EntitySchema {
		if schema = entitySchema(op); schema == nil {
			return nil, false
		}
	} else {
		resp := op.Responses.Status(ex.Status)
		if resp == nil {
			resp = op.Responses.Default()
		}
		if resp == nil || resp.Value == nil {
			return []string{fmt.Sprintf("%s %s: status %d is not documented", ex.Method, tmpl, ex.Status)}, true
		}
		mt := resp.Value.Content.Get("application/json")
		if mt == nil || mt.Schema == nil {
			return []string{fmt.Sprintf("%s %s: no JSON response schema for %d", ex.Method, tmpl, ex.Status)}, true
		}
		schema = mt.Schema
	}
	if !strings.HasPrefix(ex.ContentType, "application/json") {
		return []string{fmt.Sprintf("%s %s: answered %q, want application/json", ex.Method, tmpl, ex.ContentType)}, true
	}
	var body any
	if err := json.Unmarshal(ex.Body, &body); err != nil {
		return []string{fmt.Sprintf("%s %s: response is not JSON: %v", ex.Method, tmpl, err)}, true
	}
	if d.opt.Answer != nil {
		for _, p := range d.opt.Answer(d, body) {
			problems = append(problems, fmt.Sprintf("%s %s: %s", ex.Method, tmpl, p))
		}
	}
	if err := schema.Value.VisitJSON(body, append(SchemaOptions(), openapi3.VisitAsResponse())...); err != nil {
		problems = append(problems, fmt.Sprintf("%s %s: response body: %v", ex.Method, tmpl, err))
	}
	return problems, true
}

// CheckRequests checks every request of exs but those skip names (nil:
// none). It returns the problems (each once), the distinct operations used
// as "METHOD template query,names" sorted, and how many requests it
// checked.
func (d *Doc) CheckRequests(exs []Exchange, skip func(Exchange) bool) (problems, operations []string, checked int) {
	seen, said := map[string]bool{}, map[string]bool{}
	for _, ex := range exs {
		if skip != nil && skip(ex) {
			continue
		}
		checked++
		names := slices.Sorted(maps.Keys(ex.Query))
		seen[ex.Method+" "+d.Template(ex.Method, ex.Path)+" "+strings.Join(names, ",")] = true
		for _, p := range d.CheckRequest(ex) {
			if !said[p] {
				said[p] = true
				problems = append(problems, p)
			}
		}
	}
	return problems, slices.Sorted(maps.Keys(seen)), checked
}

// CheckResponses checks every answer of exs but those skip names (nil:
// none). It returns the problems (each once) and how many answers it
// checked per operation ("METHOD template").
func (d *Doc) CheckResponses(exs []Exchange, skip func(Exchange) bool) (problems []string, checked map[string]int) {
	checked, said := map[string]int{}, map[string]bool{}
	for _, ex := range exs {
		if skip != nil && skip(ex) {
			continue
		}
		ps, ok := d.CheckResponse(ex)
		for _, p := range ps {
			if !said[p] {
				said[p] = true
				problems = append(problems, p)
			}
		}
		if ok {
			checked[ex.Method+" "+d.Template(ex.Method, ex.Path)]++
		}
	}
	return problems, checked
}
