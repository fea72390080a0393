package samtemplate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/metrics"
)

// TestInvariantOperationsAlarmsAndDashboard: beside the DLQ alarms,
// template.yaml alarms on AlertQueue's oldest message past 5 minutes, on
// the queue workers' error rate and on the vendor 429 rate (from the
// rmmbridge metrics the functions emit), and its dashboard shows every
// metric shared/metrics emits.
func TestInvariantOperationsAlarmsAndDashboard(t *testing.T) {
	tp, _ := invProjectTemplate(t)
	props := func(id, typ string) map[string]any {
		t.Helper()
		r, ok := tp.Resources[id]
		if !ok || r.Type != typ || r.Properties == nil {
			t.Fatalf("template.yaml has no %s %s", typ, id)
		}
		var m map[string]any
		if err := r.Properties.Decode(&m); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return m
	}
	flat := func(v any) string { return fmt.Sprint(v) }

	age := props("AlertQueueAgeAlarm", "AWS::CloudWatch::Alarm")
	if age["Namespace"] != "AWS/SQS" || age["MetricName"] != "ApproximateAgeOfOldestMessage" ||
		!strings.Contains(flat(age["Dimensions"]), "AlertQueue.QueueName") || age["Threshold"] != 300 ||
		age["ComparisonOperator"] != "GreaterThanThreshold" {
		t.Errorf("AlertQueueAgeAlarm %v, want AlertQueue's ApproximateAgeOfOldestMessage > 300 s", age)
	}
	workers := flat(props("WorkerErrorRateAlarm", "AWS::CloudWatch::Alarm")["Metrics"])
	for _, want := range []string{"AlertWorkerFunction", "ImportDispatchFunction", "AssetRefreshFunction", "Errors", "Invocations"} {
		if !strings.Contains(workers, want) {
			t.Errorf("WorkerErrorRateAlarm's metrics lack %s: %s", want, workers)
		}
	}
	vendor := flat(props("Vendor429RateAlarm", "AWS::CloudWatch::Alarm")["Metrics"])
	for _, want := range []string{"Namespace:" + metrics.Namespace, "MetricName:" + metrics.VendorThrottled, "MetricName:" + metrics.VendorRequests, "throttled / requests"} {
		if !strings.Contains(vendor, want) {
			t.Errorf("Vendor429RateAlarm's metrics lack %q: %s", want, vendor)
		}
	}
	body := flat(props("OperationsDashboard", "AWS::CloudWatch::Dashboard")["DashboardBody"])
	for _, m := range []string{metrics.DevicesProcessed, metrics.VendorRequests, metrics.VendorThrottled, metrics.VendorRetryWait,
		metrics.AlertToTicketLatency, metrics.WebhookDeliveries, "ApproximateAgeOfOldestMessage"} {
		if !strings.Contains(body, m) {
			t.Errorf("the dashboard does not show %s", m)
		}
	}
	for _, dlq := range []string{"ImportDLQAlarm", "AssetDLQAlarm", "AlertDLQAlarm"} {
		props(dlq, "AWS::CloudWatch::Alarm")
	}
}
