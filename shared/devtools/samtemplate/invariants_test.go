package samtemplate

// Invariants of the project's own template.yaml (and of openapi.yaml, which
// must document the same routes). These are the rules of ARCHITECTURE.md and
// reference/aws-limits.md §1.1 that cfn-lint does not know about: partial
// batch responses, dead-letter queues, visibility timeouts, authorization of
// every route, and the build and runtime settings the Makefile and the
// handlers rely on.

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

const (
	invTemplatePath = "../../../template.yaml"
	invOpenAPIPath  = "../../../openapi.yaml"
	invMakefilePath = "../../../Makefile"

	// invDLQRetention is SQS's maximum retention, 14 days: a dead-letter
	// queue keeps what it holds as long as it can.
	invDLQRetention = 1209600
	// invMinReceiveCount lets throttling alone never dead-letter a message.
	invMinReceiveCount = 5
	// invVisibilityFactor: queue visibility timeout ≥ 6 × consumer timeout.
	invVisibilityFactor = 6
	// invAuthorizer is the HTTP API's API-key authorizer.
	invAuthorizer = "ApiKeyAuthorizer"
)

// invPublicRoutes are the only routes of the JSON API without the
// authorizer: health, the webhook (its own secret) and sign-in (no
// credential yet).
var invPublicRoutes = []string{
	"GET /v1/health",
	"POST /v1/webhooks/{integrationId}/rmm",
	"POST /v1/auth/login",
	"POST /v1/auth/new-password",
	"POST /v1/auth/refresh",
}

// invConsoleRoutes are the only routes outside /v1: the operator console's
// static files (shared/console). They carry no authorizer (the files are
// public, the data behind them is not) and are not in openapi.yaml, which
// documents the JSON API.
var invConsoleRoutes = []string{
	"GET /",
	"GET /console/{proxy+}",
}

// invConsoleFunction reports whether f serves console routes only.
func invConsoleFunction(f Function) bool {
	n := 0
	for _, e := range f.Events {
		if e.HTTPAPI == nil || !slices.Contains(invConsoleRoutes, e.HTTPAPI.RouteKey()) {
			return false
		}
		n++
	}
	return n > 0
}

