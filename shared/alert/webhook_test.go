package alert_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// deliver sends one request through the router and decodes the answer.
func deliver(t testing.TB, rt *httpapi.Router, req events.APIGatewayV2HTTPRequest) (int, alert.Ack, httpapi.Problem) {
	t.Helper()
	resp, err := rt.Serve(context.Background(), req)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	var ack alert.Ack
	var prob httpapi.Problem
	if resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal([]byte(resp.Body), &ack); err != nil {
			t.Fatalf("ack is not JSON: %s", resp.Body)
		}
	} else if err := json.Unmarshal([]byte(resp.Body), &prob); err != nil {
		t.Fatalf("problem is not JSON: %s", resp.Body)
	}
	return resp.StatusCode, ack, prob
}

// receiveAll drains the queue (deleting what it reads).
func receiveAll(t testing.TB, c *sqs.Client, url string) []sqstypes.Message {
	t.Helper()
	ctx := context.Background()
	var out []sqstypes.Message
	for empty := 0; empty < 2; {
		res, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if len(res.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range res.Messages {
			out = append(out, m)
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}
	}
	return out
}

func bearer(secret string) map[string]string {
	return map[string]string{"authorization": "Bearer " + secret}
}

func TestWebhookAuthentication(t *testing.T) {
	e := newHookEnv(t)
	now := time.Now()
	rt := router(e.webhook(t, nil, alert.WebhookOptions{}))
	wrong := "whsec_" + base64.StdEncoding.EncodeToString([]byte("not-the-integration-secret-at-all"))
	signed := func(id int64, secret string, at time.Time) (string, []byte, map[string]string) {
		body := condition(id, "series-sig", 1001, true, 0).body(t)
		return e.ig.ID, body, alert.SignWebhook([]byte(secret), "msg_"+ts(at)+"_"+string(rune('a'+id%26)), at, body)
	}
	tests := []struct {
		name    string
		request func(id int64) events.APIGatewayV2HTTPRequest
		want    int
	}{
		{"bearer", func(id int64) events.APIGatewayV2HTTPRequest {
			return hookRequest(e.ig.ID, condition(id, "s", 1001, true, 0).body(t), bearer(e.secret), nil)
		}, 202},
		{"bearer scheme in lower case", func(id int64) events.APIGatewayV2HTTPRequest {
			return hookRequest(e.ig.ID, condition(id, "s", 1001, true, 0).body(t), map[string]string{"authorization": "bearer " + e.secret}, nil)
		}, 202},
		{"bare secret in Authorization", func(id int64) events.APIGatewayV2HTTPRequest {
			return hookRequest(e.ig.ID, condition(id, "s", 1001, true, 0).body(t), map[string]string{"authorization": e.secret}, nil)
		}, 202},
		{"wrong bearer", func(id int64) events.APIGatewayV2HTTPRequest {
			return hookRequest(e.ig.ID, condition(id, "s", 1001, true, 0).body(t), bearer(wrong), nil)
		}, 401},
		{"empty bearer", func(id int64) events.APIGatewayV2HTTPRequest {
			return hookRequest(e.ig.ID, condition(id, "s", 1001, true, 0).body(t), map[string]string{"authorization": "Bearer "}, nil)
		}, 401},
		{"token in the query", func(id int64) events.APIGatewayV2HTTPRequest {
			return hookRequest(e.ig.ID, condition(id, "s", 1001, true, 0).body(t), nil, map[string]string{"token": e.secret})
		}, 202},
		{"wrong token", func(id int64) events.APIGatewayV2HTTPRequest {
			return hookRequest(e.ig.ID, condition(id, "s", 1001, true, 0).body(t), nil, map[string]string{"token": wrong})
		}, 401},
		{"no credential", func(id int64) events.APIGatewayV2HTTPRequest {
			return hookRequest(e.ig.ID, condition(id, "s", 1001, true, 0).body(t), nil, nil)
		}, 401},
		{"Standard Webhooks signature", func(id int64) events.APIGatewayV2HTTPRequest {
			ig, body, h := signed(id, e.secret, now)
			return hookRequest(ig, body, h, nil)
		}, 202},
		{"signature with the wrong secret", func(id int64) events.APIGatewayV2HTTPRequest {
			ig, body, h := signed(id, wrong, now)
			return hookRequest(ig, body, h, nil)
		}, 401},
		{"signature with an expired timestamp", func(id int64) events.APIGatewayV2HTTPRequest {
			ig, body, h := signed(id, e.secret, now.Add(-6*time.Minute))
			return hookRequest(ig, body, h, nil)
		}, 401},
		{"signature without its timestamp", func(id int64) events.APIGatewayV2HTTPRequest {
			ig, body, h := signed(id, e.secret, now)
			delete(h, "webhook-timestamp")
			return hookRequest(ig, body, h, nil)
		}, 401},
		{"signature wins over a right bearer", func(id int64) events.APIGatewayV2HTTPRequest {
			ig, body, h := signed(id, wrong, now)
			h["authorization"] = "Bearer " + e.secret
			return hookRequest(ig, body, h, nil)
		}, 401},
		{"unknown integration", func(id int64) events.APIGatewayV2HTTPRequest {
			return hookRequest("i_doesnotexist", condition(id, "s", 1001, true, 0).body(t), bearer(e.secret), nil)
		}, 401},
		{"impossible integration id", func(id int64) events.APIGatewayV2HTTPRequest {
			return hookRequest("../../etc", condition(id, "s", 1001, true, 0).body(t), bearer(e.secret), nil)
		}, 401},
	}
	details := map[string]bool{}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ack, prob := deliver(t, rt, tc.request(int64(9000+i)))
			if got != tc.want {
				t.Fatalf("status = %d, want %d (%+v)", got, tc.want, prob)
			}
			if got == 202 && (!ack.Accepted || ack.Duplicate) {
				t.Errorf("ack = %+v, want accepted, not duplicate", ack)
			}
			if tc.name == "wrong bearer" || tc.name == "unknown integration" {
				details[prob.Detail] = true
			}
		})
	}
	if len(details) != 1 {
		t.Errorf("an unknown integration and a wrong secret answer differently: %v", details)
	}
}

