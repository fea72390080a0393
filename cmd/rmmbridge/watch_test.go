package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestProgressRate checks the rate and ETA --watch shows, on a fixed
// clock: nothing before a second has passed, the rate over the window,
// the ETA for the items known, a stalled job's unknown ETA, and the rate
// following a slowdown once the old readings leave the window.
func TestProgressRate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type reading struct {
		after       time.Duration
		done, total int
	}
	tests := []struct {
		name     string
		readings []reading
		want     []string
	}{
		{name: "steady 10 devices/s", readings: []reading{{0, 0, 100}, {500 * time.Millisecond, 5, 100}, {2 * time.Second, 20, 100}},
			want: []string{"… devices/s · ETA …", "… devices/s · ETA …", "10.0 devices/s · ETA 8s"}},
		{name: "stalled", readings: []reading{{0, 40, 100}, {5 * time.Second, 40, 100}},
			want: []string{"… devices/s · ETA …", "0.0 devices/s · ETA unknown"}},
		{name: "finished", readings: []reading{{0, 50, 100}, {5 * time.Second, 100, 100}},
			want: []string{"… devices/s · ETA …", "10.0 devices/s · ETA 0s"}},
		{name: "slowdown leaves the window", readings: []reading{{0, 0, 1000}, {10 * time.Second, 500, 1000}, {20 * time.Second, 510, 1000}, {30 * time.Second, 520, 1000}},
			want: []string{"… devices/s · ETA …", "50.0 devices/s · ETA 10s", "25.5 devices/s · ETA 19s", "1.0 devices/s · ETA 8m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &progressRate{window: rateWindow}
			var got []string
			for _, rd := range tt.readings {
				got = append(got, r.observe(t0.Add(rd.after), rd.done, rd.total, "devices"))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestWatchShowsRateAndETA watches a job through a fake job API whose
// counts advance on every read and checks that the progress lines show
// devices/s and an ETA while the job runs.
func TestWatchShowsRateAndETA(t *testing.T) {
	var mu sync.Mutex
	done := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		status := "running"
		if done >= 300 {
			done, status = 300, "succeeded"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "j1", "kind": "assets", "status": status,
			"counts": map[string]int{"total": 300, "created": done}})
		done += 10
	}))
	defer srv.Close()
	c := &apiClient{base: srv.URL, key: "k", http: srv.Client()}
	var out bytes.Buffer
	j, err := watchImport(context.Background(), c, "/v1/integrations/i1/imports/j1", 50*time.Millisecond, &out, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != "succeeded" {
		t.Errorf("final status %q, want succeeded", j.Status)
	}
	if !regexp.MustCompile(`running · [0-9]+\.[0-9] devices/s · ETA [0-9ms.]+ · created`).MatchString(out.String()) {
		t.Errorf("no progress line with devices/s and an ETA:\n%s", out.String())
	}
}

// TestColdStartTable: medians (the middle sample, or the mean of the two
// middle ones), the ratio to hello's median, and the verdict against the
// target; a function over it is named as failed.
func TestColdStartTable(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	samples := map[string][]time.Duration{
		helloName: ms(4, 100, 2, 3), // median 3.5: one outlier does not move it
		"api":     ms(5, 5, 50),     // 5 → 1.43
		"console": ms(6, 7, 5),      // 6 → 1.71
	}
	fns := []struct{ Dir, LogicalID string }{{"api", "ApiFunction"}, {"console", "ConsoleFunction"}}
	rows, failed := coldStartTable(samples, fns, 1.5)
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %v %v %.2f %s min %v/%v", r.name, r.init, r.hello, r.ratio, r.verdict, r.minInit, r.minHello))
	}
	want := []string{"api 5ms 3.5ms 1.43 ok min 5ms/2ms", "console 6ms 3.5ms 1.71 OVER min 5ms/2ms"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"console"}, failed); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
}
