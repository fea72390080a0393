package autotask_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask"
	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask/sandbox"
)

// thresholdReads counts the ThresholdInformation requests the sandbox saw.
func thresholdReads(srv *sandbox.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if strings.EqualFold(r.Path, "/V1.0/ThresholdInformation") {
			n++
		}
	}
	return n
}

// TestReadThresholdIsSingleFlightAndAtMostOnceAMinute: twenty concurrent
// callers share one request; callers within the minute get its answer;
// the next minute reads again, and sees the database's usage by others.
func TestReadThresholdIsSingleFlightAndAtMostOnceAMinute(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2, Threshold: 10000, ThresholdLatency: 100 * time.Millisecond})
	srv.UseRequests(6000) // past half: every answer is held 100 ms, so the callers overlap
	cfg := clientConfig(srv, nil)
	cfg.Now = clock
	c := newClient(t, cfg)
	ctx := t.Context()
	var wg sync.WaitGroup
	got := make([]autotask.Threshold, 20)
	errs := make([]error, 20)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], errs[i] = c.ReadThreshold(ctx) }()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("caller %d: %+v, %v; caller 0: %+v", i, got[i], errs[i], got[0])
		}
	}
	want := autotask.Threshold{Limit: 10000, Used: 6001, Window: time.Hour}
	if got[0] != want {
		t.Errorf("threshold = %+v, want %+v", got[0], want)
	}
	if n := thresholdReads(srv); n != 1 || c.ThresholdReads() != 1 {
		t.Errorf("20 concurrent callers sent %d requests (client counted %d), want 1", n, c.ThresholdReads())
	}
	mu.Lock()
	now = now.Add(59 * time.Second)
	mu.Unlock()
	if th, err := c.ReadThreshold(ctx); err != nil || th != want || thresholdReads(srv) != 1 {
		t.Errorf("59 s later: %+v, %v after %d requests; want the same answer and no request", th, err, thresholdReads(srv))
	}
	srv.UseRequests(500)
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	th, err := c.ReadThreshold(ctx)
	if err != nil || th.Used != 6502 || thresholdReads(srv) != 2 {
		t.Errorf("a minute later: %+v, %v after %d requests; want a new read counting the others' 500", th, err, thresholdReads(srv))
	}
}

func TestEndpointOf(t *testing.T) {
	for path, want := range map[string]string{
		"/V1.0/Companies/query":                                               "Companies",
		"/ATServicesRest/V1.0/Companies/29683400/Locations":                   "CompanyLocations",
		"/V1.0/Tickets/7300/Notes":                                            "TicketNotes",
		"http://h/ATServicesRest/V1.0/ConfigurationItems/query?search=%7B%7D": "ConfigurationItems",
		"/V1.0/ThresholdInformation":                                          "ThresholdInformation",
		"/V1.0/ZoneInformation?user=x":                                        "",
	} {
		if got := autotask.EndpointOf(path); got != want {
			t.Errorf("EndpointOf(%q) = %q, want %q", path, got, want)
		}
	}
}
