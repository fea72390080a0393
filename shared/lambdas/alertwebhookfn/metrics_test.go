package alertwebhookfn

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/metrics"
)

// TestCountDeliveries: each answered delivery counts one WebhookDeliveries
// under its status; an invocation error (no answer) counts none.
func TestCountDeliveries(t *testing.T) {
	var buf bytes.Buffer
	metrics.Enable(&buf, "alert-webhook")
	t.Cleanup(func() { metrics.Enable(nil, "") })
	for _, status := range []int{202, 401, 202} {
		h := CountDeliveries(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: status}, nil
		})
		if _, err := h(context.Background(), events.APIGatewayV2HTTPRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	failing := CountDeliveries(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{}, errors.New("boom")
	})
	if _, err := failing(context.Background(), events.APIGatewayV2HTTPRequest{}); err == nil {
		t.Fatal("the error was swallowed")
	}
	points, err := metrics.DecodeAll(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range points {
		if p.Metric == metrics.WebhookDeliveries && p.Value == 1 {
			got = append(got, p.Dims["Answer"])
		}
	}
	if diff := cmp.Diff([]string{"202", "401", "202"}, got); diff != "" {
		t.Errorf("WebhookDeliveries answers (-want +got):\n%s", diff)
	}
}
