package vendorhttp

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/metrics"
)

// TestClientEmitsVendorMetrics: a vendor that throttles once (429 with
// Retry-After: 2) and then answers makes the client emit, as EMF, a
// request of status class 429, a throttle, the 2 s wait it honoured, and
// a 2xx request, all under the vendor's name.
func TestClientEmitsVendorMetrics(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	var buf bytes.Buffer
	metrics.Enable(&buf, "asset-refresh")
	t.Cleanup(func() { metrics.Enable(nil, "") })
	c, err := New(Options{Name: "MetricsVendor", BaseURL: srv.URL, HTTPClient: srv.Client(),
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), Request{Method: http.MethodGet, Path: "/v1/x"}, nil); err != nil {
		t.Fatal(err)
	}
	points, err := metrics.DecodeAll(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var got []metrics.Point
	for _, p := range points {
		if p.Dims["Vendor"] == "MetricsVendor" { // other tests' clients may emit meanwhile
			got = append(got, p)
		}
	}
	dims := func(kv ...string) map[string]string {
		m := map[string]string{"Function": "asset-refresh", "Vendor": "MetricsVendor"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	want := []metrics.Point{
		{Metric: metrics.VendorRequests, Value: 1, Unit: metrics.Count, Dims: dims("StatusClass", "429")},
		{Metric: metrics.VendorThrottled, Value: 1, Unit: metrics.Count, Dims: dims()},
		{Metric: metrics.VendorRetryWait, Value: 2000, Unit: metrics.Milliseconds, Dims: dims()},
		{Metric: metrics.VendorRequests, Value: 1, Unit: metrics.Count, Dims: dims("StatusClass", "2xx")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("vendor metrics (-want +got):\n%s", diff)
	}
}
