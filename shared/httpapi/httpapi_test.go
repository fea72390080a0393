package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

type body struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func testRouter() *Router {
	rt := NewRouter(Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), MaxBody: 64})
	rt.Handle("GET /v1/health", Public, func(context.Context, *Request) (*Response, error) {
		return JSON(200, map[string]string{"status": "ok"}), nil
	})
	rt.Handle("POST /v1/things", Operator, func(_ context.Context, r *Request) (*Response, error) {
		var b body
		if err := r.Decode(&b); err != nil {
			return nil, err
		}
		if b.Name == "" {
			return nil, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
		}
		return JSON(201, map[string]any{"name": b.Name, "tenant": r.Principal.TenantID}), nil
	})
	rt.Handle("GET /v1/things/{thingId}", Viewer, func(_ context.Context, r *Request) (*Response, error) {
		switch r.PathParam("thingId") {
		case "boom":
			return nil, fmt.Errorf("dynamo exploded with secret sk_live_123")
		case "slow":
			e := apperr.New(apperr.Throttled, "vendor is rate limiting")
			e.RetryAfter = 1500 * time.Millisecond
			return nil, e
		}
		limit, cursor, err := r.Page()
		if err != nil {
			return nil, err
		}
		return JSON(200, map[string]any{"id": r.PathParam("thingId"), "limit": limit, "cursor": cursor}), nil
	})
	rt.Handle("DELETE /v1/things/{thingId}", Admin, NotImplemented("deleting things"))
	return rt
}

func event(routeKey, role, body string, headers map[string]string) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{
		RouteKey: routeKey,
		Headers:  headers,
		Body:     body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-1",
			RouteKey:  routeKey,
		},
	}
	if role != "" {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			Lambda: map[string]any{ContextTenantID: "t_1", ContextRole: role, ContextKeyID: "k_1"},
		}
	}
	return ev
}

func TestServe(t *testing.T) {
	jsonCT := map[string]string{"content-type": "application/json"}
	tests := []struct {
		name       string
		ev         events.APIGatewayV2HTTPRequest
		wantStatus int
		wantBody   map[string]any // subset of keys checked
	}{
		{"public route", event("GET /v1/health", "", "", nil), 200, map[string]any{"status": "ok"}},
		{"unknown route", event("GET /v1/nope", "admin", "", nil), 404, map[string]any{"type": "urn:rmmbridge:problem:not-found"}},
		{"no authorizer context", event("POST /v1/things", "", `{"name":"a"}`, jsonCT), 401, map[string]any{"status": float64(401)}},
		{"unknown role", event("POST /v1/things", "root", `{"name":"a"}`, jsonCT), 401, nil},
		{"viewer cannot write", event("POST /v1/things", "viewer", `{"name":"a"}`, jsonCT), 403, nil},
		{"created", event("POST /v1/things", "operator", `{"name":"a","count":2}`, jsonCT), 201, map[string]any{"name": "a", "tenant": "t_1"}},
		{"wrong content type", event("POST /v1/things", "admin", `name=a`, map[string]string{"content-type": "application/x-www-form-urlencoded"}), 415, nil},
		{"body too large", event("POST /v1/things", "admin", `{"name":"`+strings.Repeat("x", 80)+`"}`, jsonCT), 413, nil},
		{"malformed json", event("POST /v1/things", "admin", `{"name":`, jsonCT), 400, nil},
		{"empty body", event("POST /v1/things", "admin", ``, jsonCT), 400, nil},
		{"trailing data", event("POST /v1/things", "admin", `{"name":"a"} {}`, jsonCT), 400, nil},
		{"unknown field", event("POST /v1/things", "admin", `{"name":"a","nmae":"b"}`, jsonCT), 400,
			map[string]any{"errors": []any{map[string]any{"field": "nmae", "message": "unknown field"}}}},
		{"wrong type", event("POST /v1/things", "admin", `{"name":"a","count":"two"}`, jsonCT), 400,
			map[string]any{"errors": []any{map[string]any{"field": "count", "message": "must be a number"}}}},
		{"semantic validation", event("POST /v1/things", "admin", `{"name":""}`, jsonCT), 422,
			map[string]any{"detail": "name: is required", "errors": []any{map[string]any{"field": "name", "message": "is required"}}}},
		{"internal error hides cause", event("GET /v1/things/{thingId}", "viewer", "", nil), 500,
			map[string]any{"detail": "an internal error occurred; quote the request id when reporting it", "requestId": "req-1"}},
		{"bad limit", event("GET /v1/things/{thingId}", "viewer", "", nil), 400,
			map[string]any{"errors": []any{map[string]any{"field": "limit", "message": "must be a whole number from 1 to 500"}}}},
		{"not implemented", event("DELETE /v1/things/{thingId}", "admin", "", nil), 501, map[string]any{"type": "urn:rmmbridge:problem:not-implemented"}},
	}
	tests[14].ev.PathParameters = map[string]string{"thingId": "boom"}
	tests[15].ev.PathParameters = map[string]string{"thingId": "x"}
	tests[15].ev.QueryStringParameters = map[string]string{"limit": "501"}
	tests[16].ev.PathParameters = map[string]string{"thingId": "t1"}
	rt := testRouter()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := rt.Serve(context.Background(), tc.ev)
			if err != nil {
				t.Fatalf("Serve returned error %v; handled errors must be responses", err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tc.wantStatus, resp.Body)
			}
			if resp.StatusCode >= 400 && resp.Headers["content-type"] != "application/problem+json" {
				t.Errorf("content-type = %q, want application/problem+json", resp.Headers["content-type"])
			}
			if strings.Contains(resp.Body, "sk_live_123") {
				t.Errorf("response leaks the internal cause: %s", resp.Body)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, resp.Body)
			}
			for k, want := range tc.wantBody {
				if diff := cmp.Diff(want, got[k]); diff != "" {
					t.Errorf("body[%q] (-want +got):\n%s", k, diff)
				}
			}
		})
	}
}

