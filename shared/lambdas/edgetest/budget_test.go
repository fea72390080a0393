package edgetest_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/alertworkerfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/assetrefreshfn"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// syncRequest is the Sync button's request as API Gateway hands it to the
// function, past the authorizer.
func syncRequest(integrationID, deviceID string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{RouteKey: assetrefreshfn.SyncRoute, RawPath: "/v1/integrations/" + integrationID + "/assets/" + deviceID + "/sync",
		PathParameters: map[string]string{"integrationId": integrationID, "deviceId": deviceID},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "r-" + deviceID, HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				Lambda: map[string]any{"tenantId": tenantID, "role": "operator", "keyId": "k_1"}}}}
}

// drain takes every token another instance's alert lane can take at once
// from a connection's budget (the way a burst of alerts elsewhere would).
func drain(t *testing.T, l *ratelimit.Limiter) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(ratelimit.WithLane(context.Background(), ratelimit.LaneAlert), 2500*time.Millisecond)
	defer cancel()
	n := 0
	for {
		release, err := l.Acquire(ctx, "all")
		if err != nil {
			return n
		}
		release(ratelimit.Outcome{Status: 200})
		n++
	}
}

// TestSyncButtonAnswers429WithRetryAfter: through the asset-refresh
// function as template.yaml builds it, the Sync button's request, whose
// RMM budget another instance has used up, is answered at once with 429,
// Retry-After over 5 s and a problem+json body; nothing reaches NinjaOne.
// Its requests are in the sync lane even when the caller's context says
// alert (an alert would have waited for its token instead).
func TestSyncButtonAnswers429WithRetryAfter(t *testing.T) {
	r := newRig(t, rigOptions{rmmSettings: map[string]any{"requestsPerMinute": 6}})
	h := r.build(t, assetrefreshfn.Build)
	device := strconv.Itoa(r.ninja.Devices()[0].ID)

	_, other := r.instance(r.rmmID, ratelimit.Budget{Name: "NinjaOne", Requests: 6, Window: time.Minute})
	if n := drain(t, other); n == 0 {
		t.Fatal("the other instance took no token")
	}
	before := r.ninja.TotalRequests()
	began := time.Now()
	resp, err := h.HTTP(ratelimit.WithLane(context.Background(), ratelimit.LaneAlert), syncRequest(r.igID, device))
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	ra, _ := strconv.Atoi(resp.Headers["retry-after"])
	var problem map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &problem)
	if resp.StatusCode != 429 || ra <= 5 || ra > 61 || resp.Headers["content-type"] != "application/problem+json" || problem["status"] != float64(429) {
		t.Errorf("Sync with the budget used up: %d, Retry-After %q, %s %s; want 429 problem+json with Retry-After over 5 s",
			resp.StatusCode, resp.Headers["retry-after"], resp.Headers["content-type"], resp.Body)
	}
	if took > 2*time.Second {
		t.Errorf("the 429 took %s: the request waited for the budget", took)
	}
	if got := r.ninja.TotalRequests(); got != before {
		t.Errorf("NinjaOne received %d requests from a refused Sync", got-before)
	}
	t.Logf("429 after %s, Retry-After %d s: %v", took.Round(time.Millisecond), ra, problem["detail"])
}

// alertRecord is a NinjaOne alert on the AlertQueue (sent and received
// through SQS, so that its receipt handle is real), as the SQS event
// Lambda hands the alert worker.
func alertRecord(t *testing.T, r *rig, deviceID int, series string) events.SQSEvent {
	t.Helper()
	ctx := context.Background()
	act, err := r.ninja.ConditionActivity(deviceID, true, series, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(act)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(alert.Message{TenantID: tenantID, IntegrationID: r.igID, DeliveryID: "d-" + series, ReceivedAt: time.Now(), Activity: raw})
	if err != nil {
		t.Fatal(err)
	}
	q := r.env["ALERT_QUEUE_URL"]
	if _, err := r.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String(string(body)),
		MessageGroupId: aws.String(r.igID + "#" + series), MessageDeduplicationId: aws.String(series)}); err != nil {
		t.Fatal(err)
	}
	out, err := r.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q), MaxNumberOfMessages: 1,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive the alert: %d messages, %v", len(out.Messages), err)
	}
	m := out.Messages[0]
	return events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
		Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:alerts.fifo"}}}
}

// done deletes a record's message, as Lambda does after a batch that
// reports no failure.
func done(t *testing.T, r *rig, ev events.SQSEvent) {
	t.Helper()
	for _, rec := range ev.Records {
		if _, err := r.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(r.env["ALERT_QUEUE_URL"]),
			ReceiptHandle: aws.String(rec.ReceiptHandle)}); err != nil {
			t.Fatal(err)
		}
	}
}