func TestWebhookRotatedSecret(t *testing.T) {
	ctx := context.Background()
	e := newHookEnv(t)
	rt := router(e.webhook(t, nil, alert.WebhookOptions{CacheFor: time.Hour}))
	old := e.secret
	if got, _, p := deliver(t, rt, hookRequest(e.ig.ID, condition(1, "s", 1001, true, 0).body(t), bearer(old), nil)); got != 202 {
		t.Fatalf("old secret before rotation: %d %+v", got, p)
	}
	at := time.Now()
	body := condition(2, "s", 1001, true, 0).body(t)
	if got, _, p := deliver(t, rt, hookRequest(e.ig.ID, body, alert.SignWebhook([]byte(old), "msg_old", at, body), nil)); got != 202 {
		t.Fatalf("old secret signature before rotation: %d %+v", got, p)
	}
	_, fresh, err := e.connSvc.RotateWebhookSecret(ctx, "t_demo", e.ig.ID)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  events.APIGatewayV2HTTPRequest
		want int
	}{
		{"new bearer works at once", hookRequest(e.ig.ID, condition(3, "s", 1001, true, 0).body(t), bearer(fresh), nil), 202},
		{"old bearer is refused", hookRequest(e.ig.ID, condition(4, "s", 1001, true, 0).body(t), bearer(old), nil), 401},
	}
	b5 := condition(5, "s", 1001, true, 0).body(t)
	tests = append(tests, struct {
		name string
		req  events.APIGatewayV2HTTPRequest
		want int
	}{"new signature works at once", hookRequest(e.ig.ID, b5, alert.SignWebhook([]byte(fresh), "msg_new", at, b5), nil), 202})
	b6 := condition(6, "s", 1001, true, 0).body(t)
	tests = append(tests, struct {
		name string
		req  events.APIGatewayV2HTTPRequest
		want int
	}{"old signature is refused", hookRequest(e.ig.ID, b6, alert.SignWebhook([]byte(old), "msg_old2", at, b6), nil), 401})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, _, p := deliver(t, rt, tc.req); got != tc.want {
				t.Errorf("status = %d, want %d (%+v)", got, tc.want, p)
			}
		})
	}
}

