// Package rie runs a function's real bootstrap — built the way the deploy
// builds it, CGO_ENABLED=0 and -tags lambda.norpc, for this machine — under
// AWS's Lambda runtime interface emulator (what `sam local` runs inside its
// container), pinned in go.mod as a tool (`go tool aws-lambda-rie`). It is
// `sam local invoke` without Docker: `make invoke`, the runtime-contract
// test (shared/devtools/lambdaset) and the cold-start benchmark use it.
//
// The emulator listens on two free 127.0.0.1 ports (its invoke endpoint and
// the Runtime API the bootstrap polls) and gives the bootstrap exactly the
// environment it is told, as Lambda gives a function its template's
// variables, plus the runtime's own.
package rie

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Functions maps each directory under functions/ to its template.yaml
// logical id, in the Makefile's order.
var Functions = []struct{ Dir, LogicalID string }{
	{"api", "ApiFunction"},
	{"users", "UsersFunction"},
	{"console", "ConsoleFunction"},
	{"authorizer", "AuthorizerFunction"},
	{"alert-webhook", "AlertWebhookFunction"},
	{"alert-worker", "AlertWorkerFunction"},
	{"import-dispatch", "ImportDispatchFunction"},
	{"asset-refresh", "AssetRefreshFunction"},
	{"scheduler", "SchedulerFunction"},
}

// LogicalID returns the template logical id of a functions/ directory, ""
// for an unknown one.
func LogicalID(dir string) string {
	for _, f := range Functions {
		if f.Dir == dir {
			return f.LogicalID
		}
	}
	return ""
}

// HelloPackage is the hello-world Go function cold starts are compared
// with: lambda.Start on a handler that answers a constant, nothing else.
const HelloPackage = "./shared/devtools/rie/testdata/hello"

// SDKFloorPackage is hello with the AWS SDK clients the queue workers use
// (DynamoDB, SQS, Secrets Manager) linked but unused: the cold start of
// their package initialisation alone, which no function using them can go
// under.
const SDKFloorPackage = "./shared/devtools/rie/testdata/sdkfloor"

// BuildFlags are the deploy build's flags (the Makefile's GOFLAGS_LAMBDA
// without the version stamp); CGO_ENABLED=0 is set in the environment.
var BuildFlags = []string{"-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w"}

// Build compiles main packages (paths relative to the module root, e.g.
// "./functions/api") for this machine with the deploy build's flags, in one
// go build, and returns each one's binary: outDir/<last path element>/bootstrap.
func Build(ctx context.Context, root, outDir string, pkgs ...string) (map[string]string, error) {
	tmp := filepath.Join(outDir, ".build")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("build dir: %w", err)
	}
	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", tmp+string(filepath.Separator))
	args = append(args, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, out)
	}
	bins := map[string]string{}
	for _, p := range pkgs {
		name := filepath.Base(p)
		dst := filepath.Join(outDir, name, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("build dir: %w", err)
		}
		if err := os.Rename(filepath.Join(tmp, name), dst); err != nil {
			return nil, fmt.Errorf("place bootstrap of %s: %w", p, err)
		}
		bins[p] = dst
	}
	return bins, nil
}

// EmulatorPath builds (or finds in the build cache) the pinned emulator and
// returns its path: `go tool -n aws-lambda-rie` in the module root.
func EmulatorPath(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "tool", "-n", "aws-lambda-rie")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool -n aws-lambda-rie: %w: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// RuntimeEnv completes a function's environment (localrun.Environments)
// with what Lambda adds: template.yaml's LoggingConfig (LogFormat JSON,
// the application log level), credentials, and the AWS endpoint the
// function's SDK clients must use (the local moto; "" for none).
func RuntimeEnv(fnEnv map[string]string, endpoint string) map[string]string {
	env := map[string]string{
		"AWS_LAMBDA_LOG_FORMAT": "JSON",
		"AWS_ACCESS_KEY_ID":     "testing",
		"AWS_SECRET_ACCESS_KEY": "testing",
	}
	if lvl := fnEnv["LOG_LEVEL"]; lvl != "" {
		env["AWS_LAMBDA_LOG_LEVEL"] = lvl
	}
	if endpoint != "" {
		env["AWS_ENDPOINT_URL"] = endpoint
	}
	for k, v := range fnEnv {
		env[k] = v
	}
	return env
}

// Options start one emulated function.
type Options struct {
	// Emulator is the aws-lambda-rie binary (EmulatorPath).
	Emulator string
	// Bootstrap is the function's binary.
	Bootstrap string
	// Env is the function's environment (its template variables and the
	// runtime's: region, credentials, AWS_LAMBDA_LOG_FORMAT...). Nothing of
	// this process's environment is passed on but PATH.
	Env map[string]string
	// Timeout is the function's timeout (AWS_LAMBDA_FUNCTION_TIMEOUT),
	// default 30 s.
	Timeout time.Duration
}

