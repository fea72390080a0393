package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
)

// TestImportCommand runs `rmmbridge import` in-process against a running
// local stack, as a user would after `make dev`: the job is started, its
// progress bar runs until the end, the final counts (the job's own) and
// the failed or review items with reasons are printed, and the exit code
// tells how it ended.
func TestImportCommand(t *testing.T) {
	ctx := context.Background()
	// The functions log through slog's default logger; keep the test's
	// output to what the command prints.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { slog.SetDefault(prev) })
	env, err := devstack.Start(ctx, devstack.Options{
		Template: filepath.Join("..", "..", "template.yaml"), StackName: motoserver.UniqueName("cli-import"),
		APIAddr: "127.0.0.1:0", RMMAddr: "127.0.0.1:0", PSAAddr: "127.0.0.1:0",
		Endpoint: os.Getenv("AWS_ENDPOINT_URL"), Orgs: 5, Devices: 60, PollWait: 200 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := env.Stop(sctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	api := env.Stack.APIURL()
	getenv := func(k string) string {
		if k == "RMMBRIDGE_API_KEY" {
			return env.APIKey
		}
		return ""
	}
	cli := func(t *testing.T, args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := run(ctx, append([]string{"import", "--api", api}, args...), getenv, &out, io.Discard)
		return out.String(), err
	}
	job := func(t *testing.T, out string) map[string]any {
		t.Helper()
		m := regexp.MustCompile(`import (j[0-9a-z]+) queued`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no job id in the output:\n%s", out)
		}
		req, _ := http.NewRequest(http.MethodGet, api+"/v1/integrations/"+env.IntegrationID+"/imports/"+m[1], nil)
		req.Header.Set("Authorization", "Bearer "+env.APIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var j map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	// finalLine is what the command must print for the job as the API
	// reports it.
	finalLine := func(j map[string]any) string {
		c := j["counts"].(map[string]any)
		n := func(k string) int { return int(c[k].(float64)) }
		return fmt.Sprintf("total %d · created %d · linked %d · updated %d · unchanged %d · skipped %d · failed %d · review %d",
			n("total"), n("created"), n("linked"), n("updated"), n("unchanged"), n("skipped"), n("failed"), n("review"))
	}

	// The sandboxes' PSA holds serial ties, so importing every device ends
	// partial (exit code 2) with review items.
	out, err := cli(t, "--integration", env.IntegrationID, "--kind", "assets", "--watch", "--poll", "200ms")
	j := job(t, out)
	if code := exitCode(err); code != exitPartial || j["status"] != "partial" {
		t.Fatalf("import of every device: status %v, exit code %d (%v); want partial, 2\n%s", j["status"], code, err, out)
	}
	if !strings.Contains(out, "partial") || !strings.Contains(out, finalLine(j)) {
		t.Errorf("output lacks the final counts %q:\n%s", finalLine(j), out)
	}
	if !strings.Contains(out, "review items (") || !regexp.MustCompile(`\n  \d+: .*serial`).MatchString(out) {
		t.Errorf("output lacks the review items with their reasons:\n%s", out)
	}
	if !strings.Contains(out, "%") || !strings.Contains(out, "|") {
		t.Errorf("no progress bar in the output:\n%s", out)
	}
	t.Logf("partial import output (last lines):\n%s", tail(out, 6))

	// One organization without a tie: every device unchanged now, exit 0.
	var clean string
	for _, o := range env.Ninja().Orgs() {
		if reviewFree(env, out, o.ID) {
			clean = strconv.Itoa(o.ID)
			break
		}
	}
	if clean == "" {
		t.Fatalf("every organization has review items:\n%s", out)
	}
	out, err = cli(t, "--integration", env.IntegrationID, "--kind", "assets", "--orgs", clean, "--watch", "--poll", "200ms", "--key", env.APIKey)
	j = job(t, out)
	if code := exitCode(err); code != exitSucceeded || j["status"] != "succeeded" || !strings.Contains(out, finalLine(j)) {
		t.Errorf("import of organization %s: status %v, exit code %d (%v); want succeeded, 0, with %q\n%s", clean, j["status"], code, err, finalLine(j), out)
	}

	// An organization the RMM does not know fails the whole job: exit 1,
	// with the failed item and its reason.
	out, err = cli(t, "--integration", env.IntegrationID, "--kind", "assets", "--orgs", "999999", "--watch", "--poll", "200ms")
	j = job(t, out)
	if code := exitCode(err); code != exitFailed || j["status"] != "failed" {
		t.Errorf("import of an unknown organization: status %v, exit code %d (%v); want failed, 1\n%s", j["status"], code, err, out)
	}
	if !strings.Contains(out, "failed items (1):") || !strings.Contains(out, "org:999999: ") {
		t.Errorf("output lacks the failed item with its reason:\n%s", out)
	}

	// Without --watch it only starts the job.
	out, err = cli(t, "--integration", env.IntegrationID, "--kind", "organizations", "--dry-run")
	if err != nil || !strings.Contains(out, "queued (organizations, dry run)") {
		t.Errorf("import without --watch = %v:\n%s", err, out)
	}

	// Usage errors name what is missing and exit 1.
	for _, tc := range []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"no integration", []string{"import", "--kind", "assets"}, getenv, "--integration is required"},
		{"bad kind", []string{"import", "--integration", env.IntegrationID, "--kind", "tickets"}, getenv, "--kind must be"},
		{"no key", []string{"import", "--integration", env.IntegrationID}, func(string) string { return "" }, "no API key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(ctx, tc.args, tc.env, io.Discard, io.Discard)
			var ee *exitError
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, &ee) || exitCode(err) != 1 {
				t.Errorf("run %v = %v (exit %d); want an error saying %q, exit 1", tc.args, err, exitCode(err), tc.want)
			}
		})
	}
	wrongKey := func(k string) string {
		if k == "RMMBRIDGE_DEV_API_KEY" {
			return "not-a-key-of-this-stack"
		}
		return ""
	}
	if err := run(ctx, []string{"import", "--api", api, "--integration", env.IntegrationID}, wrongKey, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a wrong key (from RMMBRIDGE_DEV_API_KEY) = %v; want the API's 401", err)
	}
}

// reviewFree reports whether none of the organization's devices is among
// the review items the output lists.
func reviewFree(env *devstack.Env, out string, orgID int) bool {
	for _, d := range env.Ninja().Devices() {
		if d.OrganizationID == orgID && strings.Contains(out, fmt.Sprintf("\n  %d: ", d.ID)) {
			return false
		}
	}
	return true
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
