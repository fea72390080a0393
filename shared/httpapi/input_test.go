package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/limits"
)

// nested is a body shaped like the API's: a struct with a nested struct,
// a list of structs and open-ended settings.
type nested struct {
	Name     string         `json:"name"`
	Settings *nestedInner   `json:"settings"`
	Items    []nestedInner  `json:"items"`
	Extra    map[string]any `json:"extra"`
}

type nestedInner struct {
	Mode  string            `json:"mode"`
	Count int               `json:"count"`
	Map   map[string]string `json:"map"`
	Deep  *nestedInner      `json:"deep"`
}

// inputRouter answers 200 with what it decoded, and counts handler calls.
func inputRouter(calls *int) *Router {
	rt := NewRouter(Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	rt.Handle("POST /v1/nested", Viewer, func(_ context.Context, r *Request) (*Response, error) {
		*calls++
		var b nested
		if err := r.Decode(&b); err != nil {
			return nil, err
		}
		return JSON(200, b), nil
	})
	rt.Handle("GET /v1/a/{aId}/b/{bId}", Viewer, func(_ context.Context, r *Request) (*Response, error) {
		*calls++
		return JSON(200, map[string]string{"a": r.PathParam("aId"), "b": r.PathParam("bId")}), nil
	})
	return rt
}

type problemBody struct {
	Status int
	Detail string
	Errors []apperr.FieldError
}

func serveProblem(t *testing.T, rt *Router, ev events.APIGatewayV2HTTPRequest) (int, problemBody, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := rt.Serve(context.Background(), ev)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Serve returned error %v", err)
	}
	var p problemBody
	if resp.StatusCode >= 400 {
		if resp.Headers["content-type"] != "application/problem+json" {
			t.Errorf("content-type = %q, want application/problem+json", resp.Headers["content-type"])
		}
		if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
			t.Fatalf("problem is not JSON: %v", err)
		}
		if len(resp.Body) > 8<<10 {
			t.Errorf("problem body is %d bytes; a hostile input must not come back", len(resp.Body))
		}
	}
	return resp.StatusCode, p, took
}

// TestDecodeHostileBodies sends what a hostile or clumsy caller sends:
// every answer is a 4xx naming the field by its full path, in bounded time
// whatever the nesting (the 5,000-deep settings once reached DynamoDB and
// came back 503), and the unknown nested field is settings.zzz, not zzz.
func TestDecodeHostileBodies(t *testing.T) {
	jsonCT := map[string]string{"content-type": "application/json"}
	deep := func(n int, open, close string) string {
		return `{"extra":` + strings.Repeat(open, n) + strings.Repeat(close, n) + `}`
	}
	deepSettings := `{"settings":` + strings.Repeat(`{"deep":`, 40) + `{}` + strings.Repeat(`}`, 40) + `}`
	huge := strings.Repeat("k", 900_000)
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantField  string // "" when no field is expected
		wantPrefix bool   // wantField is a prefix of the reported field
	}{
		{"nested unknown field", `{"settings":{"mode":"a","zzz":1}}`, 400, "settings.zzz", false},
		{"unknown field in a list element", `{"items":[{"mode":"a"},{"zzz":1}]}`, 400, "items[1].zzz", false},
		{"unknown field two levels down", `{"settings":{"deep":{"deep":{"zzz":true}}}}`, 400, "settings.deep.deep.zzz", false},
		{"unknown top-level field", `{"nmae":"x"}`, 400, "nmae", false},
		{"case-insensitive match is known", `{"SETTINGS":{"Mode":"a"},"zzz":1}`, 400, "zzz", false},
		{"huge unknown key is clipped", `{"settings":{"` + huge + `":1}}`, 400, "settings.kkkk", true},
		{"nested wrong type", `{"settings":{"count":"two"}}`, 400, "settings.count", false},
		{"wrong type in a map", `{"settings":{"map":{"a":1}}}`, 400, "settings.map", true},
		{"deep settings", deepSettings, 422, "settings.deep.deep", true},
		{"objects 5,000 deep", deep(5000, `{"a":`, `}`), 422, "extra.a.a", true},
		{"arrays 5,000 deep", deep(5000, `[`, `]`), 422, "extra[0][0]", true},
		{"a megabyte of brackets", strings.Repeat("[", 1<<20), 422, "[0][0]", true},
		{"over a megabyte", strings.Repeat("[", 1<<20+1), 413, "", false},
		{"33 levels", `{"extra":{"a":` + strings.Repeat(`[`, 31) + strings.Repeat(`]`, 31) + `}}`, 422, "extra.a" + strings.Repeat("[0]", 30), false},
		{"32 levels pass the scan", `{"extra":{"a":` + strings.Repeat(`[`, 30) + strings.Repeat(`]`, 30) + `}}`, 200, "", false},
		{"brackets inside strings do not count", `{"name":"` + strings.Repeat(`[{`, 1000) + `","extra":{"k\"[{":` + strings.Repeat(`[`, 30) + strings.Repeat(`]`, 30) + `}}`, 200, "", false},
		{"escaped key in the path", `{"extra":{"a\u0062\"c":` + strings.Repeat(`[`, 31) + strings.Repeat(`]`, 31) + `}}`, 422, `extra.ab"c[0]`, true},
		{"malformed", `{"name":`, 400, "", false},
		{"malformed deep inside", `{"extra":{"a":[1,2,}]}}`, 400, "", false},
		{"not an object", `[1,2,3]`, 400, "(body)", false},
		{"string for an object", `{"settings":"x"}`, 400, "settings", false},
	}
	calls := 0
	rt := inputRouter(&calls)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, p, took := serveProblem(t, rt, event("POST /v1/nested", "viewer", tc.body, jsonCT))
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (%+v)", status, tc.wantStatus, p)
			}
			if took > 2*time.Second {
				t.Errorf("took %s; hostile bodies must be refused in linear time", took)
			}
			if tc.wantField == "" {
				return
			}
			if len(p.Errors) == 0 {
				t.Fatalf("no field named: %+v", p)
			}
			got := p.Errors[0].Field
			if got != tc.wantField && !(tc.wantPrefix && strings.HasPrefix(got, tc.wantField)) {
				t.Errorf("field = %.80q, want %q", got, tc.wantField)
			}
			if len(got) > 200 {
				t.Errorf("field is %d bytes; names are clipped to 200", len(got))
			}
		})
	}
}

