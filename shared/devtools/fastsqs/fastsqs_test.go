package fastsqs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/fastsqs"
)

// newServer starts a fastsqs for the test and returns it with a real sqs
// client pointed at it (a client option, so no environment variable can
// send the test elsewhere).
func newServer(t testing.TB) (*fastsqs.Server, *sqs.Client) {
	t.Helper()
	srv, err := fastsqs.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret", Source: "test"}, nil
		})),
	)
	if err != nil {
		t.Fatal(err)
	}
	return srv, sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL()) })
}

func createQueue(t testing.TB, c *sqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

func queueARN(t testing.TB, c *sqs.Client, url string) string {
	t.Helper()
	return queueAttrs(t, c, url, "QueueArn")["QueueArn"]
}

func queueAttrs(t testing.TB, c *sqs.Client, url string, names ...string) map[string]string {
	t.Helper()
	in := &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url)}
	for _, n := range names {
		in.AttributeNames = append(in.AttributeNames, types.QueueAttributeName(n))
	}
	out, err := c.GetQueueAttributes(context.Background(), in)
	if err != nil {
		t.Fatalf("queue attributes of %s: %v", url, err)
	}
	return out.Attributes
}

// counts returns visible, in-flight and delayed message counts.
func counts(t testing.TB, c *sqs.Client, url string) [3]string {
	t.Helper()
	a := queueAttrs(t, c, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed")
	return [3]string{a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"], a["ApproximateNumberOfMessagesDelayed"]}
}

func send(t testing.TB, c *sqs.Client, url string, bodies ...string) []string {
	t.Helper()
	var ids []string
	for _, b := range bodies {
		out, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b)})
		if err != nil {
			t.Fatalf("send %q: %v", b, err)
		}
		ids = append(ids, aws.ToString(out.MessageId))
	}
	return ids
}

func sendToGroup(t testing.TB, c *sqs.Client, url, group string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		_, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b),
			MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(group + "-" + b)})
		if err != nil {
			t.Fatalf("send %q to group %s: %v", b, group, err)
		}
	}
}

// receive makes one ReceiveMessage call asking for every attribute.
func receive(t testing.TB, c *sqs.Client, url string, max int32, opts ...func(*sqs.ReceiveMessageInput)) []types.Message {
	t.Helper()
	in := &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: max,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	}
	for _, o := range opts {
		o(in)
	}
	out, err := c.ReceiveMessage(context.Background(), in)
	if err != nil {
		t.Fatalf("receive from %s: %v", url, err)
	}
	return out.Messages
}

func withVisibility(secs int32) func(*sqs.ReceiveMessageInput) {
	return func(in *sqs.ReceiveMessageInput) { in.VisibilityTimeout = secs }
}

func withWait(secs int32) func(*sqs.ReceiveMessageInput) {
	return func(in *sqs.ReceiveMessageInput) { in.WaitTimeSeconds = secs }
}

func deleteMessage(t testing.TB, c *sqs.Client, url string, m types.Message) {
	t.Helper()
	if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatalf("delete %s: %v", aws.ToString(m.Body), err)
	}
}

func bodies(ms []types.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, aws.ToString(m.Body))
	}
	return out
}

// code is the error code a caller sees (ErrorCode of the API error).
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "not an API error: " + err.Error()
	}
	return ""
}

func TestStartRefusesNonLoopbackAddresses(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", ":0", "example.com:80"} {
		t.Run(addr, func(t *testing.T) {
			srv, err := fastsqs.Start(addr)
			if err == nil {
				srv.Close()
				t.Fatalf("Start(%q) succeeded, want an error", addr)
			}
		})
	}
}

