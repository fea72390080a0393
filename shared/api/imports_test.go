package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/api"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmfake"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
)

var (
	importSpecOnce   sync.Once
	importSpecRouter routers.Router
	importSpecErr    error
)

// importContract checks responses against openapi.yaml.
func importContract(t *testing.T) routers.Router {
	t.Helper()
	importSpecOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(filepath.Join("..", "..", "openapi.yaml"))
		if err != nil {
			importSpecErr = err
			return
		}
		doc.Servers = openapi3.Servers{{URL: "http://api.test"}}
		importSpecRouter, importSpecErr = legacy.NewRouter(doc)
	})
	if importSpecErr != nil {
		t.Fatalf("openapi.yaml: %v", importSpecErr)
	}
	return importSpecRouter
}

// importRMM is the shared in-memory RMM (shared/rmm/rmmfake) that only
// lists the import's organizations.
func importRMM(orgs ...rmm.Organization) rmm.Client {
	r := rmmfake.New(rmmfake.Only("ListOrganizations"))
	r.AddOrganizations(orgs...)
	return r.Client()
}

type importOpener func(ctx context.Context, tenantID, integrationID string) (api.Clients, error)

// importPSA can find accounts by reference, which the import routes ask
// of a PSA before they start a job; the job itself never reaches it here.
type importPSA struct{ psa.Client }

func (importPSA) FindAccountsByExternalRef(context.Context, string) ([]psa.Account, error) {
	return nil, nil
}

func (f importOpener) Open(ctx context.Context, tenantID, integrationID string) (api.Clients, error) {
	return f(ctx, tenantID, integrationID)
}

type importSender struct{ c *sqsqueue.Client }

func (s importSender) SendBatch(ctx context.Context, queueURL string, msgs []importjob.Message) error {
	out := make([]sqsqueue.Message, len(msgs))
	for i, m := range msgs {
		out[i] = sqsqueue.Message{Body: m.Body, GroupID: m.GroupID}
	}
	return s.c.SendBatch(ctx, queueURL, out)
}

type importsEnv struct {
	rt      *httpapi.Router
	tracker *importjob.Tracker
	sqs     *sqs.Client
	queues  importjob.Queues
}

func newImportsEnv(t *testing.T) *importsEnv {
	t.Helper()
	ctx := context.Background()
	cfg := motoserver.ForTest(t)
	ddb := dynamodb.NewFromConfig(cfg)
	table := testtable.Create(t, ddb, "api-imports")
	sq := sqs.NewFromConfig(cfg)
	var qs importjob.Queues
	for _, p := range []*string{&qs.Import, &qs.Asset} {
		out, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(motoserver.UniqueName("api-imports"))})
		if err != nil {
			t.Fatal(err)
		}
		*p = aws.ToString(out.QueueUrl)
		t.Cleanup(func() { _, _ = sq.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	}
	jobs := dynamostore.NewImportJobs(dynamostore.New(ddb, table))
	tr := importjob.NewTracker(jobs, importjob.Options{})
	svc := importjob.NewService(jobs, tr, importSender{sqsqueue.New(sq)}, qs, importjob.Options{})
	opener := importOpener(func(_ context.Context, tenantID, integrationID string) (api.Clients, error) {
		if tenantID != "t_a" || integrationID != "i_1" {
			return api.Clients{}, apperr.New(apperr.NotFound, "no integration %s", integrationID)
		}
		return api.Clients{Integration: connection.Integration{ID: "i_1"},
			RMM: importRMM(rmm.Organization{ID: "1", Name: "A"}, rmm.Organization{ID: "2", Name: "B"}), PSA: importPSA{}}, nil
	})
	return &importsEnv{rt: api.New(api.Deps{Imports: svc, Clients: opener}), tracker: tr, sqs: sq, queues: qs}
}