// TestCheckDepthIsLinear measures the depth scan on the largest body the
// router accepts: a 1 MiB array of a quarter million elements and 1 MiB of
// nested objects are both judged well under a second.
func TestCheckDepthIsLinear(t *testing.T) {
	wide := "[" + strings.TrimSuffix(strings.Repeat("1,", (1<<20-2)/2), ",") + "]"
	deepObj := strings.Repeat(`{"a":`, (1<<20)/5)
	for name, body := range map[string]string{"wide": wide, "deep": deepObj} {
		start := time.Now()
		err := checkDepth([]byte(body), limits.MaxBodyDepth)
		took := time.Since(start)
		t.Logf("%s (%d bytes): %s, %v", name, len(body), took, err)
		if took > time.Second {
			t.Errorf("%s: %s for %d bytes", name, took, len(body))
		}
		if name == "deep" && !apperr.Is(err, apperr.Invalid) {
			t.Errorf("deep: %v, want Invalid", err)
		}
		if name == "wide" && err != nil {
			t.Errorf("wide: %v, want nil", err)
		}
	}
}

// TestPathIDs sends hostile path ids: each is a 400 naming the parameter
// and the handler, which would turn the id into a DynamoDB key, never runs.
func TestPathIDs(t *testing.T) {
	hostile := map[string]string{
		"hash (key separator)":     "j1#ITEM#12",
		"slash":                    "j1/items",
		"empty":                    "",
		"2,000 characters":         strings.Repeat("a", 2000),
		"129 characters":           strings.Repeat("a", 129),
		"unicode":                  "jöb",
		"space":                    "j 1",
		"newline":                  "j1\n",
		"percent-encoded hash":     "j1%23ITEM%2312",
		"leading dash":             "-j1",
		"dot-dot":                  "..",
		"NUL":                      "j\x001",
		"right-to-left override":   "j\u202e1",
		"SQL-ish":                  "1' OR '1'='1",
		"JSON":                     `{"pk":"T#x"}`,
		"zero-width space":         "j\u200b1",
		"tenant-prefixed key part": "T#t_other",
	}
	calls := 0
	rt := inputRouter(&calls)
	for name, id := range hostile {
		for _, param := range []string{"aId", "bId"} {
			t.Run(name+"/"+param, func(t *testing.T) {
				ev := event("GET /v1/a/{aId}/b/{bId}", "viewer", "", nil)
				ev.PathParameters = map[string]string{"aId": "ok_1", "bId": "ok-2"}
				ev.PathParameters[param] = id
				status, p, _ := serveProblem(t, rt, ev)
				if status != 400 {
					t.Fatalf("status = %d, want 400", status)
				}
				if diff := cmp.Diff([]apperr.FieldError{{Field: param, Message: limits.IDMessage}}, p.Errors); diff != "" {
					t.Errorf("errors (-want +got):\n%s", diff)
				}
			})
		}
	}
	if calls != 0 {
		t.Errorf("the handler ran %d times for malformed ids", calls)
	}
	t.Run("well-formed ids pass", func(t *testing.T) {
		for _, id := range []string{"c_abc123", "i_7", "j0123456789abcdefghjkmnpqrst", "1001", "3f1c6a2e-8d4b-4f0e-9a57-2b7c1d9e6f10", "org:12", strings.Repeat("a", 128)} {
			ev := event("GET /v1/a/{aId}/b/{bId}", "viewer", "", nil)
			ev.PathParameters = map[string]string{"aId": id, "bId": id}
			if status, p, _ := serveProblem(t, rt, ev); status != 200 {
				t.Errorf("%q: status %d %+v, want 200", id, status, p)
			}
		}
	})
	t.Run("a missing parameter is refused too", func(t *testing.T) {
		ev := event("GET /v1/a/{aId}/b/{bId}", "viewer", "", nil)
		ev.PathParameters = map[string]string{"aId": "a"}
		if status, _, _ := serveProblem(t, rt, ev); status != 400 {
			t.Errorf("status = %d, want 400", status)
		}
	})
	t.Run("public routes check their own ids", func(t *testing.T) {
		rt := inputRouter(&calls)
		rt.Handle("POST /v1/hooks/{hookId}", Public, func(_ context.Context, r *Request) (*Response, error) {
			return nil, apperr.New(apperr.Unauthorized, "unknown hook")
		})
		ev := event("POST /v1/hooks/{hookId}", "", "", nil)
		ev.PathParameters = map[string]string{"hookId": "../../etc"}
		if status, _, _ := serveProblem(t, rt, ev); status != 401 {
			t.Errorf("status = %d, want the handler's own 401", status)
		}
	})
	t.Run("authorization comes first", func(t *testing.T) {
		ev := event("GET /v1/a/{aId}/b/{bId}", "", "", nil)
		ev.PathParameters = map[string]string{"aId": "#", "bId": "#"}
		if status, _, _ := serveProblem(t, rt, ev); status != 401 {
			t.Errorf("status = %d, want 401 before looking at the path", status)
		}
	})
}

