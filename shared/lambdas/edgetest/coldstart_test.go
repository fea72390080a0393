package edgetest_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/alertwebhookfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/alertworkerfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/apifn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/assetrefreshfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/authorizerfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/consolefn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/importdispatchfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/schedulerfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/usersfn"
)

// TestFactoriesBuildNoAWSClientAtStart: a function's factory (its cold
// start) builds none of its AWS SDK clients; each is built on its first
// request. Every SDK client asks the config for its retryer when it is
// built, so a retryer that counts shows whether one was.
func TestFactoriesBuildNoAWSClientAtStart(t *testing.T) {
	env := map[string]string{
		"TABLE_NAME": "rmmbridge", "SECRET_PREFIX": "rmmbridge/test/",
		"IMPORT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/import",
		"ASSET_QUEUE_URL":  "https://sqs.us-east-1.amazonaws.com/123456789012/asset",
		"ALERT_QUEUE_URL":  "https://sqs.us-east-1.amazonaws.com/123456789012/alert.fifo",
		"USER_POOL_ID":     "us-east-1_test", "USER_POOL_CLIENT_ID": "client",
		"USER_POOL_ISSUER": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test",
	}
	factories := map[string]lambdafn.Factory{
		"api": apifn.Build, "users": usersfn.Build, "authorizer": authorizerfn.Build, "console": consolefn.Build,
		"alert-webhook": alertwebhookfn.Build, "alert-worker": alertworkerfn.Build,
		"import-dispatch": importdispatchfn.Build, "asset-refresh": assetrefreshfn.Build, "scheduler": schedulerfn.Build,
	}
	// The probe itself: building a client asks for the retryer.
	var probe atomic.Int64
	dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", Retryer: func() aws.Retryer { probe.Add(1); return retry.NewStandard() }})
	if probe.Load() != 1 {
		t.Fatalf("building a DynamoDB client asked for the retryer %d times, want 1: the probe sees nothing", probe.Load())
	}
	for name, build := range factories {
		t.Run(name, func(t *testing.T) {
			var built atomic.Int64
			cfg := aws.Config{
				Region:      "us-east-1",
				Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
				Retryer:     func() aws.Retryer { built.Add(1); return retry.NewStandard() },
			}
			h, err := build(context.Background(), func(k string) string { return env[k] }, cfg)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if h.HTTP == nil && h.Authorizer == nil && h.SQS == nil && h.Scheduled == nil {
				t.Fatal("Build returned no handler")
			}
			if n := built.Load(); n != 0 {
				t.Errorf("Build built %d AWS SDK clients, want none before the first request", n)
			}
		})
	}
}
