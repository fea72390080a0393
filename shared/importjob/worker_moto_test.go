package importjob_test

import (
	"context"
	"encoding/json"
	"sort"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// sqsSender sends through the real sqsqueue client (as queues.Sender).
type sqsSender struct{ c *sqsqueue.Client }

func (s sqsSender) SendBatch(ctx context.Context, queueURL string, msgs []importjob.Message) error {
	out := make([]sqsqueue.Message, len(msgs))
	for i, m := range msgs {
		out[i] = sqsqueue.Message{Body: m.Body, GroupID: m.GroupID}
	}
	return s.c.SendBatch(ctx, queueURL, out)
}

// newMotoTable creates a table with the template's layout.
func newMotoTable(t *testing.T, client *dynamodb.Client) string {
	t.Helper()
	table := testtable.Create(t, client, "importjob")
	return table
}

func newMotoQueue(t *testing.T, client *sqs.Client, prefix string) string {
	t.Helper()
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(motoserver.UniqueName(prefix))})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	t.Cleanup(func() { _, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	return aws.ToString(out.QueueUrl)
}

// drain receives every message of a queue.
func drain(t *testing.T, client *sqs.Client, queueURL string) []sqstypes.Message {
	t.Helper()
	var all []sqstypes.Message
	for {
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if len(out.Messages) == 0 {
			return all
		}
		all = append(all, out.Messages...)
	}
}

// TestWorkerAgainstMoto runs an asset import through the real adapters:
// the job in DynamoDB, ImportQueue and AssetQueue in SQS, the RMM and PSA
// faked. It reports what one organization message costs.
func TestWorkerAgainstMoto(t *testing.T) {
	ctx := context.Background()
	cfg := motoserver.ForTest(t)
	ddb := dynamodb.NewFromConfig(cfg)
	sq := sqs.NewFromConfig(cfg)
	st := dynamostore.New(ddb, newMotoTable(t, ddb))
	q := sqsqueue.New(sq)
	qs := importjob.Queues{Import: newMotoQueue(t, sq, "import"), Asset: newMotoQueue(t, sq, "asset")}
	jobs := dynamostore.NewImportJobs(st)
	tr := importjob.NewTracker(jobs, importjob.Options{})
	svc := importjob.NewService(jobs, tr, sqsSender{q}, qs, importjob.Options{})
	r := newFakeRMM(rmmSetup{pageSize: 10, orgs: []rmm.Organization{
		{ID: "1", Name: "Vandelay", Sites: []rmm.Site{{ID: "s1", Name: "Main"}}},
		{ID: "2", Name: "Umbrella", Sites: []rmm.Site{{ID: "s2", Name: "Lab"}}},
		{ID: "3", Name: "Empty Co"},
	}, devices: map[string][]rmm.Device{"1": devicesOf("1", 23), "2": devicesOf("2", 4)}})
	p := newFakePSA(psa.Account{ID: "100", Name: "Vandelay"})
	maps := dynamostore.NewMappings(st)
	sc := tenancy.Scope{TenantID: tenant, IntegrationID: integration}
	for _, id := range []string{"1", "3"} {
		m := account.Mapping{OrganizationID: id, AccountID: "100", AccountName: "Vandelay", Mode: account.ModeLinked, State: account.StateMapped, Sites: map[string]string{}}
		if err := maps.PutMapping(ctx, sc, m, "", account.AuditEvent{Action: "seed"}); err != nil {
			t.Fatal(err)
		}
	}
	d := importjob.NewDispatcher(importjob.DispatcherDeps{Store: jobs, Tracker: tr, Accounts: account.NewService(maps, account.Options{}),
		Opener: &fakeOpener{integrationID: integration, rmm: r, psa: p}, Sender: sqsSender{q}, Queues: qs})
	handle := sqsbatch.Processor{Name: "import-dispatch", QueueURL: qs.Import, Vis: q}.Handler(d.Dispatch)

	j, err := svc.Create(ctx, tenant, integration, importjob.CreateInput{Kind: importjob.KindAssets}, r)
	if err != nil {
		t.Fatal(err)
	}
	orgMsgs := drain(t, sq, qs.Import)
	if len(orgMsgs) != 3 {
		t.Fatalf("ImportQueue holds %d messages, want 3", len(orgMsgs))
	}
	sort.Slice(orgMsgs, func(a, b int) bool { return aws.ToString(orgMsgs[a].Body) < aws.ToString(orgMsgs[b].Body) })
	for _, m := range orgMsgs {
		if g := m.Attributes["MessageGroupId"]; g != tenant {
			t.Errorf("org message group = %q, want %s", g, tenant)
		}
		var om importjob.OrgMessage
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &om); err != nil {
			t.Fatal(err)
		}
		ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs"}}}
		ops, calls := st.Ops(), q.Calls()
		resp, err := handle(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("organization %s: %+v, %v", om.OrganizationID, resp, err)
		}
		t.Logf("organization %s (%d devices): %d DynamoDB requests, %d SQS requests", om.OrganizationID,
			devicesIn(r, om.OrganizationID), st.Ops()-ops, q.Calls()-calls)
		if om.OrganizationID == "1" && q.Calls()-calls != 3 {
			t.Errorf("23 devices went out in %d SendMessageBatch calls, want 3", q.Calls()-calls)
		}
	}
	assets := drain(t, sq, qs.Asset)
	if len(assets) != 27 {
		t.Fatalf("AssetQueue holds %d messages, want 27", len(assets))
	}
	for _, m := range assets {
		var am queuemsg.AssetRefresh
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &am); err != nil {
			t.Fatal(err)
		}
		want := queuemsg.AssetRefresh{TenantID: tenant, IntegrationID: integration, JobID: j.ID, DeviceID: am.DeviceID, Reason: "import"}
		if diff := cmp.Diff(want, am); diff != "" || m.Attributes["MessageGroupId"] != tenant {
			t.Errorf("asset message group %q (-want +got):\n%s", m.Attributes["MessageGroupId"], diff)
		}
		if err := tr.Record(ctx, tenant, integration, j.ID, importjob.Item{Key: am.DeviceID, Status: importjob.Created}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := svc.Get(ctx, j.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != importjob.StatusSucceeded || got.Counts != (importjob.Counts{Total: 27, Created: 27}) || got.OrgsDone != 3 {
		t.Errorf("job = %s %+v orgsDone %d, want succeeded with 27 created", got.Status, got.Counts, got.OrgsDone)
	}
	if m, err := maps.GetMapping(ctx, sc, "2"); err != nil || m.Mode != account.ModeCreated || psaWrites(p) != 2 {
		t.Errorf("Umbrella = %+v, %v with %d PSA writes; want one account and one location created", m, err, psaWrites(p))
	}
}

// TestOrganizationImportAgainstMoto runs an organization import through
// the real adapters and reports what one organization message costs.
func TestOrganizationImportAgainstMoto(t *testing.T) {
	ctx := context.Background()
	cfg := motoserver.ForTest(t)
	ddb := dynamodb.NewFromConfig(cfg)
	sq := sqs.NewFromConfig(cfg)
	st := dynamostore.New(ddb, newMotoTable(t, ddb))
	q := sqsqueue.New(sq)
	qs := importjob.Queues{Import: newMotoQueue(t, sq, "import"), Asset: newMotoQueue(t, sq, "asset")}
	jobs := dynamostore.NewImportJobs(st)
	tr := importjob.NewTracker(jobs, importjob.Options{})
	svc := importjob.NewService(jobs, tr, sqsSender{q}, qs, importjob.Options{})
	r, p, fixtureMaps := orgFixture()
	maps := dynamostore.NewMappings(st)
	sc := tenancy.Scope{TenantID: tenant, IntegrationID: integration}
	for _, m := range fixtureMaps {
		m.State = account.StateMapped
		if err := maps.PutMapping(ctx, sc, m, "", account.AuditEvent{Action: "seed"}); err != nil {
			t.Fatal(err)
		}
	}
	d := importjob.NewDispatcher(importjob.DispatcherDeps{Store: jobs, Tracker: tr, Accounts: account.NewService(maps, account.Options{}),
		Opener: &fakeOpener{integrationID: integration, rmm: r, psa: p}, Sender: sqsSender{q}, Queues: qs})
	handle := sqsbatch.Processor{Name: "import-dispatch", QueueURL: qs.Import, Vis: q}.Handler(d.Dispatch)
	j, err := svc.Create(ctx, tenant, integration, importjob.CreateInput{Kind: importjob.KindOrganizations}, r)
	if err != nil {
		t.Fatal(err)
	}
	msgs := drain(t, sq, qs.Import)
	sort.Slice(msgs, func(a, b int) bool { return aws.ToString(msgs[a].Body) < aws.ToString(msgs[b].Body) })
	for _, m := range msgs {
		ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs"}}}
		ops := st.Ops()
		resp, err := handle(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s: %+v, %v", aws.ToString(m.Body), resp, err)
		}
		var om importjob.OrgMessage
		_ = json.Unmarshal([]byte(aws.ToString(m.Body)), &om)
		it, _ := jobs.GetItem(ctx, j.Ref(), om.OrganizationID)
		t.Logf("organization %s (%s): %d DynamoDB requests", om.OrganizationID, it.Status, st.Ops()-ops)
	}
	got, err := svc.Get(ctx, j.Ref())
	if err != nil {
		t.Fatal(err)
	}
	want := importjob.Counts{Total: 5, Created: 1, Linked: 1, Updated: 1, Skipped: 1, Review: 1}
	if diff := cmp.Diff(want, got.Counts); diff != "" || got.Status != importjob.StatusPartial {
		t.Errorf("job %s, counts (-want +got):\n%s", got.Status, diff)
	}
}