func TestCreateQueue(t *testing.T) {
	_, c := newServer(t)
	ctx := context.Background()
	attrs := map[string]string{"VisibilityTimeout": "45", "MessageRetentionPeriod": "3600"}
	url := createQueue(t, c, "orders", attrs)
	if !strings.HasSuffix(url, "/123456789012/orders") {
		t.Errorf("queue URL %s, want it to end in /123456789012/orders", url)
	}

	t.Run("same attributes return the same queue", func(t *testing.T) {
		again := createQueue(t, c, "orders", map[string]string{"VisibilityTimeout": "45"})
		if again != url {
			t.Errorf("second CreateQueue gave %s, want %s", again, url)
		}
	})
	t.Run("different attributes are QueueNameExists", func(t *testing.T) {
		_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders"), Attributes: map[string]string{"VisibilityTimeout": "46"}})
		var exists *types.QueueNameExists
		if !errors.As(err, &exists) || code(err) != "QueueAlreadyExists" {
			t.Errorf("got %v (code %q), want QueueNameExists with code QueueAlreadyExists", err, code(err))
		}
	})
	t.Run("FIFO with its attributes", func(t *testing.T) {
		url := createQueue(t, c, "events.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true",
			"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId", "DelaySeconds": "0"})
		got := queueAttrs(t, c, url, "All")
		want := map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true",
			"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("attribute %s = %q, want %q", k, got[k], v)
			}
		}
	})
}

func TestCreateQueueRejects(t *testing.T) {
	_, c := newServer(t)
	dlq := createQueue(t, c, "dlq", nil)
	dlqARN := queueARN(t, c, dlq)
	tests := []struct {
		name  string
		queue string
		attrs map[string]string
		code  string
	}{
		{"invalid name", "has space", nil, "InvalidParameterValue"},
		{"name too long", strings.Repeat("q", 81), nil, "InvalidParameterValue"},
		{"FIFO name without .fifo", "plain", map[string]string{"FifoQueue": "true"}, "InvalidParameterValue"},
		{".fifo name on a standard queue", "plain.fifo", nil, "InvalidParameterValue"},
		{"FIFO attribute on a standard queue", "std", map[string]string{"ContentBasedDeduplication": "true"}, "InvalidAttributeName"},
		{"unknown attribute", "std", map[string]string{"Colour": "blue"}, "InvalidAttributeName"},
		{"visibility over 12 h", "std", map[string]string{"VisibilityTimeout": "43201"}, "InvalidAttributeValue"},
		{"retention under a minute", "std", map[string]string{"MessageRetentionPeriod": "59"}, "InvalidAttributeValue"},
		{"redrive to a missing queue", "std", map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:nope","maxReceiveCount":5}`}, "InvalidParameterValue"},
		{"redrive count over 1000", "std", map[string]string{"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":1001}`, dlqARN)}, "InvalidParameterValue"},
		{"FIFO queue with a standard DLQ", "f.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true",
			"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":3}`, dlqARN)}, "InvalidParameterValue"},
		{"per-group throughput without per-group dedup", "g.fifo", map[string]string{"FifoQueue": "true", "FifoThroughputLimit": "perMessageGroupId"}, "InvalidAttributeValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(tt.queue), Attributes: tt.attrs})
			if got := code(err); got != tt.code {
				t.Errorf("error code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

func TestQueueAdministration(t *testing.T) {
	srv, c := newServer(t)
	ctx := context.Background()
	dlq := createQueue(t, c, "work-dlq", nil)
	dlqARN := queueARN(t, c, dlq)
	url := createQueue(t, c, "work", map[string]string{
		"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"5"}`, dlqARN)})
	for i := range 3 {
		createQueue(t, c, fmt.Sprintf("other-%d", i), nil)
	}

	t.Run("GetQueueUrl", func(t *testing.T) {
		out, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("work")})
		if err != nil || aws.ToString(out.QueueUrl) != url {
			t.Errorf("GetQueueUrl = %v, %v; want %s", out, err, url)
		}
		_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("missing")})
		var missing *types.QueueDoesNotExist
		if !errors.As(err, &missing) || code(err) != "AWS.SimpleQueueService.NonExistentQueue" {
			t.Errorf("missing queue: %v (code %q), want QueueDoesNotExist with the query code", err, code(err))
		}
	})
	t.Run("attributes", func(t *testing.T) {
		got := queueAttrs(t, c, url, "All")
		want := map[string]string{
			"QueueArn": "arn:aws:sqs:us-east-1:123456789012:work", "VisibilityTimeout": "30", "DelaySeconds": "0",
			"MessageRetentionPeriod": "345600", "MaximumMessageSize": "262144", "ReceiveMessageWaitTimeSeconds": "0",
			"RedrivePolicy":               fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":5}`, dlqARN),
			"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0", "ApproximateNumberOfMessagesDelayed": "0",
			"SqsManagedSseEnabled": "true",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
		if got["CreatedTimestamp"] == "" || got["LastModifiedTimestamp"] == "" {
			t.Errorf("timestamps missing: %v", got)
		}
		_, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []types.QueueAttributeName{"NoSuchThing"}})
		var bad *types.InvalidAttributeName
		if !errors.As(err, &bad) {
			t.Errorf("unknown attribute name: %v, want InvalidAttributeName", err)
		}
	})
	t.Run("SetQueueAttributes", func(t *testing.T) {
		_, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
			Attributes: map[string]string{"VisibilityTimeout": "120", "RedrivePolicy": ""}})
		if err != nil {
			t.Fatal(err)
		}
		got := queueAttrs(t, c, url, "VisibilityTimeout", "RedrivePolicy")
		if diff := cmp.Diff(map[string]string{"VisibilityTimeout": "120"}, got); diff != "" {
			t.Errorf("attributes after set (-want +got):\n%s", diff)
		}
		_, err = c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
			Attributes: map[string]string{"FifoQueue": "true"}})
		if code(err) != "InvalidAttributeName" {
			t.Errorf("setting FifoQueue: %v, want InvalidAttributeName", err)
		}
	})
	t.Run("ListQueues pages by name", func(t *testing.T) {
		var pages [][]string
		var token *string
		for {
			out, err := c.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("other"), MaxResults: aws.Int32(2), NextToken: token})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, u := range out.QueueUrls {
				names = append(names, u[strings.LastIndexByte(u, '/')+1:])
			}
			pages = append(pages, names)
			if token = out.NextToken; token == nil {
				break
			}
		}
		if diff := cmp.Diff([][]string{{"other-0", "other-1"}, {"other-2"}}, pages); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
		out, err := c.ListQueues(ctx, &sqs.ListQueuesInput{})
		if err != nil || len(out.QueueUrls) != 5 {
			t.Errorf("ListQueues = %v, %v; want 5 queues", out, err)
		}
	})
	t.Run("PurgeQueue empties visible and in-flight messages", func(t *testing.T) {
		send(t, c, url, "a", "b", "c")
		receive(t, c, url, 1)
		if _, err := c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)}); err != nil {
			t.Fatal(err)
		}
		if got := counts(t, c, url); got != [3]string{"0", "0", "0"} {
			t.Errorf("counts after purge = %v", got)
		}
	})
	t.Run("DeleteQueue", func(t *testing.T) {
		if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
			t.Fatal(err)
		}
		_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
		var missing *types.QueueDoesNotExist
		if !errors.As(err, &missing) {
			t.Errorf("send to a deleted queue: %v, want QueueDoesNotExist", err)
		}
	})
	t.Run("operations fastsqs does not implement", func(t *testing.T) {
		_, err := c.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(dlq)})
		if code(err) != "InvalidAction" {
			t.Errorf("ListQueueTags: %v, want InvalidAction", err)
		}
		if n := srv.Stats().Requests["Unknown"]; n != 1 {
			t.Errorf("Stats().Requests[Unknown] = %d, want 1", n)
		}
	})
}