func TestWebhookBodies(t *testing.T) {
	e := newHookEnv(t)
	rt := router(e.webhook(t, nil, alert.WebhookOptions{}))
	big := condition(20, "s-big", 1001, true, 0)
	big.Message = strings.Repeat("x", 200<<10)
	tooBig := condition(21, "s-big", 1001, true, 0)
	tooBig.Message = strings.Repeat("x", alert.MaxBody)
	// Fits the body limit, but not a queue message once in its envelope.
	almost := condition(22, "s-big", 1001, true, 0)
	almost.Message = strings.Repeat("x", alert.MaxBody-len(almost.body(t))-10)
	b64 := hookRequest(e.ig.ID, nil, bearer(e.secret), nil)
	b64.Body, b64.IsBase64Encoded = base64.StdEncoding.EncodeToString(condition(23, "s-b64", 1001, true, 0).body(t)), true

	tests := []struct {
		name   string
		req    events.APIGatewayV2HTTPRequest
		want   int
		queued int
	}{
		{"a large activity within the limit", hookRequest(e.ig.ID, big.body(t), bearer(e.secret), nil), 202, 1},
		{"over 256 KiB", hookRequest(e.ig.ID, tooBig.body(t), bearer(e.secret), nil), 413, 0},
		{"within 256 KiB but too big to queue", hookRequest(e.ig.ID, almost.body(t), bearer(e.secret), nil), 413, 0},
		{"base64-encoded body", b64, 202, 1},
		{"not JSON", hookRequest(e.ig.ID, []byte(`{"id":1,`), bearer(e.secret), nil), 400, 0},
		{"JSON but not an activity", hookRequest(e.ig.ID, []byte(`[1,2,3]`), bearer(e.secret), nil), 400, 0},
		{"an activity without type or status", hookRequest(e.ig.ID, []byte(`{"id":7}`), bearer(e.secret), nil), 400, 0},
		{"a condition without a series", hookRequest(e.ig.ID, []byte(`{"id":8,"activityType":"CONDITION","statusCode":"TRIGGERED"}`), bearer(e.secret), nil), 400, 0},
		{"an activity that is not an alert", hookRequest(e.ig.ID, []byte(`{"id":9,"activityType":"ACTION","statusCode":"NODE_CREATED","deviceId":1001}`), bearer(e.secret), nil), 202, 0},
		{"a condition acknowledged (not an alert state)", hookRequest(e.ig.ID, []byte(`{"id":10,"activityType":"CONDITION","statusCode":"ACKNOWLEDGED","seriesUid":"s"}`), bearer(e.secret), nil), 202, 0},
		{"HTML content type", hookRequest(e.ig.ID, condition(24, "s", 1001, true, 0).body(t), map[string]string{"authorization": "Bearer " + e.secret, "content-type": "text/html"}, nil), 415, 0},
		{"bad credentials before a bad body", hookRequest(e.ig.ID, []byte(`nonsense`), bearer("whsec_nope"), nil), 401, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ack, prob := deliver(t, rt, tc.req)
			if got != tc.want {
				t.Fatalf("status = %d, want %d (%+v)", got, tc.want, prob)
			}
			if got == 202 && (!ack.Accepted || ack.Duplicate) {
				t.Errorf("ack = %+v", ack)
			}
			if n := len(receiveAll(t, e.sqs, e.queueURL)); n != tc.queued {
				t.Errorf("%d messages queued, want %d", n, tc.queued)
			}
		})
	}
}

