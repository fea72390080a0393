package lambdaset

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/apitest"
	"github.com/rmmbridge/rmmbridge/shared/devtools/localrun"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/rie"
	"github.com/rmmbridge/rmmbridge/shared/metrics"
)

// emulatorLine is a line the emulator writes itself (its own log and the
// START/END/REPORT lines); every other line is the function's.
var emulatorLine = regexp.MustCompile(`^(\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2},\d{3} \[\w+\] |(START|END|REPORT) RequestId: )`)

// TestEventsThroughEmulator is TestEventsThroughRuntimeDecoding as deployed:
// every function's real bootstrap, built with the deploy build's flags
// (CGO_ENABLED=0, -tags lambda.norpc), runs under AWS's runtime interface
// emulator with its template environment against moto, and answers every
// events/ file it serves with what the in-process test expects. Each
// function writes only JSON log lines, each carrying the invocation's
// request id, and at least one function logs something, so the Lambda
// logger (AWS_LAMBDA_LOG_FORMAT=JSON from the template's LoggingConfig) is
// the one in use; metrics lines are valid EMF, and the webhook's refused
// delivery is counted.
func TestEventsThroughEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root := apitest.RepoRoot(t)
	cfg := motoserver.ForTest(t)
	envs, err := localrun.Environments(ctx, localrun.Options{
		TemplatePath: filepath.Join(root, "template.yaml"),
		AWS:          cfg,
		StackName:    motoserver.UniqueName("rie"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SeedDemo(ctx, cfg, envs["AuthorizerFunction"].Env["TABLE_NAME"], "rmb_devkey_example"); err != nil {
		t.Fatalf("seed demo tenant: %v", err)
	}
	emulator, err := rie.EmulatorPath(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	for _, f := range rie.Functions {
		pkgs = append(pkgs, "./functions/"+f.Dir)
	}
	bins, err := rie.Build(ctx, root, t.TempDir(), pkgs...)
	if err != nil {
		t.Fatal(err)
	}

	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no events/*.json files (%v)", err)
	}
	byFunction := map[string][]string{}
	for _, path := range files {
		tc, ok := eventCases[filepath.Base(path)]
		if !ok {
			t.Fatalf("events/%s has no expectation in eventCases", filepath.Base(path))
		}
		byFunction[tc.function] = append(byFunction[tc.function], path)
	}
	if len(byFunction) != len(rie.Functions) {
		t.Errorf("events/ serves %d functions, want all %d", len(byFunction), len(rie.Functions))
	}
	jsonLines := 0
	for _, f := range rie.Functions {
		t.Run(f.LogicalID, func(t *testing.T) {
			fe, ok := envs[f.LogicalID]
			if !ok {
				t.Fatalf("template.yaml has no %s", f.LogicalID)
			}
			o := rie.Options{
				Emulator:  emulator,
				Bootstrap: bins["./functions/"+f.Dir],
				Env:       rie.RuntimeEnv(fe.Env, aws.ToString(cfg.BaseEndpoint)),
				Timeout:   fe.Timeout,
			}
			var em *rie.Emulator
			defer func() {
				if em != nil {
					em.Stop()
				}
			}()
			ids := map[string]bool{}
			for i, path := range byFunction[f.LogicalID] {
				name := filepath.Base(path)
				payload, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				id := fmt.Sprintf("rie-%s-%d", f.Dir, i)
				ids[id] = true
				var out []byte
				if em == nil { // the cold start
					em, out, err = rie.StartInvoke(ctx, o, id, payload)
				} else {
					out, err = em.Invoke(ctx, id, payload)
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				t.Run(name, func(t *testing.T) { check(t, eventCases[name], payload, out) })
			}
			if f.LogicalID == "AlertWebhookFunction" {
				em.WaitFor(`"WebhookDeliveries"`, 2*time.Second)
			}
			var emf []metrics.Point
			jsonLines += checkLogLines(t, em.Output(), ids, &emf)
			if f.LogicalID == "AlertWebhookFunction" {
				// The fixture's delivery is refused (401): lambdafn.Main
				// enabled the metrics on standard output.
				want := metrics.Point{Metric: metrics.WebhookDeliveries, Value: 1, Unit: metrics.Count,
					Dims: map[string]string{metrics.FunctionDimension: "alert-webhook", "Answer": "401"}}
				if !slices.ContainsFunc(emf, func(p metrics.Point) bool { return cmp.Equal(p, want) }) {
					t.Errorf("no %+v among the EMF records %+v", want, emf)
				}
			}
		})
	}
	if jsonLines == 0 {
		t.Error("no function wrote a JSON log line under the emulator")
	}
}

// checkLogLines asserts that every line the function wrote is a JSON log
// record (the Lambda JSON format: timestamp, level, message) of one of
// the invocations or a valid EMF metric record (added to emf), and returns
// how many log records there were.
func checkLogLines(t *testing.T, output string, ids map[string]bool, emf *[]metrics.Point) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(output, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || emulatorLine.MatchString(line) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("the function wrote a line that is not JSON: %q", line)
			continue
		}
		if _, ok := rec["_aws"]; ok {
			// A metric in embedded metric format (shared/metrics).
			p, err := metrics.Decode([]byte(line))
			if err != nil {
				t.Errorf("invalid EMF record: %v: %s", err, line)
			}
			*emf = append(*emf, p)
			continue
		}
		n++
		var missing []string
		for _, k := range []string{"timestamp", "level", "message"} {
			if _, ok := rec[k]; !ok {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("log record without %v: %s", missing, line)
		}
		if id, _ := rec["requestId"].(string); !ids[id] {
			t.Errorf("log record's requestId %q is none of the invocations' %v: %s", rec["requestId"], ids, line)
		}
	}
	return n
}
