package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// exitError ends the CLI with a chosen exit code; a non-empty message is
// printed first.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// exitCode is the process exit code for a command's error: the one an
// exitError chose, 1 for any other error, 0 for none.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

// Exit codes of `rmmbridge import --watch`.
const (
	exitSucceeded = 0
	exitFailed    = 1
	exitPartial   = 2
)

// importCounts are a job's counters.
type importCounts struct {
	Total     int `json:"total"`
	Created   int `json:"created"`
	Linked    int `json:"linked"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"`
	Review    int `json:"review"`
}

func (c importCounts) done() int {
	return c.Created + c.Linked + c.Updated + c.Unchanged + c.Skipped + c.Failed + c.Review
}

func (c importCounts) String() string {
	return fmt.Sprintf("created %d · linked %d · updated %d · unchanged %d · skipped %d · failed %d · review %d",
		c.Created, c.Linked, c.Updated, c.Unchanged, c.Skipped, c.Failed, c.Review)
}

type importJobView struct {
	ID         string       `json:"id"`
	Kind       string       `json:"kind"`
	Status     string       `json:"status"`
	DryRun     bool         `json:"dryRun"`
	Counts     importCounts `json:"counts"`
	CreatedAt  time.Time    `json:"createdAt"`
	StartedAt  time.Time    `json:"startedAt"`
	FinishedAt time.Time    `json:"finishedAt"`
	Preview    []struct {
		Key, Action, Name, TargetID, Reason string
	} `json:"preview"`
}