// invProjectTemplate parses template.yaml with the package's parser, and
// also as a raw yaml.v3 tree for the settings the model does not carry
// (Metadata, Architectures, Tracing, LoggingConfig, DeletionPolicy).
func invProjectTemplate(t *testing.T) (*Template, *yaml.Node) {
	t.Helper()
	tp, err := ParseFile(invTemplatePath)
	if err != nil {
		t.Fatalf("ParseFile(%s): %v", invTemplatePath, err)
	}
	data, err := os.ReadFile(invTemplatePath)
	if err != nil {
		t.Fatalf("read template: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	if len(tp.Functions) == 0 {
		t.Fatal("template has no functions")
	}
	return tp, doc.Content[0]
}

// The raw-tree helpers below are the test's own, so that it depends only on
// the package's exported API.

// invPath walks mapping keys from n; nil when any key is missing.
func invPath(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

// invScalar returns a plain (untagged) scalar's value, "" for anything else.
func invScalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || (n.Tag != "" && n.Tag[0] == '!' && !strings.HasPrefix(n.Tag, "!!")) {
		return ""
	}
	return n.Value
}

// invScalars returns a sequence's scalar values.
func invScalars(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, v := range n.Content {
		out = append(out, invScalar(v))
	}
	return out
}

// invRoute is one HTTP API route of the template.
type invRoute struct {
	Function string
	Event    string
	Key      string // "GET /v1/health"
	API      string
	AuthNone bool
	Auth     string
}

func invRoutes(tp *Template) []invRoute {
	var out []invRoute
	for _, f := range tp.Functions {
		for _, e := range f.Events {
			if e.HTTPAPI == nil {
				continue
			}
			out = append(out, invRoute{Function: f.LogicalID, Event: e.Name, Key: e.HTTPAPI.RouteKey(),
				API: e.HTTPAPI.APIRef, AuthNone: e.HTTPAPI.AuthNone, Auth: e.HTTPAPI.Authorizer})
		}
	}
	return out
}

// invSQSEvent is one SQS event source with its function and queue.
type invSQSEvent struct {
	Function *Function
	Event    Event
	Queue    *Queue
}

func invSQSEvents(t *testing.T, tp *Template) []invSQSEvent {
	t.Helper()
	var out []invSQSEvent
	for i := range tp.Functions {
		f := &tp.Functions[i]
		for _, e := range f.Events {
			if e.SQS == nil {
				continue
			}
			q, ok := tp.Queue(e.SQS.QueueRef)
			if !ok {
				t.Fatalf("%s.%s: source queue %q is not a queue of the template", f.LogicalID, e.Name, e.SQS.QueueRef)
			}
			out = append(out, invSQSEvent{Function: f, Event: e, Queue: q})
		}
	}
	if len(out) == 0 {
		t.Fatal("template has no SQS events")
	}
	return out
}

func TestInvariantSQSEvents(t *testing.T) {
	tp, _ := invProjectTemplate(t)
	for _, s := range invSQSEvents(t, tp) {
		t.Run(s.Function.LogicalID+"."+s.Event.Name, func(t *testing.T) {
			e := s.Event.SQS
			if diff := cmp.Diff([]string{"ReportBatchItemFailures"}, e.FunctionResponseTypes); diff != "" {
				t.Errorf("FunctionResponseTypes (-want +got):\n%s", diff)
			}
			if !e.Enabled {
				t.Error("event source mapping is disabled")
			}
			if s.Queue.Fifo {
				// Lambda: FIFO batches hold at most 10 and take no batching window.
				if e.BatchSize < 1 || e.BatchSize > 10 {
					t.Errorf("FIFO BatchSize %d, want 1-10", e.BatchSize)
				}
				if e.MaximumBatchingWindowInSeconds != 0 {
					t.Errorf("FIFO MaximumBatchingWindowInSeconds %d, want 0", e.MaximumBatchingWindowInSeconds)
				}
				return
			}
			// Standard queues: the PSA's budget, not Lambda, bounds throughput.
			if e.MaximumConcurrency < 2 || e.MaximumConcurrency > 1000 {
				t.Errorf("ScalingConfig.MaximumConcurrency %d, want 2-1000", e.MaximumConcurrency)
			}
			if e.BatchSize > 10 && e.MaximumBatchingWindowInSeconds == 0 {
				t.Errorf("BatchSize %d needs a batching window", e.BatchSize)
			}
		})
	}
}

func TestInvariantDeadLetterQueues(t *testing.T) {
	tp, _ := invProjectTemplate(t)
	dlqs := map[string]bool{}
	for _, q := range tp.Queues {
		if q.RedrivePolicy != nil {
			dlqs[q.RedrivePolicy.DLQRef] = true
		}
	}
	consumed := map[string]bool{}
	for _, s := range invSQSEvents(t, tp) {
		consumed[s.Queue.LogicalID] = true
	}
	sources := 0
	for _, q := range tp.Queues {
		if dlqs[q.LogicalID] {
			t.Run(q.LogicalID+"/is-dead-letter-queue", func(t *testing.T) {
				if q.RedrivePolicy != nil {
					t.Errorf("dead-letter queue redrives to %s", q.RedrivePolicy.DLQRef)
				}
				if q.MessageRetentionPeriod != invDLQRetention {
					t.Errorf("MessageRetentionPeriod %d, want %d (14 days)", q.MessageRetentionPeriod, invDLQRetention)
				}
				if consumed[q.LogicalID] {
					t.Error("a function consumes the dead-letter queue; redrive it instead")
				}
			})
			continue
		}
		sources++
		t.Run(q.LogicalID, func(t *testing.T) {
			rp := q.RedrivePolicy
			if rp == nil {
				t.Fatal("source queue has no RedrivePolicy")
			}
			if rp.MaxReceiveCount < invMinReceiveCount {
				t.Errorf("maxReceiveCount %d, want ≥ %d", rp.MaxReceiveCount, invMinReceiveCount)
			}
			dlq, ok := tp.Queue(rp.DLQRef)
			if !ok {
				t.Fatalf("deadLetterTargetArn is not !GetAtt <queue of this template>.Arn (got ref %q)", rp.DLQRef)
			}
			if dlq.Fifo != q.Fifo {
				t.Errorf("FIFO-ness differs: queue %v, dead-letter queue %s %v", q.Fifo, dlq.LogicalID, dlq.Fifo)
			}
			if dlq.MessageRetentionPeriod < q.MessageRetentionPeriod {
				t.Errorf("dead-letter queue keeps messages %ds, less than the source's %ds", dlq.MessageRetentionPeriod, q.MessageRetentionPeriod)
			}
		})
	}
	if sources == 0 {
		t.Fatal("template has no source queues")
	}
}

func TestInvariantVisibilityTimeout(t *testing.T) {
	tp, _ := invProjectTemplate(t)
	for _, s := range invSQSEvents(t, tp) {
		t.Run(s.Queue.LogicalID+"->"+s.Function.LogicalID, func(t *testing.T) {
			want := invVisibilityFactor * s.Function.Timeout
			if s.Queue.VisibilityTimeout < want {
				t.Errorf("VisibilityTimeout %ds < %d × %s Timeout %ds = %ds",
					s.Queue.VisibilityTimeout, invVisibilityFactor, s.Function.LogicalID, s.Function.Timeout, want)
			}
			if s.Queue.VisibilityTimeout > 43200 {
				t.Errorf("VisibilityTimeout %ds over SQS's 12 h maximum", s.Queue.VisibilityTimeout)
			}
		})
	}
}

// invRate is an EventBridge rate expression: "rate(1 minute)", "rate(5
// minutes)" — singular for 1, plural otherwise, as EventBridge demands.
var invRate = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)