// importCall serves one request as API Gateway would send it and checks the
// response against openapi.yaml.
func importCall(t *testing.T, rt *httpapi.Router, role, method, route string, params, query map[string]string, body string) (int, map[string]any) {
	t.Helper()
	path := route
	for k, v := range params {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	ev := events.APIGatewayV2HTTPRequest{RouteKey: method + " " + route, RawPath: path, PathParameters: params, QueryStringParameters: query,
		Headers: map[string]string{"content-type": "application/json"}, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-1",
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{
				httpapi.ContextTenantID: "t_a", httpapi.ContextRole: role, httpapi.ContextKeyID: "k1"}}}}
	resp, err := rt.Serve(context.Background(), ev)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// The contract.
	u := url.URL{Scheme: "http", Host: "api.test", Path: path}
	qv := url.Values{}
	for k, v := range query {
		qv.Set(k, v)
	}
	u.RawQuery = qv.Encode()
	req, _ := http.NewRequest(method, u.String(), bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	r, pp, err := importContract(t).FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in openapi.yaml: %v", method, path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()}}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pp, Route: r, Options: opts}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	rv := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: h, Body: io.NopCloser(strings.NewReader(resp.Body)), Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), rv); err != nil {
		t.Errorf("%s %s → %d does not match openapi.yaml: %v\n%s", method, path, resp.StatusCode, err, resp.Body)
	}
	var out map[string]any
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
			t.Fatalf("body is not JSON: %s", resp.Body)
		}
	}
	return resp.StatusCode, out
}

const (
	importsRoute = "/v1/integrations/{integrationId}/imports"
	importRoute  = importsRoute + "/{jobId}"
)

func importIDs(p map[string]string) map[string]string { p["integrationId"] = "i_1"; return p }

func TestImportsAPI(t *testing.T) {
	e := newImportsEnv(t)
	ctx := context.Background()

	// Start an organization import of every organization.
	st, body := importCall(t, e.rt, "operator", "POST", importsRoute, importIDs(map[string]string{}), nil, `{"kind":"organizations"}`)
	if st != http.StatusAccepted || body["status"] != "queued" || body["kind"] != "organizations" {
		t.Fatalf("POST imports = %d %v", st, body)
	}
	jobID, _ := body["id"].(string)
	out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queues.Import), MaxNumberOfMessages: 10})
	if err != nil || len(out.Messages) != 2 {
		t.Fatalf("ImportQueue: %d messages, %v; want 2", len(out.Messages), err)
	}

	// Read it.
	st, body = importCall(t, e.rt, "viewer", "GET", importRoute, importIDs(map[string]string{"jobId": jobID}), nil, "")
	wantCounts := map[string]any{"total": 2.0, "created": 0.0, "linked": 0.0, "updated": 0.0, "unchanged": 0.0, "skipped": 0.0, "failed": 0.0, "review": 0.0}
	if st != http.StatusOK || body["status"] != "queued" || body["dryRun"] != false {
		t.Errorf("GET import = %d %v", st, body)
	}
	if diff := cmp.Diff(wantCounts, body["counts"]); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if _, ok := body["preview"]; ok {
		t.Errorf("a real run has a preview: %v", body["preview"])
	}

	// Outcomes arrive: one failed, one to review.
	for _, it := range []importjob.Item{{Key: "1", Status: importjob.Failed, Reason: "PSA refused"}, {Key: "2", Status: importjob.Review, Reason: "two candidates"}} {
		if err := e.tracker.Record(ctx, "t_a", "i_1", jobID, it); err != nil {
			t.Fatal(err)
		}
	}
	st, body = importCall(t, e.rt, "viewer", "GET", importRoute+"/items", importIDs(map[string]string{"jobId": jobID}), map[string]string{"status": "failed"}, "")
	if diff := cmp.Diff([]any{map[string]any{"key": "1", "status": "failed", "reason": "PSA refused"}}, body["items"]); st != http.StatusOK || diff != "" {
		t.Errorf("failed items = %d (-want +got):\n%s", st, diff)
	}
	_, body = importCall(t, e.rt, "viewer", "GET", importRoute+"/items", importIDs(map[string]string{"jobId": jobID}), nil, "")
	if items, _ := body["items"].([]any); len(items) != 2 {
		t.Errorf("all items = %v, want failed and review", body["items"])
	}
	_, body = importCall(t, e.rt, "viewer", "GET", importRoute, importIDs(map[string]string{"jobId": jobID}), nil, "")
	if body["status"] != "partial" || body["finishedAt"] == nil {
		t.Errorf("finished job = %v, want partial with finishedAt", body)
	}

	// Retry re-queues the failed organization once.
	st, body = importCall(t, e.rt, "operator", "POST", importRoute+"/retry", importIDs(map[string]string{"jobId": jobID}), nil, "")
	if st != http.StatusAccepted || body["status"] != "queued" {
		t.Errorf("retry = %d %v", st, body)
	}
	out, _ = e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queues.Import), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if len(out.Messages) != 1 || !strings.Contains(aws.ToString(out.Messages[0].Body), `"organizationId":"1"`) {
		t.Errorf("retry queued %d messages, want organization 1", len(out.Messages))
	}
	if st, _ := importCall(t, e.rt, "operator", "POST", importRoute+"/retry", importIDs(map[string]string{"jobId": jobID}), nil, ""); st != http.StatusConflict {
		t.Errorf("retry of a queued job = %d, want 409", st)
	}

	// A dry run of chosen organizations, newest in the list.
	st, body = importCall(t, e.rt, "operator", "POST", importsRoute, importIDs(map[string]string{}), nil, `{"kind":"assets","organizationIds":["2"],"dryRun":true}`)
	if st != http.StatusAccepted {
		t.Fatalf("POST dry run = %d %v", st, body)
	}
	dryID, _ := body["id"].(string)
	pv := &importjob.PreviewItem{Key: "2", Action: "create", Name: "B", Reason: "would be created"}
	if err := e.tracker.Record(ctx, "t_a", "i_1", dryID, importjob.Item{Key: "2", Status: importjob.Created, Reason: pv.Reason, Preview: pv}); err != nil {
		t.Fatal(err)
	}
	_, body = importCall(t, e.rt, "viewer", "GET", importRoute, importIDs(map[string]string{"jobId": dryID}), nil, "")
	wantPreview := []any{map[string]any{"key": "2", "action": "create", "name": "B", "reason": "would be created"}}
	if diff := cmp.Diff(wantPreview, body["preview"]); diff != "" || body["status"] != "succeeded" {
		t.Errorf("dry run %v, preview (-want +got):\n%s", body["status"], diff)
	}
	time.Sleep(100 * time.Millisecond) // the job list is an index (eventually consistent)
	st, body = importCall(t, e.rt, "viewer", "GET", importsRoute, importIDs(map[string]string{}), map[string]string{"limit": "1"}, "")
	items, _ := body["items"].([]any)
	if st != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["id"] != dryID || body["nextCursor"] == nil {
		t.Errorf("GET imports?limit=1 = %d %v, want the dry run first and a cursor", st, body)
	}
}

