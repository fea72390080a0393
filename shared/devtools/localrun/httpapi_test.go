package localrun

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rmmbridge/rmmbridge/shared/devtools/samtemplate"
)

var client = &http.Client{Timeout: 15 * time.Second}

type httpResult struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string, body io.Reader, header map[string][]string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return httpResult{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

var goodKey = map[string][]string{"Authorization": {"Bearer good"}}

func TestHTTPRequestAndResponse(t *testing.T) {
	f := &fakeFuncs{}
	var (
		mu       sync.Mutex
		got      events.APIGatewayV2HTTPRequest
		lc       *lambdacontext.LambdaContext
		deadline time.Duration
	)
	f.API = func(ctx context.Context, r events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		got = r
		lc, _ = lambdacontext.FromContext(ctx)
		if d, ok := ctx.Deadline(); ok {
			deadline = time.Until(d)
		}
		return events.APIGatewayV2HTTPResponse{
			StatusCode:        201,
			Headers:           map[string]string{"Content-Type": "application/json", "X-One": "1"},
			MultiValueHeaders: map[string][]string{"X-Many": {"a", "b"}},
			Cookies:           []string{"s=1; Path=/", "t=2"},
			Body:              `{"id":"i1"}`,
		}, nil
	}
	logs := &syncBuffer{}
	o := testOptions(t, f, logs)
	s := start(t, o, logs)

	res := do(t, "POST", s.APIURL()+"/v1/items?b=2&a=1&a=3&e=x%20y", strings.NewReader(`{"name":"n"}`), map[string][]string{
		"Authorization": {"Bearer good"},
		"X-Multi":       {"v1", "v2"},
		"Cookie":        {"c1=x; c2=y"},
		"Content-Type":  {"application/json"},
		"User-Agent":    {"rmm-test/1.0"},
	})

	t.Run("response maps back", func(t *testing.T) {
		if res.status != 201 {
			t.Fatalf("status = %d, want 201 (body %s)", res.status, res.body)
		}
		if res.body != `{"id":"i1"}` {
			t.Errorf("body = %q", res.body)
		}
		wantHeaders := map[string][]string{
			"Content-Type": {"application/json"},
			"X-One":        {"1"},
			"X-Many":       {"a", "b"},
			"Set-Cookie":   {"s=1; Path=/", "t=2"},
		}
		for k, want := range wantHeaders {
			if diff := cmp.Diff(want, res.header.Values(k)); diff != "" {
				t.Errorf("header %s (-want +got):\n%s", k, diff)
			}
		}
		if res.header.Get("Apigw-Requestid") != got.RequestContext.RequestID || got.RequestContext.RequestID == "" {
			t.Errorf("apigw-requestid header %q, event requestId %q", res.header.Get("Apigw-Requestid"), got.RequestContext.RequestID)
		}
	})

	t.Run("event as API Gateway builds it", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		host := strings.TrimPrefix(s.APIURL(), "http://")
		want := events.APIGatewayV2HTTPRequest{
			Version:        "2.0",
			RouteKey:       "POST /v1/items",
			RawPath:        "/v1/items",
			RawQueryString: "b=2&a=1&a=3&e=x%20y",
			Cookies:        []string{"c1=x", "c2=y"},
			Headers: map[string]string{
				"authorization":     "Bearer good",
				"x-multi":           "v1,v2",
				"content-type":      "application/json",
				"content-length":    "12",
				"user-agent":        "rmm-test/1.0",
				"accept-encoding":   "gzip",
				"host":              host,
				"x-forwarded-for":   "127.0.0.1",
				"x-forwarded-proto": "http",
				"x-forwarded-port":  host[strings.LastIndex(host, ":")+1:],
			},
			QueryStringParameters: map[string]string{"a": "1,3", "b": "2", "e": "x y"},
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RouteKey:     "POST /v1/items",
				AccountID:    "123456789012",
				Stage:        "$default",
				APIID:        "local",
				DomainName:   "127.0.0.1",
				DomainPrefix: "127.0.0.1",
				Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
					// Through JSON, as on the wire: numbers arrive as float64.
					Lambda: map[string]any{"tenantId": "t1", "level": float64(3)},
				},
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
					Method: "POST", Path: "/v1/items", Protocol: "HTTP/1.1", SourceIP: "127.0.0.1", UserAgent: "rmm-test/1.0",
				},
			},
			Body: `{"name":"n"}`,
		}
		opts := cmp.Options{
			cmpopts.IgnoreFields(events.APIGatewayV2HTTPRequestContext{}, "RequestID", "Time", "TimeEpoch"),
			cmpopts.IgnoreMapEntries(func(k, _ string) bool { return k == "x-amzn-trace-id" }),
		}
		if diff := cmp.Diff(want, got, opts); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(got.Headers["x-amzn-trace-id"], "Root=1-") {
			t.Errorf("x-amzn-trace-id = %q", got.Headers["x-amzn-trace-id"])
		}
		if age := time.Since(time.UnixMilli(got.RequestContext.TimeEpoch)); age < 0 || age > time.Minute {
			t.Errorf("timeEpoch is %s old", age)
		}
		if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", got.RequestContext.Time); err != nil {
			t.Errorf("time %q: %v", got.RequestContext.Time, err)
		}
	})

	t.Run("lambda context and deadline", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		if lc == nil || len(lc.AwsRequestID) != 36 {
			t.Fatalf("LambdaContext = %+v, want a request id", lc)
		}
		wantARN := "arn:aws:lambda:us-east-1:123456789012:function:" + o.StackName + "-ApiFunction"
		if lc.InvokedFunctionArn != wantARN {
			t.Errorf("InvokedFunctionArn = %q, want %q", lc.InvokedFunctionArn, wantARN)
		}
		if deadline <= 0 || deadline > time.Second {
			t.Errorf("deadline in %s, want within the function's 1 s timeout", deadline)
		}
	})

	t.Run("one log line per invocation", func(t *testing.T) {
		var sawAPI, sawAuth bool
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line is not JSON: %q", line)
			}
			if rec["msg"] != "invocation" {
				continue
			}
			if _, ok := rec["durationMs"].(float64); !ok {
				t.Errorf("log line without durationMs: %s", line)
			}
			switch rec["function"] {
			case "ApiFunction":
				sawAPI = rec["route"] == "POST /v1/items" && rec["outcome"] == "ok" && rec["status"] == float64(201) && rec["trigger"] == "http"
			case "AuthFunction":
				sawAuth = rec["outcome"] == "ok" && rec["authorized"] == true && rec["trigger"] == "authorizer"
			}
		}
		if !sawAPI || !sawAuth {
			t.Errorf("want invocation lines for ApiFunction and AuthFunction, got:\n%s", logs.String())
		}
	})
}