// TestInvariantSchedules: every Schedule event is enabled and a rate no
// shorter than its function's timeout, so one rule's runs overlap only
// when an invocation is retried (the runs' leases cover that).
func TestInvariantSchedules(t *testing.T) {
	tp, _ := invProjectTemplate(t)
	seen := 0
	for _, f := range tp.Functions {
		for _, e := range f.Events {
			if e.Schedule == nil {
				continue
			}
			seen++
			t.Run(f.LogicalID+"."+e.Name, func(t *testing.T) {
				if !e.Schedule.Enabled {
					t.Error("schedule is disabled")
				}
				m := invRate.FindStringSubmatch(e.Schedule.Expression)
				if m == nil {
					t.Fatalf("Schedule %q is not rate(N unit)", e.Schedule.Expression)
				}
				n, unit := 0, m[2]
				fmt.Sscan(m[1], &n)
				if (n == 1) != !strings.HasSuffix(unit, "s") || n < 1 {
					t.Errorf("Schedule %q: EventBridge wants rate(1 %s) or rate(N %ss)", e.Schedule.Expression,
						strings.TrimSuffix(unit, "s"), strings.TrimSuffix(unit, "s"))
				}
				period := n * map[string]int{"minute": 60, "hour": 3600, "day": 86400}[strings.TrimSuffix(unit, "s")]
				if f.Timeout > period {
					t.Errorf("%s Timeout %ds exceeds the schedule's period %ds", f.LogicalID, f.Timeout, period)
				}
			})
		}
	}
	if seen == 0 {
		t.Fatal("template has no Schedule events (the scheduler function is missing)")
	}
}

func TestInvariantFunctionsBuildWithMakefile(t *testing.T) {
	tp, root := invProjectTemplate(t)
	makefile, err := os.ReadFile(invMakefilePath)
	if err != nil {
		t.Fatalf("read Makefile: %v", err)
	}
	for _, f := range tp.Functions {
		t.Run(f.LogicalID, func(t *testing.T) {
			if f.CodeURI != "." {
				t.Errorf("CodeUri %q, want %q (the module root, where the Makefile is)", f.CodeURI, ".")
			}
			if got := invScalar(invPath(root, "Resources", f.LogicalID, "Metadata", "BuildMethod")); got != "makefile" {
				t.Errorf("Metadata.BuildMethod %q, want makefile", got)
			}
			target := regexp.MustCompile(`(?m)^build-` + regexp.QuoteMeta(f.LogicalID) + `\s*:`)
			if !target.Match(makefile) {
				t.Errorf("Makefile has no target build-%s", f.LogicalID)
			}
			if f.Runtime != "provided.al2023" || f.Handler != "bootstrap" {
				t.Errorf("Runtime %q Handler %q, want provided.al2023 and bootstrap", f.Runtime, f.Handler)
			}
			for _, key := range []string{"Runtime", "Handler", "Architectures"} {
				if invPath(root, "Resources", f.LogicalID, "Properties", key) != nil {
					t.Errorf("%s overrides Globals.Function.%s", f.LogicalID, key)
				}
			}
		})
	}
}

