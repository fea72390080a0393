package lambdaset

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/apitest"
	"github.com/rmmbridge/rmmbridge/shared/devtools/localrun"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
)

// eventCase says which function an events/ file is for and what it must answer.
type eventCase struct {
	function string
	// For HTTP events: the status and, optionally, body fields that must match.
	status int
	body   map[string]any
	// For authorizer events: the simple response.
	authorized bool
	tenantID   string
	// For SQS events: the message ids reported as failed.
	failed []string
}

// eventCases covers every file in events/; a new file without a case fails
// the test, so fixtures and expectations move together.
var eventCases = map[string]eventCase{
	"api-health.json":           {function: "ApiFunction", status: 200, body: map[string]any{"status": "ok"}},
	"api-list-connections.json": {function: "ApiFunction", status: 200, body: map[string]any{"items": []any{}}},
	// The fixture targets the dev stack's NinjaOne sandbox on 127.0.0.1:8081;
	// a deployed function (no loopback switch) refuses it before any call.
	"api-create-connection.json": {function: "ApiFunction", status: 422,
		body: map[string]any{"errors": []any{map[string]any{"field": "baseUrl", "message": "must not point at a loopback address"}}}},
	"api-get-integration.json":         {function: "ApiFunction", status: 404, body: map[string]any{"detail": "no integration i_demo"}},
	"api-unauthorized-no-context.json": {function: "ApiFunction", status: 401},
	"console-asset.json":               {function: "ConsoleFunction", status: 200},
	// The users and sign-in routes are their own function (the only one
	// with the Cognito SDK): an admin lists the demo tenant's users (none
	// imported), and a sign-in with an unknown email is refused.
	"users-list.json":                  {function: "UsersFunction", status: 200, body: map[string]any{"items": []any{}}},
	"users-login-bad-credentials.json": {function: "UsersFunction", status: 401},
	"authorizer-request.json":          {function: "AuthorizerFunction", authorized: true, tenantID: DemoTenantID},
	// The fixture's integration does not exist: 401, like a wrong secret.
	"alert-webhook-ninjaone.json": {function: "AlertWebhookFunction", status: 401,
		body: map[string]any{"detail": "the webhook secret or signature is missing or wrong"}},
	// The fixture's integration does not exist: 404 before any vendor call.
	"asset-sync.json": {function: "AssetRefreshFunction", status: 404, body: map[string]any{"detail": "no integration i_demo"}},
	"sqs-import.json": {function: "ImportDispatchFunction", failed: recordIDs},
	// Unknown integration: permanent, nothing to record into; both records
	// are reported failed so they end in the dead-letter queue.
	"sqs-asset.json": {function: "AssetRefreshFunction", failed: recordIDs},
	// Alerts of an integration that does not exist are kept for the
	// dead-letter queue, never dropped.
	"sqs-alert.json": {function: "AlertWorkerFunction", failed: recordIDs},
	// No integration has provisionRmmOrgs on: the run does nothing, no error.
	"scheduler-tick.json": {function: "SchedulerFunction"},
}

// recordIDs marks "every record of the file".
var recordIDs = []string{"*"}

func TestEventsThroughRuntimeDecoding(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root := apitest.RepoRoot(t)
	cfg := motoserver.ForTest(t)
	stack, err := localrun.Start(ctx, localrun.Options{
		TemplatePath: filepath.Join(root, "template.yaml"),
		AWS:          cfg,
		StackName:    motoserver.UniqueName("events"),
		Functions:    Functions(),
		APIAddr:      "127.0.0.1:0",
	})
	if err != nil {
		t.Fatalf("start local stack: %v", err)
	}
	t.Cleanup(func() { _ = stack.Stop(context.Background()) })

	// The authorizer fixture carries this key; the demo tenant owns it.
	if _, err := SeedDemo(ctx, cfg, stack.TableName("Table"), "rmb_devkey_example"); err != nil {
		t.Fatalf("seed demo tenant: %v", err)
	}

	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no events/*.json files (%v)", err)
	}
	seen := map[string]bool{}
	for _, path := range files {
		name := filepath.Base(path)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			tc, ok := eventCases[name]
			if !ok {
				t.Fatalf("events/%s has no expectation in eventCases", name)
			}
			payload, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			env := stack.Env(tc.function)
			h, err := Functions()[tc.function](ctx, func(k string) string { return env[k] }, cfg)
			if err != nil {
				t.Fatalf("build %s: %v", tc.function, err)
			}
			out, err := lambdafn.NewHandler(h).Invoke(ctx, payload)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			check(t, tc, payload, out)
		})
	}
	var missing []string
	for name := range eventCases {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("expectations for files that do not exist: %v", missing)
	}
}

func check(t *testing.T, tc eventCase, payload, out []byte) {
	t.Helper()
	var got struct {
		StatusCode        int               `json:"statusCode"`
		Headers           map[string]string `json:"headers"`
		Body              string            `json:"body"`
		IsAuthorized      *bool             `json:"isAuthorized"`
		Context           map[string]any    `json:"context"`
		BatchItemFailures *[]struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, out)
	}
	switch {
	case tc.failed != nil:
		var in struct {
			Records []struct {
				MessageID string `json:"messageId"`
			} `json:"Records"`
		}
		if err := json.Unmarshal(payload, &in); err != nil {
			t.Fatal(err)
		}
		want := tc.failed
		if len(want) == 1 && want[0] == "*" {
			want = nil
			for _, r := range in.Records {
				want = append(want, r.MessageID)
			}
		}
		if got.BatchItemFailures == nil {
			t.Fatalf("no batchItemFailures in %s", out)
		}
		var ids []string
		for _, f := range *got.BatchItemFailures {
			ids = append(ids, f.ItemIdentifier)
		}
		if diff := cmp.Diff(want, ids); diff != "" {
			t.Errorf("batch item failures (-want +got):\n%s", diff)
		}
	case tc.function == "SchedulerFunction":
		// A scheduled handler answers null; Invoke failed above if it erred.
		if string(bytes.TrimSpace(out)) != "null" {
			t.Errorf("scheduled response = %s, want null", out)
		}
	case tc.function == "AuthorizerFunction":
		if got.IsAuthorized == nil || *got.IsAuthorized != tc.authorized {
			t.Fatalf("isAuthorized = %v, want %v (%s)", got.IsAuthorized, tc.authorized, out)
		}
		if got.Context["tenantId"] != tc.tenantID {
			t.Errorf("context tenantId = %v, want %s", got.Context["tenantId"], tc.tenantID)
		}
	case tc.function == "ConsoleFunction":
		// A static file, with the console's security headers.
		if got.StatusCode != tc.status || !strings.HasPrefix(got.Headers["content-type"], "text/javascript") ||
			!strings.Contains(got.Headers["content-security-policy"], "frame-ancestors 'none'") {
			t.Errorf("console answer %d %v, want %d JavaScript with the CSP", got.StatusCode, got.Headers, tc.status)
		}
	default:
		if got.StatusCode != tc.status {
			t.Fatalf("status = %d, want %d (body %s)", got.StatusCode, tc.status, got.Body)
		}
		if tc.status >= 400 && !strings.HasPrefix(got.Headers["content-type"], "application/problem+json") {
			t.Errorf("error content-type = %q, want application/problem+json", got.Headers["content-type"])
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(got.Body), &body); err != nil {
			t.Fatalf("body is not JSON: %s", got.Body)
		}
		for k, want := range tc.body {
			if diff := cmp.Diff(want, body[k]); diff != "" {
				t.Errorf("body[%q] (-want +got):\n%s", k, diff)
			}
		}
	}
}