func TestSendAndReceive(t *testing.T) {
	srv, c := newServer(t)
	ctx := context.Background()
	url := createQueue(t, c, "q", nil)
	// Digests from published examples of SQS's message attribute MD5.
	tests := []struct {
		name    string
		attrs   map[string]types.MessageAttributeValue
		wantMD5 string
	}{
		{"one string attribute", map[string]types.MessageAttributeValue{
			"SellerName": {DataType: aws.String("String"), StringValue: aws.String("Example Store")}},
			"cd28f3b68aeee4b2eac9c66f2f694b58"},
		{"number and string", map[string]types.MessageAttributeValue{
			"ordinal":  {DataType: aws.String("Number"), StringValue: aws.String("1")},
			"category": {DataType: aws.String("String"), StringValue: aws.String("test")}},
			"d21ae90c49061e927f57df5f5d72be1f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("body of " + tt.name),
				MessageAttributes: tt.attrs})
			if err != nil {
				t.Fatal(err) // the client checks MD5OfMessageBody itself
			}
			if got := aws.ToString(out.MD5OfMessageAttributes); got != tt.wantMD5 {
				t.Errorf("MD5OfMessageAttributes = %s, want %s", got, tt.wantMD5)
			}
			msgs := receive(t, c, url, 10)
			if len(msgs) != 1 {
				t.Fatalf("received %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if aws.ToString(m.MessageId) != aws.ToString(out.MessageId) || aws.ToString(m.MD5OfMessageAttributes) != tt.wantMD5 {
				t.Errorf("received id %s md5 %s, want %s %s", aws.ToString(m.MessageId), aws.ToString(m.MD5OfMessageAttributes),
					aws.ToString(out.MessageId), tt.wantMD5)
			}
			if diff := cmp.Diff(tt.attrs, m.MessageAttributes, cmp.AllowUnexported(types.MessageAttributeValue{})); diff != "" {
				t.Errorf("message attributes (-want +got):\n%s", diff)
			}
			for _, a := range []string{"SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"} {
				if m.Attributes[a] == "" {
					t.Errorf("attribute %s missing: %v", a, m.Attributes)
				}
			}
			if m.Attributes["SenderId"] != "AKIDTEST" || m.Attributes["ApproximateReceiveCount"] != "1" {
				t.Errorf("SenderId %q, receive count %q", m.Attributes["SenderId"], m.Attributes["ApproximateReceiveCount"])
			}
			deleteMessage(t, c, url, m)
		})
	}

	t.Run("attribute and system attribute selection", func(t *testing.T) {
		_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("select"),
			MessageAttributes: map[string]types.MessageAttributeValue{
				"tenant.id":   {DataType: aws.String("String"), StringValue: aws.String("t1")},
				"tenant.name": {DataType: aws.String("String"), StringValue: aws.String("Acme")},
				"kind":        {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
			}})
		if err != nil {
			t.Fatal(err)
		}
		msgs := receive(t, c, url, 1, func(in *sqs.ReceiveMessageInput) {
			in.MessageAttributeNames = []string{"tenant.*"}
			in.MessageSystemAttributeNames = []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}
		})
		if len(msgs) != 1 {
			t.Fatalf("received %d messages", len(msgs))
		}
		var names []string
		for k := range msgs[0].MessageAttributes {
			names = append(names, k)
		}
		slices.Sort(names)
		if diff := cmp.Diff([]string{"tenant.id", "tenant.name"}, names); diff != "" {
			t.Errorf("message attributes returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"ApproximateReceiveCount": "1"}, msgs[0].Attributes); diff != "" {
			t.Errorf("system attributes returned (-want +got):\n%s", diff)
		}
		// The digest covers what was returned: the same as a send of just
		// those attributes reports.
		subset, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("subset"),
			MessageAttributes: msgs[0].MessageAttributes})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := aws.ToString(msgs[0].MD5OfMessageAttributes), aws.ToString(subset.MD5OfMessageAttributes); got != want {
			t.Errorf("MD5OfMessageAttributes of the selection = %s, want %s", got, want)
		}
	})

	if st := srv.Stats(); st.Sent != 4 || st.Received != 3 || st.Deleted != 2 || st.Requests["SendMessage"] != 4 {
		t.Errorf("Stats() = %+v, want 4 sent, 3 received, 2 deleted, 4 SendMessage calls", st)
	}
}