// TestPageAnswers400 checks the list parameters: a bad limit or cursor is
// a 400 naming it, as openapi.yaml documents for every list route.
func TestPageAnswers400(t *testing.T) {
	tests := []struct {
		query map[string]string
		field string
	}{
		{map[string]string{"limit": "0"}, "limit"},
		{map[string]string{"limit": "501"}, "limit"},
		{map[string]string{"limit": "ten"}, "limit"},
		{map[string]string{"limit": "99999999999999999999"}, "limit"},
		{map[string]string{"cursor": strings.Repeat("c", limits.MaxCursorLength+1)}, "cursor"},
	}
	for _, tc := range tests {
		r := &Request{Event: events.APIGatewayV2HTTPRequest{QueryStringParameters: tc.query}}
		_, _, err := r.Page()
		p := ProblemFor("r", err)
		if p.Status != 400 || len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Errorf("Page(%.40v) = %+v, want 400 naming %s", tc.query, p, tc.field)
		}
	}
}

func TestQueryError(t *testing.T) {
	state := apperr.InvalidFields(apperr.FieldError{Field: "state", Message: "must be open or closed"})
	body := apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	mixed := apperr.InvalidFields(apperr.FieldError{Field: "state", Message: "x"}, apperr.FieldError{Field: "name", Message: "y"})
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"a query parameter", state, 400},
		{"wrapped", apperr.Wrap(apperr.Invalid, state, "x"), 422}, // the outer error has no fields: not about the query
		{"another field", body, 422},
		{"query and other fields", mixed, 422},
		{"not invalid", apperr.New(apperr.NotFound, "no"), 404},
	}
	for _, tc := range tests {
		got := ProblemFor("r", QueryError(tc.err, "state", "limit", "cursor"))
		if got.Status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got.Status, tc.want)
		}
	}
}

// TestProblemIsBounded: a message quoting a caller's input does not come
// back megabytes long.
func TestProblemIsBounded(t *testing.T) {
	huge := strings.Repeat("ü", 500_000)
	e := apperr.InvalidFields(apperr.FieldError{Field: "settings." + huge, Message: "bad " + huge})
	fields := make([]apperr.FieldError, 100)
	for i := range fields {
		fields[i] = apperr.FieldError{Field: "f", Message: "m"}
	}
	for _, err := range []error{e, apperr.InvalidFields(fields...)} {
		p := ProblemFor("r", err)
		b, _ := json.Marshal(p)
		if len(b) > 8<<10 {
			t.Errorf("problem is %d bytes", len(b))
		}
		if len(p.Errors) > limits.MaxFieldErrors {
			t.Errorf("%d field errors, want at most %d", len(p.Errors), limits.MaxFieldErrors)
		}
		if !json.Valid(b) || strings.ContainsRune(p.Detail, '\uFFFD') {
			t.Errorf("clipping broke a character: %q", p.Detail[len(p.Detail)-8:])
		}
	}
}
