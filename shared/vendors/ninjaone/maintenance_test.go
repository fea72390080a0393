package ninjaone

import (
	"encoding/json"
	"testing"
)

// TestDeviceMaintenance: the device's maintenance.status IN_MAINTENANCE
// (any case) is maintenance mode; PENDING and FAILED windows are not; a
// device without the object reports nothing (the alert policy's
// skipMaintenance is then inert).
func TestDeviceMaintenance(t *testing.T) {
	tests := []struct {
		name, body string
		want       *bool
	}{
		{"in maintenance", `{"id":7,"maintenance":{"status":"IN_MAINTENANCE","start":1764756000,"end":1764759600}}`, ptr(true)},
		{"lower case", `{"id":7,"maintenance":{"status":"in_maintenance"}}`, ptr(true)},
		{"pending window", `{"id":7,"maintenance":{"status":"PENDING"}}`, ptr(false)},
		{"failed window", `{"id":7,"maintenance":{"status":"FAILED"}}`, ptr(false)},
		{"not reported", `{"id":7}`, nil},
		{"null", `{"id":7,"maintenance":null}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d apiDevice
			if err := json.Unmarshal([]byte(tc.body), &d); err != nil {
				t.Fatal(err)
			}
			got := toDevice(d).Maintenance
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("Maintenance = %v, want %v", show(got), show(tc.want))
			}
		})
	}
}

func ptr(b bool) *bool { return &b }

func show(b *bool) string {
	if b == nil {
		return "nil"
	}
	if *b {
		return "true"
	}
	return "false"
}
