package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
)

func TestEnvironmentResolution(t *testing.T) {
	f := &fakeFuncs{}
	logs := &syncBuffer{}
	o := testOptions(t, f, logs)
	s := start(t, o, logs)
	ctx := context.Background()

	env := s.Env("ApiFunction")
	want := map[string]string{
		"MODE":                            "local-test",
		"TABLE_NAME":                      o.StackName + "-Table",
		"TABLE_ARN":                       "arn:aws:dynamodb:us-east-1:123456789012:table/" + o.StackName + "-Table",
		"WORK_QUEUE_URL":                  s.QueueURL("WorkQueue"),
		"WORK_QUEUE_ARN":                  "arn:aws:sqs:us-east-1:123456789012:" + o.StackName + "-WorkQueue",
		"FIFO_QUEUE_NAME":                 o.StackName + "-ordered.fifo",
		"PREFIX":                          "app/" + o.StackName + "/us-east-1/",
		"SELF":                            o.StackName + "-ApiFunction",
		"RMMBRIDGE_LOCAL":                 "1",
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"AWS_LAMBDA_FUNCTION_NAME":        o.StackName + "-ApiFunction",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
	}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("ApiFunction env (-want +got):\n%s", diff)
	}
	if s.TableName("Table") != want["TABLE_NAME"] {
		t.Errorf("TableName = %q", s.TableName("Table"))
	}

	t.Run("getenv reads only the function's environment", func(t *testing.T) {
		f.mu.Lock()
		getenv := f.envs["WorkerFunction"]
		f.mu.Unlock()
		if getenv("MODE") != "local-test" || getenv("TABLE_NAME") != "" || getenv("PATH") != "" || getenv("HOME") != "" {
			t.Errorf("WorkerFunction getenv: MODE=%q TABLE_NAME=%q PATH=%q", getenv("MODE"), getenv("TABLE_NAME"), getenv("PATH"))
		}
	})

	t.Run("the table name is a working table", func(t *testing.T) {
		db := dynamodb.NewFromConfig(o.AWS)
		desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(env["TABLE_NAME"])})
		if err != nil {
			t.Fatalf("describe table: %v", err)
		}
		tb := desc.Table
		if aws.ToString(tb.TableArn) != env["TABLE_ARN"] || len(tb.KeySchema) != 2 || len(tb.GlobalSecondaryIndexes) != 1 ||
			aws.ToString(tb.GlobalSecondaryIndexes[0].IndexName) != "GSI1" ||
			tb.BillingModeSummary == nil || tb.BillingModeSummary.BillingMode != ddbtypes.BillingModePayPerRequest {
			t.Errorf("table %+v", tb)
		}
		ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(env["TABLE_NAME"])})
		if err != nil {
			t.Fatalf("describe TTL: %v", err)
		}
		if d := ttl.TimeToLiveDescription; d.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != "ttl" {
			t.Errorf("TTL %+v", d)
		}
		_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(env["TABLE_NAME"]), Item: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "T#1"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "X"}}})
		if err != nil {
			t.Errorf("put item: %v", err)
		}
	})

	t.Run("the queue URL is a working queue with its redrive policy", func(t *testing.T) {
		c := sqs.NewFromConfig(o.AWS)
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(env["WORK_QUEUE_URL"]), MessageBody: aws.String("hello")}); err != nil {
			t.Fatalf("send to WORK_QUEUE_URL: %v", err)
		}
		attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(env["WORK_QUEUE_URL"]),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		var rp struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     any    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(attrs.Attributes["RedrivePolicy"]), &rp); err != nil {
			t.Fatalf("redrive policy %q: %v", attrs.Attributes["RedrivePolicy"], err)
		}
		dlqARN := "arn:aws:sqs:us-east-1:123456789012:" + o.StackName + "-WorkDLQ"
		if rp.DeadLetterTargetArn != dlqARN || attrs.Attributes["QueueArn"] != env["WORK_QUEUE_ARN"] ||
			attrs.Attributes["VisibilityTimeout"] != "1" || attrs.Attributes["MessageRetentionPeriod"] != "3600" {
			t.Errorf("WorkQueue attributes %v", attrs.Attributes)
		}
		fifo, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.QueueURL("FifoQueue")),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		if fifo.Attributes["FifoQueue"] != "true" || fifo.Attributes["ContentBasedDeduplication"] != "true" ||
			!strings.HasSuffix(s.QueueURL("FifoDLQ"), "/"+o.StackName+"-FifoDLQ.fifo") {
			t.Errorf("FIFO attributes %v, DLQ URL %s", fifo.Attributes, s.QueueURL("FifoDLQ"))
		}
	})
}

