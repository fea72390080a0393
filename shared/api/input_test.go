package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/api"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/secretstore"
	"github.com/rmmbridge/rmmbridge/shared/user"
	"github.com/rmmbridge/rmmbridge/shared/vendors/registry"
)

// quiet drops the refusals' log lines.
var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

// hostileIDs are path ids a hostile or clumsy caller sends. API Gateway
// hands path parameters to the function percent-decoded, so "%23" arrives
// as "#" (and a double-encoded "%2523" as "%23").
var hostileIDs = map[string]string{
	"key separator":        "j1#ITEM#12",
	"decoded %23":          "jabc#ITEM#12",
	"double-encoded %2523": "j1%23ITEM%2312",
	"slash":                "c_1/test",
	"empty":                "",
	"2,000 characters":     strings.Repeat("a", 2000),
	"129 characters":       strings.Repeat("b", 129),
	"unicode":              "c_ö",
	"emoji":                "c_\U0001F600",
	"space":                "c 1",
	"dot-dot":              "..",
	"NUL":                  "c\x001",
	"another tenant's key": "T#t_b",
}

// problemOf decodes a problem+json answer, failing the test for anything else.
func problemOf(t *testing.T, resp events.APIGatewayV2HTTPResponse) (string, []apperr.FieldError) {
	t.Helper()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("status %d, want 4xx: %.300s", resp.StatusCode, resp.Body)
	}
	if ct := resp.Headers["content-type"]; ct != "application/problem+json" {
		t.Errorf("content-type %q, want application/problem+json", ct)
	}
	var p struct {
		Detail string
		Errors []apperr.FieldError
	}
	if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
		t.Fatalf("problem is not JSON: %v", err)
	}
	if len(resp.Body) > 8<<10 {
		t.Errorf("problem is %d bytes: hostile input must not come back", len(resp.Body))
	}
	return p.Detail, p.Errors
}

// request is one call as API Gateway delivers it to the function.
type request struct {
	tenant, role, method, route string
	params, query               map[string]string
	headers                     map[string]string // lowercase names, as API Gateway gives them
	body                        string
}

func (q request) event() events.APIGatewayV2HTTPRequest {
	if q.tenant == "" {
		q.tenant = "t_a"
	}
	if q.role == "" {
		q.role = "admin"
	}
	headers := map[string]string{"content-type": "application/json"}
	for k, v := range q.headers {
		headers[k] = v
	}
	return events.APIGatewayV2HTTPRequest{RouteKey: q.method + " " + q.route, PathParameters: q.params, QueryStringParameters: q.query,
		Headers: headers, Body: q.body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-h",
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{
				httpapi.ContextTenantID: q.tenant, httpapi.ContextRole: q.role, httpapi.ContextKeyID: "k1"}}}}
}

// serve sends q and checks the answer against openapi.yaml: its status must
// be documented for the operation and its body match the schema. The
// operation is found with a placeholder for each path id (a hostile id
// does not route).
func serve(t *testing.T, rt *httpapi.Router, q request) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := rt.Serve(context.Background(), q.event())
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	path := q.route
	for _, seg := range strings.Split(q.route, "/") {
		if strings.HasPrefix(seg, "{") {
			path = strings.Replace(path, seg, "x1", 1)
		}
	}
	u := url.URL{Scheme: "http", Host: "api.test", Path: path}
	qv := url.Values{}
	for k, v := range q.query {
		qv.Set(k, v)
	}
	u.RawQuery = qv.Encode()
	req, _ := http.NewRequest(q.method, u.String(), bytes.NewReader([]byte(q.body)))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range q.headers {
		req.Header.Set(k, v)
	}
	r, pp, err := importContract(t).FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in openapi.yaml: %v", q.method, path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()}}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pp, Route: r, Options: opts}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	rv := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: h,
		Body: io.NopCloser(strings.NewReader(resp.Body)), Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), rv); err != nil {
		t.Errorf("%s %s → %d does not match openapi.yaml: %v", q.method, q.route, resp.StatusCode, err)
	}
	return resp
}

// routeParams lists a route key's path parameters.
func routeParams(key string) []string {
	var out []string
	for _, seg := range strings.Split(key, "/") {
		if strings.HasPrefix(seg, "{") {
			out = append(out, strings.Trim(seg, "{}"))
		}
	}
	return out
}

