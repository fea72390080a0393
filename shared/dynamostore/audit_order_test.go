package dynamostore

import (
	"slices"
	"testing"
	"time"
)

// TestAuditKeysSortAsTheirTimes: audit events are read newest first by
// their sort key, so the key's time must sort as the time does, whatever
// its trailing zeros (RFC3339Nano wrote …10.3Z after …10.31Z).
func TestAuditKeysSortAsTheirTimes(t *testing.T) {
	base := time.Date(2026, 12, 3, 11, 44, 10, 0, time.UTC)
	times := []time.Time{base, base.Add(300 * time.Millisecond), base.Add(310 * time.Millisecond),
		base.Add(310*time.Millisecond + 5), base.Add(999999999), base.Add(time.Second)}
	var keys []string
	for _, at := range times {
		keys = append(keys, at.Format(auditTimeLayout))
	}
	if !slices.IsSorted(keys) {
		t.Errorf("audit key times do not sort as the times: %q", keys)
	}
	for i, k := range keys {
		if got, err := time.Parse(time.RFC3339Nano, k); err != nil || !got.Equal(times[i]) {
			t.Errorf("key time %q reads back as %v, %v; want %v", k, got, err, times[i])
		}
	}
}
