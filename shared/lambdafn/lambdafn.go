// Package lambdafn is the contract between a function's handlers and what
// runs them: the Lambda runtime in functions/<name>/main.go, the local stack
// in shared/devtools/localrun, and the handler tests.
//
// A function is built by a Factory from its environment (the variables
// template.yaml gives it) and an AWS config; it answers HTTP API requests,
// authorizer requests, SQS batches, scheduled EventBridge events, or
// (asset-refresh) both HTTP and SQS.
package lambdafn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rmmbridge/rmmbridge/shared/metrics"
	"github.com/rmmbridge/rmmbridge/shared/sdkhttp"
)

// HTTPHandler answers an API Gateway HTTP API (payload 2.0) request.
type HTTPHandler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// AuthorizerHandler answers an HTTP API Lambda authorizer request with a
// simple response.
type AuthorizerHandler func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error)

// SQSHandler processes one SQS batch and reports partial failures.
type SQSHandler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// ScheduledHandler runs one tick of an EventBridge schedule ("Scheduled
// Event" from aws.events). An error fails the (asynchronous) invocation,
// which Lambda retries.
type ScheduledHandler func(context.Context, events.EventBridgeEvent) error

// Handlers are what one function answers. At least one field is set.
type Handlers struct {
	HTTP       HTTPHandler
	Authorizer AuthorizerHandler
	SQS        SQSHandler
	Scheduled  ScheduledHandler
}

// Factory builds a function's handlers from its environment and AWS config.
// getenv returns the variables the function's template entry gives it.
type Factory func(ctx context.Context, getenv func(string) string, cfg aws.Config) (Handlers, error)

// Invoke decodes a raw event and dispatches it on its shape: an SQS batch
// ("Records"), an authorizer request ("type": "REQUEST"), an HTTP request
// ("routeKey"), or an EventBridge event ("detail-type"; the response is
// null). It is what the Lambda runtime calls for a function with more than
// one trigger.
func (h Handlers) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records    json.RawMessage `json:"Records"`
		Type       string          `json:"type"`
		RouteKey   string          `json:"routeKey"`
		DetailType *string         `json:"detail-type"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	switch {
	case len(probe.Records) > 0 && h.SQS != nil:
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("decode SQS event: %w", err)
		}
		return h.SQS(ctx, ev)
	case probe.Type == "REQUEST" && h.Authorizer != nil:
		var ev events.APIGatewayV2CustomAuthorizerV2Request
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("decode authorizer event: %w", err)
		}
		return h.Authorizer(ctx, ev)
	case probe.RouteKey != "" && h.HTTP != nil:
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("decode HTTP API event: %w", err)
		}
		return h.HTTP(ctx, ev)
	case probe.DetailType != nil && h.Scheduled != nil:
		var ev events.EventBridgeEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("decode EventBridge event: %w", err)
		}
		return nil, h.Scheduled(ctx, ev)
	}
	return nil, errors.New("event shape not handled by this function")
}

// handler returns the single typed handler when only one is set (so the
// runtime decodes the event itself), else the shape-dispatching Invoke.
func (h Handlers) handler() any {
	n := 0
	for _, set := range []bool{h.HTTP != nil, h.Authorizer != nil, h.SQS != nil, h.Scheduled != nil} {
		if set {
			n++
		}
	}
	if n == 1 {
		switch {
		case h.HTTP != nil:
			return h.HTTP
		case h.Authorizer != nil:
			return h.Authorizer
		case h.Scheduled != nil:
			return h.Scheduled
		default:
			return h.SQS
		}
	}
	return h.Invoke
}

// NewHandler returns h as a lambda.Handler: the runtime's own decoding path,
// which the handler tests use through Invoke.
func NewHandler(h Handlers) lambda.Handler {
	return lambda.NewHandler(h.handler())
}

// Main is the whole body of a function's main: JSON logs with the request
// id, metrics in embedded metric format on standard output (shared/metrics,
// Function dimension name), the AWS config from the Lambda environment (RuntimeConfig), the
// factory, then the Lambda runtime. A factory error (for example missing
// environment variables) is logged and exits non-zero.
func Main(name string, f Factory) {
	slog.SetDefault(lambdacontext.NewLogger())
	metrics.Enable(os.Stdout, name)
	ctx := context.Background()
	cfg, err := RuntimeConfig(os.Getenv)
	if err != nil {
		slog.Error("load aws config", "function", name, "error", err)
		os.Exit(1)
	}
	h, err := f(ctx, os.Getenv, cfg)
	if err != nil {
		slog.Error("start function", "function", name, "error", err)
		os.Exit(1)
	}
	lambda.Start(h.handler())
}

// RuntimeConfig is the AWS config of a function in the Lambda runtime,
// read from what the runtime sets: AWS_REGION, and the execution role's
// credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN (valid for the execution environment's life); plus
// AWS_ENDPOINT_URL when set (the runtime emulator against moto).
//
// It replaces config.LoadDefaultConfig, whose shared-config files, SSO,
// STS and IMDS credential chain a function never uses but whose packages'
// initialisation made up most of a cold start's extra time over a
// hello-world function. Clients fill in their defaults (retryer)
// themselves; the HTTP client buffers request bodies (sdkhttp). Missing credentials are an error at start, never
// unsigned calls.
func RuntimeConfig(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	var missing []string
	if region == "" {
		missing = append(missing, "AWS_REGION")
	}
	if key == "" {
		missing = append(missing, "AWS_ACCESS_KEY_ID")
	}
	if secret == "" {
		missing = append(missing, "AWS_SECRET_ACCESS_KEY")
	}
	if len(missing) > 0 {
		return aws.Config{}, fmt.Errorf("the Lambda environment lacks %v", missing)
	}
	cfg := aws.Config{
		Region: region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
			key, secret, getenv("AWS_SESSION_TOKEN"))),
	}
	if ep := getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	// Request bodies are buffered (shared/sdkhttp): otherwise net/http's
	// writer can race the SDK closing a body, close the connection under
	// a served response, and the SDK retries a request that was applied
	// (a ReceiveMessage's batch left in flight, a write sent twice).
	return sdkhttp.WithBufferedBodies(cfg), nil
}