func TestServeThrottledSetsRetryAfter(t *testing.T) {
	ev := event("GET /v1/things/{thingId}", "viewer", "", nil)
	ev.PathParameters = map[string]string{"thingId": "slow"}
	resp, _ := testRouter().Serve(context.Background(), ev)
	if resp.StatusCode != 429 || resp.Headers["retry-after"] != "2" {
		t.Errorf("got status %d retry-after %q, want 429 and 2", resp.StatusCode, resp.Headers["retry-after"])
	}
}

func TestDecodeBase64Body(t *testing.T) {
	ev := event("POST /v1/things", "admin", base64.StdEncoding.EncodeToString([]byte(`{"name":"b64"}`)), map[string]string{"content-type": "application/json; charset=utf-8"})
	ev.IsBase64Encoded = true
	resp, _ := testRouter().Serve(context.Background(), ev)
	if resp.StatusCode != 201 || !strings.Contains(resp.Body, `"name":"b64"`) {
		t.Errorf("got %d %s, want 201 with name b64", resp.StatusCode, resp.Body)
	}
}

func TestHandleTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering a route twice did not panic")
		}
	}()
	rt := testRouter()
	rt.Handle("GET /v1/health", Public, nil)
}

func TestProblemForKinds(t *testing.T) {
	for kind, want := range statusByKind {
		p := ProblemFor("r", apperr.New(kind, "x"))
		if p.Status != want {
			t.Errorf("%s: status %d, want %d", kind, p.Status, want)
		}
	}
	if p := ProblemFor("r", errors.New("plain")); p.Status != 500 {
		t.Errorf("unclassified error: status %d, want 500", p.Status)
	}
}

func ExampleRouter() {
	rt := NewRouter(Options{})
	rt.Handle("GET /v1/health", Public, func(context.Context, *Request) (*Response, error) {
		return JSON(200, map[string]string{"status": "ok"}), nil
	})
	resp, _ := rt.Serve(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /v1/health"})
	fmt.Println(resp.StatusCode, resp.Body)
	// Output: 200 {"status":"ok"}
}