func TestInvariantEnvironment(t *testing.T) {
	tp, _ := invProjectTemplate(t)
	const stack = "rmmbridge-test"
	// What each variable the code reads must resolve to; nothing else is
	// allowed.
	want := map[string]string{
		"LOG_LEVEL":        "INFO",
		"TABLE_NAME":       "ref:Table",
		"IMPORT_QUEUE_URL": "getatt:ImportQueue.QueueUrl",
		"ASSET_QUEUE_URL":  "getatt:AssetQueue.QueueUrl",
		"ALERT_QUEUE_URL":  "getatt:AlertQueue.QueueUrl",
		"SECRET_PREFIX":    "rmmbridge/" + stack + "/",
		// The user pool (the issuer is what its ID tokens' iss says).
		"USER_POOL_ID":        "ref:UserPool",
		"USER_POOL_CLIENT_ID": "ref:UserPoolClient",
		"USER_POOL_ISSUER":    "getatt:UserPool.ProviderURL",
	}
	r := Resolver{
		StackName: stack, Region: "us-east-1", AccountID: "123456789012",
		Ref:    func(id string) (string, error) { return "ref:" + id, nil },
		GetAtt: func(id, attr string) (string, error) { return "getatt:" + id + "." + attr, nil },
	}
	for _, f := range tp.Functions {
		t.Run(f.LogicalID, func(t *testing.T) {
			got, err := tp.ResolveMap(f.Environment, r)
			if err != nil {
				t.Fatalf("resolve environment: %v", err)
			}
			if _, ok := got["TABLE_NAME"]; !ok && !invConsoleFunction(f) {
				t.Error("TABLE_NAME is not set")
			}
			for name, v := range got {
				w, ok := want[name]
				if !ok {
					t.Errorf("variable %s is not one the code reads", name)
					continue
				}
				if v != w {
					t.Errorf("%s = %q, want %q", name, v, w)
				}
			}
		})
	}
}

func TestInvariantRoutesUseAuthorizer(t *testing.T) {
	tp, _ := invProjectTemplate(t)
	routes := invRoutes(tp)
	if len(routes) == 0 {
		t.Fatal("template has no HttpApi routes")
	}
	apis := map[string]bool{}
	for _, r := range routes {
		apis[r.API] = true
	}
	for api := range apis {
		t.Run("api/"+api, func(t *testing.T) {
			a, ok := tp.HTTPAPI(api)
			if !ok {
				t.Fatalf("HTTP API %s not found", api)
			}
			if a.DefaultAuthorizer != invAuthorizer {
				t.Fatalf("DefaultAuthorizer %q, want %q", a.DefaultAuthorizer, invAuthorizer)
			}
			au, _ := a.Authorizer(invAuthorizer)
			got := fmt.Sprintf("function=%s payload=%s simple=%v headers=%v cache=%ds",
				au.FunctionRef, au.PayloadFormatVersion, au.SimpleResponses, au.IdentityHeaders, au.ReauthorizeEvery)
			want := "function=AuthorizerFunction payload=2.0 simple=true headers=[Authorization] cache=300s"
			if got != want {
				t.Errorf("authorizer:\n got %s\nwant %s", got, want)
			}
		})
	}
	seenPublic := map[string]bool{}
	for _, r := range routes {
		t.Run(r.Function+"."+r.Event, func(t *testing.T) {
			if slices.Contains(invPublicRoutes, r.Key) || slices.Contains(invConsoleRoutes, r.Key) {
				seenPublic[r.Key] = true
				if !r.AuthNone {
					t.Errorf("%s is public (its own authentication, or the console's static files) and must set Auth.Authorizer NONE", r.Key)
				}
				return
			}
			if r.AuthNone {
				t.Errorf("%s has Authorizer NONE; only %v and %v may", r.Key, invPublicRoutes, invConsoleRoutes)
			}
			if r.Auth != "" && r.Auth != invAuthorizer {
				t.Errorf("%s uses authorizer %q, want %q", r.Key, r.Auth, invAuthorizer)
			}
		})
	}
	for _, k := range append(append([]string{}, invPublicRoutes...), invConsoleRoutes...) {
		if !seenPublic[k] {
			t.Errorf("public route %s is missing from the template", k)
		}
	}
}

