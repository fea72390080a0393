// Package metrics writes rmmbridge's operational metrics as CloudWatch
// embedded metric format (EMF) records: one JSON object per line on the
// function's standard output, which CloudWatch Logs turns into metrics in
// the Namespace with no API call (no AWS SDK here). template.yaml's alarms
// and dashboard read them.
//
// Nothing is written until Enable is called (lambdafn.Main does, for the
// deployed functions); tests and the local stack enable it on a buffer or
// leave it off. Every record carries the metric's value, its dimensions
// and the "Function" dimension Enable was given, and is published both
// with all its dimensions and with none (the total the alarms watch).
//
// The metrics:
//
//	DevicesProcessed        Count  Outcome                  asset worker, per device (created, linked, updated, unchanged, skipped, review, failed)
//	VendorRequests          Count  Vendor, StatusClass      every vendor HTTP attempt (2xx, 3xx, 4xx, 429, 5xx, error)
//	VendorThrottled         Count  Vendor                   every 429 answer
//	VendorRetryWait         Milliseconds  Vendor            every wait before a retry (Retry-After or backoff)
//	AlertToTicketLatency    Milliseconds  (none)            webhook accepted → ticket opened
//	WebhookDeliveries       Count  Answer                   alert-webhook answers (202, 401, 413, ...)
package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "rmmbridge"

// Metric names, as template.yaml's alarms and dashboard spell them.
const (
	DevicesProcessed     = "DevicesProcessed"
	VendorRequests       = "VendorRequests"
	VendorThrottled      = "VendorThrottled"
	VendorRetryWait      = "VendorRetryWait"
	AlertToTicketLatency = "AlertToTicketLatency"
	WebhookDeliveries    = "WebhookDeliveries"
)

// Unit is a CloudWatch unit.
type Unit string

// Units used here.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
)

// FunctionDimension names the function that emitted a record.
const FunctionDimension = "Function"

var (
	mu       sync.Mutex
	out      io.Writer
	function string
	now      = time.Now
)

// Enable sends every record to w (a Lambda function's standard output)
// with fn as the Function dimension; nil w disables the metrics again.
func Enable(w io.Writer, fn string) {
	mu.Lock()
	defer mu.Unlock()
	out, function = w, fn
}

// Emit writes one record: metric's value in unit with dims (dimension name
// to value). It does nothing when metrics are not enabled; a write error is
// dropped (metrics never fail the work they describe).
func Emit(metric string, value float64, unit Unit, dims map[string]string) {
	mu.Lock()
	defer mu.Unlock()
	if out == nil {
		return
	}
	line, err := Record(now(), function, metric, value, unit, dims)
	if err != nil {
		return
	}
	_, _ = out.Write(append(line, '\n'))
}

// Record is one EMF record as JSON: the "_aws" metadata (timestamp in
// epoch milliseconds, one metric directive with the namespace, two
// dimension sets — every dimension, sorted, and the empty set, which gives
// the metric summed over all dimensions for the alarms — and the metric
// with its unit) and, at the top level, each dimension's value and the
// metric's value.
func Record(at time.Time, fn, metric string, value float64, unit Unit, dims map[string]string) ([]byte, error) {
	all := maps.Clone(dims)
	if all == nil {
		all = map[string]string{}
	}
	if fn != "" {
		all[FunctionDimension] = fn
	}
	sets := [][]string{{}}
	if names := slices.Sorted(maps.Keys(all)); len(names) > 0 {
		sets = [][]string{names, {}}
	}
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp": at.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  Namespace,
				"Dimensions": sets,
				"Metrics":    []any{map[string]any{"Name": metric, "Unit": string(unit)}},
			}},
		},
		metric: value,
	}
	for k, v := range all {
		doc[k] = v
	}
	return json.Marshal(doc)
}

// StatusClass groups an HTTP status for VendorRequests: "429" on its own
// (throttling is what operators watch), else "2xx".."5xx"; "error" when no
// answer arrived (status 0).
func StatusClass(status int) string {
	switch {
	case status == 0:
		return "error"
	case status == 429:
		return "429"
	case status >= 100 && status < 600:
		return strconv.Itoa(status/100) + "xx"
	}
	return "other"
}

