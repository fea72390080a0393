package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxes"
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// benchOptions are `rmmbridge bench`'s flags.
type benchOptions struct {
	rmm, psa      string // sandboxes
	orgs, devices int
	changed       float64 // percent of devices changed before the re-import
	psaAssets     bool
	motoSQS       bool
	plainMoto     bool
	template      string
	timeout       time.Duration
	verbose       bool
	// budget (requests per minute) runs the Autotask budget benchmark
	// (bench_budget.go) instead of the import and re-import; alertEvery
	// paces its alert webhooks.
	budget     int
	alertEvery time.Duration
	stall      time.Duration
}

const benchUsage = `usage: rmmbridge bench [--rmm NAME] [--psa NAME] [--devices N] [--orgs N] [--changed PCT] [--psa-assets] [--timeout D]
       rmmbridge bench --rmm ninjaone --psa autotask --budget N [--alert-every D] [--stall D] [--devices N] [--orgs N]

An end-to-end asset import through the local stack (moto for DynamoDB and Secrets Manager,
an RMM and a PSA sandbox — NinjaOne and ConnectWise unless --rmm and --psa say otherwise —,
the HTTP API and the SQS pollers), then a re-import
with a share of the devices changed in the RMM. It prints wall time, devices/s, vendor and
DynamoDB requests per device, the peak RSS of this process (stack, sandboxes, queue) and of
moto_server, and checks the targets: PSA asset writes per new device ≤ 1.02, no PSA write
for an unchanged device, no duplicate asset or account. Defaults come from
RMMBRIDGE_BENCH_DEVICES and RMMBRIDGE_BENCH_ORGS when set.

With --budget N it runs the Autotask request-budget benchmark instead (issue 12): one asset
import into the Autotask sandbox, whose threshold is set so that Autotask's default calibrated
budget is N requests a minute, with a NinjaOne alert webhook every --alert-every during it. On
the sandbox's own request log it checks: no 60 s window over N, at least 90 % of the budget used
from one window after the import's first request to its last CI create, at most 3 requests in
flight per endpoint and none refused, alert → ticket p99 under 5 s, no duplicate CI or company.

moto 5.2.1 deep-copies the whole table before every operation of a TransactWriteItems, so
each transaction costs time and memory in proportion to the table (20/s and a megabyte each,
kept, at a few thousand items), and a cancelled transaction's rollback can undo concurrent
writes (lost counter increments: a job that never finishes). The benchmark therefore runs
moto through scripts/moto-server, as make dev does (transactions roll back only the items
they touch; DynamoDB requests are served one at a time), unless --plain-moto is given.
`

// Defaults: the benchmark size.
const (
	defaultBenchDevices = 10000
	defaultBenchOrgs    = 200
)