func TestWebhookQueuesBySeries(t *testing.T) {
	e := newHookEnv(t)
	rt := router(e.webhook(t, nil, alert.WebhookOptions{}))
	acts := []activity{
		condition(101, "series-A", 1001, true, 0),
		condition(201, "series-B", 1002, true, time.Second),
		condition(102, "series-A", 1001, false, 2*time.Second),
	}
	for _, a := range acts {
		if got, _, p := deliver(t, rt, hookRequest(e.ig.ID, a.body(t), bearer(e.secret), nil)); got != 202 {
			t.Fatalf("deliver %d: %d %+v", a.ID, got, p)
		}
	}
	msgs := receiveAll(t, e.sqs, e.queueURL)
	type queued struct{ Group, Dedup, Delivery, Series string }
	var got []queued
	for _, m := range msgs {
		body, err := alert.DecodeMessage([]byte(aws.ToString(m.Body)))
		if err != nil {
			t.Fatal(err)
		}
		if body.TenantID != "t_demo" || body.IntegrationID != e.ig.ID || body.ReceivedAt.IsZero() {
			t.Errorf("envelope = %+v", body)
		}
		var a activity
		if err := json.Unmarshal(body.Activity, &a); err != nil {
			t.Fatal(err)
		}
		got = append(got, queued{m.Attributes["MessageGroupId"], m.Attributes["MessageDeduplicationId"], body.DeliveryID, a.SeriesUID})
	}
	want := []queued{
		{e.ig.ID + "#series-A", e.ig.ID + "#a-101", "a-101", "series-A"},
		{e.ig.ID + "#series-A", e.ig.ID + "#a-102", "a-102", "series-A"},
		{e.ig.ID + "#series-B", e.ig.ID + "#a-201", "a-201", "series-B"},
	}
	sortQueued := func(q []queued) {
		for i := range q {
			for j := i + 1; j < len(q); j++ {
				if q[j].Group+q[j].Delivery < q[i].Group+q[i].Delivery {
					q[i], q[j] = q[j], q[i]
				}
			}
		}
	}
	sortQueued(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("queued messages (-want +got):\n%s", diff)
	}
}

func TestGroupAndDeliveryIDsFitSQS(t *testing.T) {
	long := strings.Repeat("s", 200)
	tests := []struct {
		name, got, want string
	}{
		{"plain group", alert.GroupID("i_1", "3f1c6a2e"), "i_1#3f1c6a2e"},
		{"long series is hashed", alert.GroupID("i_1", long)[:5], "i_1#~"},
		{"unicode series is hashed", alert.GroupID("i_1", "série")[:5], "i_1#~"},
		{"webhook id wins", alert.DeliveryID("msg_1", "77", nil), "w-msg_1"},
		{"activity id next", alert.DeliveryID("", "77", nil), "a-77"},
		{"body hash last", alert.DeliveryID("", "", []byte("x"))[:2], "b-"},
		{"long webhook id is hashed", alert.DeliveryID(long, "", nil)[:3], "w-h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	for _, id := range []string{alert.GroupID("i_1", long), alert.GroupID("i_1", "série"), alert.DedupID("i_1", alert.DeliveryID(long, "", nil))} {
		if len(id) > 128 {
			t.Errorf("%q is longer than 128", id)
		}
	}
}

// recordingQueue records enqueues; it fails while failing is set.
type recordingQueue struct {
	mu      sync.Mutex
	msgs    []alert.QueueMessage
	failing bool
}

func (q *recordingQueue) Enqueue(_ context.Context, m alert.QueueMessage) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.failing {
		return apperr.New(apperr.Unavailable, "queue unavailable")
	}
	q.msgs = append(q.msgs, m)
	return nil
}

