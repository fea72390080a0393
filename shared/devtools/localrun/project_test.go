package localrun

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rmmbridge/rmmbridge/shared/devtools/samtemplate"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
)

var pathVariable = regexp.MustCompile(`\{[^}/]+\}`)

// TestProjectTemplate starts the project's own template.yaml with stub
// handlers: every table and queue is created, every environment resolves,
// every route is served, behind the authorizer or not as the template
// says, and every scheduled function can be triggered.
func TestProjectTemplate(t *testing.T) {
	const path = "../../../template.yaml"
	tmpl, err := samtemplate.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var httpCalls, ticks atomic.Int32
	stub := func(context.Context, func(string) string, aws.Config) (lambdafn.Handlers, error) {
		return lambdafn.Handlers{
			HTTP: func(_ context.Context, r events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				httpCalls.Add(1)
				return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: r.RouteKey}, nil
			},
			Authorizer: func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
				return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
			},
			SQS: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				return events.SQSEventResponse{}, nil
			},
			Scheduled: func(_ context.Context, ev events.EventBridgeEvent) error {
				ticks.Add(1)
				if ev.Source != "aws.events" || ev.DetailType != "Scheduled Event" {
					return fmt.Errorf("not a scheduled event: %+v", ev)
				}
				return nil
			},
		}, nil
	}
	logs := &syncBuffer{}
	o := testOptions(t, &fakeFuncs{}, logs)
	o.TemplatePath = path
	o.Functions = map[string]lambdafn.Factory{}
	for _, f := range tmpl.Functions {
		o.Functions[f.LogicalID] = stub
	}
	s := start(t, o, logs)
	c := sqs.NewFromConfig(o.AWS)

	for _, q := range tmpl.Queues {
		url := s.QueueURL(q.LogicalID)
		if url == "" {
			t.Errorf("queue %s not created", q.LogicalID)
			continue
		}
		if _, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url)}); err != nil {
			t.Errorf("queue %s at %s: %v", q.LogicalID, url, err)
		}
		if q.Fifo != strings.HasSuffix(url, ".fifo") {
			t.Errorf("queue %s URL %s, FIFO %v", q.LogicalID, url, q.Fifo)
		}
	}
	for _, tb := range tmpl.Tables {
		if s.TableName(tb.LogicalID) == "" {
			t.Errorf("table %s not created", tb.LogicalID)
		}
	}
	for _, f := range tmpl.Functions {
		for k, v := range s.Env(f.LogicalID) {
			if v == "" {
				t.Errorf("%s: %s resolved to an empty value", f.LogicalID, k)
			}
		}
	}
	for _, f := range tmpl.Functions {
		for _, e := range f.Events {
			if e.Schedule == nil {
				continue
			}
			before := ticks.Load()
			if err := s.Trigger(context.Background(), f.LogicalID); err != nil || ticks.Load() != before+1 {
				t.Errorf("Trigger(%s) = %v after %d ticks, want one tick", f.LogicalID, err, ticks.Load()-before)
			}
		}
	}
	for _, f := range tmpl.Functions {
		for _, e := range f.Events {
			if e.HTTPAPI == nil || e.HTTPAPI.Path == "" {
				continue
			}
			path := pathVariable.ReplaceAllString(e.HTTPAPI.Path, "x1")
			method := e.HTTPAPI.Method
			if method == "ANY" {
				method = "GET"
			}
			api, _ := tmpl.HTTPAPI(e.HTTPAPI.APIRef)
			protected := !e.HTTPAPI.AuthNone && (e.HTTPAPI.Authorizer != "" || api.DefaultAuthorizer != "")
			before := httpCalls.Load()
			res := do(t, method, s.APIURL()+path, nil, nil)
			switch {
			case protected && res.status != 401:
				t.Errorf("%s without a key: %d, want 401", e.HTTPAPI.RouteKey(), res.status)
			case !protected && (res.status != 200 || res.body != e.HTTPAPI.RouteKey()):
				t.Errorf("%s: %d %q, want 200 from its function", e.HTTPAPI.RouteKey(), res.status, res.body)
			case protected && httpCalls.Load() != before:
				t.Errorf("%s: the function ran without authorization", e.HTTPAPI.RouteKey())
			}
		}
	}
}
