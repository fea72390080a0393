package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rmmbridge/rmmbridge/shared/api"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/alertwebhookfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/assetrefreshfn"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
)

// rawCall sends one request as is (the path already percent-encoded) and
// returns the status, whether our code answered (x-request-id) and the
// problem, if any. It fails the test on a 5xx or a 2xx.
func rawCall(t *testing.T, key, method, path, body string) (int, problem) {
	t.Helper()
	req, err := http.NewRequest(method, env.Stack.APIURL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %.120s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var p problem
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("%s %.120s = %d, want 4xx: %.300s", method, path, resp.StatusCode, raw)
		return resp.StatusCode, p
	}
	if resp.Header.Get("x-request-id") != "" { // our code, not the gateway's own 404
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s %.120s: content-type %q, want application/problem+json", method, path, ct)
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Errorf("%s %.120s: problem is not JSON: %.200s", method, path, raw)
		}
		if len(raw) > 8<<10 {
			t.Errorf("%s %.120s: the problem is %d bytes", method, path, len(raw))
		}
	}
	return resp.StatusCode, p
}

func named(p problem, field string) bool {
	for _, e := range p.Errors {
		if e.Field == field || (strings.HasSuffix(field, "*") && strings.HasPrefix(e.Field, strings.TrimSuffix(field, "*"))) {
			return true
		}
	}
	return false
}

// allRoutes is every HTTP route of the stack: the API function's, the
// webhook and the Sync button.
func allRoutes() []string {
	return append(api.New(api.Deps{}).RouteKeys(), alertwebhookfn.Route, assetrefreshfn.SyncRoute)
}

