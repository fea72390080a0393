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
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/alertworkerfn"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// redrivenAlertQueue gives the rig an AlertQueue as template.yaml has it:
// FIFO, with a FIFO dead-letter queue after queuemsg.MaxReceives
// receives (the queue's visibility timeout stays the rig's 1 s). It
// returns the DLQ's URL.
func redrivenAlertQueue(t *testing.T, r *rig) string {
	t.Helper()
	ctx := context.Background()
	name := motoserver.UniqueName("q")
	dlq, err := r.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-alerts-dlq.fifo"),
		Attributes: map[string]string{"FifoQueue": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := r.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := json.Marshal(map[string]string{"deadLetterTargetArn": attrs.Attributes["QueueArn"], "maxReceiveCount": strconv.Itoa(queuemsg.MaxReceives)})
	q, err := r.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-alerts.fifo"),
		Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "1", "RedrivePolicy": string(policy)}})
	if err != nil {
		t.Fatal(err)
	}
	r.env["ALERT_QUEUE_URL"] = aws.ToString(q.QueueUrl)
	return aws.ToString(dlq.QueueUrl)
}

// sendAlert puts a NinjaOne alert on the AlertQueue as the webhook does.
func sendAlert(t *testing.T, r *rig, deviceID int, series string) {
	t.Helper()
	act, err := r.ninja.ConditionActivity(deviceID, true, series, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(act)
	body, _ := json.Marshal(alert.Message{TenantID: tenantID, IntegrationID: r.igID, DeliveryID: "d-" + series, ReceivedAt: time.Now(), Activity: raw})
	sendBody(t, r, string(body), r.igID+"#"+series)
}

func sendBody(t *testing.T, r *rig, body, group string) {
	t.Helper()
	if _, err := r.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(r.env["ALERT_QUEUE_URL"]),
		MessageBody: aws.String(body), MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
}

// poll is one poll of the Lambda event source mapping: it receives a
// batch (waiting up to 3 s), hands it to the function as Lambda does —
// system attributes and message attributes included — with the context
// ctxFor gives, and deletes the messages the function did not report
// failed. It returns the records handed over.
func poll(t *testing.T, r *rig, h lambdafn.Handlers, ctxFor func() (context.Context, context.CancelFunc)) []events.SQSMessage {
	t.Helper()
	q := r.env["ALERT_QUEUE_URL"]
	out, err := r.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q), MaxNumberOfMessages: 10, WaitTimeSeconds: 3,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) == 0 {
		return nil
	}
	var ev events.SQSEvent
	for _, m := range out.Messages {
		rec := events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Attributes: m.Attributes, EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:alerts.fifo", MessageAttributes: map[string]events.SQSMessageAttribute{}}
		for k, v := range m.MessageAttributes {
			rec.MessageAttributes[k] = events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue}
		}
		ev.Records = append(ev.Records, rec)
	}
	ctx, cancel := ctxFor()
	defer cancel()
	resp, err := h.SQS(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for _, rec := range ev.Records {
		if !failed[rec.MessageId] {
			if _, err := r.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(q), ReceiptHandle: aws.String(rec.ReceiptHandle)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ev.Records
}

// queueDepth is a queue's visible plus in-flight messages.
func queueDepth(t *testing.T, r *rig, url string) int {
	t.Helper()
	out, err := r.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		c, _ := strconv.Atoi(v)
		n += c
	}
	return n
}

func withTimeout(d time.Duration) func() (context.Context, context.CancelFunc) {
	return func() (context.Context, context.CancelFunc) { return context.WithTimeout(context.Background(), d) }
}

// TestThrottledAlertNeverReachesTheDLQ: an alert whose PSA request budget
// another instance keeps using up is handed back by the alert worker —
// built as template.yaml builds it, polled from a FIFO AlertQueue with
// the template's redrive policy on moto — far more often than the
// queue's maxReceiveCount; no copy is ever received more than
// MaxReceives times (the worker re-sends it as a new message near the
// limit). Once the budget frees up, the alert becomes exactly one
// ticket, the queue is empty and the dead-letter queue holds nothing.
func TestThrottledAlertNeverReachesTheDLQ(t *testing.T) {
	r := newRig(t, rigOptions{psaSettings: map[string]any{"requestsPerMinute": 60}})
	dlq := redrivenAlertQueue(t, r)
	h := r.build(t, alertworkerfn.Build)
	_, otherPSA := r.instance(r.psaID, ratelimit.Budget{Name: "ConnectWise PSA", Requests: 60, Window: time.Minute})
	sendAlert(t, r, r.ninja.Devices()[0].ID, "series-busy")

	const wantHeldBack = queuemsg.MaxReceives + 3
	heldBack, copies, most, body := 0, map[string]bool{}, 0, ""
	for polls := 0; heldBack < wantHeldBack; polls++ {
		if n := queueDepth(t, r, dlq); n > 0 {
			t.Fatalf("after %d hand-backs the dead-letter queue holds %d messages", heldBack, n)
		}
		if polls > 4*wantHeldBack {
			t.Fatalf("after %d polls the alert was handed back %d times; DLQ holds %d", polls, heldBack, queueDepth(t, r, dlq))
		}
		// The other instance takes every token it can: the next is
		// about 1 s away, more than the worker's 2.3 s less the 2 s
		// margin lets it wait.
		drain(t, otherPSA)
		recs := poll(t, r, h, withTimeout(2300*time.Millisecond))
		for _, rec := range recs {
			n, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
			most = max(most, n)
			copies[rec.MessageId] = true
			body = rec.Body
			heldBack++
		}
	}
	if len(r.cw.Tickets()) != 0 {
		t.Fatalf("%d tickets while the budget was used up", len(r.cw.Tickets()))
	}
	if most > queuemsg.MaxReceives {
		t.Errorf("a copy of the alert was received %d times, over maxReceiveCount %d", most, queuemsg.MaxReceives)
	}

	// The budget frees up: the next poll opens the ticket.
	for polls := 0; queueDepth(t, r, r.env["ALERT_QUEUE_URL"]) > 0; polls++ {
		if polls > 10 {
			t.Fatalf("the alert is still queued after %d polls with a free budget", polls)
		}
		poll(t, r, h, withTimeout(20*time.Second))
	}
	if n := len(r.cw.Tickets()); n != 1 {
		t.Errorf("%d tickets, want exactly 1", n)
	}
	// A second copy of a re-send (its received copy's delete failed) is
	// the same delivery: still one ticket.
	sendBody(t, r, body, "dup-copy")
	if recs := poll(t, r, h, withTimeout(20*time.Second)); len(recs) != 1 {
		t.Fatalf("received %d messages, want the duplicate copy", len(recs))
	}
	if n := len(r.cw.Tickets()); n != 1 {
		t.Errorf("after a duplicate copy: %d tickets, want exactly 1", n)
	}
	if n := queueDepth(t, r, r.env["ALERT_QUEUE_URL"]); n != 0 {
		t.Errorf("the duplicate copy was not acknowledged: %d messages queued", n)
	}
	if n := queueDepth(t, r, dlq); n != 0 {
		t.Errorf("the dead-letter queue holds %d messages, want 0", n)
	}
	t.Logf("handed back %d times as %d messages (at most %d receives each), then 1 ticket", heldBack, len(copies), most)
}

// TestFailingAlertStillReachesTheDLQ: a message that fails for real (a
// body that is no alert message) is not re-sent: after maxReceiveCount
// receives it rests in the dead-letter queue, once.
func TestFailingAlertStillReachesTheDLQ(t *testing.T) {
	r := newRig(t, rigOptions{})
	dlq := redrivenAlertQueue(t, r)
	h := r.build(t, alertworkerfn.Build)
	sendBody(t, r, `{"tenantId":"`+tenantID+`","integrationId":"`+r.igID+`"}`, "poison")

	receives := 0
	for polls := 0; queueDepth(t, r, dlq) == 0; polls++ {
		if polls > 3*queuemsg.MaxReceives {
			t.Fatalf("after %d polls (%d receives) the failing message is not in the DLQ", polls, receives)
		}
		receives += len(poll(t, r, h, withTimeout(5*time.Second)))
	}
	if receives != queuemsg.MaxReceives {
		t.Errorf("the failing message was received %d times before the DLQ, want %d", receives, queuemsg.MaxReceives)
	}
	if n := queueDepth(t, r, dlq); n != 1 {
		t.Errorf("the dead-letter queue holds %d messages, want 1", n)
	}
	if n := queueDepth(t, r, r.env["ALERT_QUEUE_URL"]); n != 0 {
		t.Errorf("the alert queue still holds %d messages", n)
	}
}