func TestSendRejects(t *testing.T) {
	_, c := newServer(t)
	std := createQueue(t, c, "std", map[string]string{"MaximumMessageSize": "1024"})
	fifo := createQueue(t, c, "f.fifo", map[string]string{"FifoQueue": "true"})
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		in   sqs.SendMessageInput
		code string
	}{
		{"empty body", sqs.SendMessageInput{QueueUrl: &std, MessageBody: str("")}, "MissingParameter"},
		{"control character", sqs.SendMessageInput{QueueUrl: &std, MessageBody: str("bell \a")}, "InvalidMessageContents"},
		{"over the queue's maximum size", sqs.SendMessageInput{QueueUrl: &std, MessageBody: str(strings.Repeat("x", 1025))}, "InvalidParameterValue"},
		{"delay over 15 minutes", sqs.SendMessageInput{QueueUrl: &std, MessageBody: str("x"), DelaySeconds: 901}, "InvalidParameterValue"},
		{"dedup id on a standard queue", sqs.SendMessageInput{QueueUrl: &std, MessageBody: str("x"), MessageDeduplicationId: str("d")}, "InvalidParameterValue"},
		{"attribute without value", sqs.SendMessageInput{QueueUrl: &std, MessageBody: str("x"),
			MessageAttributes: map[string]types.MessageAttributeValue{"a": {DataType: str("String")}}}, "InvalidParameterValue"},
		{"reserved attribute name", sqs.SendMessageInput{QueueUrl: &std, MessageBody: str("x"),
			MessageAttributes: map[string]types.MessageAttributeValue{"AWS.x": {DataType: str("String"), StringValue: str("v")}}}, "InvalidParameterValue"},
		{"FIFO without group", sqs.SendMessageInput{QueueUrl: &fifo, MessageBody: str("x"), MessageDeduplicationId: str("d")}, "MissingParameter"},
		{"FIFO without dedup id or content-based dedup", sqs.SendMessageInput{QueueUrl: &fifo, MessageBody: str("x"), MessageGroupId: str("g")}, "InvalidParameterValue"},
		{"FIFO with a per-message delay", sqs.SendMessageInput{QueueUrl: &fifo, MessageBody: str("x"), MessageGroupId: str("g"),
			MessageDeduplicationId: str("d"), DelaySeconds: 5}, "InvalidParameterValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.SendMessage(context.Background(), &tt.in)
			if got := code(err); got != tt.code {
				t.Errorf("error code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

func TestSendMessageBatch(t *testing.T) {
	_, c := newServer(t)
	ctx := context.Background()
	url := createQueue(t, c, "batch", nil)
	entry := func(id, body string) types.SendMessageBatchRequestEntry {
		return types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(body)}
	}

	t.Run("entries succeed and fail one by one", func(t *testing.T) {
		out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
			entry("ok-1", "one"), entry("bad", ""), entry("ok-2", "two")}})
		if err != nil {
			t.Fatal(err)
		}
		var ok []string
		for _, s := range out.Successful {
			ok = append(ok, aws.ToString(s.Id))
			if aws.ToString(s.MD5OfMessageBody) == "" || aws.ToString(s.MessageId) == "" {
				t.Errorf("entry %s lacks its id or body digest: %+v", aws.ToString(s.Id), s)
			}
		}
		if diff := cmp.Diff([]string{"ok-1", "ok-2"}, ok); diff != "" {
			t.Errorf("successful (-want +got):\n%s", diff)
		}
		if len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "bad" || aws.ToString(out.Failed[0].Code) != "MissingParameter" || !out.Failed[0].SenderFault {
			t.Errorf("failed = %+v, want bad as a MissingParameter sender fault", out.Failed)
		}
		if diff := cmp.Diff([]string{"one", "two"}, bodies(receive(t, c, url, 10))); diff != "" {
			t.Errorf("received (-want +got):\n%s", diff)
		}
	})

	eleven := make([]types.SendMessageBatchRequestEntry, 11)
	for i := range eleven {
		eleven[i] = entry(fmt.Sprint("e", i), "x")
	}
	tests := []struct {
		name    string
		entries []types.SendMessageBatchRequestEntry
		check   func(error) bool
	}{
		{"no entries", []types.SendMessageBatchRequestEntry{}, func(err error) bool { var e *types.EmptyBatchRequest; return errors.As(err, &e) }},
		{"eleven entries", eleven, func(err error) bool { var e *types.TooManyEntriesInBatchRequest; return errors.As(err, &e) }},
		{"repeated id", []types.SendMessageBatchRequestEntry{entry("a", "x"), entry("a", "y")},
			func(err error) bool { var e *types.BatchEntryIdsNotDistinct; return errors.As(err, &e) }},
		{"invalid id", []types.SendMessageBatchRequestEntry{entry("a b", "x")},
			func(err error) bool { var e *types.InvalidBatchEntryId; return errors.As(err, &e) }},
		{"over 1 MiB in all", []types.SendMessageBatchRequestEntry{entry("a", strings.Repeat("x", 600_000)), entry("b", strings.Repeat("y", 600_000))},
			func(err error) bool { var e *types.BatchRequestTooLong; return errors.As(err, &e) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: tt.entries})
			if !tt.check(err) {
				t.Errorf("got %v (code %q)", err, code(err))
			}
		})
	}
}