// Emulator is a running emulator with its function.
type Emulator struct {
	cmd  *exec.Cmd
	url  string
	out  *lockedBuffer
	done chan error
}

// Start starts the emulator on free loopback ports. The bootstrap starts on
// the first Invoke, as in Lambda (that invocation is the cold start).
func Start(ctx context.Context, o Options) (*Emulator, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		e, err := start(ctx, o)
		if err == nil {
			return e, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(ctx context.Context, o Options) (*Emulator, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	invokeAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	runtimeAddr := "127.0.0.1:" + strconv.Itoa(ports[1])
	cmd := exec.Command(o.Emulator,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr,
		o.Bootstrap)
	cmd.Dir = filepath.Dir(o.Bootstrap)
	env := []string{"PATH=" + os.Getenv("PATH"),
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(int(o.Timeout/time.Second))}
	keys := make([]string, 0, len(o.Env))
	for k := range o.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+o.Env[k])
	}
	cmd.Env = env
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	e := &Emulator{cmd: cmd, url: "http://" + invokeAddr + "/2015-03-31/functions/function/invocations", out: out, done: make(chan error, 1)}
	go func() { e.done <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", invokeAddr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return e, nil
		}
		select {
		case werr := <-e.done:
			e.done <- werr
			return nil, fmt.Errorf("emulator exited before listening (%v): %s", werr, out.String())
		case <-ctx.Done():
			e.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.Stop()
			return nil, fmt.Errorf("emulator did not listen on %s: %s", invokeAddr, out.String())
		}
	}
}

// Invoke sends one event as invocation requestID ("" lets the emulator
// pick one) and returns the function's answer. A failed invocation (a
// handler error, a crash at init, a timeout) is an error carrying the
// answer and the logs.
func (e *Emulator) Invoke(ctx context.Context, requestID string, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	if requestID != "" {
		req.Header.Set("X-Amzn-RequestId", requestID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w\n%s", err, e.Output())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("invoke: emulator answered %d: %s\n%s", resp.StatusCode, body, e.Output())
	}
	return body, nil
}

// StartInvoke starts an emulator and sends it its first (cold) invocation,
// retrying with a fresh emulator, up to three times, when the emulator lost
// its own start-up race: it starts the bootstrap before its Runtime API
// listens (on a loaded machine), so the runtime's first call for the next
// event is refused and the runtime exits. That is the emulator's fault,
// never the function's; every other failure is returned at once. The
// caller stops the emulator.
func StartInvoke(ctx context.Context, o Options, requestID string, payload []byte) (*Emulator, []byte, error) {
	for attempt := 1; ; attempt++ {
		e, err := Start(ctx, o)
		if err != nil {
			return nil, nil, err
		}
		out, err := e.Invoke(ctx, requestID, payload)
		if err == nil || attempt == 3 || !lostStartRace(e.Output()) {
			return e, out, err
		}
		e.Stop()
	}
}

// lostStartRace says whether the runtime found the emulator's Runtime API
// not yet listening.
func lostStartRace(output string) bool {
	return strings.Contains(output, "/runtime/invocation/next") && strings.Contains(output, "connection refused")
}

// Output is everything the emulator and the function wrote so far: the
// emulator's own lines, START/END/REPORT, and the function's logs.
func (e *Emulator) Output() string { return e.out.String() }

// WaitFor waits up to d for s to appear in Output and says whether it
// did: the function's output reaches the emulator's through a pipe, so a
// line written just before the answer may arrive just after it.
func (e *Emulator) WaitFor(s string, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if strings.Contains(e.Output(), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// initReport is the emulator's line for a finished init phase: from the
// runtime's start to its first call for the next invocation.
var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// InitDuration is the function's init phase as the emulator measured it
// (its "INIT REPORT" line), available once the first Invoke returned.
// The emulator may write the line just after the answer: this waits for
// it up to two seconds.
func (e *Emulator) InitDuration() (time.Duration, error) {
	var m []string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m = initReport.FindStringSubmatch(e.Output()); m != nil {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no INIT REPORT in the emulator's output:\n%s", e.Output())
		}
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("parse INIT REPORT %q: %w", m[1], err)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// Stop kills the emulator and its function. The emulator runs the
// bootstrap in a process group of its own and does not take it along when
// killed, so the bootstrap (the emulator's child, read from /proc) is
// killed by its pid too.
func (e *Emulator) Stop() {
	if e.cmd.Process == nil {
		return
	}
	pid := e.cmd.Process.Pid
	children := childPIDs(pid)
	_ = e.cmd.Process.Kill()
	for _, c := range children {
		if p, err := os.FindProcess(c); err == nil {
			_ = p.Kill()
		}
	}
	select {
	case err := <-e.done:
		e.done <- err
	case <-time.After(5 * time.Second):
	}
}

// childPIDs lists a process's children (Linux's /proc/<pid>/task/*/children).
func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