func TestWebhookDuplicateDelivery(t *testing.T) {
	e := newHookEnv(t)
	clock := time.Now()
	now := func() time.Time { return clock }

	t.Run("a repeat of a queued delivery is answered as a duplicate and not queued", func(t *testing.T) {
		rt := router(e.webhook(t, nil, alert.WebhookOptions{Now: now}))
		body := condition(301, "dup", 1001, true, 0).body(t)
		if got, ack, _ := deliver(t, rt, hookRequest(e.ig.ID, body, bearer(e.secret), nil)); got != 202 || ack.Duplicate {
			t.Fatalf("first delivery: %d %+v", got, ack)
		}
		if got, ack, _ := deliver(t, rt, hookRequest(e.ig.ID, body, bearer(e.secret), nil)); got != 202 || !ack.Duplicate {
			t.Fatalf("immediate retry: %d %+v, want 202 duplicate", got, ack)
		}
		clock = clock.Add(5 * time.Minute)
		if got, ack, _ := deliver(t, rt, hookRequest(e.ig.ID, body, bearer(e.secret), nil)); got != 202 || !ack.Duplicate {
			t.Fatalf("retry: %d %+v, want 202 duplicate", got, ack)
		}
		clock = clock.Add(3 * 24 * time.Hour)
		if got, ack, _ := deliver(t, rt, hookRequest(e.ig.ID, body, bearer(e.secret), nil)); got != 202 || !ack.Duplicate {
			t.Fatalf("retry three days later: %d %+v, want 202 duplicate", got, ack)
		}
		if n := len(receiveAll(t, e.sqs, e.queueURL)); n != 1 {
			t.Errorf("%d messages queued, want 1", n)
		}
	})
	t.Run("a Standard Webhooks id dedupes different bodies", func(t *testing.T) {
		rt := router(e.webhook(t, nil, alert.WebhookOptions{Now: now}))
		h := bearer(e.secret)
		h["webhook-id"] = "msg_same"
		if got, ack, _ := deliver(t, rt, hookRequest(e.ig.ID, condition(311, "dup2", 1001, true, 0).body(t), h, nil)); got != 202 || ack.Duplicate {
			t.Fatalf("first: %d %+v", got, ack)
		}
		if got, ack, _ := deliver(t, rt, hookRequest(e.ig.ID, condition(312, "dup2", 1001, true, 0).body(t), h, nil)); got != 202 || !ack.Duplicate {
			t.Fatalf("same webhook-id: %d %+v, want duplicate", got, ack)
		}
		if n := len(receiveAll(t, e.sqs, e.queueURL)); n != 1 {
			t.Errorf("%d messages queued, want 1", n)
		}
	})
	t.Run("a delivery recorded but never queued is queued by the retry, days later", func(t *testing.T) {
		// The webhook died between the record and the send.
		sc := tenancy.Scope{TenantID: e.ig.TenantID, IntegrationID: e.ig.ID}
		if _, fresh, err := e.alerts.RecordDelivery(context.Background(), sc, "a-321", clock, 4*24*time.Hour); err != nil || !fresh {
			t.Fatalf("record: %v %v", fresh, err)
		}
		clock = clock.Add(2 * 24 * time.Hour)
		q := &recordingQueue{}
		rt := router(e.webhook(t, q, alert.WebhookOptions{Now: now}))
		body := condition(321, "dup3", 1001, true, 0).body(t)
		if got, ack, _ := deliver(t, rt, hookRequest(e.ig.ID, body, bearer(e.secret), nil)); got != 202 || ack.Duplicate {
			t.Fatalf("retry: %d %+v, want 202, not a duplicate", got, ack)
		}
		if got, ack, _ := deliver(t, rt, hookRequest(e.ig.ID, body, bearer(e.secret), nil)); got != 202 || !ack.Duplicate {
			t.Fatalf("the retry after: %d %+v, want 202 duplicate", got, ack)
		}
		if len(q.msgs) != 1 || q.msgs[0].DedupID != alert.DedupID(e.ig.ID, "a-321") {
			t.Errorf("enqueued %+v, want the delivery once", q.msgs)
		}
		d, fresh, err := e.alerts.RecordDelivery(context.Background(), sc, "a-321", clock, time.Hour)
		if err != nil || fresh || !d.Queued {
			t.Errorf("the record = %+v, fresh %v, %v; want queued", d, fresh, err)
		}
	})
}

