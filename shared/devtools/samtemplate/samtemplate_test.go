package samtemplate

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gopkg.in/yaml.v3"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

const small = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
  Batch:
    Type: Number
    Default: "7"
  NoDefault:
    Type: String
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    Timeout: 20
    MemorySize: 256
    Environment:
      Variables:
        LOG_LEVEL: INFO
        STAGE: !Ref Stage
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: KeyAuth
        Authorizers:
          KeyAuth:
            FunctionArn: !GetAtt AuthFn.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization]
              ReauthorizeEvery: 300
  AuthFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Timeout: 5
  ApiFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/api
      MemorySize: 512
      Environment:
        Variables:
          LOG_LEVEL: DEBUG
          TABLE: !Ref Table
      Events:
        Health:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: get
            Path: /v1/health
            Auth:
              Authorizer: NONE
        Items:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: ANY
            Path: /v1/items/{proxy+}
            TimeoutInMillis: 5000
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: !Ref Batch
            MaximumBatchingWindowInSeconds: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig:
              MaximumConcurrency: 4
        Fifo:
          Type: SQS
          Properties:
            Queue:
              Fn::GetAtt: [FifoQueue, Arn]
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 120
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDLQ.Arn
        maxReceiveCount: 5
  WorkDLQ:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 1209600
  FifoQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-work.fifo"
      FifoQueue: true
      ContentBasedDeduplication: "true"
      RedrivePolicy: '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:elsewhere.fifo", "maxReceiveCount": "3"}'
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
        - {AttributeName: gsi1pk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: GSI1
          KeySchema:
            - {AttributeName: gsi1pk, KeyType: HASH}
          Projection:
            ProjectionType: INCLUDE
            NonKeyAttributes: [name]
      TimeToLiveSpecification:
        AttributeName: ttl
        Enabled: true
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Threshold: 0
`

// ignoreNodes leaves the unevaluated nodes out of comparisons; they are
// checked through Resolve.
var ignoreNodes = cmp.Options{
	cmpopts.IgnoreTypes(&yaml.Node{}),
	cmpopts.IgnoreFields(Function{}, "Environment"),
	cmpopts.IgnoreFields(Function{}, "Line"), cmpopts.IgnoreFields(Queue{}, "Line"),
	cmpopts.IgnoreFields(Table{}, "Line"), cmpopts.IgnoreFields(HTTPAPI{}, "Line"),
	cmpopts.IgnoreFields(Event{}, "Line"), cmpopts.IgnoreFields(Parameter{}, "Line"),
	cmpopts.EquateEmpty(),
}

func parseSmall(t *testing.T) *Template {
	t.Helper()
	tp, err := Parse([]byte(small))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tp
}

func TestParseModel(t *testing.T) {
	tp := parseSmall(t)

	t.Run("parameters", func(t *testing.T) {
		want := []Parameter{
			{Name: "Stage", Type: "String", Default: "dev", HasDefault: true},
			{Name: "Batch", Type: "Number", Default: "7", HasDefault: true},
			{Name: "NoDefault", Type: "String"},
		}
		if diff := cmp.Diff(want, tp.Parameters, ignoreNodes); diff != "" {
			t.Errorf("Parameters (-want +got):\n%s", diff)
		}
	})

	t.Run("functions with globals merged", func(t *testing.T) {
		want := []Function{
			{LogicalID: "AuthFn", CodeURI: ".", Handler: "bootstrap", Runtime: "provided.al2023", Timeout: 5, MemorySize: 256},
			{LogicalID: "ApiFn", CodeURI: "functions/api", Handler: "bootstrap", Runtime: "provided.al2023", Timeout: 20, MemorySize: 512,
				Events: []Event{
					{Name: "Health", Type: "HttpApi", HTTPAPI: &HTTPAPIEvent{Method: "GET", Path: "/v1/health", APIRef: "Api", AuthNone: true,
						TimeoutInMillis: 30000, PayloadFormatVersion: "2.0"}},
					{Name: "Items", Type: "HttpApi", HTTPAPI: &HTTPAPIEvent{Method: "ANY", Path: "/v1/items/{proxy+}", APIRef: "Api",
						TimeoutInMillis: 5000, PayloadFormatVersion: "2.0"}},
				}},
			{LogicalID: "Worker", CodeURI: ".", Handler: "bootstrap", Runtime: "provided.al2023", Timeout: 20, MemorySize: 256,
				Events: []Event{
					{Name: "Work", Type: "SQS", SQS: &SQSEvent{QueueRef: "WorkQueue", BatchSize: 7, MaximumBatchingWindowInSeconds: 2,
						FunctionResponseTypes: []string{"ReportBatchItemFailures"}, ReportBatchItemFailures: true, MaximumConcurrency: 4, Enabled: true}},
					{Name: "Fifo", Type: "SQS", SQS: &SQSEvent{QueueRef: "FifoQueue", BatchSize: 10, Enabled: true}},
				}},
		}
		if diff := cmp.Diff(want, tp.Functions, ignoreNodes); diff != "" {
			t.Errorf("Functions (-want +got):\n%s", diff)
		}
	})

	t.Run("queues", func(t *testing.T) {
		want := []Queue{
			{LogicalID: "WorkQueue", VisibilityTimeout: 120, MessageRetentionPeriod: 345600,
				RedrivePolicy: &RedrivePolicy{DLQRef: "WorkDLQ", MaxReceiveCount: 5}},
			{LogicalID: "WorkDLQ", VisibilityTimeout: 30, MessageRetentionPeriod: 1209600},
			{LogicalID: "FifoQueue", Fifo: true, ContentBasedDeduplication: true, VisibilityTimeout: 30, MessageRetentionPeriod: 345600,
				RedrivePolicy: &RedrivePolicy{MaxReceiveCount: 3}},
		}
		if diff := cmp.Diff(want, tp.Queues, ignoreNodes); diff != "" {
			t.Errorf("Queues (-want +got):\n%s", diff)
		}
		q, _ := tp.Queue("FifoQueue")
		arn, err := tp.Resolve(q.RedrivePolicy.DeadLetterTargetArn, Resolver{})
		if err != nil || arn != "arn:aws:sqs:us-east-1:123456789012:elsewhere.fifo" {
			t.Errorf("literal DLQ ARN = %q, %v", arn, err)
		}
		name, err := tp.Resolve(q.QueueName, Resolver{StackName: "st"})
		if err != nil || name != "st-work.fifo" {
			t.Errorf("QueueName = %q, %v; want st-work.fifo", name, err)
		}
	})

	t.Run("tables", func(t *testing.T) {
		want := []Table{{
			LogicalID: "Table", BillingMode: "PAY_PER_REQUEST",
			KeySchema: []KeyElement{{"pk", "HASH"}, {"sk", "RANGE"}},
			AttributeDefinitions: []AttributeDefinition{
				{"pk", "S"}, {"sk", "S"}, {"gsi1pk", "S"},
			},
			GlobalSecondaryIndexes: []SecondaryIndex{{IndexName: "GSI1", KeySchema: []KeyElement{{"gsi1pk", "HASH"}},
				ProjectionType: "INCLUDE", NonKeyAttributes: []string{"name"}}},
			TTLAttribute: "ttl",
		}}
		if diff := cmp.Diff(want, tp.Tables, ignoreNodes); diff != "" {
			t.Errorf("Tables (-want +got):\n%s", diff)
		}
	})

	t.Run("http api and authorizer", func(t *testing.T) {
		want := []HTTPAPI{{LogicalID: "Api", DefaultAuthorizer: "KeyAuth", Authorizers: []Authorizer{{
			Name: "KeyAuth", FunctionRef: "AuthFn", PayloadFormatVersion: "2.0", SimpleResponses: true,
			IdentityHeaders: []string{"Authorization"}, ReauthorizeEvery: 300,
		}}}}
		if diff := cmp.Diff(want, tp.HTTPAPIs, ignoreNodes); diff != "" {
			t.Errorf("HTTPAPIs (-want +got):\n%s", diff)
		}
	})

	t.Run("every resource is kept", func(t *testing.T) {
		got := sortedKeys(tp.Resources)
		want := []string{"Alarm", "Api", "ApiFn", "AuthFn", "FifoQueue", "Table", "Worker", "WorkDLQ", "WorkQueue"}
		if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("Resources (-want +got):\n%s", diff)
		}
		if tp.Resources["Alarm"].Type != "AWS::CloudWatch::Alarm" {
			t.Errorf("Alarm type = %q", tp.Resources["Alarm"].Type)
		}
	})

	t.Run("queues in creation order put DLQs first", func(t *testing.T) {
		var got []string
		for _, q := range tp.QueuesInCreationOrder() {
			got = append(got, q.LogicalID)
		}
		want := []string{"WorkDLQ", "WorkQueue", "FifoQueue"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("order (-want +got):\n%s", diff)
		}
	})
}

func TestEnvironmentResolution(t *testing.T) {
	tp := parseSmall(t)
	fn, ok := tp.Function("ApiFn")
	if !ok {
		t.Fatal("ApiFn missing")
	}
	r := Resolver{
		StackName: "demo", Region: "us-east-1", AccountID: "123456789012",
		Parameters: map[string]string{"Stage": "prod"},
		Ref: func(id string) (string, error) {
			if id == "Table" {
				return "demo-Table", nil
			}
			return "", errors.New("unexpected ref " + id)
		},
	}
	got, err := tp.ResolveMap(fn.Environment, r)
	if err != nil {
		t.Fatalf("ResolveMap: %v", err)
	}
	want := map[string]string{"LOG_LEVEL": "DEBUG", "STAGE": "prod", "TABLE": "demo-Table"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
}

func TestResolve(t *testing.T) {
	tp := parseSmall(t)
	r := Resolver{
		StackName: "demo", Region: "eu-west-1", AccountID: "123456789012",
		Ref: func(id string) (string, error) { return "ref:" + id, nil },
		GetAtt: func(id, attr string) (string, error) {
			if attr == "Nope" {
				return "", errors.New("unknown attribute")
			}
			return "att:" + id + "." + attr, nil
		},
	}
	tests := []struct {
		name    string
		value   string
		want    string
		wantErr string
	}{
		{name: "plain scalar", value: `hello`, want: "hello"},
		{name: "number scalar", value: `42`, want: "42"},
		{name: "ref resource", value: `!Ref Table`, want: "ref:Table"},
		{name: "ref parameter default", value: `!Ref Stage`, want: "dev"},
		{name: "ref pseudo", value: `!Ref AWS::Region`, want: "eu-west-1"},
		{name: "ref long form", value: `{Ref: WorkQueue}`, want: "ref:WorkQueue"},
		{name: "getatt dotted", value: `!GetAtt WorkQueue.QueueUrl`, want: "att:WorkQueue.QueueUrl"},
		{name: "getatt list", value: `!GetAtt [WorkQueue, Arn]`, want: "att:WorkQueue.Arn"},
		{name: "getatt long form", value: `{"Fn::GetAtt": [Table, Arn]}`, want: "att:Table.Arn"},
		{name: "getatt long dotted", value: `{"Fn::GetAtt": Table.StreamArn}`, want: "att:Table.StreamArn"},
		{name: "sub pseudo", value: `!Sub "rmmbridge/${AWS::StackName}/"`, want: "rmmbridge/demo/"},
		{name: "sub every pseudo", value: `!Sub "${AWS::Partition}:${AWS::Region}:${AWS::AccountId}:${AWS::URLSuffix}"`,
			want: "aws:eu-west-1:123456789012:amazonaws.com"},
		{name: "sub resource and attribute", value: `!Sub "${Table}|${WorkQueue.Arn}|${ Stage }"`, want: "ref:Table|att:WorkQueue.Arn|dev"},
		{name: "sub literal escape", value: `!Sub "${!NotAVar}-${AWS::StackName}"`, want: "${NotAVar}-demo"},
		{name: "sub with variables", value: `!Sub ["${Q}/${Name}", {Q: !GetAtt WorkQueue.QueueUrl, Name: x}]`, want: "att:WorkQueue.QueueUrl/x"},
		{name: "sub long form", value: `{"Fn::Sub": "arn:${AWS::Partition}:s3:::${Stage}"}`, want: "arn:aws:s3:::dev"},
		{name: "join", value: `!Join ["-", [a, !Ref Stage, !GetAtt Table.Arn]]`, want: "a-dev-att:Table.Arn"},
		{name: "unknown intrinsic short", value: "\n\n!If [Cond, a, b]", wantErr: "line 3: intrinsic function Fn::If is not supported"},
		{name: "unknown intrinsic long", value: `{"Fn::Select": [0, [a]]}`, wantErr: "line 1: intrinsic function Fn::Select is not supported"},
		{name: "unknown ref", value: `!Ref Nothing`, wantErr: "line 1: !Ref Nothing: no such parameter or resource"},
		{name: "parameter without default", value: `!Ref NoDefault`, wantErr: "parameter NoDefault has no value"},
		{name: "unknown getatt resource", value: `!GetAtt Ghost.Arn`, wantErr: "!GetAtt Ghost.Arn: no such resource"},
		{name: "resolver refuses attribute", value: `!GetAtt Table.Nope`, wantErr: "!GetAtt Table.Nope: unknown attribute"},
		{name: "unsupported pseudo", value: `!Ref AWS::NoValue`, wantErr: "pseudo parameter AWS::NoValue is not supported"},
		{name: "unterminated sub", value: `!Sub "${Table"`, wantErr: "unterminated"},
		{name: "nested unknown in sub vars", value: `!Sub ["${X}", {X: !Base64 abc}]`, wantErr: "intrinsic function Fn::Base64 is not supported"},
		{name: "mapping is not a value", value: `{a: 1, b: 2}`, wantErr: "want a scalar or an intrinsic function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.value), &doc); err != nil {
				t.Fatalf("test value: %v", err)
			}
			got, err := tp.Resolve(doc.Content[0], r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve(%s) error = %v, want it to contain %q", tt.value, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%s): %v", tt.value, err)
			}
			if got != tt.want {
				t.Errorf("Resolve(%s) = %q, want %q", tt.value, got, tt.want)
			}
		})
	}
}

func TestResolveWithoutResourceResolvers(t *testing.T) {
	tp := parseSmall(t)
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(`!Ref Table`), &doc); err != nil {
		t.Fatal(err)
	}
	_, err := tp.Resolve(doc.Content[0], Resolver{StackName: "x"})
	if err == nil || !strings.Contains(err.Error(), "resource references are not available") {
		t.Errorf("error = %v, want a refusal", err)
	}
}

func TestParseErrors(t *testing.T) {
	base := "Resources:\n"
	fn := func(events string) string {
		return base + "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n" + events
	}
	tests := []struct {
		name    string
		tmpl    string
		wantErr string
	}{
		{name: "not yaml", tmpl: "a: [", wantErr: "not valid YAML"},
		{name: "no resources", tmpl: "Parameters: {}\n", wantErr: "no Resources"},
		{name: "resource without type", tmpl: base + "  X:\n    Properties: {}\n", wantErr: "line 3: resource X has no Type"},
		{name: "timeout not a number", tmpl: base + "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: soon\n",
			wantErr: `line 5: Timeout must be an integer, got "soon"`},
		{name: "sqs event queue is not a queue", tmpl: fn("        E:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt Fn.Arn\n"),
			wantErr: "line 9: !GetAtt Fn.Arn: not a AWS::SQS::Queue"},
		{name: "sqs event queue wrong attribute", tmpl: fn("        E:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt Q.QueueUrl\n") +
			"  Q:\n    Type: AWS::SQS::Queue\n", wantErr: "line 9: !GetAtt Q.QueueUrl: want the Arn attribute"},
		{name: "http event unknown api", tmpl: fn("        E:\n          Type: HttpApi\n          Properties:\n            ApiId: !Ref Nope\n            Method: GET\n            Path: /x\n"),
			wantErr: "line 9: !Ref Nope: not a AWS::Serverless::HttpApi"},
		{name: "http event path without slash", tmpl: fn("        E:\n          Type: HttpApi\n          Properties:\n            Method: GET\n            Path: x\n"),
			wantErr: `line 10: route path "x" must start with /`},
		{name: "greedy variable not last", tmpl: fn("        E:\n          Type: HttpApi\n          Properties:\n            Method: GET\n            Path: /a/{p+}/b\n"),
			wantErr: "a greedy variable must be last"},
		{name: "duplicate route", tmpl: fn("        A:\n          Type: HttpApi\n          Properties: {Method: GET, Path: /x}\n        B:\n          Type: HttpApi\n          Properties: {Method: get, Path: /x}\n"),
			wantErr: "route GET /x of ServerlessHttpApi is defined twice"},
		{name: "unknown route authorizer", tmpl: fn("        A:\n          Type: HttpApi\n          Properties: {Method: GET, Path: /x, Auth: {Authorizer: Ghost}}\n"),
			wantErr: "authorizer Ghost is not defined on ServerlessHttpApi"},
		{name: "redrive without count", tmpl: base + "  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt D.Arn\n  D:\n    Type: AWS::SQS::Queue\n",
			wantErr: "line 6: RedrivePolicy maxReceiveCount must be 1-1000"},
		{name: "int from intrinsic other than parameter", tmpl: base + "  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: !GetAtt X.Y\n",
			wantErr: "line 5: want a literal (or !Ref to a parameter with a default), got Fn::GetAtt"},
		{name: "default authorizer missing", tmpl: base + "  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      Auth:\n        DefaultAuthorizer: A\n",
			wantErr: "line 6: Api: DefaultAuthorizer A is not among its Authorizers"},
		{name: "table without key schema", tmpl: base + "  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: PAY_PER_REQUEST\n",
			wantErr: "T: table has no KeySchema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.tmpl))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse error = %v, want it to contain %q", err, tt.wantErr)
			}
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("error kind = %v, want invalid", apperr.KindOf(err))
			}
		})
	}
}

func TestImplicitHTTPAPI(t *testing.T) {
	tmpl := `
Globals:
  HttpApi:
    Auth:
      DefaultAuthorizer: L
      Authorizers:
        L:
          FunctionArn: !GetAtt AuthFn.Arn
          EnableSimpleResponses: true
          Identity:
            QueryStrings: [key]
Resources:
  AuthFn:
    Type: AWS::Serverless::Function
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        All:
          Type: HttpApi
`
	tp, err := Parse([]byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	want := []HTTPAPI{{LogicalID: ImplicitHTTPAPI, Implicit: true, DefaultAuthorizer: "L",
		Authorizers: []Authorizer{{Name: "L", FunctionRef: "AuthFn", SimpleResponses: true, IdentityQueryStrings: []string{"key"}}}}}
	if diff := cmp.Diff(want, tp.HTTPAPIs, ignoreNodes); diff != "" {
		t.Errorf("HTTPAPIs (-want +got):\n%s", diff)
	}
	fn, _ := tp.Function("Fn")
	if got := fn.Events[0].HTTPAPI.RouteKey(); got != "$default" {
		t.Errorf("RouteKey = %q, want $default", got)
	}
	if fn.Timeout != DefaultTimeout || fn.MemorySize != DefaultMemorySize {
		t.Errorf("defaults: Timeout %d MemorySize %d", fn.Timeout, fn.MemorySize)
	}
}

// TestProjectTemplate checks that the parser takes the project's own
// template and can evaluate every function's environment.
func TestProjectTemplate(t *testing.T) {
	tp, err := ParseFile("../../../template.yaml")
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	if len(tp.Functions) == 0 || len(tp.Queues) == 0 || len(tp.Tables) == 0 {
		t.Fatalf("template has %d functions, %d queues, %d tables", len(tp.Functions), len(tp.Queues), len(tp.Tables))
	}
	r := Resolver{StackName: "s", Region: "us-east-1", AccountID: "123456789012",
		Ref:    func(id string) (string, error) { return "ref-" + id, nil },
		GetAtt: func(id, attr string) (string, error) { return "att-" + id + "-" + attr, nil },
	}
	for _, f := range tp.Functions {
		if _, err := tp.ResolveMap(f.Environment, r); err != nil {
			t.Errorf("%s environment: %v", f.LogicalID, err)
		}
	}
	for _, q := range tp.Queues {
		if q.QueueName == nil {
			continue
		}
		if _, err := tp.Resolve(q.QueueName, r); err != nil {
			t.Errorf("%s QueueName: %v", q.LogicalID, err)
		}
	}
}