func TestHTTPRouting(t *testing.T) {
	f := &fakeFuncs{}
	var mu sync.Mutex
	var last events.APIGatewayV2HTTPRequest
	f.API = func(_ context.Context, r events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		last = r
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: r.RouteKey}, nil
	}
	logs := &syncBuffer{}
	s := start(t, testOptions(t, f, logs), logs)

	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantRoute  string
		wantParams map[string]string
	}{
		{name: "path parameter", method: "GET", path: "/v1/items/abc", wantStatus: 200,
			wantRoute: "GET /v1/items/{itemId}", wantParams: map[string]string{"itemId": "abc"}},
		{name: "literal beats parameter", method: "GET", path: "/v1/items/special", wantStatus: 200,
			wantRoute: "GET /v1/items/special"},
		{name: "parameter is decoded", method: "GET", path: "/v1/items/a%20b", wantStatus: 200,
			wantRoute: "GET /v1/items/{itemId}", wantParams: map[string]string{"itemId": "a b"}},
		{name: "parameter then greedy", method: "GET", path: "/v1/items/abc/docs/readme.md", wantStatus: 200,
			wantRoute: "GET /v1/items/{itemId}/{proxy+}", wantParams: map[string]string{"itemId": "abc", "proxy": "docs/readme.md"}},
		{name: "ANY method with greedy path", method: "DELETE", path: "/v1/files/x/y.txt", wantStatus: 200,
			wantRoute: "ANY /v1/files/{proxy+}", wantParams: map[string]string{"proxy": "x/y.txt"}},
		{name: "greedy needs a segment", method: "GET", path: "/v1/files", wantStatus: 404},
		{name: "unknown path", method: "GET", path: "/v1/nothing", wantStatus: 404},
		{name: "wrong method", method: "PUT", path: "/v1/items/abc", wantStatus: 404},
		{name: "trailing slash is another path", method: "GET", path: "/v1/health/", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, apiBefore := f.counts()
			res := do(t, tt.method, s.APIURL()+tt.path, nil, goodKey)
			if res.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", res.status, tt.wantStatus, res.body)
			}
			if tt.wantStatus == 404 {
				if res.body != `{"message":"Not Found"}` {
					t.Errorf("body = %s, want API Gateway's not-found message", res.body)
				}
				if _, apiAfter := f.counts(); apiAfter != apiBefore {
					t.Errorf("the function was invoked for an unknown route")
				}
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if last.RouteKey != tt.wantRoute || last.RequestContext.RouteKey != tt.wantRoute {
				t.Errorf("routeKey = %q / %q, want %q", last.RouteKey, last.RequestContext.RouteKey, tt.wantRoute)
			}
			if diff := cmp.Diff(tt.wantParams, last.PathParameters); diff != "" {
				t.Errorf("pathParameters (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRouteSpecificity checks the route choice on its own, without moto:
// literal over {param} over {proxy+}, left to right, then a method over
// ANY, then $default.
func TestRouteSpecificity(t *testing.T) {
	tmpl := `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A: {Type: HttpApi, Properties: {Method: GET, Path: "/a/{x}"}}
        B: {Type: HttpApi, Properties: {Method: ANY, Path: "/a/{x}"}}
        C: {Type: HttpApi, Properties: {Method: GET, Path: /a/b}}
        D: {Type: HttpApi, Properties: {Method: ANY, Path: "/a/{proxy+}"}}
        E: {Type: HttpApi, Properties: {Method: GET, Path: "/a/{x}/c"}}
        F: {Type: HttpApi, Properties: {Method: GET, Path: /}}
        G: {Type: HttpApi}
`
	tp, err := samtemplate.Parse([]byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{tmpl: tp, funcs: map[string]*function{"Fn": {id: "Fn"}}}
	rt, err := s.buildRouter()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path, want string
	}{
		{"GET", "/a/b", "GET /a/b"},
		{"GET", "/a/z", "GET /a/{x}"},
		{"POST", "/a/z", "ANY /a/{x}"},
		{"POST", "/a/z/c/d", "ANY /a/{proxy+}"},
		{"GET", "/a/z/c", "GET /a/{x}/c"},
		{"POST", "/a/z/c", "ANY /a/{proxy+}"},
		{"GET", "/", "GET /"},
		{"GET", "/elsewhere", "$default"},
		{"GET", "/a", "$default"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r, _ := rt.match(tt.method, tt.path)
			if r == nil {
				t.Fatalf("no route, want %s", tt.want)
			}
			if r.key != tt.want {
				t.Errorf("route = %s, want %s", r.key, tt.want)
			}
		})
	}
}

func TestHTTPBodies(t *testing.T) {
	f := &fakeFuncs{}
	var mu sync.Mutex
	var last events.APIGatewayV2HTTPRequest
	f.API = func(_ context.Context, r events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		last = r
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, IsBase64Encoded: true,
			Headers: map[string]string{"Content-Type": "application/octet-stream"},
			Body:    base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0x10})}, nil
	}
	logs := &syncBuffer{}
	s := start(t, testOptions(t, f, logs), logs)

	tests := []struct {
		name        string
		contentType string
		body        string
		wantBody    string
		wantBase64  bool
	}{
		{name: "json is text", contentType: "application/json; charset=utf-8", body: `{"a":1}`, wantBody: `{"a":1}`},
		{name: "vendor json is text", contentType: "application/problem+json", body: `{"a":1}`, wantBody: `{"a":1}`},
		{name: "plain text", contentType: "text/plain", body: "hi", wantBody: "hi"},
		{name: "binary is base64", contentType: "application/octet-stream", body: "\x00\x01\xfe",
			wantBody: base64.StdEncoding.EncodeToString([]byte("\x00\x01\xfe")), wantBase64: true},
		{name: "no content type is base64", body: "abc", wantBody: "YWJj", wantBase64: true},
		{name: "empty body", contentType: "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string][]string{"Authorization": {"Bearer good"}}
			if tt.contentType != "" {
				h["Content-Type"] = []string{tt.contentType}
			}
			res := do(t, "PUT", s.APIURL()+"/v1/files/blob", strings.NewReader(tt.body), h)
			if res.status != 200 || res.body != "\xff\x00\x10" {
				t.Fatalf("response %d %q, want 200 and the decoded base64 body", res.status, res.body)
			}
			mu.Lock()
			defer mu.Unlock()
			if last.Body != tt.wantBody || last.IsBase64Encoded != tt.wantBase64 {
				t.Errorf("event body %q base64=%v, want %q base64=%v", last.Body, last.IsBase64Encoded, tt.wantBody, tt.wantBase64)
			}
		})
	}
}