func TestImportsAPIRefusals(t *testing.T) {
	e := newImportsEnv(t)
	tests := []struct {
		name, role, method, route string
		params, query             map[string]string
		body                      string
		want                      int
	}{
		{"unknown kind", "operator", "POST", importsRoute, map[string]string{}, nil, `{"kind":"users"}`, http.StatusUnprocessableEntity},
		{"malformed body", "operator", "POST", importsRoute, map[string]string{}, nil, `{"kind":`, http.StatusBadRequest},
		{"unknown field", "operator", "POST", importsRoute, map[string]string{}, nil, `{"kind":"assets","orgs":[]}`, http.StatusBadRequest},
		{"viewers may not start imports", "viewer", "POST", importsRoute, map[string]string{}, nil, `{"kind":"assets"}`, http.StatusForbidden},
		{"unknown job", "viewer", "GET", importRoute, map[string]string{"jobId": "j_nope"}, nil, "", http.StatusNotFound},
		{"items of an unknown job", "viewer", "GET", importRoute + "/items", map[string]string{"jobId": "j_nope"}, nil, "", http.StatusNotFound},
		{"retry of an unknown job", "operator", "POST", importRoute + "/retry", map[string]string{"jobId": "j_nope"}, nil, "", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if st, body := importCall(t, e.rt, tc.role, tc.method, tc.route, importIDs(tc.params), tc.query, tc.body); st != tc.want {
				t.Errorf("status = %d, want %d (%v)", st, tc.want, body)
			}
		})
	}
	t.Run("unknown integration", func(t *testing.T) {
		p := map[string]string{"integrationId": "i_other"}
		if st, _ := importCall(t, e.rt, "operator", "POST", importsRoute, p, nil, `{"kind":"assets"}`); st != http.StatusNotFound {
			t.Errorf("POST = %d, want 404", st)
		}
		if st, _ := importCall(t, e.rt, "viewer", "GET", importsRoute, p, nil, ""); st != http.StatusNotFound {
			t.Errorf("GET list = %d, want 404", st)
		}
	})
	t.Run("without the service", func(t *testing.T) {
		rt := api.New(api.Deps{})
		if st, _ := importCall(t, rt, "operator", "POST", importsRoute, importIDs(map[string]string{}), nil, `{"kind":"assets"}`); st != http.StatusNotImplemented {
			t.Errorf("POST = %d, want 501", st)
		}
	})
}
