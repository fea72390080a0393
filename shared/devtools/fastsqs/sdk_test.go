package fastsqs_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/fastsqs"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
)

// TestServiceEndpointVariable checks how the SDK picks the SQS endpoint:
// the sqs client's resolveBaseEndpoint lets AWS_ENDPOINT_URL_SQS override
// the config's BaseEndpoint, except when the endpoint came from the
// config.WithBaseEndpoint load option, which the SDK treats as an in-code
// setting above every variable. motoserver.AWSConfig therefore sets the
// config field.
func TestServiceEndpointVariable(t *testing.T) {
	ctx := context.Background()
	viaEnv, err := fastsqs.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { viaEnv.Close() })
	base, err := fastsqs.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	t.Setenv("AWS_ENDPOINT_URL_SQS", viaEnv.URL())

	creates := func() (env, onBase int64) {
		return viaEnv.Stats().Requests["CreateQueue"], base.Stats().Requests["CreateQueue"]
	}
	tests := []struct {
		name    string
		load    func() (aws.Config, error)
		wantEnv bool
	}{
		{"motoserver.AWSConfig gives way to the variable", func() (aws.Config, error) {
			return motoserver.AWSConfig(ctx, base.URL())
		}, true},
		{"a WithBaseEndpoint load option wins over it", func() (aws.Config, error) {
			return config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"), config.WithBaseEndpoint(base.URL()),
				config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{AccessKeyID: "k", SecretAccessKey: "s"}, nil
				})))
		}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.load()
			if err != nil {
				t.Fatal(err)
			}
			env0, base0 := creates()
			if _, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprint("q", i))}); err != nil {
				t.Fatal(err)
			}
			env1, base1 := creates()
			if got := env1-env0 == 1 && base1 == base0; got != tt.wantEnv {
				t.Errorf("CreateQueue reached the variable's server: %v (calls there %d→%d, on the base endpoint %d→%d), want %v",
					got, env0, env1, base0, base1, tt.wantEnv)
			}
		})
	}

	t.Run("DynamoDB stays on moto", func(t *testing.T) {
		cfg := motoserver.ForTest(t)
		if _, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
			t.Fatalf("DynamoDB through the moto config: %v", err)
		}
		before := viaEnv.Stats().Requests["ListQueues"]
		if _, err := sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
			t.Fatal(err)
		}
		if got := viaEnv.Stats().Requests["ListQueues"]; got != before+1 {
			t.Errorf("SQS through the moto config did not reach fastsqs (ListQueues %d→%d)", before, got)
		}
	})
}

// TestSQSQueueAdapter runs the expectations of shared/sqsqueue's moto tests
// that bulk runs rely on against fastsqs.
func TestSQSQueueAdapter(t *testing.T) {
	ctx := context.Background()
	drain := func(t *testing.T, c *sqs.Client, url string) []types.Message {
		t.Helper()
		var got []types.Message
		for {
			msgs := receive(t, c, url, 10)
			if len(msgs) == 0 {
				return got
			}
			for _, m := range msgs {
				got = append(got, m)
				deleteMessage(t, c, url, m)
			}
		}
	}

	t.Run("a batch of 25 takes 3 calls", func(t *testing.T) {
		srv, c := newServer(t)
		url := createQueue(t, c, "batch", nil)
		q := sqsqueue.New(c)
		var msgs []sqsqueue.Message
		for i := range 25 {
			msgs = append(msgs, sqsqueue.Message{Body: fmt.Sprintf(`{"deviceId":"dev-%02d"}`, i)})
		}
		msgs[3].Attributes = map[string]string{"tenant": "t1"}
		if err := q.SendBatch(ctx, url, msgs); err != nil {
			t.Fatal(err)
		}
		if q.Calls() != 3 || srv.Stats().Requests["SendMessageBatch"] != 3 {
			t.Errorf("Calls() = %d, server saw %d SendMessageBatch; want 3", q.Calls(), srv.Stats().Requests["SendMessageBatch"])
		}
		got := drain(t, c, url)
		if len(got) != 25 {
			t.Fatalf("drained %d messages, want 25", len(got))
		}
		for _, m := range got {
			if aws.ToString(m.Body) == msgs[3].Body && aws.ToString(m.MessageAttributes["tenant"].StringValue) != "t1" {
				t.Errorf("attributes lost: %v", m.MessageAttributes)
			}
		}
	})
	t.Run("FIFO order per group", func(t *testing.T) {
		_, c := newServer(t)
		url := createQueue(t, c, "ordered.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false"})
		var msgs []sqsqueue.Message
		for i := range 12 {
			for _, g := range []string{"T#a#INT#1#series-a", "T#a#INT#1#series-b"} {
				msgs = append(msgs, sqsqueue.Message{Body: fmt.Sprintf("%s/%02d", g, i), GroupID: g})
			}
		}
		if err := sqsqueue.New(c).SendBatch(ctx, url, msgs); err != nil {
			t.Fatal(err)
		}
		perGroup, want := map[string][]string{}, map[string][]string{}
		for _, m := range drain(t, c, url) {
			g := m.Attributes["MessageGroupId"]
			perGroup[g] = append(perGroup[g], aws.ToString(m.Body))
		}
		for _, m := range msgs {
			want[m.GroupID] = append(want[m.GroupID], m.Body)
		}
		if diff := cmp.Diff(want, perGroup); diff != "" {
			t.Errorf("per-group order (-want +got):\n%s", diff)
		}
	})
	t.Run("FIFO deduplication", func(t *testing.T) {
		_, c := newServer(t)
		url := createQueue(t, c, "dedup.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false"})
		q := sqsqueue.New(c)
		msgs := []sqsqueue.Message{
			{Body: "same body", GroupID: "g"},
			{Body: "same body", GroupID: "g"},
			{Body: "first of d1", GroupID: "g", DedupID: "d1"},
			{Body: "second of d1", GroupID: "g", DedupID: "d1"},
			{Body: "twin", GroupID: "g", DedupID: "d2"},
			{Body: "twin", GroupID: "g", DedupID: "d3"},
		}
		if err := q.SendBatch(ctx, url, msgs); err != nil {
			t.Fatal(err)
		}
		if err := q.Send(ctx, url, sqsqueue.Message{Body: "same body", GroupID: "g"}); err != nil {
			t.Fatal(err)
		}
		got := drain(t, c, url)
		if diff := cmp.Diff([]string{"same body", "first of d1", "twin", "twin"}, bodies(got)); diff != "" {
			t.Errorf("delivered (-want +got):\n%s", diff)
		}
		sum := sha256.Sum256([]byte("same body"))
		if d := got[0].Attributes["MessageDeduplicationId"]; d != hex.EncodeToString(sum[:]) {
			t.Errorf("dedup id %q, want the body's SHA-256", d)
		}
	})
}
