package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/metrics"
)

// TestWorkerEmitsAlertToTicketLatency: the fixture's trigger, accepted by
// the webhook 3 s ago (receivedAt), opens a ticket and the worker emits
// one AlertToTicketLatency record of at least 3 s; its reset closes the
// ticket and emits none.
func TestWorkerEmitsAlertToTicketLatency(t *testing.T) {
	r := newRig(t, rigOptions{})
	var ev events.SQSEvent
	if err := json.Unmarshal(fixture(t, "sqs-alert.json"), &ev); err != nil {
		t.Fatal(err)
	}
	for i := range ev.Records {
		var body map[string]any
		if err := json.Unmarshal([]byte(ev.Records[i].Body), &body); err != nil {
			t.Fatal(err)
		}
		body["receivedAt"] = time.Now().Add(-3 * time.Second).Format(time.RFC3339Nano)
		b, _ := json.Marshal(body)
		ev.Records[i].Body = string(b)
	}
	var buf bytes.Buffer
	metrics.Enable(&buf, "alert-worker")
	t.Cleanup(func() { metrics.Enable(nil, "") })
	if _, err := r.worker()(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	points, err := metrics.DecodeAll(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var lat []metrics.Point
	for _, p := range points {
		if p.Metric == metrics.AlertToTicketLatency {
			lat = append(lat, p)
		}
	}
	if len(lat) != 1 || lat[0].Value < 3000 || lat[0].Value > 60000 || lat[0].Unit != metrics.Milliseconds {
		t.Errorf("AlertToTicketLatency records %+v, want one of 3 s or a little more", lat)
	}
}