// TestEveryRouteRefusesHostilePathIDs sends every hostile id in every path
// parameter of every route of the API: each is a 400 naming the parameter,
// documented in openapi.yaml, before any handler (here every handler would
// answer 501) could turn the id into a key. GET /imports/{job}%23ITEM%2312
// once answered a fake job built from an item record.
func TestEveryRouteRefusesHostilePathIDs(t *testing.T) {
	rt := api.New(api.Deps{Logger: quiet})
	routes := 0
	for _, key := range rt.RouteKeys() {
		params := routeParams(key)
		if len(params) == 0 {
			continue
		}
		routes++
		method, route, _ := strings.Cut(key, " ")
		for _, param := range params {
			for name, id := range hostileIDs {
				t.Run(key+"/"+param+"/"+name, func(t *testing.T) {
					p := map[string]string{}
					for _, other := range params {
						p[other] = "ok_1"
					}
					p[param] = id
					resp := serve(t, rt, request{method: method, route: route, params: p, body: `{}`})
					if resp.StatusCode != http.StatusBadRequest {
						t.Fatalf("status %d, want 400: %.300s", resp.StatusCode, resp.Body)
					}
					if _, fe := problemOf(t, resp); len(fe) != 1 || fe[0].Field != param {
						t.Errorf("errors %+v, want one naming %s", fe, param)
					}
				})
			}
		}
	}
	if routes < 15 {
		t.Errorf("only %d routes with path ids; the route table changed?", routes)
	}
}

// vendorGuard is a client opener that must not be reached: a request
// refused for its input never opens the integration's vendor clients.
type vendorGuard struct {
	mu     sync.Mutex
	opened []string
}

func (g *vendorGuard) Open(_ context.Context, tenantID, integrationID string) (api.Clients, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.opened = append(g.opened, tenantID+"/"+integrationID)
	return api.Clients{}, apperr.New(apperr.Vendor, "the vendor was called")
}

// acceptAll is a vendor test that accepts any credentials (no vendor here).
type acceptAll struct{}

func (acceptAll) Test(context.Context, string, string, connection.Credentials) error { return nil }

// inputEnv is the API with every service over moto (DynamoDB and Secrets
// Manager) and a vendor opener that must not be reached. Tenant t_a has
// connections c_rmm and c_psa and integration i_a; tenant t_b has c_b1,
// c_b2, integration i_b and an import job.
type inputEnv struct {
	rt    *httpapi.Router
	guard *vendorGuard
	conns *connection.Service
	store connection.Store
	jobA  string // a job of t_a/i_a
	jobB  string // a job of t_b/i_b
	users dynamostore.Users
}

func newInputEnv(t *testing.T) *inputEnv {
	t.Helper()
	return newInputEnvOn(t, motoserver.ForTest(t))
}

