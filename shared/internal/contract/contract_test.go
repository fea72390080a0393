package contract

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// widgets is a small document: literal and parameter paths, typed path and
// query parameters, a request body schema, a uuid format, an enum and a
// component named outside OpenAPI's charset (only loadable with
// Options.ComponentNames).
const widgets = `openapi: 3.0.1
info: {title: widgets, version: "1"}
paths:
  /v2/widgets:
    get:
      parameters:
        - {name: pageSize, in: query, schema: {type: integer, maximum: 100}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: '#/components/schemas/Widget'}}
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties:
                name: {type: string}
      responses:
        "201":
          description: created
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Widget'}
  /v2/widgets/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses:
        "404":
          description: the generator filed the entity here
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Widget'}
  /v2/widgets/special:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Widget'}
components:
  schemas:
    Widget:
      type: object
      properties:
        id: {type: integer}
        uid: {type: string, format: uuid}
        kind: {type: string, enum: [GEAR, COG]}
        extra: {type: object}
`

func parse(t *testing.T, opt Options) *Doc {
	t.Helper()
	if opt.Name == "" {
		opt.Name = "the widgets document"
	}
	d, err := Parse([]byte(widgets), opt)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

func get(path string, query url.Values) Exchange {
	return Exchange{Method: http.MethodGet, Path: path, Query: query}
}

// TestCheckRequest: a request the document allows passes; each kind of
// drift (a wrong request) is reported, naming what is wrong.
func TestCheckRequest(t *testing.T) {
	d := parse(t, Options{})
	tests := []struct {
		name string
		ex   Exchange
		want string // "" for no problem; else a part of the one problem
	}{
		{name: "valid list", ex: get("/v2/widgets", url.Values{"pageSize": {"10"}})},
		{name: "valid read", ex: get("/v2/widgets/7", nil)},
		{name: "literal wins over parameter", ex: get("/v2/widgets/special", nil)},
		{name: "valid create", ex: Exchange{Method: "POST", Path: "/v2/widgets", RequestBody: []byte(`{"name":"w"}`)}},
		{name: "unknown path", ex: get("/v2/gadgets", nil), want: "GET /v2/gadgets is not an operation of the widgets document"},
		{name: "unknown method", ex: Exchange{Method: "DELETE", Path: "/v2/widgets/7"}, want: "is not an operation"},
		{name: "undeclared query parameter", ex: get("/v2/widgets", url.Values{"after": {"3"}}), want: `query parameter "after" is not declared`},
		{name: "query parameter out of range", ex: get("/v2/widgets", url.Values{"pageSize": {"1000"}}), want: "query parameter pageSize=\"1000\""},
		{name: "query parameter of the wrong type", ex: get("/v2/widgets", url.Values{"pageSize": {"ten"}}), want: "query parameter pageSize=\"ten\""},
		{name: "non-integer path id", ex: get("/v2/widgets/abc", nil), want: "path parameter id=\"abc\""},
		{name: "body without its required name", ex: Exchange{Method: "POST", Path: "/v2/widgets", RequestBody: []byte(`{}`)}, want: "request body"},
		{name: "body of the wrong type", ex: Exchange{Method: "POST", Path: "/v2/widgets", RequestBody: []byte(`{"name":5}`)}, want: "request body"},
		{name: "body that is not JSON", ex: Exchange{Method: "POST", Path: "/v2/widgets", RequestBody: []byte(`name=w`)}, want: "request body is not JSON"},
		{name: "body to an operation without one", ex: Exchange{Method: "GET", Path: "/v2/widgets", RequestBody: []byte(`{}`)}, want: "the operation takes no body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := d.CheckRequest(tt.ex)
			if tt.want == "" {
				if len(problems) > 0 {
					t.Errorf("a valid request: %q", problems)
				}
				return
			}
			if len(problems) != 1 || !strings.Contains(problems[0], tt.want) {
				t.Errorf("problems %q, want one containing %q", problems, tt.want)
			}
		})
	}
}