type importItemView struct {
	Key    string `json:"key"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// importOptions are `rmmbridge import`'s flags.
type importOptions struct {
	api, key, integration, kind, orgs string
	dryRun, createMissing, watch      bool
	poll                              time.Duration
	maxItems                          int
}

const importUsage = `usage: rmmbridge import --integration ID --kind assets|organizations [--orgs 1,2] [--dry-run]
                       [--create-missing=true] [--watch] [--api URL] [--key KEY]

Starts an import job against a running stack (rmmbridge dev, or a deployed API). With --watch
it shows a progress bar with live counts until the job ends, then prints the final counts and
the failed and review items with their reasons; the exit code is then 0 when the job
succeeded, 2 when it was partial (some items failed or wait for review) and 1 when it failed.
The API key comes from --key, RMMBRIDGE_API_KEY or RMMBRIDGE_DEV_API_KEY.
`

// runImport is `rmmbridge import`.
func runImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, importUsage); fs.PrintDefaults() }
	var o importOptions
	api := getenv("RMMBRIDGE_API_URL")
	if api == "" {
		api = "http://127.0.0.1:3000"
	}
	fs.StringVar(&o.api, "api", api, "API base URL (default from RMMBRIDGE_API_URL)")
	fs.StringVar(&o.key, "key", "", "API key (default RMMBRIDGE_API_KEY, then RMMBRIDGE_DEV_API_KEY)")
	fs.StringVar(&o.integration, "integration", "", "integration id (required)")
	fs.StringVar(&o.kind, "kind", "assets", "what to import: assets or organizations")
	fs.StringVar(&o.orgs, "orgs", "", "comma-separated RMM organization ids (default: all)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "preview only: write nothing to the PSA")
	fs.BoolVar(&o.createMissing, "create-missing", true, "create PSA accounts for unmapped organizations that auto-match finds none for")
	fs.BoolVar(&o.watch, "watch", false, "show progress until the job ends; the exit code tells how it ended")
	fs.DurationVar(&o.poll, "poll", 500*time.Millisecond, "how often --watch reads the job")
	fs.IntVar(&o.maxItems, "max-items", 50, "failed and review items printed at most, each")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.key == "" {
		o.key = getenv("RMMBRIDGE_API_KEY")
	}
	if o.key == "" {
		o.key = getenv("RMMBRIDGE_DEV_API_KEY")
	}
	var problems []string
	if o.integration == "" {
		problems = append(problems, "--integration is required")
	}
	if o.kind != "assets" && o.kind != "organizations" {
		problems = append(problems, "--kind must be assets or organizations")
	}
	if o.key == "" {
		problems = append(problems, "no API key: give --key or set RMMBRIDGE_API_KEY (rmmbridge dev prints one)")
	}
	if len(problems) > 0 {
		fs.Usage()
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	c := &apiClient{base: strings.TrimRight(o.api, "/"), key: o.key, http: &http.Client{Timeout: 30 * time.Second}}
	base := "/v1/integrations/" + url.PathEscape(o.integration) + "/imports"

	body := map[string]any{"kind": o.kind, "dryRun": o.dryRun, "createMissingAccounts": o.createMissing}
	if o.orgs != "" {
		var ids []string
		for _, id := range strings.Split(o.orgs, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		body["organizationIds"] = ids
	}
	var queued struct{ ID, Kind, Status string }
	if err := c.do(ctx, http.MethodPost, base, body, &queued); err != nil {
		return fmt.Errorf("start import: %w", err)
	}
	fmt.Fprintf(stdout, "import %s queued (%s%s)\n", queued.ID, queued.Kind, map[bool]string{true: ", dry run"}[o.dryRun])
	if !o.watch {
		fmt.Fprintf(stdout, "follow it with: curl -H \"Authorization: Bearer $RMMBRIDGE_API_KEY\" %s%s/%s\n", c.base, base, queued.ID)
		return nil
	}
	j, err := watchImport(ctx, c, base+"/"+queued.ID, o.poll, stdout, true, 0)
	if err != nil {
		return err
	}
	return reportImport(ctx, c, base+"/"+queued.ID, j, o.maxItems, stdout)
}

// watchImport polls the job until its status is final. With a bar it
// draws a progress bar of items done out of the items known (an asset
// import's total grows as organizations are paged) with the live counts;
// otherwise it prints the counts every logEvery.
func watchImport(ctx context.Context, c *apiClient, path string, every time.Duration, w io.Writer, bar bool, logEvery time.Duration) (importJobView, error) {
	var pb *progressbar.ProgressBar
	if bar {
		pb = progressbar.NewOptions(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetDescription("queued"),
			progressbar.OptionShowDescriptionAtLineEnd(),
		)
	}
	stop := func() {
		if pb != nil {
			_ = pb.Exit()
			fmt.Fprintln(w)
		}
	}
	start, logged := time.Now(), time.Now()
	rate := &progressRate{window: rateWindow}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var j importJobView
		if err := c.do(ctx, http.MethodGet, path, nil, &j); err != nil {
			stop()
			return j, fmt.Errorf("read import: %w", err)
		}
		speed := rate.observe(time.Now(), j.Counts.done(), j.Counts.Total, unitOf(j.Kind))
		switch {
		case pb != nil:
			if j.Counts.Total > 0 && pb.GetMax() != j.Counts.Total {
				pb.ChangeMax(j.Counts.Total)
			}
			_ = pb.Set(j.Counts.done())
			pb.Describe(j.Status + " · " + speed + " · " + j.Counts.String())
		case time.Since(logged) >= logEvery:
			logged = time.Now()
			fmt.Fprintf(w, "  %6s  %d/%d %s · %s · %s\n", time.Since(start).Round(time.Second), j.Counts.done(), j.Counts.Total, j.Status, speed, j.Counts)
		}
		if isFinal(j.Status) {
			if pb != nil {
				_ = pb.Finish()
				fmt.Fprintln(w)
			}
			return j, nil
		}
		select {
		case <-ctx.Done():
			stop()
			return j, fmt.Errorf("stopped watching import %s (it keeps running): %w", j.ID, ctx.Err())
		case <-t.C:
		}
	}
}

// rateWindow is how far back --watch looks to compute the rate: long
// enough to smooth the pollers' bursts, short enough to follow a slowdown
// (vendor throttling).
const rateWindow = 15 * time.Second

// unitOf names what a job of kind counts, for the rate.
func unitOf(kind string) string {
	if kind == "organizations" {
		return "organizations"
	}
	return "devices"
}

// progressRate turns successive (time, items done) readings into a rate
// over the last window and the time left for the items known: an asset
// import's total grows while organizations are paged, so the ETA is for
// the devices counted so far.
type progressRate struct {
	window time.Duration
	seen   []rateSample
}

type rateSample struct {
	at   time.Time
	done int
}

// observe records a reading and says "12.5 devices/s · ETA 1m20s" (or
// "… devices/s · ETA …" before two readings at least a second apart
// show progress, and "0.0 devices/s · ETA unknown" when nothing moved in
// the window).
func (r *progressRate) observe(now time.Time, done, total int, unit string) string {
	r.seen = append(r.seen, rateSample{at: now, done: done})
	for len(r.seen) > 2 && now.Sub(r.seen[1].at) >= r.window {
		r.seen = r.seen[1:]
	}
	first := r.seen[0]
	elapsed := now.Sub(first.at)
	if elapsed < time.Second {
		return "… " + unit + "/s · ETA …"
	}
	perSec := float64(done-first.done) / elapsed.Seconds()
	if perSec < 0 {
		perSec = 0
	}
	left := total - done
	switch {
	case left <= 0:
		return fmt.Sprintf("%.1f %s/s · ETA 0s", perSec, unit)
	case perSec == 0:
		return fmt.Sprintf("0.0 %s/s · ETA unknown", unit)
	}
	eta := time.Duration(float64(left) / perSec * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("%.1f %s/s · ETA %s", perSec, unit, eta)
}

func isFinal(status string) bool {
	return status == "succeeded" || status == "partial" || status == "failed"
}

// reportImport prints a finished job's counts and its failed and review
// items, and turns its status into the exit code.
func reportImport(ctx context.Context, c *apiClient, path string, j importJobView, maxItems int, w io.Writer) error {
	took := ""
	if !j.FinishedAt.IsZero() && !j.CreatedAt.IsZero() {
		took = " in " + j.FinishedAt.Sub(j.CreatedAt).Round(time.Millisecond).String()
	}
	fmt.Fprintf(w, "import %s %s%s: total %d · %s\n", j.ID, j.Status, took, j.Counts.Total, j.Counts)
	for _, p := range j.Preview {
		fmt.Fprintf(w, "  would %-9s %s %s: %s\n", p.Action, p.Key, p.Name, p.Reason)
	}
	for _, status := range []string{"failed", "review"} {
		n := map[string]int{"failed": j.Counts.Failed, "review": j.Counts.Review}[status]
		if n == 0 {
			continue
		}
		items, more, err := listItems(ctx, c, path, status, maxItems)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s items (%d):\n", status, n)
		for _, it := range items {
			fmt.Fprintf(w, "  %s: %s\n", it.Key, it.Reason)
		}
		if more {
			fmt.Fprintf(w, "  … %d more: GET %s/items?status=%s\n", n-len(items), path, status)
		}
	}
	switch j.Status {
	case "succeeded":
		return nil
	case "partial":
		return &exitError{code: exitPartial}
	}
	return &exitError{code: exitFailed}
}

// listItems reads up to max items with status, and whether there are more.
func listItems(ctx context.Context, c *apiClient, path, status string, max int) ([]importItemView, bool, error) {
	var out []importItemView
	cursor := ""
	for len(out) < max {
		var page struct {
			Items      []importItemView `json:"items"`
			NextCursor string           `json:"nextCursor"`
		}
		q := url.Values{"status": {status}, "limit": {fmt.Sprint(min(max-len(out), 500))}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if err := c.do(ctx, http.MethodGet, path+"/items?"+q.Encode(), nil, &page); err != nil {
			return nil, false, fmt.Errorf("list %s items: %w", status, err)
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out, false, nil
		}
		cursor = page.NextCursor
	}
	return out, true, nil
}

// apiClient calls the rmmbridge API with an API key.
type apiClient struct {
	base, key string
	http      *http.Client
}

// do sends a JSON request and decodes a 2xx answer into out; other answers
// are errors carrying the problem's detail.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var p struct {
			Title, Detail string
			Message       string
			Errors        []struct{ Field, Message string }
		}
		_ = json.Unmarshal(b, &p)
		msg := strings.TrimSpace(p.Detail + " " + p.Message)
		for _, fe := range p.Errors {
			msg += fmt.Sprintf("; %s %s", fe.Field, fe.Message)
		}
		if msg == "" {
			msg = strings.TrimSpace(string(b))
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, msg)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
		}
	}
	return nil
}