func TestWebhookEnqueueFailure(t *testing.T) {
	e := newHookEnv(t)
	q := &recordingQueue{failing: true}
	rt := router(e.webhook(t, q, alert.WebhookOptions{}))
	body := condition(401, "fail", 1001, true, 0).body(t)
	got, _, prob := deliver(t, rt, hookRequest(e.ig.ID, body, bearer(e.secret), nil))
	if got != http.StatusServiceUnavailable {
		t.Fatalf("status with the queue down = %d, want 503 (%+v)", got, prob)
	}
	q.failing = false
	got, ack, _ := deliver(t, rt, hookRequest(e.ig.ID, body, bearer(e.secret), nil))
	if got != 202 || ack.Duplicate {
		t.Fatalf("the RMM's retry = %d %+v, want accepted and not a duplicate", got, ack)
	}
	if len(q.msgs) != 1 {
		t.Errorf("%d messages queued, want 1", len(q.msgs))
	}
}

// withFields is a's body with top-level fields set (and device fields
// set in its embedded device).
func withFields(t testing.TB, a activity, top, device map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body(t), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range top {
		m[k] = v
	}
	if len(device) > 0 {
		d, _ := m["device"].(map[string]any)
		for k, v := range device {
			d[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWebhookBoundsPayloadIDs: every id taken from a payload becomes part
// of a DynamoDB key or an SQS id, so it is bounded (256 bytes) and free of
// control characters at the webhook: 400 naming the field, nothing queued
// — never a 202 followed by a worker failing forever on DynamoDB's
// 1,024-byte key limit.
func TestWebhookBoundsPayloadIDs(t *testing.T) {
	e := newHookEnv(t)
	rt := router(e.webhook(t, nil, alert.WebhookOptions{}))
	base := func(id int64) activity { return condition(id, "s-bounds", 1001, true, 0) }
	long := strings.Repeat("x", 257)
	withHeader := func(body []byte, id string) events.APIGatewayV2HTTPRequest {
		h := bearer(e.secret)
		h["webhook-id"] = id
		return hookRequest(e.ig.ID, body, h, nil)
	}
	tests := []struct {
		name  string
		req   events.APIGatewayV2HTTPRequest
		want  int
		field string
	}{
		{"a 100 KB seriesUid", hookRequest(e.ig.ID, withFields(t, base(501), map[string]any{"seriesUid": strings.Repeat("s", 100<<10)}, nil), bearer(e.secret), nil), 400, "seriesId"},
		{"a 257-byte seriesUid", hookRequest(e.ig.ID, withFields(t, base(502), map[string]any{"seriesUid": long}, nil), bearer(e.secret), nil), 400, "seriesId"},
		{"a 256-byte seriesUid is fine", hookRequest(e.ig.ID, withFields(t, base(503), map[string]any{"seriesUid": long[:256]}, nil), bearer(e.secret), nil), 202, ""},
		{"a 129-character multi-byte seriesUid (258 bytes)", hookRequest(e.ig.ID, withFields(t, base(504), map[string]any{"seriesUid": strings.Repeat("é", 129)}, nil), bearer(e.secret), nil), 400, "seriesId"},
		{"a seriesUid with a newline", hookRequest(e.ig.ID, withFields(t, base(505), map[string]any{"seriesUid": "s\nforged"}, nil), bearer(e.secret), nil), 400, "seriesId"},
		{"a seriesUid with NUL", hookRequest(e.ig.ID, withFields(t, base(506), map[string]any{"seriesUid": "s\x00"}, nil), bearer(e.secret), nil), 400, "seriesId"},
		{"a long sourceConfigUid becomes the series", hookRequest(e.ig.ID, withFields(t, base(507), map[string]any{"seriesUid": "", "sourceConfigUid": long}, nil), bearer(e.secret), nil), 400, "seriesId"},
		{"a long activity id", hookRequest(e.ig.ID, withFields(t, base(0), map[string]any{"id": long}, nil), bearer(e.secret), nil), 400, "activityId"},
		{"an activity id with a C1 control", hookRequest(e.ig.ID, withFields(t, base(0), map[string]any{"id": "7\u0085"}, nil), bearer(e.secret), nil), 400, "activityId"},
		{"a long organization id", hookRequest(e.ig.ID, withFields(t, base(508), nil, map[string]any{"organizationId": long}), bearer(e.secret), nil), 400, "organizationId"},
		{"a long location id", hookRequest(e.ig.ID, withFields(t, base(509), nil, map[string]any{"locationId": long}), bearer(e.secret), nil), 400, "siteId"},
		{"a location id with a tab", hookRequest(e.ig.ID, withFields(t, base(510), nil, map[string]any{"locationId": "3\t4"}), bearer(e.secret), nil), 400, "siteId"},
		{"a long webhook-id", withHeader(base(511).body(t), long), 400, "webhook-id"},
		{"a webhook-id with a control character", withHeader(base(512).body(t), "msg\x7f1"), 400, "webhook-id"},
		{"a 256-byte webhook-id is fine", withHeader(base(513).body(t), long[:256]), 202, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, prob := deliver(t, rt, tc.req)
			if got != tc.want {
				t.Fatalf("status = %d, want %d (%+v)", got, tc.want, prob)
			}
			queued := len(receiveAll(t, e.sqs, e.queueURL))
			if tc.want != 202 {
				if queued != 0 {
					t.Errorf("%d messages queued for a refused delivery", queued)
				}
				var fields []string
				for _, f := range prob.Errors {
					fields = append(fields, f.Field)
				}
				if diff := cmp.Diff([]string{tc.field}, fields); diff != "" {
					t.Errorf("fields named (-want +got):\n%s\n%+v", diff, prob)
				}
				if len(prob.Detail) > 400 {
					t.Errorf("the problem detail is %d bytes: it must not echo the id", len(prob.Detail))
				}
				return
			}
			if queued != 1 {
				t.Errorf("%d messages queued, want 1", queued)
			}
		})
	}
}

// stubParser parses every body into the same alert, as an RMM whose ids
// are free text (Datto RMM, Tactical RMM) could.
type stubParser struct{ a rmm.Alert }

func (p stubParser) ParseWebhook([]byte) (rmm.Alert, bool, error) { return p.a, true, nil }

// TestWebhookBoundsIDsOfAnyRMM: the bounds hold for every id of the
// normalized alert, whatever the RMM's parser lets through.
func TestWebhookBoundsIDsOfAnyRMM(t *testing.T) {
	long := strings.Repeat("7", 257)
	ok := rmm.Alert{SeriesID: "s", ActivityID: "1", DeviceID: "d", OrganizationID: "o", SiteID: "l", State: rmm.AlertTriggered}
	tests := []struct {
		field string
		set   func(a *rmm.Alert)
	}{
		{"seriesId", func(a *rmm.Alert) { a.SeriesID = long }},
		{"activityId", func(a *rmm.Alert) { a.ActivityID = long }},
		{"deviceId", func(a *rmm.Alert) { a.DeviceID = long }},
		{"deviceId", func(a *rmm.Alert) { a.DeviceID = "d\r\n" }},
		{"organizationId", func(a *rmm.Alert) { a.OrganizationID = long }},
		{"siteId", func(a *rmm.Alert) { a.SiteID = long }},
		{"", func(*rmm.Alert) {}},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			a := ok
			tc.set(&a)
			q := &recordingQueue{}
			rt, igID, secret := memWebhookWith(q, stubParser{a})
			code, _, prob := deliver(t, rt, hookRequest(igID, []byte(`{}`), bearer(secret), nil))
			if tc.field == "" {
				if code != http.StatusAccepted || len(q.msgs) != 1 {
					t.Fatalf("bounded ids: %d %+v, %d queued; want 202 and one message", code, prob, len(q.msgs))
				}
				return
			}
			if code != http.StatusBadRequest || len(prob.Errors) != 1 || prob.Errors[0].Field != tc.field || len(q.msgs) != 0 {
				t.Errorf("%d %+v, %d queued; want 400 naming %s, nothing queued", code, prob, len(q.msgs), tc.field)
			}
		})
	}
}
