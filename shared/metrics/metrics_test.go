package metrics

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// capture enables the metrics on a buffer for one test.
func capture(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	Enable(&buf, "alert-worker")
	t.Cleanup(func() { Enable(nil, "") })
	return &buf
}

// TestHelpersEmitEMF calls each helper and checks the record it writes is
// valid EMF (namespace, a metric definition with its unit, dimension sets
// naming top-level members) with the metric, value and dimensions wanted.
func TestHelpersEmitEMF(t *testing.T) {
	fn := map[string]string{FunctionDimension: "alert-worker"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{FunctionDimension: "alert-worker"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		emit func()
		want []Point
	}{
		{"vendor 200", func() { VendorRequest("NinjaOne", 200) },
			[]Point{{VendorRequests, 1, Count, with("Vendor", "NinjaOne", "StatusClass", "2xx")}}},
		{"vendor 429 also counts a throttle", func() { VendorRequest("ConnectWise", 429) }, []Point{
			{VendorRequests, 1, Count, with("Vendor", "ConnectWise", "StatusClass", "429")},
			{VendorThrottled, 1, Count, with("Vendor", "ConnectWise")}}},
		{"vendor transport error", func() { VendorRequest("NinjaOne", 0) },
			[]Point{{VendorRequests, 1, Count, with("Vendor", "NinjaOne", "StatusClass", "error")}}},
		{"retry wait", func() { VendorWait("ConnectWise", 1500*time.Millisecond) },
			[]Point{{VendorRetryWait, 1500, Milliseconds, with("Vendor", "ConnectWise")}}},
		{"device", func() { DeviceProcessed("created") },
			[]Point{{DevicesProcessed, 1, Count, with("Outcome", "created")}}},
		{"alert to ticket", func() { AlertTicketLatency(2250 * time.Microsecond) },
			[]Point{{AlertToTicketLatency, 2.25, Milliseconds, fn}}},
		{"webhook", func() { WebhookDelivery(401) },
			[]Point{{WebhookDeliveries, 1, Count, with("Answer", "401")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := capture(t)
			tt.emit()
			got, err := DecodeAll(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordShape pins the wire shape of one record: the _aws metadata
// with the epoch-millisecond timestamp, the namespace, the two dimension
// sets (all dimensions sorted, and none for the totals) and the metric
// definition, and the values at the top level.
func TestRecordShape(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	b, err := Record(at, "api", VendorRequests, 1, Count, map[string]string{"Vendor": "NinjaOne", "StatusClass": "5xx"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"_aws": map[string]any{
			"Timestamp": float64(at.UnixMilli()),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "rmmbridge",
				"Dimensions": []any{[]any{"Function", "StatusClass", "Vendor"}, []any{}},
				"Metrics":    []any{map[string]any{"Name": "VendorRequests", "Unit": "Count"}},
			}},
		},
		"Function": "api", "StatusClass": "5xx", "Vendor": "NinjaOne", "VendorRequests": float64(1),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

// TestDisabledWritesNothing: before Enable (tests, the local stack) and
// after Enable(nil) nothing is written anywhere.
func TestDisabledWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	Enable(&buf, "x")
	Enable(nil, "")
	VendorRequest("NinjaOne", 200)
	DeviceProcessed("created")
	if buf.Len() != 0 {
		t.Errorf("disabled metrics wrote %q", buf.String())
	}
}

// TestDecodeRejects: what is not EMF as CloudWatch reads it is refused.
func TestDecodeRejects(t *testing.T) {
	for name, line := range map[string]string{
		"plain log":           `{"level":"INFO","message":"hi"}`,
		"wrong namespace":     `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"x","Dimensions":[[]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"M":1}`,
		"dimension not there": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"rmmbridge","Dimensions":[["Vendor"]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"M":1}`,
		"value not a number":  `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"rmmbridge","Dimensions":[[]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"M":"1"}`,
		"timestamp a string":  `{"_aws":{"Timestamp":"now","CloudWatchMetrics":[{"Namespace":"rmmbridge","Dimensions":[[]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"M":1}`,
		"no metric":           `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"rmmbridge","Dimensions":[[]],"Metrics":[]}]}}`,
		"not JSON":            `REPORT RequestId: 1`,
	} {
		if _, err := Decode([]byte(line)); err == nil {
			t.Errorf("%s: Decode accepted %s", name, line)
		}
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{0: "error", 200: "2xx", 204: "2xx", 301: "3xx", 404: "4xx", 429: "429", 500: "5xx", 503: "5xx", 700: "other"} {
		if got := StatusClass(status); got != want {
			t.Errorf("StatusClass(%d) = %q, want %q", status, got, want)
		}
	}
}