func TestHTTPFailures(t *testing.T) {
	f := &fakeFuncs{}
	f.API = func(ctx context.Context, r events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		switch r.RawPath {
		case "/v1/items/error":
			return events.APIGatewayV2HTTPResponse{}, errBoom
		case "/v1/items/panic":
			panic("handler bug")
		case "/v1/items/nostatus":
			return events.APIGatewayV2HTTPResponse{Body: "forgot the status"}, nil
		case "/v1/items/badbase64":
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, IsBase64Encoded: true, Body: "%%%"}, nil
		case "/v1/slow", "/v1/hang":
			<-ctx.Done() // a handler that runs into its deadline
			return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}
	logs := &syncBuffer{}
	s := start(t, testOptions(t, f, logs), logs)

	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantBody   string
		maxTime    time.Duration
	}{
		{name: "handler error", path: "/v1/items/error", wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`},
		{name: "handler panic", path: "/v1/items/panic", wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`},
		{name: "response without status", path: "/v1/items/nostatus", wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`},
		{name: "response with bad base64", path: "/v1/items/badbase64", wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`},
		{name: "integration timeout", path: "/v1/slow", wantStatus: 503, wantBody: `{"message":"Service Unavailable"}`, maxTime: 900 * time.Millisecond},
		{name: "function timeout", path: "/v1/hang", wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`, maxTime: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			res := do(t, "GET", s.APIURL()+tt.path, nil, goodKey)
			took := time.Since(began)
			if res.status != tt.wantStatus || res.body != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", res.status, res.body, tt.wantStatus, tt.wantBody)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content-type = %q", ct)
			}
			if tt.maxTime > 0 && took > tt.maxTime {
				t.Errorf("took %s, want under %s", took, tt.maxTime)
			}
		})
	}
	if !strings.Contains(logs.String(), `"outcome":"panic"`) || !strings.Contains(logs.String(), `"outcome":"abandoned"`) {
		t.Errorf("logs lack the panic and abandoned outcomes:\n%s", logs.String())
	}
}

func TestAuthorizer(t *testing.T) {
	type call struct {
		method, path string
		header       map[string][]string
		wantStatus   int
	}
	tests := []struct {
		name         string
		auth         func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error)
		calls        []call
		wantAuth     int
		wantAPICalls int
	}{
		{name: "missing identity header is 401 without invoking",
			calls:    []call{{"GET", "/v1/items/x", nil, 401}},
			wantAuth: 0, wantAPICalls: 0},
		{name: "empty identity header is 401 without invoking",
			calls:    []call{{"GET", "/v1/items/x", map[string][]string{"Authorization": {""}}, 401}},
			wantAuth: 0, wantAPICalls: 0},
		{name: "refused key is 401",
			calls:    []call{{"GET", "/v1/items/x", map[string][]string{"Authorization": {"Bearer bad"}}, 401}},
			wantAuth: 1, wantAPICalls: 0},
		{name: "accepted key is cached for ReauthorizeEvery",
			calls: []call{
				{"GET", "/v1/items/x", goodKey, 200},
				{"POST", "/v1/items", goodKey, 200},
			},
			wantAuth: 1, wantAPICalls: 2},
		{name: "refusal is cached too",
			calls: []call{
				{"GET", "/v1/items/x", map[string][]string{"Authorization": {"Bearer bad"}}, 401},
				{"GET", "/v1/items/x", map[string][]string{"Authorization": {"Bearer bad"}}, 401},
			},
			wantAuth: 1, wantAPICalls: 0},
		{name: "another key is authorized again",
			calls: []call{
				{"GET", "/v1/items/x", goodKey, 200},
				{"GET", "/v1/items/x", map[string][]string{"Authorization": {"Bearer bad"}}, 401},
			},
			wantAuth: 2, wantAPICalls: 1},
		{name: "route with Authorizer NONE skips it",
			calls:    []call{{"GET", "/v1/health", nil, 200}},
			wantAuth: 0, wantAPICalls: 1},
		{name: "authorizer failure is 500 and not cached",
			auth: func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
				return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, errBoom
			},
			calls: []call{
				{"GET", "/v1/items/x", goodKey, 500},
				{"GET", "/v1/items/x", goodKey, 500},
			},
			wantAuth: 2, wantAPICalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFuncs{Auth: tt.auth}
			logs := &syncBuffer{}
			s := start(t, testOptions(t, f, logs), logs)
			for _, c := range tt.calls {
				res := do(t, c.method, s.APIURL()+c.path, nil, c.header)
				if res.status != c.wantStatus {
					t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.path, res.status, c.wantStatus, res.body)
				}
				if c.wantStatus == 401 && res.body != `{"message":"Unauthorized"}` {
					t.Errorf("401 body = %s", res.body)
				}
			}
			auth, api := f.counts()
			if auth != tt.wantAuth || api != tt.wantAPICalls {
				t.Errorf("authorizer invoked %d times, function %d; want %d and %d", auth, api, tt.wantAuth, tt.wantAPICalls)
			}
		})
	}
}

func TestAuthorizerRequestAndContext(t *testing.T) {
	f := &fakeFuncs{}
	var mu sync.Mutex
	var authReq events.APIGatewayV2CustomAuthorizerV2Request
	var apiReq events.APIGatewayV2HTTPRequest
	f.Auth = func(_ context.Context, r events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		authReq = r
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true,
			Context: map[string]any{"tenantId": "t9", "roles": []string{"admin"}}}, nil
	}
	f.API = func(_ context.Context, r events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		apiReq = r
		return events.APIGatewayV2HTTPResponse{StatusCode: 204}, nil
	}
	logs := &syncBuffer{}
	s := start(t, testOptions(t, f, logs), logs)
	res := do(t, "GET", s.APIURL()+"/v1/items/i-7?x=1", nil, map[string][]string{"Authorization": {"Key abc"}})
	if res.status != 204 {
		t.Fatalf("status %d (%s)", res.status, res.body)
	}
	mu.Lock()
	defer mu.Unlock()
	want := events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               "2.0",
		Type:                  "REQUEST",
		RouteArn:              "arn:aws:execute-api:us-east-1:123456789012:local/$default/GET/v1/items/i-7",
		IdentitySource:        []string{"Key abc"},
		RouteKey:              "GET /v1/items/{itemId}",
		RawPath:               "/v1/items/i-7",
		RawQueryString:        "x=1",
		QueryStringParameters: map[string]string{"x": "1"},
		PathParameters:        map[string]string{"itemId": "i-7"},
	}
	opts := cmp.Options{
		cmpopts.IgnoreFields(events.APIGatewayV2CustomAuthorizerV2Request{}, "Headers", "RequestContext"),
		cmpopts.EquateEmpty(),
	}
	if diff := cmp.Diff(want, authReq, opts); diff != "" {
		t.Errorf("authorizer request (-want +got):\n%s", diff)
	}
	if authReq.Headers["authorization"] != "Key abc" || authReq.RequestContext.RouteKey != "GET /v1/items/{itemId}" ||
		authReq.RequestContext.HTTP.Method != "GET" {
		t.Errorf("authorizer headers/requestContext: %v / %+v", authReq.Headers, authReq.RequestContext)
	}
	if authReq.RequestContext.RequestID != apiReq.RequestContext.RequestID {
		t.Errorf("authorizer and function saw different API request ids")
	}
	wantCtx := map[string]any{"tenantId": "t9", "roles": []any{"admin"}}
	if apiReq.RequestContext.Authorizer == nil {
		t.Fatal("no authorizer in the function's requestContext")
	}
	if diff := cmp.Diff(wantCtx, apiReq.RequestContext.Authorizer.Lambda); diff != "" {
		t.Errorf("requestContext.authorizer.lambda (-want +got):\n%s", diff)
	}
}