func TestStartIsIdempotent(t *testing.T) {
	f := &fakeFuncs{}
	var worked atomic.Int32
	f.Work = func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		worked.Add(int32(len(ev.Records)))
		return events.SQSEventResponse{}, nil
	}
	logs := &syncBuffer{}
	o := testOptions(t, f, logs)
	first := start(t, o, logs)
	urls := map[string]string{}
	for _, q := range []string{"WorkQueue", "WorkDLQ", "FifoQueue", "FifoDLQ"} {
		urls[q] = first.QueueURL(q)
	}
	table := first.TableName("Table")
	c := sqs.NewFromConfig(o.AWS)

	// A message queued while the stack is down is still there for the next.
	second := restartWith(t, first, o, logs, func() { sendMessages(t, c, urls["WorkQueue"], "kept") })
	for q, url := range urls {
		if got := second.QueueURL(q); got != url {
			t.Errorf("%s URL %q after restart, was %q", q, got, url)
		}
	}
	if got := second.TableName("Table"); got != table {
		t.Errorf("table %q after restart, was %q", got, table)
	}
	waitFor(t, 5*time.Second, "the queued message processed by the second stack", func() bool { return worked.Load() == 1 })

	t.Run("a queue whose attributes drifted is updated", func(t *testing.T) {
		ctx := context.Background()
		if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(urls["WorkQueue"]),
			Attributes: map[string]string{"VisibilityTimeout": "99"}}); err != nil {
			t.Fatal(err)
		}
		third := restartWith(t, second, o, logs, func() {})
		attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(third.QueueURL("WorkQueue")),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameVisibilityTimeout}})
		if err != nil {
			t.Fatal(err)
		}
		if got := attrs.Attributes["VisibilityTimeout"]; got != "1" {
			t.Errorf("VisibilityTimeout = %s after restart, want the template's 1", got)
		}
	})
}

func TestStopWaitsForInFlightInvocations(t *testing.T) {
	f := &fakeFuncs{}
	var finished atomic.Bool
	entered := make(chan struct{})
	f.API = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		close(entered)
		time.Sleep(300 * time.Millisecond)
		finished.Store(true)
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "done"}, nil
	}
	logs := &syncBuffer{}
	s, err := Start(context.Background(), testOptions(t, f, logs))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan httpResult, 1)
	go func() { got <- do(t, "GET", s.APIURL()+"/v1/health", nil, nil) }()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !finished.Load() {
		t.Error("Stop returned before the in-flight invocation finished")
	}
	if res := <-got; res.status != 200 || res.body != "done" {
		t.Errorf("in-flight request got %d %q", res.status, res.body)
	}
	if err := s.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := client.Get(s.APIURL() + "/v1/health"); err == nil {
		t.Error("the HTTP API still answers after Stop")
	}
}

func TestStartErrors(t *testing.T) {
	errFactory := errors.New("missing SECRET_PREFIX")
	tests := []struct {
		name    string
		change  func(o *Options)
		wantErr string
	}{
		{name: "function without factory", wantErr: "no factory for template functions [WorkerFunction]",
			change: func(o *Options) { delete(o.Functions, "WorkerFunction") }},
		{name: "factory for no function", wantErr: "factories for functions not in the template: [Ghost]",
			change: func(o *Options) { o.Functions["Ghost"] = o.Functions["ApiFunction"] }},
		{name: "factory error names the function", wantErr: "build function ApiFunction: missing SECRET_PREFIX",
			change: func(o *Options) {
				o.Functions["ApiFunction"] = func(context.Context, func(string) string, aws.Config) (lambdafn.Handlers, error) {
					return lambdafn.Handlers{}, errFactory
				}
			}},
		{name: "SQS function without SQS handler", wantErr: "function WorkerFunction has SQS event Work but its factory gave no SQS handler",
			change: func(o *Options) {
				o.Functions["WorkerFunction"] = func(context.Context, func(string) string, aws.Config) (lambdafn.Handlers, error) {
					return lambdafn.Handlers{HTTP: func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
						return events.APIGatewayV2HTTPResponse{}, nil
					}}, nil
				}
			}},
		{name: "authorizer without authorizer handler", wantErr: "function AuthFunction is authorizer KeyAuth",
			change: func(o *Options) {
				o.Functions["AuthFunction"] = func(context.Context, func(string) string, aws.Config) (lambdafn.Handlers, error) {
					return lambdafn.Handlers{SQS: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
						return events.SQSEventResponse{}, nil
					}}, nil
				}
			}},
		{name: "missing template", wantErr: "read template",
			change: func(o *Options) { o.TemplatePath = "testdata/nope.yaml" }},
		{name: "no stack name", wantErr: "StackName is required",
			change: func(o *Options) { o.StackName = "" }},
		{name: "bad listen address", wantErr: "listen for the HTTP API",
			change: func(o *Options) { o.APIAddr = "256.0.0.1:1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFuncs{}
			logs := &syncBuffer{}
			o := testOptions(t, f, logs)
			tt.change(&o)
			s, err := Start(context.Background(), o)
			if err == nil {
				_ = s.Stop(context.Background())
				t.Fatalf("Start succeeded, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestVisibilityTimeoutShorterThanFunctionTimeout(t *testing.T) {
	// Lambda refuses an event source mapping whose function may outlive the
	// queue's visibility timeout; so does the local stack.
	tmpl := `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 30
      Events:
        Q: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
  Q:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 10
`
	path := t.TempDir() + "/template.yaml"
	if err := os.WriteFile(path, []byte(tmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fakeFuncs{}
	logs := &syncBuffer{}
	o := testOptions(t, f, logs)
	o.TemplatePath = path
	o.Functions = map[string]lambdafn.Factory{"Fn": f.factories()["WorkerFunction"]}
	_, err := Start(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "function timeout 30s exceeds the visibility timeout 10s of Q") {
		t.Errorf("error = %v, want the visibility timeout refusal", err)
	}
}