// newInputEnvOn is newInputEnv over the moto server cfg points at.
func newInputEnvOn(t *testing.T, cfg aws.Config) *inputEnv {
	t.Helper()
	ctx := context.Background()
	ddb := dynamodb.NewFromConfig(cfg)
	table := testtable.Create(t, ddb, "api-input")
	st := dynamostore.New(ddb, table)
	secrets := secretstore.New(secretsmanager.NewFromConfig(cfg), "rmmbridge/"+motoserver.UniqueName("api-input")+"/")
	store := dynamostore.NewConnections(st)
	conns := connection.NewService(store, secrets, acceptAll{}, connection.Options{Resolver: publicResolver{}, Vendors: registry.Catalog()})
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	e := &inputEnv{guard: &vendorGuard{}, conns: conns, store: store}
	for _, f := range []struct{ tenant, rmm, psa, ig string }{{"t_a", "c_rmm", "c_psa", "i_a"}, {"t_b", "c_b1", "c_b2", "i_b"}} {
		for id, kind := range map[string]string{f.rmm: connection.KindRMM, f.psa: connection.KindPSA} {
			ref, err := secrets.Stage(ctx, f.tenant+"/"+id, []byte(`{"clientId":"a","clientSecret":"b"}`))
			if err != nil {
				t.Fatal(err)
			}
			provider := map[string]string{connection.KindRMM: "ninjaone", connection.KindPSA: "connectwise"}[kind]
			if err := store.PutConnection(ctx, connection.Connection{ID: id, TenantID: f.tenant, Name: id, Kind: kind, Provider: provider,
				BaseURL: "https://vendor.example.com", Settings: map[string]any{}, Status: "ok", CreatedAt: now, UpdatedAt: now, SecretRef: ref}); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.PutIntegration(ctx, connection.Integration{ID: f.ig, TenantID: f.tenant, Name: f.ig, RMMConnectionID: f.rmm,
			PSAConnectionID: f.psa, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	jobs := dynamostore.NewImportJobs(st)
	tracker := importjob.NewTracker(jobs, importjob.Options{})
	imports := importjob.NewService(jobs, tracker, importSender{}, importjob.Queues{}, importjob.Options{})
	e.jobA, e.jobB = importjob.NewJobID(now), importjob.NewJobID(now)
	for id, ref := range map[string][2]string{e.jobA: {"t_a", "i_a"}, e.jobB: {"t_b", "i_b"}} {
		if err := jobs.CreateJob(ctx, importjob.Job{ID: id, TenantID: ref[0], IntegrationID: ref[1], Kind: importjob.KindOrganizations,
			Status: importjob.StatusQueued, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	e.rt = api.New(api.Deps{
		Logger:      quiet,
		Connections: conns,
		Accounts:    account.NewService(dynamostore.NewMappings(st), account.Options{}),
		Clients:     e.guard,
		Assets:      asset.NewService(dynamostore.NewAssets(st), dynamostore.NewMappings(st), asset.Options{}),
		Imports:     imports,
		Alerts:      alert.NewService(dynamostore.NewAlerts(st), nil, nil, nil, alert.Options{}),
		Audit:       dynamostore.NewMappings(st),
		Users:       user.NewService(dynamostore.NewUsers(st), noPool{}, api.MemberRoster{Integrations: conns, Clients: e.guard}, user.Options{}),
		SignIn:      user.NewSignIn(noPool{}, nil, dynamostore.NewUsers(st), noPool{}, dynamostore.NewSignInFailures(st), user.Throttle{}, nil),
	})
	e.users = dynamostore.NewUsers(st)
	return e
}

// call is serve on the env's router, failing on 5xx.
func (e *inputEnv) call(t *testing.T, q request) (int, string, []apperr.FieldError) {
	t.Helper()
	resp := serve(t, e.rt, q)
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s = %d: %.300s", q.method, q.route, resp.StatusCode, resp.Body)
	}
	if resp.StatusCode < 400 {
		return resp.StatusCode, resp.Body, nil
	}
	detail, fe := problemOf(t, resp)
	return resp.StatusCode, detail, fe
}

func hasField(fe []apperr.FieldError, field string) bool {
	for _, f := range fe {
		if f.Field == field || (strings.HasSuffix(field, "*") && strings.HasPrefix(f.Field, strings.TrimSuffix(field, "*"))) {
			return true
		}
	}
	return false
}

// nest returns JSON objects nested n deep around leaf: {"a":{"a":...leaf}}.
func nest(n int, leaf string) string {
	return strings.Repeat(`{"a":`, n) + leaf + strings.Repeat(`}`, n)
}

const (
	connRoute = "/v1/connections/{connectionId}"
	intRoute  = "/v1/integrations/{integrationId}"
)

// TestHostileBodies sends, to every route that reads a body, what a
// hostile or clumsy caller sends: oversized fields (a 900,000-character
// name once gave 500), deep settings (5,000 levels once gave 503 "database
// unreachable"), malformed JSON, wrong types, unknown nested members, empty
// patches. Each answer is a 4xx problem+json naming the field, documented
// in openapi.yaml; nothing is stored and no vendor is called.
func TestHostileBodies(t *testing.T) {
	e := newInputEnv(t)
	huge := strings.Repeat("n", 900_000)
	long := strings.Repeat("n", 201)
	conn := func(extra string) string {
		return `{"name":"ok","kind":"rmm","provider":"ninjaone","baseUrl":"https://app.ninjarmm.com","credentials":{"clientId":"a","clientSecret":"b"}` + extra + `}`
	}
	ig := func(extra string) string {
		return `{"name":"ok","rmmConnectionId":"c_rmm","psaConnectionId":"c_psa"` + extra + `}`
	}
	big := `"` + strings.Repeat("s", 17<<10) + `"`
	ids := map[string]string{"connectionId": "c_rmm", "integrationId": "i_a", "orgId": "o1"}
	type tc struct {
		name   string
		method string
		route  string
		body   string
		status int
		field  string // a field the problem must name ("x*": a prefix)
	}
	tests := []tc{
		// Connections.
		{"201-character name", "POST", "/v1/connections", strings.Replace(conn(""), `"name":"ok"`, `"name":"`+long+`"`, 1), 422, "name"},
		{"900,000-character name", "POST", "/v1/connections", strings.Replace(conn(""), `"name":"ok"`, `"name":"`+huge+`"`, 1), 422, "name"},
		{"settings 5,000 deep", "POST", "/v1/connections", conn(`,"settings":` + nest(5000, `1`)), 422, "settings.a.a*"},
		{"settings 11 deep", "POST", "/v1/connections", conn(`,"settings":` + nest(11, `1`)), 422, "settings.a.a*"},
		{"settings 10 deep pass the limit", "POST", "/v1/connections", conn(`,"settings":` + nest(10, `1`)), 201, ""},
		{"settings of 17 KiB", "POST", "/v1/connections", conn(`,"settings":{"x":` + big + `}`), 422, "settings"},
		{"huge credential", "POST", "/v1/connections", strings.Replace(conn(""), `"clientSecret":"b"`, `"clientSecret":"`+strings.Repeat("s", 5000)+`"`, 1), 422, "credentials.clientSecret"},
		{"huge unknown credential", "POST", "/v1/connections", strings.Replace(conn(""), `"clientSecret":"b"`, `"clientSecret":"b","`+huge[:300_000]+`":"x"`, 1), 422, "credentials.nnn*"},
		{"huge baseUrl", "POST", "/v1/connections", strings.Replace(conn(""), `"https://app.ninjarmm.com"`, `"https://`+strings.Repeat("a", 3000)+`.com"`, 1), 422, "baseUrl"},
		{"malformed JSON", "POST", "/v1/connections", `{"name":`, 400, ""},
		{"wrong type", "POST", "/v1/connections", `{"name":7}`, 400, "name"},
		{"wrong nested type", "POST", "/v1/connections", `{"credentials":{"clientId":7}}`, 400, "credentials*"},
		{"not an object", "POST", "/v1/connections", `"x"`, 400, "(body)"},
		{"body over 1 MiB", "POST", "/v1/connections", conn(`,"settings":{"x":"` + strings.Repeat("s", 1<<20) + `"}`), 413, ""},
		{"empty patch", "PATCH", connRoute, `{}`, 422, "(body)"},
		{"patch of nulls", "PATCH", connRoute, `{"name":null,"settings":null}`, 422, "(body)"},
		{"patch 900,000-character name", "PATCH", connRoute, `{"name":"` + huge + `"}`, 422, "name"},
		{"patch settings 5,000 deep", "PATCH", connRoute, `{"settings":` + nest(5000, `1`) + `}`, 422, "settings.a.a*"},
		{"patch settings 11 deep", "PATCH", connRoute, `{"settings":` + nest(11, `1`) + `}`, 422, "settings.a.a*"},
		{"patch unknown member", "PATCH", connRoute, `{"nmae":"x"}`, 400, "nmae"},
		// Integrations.
		{"integration 900,000-character name", "POST", "/v1/integrations", strings.Replace(ig(""), `"name":"ok"`, `"name":"`+huge+`"`, 1), 422, "name"},
		{"integration nested unknown member", "POST", "/v1/integrations", ig(`,"settings":{"zzz":true}`), 400, "settings.zzz"},
		{"integration deeper unknown member", "POST", "/v1/integrations", ig(`,"settings":{"accountDefaults":{"zzz":1}}`), 400, "settings.accountDefaults.zzz"},
		{"integration wrong nested type", "POST", "/v1/integrations", ig(`,"settings":{"reopenWindowMinutes":"soon"}`), 400, "settings.reopenWindowMinutes"},
		{"integration hostile connection id", "POST", "/v1/integrations", strings.Replace(ig(""), `"c_rmm"`, `"c_b1#INT#i_b"`, 1), 422, "rmmConnectionId"},
		{"integration 2,000-character connection id", "POST", "/v1/integrations", strings.Replace(ig(""), `"c_psa"`, `"`+strings.Repeat("c", 2000)+`"`, 1), 422, "psaConnectionId"},
		{"integration another tenant's connection", "POST", "/v1/integrations", strings.Replace(ig(""), `"c_rmm"`, `"c_b1"`, 1), 422, "rmmConnectionId"},
		{"integration huge ticket default", "POST", "/v1/integrations", ig(`,"settings":{"ticketDefaults":{"board":"` + long + `"}}`), 422, "settings.ticketDefaults.board"},
		{"integration 101 ticket defaults", "POST", "/v1/integrations", ig(`,"settings":{"ticketDefaults":{` + manyEntries(101) + `}}`), 422, "settings.ticketDefaults"},
		{"integration huge priority", "POST", "/v1/integrations", ig(`,"settings":{"priorityMap":{"critical":"` + long + `"}}`), 422, "settings.priorityMap.critical"},
		{"integration hostile catch-all", "POST", "/v1/integrations", ig(`,"settings":{"catchAllAccountId":"a#b"}`), 422, "settings.catchAllAccountId"},
		{"integration huge account default", "POST", "/v1/integrations", ig(`,"settings":{"accountDefaults":{"type":"` + long + `"}}`), 422, "settings.accountDefaults.type"},
		{"integration settings 33 deep", "POST", "/v1/integrations", ig(`,"settings":{"ticketDefaults":` + nest(40, `"x"`) + `}`), 422, "settings.ticketDefaults.a*"},
		{"integration empty patch", "PATCH", intRoute, `{}`, 422, "(body)"},
		{"integration patch nested unknown", "PATCH", intRoute, `{"settings":{"priorityMap":{"critical":"1"},"zzz":1}}`, 400, "settings.zzz"},
		{"integration patch huge name", "PATCH", intRoute, `{"name":"` + huge + `"}`, 422, "name"},
		// Mappings.
		{"mapping hostile account id", "PUT", intRoute + "/mappings/{orgId}", `{"accountId":"250#x"}`, 422, "accountId"},
		{"mapping 2,000-character account id", "PUT", intRoute + "/mappings/{orgId}", `{"accountId":"` + strings.Repeat("1", 2000) + `"}`, 422, "accountId"},
		{"mapping huge account name", "PUT", intRoute + "/mappings/{orgId}", `{"createAccount":{"name":"` + huge + `"}}`, 422, "createAccount.name"},
		{"mapping huge status", "PUT", intRoute + "/mappings/{orgId}", `{"createAccount":{"status":"` + long + `"}}`, 422, "createAccount.status"},
		{"mapping hostile site id", "PUT", intRoute + "/mappings/{orgId}", `{"accountId":"250","sites":{"s#1":"create"}}`, 422, "sites.s#1"},
		{"mapping hostile location id", "PUT", intRoute + "/mappings/{orgId}", `{"accountId":"250","sites":{"s1":"l/1"}}`, 422, "sites.s1"},
		{"mapping 101 sites", "PUT", intRoute + "/mappings/{orgId}", `{"accountId":"250","sites":{` + manyEntries(101) + `}}`, 422, "sites"},
		{"mapping nested unknown", "PUT", intRoute + "/mappings/{orgId}", `{"createAccount":{"zzz":1}}`, 400, "createAccount.zzz"},
		{"mapping wrong type", "PUT", intRoute + "/mappings/{orgId}", `{"sites":{"s1":5}}`, 400, "sites*"},
		// Imports.
		{"import hostile organization id", "POST", intRoute + "/imports", `{"kind":"assets","organizationIds":["1","2#ITEM#3"]}`, 422, "organizationIds[1]"},
		{"import 2,000-character organization id", "POST", intRoute + "/imports", `{"kind":"assets","organizationIds":["` + strings.Repeat("1", 2000) + `"]}`, 422, "organizationIds[0]"},
		{"import 10,001 organizations", "POST", intRoute + "/imports", `{"kind":"assets","organizationIds":[` + strings.TrimSuffix(strings.Repeat(`"1",`, 10001), ",") + `]}`, 422, "organizationIds"},
		{"import wrong type", "POST", intRoute + "/imports", `{"kind":"assets","organizationIds":[1]}`, 400, "organizationIds*"},
		{"import deep", "POST", intRoute + "/imports", `{"kind":` + nest(5000, `1`) + `}`, 422, "kind.a*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, detail, fe := e.call(t, request{method: tt.method, route: tt.route, params: ids, body: tt.body})
			if st != tt.status {
				t.Fatalf("status %d, want %d (%s %+v)", st, tt.status, detail, fe)
			}
			if tt.field != "" && !hasField(fe, tt.field) {
				t.Errorf("errors %+v do not name %s", fe, tt.field)
			}
		})
	}
	// Nothing of the refused requests was stored.
	c, err := e.conns.Get(context.Background(), "t_a", "c_rmm")
	if err != nil || c.Name != "c_rmm" || len(c.Settings) != 0 || c.UpdatedAt != c.CreatedAt {
		t.Errorf("c_rmm changed: %+v, %v", c, err)
	}
	igA, err := e.conns.GetIntegration(context.Background(), "t_a", "i_a")
	if err != nil || igA.Name != "i_a" {
		t.Errorf("i_a changed: %+v, %v", igA, err)
	}
	list, _, err := e.conns.ListIntegrations(context.Background(), "t_a", 50, "")
	if err != nil || len(list) != 1 {
		t.Errorf("integrations of t_a: %d, %v; want only i_a", len(list), err)
	}
	conns, _, err := e.conns.List(context.Background(), "t_a", 50, "")
	if err != nil || len(conns) != 3 { // c_rmm, c_psa and the one valid create ("settings 10 deep")
		t.Errorf("connections of t_a: %d, %v; want 3", len(conns), err)
	}
	if len(e.guard.opened) != 0 {
		t.Errorf("refused requests opened vendor clients: %v", e.guard.opened)
	}
}

func manyEntries(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d":"create"`, i)
	}
	return strings.Join(parts, ",")
}

// TestEveryListRouteAnswers400 sends a bad limit and a bad cursor to every
// list route: each is the 400 openapi.yaml documents (they were 422), names
// the parameter, and is answered before any vendor is called.
func TestEveryListRouteAnswers400(t *testing.T) {
	e := newInputEnv(t)
	var lists []string
	for _, key := range e.rt.RouteKeys() {
		method, route, _ := strings.Cut(key, " ")
		op := importContractOp(t, method, route)
		if op == nil || op.Parameters.GetByInAndName("query", "limit") == nil {
			continue
		}
		lists = append(lists, key)
		params := map[string]string{}
		for _, p := range routeParams(route) {
			params[p] = map[string]string{"integrationId": "i_a", "accountId": "250", "jobId": e.jobA}[p]
		}
		for name, query := range map[string]map[string]string{
			"limit 0":            {"limit": "0"},
			"limit 501":          {"limit": "501"},
			"limit not a number": {"limit": "ten"},
			"forged cursor":      {"cursor": "eyJwayI6IlQjdF9iIiwic2siOiJDT05OI2NfYjEifQ"},
			"garbage cursor":     {"cursor": "%%%"},
			"negative cursor":    {"cursor": "-1"},
			"huge cursor":        {"cursor": strings.Repeat("c", 5000)},
		} {
			if strings.HasSuffix(route, "/psa/accounts") && query["cursor"] != "" && len(query["cursor"]) <= 2048 {
				// The PSA's own cursor: only the vendor can tell whether it
				// issued it (the local stack's tests send it one).
				continue
			}
			t.Run(key+"/"+name, func(t *testing.T) {
				st, detail, fe := e.call(t, request{method: method, route: route, params: params, query: query})
				if st != http.StatusBadRequest {
					t.Fatalf("status %d (%s), want 400", st, detail)
				}
				var want string
				for k := range query {
					want = k
				}
				if !hasField(fe, want) {
					t.Errorf("errors %+v do not name %s", fe, want)
				}
			})
		}
	}
	sort.Strings(lists)
	if len(lists) < 13 {
		t.Errorf("only %d list routes found: %v", len(lists), lists)
	}
	for name, q := range map[string]request{
		"search over 200 characters": {method: "GET", route: intRoute + "/psa/accounts", query: map[string]string{"search": strings.Repeat("s", 201)}},
		"status over 200 characters": {method: "GET", route: intRoute + "/psa/accounts", query: map[string]string{"status": strings.Repeat("s", 201)}},
		"hostile organizationId":     {method: "GET", route: intRoute + "/assets", query: map[string]string{"organizationId": "o#1"}},
		"unknown alert state":        {method: "GET", route: intRoute + "/alerts", query: map[string]string{"state": "acknowledged"}},
		"unknown import item status": {method: "GET", route: intRoute + "/imports/{jobId}/items", query: map[string]string{"status": "everything"}},
	} {
		t.Run(name, func(t *testing.T) {
			q.params = map[string]string{"integrationId": "i_a", "jobId": e.jobA}
			st, detail, fe := e.call(t, q)
			var want string
			for k := range q.query {
				want = k
			}
			if st != http.StatusBadRequest || !hasField(fe, want) {
				t.Errorf("status %d %s %+v, want 400 naming %s", st, detail, fe, want)
			}
		})
	}
	if len(e.guard.opened) != 0 {
		t.Errorf("bad list parameters opened vendor clients: %v", e.guard.opened)
	}
}

var (
	specDocOnce sync.Once
	specDoc     *openapi3.T
	specDocErr  error
)

// importContractOp returns the openapi operation of a route, or nil.
func importContractOp(t *testing.T, method, route string) *openapi3.Operation {
	t.Helper()
	specDocOnce.Do(func() { specDoc, specDocErr = openapi3.NewLoader().LoadFromFile("../../openapi.yaml") })
	if specDocErr != nil {
		t.Fatal(specDocErr)
	}
	item := specDoc.Paths.Find(route)
	if item == nil {
		return nil
	}
	return item.GetOperation(method)
}

// TestOtherTenantsIDs asks for tenant t_b's resources with tenant t_a's
// key: every answer is 404, as for an id that does not exist, and nothing
// of t_b changes.
func TestOtherTenantsIDs(t *testing.T) {
	e := newInputEnv(t)
	tests := []request{
		{method: "GET", route: connRoute, params: map[string]string{"connectionId": "c_b1"}},
		{method: "PATCH", route: connRoute, params: map[string]string{"connectionId": "c_b1"}, body: `{"name":"mine now"}`},
		{method: "DELETE", route: connRoute, params: map[string]string{"connectionId": "c_b1"}},
		{method: "POST", route: connRoute + "/test", params: map[string]string{"connectionId": "c_b1"}},
		{method: "GET", route: intRoute, params: map[string]string{"integrationId": "i_b"}},
		{method: "PATCH", route: intRoute, params: map[string]string{"integrationId": "i_b"}, body: `{"name":"mine now"}`},
		{method: "DELETE", route: intRoute, params: map[string]string{"integrationId": "i_b"}},
		{method: "POST", route: intRoute + "/webhook-secret", params: map[string]string{"integrationId": "i_b"}},
		{method: "GET", route: intRoute + "/imports/{jobId}", params: map[string]string{"integrationId": "i_a", "jobId": e.jobB}},
		{method: "GET", route: intRoute + "/imports/{jobId}", params: map[string]string{"integrationId": "i_b", "jobId": e.jobB}},
		{method: "GET", route: intRoute + "/imports/{jobId}/items", params: map[string]string{"integrationId": "i_b", "jobId": e.jobB}},
		{method: "POST", route: intRoute + "/imports/{jobId}/retry", params: map[string]string{"integrationId": "i_b", "jobId": e.jobB}},
		{method: "GET", route: intRoute + "/assets", params: map[string]string{"integrationId": "i_b"}},
		{method: "GET", route: intRoute + "/assets/{deviceId}", params: map[string]string{"integrationId": "i_b", "deviceId": "1001"}},
		{method: "GET", route: intRoute + "/alerts", params: map[string]string{"integrationId": "i_b"}},
	}
	for _, q := range tests {
		t.Run(q.method+" "+q.route+" "+q.params["connectionId"]+q.params["integrationId"], func(t *testing.T) {
			if st, detail, _ := e.call(t, q); st != http.StatusNotFound {
				t.Errorf("status %d (%s), want 404", st, detail)
			}
		})
	}
	for _, id := range []string{"c_b1", "c_b2"} {
		if c, err := e.conns.Get(context.Background(), "t_b", id); err != nil || c.Name != id {
			t.Errorf("t_b's %s changed: %+v, %v", id, c, err)
		}
	}
	if ig, err := e.conns.GetIntegration(context.Background(), "t_b", "i_b"); err != nil || ig.Name != "i_b" {
		t.Errorf("t_b's i_b changed: %+v, %v", ig, err)
	}
}

// publicResolver answers every name with a public documentation-free
// address, so base URL checks run offline (no DNS, no traffic).
type publicResolver struct{}

func (publicResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("8.8.8.8")}, nil
}