// VendorRequest counts one vendor HTTP attempt and, for a 429, one
// throttled request.
func VendorRequest(vendor string, status int) {
	Emit(VendorRequests, 1, Count, map[string]string{"Vendor": vendor, "StatusClass": StatusClass(status)})
	if status == 429 {
		Emit(VendorThrottled, 1, Count, map[string]string{"Vendor": vendor})
	}
}

// VendorWait records a wait before retrying a vendor request (the
// vendor's Retry-After, or the client's backoff).
func VendorWait(vendor string, d time.Duration) {
	Emit(VendorRetryWait, ms(d), Milliseconds, map[string]string{"Vendor": vendor})
}

// DeviceProcessed counts one device the asset worker finished with outcome.
func DeviceProcessed(outcome string) {
	Emit(DevicesProcessed, 1, Count, map[string]string{"Outcome": outcome})
}

// AlertTicketLatency records the time from the webhook accepting an alert
// to its ticket being opened.
func AlertTicketLatency(d time.Duration) {
	Emit(AlertToTicketLatency, ms(d), Milliseconds, nil)
}

// WebhookDelivery counts one webhook delivery by the status it was
// answered with.
func WebhookDelivery(status int) {
	Emit(WebhookDeliveries, 1, Count, map[string]string{"Answer": strconv.Itoa(status)})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Point is one decoded record: what Decode returns.
type Point struct {
	Metric string
	Value  float64
	Unit   Unit
	// Dims are the record's dimensions (the Function one included).
	Dims map[string]string
}

// Decode parses one line as an EMF record and checks it is one CloudWatch
// accepts as this package writes them: an "_aws" object with an integer
// millisecond Timestamp and exactly one metric directive in Namespace,
// whose every dimension set names top-level string members and whose one
// metric names a top-level number with a known unit. Tests use it on
// what Emit wrote.
func Decode(line []byte) (Point, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return Point{}, fmt.Errorf("not a JSON object: %w", err)
	}
	var meta struct {
		Timestamp         *json.Number `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit Unit   `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	if err := json.Unmarshal(raw["_aws"], &meta); err != nil {
		return Point{}, fmt.Errorf("_aws: %w", err)
	}
	if meta.Timestamp == nil {
		return Point{}, errors.New("_aws.Timestamp is missing")
	}
	if _, err := meta.Timestamp.Int64(); err != nil {
		return Point{}, fmt.Errorf("_aws.Timestamp is not epoch milliseconds: %s", *meta.Timestamp)
	}
	if len(meta.CloudWatchMetrics) != 1 {
		return Point{}, fmt.Errorf("%d metric directives, want 1", len(meta.CloudWatchMetrics))
	}
	d := meta.CloudWatchMetrics[0]
	if d.Namespace != Namespace {
		return Point{}, fmt.Errorf("namespace %q, want %q", d.Namespace, Namespace)
	}
	if len(d.Metrics) != 1 || d.Metrics[0].Name == "" {
		return Point{}, fmt.Errorf("metric definitions %+v, want one named metric", d.Metrics)
	}
	p := Point{Metric: d.Metrics[0].Name, Unit: d.Metrics[0].Unit, Dims: map[string]string{}}
	if p.Unit != Count && p.Unit != Milliseconds {
		return Point{}, fmt.Errorf("unit %q of %s", p.Unit, p.Metric)
	}
	if len(d.Dimensions) == 0 {
		return Point{}, errors.New("no dimension sets")
	}
	for _, set := range d.Dimensions {
		if len(set) > 30 {
			return Point{}, fmt.Errorf("dimension set of %d keys (CloudWatch takes 30)", len(set))
		}
		for _, k := range set {
			var v string
			if err := json.Unmarshal(raw[k], &v); err != nil || v == "" {
				return Point{}, fmt.Errorf("dimension %q is not a top-level non-empty string", k)
			}
			p.Dims[k] = v
		}
	}
	if err := json.Unmarshal(raw[p.Metric], &p.Value); err != nil {
		return Point{}, fmt.Errorf("metric %q is not a top-level number", p.Metric)
	}
	return p, nil
}

// DecodeAll decodes every non-empty line of out (what Emit wrote).
func DecodeAll(out []byte) ([]Point, error) {
	var ps []Point
	for _, line := range bytes.Split(out, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		p, err := Decode(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", err, line)
		}
		ps = append(ps, p)
	}
	return ps, nil
}