// runBench is `rmmbridge bench`.
func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	var o benchOptions
	fs.StringVar(&o.rmm, "rmm", devstack.DefaultRMM, "RMM sandbox: "+sandboxes.Choices(vendorspec.KindRMM))
	fs.StringVar(&o.psa, "psa", devstack.DefaultPSA, "PSA sandbox: "+sandboxes.Choices(vendorspec.KindPSA))
	fs.IntVar(&o.devices, "devices", envInt(getenv, "RMMBRIDGE_BENCH_DEVICES", defaultBenchDevices), "RMM devices to import")
	fs.IntVar(&o.orgs, "orgs", envInt(getenv, "RMMBRIDGE_BENCH_ORGS", defaultBenchOrgs), "RMM organizations they belong to")
	fs.Float64Var(&o.changed, "changed", 1, "percent of devices changed in the RMM before the re-import")
	fs.BoolVar(&o.psaAssets, "psa-assets", false, "seed the PSA with existing assets for some devices (adopted, not created)")
	fs.BoolVar(&o.motoSQS, "moto-sqs", false, "use moto's SQS instead of the in-memory one (slow beyond a few thousand messages)")
	fs.BoolVar(&o.plainMoto, "plain-moto", false, "run moto_server as is (its TransactWriteItems copies the whole table per operation, slow past a few thousand items, and its rollback can undo concurrent writes)")
	fs.StringVar(&o.template, "template", "template.yaml", "SAM template to run")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Minute, "give up after this long")
	fs.BoolVar(&o.verbose, "v", false, "stack logs on stderr")
	fs.IntVar(&o.budget, "budget", 0, "requests per minute: instead of the import and re-import, import the devices into the Autotask sandbox under this budget with alert webhooks arriving, and check the budget's targets (issue 12)")
	fs.DurationVar(&o.alertEvery, "alert-every", 2500*time.Millisecond, "with --budget: one alert webhook this often during the import")
	fs.DurationVar(&o.stall, "stall", 3*time.Minute, "with --budget: stop waiting for an import whose progress stood still this long, fail it and measure what was done (0: wait until --timeout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.devices < 1 || o.orgs < 1 || o.changed < 0 || o.changed > 100 {
		return fmt.Errorf("--devices and --orgs must be positive and --changed a percentage")
	}
	if o.budget < 0 || o.budget > 0 && (o.budget < 2 || o.psa != "autotask" || o.rmm != "ninjaone" || o.alertEvery <= 0) {
		return fmt.Errorf("--budget must be at least 2 and runs with --rmm ninjaone --psa autotask and a positive --alert-every")
	}
	for _, c := range []struct {
		name string
		kind vendorspec.Kind
	}{{o.rmm, vendorspec.KindRMM}, {o.psa, vendorspec.KindPSA}} {
		if _, ok := sandboxes.Get(c.name, c.kind); !ok {
			return fmt.Errorf("--%s %s: no such sandbox (choose one of %s)", c.kind, c.name, sandboxes.Choices(c.kind))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	b := &bench{o: o, w: stdout}
	defer b.stop()
	if err := b.start(ctx, stderr); err != nil {
		return err
	}
	if o.budget > 0 {
		return b.runBudget(ctx)
	}
	return b.run(ctx)
}

func envInt(getenv func(string) string, name string, def int) int {
	if n, err := strconv.Atoi(getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// bench is one benchmark run.
type bench struct {
	o       benchOptions
	w       io.Writer
	moto    *motoserver.Server
	motoPID int
	aws     *awsCounter
	env     *devstack.Env
	api     *apiClient
}

func (b *bench) start(ctx context.Context, stderr io.Writer) error {
	began := time.Now()
	var (
		endpoint string
		err      error
	)
	if b.moto, err = motoserver.StartWith(ctx, nil, motoserver.StartOptions{SafeTransactions: !b.o.plainMoto}); err != nil {
		return err
	}
	endpoint, b.motoPID = b.moto.Endpoint, b.moto.PID()
	if b.aws, err = startAWSCounter(endpoint); err != nil {
		return err
	}
	logw := io.Discard
	if b.o.verbose {
		logw = stderr
	}
	log := slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	opt := devstack.Options{
		Template: b.o.template, StackName: "rmmbridge-bench", APIAddr: "127.0.0.1:0", RMM: b.o.rmm, PSA: b.o.psa, RMMAddr: "127.0.0.1:0", PSAAddr: "127.0.0.1:0",
		Endpoint: b.aws.url, Orgs: b.o.orgs, Devices: b.o.devices, NoPSAAssets: !b.o.psaAssets, Logger: log,
		PollWait: 200 * time.Millisecond, FastSQS: !b.o.motoSQS,
	}
	if b.env, err = devstack.Start(ctx, opt); err != nil {
		return fmt.Errorf("start the local stack: %w", err)
	}
	b.api = &apiClient{base: b.env.Stack.APIURL(), key: b.env.APIKey, http: &http.Client{Timeout: 60 * time.Second}}
	queues := "SQS in memory (fastsqs), DynamoDB and Secrets Manager on moto"
	if b.o.motoSQS {
		queues = "SQS, DynamoDB and Secrets Manager on moto"
	}
	if !b.o.plainMoto {
		queues += " (through scripts/moto-server: transactions roll back only what they touched, one DynamoDB request at a time; --plain-moto for moto as is)"
	}
	data := b.env.RMM.Data()
	fmt.Fprintf(b.w, "rmmbridge bench: %d devices over %d organizations (%s sandbox → %s sandbox); %s; stack up in %s\n",
		len(data.Devices), len(data.Orgs), b.env.RMM.Spec.DisplayName, b.env.PSA.Spec.DisplayName, queues, time.Since(began).Round(time.Millisecond))
	return nil
}

func (b *bench) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if b.env != nil {
		_ = b.env.Stop(ctx)
	}
	if b.aws != nil {
		_ = b.aws.srv.Close()
	}
	b.moto.Stop()
}

// snapshot is every counter the benchmark reads, at one moment.
type snapshot struct {
	at      time.Time
	psa     []sandboxspec.Request
	rmm     int64
	aws     map[string]int
	fastSQS map[string]int64
	selfCPU time.Duration
	motoCPU time.Duration
	configs int
}

func (b *bench) snap() snapshot {
	s := snapshot{at: time.Now(), psa: b.env.PSA.Requests(), rmm: b.env.RMM.Requests(), aws: b.aws.counts(),
		selfCPU: procCPU("self"), motoCPU: procCPU(strconv.Itoa(b.motoPID)), configs: len(b.env.PSA.Assets())}
	if b.env.FastSQS != nil {
		s.fastSQS = b.env.FastSQS.Stats().Requests
	}
	return s
}

// requestShape is a request's method and path with every run of digits
// as {n}, so reads of different records group together.
func requestShape(r sandboxspec.Request) string {
	path, _, _ := strings.Cut(r.Path, "?")
	var b strings.Builder
	digits := false
	for _, c := range path {
		if c >= '0' && c <= '9' {
			if !digits {
				b.WriteString("{n}")
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(c)
	}
	return r.Method + " " + b.String()
}

// topShapes lists the n most frequent shapes, "shape ×count", most first
// (ties by shape), and how many requests the rest are.
func topShapes(counts map[string]int, n int) string {
	shapes := make([]string, 0, len(counts))
	for s := range counts {
		shapes = append(shapes, s)
	}
	sort.Slice(shapes, func(i, j int) bool {
		if counts[shapes[i]] != counts[shapes[j]] {
			return counts[shapes[i]] > counts[shapes[j]]
		}
		return shapes[i] < shapes[j]
	})
	var parts []string
	rest := 0
	for i, s := range shapes {
		if i < n {
			parts = append(parts, fmt.Sprintf("%s ×%d", s, counts[s]))
		} else {
			rest += counts[s]
		}
	}
	if rest > 0 {
		parts = append(parts, fmt.Sprintf("%d others", rest))
	}
	return strings.Join(parts, ", ")
}

// targetChecks prints each target check as "[ok  ]" or "[FAIL]" and
// keeps the failed ones.
type targetChecks struct {
	w        io.Writer
	problems []string
}

func (c *targetChecks) check(ok bool, format string, args ...any) {
	mark := "ok  "
	if !ok {
		mark = "FAIL"
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(c.w, "  [%s] "+format+"\n", append([]any{mark}, args...)...)
}

// err names the missed targets, nil when none was.
func (c *targetChecks) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	return fmt.Errorf("benchmark targets missed: %s", strings.Join(c.problems, "; "))
}

// phase is what one import cost.
type phase struct {
	name                       string
	job                        importJobView
	wall                       time.Duration
	devices                    int
	psaRequests, psaWrites     int
	assetRequests              int // reads and writes of assets (configurations, CIs)
	assetWrites, accountWrites int
	reads                      map[string]int // PSA reads by "GET /path" with numbers as {n}
	rmmRequests                int64
	dynamo, sqs                int
	dynamoOps                  map[string]int
	selfCPU, motoCPU           time.Duration
}

func diff(name string, a, z snapshot, j importJobView) phase {
	p := phase{name: name, job: j, wall: z.at.Sub(a.at), devices: j.Counts.Total, rmmRequests: z.rmm - a.rmm,
		dynamoOps: map[string]int{}, reads: map[string]int{}, selfCPU: z.selfCPU - a.selfCPU, motoCPU: z.motoCPU - a.motoCPU}
	for _, r := range z.psa[len(a.psa):] {
		p.psaRequests++
		if r.Asset {
			p.assetRequests++
		}
		if r.Method == http.MethodGet {
			p.reads[requestShape(r)]++
			continue
		}
		p.psaWrites++
		if r.Asset {
			p.assetWrites++
		} else {
			p.accountWrites++
		}
	}
	for op, n := range z.aws {
		d := n - a.aws[op]
		switch {
		case d == 0:
		case strings.HasPrefix(op, "DynamoDB_20120810."):
			p.dynamo += d
			p.dynamoOps[strings.TrimPrefix(op, "DynamoDB_20120810.")] = d
		case strings.HasPrefix(op, "AmazonSQS."):
			p.sqs += d
		}
	}
	for op, n := range z.fastSQS {
		p.sqs += int(n - a.fastSQS[op])
	}
	return p
}

func (b *bench) run(ctx context.Context) error {
	targets := &targetChecks{w: b.w}
	check := targets.check
	devices := len(b.env.RMM.Data().Devices)
	seededConfigs := len(b.env.PSA.Assets())

	first, err := b.importOnce(ctx, "import")
	if err != nil {
		return err
	}
	b.print(first)
	created := first.job.Counts.Created
	check(first.job.Status == "succeeded" || first.job.Counts.Review > 0 && first.job.Counts.Failed == 0, "job %s (%s)", first.job.Status, first.job.Counts)
	check(first.job.Counts.Total == devices && first.job.Counts.done() == devices, "every device counted once: total %d, outcomes %d, devices %d", first.job.Counts.Total, first.job.Counts.done(), devices)
	if created > 0 {
		perNew := float64(first.assetWrites-first.job.Counts.Linked) / float64(created)
		check(perNew <= 1.02, "PSA asset writes per new device %.3f (target ≤ 1.02)", perNew)
	}
	modes, err := b.mappingModes(ctx)
	if err != nil {
		return err
	}
	dups, missing := b.duplicates(modes)
	check(dups == 0 && missing == 0, "PSA assets: %d devices with more than one, %d synced devices with none", dups, missing)
	accts := b.accountDuplicates(modes)
	check(accts == 0, "PSA accounts: %d organizations with a duplicate or missing account (%d linked, %d created, %d in review)",
		accts, countMode(modes, "linked"), countMode(modes, "created"), len(b.env.RMM.Data().Orgs)-len(modes))
	check(len(b.env.PSA.Assets())-seededConfigs == created, "assets created %d = devices created %d", len(b.env.PSA.Assets())-seededConfigs, created)

	n := int(float64(devices)*b.o.changed/100 + 0.5)
	changed := b.env.RMM.TouchDevices(n)
	// Devices of organizations in review stay review items, changed or not.
	orgOf := map[string]string{}
	for _, d := range b.env.RMM.Data().Devices {
		orgOf[d.ID] = d.OrgID
	}
	changedSynced := 0
	for _, id := range changed {
		if modes[orgOf[id]] != "" {
			changedSynced++
		}
	}
	second, err := b.importOnce(ctx, fmt.Sprintf("re-import, %d devices (%.3g %%) changed in the RMM", len(changed), b.o.changed))
	if err != nil {
		return err
	}
	b.print(second)
	c := second.job.Counts
	check(second.psaWrites == changedSynced, "PSA writes %d = changed devices of mapped organizations %d", second.psaWrites, changedSynced)
	check(c.Updated == changedSynced && c.Unchanged == devices-changedSynced-c.Review, "updated %d, unchanged %d", c.Updated, c.Unchanged)
	dups, missing = b.duplicates(modes)
	check(dups == 0 && missing == 0, "still no duplicate: %d, %d", dups, missing)

	b.table(first, second, check)

	fmt.Fprintf(b.w, "\npeak RSS: rmmbridge (stack, sandboxes, queues, this benchmark) %s; moto_server %s\n",
		mib(procHWM("self")), mib(procHWM(strconv.Itoa(b.motoPID))))
	fmt.Fprintf(b.w, "bottleneck: moto_server used %.0f %% of a core during the import and %.0f %% during the re-import (moto is single-threaded: near 100 %% means DynamoDB bounds throughput); rmmbridge used %.0f %% and %.0f %% of a core\n",
		100*first.motoCPU.Seconds()/first.wall.Seconds(), 100*second.motoCPU.Seconds()/second.wall.Seconds(),
		100*first.selfCPU.Seconds()/first.wall.Seconds(), 100*second.selfCPU.Seconds()/second.wall.Seconds())
	if err := targets.err(); err != nil {
		return err
	}
	return nil
}

// The per-device targets (issue 11).
const (
	targetPSANewDevice       = 1.05
	targetPSAUnchangedDevice = 0.02
	targetRMMPerDevice       = 0.10
	targetDynamoImport       = 4
	targetDynamoReimport     = 3
)

// table prints the per-device table for the import and the
// re-import and checks its targets:
//
//   - PSA requests per new device: the import's asset requests (reads and
//     writes of configurations/CIs, the account listings included) per
//     device created or linked; account and location requests are per
//     organization and reported beside it;
//   - PSA requests per unchanged device: the re-import's PSA requests
//     other than the changed devices' writes, per unchanged device;
//   - RMM and DynamoDB requests per device (DynamoDB includes the
//     benchmark's own job reads, one a second), and devices/s.
func (b *bench) table(first, second phase, check func(ok bool, format string, args ...any)) {
	per := func(n int, d int) float64 { return float64(n) / float64(max(d, 1)) }
	newDevices := first.job.Counts.Created + first.job.Counts.Linked
	psaNew := per(first.assetRequests, newDevices)
	unchanged := second.job.Counts.Unchanged
	psaUnchanged := per(second.psaRequests-second.psaWrites, unchanged)
	rmm1, rmm2 := per(int(first.rmmRequests), first.devices), per(int(second.rmmRequests), second.devices)
	dyn1, dyn2 := per(first.dynamo, first.devices), per(second.dynamo, second.devices)
	fmt.Fprintf(b.w, "\nper device (issue 11)                 import   re-import   target\n")
	fmt.Fprintf(b.w, "  PSA requests, new device           %7.3f           –   ≤ %.2f  (%d asset requests for %d devices created or linked; %d account/location requests)\n",
		psaNew, targetPSANewDevice, first.assetRequests, newDevices, first.psaRequests-first.assetRequests)
	fmt.Fprintf(b.w, "  PSA requests, unchanged device           –     %7.3f   ≤ %.2f  (%d requests besides %d writes, %d unchanged devices)\n",
		psaUnchanged, targetPSAUnchangedDevice, second.psaRequests-second.psaWrites, second.psaWrites, unchanged)
	if len(second.reads) > 0 {
		fmt.Fprintf(b.w, "    (re-import PSA reads: %s)\n", topShapes(second.reads, 4))
	}
	fmt.Fprintf(b.w, "  RMM requests                       %7.3f     %7.3f   ≤ %.2f\n", rmm1, rmm2, targetRMMPerDevice)
	fmt.Fprintf(b.w, "  DynamoDB requests                  %7.3f     %7.3f   ≤ %d / ≤ %d\n", dyn1, dyn2, targetDynamoImport, targetDynamoReimport)
	fmt.Fprintf(b.w, "  devices/s                          %7.1f     %7.1f\n", float64(first.devices)/first.wall.Seconds(), float64(second.devices)/second.wall.Seconds())
	if newDevices > 0 {
		check(psaNew <= targetPSANewDevice, "PSA requests per new device %.3f (target ≤ %.2f)", psaNew, targetPSANewDevice)
	}
	if unchanged > 0 {
		check(psaUnchanged <= targetPSAUnchangedDevice, "PSA requests per unchanged device %.3f (target ≤ %.2f)", psaUnchanged, targetPSAUnchangedDevice)
	}
	check(rmm1 <= targetRMMPerDevice && rmm2 <= targetRMMPerDevice, "RMM requests per device %.3f and %.3f (target ≤ %.2f)", rmm1, rmm2, targetRMMPerDevice)
	check(dyn1 <= targetDynamoImport, "DynamoDB requests per device, import %.3f (target ≤ %d)", dyn1, targetDynamoImport)
	check(dyn2 <= targetDynamoReimport, "DynamoDB requests per device, re-import %.3f (target ≤ %d)", dyn2, targetDynamoReimport)
}

// importOnce runs an asset import of every organization and waits for it,
// reading the job once a second.
func (b *bench) importOnce(ctx context.Context, name string) (phase, error) {
	fmt.Fprintf(b.w, "\n%s\n", name)
	a := b.snap()
	base := "/v1/integrations/" + b.env.IntegrationID + "/imports"
	var q struct{ ID string }
	if err := b.api.do(ctx, http.MethodPost, base, map[string]any{"kind": "assets", "createMissingAccounts": true}, &q); err != nil {
		return phase{}, err
	}
	j, err := watchImport(ctx, b.api, base+"/"+q.ID, time.Second, b.w, false, 15*time.Second)
	if err != nil {
		return phase{}, err
	}
	return diff(name, a, b.snap(), j), nil
}

func (b *bench) print(p phase) {
	per := func(n int64) float64 { return float64(n) / float64(max(p.devices, 1)) }
	fmt.Fprintf(b.w, "  wall time            %s (%s)\n", p.wall.Round(time.Millisecond), p.job.Counts)
	fmt.Fprintf(b.w, "  devices/s            %.1f\n", float64(p.devices)/p.wall.Seconds())
	fmt.Fprintf(b.w, "  PSA requests/device  %.3f (writes %d: %d asset, %d account/location)\n", per(int64(p.psaRequests)), p.psaWrites, p.assetWrites, p.accountWrites)
	fmt.Fprintf(b.w, "  RMM requests/device  %.3f\n", per(p.rmmRequests))
	fmt.Fprintf(b.w, "  DynamoDB req/device  %.3f (%s; includes the benchmark's own job reads, one a second)\n", per(int64(p.dynamo)), opsString(p.dynamoOps))
	fmt.Fprintf(b.w, "  SQS requests/device  %.3f\n", per(int64(p.sqs)))
}

// duplicates counts devices with more than one PSA asset carrying
// their id, and synced devices (every device of a mapped organization
// that is not a review item; no device of an organization in review)
// with none.
func (b *bench) duplicates(modes map[string]string) (dups, missing int) {
	by := map[string]int{}
	for _, a := range b.env.PSA.Assets() {
		if a.ExternalRef != "" {
			by[a.ExternalRef]++
		}
	}
	for _, d := range b.env.RMM.Data().Devices {
		switch by[d.ID] {
		case 0:
			if !b.o.psaAssets && modes[d.OrgID] != "" {
				missing++
			}
		case 1:
		default:
			dups++
		}
	}
	return dups, missing
}

// mappingModes returns each mapped organization's mapping mode (linked or
// created), read from the API; organizations in review are absent.
func (b *bench) mappingModes(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	type mapping struct {
		OrganizationID string `json:"organizationId"`
		Mode           string `json:"mode"`
	}
	err := listAll(ctx, b.api, "/v1/integrations/"+b.env.IntegrationID+"/mappings", "mappings", func(m mapping) {
		out[m.OrganizationID] = m.Mode
	})
	return out, err
}

// listAll reads every page of an API list (limit 100, nextCursor) and
// hands each item to each.
func listAll[T any](ctx context.Context, api *apiClient, path, what string, each func(T)) error {
	cursor := ""
	for {
		var page struct {
			Items      []T    `json:"items"`
			NextCursor string `json:"nextCursor"`
		}
		if err := api.do(ctx, http.MethodGet, path+"?limit=100&cursor="+url.QueryEscape(cursor), nil, &page); err != nil {
			return fmt.Errorf("list %s: %w", what, err)
		}
		for _, it := range page.Items {
			each(it)
		}
		if page.NextCursor == "" {
			return nil
		}
		cursor = page.NextCursor
	}
}

// accountDuplicates counts organizations whose accounts break the account
// decision: a created account must be the one company carrying the
// organization's reference, and an organization linked to an existing
// company, or in review (unmapped), must have none carrying it.
func (b *bench) accountDuplicates(modes map[string]string) int {
	by := map[string]int{}
	for _, a := range b.env.PSA.Accounts() {
		if a.ExternalRef != "" {
			by[a.ExternalRef]++
		}
	}
	bad := 0
	for _, o := range b.env.RMM.Data().Orgs {
		id := o.ID
		want := 0
		if modes[id] == "created" {
			want = 1
		}
		if by[id] != want {
			bad++
		}
	}
	return bad
}

func opsString(ops map[string]int) string {
	names := make([]string, 0, len(ops))
	for k := range ops {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return ops[names[i]] > ops[names[j]] })
	parts := make([]string, 0, len(names))
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %d", k, ops[k]))
	}
	return strings.Join(parts, ", ")
}

func mib(kb int64) string {
	if kb <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
}

// awsCounter is a reverse proxy in front of moto that counts requests by
// their X-Amz-Target (DynamoDB_20120810.PutItem, AmazonSQS.ReceiveMessage,
// …): every AWS call of the stack goes through it, so the counts are the
// stack's real calls, not an estimate.
type awsCounter struct {
	url string
	srv *http.Server
	mu  sync.Mutex
	ops map[string]int
}

func startAWSCounter(target string) (*awsCounter, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &awsCounter{url: "http://" + ln.Addr().String(), ops: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	c.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := r.Header.Get("X-Amz-Target")
		if op == "" {
			op = "other " + r.Method
		}
		c.mu.Lock()
		c.ops[op]++
		c.mu.Unlock()
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

func (c *awsCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.ops))
	for k, v := range c.ops {
		out[k] = v
	}
	return out
}

// procHWM is a process's peak resident set size in KiB (VmHWM), 0 when
// unknown. pid is a number or "self".
func procHWM(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// procCPU is a process's user+system CPU time so far (0 when unknown).
func procCPU(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

func countMode(modes map[string]string, mode string) int {
	n := 0
	for _, m := range modes {
		if m == mode {
			n++
		}
	}
	return n
}
