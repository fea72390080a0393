package lambdafn

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/sdkhttp"
)

// TestScheduledDispatch decodes the real-shaped scheduled event of
// events/ through both runtime paths: a function with only a Scheduled
// handler (the runtime decodes it) and one with several (Invoke dispatches
// on "detail-type"). The response is null; a handler error is the
// invocation's error.
func TestScheduledDispatch(t *testing.T) {
	payload, err := os.ReadFile("../../events/scheduler-tick.json")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	var got events.EventBridgeEvent
	var fail error
	scheduled := func(_ context.Context, ev events.EventBridgeEvent) error { got = ev; return fail }
	sqs := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		t.Error("the SQS handler got a scheduled event")
		return events.SQSEventResponse{}, nil
	}
	tests := []struct {
		name string
		h    Handlers
		fail error
	}{
		{name: "scheduled only", h: Handlers{Scheduled: scheduled}},
		{name: "scheduled among others", h: Handlers{Scheduled: scheduled, SQS: sqs}},
		{name: "handler error", h: Handlers{Scheduled: scheduled, SQS: sqs}, fail: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fail = events.EventBridgeEvent{}, tt.fail
			out, err := NewHandler(tt.h).Invoke(context.Background(), payload)
			if tt.fail != nil {
				if err == nil || err.Error() != "boom" {
					t.Fatalf("Invoke = %s, %v; want the handler's error", out, err)
				}
				return
			}
			if err != nil || strings.TrimSpace(string(out)) != "null" {
				t.Fatalf("Invoke = %q, %v; want null", out, err)
			}
			if got.DetailType != "Scheduled Event" || got.Source != "aws.events" || len(got.Resources) != 1 || got.Time.IsZero() {
				t.Errorf("handler saw %+v, want the scheduled event of the file", got)
			}
		})
	}
	t.Run("no scheduled handler", func(t *testing.T) {
		if _, err := (Handlers{SQS: sqs}).Invoke(context.Background(), payload); err == nil {
			t.Error("a function without a Scheduled handler accepted a scheduled event")
		}
	})
}

// TestRuntimeConfig reads the AWS config from the variables the Lambda
// runtime sets, and refuses to start without region or credentials
// rather than make unsigned calls.
func TestRuntimeConfig(t *testing.T) {
	full := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_SESSION_TOKEN": "tok"}
	tests := []struct {
		name         string
		env          map[string]string
		drop         []string
		wantErr      string
		wantRegion   string
		wantEndpoint string
	}{
		{name: "lambda", env: full, wantRegion: "eu-west-1"},
		{name: "emulator against moto", env: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, wantRegion: "eu-west-1", wantEndpoint: "http://127.0.0.1:5000"},
		{name: "default region variable", env: map[string]string{"AWS_DEFAULT_REGION": "us-west-2"}, drop: []string{"AWS_REGION"}, wantRegion: "us-west-2"},
		{name: "no credentials", drop: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, wantErr: "[AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY]"},
		{name: "no region", drop: []string{"AWS_REGION"}, wantErr: "[AWS_REGION]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range full {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			for _, k := range tt.drop {
				delete(env, k)
			}
			cfg, err := RuntimeConfig(func(k string) string { return env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != tt.wantRegion {
				t.Errorf("region %q, want %q", cfg.Region, tt.wantRegion)
			}
			if got := aws.ToString(cfg.BaseEndpoint); got != tt.wantEndpoint {
				t.Errorf("endpoint %q, want %q", got, tt.wantEndpoint)
			}
			if _, ok := cfg.HTTPClient.(sdkhttp.Client); !ok {
				t.Errorf("HTTP client %T, want sdkhttp.Client (request bodies buffered)", cfg.HTTPClient)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if creds.AccessKeyID != "AKIDEXAMPLE" || creds.SecretAccessKey != "s3cr3t" || creds.SessionToken != "tok" {
				t.Errorf("credentials %+v, want the environment's", creds)
			}
		})
	}
}