// TestHostileCaller drives every route of the local stack over HTTP the way
// a hostile or clumsy caller does: hostile path ids (percent-encoded '#'
// and '/', 2,000 characters, non-ASCII, NUL), another tenant's ids, huge
// and deeply nested bodies, malformed JSON, wrong types, bad list
// parameters. Every answer is a 4xx, problem+json naming the field when
// our code answers, never a 5xx and never a success.
func TestHostileCaller(t *testing.T) {
	c := client(t)
	ctx := context.Background()
	base := "/v1/integrations/" + env.IntegrationID

	// A finished dry-run job with item records: the target of
	// GET /imports/{job}%23ITEM%23{org}, which once answered a fake job.
	org := strconv.Itoa(env.Ninja().Orgs()[0].ID)
	var queued struct{ ID string }
	r := c.Do(http.MethodPost, base+"/imports", map[string]any{"kind": "organizations", "organizationIds": []string{org}, "dryRun": true})
	r.JSON(t, &queued)
	if r.Status != 202 {
		t.Fatalf("dry run = %d %s", r.Status, r.Body)
	}
	waitJob(t, c, queued.ID, time.Minute)

	// Another tenant, with its own admin key.
	tenants := tenant.NewService(dynamostore.NewTenants(dynamostore.New(dynamodb.NewFromConfig(env.AWS), env.Stack.TableName("Table"))))
	if _, err := tenants.EnsureTenant(ctx, "t_other", "Other MSP"); err != nil {
		t.Fatal(err)
	}
	otherKey, _, err := tenants.IssueKey(ctx, "t_other", tenant.RoleAdmin, "hostile test")
	if err != nil {
		t.Fatal(err)
	}

	device := strconv.Itoa(env.Ninja().Devices()[0].ID)
	realIDs := map[string]string{"connectionId": env.RMMConnection, "integrationId": env.IntegrationID, "jobId": queued.ID,
		"orgId": org, "accountId": strconv.Itoa(env.CW().Companies()[0].ID), "deviceId": device, "userId": env.Users.AdminUserID}
	bodies := map[string]string{
		"PATCH /v1/connections/{connectionId}":                              `{"name":"taken over"}`,
		"PATCH /v1/integrations/{integrationId}":                            `{"name":"taken over"}`,
		"PUT /v1/integrations/{integrationId}/mappings/{orgId}":             `{"accountId":"1"}`,
		"POST /v1/integrations/{integrationId}/imports":                     `{"kind":"assets","dryRun":true}`,
		"POST /v1/webhooks/{integrationId}/rmm":                             `{"id":1,"activityType":"CONDITION"}`,
		"POST /v1/connections":                                              `{}`,
		"POST /v1/integrations":                                             `{}`,
		"POST /v1/users/import":                                             `{}`,
		"PATCH /v1/users/{userId}":                                          `{"role":"viewer"}`,
		"POST /v1/integrations/{integrationId}/organizations/{orgId}/match": ``,
	}
	hostile := map[string]string{
		"a job's item key":  queued.ID + "%23ITEM%23" + org,
		"key separator":     "x%23y",
		"encoded slash":     "c_1%2Ftest",
		"2,000 characters":  strings.Repeat("a", 2000),
		"non-ASCII":         "c_%C3%B6",
		"NUL":               "c%00",
		"space":             "c%201",
		"dot-dot":           "..%2F..",
		"another tenant pk": "T%23t_other",
	}
	routes := 0
	for _, key := range allRoutes() {
		method, route, _ := strings.Cut(key, " ")
		params := []string{}
		for _, seg := range strings.Split(route, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, strings.Trim(seg, "{}"))
			}
		}
		if len(params) == 0 {
			continue
		}
		routes++
		fill := func(ids map[string]string) string {
			p := route
			for _, name := range params {
				p = strings.Replace(p, "{"+name+"}", ids[name], 1)
			}
			return p
		}
		for _, param := range params {
			for name, raw := range hostile {
				t.Run("path/"+key+"/"+param+"/"+name, func(t *testing.T) {
					ids := map[string]string{}
					for k, v := range realIDs {
						ids[k] = v
					}
					ids[param] = raw
					st, p := rawCall(t, env.APIKey, method, fill(ids), bodies[key])
					if key == alertwebhookfn.Route {
						// The webhook answers a malformed id like an unknown
						// integration, revealing nothing: 401.
						if st != http.StatusUnauthorized && st != http.StatusNotFound {
							t.Errorf("status %d, want 401 (or the gateway's 404 for a path that routes nowhere)", st)
						}
						return
					}
					if st == http.StatusBadRequest && !named(p, param) {
						t.Errorf("400 does not name %s: %+v", param, p)
					}
					if st != http.StatusBadRequest && st != http.StatusNotFound {
						t.Errorf("status %d, want 400 (or the gateway's 404 for a path that routes nowhere)", st)
					}
				})
			}
		}
		if key == alertwebhookfn.Route {
			continue // no API key: another tenant's key means nothing there
		}
		for cred, secret := range map[string]string{"key": otherKey, "token": theOtherTenant(t).token} {
			t.Run("other tenant "+cred+"/"+key, func(t *testing.T) {
				if st, p := rawCall(t, secret, method, fill(realIDs), bodies[key]); st != http.StatusNotFound {
					t.Errorf("another tenant's ids = %d %+v, want 404", st, p)
				}
			})
		}
	}
	if routes < 20 {
		t.Errorf("only %d routes with path ids", routes)
	}

	// Bodies.
	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + `1` + strings.Repeat(`}`, n) }
	huge := strings.Repeat("n", 900_000)
	conn := `"kind":"rmm","provider":"ninjaone","baseUrl":"` + env.RMM.BaseURL + `","credentials":{"clientId":"x","clientSecret":"y"}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"connection with a 900,000-character name", "POST", "/v1/connections", `{"name":"` + huge + `",` + conn + `}`, 422, "name"},
		{"connection with settings 5,000 deep", "POST", "/v1/connections", `{"name":"deep",` + conn + `,"settings":` + deep(5000) + `}`, 422, "settings.a*"},
		{"connection with settings 11 deep", "POST", "/v1/connections", `{"name":"deep",` + conn + `,"settings":` + deep(11) + `}`, 422, "settings.a*"},
		{"connection body over 1 MiB", "POST", "/v1/connections", `{"name":"` + strings.Repeat("n", 1<<20) + `"}`, 413, ""},
		{"connection malformed", "POST", "/v1/connections", `{"name":"x",`, 400, ""},
		{"connection wrong type", "POST", "/v1/connections", `{"name":["x"]}`, 400, "name"},
		{"empty connection patch", "PATCH", "/v1/connections/" + env.RMMConnection, `{}`, 422, "(body)"},
		{"connection patch with a huge name", "PATCH", "/v1/connections/" + env.RMMConnection, `{"name":"` + huge + `"}`, 422, "name"},
		{"integration with a 900,000-character name", "POST", "/v1/integrations", `{"name":"` + huge + `","rmmConnectionId":"` + env.RMMConnection + `","psaConnectionId":"` + env.PSAConnection + `"}`, 422, "name"},
		{"integration patch with a nested unknown member", "PATCH", base, `{"settings":{"zzz":1}}`, 400, "settings.zzz"},
		{"empty integration patch", "PATCH", base, `{}`, 422, "(body)"},
		{"mapping with a hostile account id", "PUT", base + "/mappings/" + org, `{"accountId":"1#2"}`, 422, "accountId"},
		{"import of a hostile organization id", "POST", base + "/imports", `{"kind":"assets","organizationIds":["1#ITEM#2"]}`, 422, "organizationIds[0]"},
		{"import nested 5,000 deep", "POST", base + "/imports", `{"kind":` + deep(5000) + `}`, 422, "kind.a*"},
	} {
		t.Run("body/"+tc.name, func(t *testing.T) {
			st, p := rawCall(t, env.APIKey, tc.method, tc.path, tc.body)
			if st != tc.status {
				t.Errorf("status %d %+v, want %d", st, p, tc.status)
			}
			if tc.field != "" && !named(p, tc.field) {
				t.Errorf("errors %+v do not name %s", p.Errors, tc.field)
			}
		})
	}

	// List parameters.
	for _, path := range []string{"/v1/connections", "/v1/integrations", base + "/organizations", base + "/psa/accounts",
		base + "/psa/account-statuses", base + "/psa/account-types", base + "/psa/members", base + "/mappings", base + "/imports",
		base + "/imports/" + queued.ID + "/items", base + "/assets", base + "/alerts"} {
		for _, q := range []string{"limit=0", "limit=x", "cursor=not-a-cursor", "cursor=" + strings.Repeat("c", 3000)} {
			t.Run("query/"+path+"?"+q[:min(len(q), 20)], func(t *testing.T) {
				st, p := rawCall(t, env.APIKey, "GET", path+"?"+q, "")
				field, _, _ := strings.Cut(q, "=")
				if st != http.StatusBadRequest || !named(p, field) {
					t.Errorf("status %d %+v, want 400 naming %s", st, p, field)
				}
			})
		}
	}
	if st, p := rawCall(t, env.APIKey, "GET", base+"/psa/accounts?search="+strings.Repeat("s", 201), ""); st != 400 || !named(p, "search") {
		t.Errorf("search of 201 characters = %d %+v, want 400 naming search", st, p)
	}

	// Nothing the refused requests carried was stored.
	var conns struct{ Items []struct{ ID, Name string } }
	c.Do(http.MethodGet, "/v1/connections?limit=500", nil).JSON(t, &conns)
	for _, cn := range conns.Items {
		if cn.Name == "deep" || cn.Name == "taken over" || len(cn.Name) > 200 {
			t.Errorf("a refused request stored connection %s (%.40q)", cn.ID, cn.Name)
		}
	}
	if body := c.Do(http.MethodGet, base, nil).Body; bytes.Contains(body, []byte("taken over")) {
		t.Errorf("another tenant renamed the integration: %s", body)
	}
}
