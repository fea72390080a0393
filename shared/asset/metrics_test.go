package asset_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/metrics"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
)

// TestWorkerEmitsDevicesProcessed: a device the worker creates counts one
// DevicesProcessed with outcome created, a device the RMM does not know
// (a permanent failure) one with outcome failed.
func TestWorkerEmitsDevicesProcessed(t *testing.T) {
	h := newHarness(t)
	rec := &fakeRecorder{}
	open := func(context.Context, string, string) (asset.Clients, error) { return h.clients(), nil }
	w := sqsbatch.Processor{Name: "asset-refresh"}.Handler(asset.NewWorker(h.svc, open, rec, nil).Process)
	var buf bytes.Buffer
	metrics.Enable(&buf, "asset-refresh")
	t.Cleanup(func() { metrics.Enable(nil, "") })
	for i, dev := range []string{"1001", "1999"} {
		r := assetRecord(t, "m"+dev, importMsg(dev), 1)
		if _, err := w(context.Background(), events.SQSEvent{Records: []events.SQSMessage{r}}); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	points, err := metrics.DecodeAll(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range points {
		if p.Metric == metrics.DevicesProcessed && p.Value == 1 && p.Unit == metrics.Count {
			got = append(got, p.Dims["Outcome"])
		}
	}
	if diff := cmp.Diff([]string{"created", "failed"}, got); diff != "" {
		t.Errorf("DevicesProcessed outcomes (-want +got):\n%s", diff)
	}
}