func TestInvariantRoutesMatchOpenAPI(t *testing.T) {
	tp, _ := invProjectTemplate(t)
	doc, err := openapi3.NewLoader().LoadFromFile(invOpenAPIPath)
	if err != nil {
		t.Fatalf("load %s: %v", invOpenAPIPath, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate %s: %v", invOpenAPIPath, err)
	}

	// Route key → operation id / event name, on both sides.
	tmpl := map[string]string{}
	var outside []string
	for _, r := range invRoutes(tp) {
		if _, p, _ := strings.Cut(r.Key, " "); !strings.HasPrefix(p, "/v1/") {
			outside = append(outside, r.Key) // the console's files: not the JSON API
			continue
		}
		tmpl[r.Key] = r.Event
	}
	sort.Strings(outside)
	if diff := cmp.Diff(invConsoleRoutes, outside); diff != "" {
		t.Errorf("routes outside /v1 must be exactly the console's (-want +template.yaml):\n%s", diff)
	}
	spec := map[string]string{}
	ops := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			spec[key] = op.OperationID
			ops[key] = op
		}
	}
	if diff := cmp.Diff(invSortedKeys(tmpl), invSortedKeys(spec)); diff != "" {
		t.Errorf("routes (-template.yaml +openapi.yaml):\n%s", diff)
	}
	if diff := cmp.Diff(tmpl, spec); diff != "" {
		t.Errorf("operationId must equal the template's event name (-template.yaml +openapi.yaml):\n%s", diff)
	}

	bearer := func(reqs openapi3.SecurityRequirements) bool {
		for _, req := range reqs {
			if _, ok := req["bearerAuth"]; ok {
				return true
			}
		}
		return false
	}
	for key, op := range ops {
		t.Run(key, func(t *testing.T) {
			security := doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			public := slices.Contains(invPublicRoutes, key)
			if got := bearer(security); got == public {
				t.Errorf("bearerAuth required = %v, want %v", got, !public)
			}
			if op.Extensions["x-rmmbridge-status"] == "planned" && op.Responses.Status(501) == nil {
				t.Error("a planned operation must document its 501")
			}
		})
	}
}

func TestInvariantGlobals(t *testing.T) {
	tp, root := invProjectTemplate(t)
	g := invPath(root, "Globals", "Function")
	if g == nil {
		t.Fatal("template has no Globals.Function")
	}
	got := map[string]string{
		"Runtime":                    tp.Globals.Function.Runtime,
		"Handler":                    tp.Globals.Function.Handler,
		"Architectures":              fmt.Sprint(invScalars(invPath(g, "Architectures"))),
		"Tracing":                    invScalar(invPath(g, "Tracing")),
		"LoggingConfig.LogFormat":    invScalar(invPath(g, "LoggingConfig", "LogFormat")),
		"LoggingConfig.SystemLevel":  invScalar(invPath(g, "LoggingConfig", "SystemLogLevel")),
		"LoggingConfig.AppLevelFrom": invRefName(invPath(g, "LoggingConfig", "ApplicationLogLevel")),
		"Environment.LOG_LEVEL from": invRefName(tp.Globals.Function.Environment["LOG_LEVEL"]),
	}
	want := map[string]string{
		"Runtime":                    "provided.al2023",
		"Handler":                    "bootstrap",
		"Architectures":              "[arm64]",
		"Tracing":                    "Active",
		"LoggingConfig.LogFormat":    "JSON",
		"LoggingConfig.SystemLevel":  "WARN",
		"LoggingConfig.AppLevelFrom": "LogLevel",
		"Environment.LOG_LEVEL from": "LogLevel",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Globals.Function (-want +got):\n%s", diff)
	}
}

func TestInvariantTable(t *testing.T) {
	tp, root := invProjectTemplate(t)
	tb, ok := tp.Table("Table")
	if !ok {
		t.Fatal("template has no Table")
	}
	type shape struct {
		Billing string
		Keys    []KeyElement
		GSIs    []SecondaryIndex
		TTL     string
	}
	got := shape{tb.BillingMode, tb.KeySchema, tb.GlobalSecondaryIndexes, tb.TTLAttribute}
	want := shape{
		Billing: "PAY_PER_REQUEST",
		Keys:    []KeyElement{{"pk", "HASH"}, {"sk", "RANGE"}},
		GSIs: []SecondaryIndex{{IndexName: "GSI1", ProjectionType: "ALL",
			KeySchema: []KeyElement{{"gsi1pk", "HASH"}, {"gsi1sk", "RANGE"}}}},
		TTL: "ttl",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if v := invScalar(invPath(root, "Resources", "Table", policy)); v != "Retain" {
			t.Errorf("%s %q, want Retain", policy, v)
		}
	}
	if v := invScalar(invPath(root, "Resources", "Table", "Properties", "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled")); v != "true" {
		t.Errorf("point-in-time recovery %q, want true", v)
	}
}

// invRefName returns the name a !Ref (or {Ref: name}) node refers to, "" for
// anything else.
func invRefName(n *yaml.Node) string {
	switch {
	case n == nil:
		return ""
	case n.Kind == yaml.ScalarNode && n.Tag == "!Ref":
		return n.Value
	case n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "Ref":
		return invScalar(n.Content[1])
	}
	return ""
}

func invSortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
