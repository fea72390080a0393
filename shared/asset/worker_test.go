package asset_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
)

// fakeRecorder keeps recorded items; err fails every Record.
type fakeRecorder struct {
	mu    sync.Mutex
	items []string // "job/key status reason"
	err   error
}

func (r *fakeRecorder) Record(_ context.Context, tenantID, integrationID, jobID string, it importjob.Item) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	s := tenantID + "/" + integrationID + "/" + jobID + "/" + it.Key + " " + string(it.Status)
	if it.Reason != "" {
		s += ": " + it.Reason
	}
	r.items = append(r.items, s)
	return nil
}

const assetQueueARN = "arn:aws:sqs:us-east-1:123456789012:rmmbridge-AssetQueue"

func assetRecord(t *testing.T, id string, m queuemsg.AssetRefresh, receives int) events.SQSMessage {
	t.Helper()
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, Body: string(body), EventSource: "aws:sqs",
		EventSourceARN: assetQueueARN, Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(receives)}}
}

func importMsg(deviceID string) queuemsg.AssetRefresh {
	return queuemsg.AssetRefresh{TenantID: "t_a", IntegrationID: "i_a", JobID: "j_1", DeviceID: deviceID, Reason: "import"}
}

func TestWorker(t *testing.T) {
	unavailable := func(h *harness) {
		h.psa.fail = func(string) error { return apperr.New(apperr.Unavailable, "PSA is down") }
	}
	tests := []struct {
		name     string
		setup    func(h *harness)
		open     error // the opener's error
		body     string
		msg      queuemsg.AssetRefresh
		receives int
		recErr   error
		failed   bool
		recorded []string
	}{
		{
			name: "created", msg: importMsg("1001"), receives: 1,
			recorded: []string{"t_a/i_a/j_1/1001 created"},
		},
		{
			name: "refresh outside a job records nothing", receives: 1,
			msg: queuemsg.AssetRefresh{TenantID: "t_a", IntegrationID: "i_a", DeviceID: "1001", Reason: "alert"},
		},
		{
			name: "unmapped organization is skipped with the reason", msg: importMsg("1001"), receives: 1,
			setup:    func(h *harness) { delete(h.maps, "o1") },
			recorded: []string{"t_a/i_a/j_1/1001 skipped: organization o1 is not mapped"},
		},
		{
			name: "serial tie is a review item", msg: importMsg("1001"), receives: 1,
			setup: func(h *harness) {
				for _, id := range []string{"61", "62"} {
					a := asset.ToPSA(laptop(), "250", "31")
					a.ID, a.ExternalRef = id, ""
					h.psa.put(a)
				}
			},
			recorded: []string{"t_a/i_a/j_1/1001 review: serial number 5CG3211XYZ matches 2 PSA assets (61, 62); choose one"},
		},
		{
			name: "transient failure before the last receive: retried, not recorded", msg: importMsg("1001"), receives: 4,
			setup: unavailable, failed: true,
		},
		{
			name: "transient failure on the last receive: recorded as failed, then the DLQ", msg: importMsg("1001"),
			receives: queuemsg.MaxReceives, setup: unavailable, failed: true,
			recorded: []string{"t_a/i_a/j_1/1001 failed: PSA is down"},
		},
		{
			name: "permanent failure is recorded at once and acknowledged", msg: importMsg("1999"), receives: 1,
			recorded: []string{"t_a/i_a/j_1/1999 failed: the RMM has no device 1999"},
		},
		{
			name: "permanent failure outside a job is logged and acknowledged", receives: 1,
			msg: queuemsg.AssetRefresh{TenantID: "t_a", IntegrationID: "i_a", DeviceID: "1999", Reason: "alert"},
		},
		{
			name: "unknown integration: no job to record into, kept for the DLQ", msg: importMsg("1001"), receives: 1,
			open: apperr.New(apperr.NotFound, "no integration i_a"), failed: true,
		},
		{
			name: "unknown integration on the last receive is still not recorded", msg: importMsg("1001"),
			receives: queuemsg.MaxReceives, open: apperr.New(apperr.NotFound, "no integration i_a"), failed: true,
		},
		{
			name: "malformed body is kept for the DLQ", body: `{"tenantId":`, receives: 1, failed: true,
		},
		{
			name: "message without a device is kept for the DLQ", msg: queuemsg.AssetRefresh{TenantID: "t_a", IntegrationID: "i_a"},
			receives: 1, failed: true,
		},
		{
			name: "a failed record is retried", msg: importMsg("1001"), receives: 1,
			recErr: apperr.New(apperr.Unavailable, "table down"), failed: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.setup != nil {
				tc.setup(h)
			}
			rec := &fakeRecorder{err: tc.recErr}
			open := func(context.Context, string, string) (asset.Clients, error) {
				if tc.open != nil {
					return asset.Clients{}, tc.open
				}
				return h.clients(), nil
			}
			w := sqsbatch.Processor{Name: "asset-refresh"}.Handler(asset.NewWorker(h.svc, open, rec, nil).Process)
			r := assetRecord(t, "m1", tc.msg, tc.receives)
			if tc.body != "" {
				r.Body = tc.body
			}
			resp, err := w(context.Background(), events.SQSEvent{Records: []events.SQSMessage{r}})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(resp.BatchItemFailures) == 1; got != tc.failed {
				t.Errorf("reported failed = %v, want %v", got, tc.failed)
			}
			if diff := cmp.Diff(tc.recorded, rec.items); diff != "" {
				t.Errorf("recorded items (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWorkerBatchReportsOnlyFailures(t *testing.T) {
	h := newHarness(t)
	for _, id := range []string{"1002", "1003"} {
		d := laptop()
		d.ID, d.SerialNumber = id, "SN-"+id
		h.rmm.set(d)
	}
	h.psa.fail = func(op string) error {
		if op == "create" && h.psa.calls()["create"] == 2 {
			return apperr.New(apperr.Unavailable, "PSA hiccup")
		}
		return nil
	}
	rec := &fakeRecorder{}
	open := func(context.Context, string, string) (asset.Clients, error) { return h.clients(), nil }
	w := sqsbatch.Processor{}.Handler(asset.NewWorker(h.svc, open, rec, nil).Process)
	ev := events.SQSEvent{Records: []events.SQSMessage{
		assetRecord(t, "m1", importMsg("1001"), 1), assetRecord(t, "m2", importMsg("1002"), 1), assetRecord(t, "m3", importMsg("1003"), 1),
	}}
	resp, _ := w(context.Background(), ev)
	if diff := cmp.Diff([]events.SQSBatchItemFailure{{ItemIdentifier: "m2"}}, resp.BatchItemFailures); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"t_a/i_a/j_1/1001 created", "t_a/i_a/j_1/1003 created"}, rec.items); diff != "" {
		t.Errorf("recorded (-want +got):\n%s", diff)
	}
}

// TestWorkerThrottledGoesBackWithDelay runs against SQS (moto): a vendor
// that asks to wait longer than the function may sleep sends the message
// back to its queue hidden for that long, instead of failing it.
func TestWorkerThrottledGoesBackWithDelay(t *testing.T) {
	ctx := context.Background()
	client := sqs.NewFromConfig(motoserver.ForTest(t))
	name := motoserver.UniqueName("assets")
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name),
		Attributes: map[string]string{"VisibilityTimeout": "0"}})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(q.QueueUrl)
	t.Cleanup(func() { _, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })
	body, _ := json.Marshal(importMsg("1001"))
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}
	receive := func() []sqstypes.Message {
		t.Helper()
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Messages
	}
	got := receive()
	if len(got) != 1 {
		t.Fatalf("received %d messages, want 1", len(got))
	}
	m := got[0]
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
		Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs", EventSourceARN: assetQueueARN}}}

	h := newHarness(t)
	h.rmm.failAll(&apperr.Error{Kind: apperr.Throttled, Message: "NinjaOne asks to retry after 3s", RetryAfter: 3 * time.Second})
	rec := &fakeRecorder{}
	open := func(context.Context, string, string) (asset.Clients, error) { return h.clients(), nil }
	sq := sqsqueue.New(client)
	w := sqsbatch.Processor{Name: "asset-refresh", QueueURL: url, Vis: sq}.Handler(asset.NewWorker(h.svc, open, rec, nil).Process)
	resp, _ := w(ctx, ev)
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("failures = %v, want the throttled message", resp.BatchItemFailures)
	}
	if sq.Calls() != 1 {
		t.Errorf("SQS calls = %d, want 1 ChangeMessageVisibility", sq.Calls())
	}
	// The queue's own visibility timeout is 0: only the delay hides it.
	if n := len(receive()); n != 0 {
		t.Errorf("message visible again at once (%d received), want it hidden for 3 s", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if back := receive(); len(back) == 1 {
			if rc := back[0].Attributes["ApproximateReceiveCount"]; rc != "2" {
				t.Errorf("receive count = %s, want 2", rc)
			}
			if len(rec.items) != 0 {
				t.Errorf("recorded %v, want nothing before the last receive", rec.items)
			}
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatal("the delayed message never came back")
}