// TestCheckResponse: valid answers pass and count as checked; answers the
// check does not apply to are not counted; each kind of drift is reported.
func TestCheckResponse(t *testing.T) {
	answer := func(path string, status int, ct, body string) Exchange {
		return Exchange{Method: "GET", Path: path, Status: status, ContentType: ct, Body: []byte(body)}
	}
	const js = "application/json; charset=utf-8"
	tests := []struct {
		name        string
		opt         Options
		ex          Exchange
		wantChecked bool
		want        string
	}{
		{name: "valid list", ex: answer("/v2/widgets", 200, js, `[{"id":1,"uid":"0b6f5b58-0c4c-4b8e-9d3a-0d2b8f0b9c11","kind":"GEAR"}]`), wantChecked: true},
		{name: "not 2xx", ex: answer("/v2/widgets", 500, js, `{"error":"x"}`)},
		{name: "no body", ex: answer("/v2/widgets", 200, js, ``)},
		{name: "not an operation", ex: answer("/v2/gadgets", 200, js, `{}`)},
		{name: "wrong type", ex: answer("/v2/widgets", 200, js, `[{"id":"one"}]`), wantChecked: true, want: "response body"},
		{name: "uid that is not a uuid", ex: answer("/v2/widgets", 200, js, `[{"id":1,"uid":"not-a-uuid"}]`), wantChecked: true, want: "response body"},
		{name: "bad enum", ex: answer("/v2/widgets", 200, js, `[{"kind":"TOASTER"}]`), wantChecked: true, want: "response body"},
		{name: "not JSON", ex: answer("/v2/widgets", 200, js, `<html>`), wantChecked: true, want: "response is not JSON"},
		{name: "wrong content type", ex: answer("/v2/widgets", 200, "text/plain", `[]`), wantChecked: true, want: `answered "text/plain"`},
		{name: "undocumented status", ex: answer("/v2/widgets/special", 201, js, `{}`), wantChecked: true, want: "status 201 is not documented"},
		{name: "entity filed under 404, per status", ex: answer("/v2/widgets/1", 200, js, `{"id":1}`), wantChecked: true, want: "status 200 is not documented"},
		{name: "entity filed under 404, entity schema", opt: Options{EntitySchema: true}, ex: answer("/v2/widgets/1", 200, js, `{"id":1}`), wantChecked: true},
		{name: "entity schema catches a wrong type", opt: Options{EntitySchema: true}, ex: answer("/v2/widgets/1", 200, js, `{"id":"x"}`), wantChecked: true, want: "response body"},
		{name: "below the root", opt: Options{Root: "/api"}, ex: answer("/api/v2/widgets/special", 200, js, `{"id":"x"}`), wantChecked: true, want: "GET /v2/widgets/special: response body"},
		{name: "answer hook takes its part out", opt: Options{Answer: func(d *Doc, body any) []string {
			m := body.(map[string]any)
			delete(m, "extra")
			return nil
		}}, ex: answer("/v2/widgets/special", 200, js, `{"id":1,"extra":"not an object"}`), wantChecked: true},
		{name: "answer hook problems", opt: Options{Answer: func(d *Doc, body any) []string {
			if d.Component("Widget") == nil {
				return []string{"no Widget component"}
			}
			return []string{"extra is wrong"}
		}}, ex: answer("/v2/widgets/special", 200, js, `{"id":1}`), wantChecked: true, want: "GET /v2/widgets/special: extra is wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := parse(t, tt.opt)
			problems, checked := d.CheckResponse(tt.ex)
			if checked != tt.wantChecked {
				t.Errorf("checked = %v, want %v", checked, tt.wantChecked)
			}
			if tt.want == "" {
				if len(problems) > 0 {
					t.Errorf("a valid answer: %q", problems)
				}
				return
			}
			if len(problems) != 1 || !strings.Contains(problems[0], tt.want) {
				t.Errorf("problems %q, want one containing %q", problems, tt.want)
			}
		})
	}
}

// TestParse: a document that does not validate is refused, and a
// component name outside OpenAPI's charset loads only when allowed (and the
// package-level pattern is restored afterwards).
func TestParse(t *testing.T) {
	if _, err := Parse([]byte("openapi: 3.0.1\ninfo: {title: x, version: \"1\"}\npaths:\n  /a:\n    get:\n      responses: {}\n"), Options{}); err == nil {
		t.Error("a document whose operation has no responses loaded")
	}
	odd := strings.ReplaceAll(widgets, "Widget", "Widget Descriptor")
	if _, err := Parse([]byte(odd), Options{}); err == nil {
		t.Error("a component named with a space loaded without Options.ComponentNames")
	}
	if _, err := Parse([]byte(odd), Options{ComponentNames: regexp.MustCompile(`^[^/]+$`)}); err != nil {
		t.Errorf("with Options.ComponentNames: %v", err)
	}
	if _, err := Parse([]byte(odd), Options{}); err == nil {
		t.Error("the component-name pattern was not restored")
	}
}