// visible counts the alert queue's visible and in-flight messages.
func visible(t *testing.T, r *rig) (visible, inFlight int) {
	t.Helper()
	out, err := r.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(r.env["ALERT_QUEUE_URL"]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	f, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return v, f
}

// TestAlertWorkerHandsBackWhatItCannotWaitFor: the alert worker, built as
// template.yaml builds it, with 8 s left in its invocation and a PSA
// budget another instance has used up (the next token is more than 8 s
// away), does not sleep: it reports the alert as failed and hands it back
// to the AlertQueue with ChangeMessageVisibility for the budget's wait, so
// the message stays invisible well past the queue's 1 s visibility
// timeout; no request reaches the PSA.
func TestAlertWorkerHandsBackWhatItCannotWaitFor(t *testing.T) {
	r := newRig(t, rigOptions{psaSettings: map[string]any{"requestsPerMinute": 6}, rmmSettings: map[string]any{"requestsPerMinute": 6}})
	h := r.build(t, alertworkerfn.Build)
	_, otherPSA := r.instance(r.psaID, ratelimit.Budget{Name: "ConnectWise PSA", Requests: 6, Window: time.Minute})
	_, otherRMM := r.instance(r.rmmID, ratelimit.Budget{Name: "NinjaOne", Requests: 6, Window: time.Minute})
	drain(t, otherPSA)
	drain(t, otherRMM)
	ev := alertRecord(t, r, r.ninja.Devices()[0].ID, "series-1")

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	began := time.Now()
	resp, err := h.SQS(ctx, ev)
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[0].MessageId {
		t.Fatalf("batch failures %+v, want the alert's", resp.BatchItemFailures)
	}
	if took > 3*time.Second {
		t.Errorf("the worker took %s: it slept on the budget instead of handing the alert back", took)
	}
	if reqs, _ := r.cwLog.snapshot(); len(reqs) != 0 {
		t.Errorf("ConnectWise received %d requests beyond the budget", len(reqs))
	}
	// The queue's own visibility timeout is 1 s; the hand-back's delay is
	// the budget's wait (over 5 s).
	time.Sleep(2500 * time.Millisecond)
	if v, f := visible(t, r); v != 0 || f != 1 {
		t.Errorf("2.5 s after the hand-back: %d visible, %d in flight; want the alert still hidden", v, f)
	}
	out, err := r.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.env["ALERT_QUEUE_URL"])})
	if err != nil || len(out.Messages) != 0 {
		t.Errorf("received %d messages 2.5 s after the hand-back (%v), want none", len(out.Messages), err)
	}
	if len(r.cw.Tickets()) != 0 {
		t.Errorf("%d tickets created", len(r.cw.Tickets()))
	}
	t.Logf("handed back after %s", took.Round(time.Millisecond))
}

// TestThrottleAnswerCoolsEveryFunction: a 429 that ConnectWise answers
// the alert worker (Retry-After 30 s) cools the PSA's budget down in the
// table; the asset-refresh function — another function, another instance —
// then sends ConnectWise nothing: its Sync button answers 429 with the
// remaining cool-down, and the worker hands its next alert back at once.
func TestThrottleAnswerCoolsEveryFunction(t *testing.T) {
	r := newRig(t, rigOptions{})
	worker := r.build(t, alertworkerfn.Build)
	refresh := r.build(t, assetrefreshfn.Build)
	devices := r.ninja.Devices()

	r.cw.ThrottleNext(1, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := worker.SQS(ctx, alertRecord(t, r, devices[0].ID, "series-a"))
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("alert met by a 429: failures %+v, %v; want the alert back in its queue", resp.BatchItemFailures, err)
	}
	b, found, err := dynamostore.NewBudgets(r.st).GetBucket(context.Background(), ratelimit.ID{Tenant: tenantID, Key: providers.BudgetKey(r.psaID)})
	if err != nil || !found || time.Until(b.CoolDownUntil) < 20*time.Second {
		t.Fatalf("the PSA budget after a 429 with Retry-After 30 s: cool-down until %s (found %v, %v)", b.CoolDownUntil, found, err)
	}
	cwBefore, _ := r.cwLog.snapshot()

	// The Sync button in the asset-refresh function.
	sresp, err := refresh.HTTP(context.Background(), syncRequest(r.igID, strconv.Itoa(devices[1].ID)))
	if err != nil {
		t.Fatal(err)
	}
	ra, _ := strconv.Atoi(sresp.Headers["retry-after"])
	if sresp.StatusCode != 429 || ra < 20 || ra > 31 {
		t.Errorf("Sync during the cool-down: %d, Retry-After %q (%s); want 429 with the cool-down's remainder", sresp.StatusCode, sresp.Headers["retry-after"], sresp.Body)
	}
	// The alert worker's next alert.
	ev := alertRecord(t, r, devices[2].ID, "series-b")
	began := time.Now()
	resp, err = worker.SQS(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 1 || time.Since(began) > 3*time.Second {
		t.Errorf("alert during the cool-down: failures %+v, %v after %s; want it handed back at once", resp.BatchItemFailures, err, time.Since(began))
	}
	if cwAfter, _ := r.cwLog.snapshot(); len(cwAfter) != len(cwBefore) {
		t.Errorf("ConnectWise received %d requests during the cool-down", len(cwAfter)-len(cwBefore))
	}
}
