package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/devtools/localrun"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/rie"
)

// coldStartEvents is the event each function's cold starts are invoked
// with (init is over before the event is read; any event it serves will do).
var coldStartEvents = map[string]string{
	"api":             "events/api-health.json",
	"users":           "events/users-login-bad-credentials.json",
	"console":         "events/console-asset.json",
	"authorizer":      "events/authorizer-request.json",
	"alert-webhook":   "events/alert-webhook-ninjaone.json",
	"alert-worker":    "events/sqs-alert.json",
	"import-dispatch": "events/sqs-import.json",
	"asset-refresh":   "events/sqs-asset.json",
	"scheduler":       "events/scheduler-tick.json",
}

// helloName is the hello-world function's row.
const helloName = "hello"

// sdkFloorName is the row of hello with the DynamoDB, SQS and Secrets
// Manager clients linked (rie.SDKFloorPackage): what the SDK's own
// initialisation costs, printed for information under the functions.
const sdkFloorName = "sdk floor"

// runColdStart measures each function's init phase under the emulator
// beside the hello-world function's, interleaved round by round (each
// round starts every function once, in a rotated order, so load on the
// machine falls on all alike), and prints the medians and ratios. It fails
// when a function's median exceeds maxRatio × hello's.
func runColdStart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("coldstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 101, "cold starts per function (>= 10 for the report; at 21 the medians' run-to-run spread was about ±0.2, at 101 about ±0.05)")
	maxRatio := fs.Float64("max-ratio", 1.5, "largest allowed median init / hello's median init")
	only := fs.String("fn", "", "comma-separated functions to measure (default all)")
	raw := fs.String("samples", "", "also write every sample to this CSV file (round,function,init_ms)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return fmt.Errorf("-n must be at least 1")
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	fns := rie.Functions
	if *only != "" {
		fns = nil
		for _, d := range strings.Split(*only, ",") {
			if rie.LogicalID(d) == "" {
				return fmt.Errorf("-fn %q: no such function (choose from %s)", d, functionDirs())
			}
			fns = append(fns, struct{ Dir, LogicalID string }{d, rie.LogicalID(d)})
		}
	}
	m, err := motoserver.Start(ctx, nil)
	if err != nil {
		return err
	}
	defer m.Stop()
	cfg, err := motoserver.AWSConfig(ctx, m.Endpoint)
	if err != nil {
		return err
	}
	envs, err := localrun.Environments(ctx, localrun.Options{
		TemplatePath: filepath.Join(root, "template.yaml"), AWS: cfg, StackName: "coldstart",
	})
	if err != nil {
		return err
	}
	emulator, err := rie.EmulatorPath(ctx, root)
	if err != nil {
		return err
	}
	pkgs := []string{rie.HelloPackage, rie.SDKFloorPackage}
	for _, f := range fns {
		pkgs = append(pkgs, "./functions/"+f.Dir)
	}
	fmt.Fprintf(stderr, "building %d bootstraps for this machine (CGO_ENABLED=0, -tags lambda.norpc) …\n", len(pkgs))
	dir, err := os.MkdirTemp("", "rmmbridge-coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins, err := rie.Build(ctx, root, dir, pkgs...)
	if err != nil {
		return err
	}

	type subject struct {
		name, bin string
		env       map[string]string
		payload   []byte
	}
	subjects := []subject{{name: helloName, bin: bins[rie.HelloPackage], payload: []byte(`{}`),
		env: rie.RuntimeEnv(map[string]string{"AWS_REGION": cfg.Region}, "")},
		{name: sdkFloorName, bin: bins[rie.SDKFloorPackage], payload: []byte(`{}`),
			env: rie.RuntimeEnv(map[string]string{"AWS_REGION": cfg.Region}, "")}}
	for _, f := range fns {
		payload, err := os.ReadFile(filepath.Join(root, coldStartEvents[f.Dir]))
		if err != nil {
			return fmt.Errorf("event for %s: %w", f.Dir, err)
		}
		subjects = append(subjects, subject{name: f.Dir, bin: bins["./functions/"+f.Dir], payload: payload,
			env: rie.RuntimeEnv(envs[f.LogicalID].Env, aws.ToString(cfg.BaseEndpoint))})
	}
	samples := map[string][]time.Duration{}
	var rows []string
	loadBefore := loadAverage()
	// Round 0 is a warm-up, not recorded: each binary's first start after
	// the build pays for reading it into the page cache.
	for round := 0; round <= *n; round++ {
		for i := range subjects {
			s := subjects[(i+round)%len(subjects)]
			d, err := coldStart(ctx, emulator, s.bin, s.env, s.payload)
			if err != nil {
				return fmt.Errorf("cold start of %s: %w", s.name, err)
			}
			if round > 0 {
				samples[s.name] = append(samples[s.name], d)
				rows = append(rows, fmt.Sprintf("%d,%s,%.3f", round, s.name, ms(d)))
			}
		}
		fmt.Fprintf(stderr, "round %d/%d\n", round, *n)
	}
	if *raw != "" {
		if err := os.WriteFile(*raw, []byte("round,function,init_ms\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
			return fmt.Errorf("-samples: %w", err)
		}
	}
	table, failed := coldStartTable(samples, fns, *maxRatio)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(stdout, "cold start under the Lambda runtime emulator, median of %d each, interleaved (target <= %.2fx hello); load average %s before, %s after\n",
		*n, *maxRatio, loadBefore, loadAverage())
	fmt.Fprintln(tw, "function\tinit ms\thello ms\tratio\t\tmin ms\thello min\tmin ratio\t")
	for _, r := range table {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.2f\t%s\t%.1f\t%.1f\t%.2f\t\n", r.name, ms(r.init), ms(r.hello), r.ratio, r.verdict,
			ms(r.minInit), ms(r.minHello), float64(r.minInit)/float64(max(r.minHello, 1)))
	}
	if floor := samples[sdkFloorName]; len(floor) > 0 {
		// For information: the SDK clients' own initialisation, not judged.
		h, f := median(samples[helloName]), median(floor)
		fmt.Fprintf(tw, "(%s)\t%.1f\t%.1f\t%.2f\t\t%.1f\t%.1f\t%.2f\t\n", sdkFloorName, ms(f), ms(h), float64(f)/float64(max(h, 1)),
			ms(slices.Min(floor)), ms(slices.Min(samples[helloName])), float64(slices.Min(floor))/float64(max(slices.Min(samples[helloName]), 1)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("cold start above %.2fx hello's: %s", *maxRatio, strings.Join(failed, ", "))
	}
	return nil
}

// loadAverage is the machine's 1-minute load average (Linux), printed
// beside the figures: on a loaded machine they spread more.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "n/a"
}

// coldStart starts a fresh emulator, invokes the function once and returns
// the init phase the emulator measured.
func coldStart(ctx context.Context, emulator, bin string, env map[string]string, payload []byte) (time.Duration, error) {
	em, _, err := rie.StartInvoke(ctx, rie.Options{Emulator: emulator, Bootstrap: bin, Env: env}, "", payload)
	if em != nil {
		defer em.Stop()
	}
	if err != nil {
		return 0, err
	}
	return em.InitDuration()
}

type coldStartRow struct {
	name        string
	init, hello time.Duration // medians
	ratio       float64
	verdict     string
	// The fastest cold starts, shown beside the medians: on a loaded
	// machine they are the steadier estimate of the function's own cost.
	minInit, minHello time.Duration
}

// coldStartTable is one row per function: its median init beside hello's
// and the ratio, "ok" or "OVER" against maxRatio (the target is on the
// medians); failed names those over.
func coldStartTable(samples map[string][]time.Duration, fns []struct{ Dir, LogicalID string }, maxRatio float64) (rows []coldStartRow, failed []string) {
	hello := median(samples[helloName])
	for _, f := range fns {
		r := coldStartRow{name: f.Dir, init: median(samples[f.Dir]), hello: hello, verdict: "ok",
			minInit: slices.Min(append(samples[f.Dir], time.Hour)), minHello: slices.Min(append(samples[helloName], time.Hour))}
		if hello > 0 {
			r.ratio = float64(r.init) / float64(hello)
		}
		if hello <= 0 || r.ratio > maxRatio {
			r.verdict = "OVER"
			failed = append(failed, f.Dir)
		}
		rows = append(rows, r)
	}
	return rows, failed
}

// median of the samples (the mean of the middle two for an even count).
func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