// TestTemplate: requests map to their operation's template, literal
// segments before parameters, below the root.
func TestTemplate(t *testing.T) {
	d := parse(t, Options{Root: "/api"})
	got := []string{
		d.Template("GET", "/api/v2/widgets/special"),
		d.Template("GET", "/api/v2/widgets/9"),
		d.Template("POST", "/api/v2/widgets"),
		d.Template("PUT", "/api/v2/widgets"),
	}
	want := []string{"/v2/widgets/special", "/v2/widgets/{id}", "/v2/widgets", ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("templates (-want +got):\n%s", diff)
	}
}

// TestRecorder: the handler behind the recorder still reads the whole
// request body, and the recorder keeps the request and the answer.
func TestRecorder(t *testing.T) {
	rec := NewRecorder(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"echo":` + string(b) + `}`))
	}))
	srv := httptest.NewServer(rec)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v2/widgets?pageSize=2", "application/json", strings.NewReader(`"hi"`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"echo":"hi"}` {
		t.Errorf("the client got %s", body)
	}
	want := []Exchange{{Method: "POST", Path: "/v2/widgets", Query: url.Values{"pageSize": {"2"}}, RequestBody: []byte(`"hi"`),
		Status: 201, ContentType: "application/json", Body: []byte(`{"echo":"hi"}`)}}
	if diff := cmp.Diff(want, rec.Exchanges()); diff != "" {
		t.Errorf("exchanges (-want +got):\n%s", diff)
	}
}

// TestExtract finds the vendors' extracts from this package's directory.
func TestExtract(t *testing.T) {
	for _, name := range []string{"ninjaone-openapi.yaml", "datto-rmm-openapi.yaml"} {
		if _, err := Extract(name); err != nil {
			t.Error(err)
		}
	}
	if _, err := Extract("no-such-openapi.yaml"); err == nil {
		t.Error("a missing extract was found")
	}
}

// TestCheckAll: CheckRequests and CheckResponses skip what skip names,
// report a repeated problem once, and count what they checked.
func TestCheckAll(t *testing.T) {
	d := parse(t, Options{})
	js := "application/json"
	exs := []Exchange{
		{Method: "POST", Path: "/oauth/token", RequestBody: []byte(`x`), Status: 200, ContentType: js, Body: []byte(`{}`)},
		{Method: "GET", Path: "/v2/widgets", Query: url.Values{"pageSize": {"2"}}, Status: 200, ContentType: js, Body: []byte(`[{"id":1}]`)},
		{Method: "GET", Path: "/v2/widgets", Status: 200, ContentType: js, Body: []byte(`[{"id":"x"}]`)},
		{Method: "GET", Path: "/v2/widgets", Status: 200, ContentType: js, Body: []byte(`[{"id":"x"}]`)},
		{Method: "GET", Path: "/v2/widgets/abc", Status: 404},
		{Method: "GET", Path: "/v2/widgets/abc", Status: 404},
	}
	skip := func(ex Exchange) bool { return ex.Path == "/oauth/token" }
	problems, ops, checked := d.CheckRequests(exs, skip)
	if checked != 5 || len(problems) != 1 || !strings.Contains(problems[0], `path parameter id="abc"`) {
		t.Errorf("checked %d, problems %q; want 5 and the bad id once", checked, problems)
	}
	if diff := cmp.Diff([]string{"GET /v2/widgets ", "GET /v2/widgets pageSize", "GET /v2/widgets/{id} "}, ops); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	problems, answers := d.CheckResponses(exs, skip)
	if len(problems) != 1 || !strings.Contains(problems[0], "response body") {
		t.Errorf("problems %q, want the bad id once", problems)
	}
	if diff := cmp.Diff(map[string]int{"GET /v2/widgets": 3}, answers); diff != "" {
		t.Errorf("answers checked (-want +got):\n%s", diff)
	}
	if p, _, _ := d.CheckRequests(exs, nil); len(p) != 2 {
		t.Errorf("without skip: %q, want the token request reported too", p)
	}
}
