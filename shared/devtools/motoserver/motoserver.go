// Package motoserver starts and finds the moto server that stands in for
// DynamoDB, SQS and Secrets Manager on a developer's machine and in CI.
//
// The AWS SDK is pointed at it with the SDK's own AWS_ENDPOINT_URL variable;
// nothing in rmmbridge has custom endpoint plumbing.
package motoserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Server is a moto server child process listening on a loopback port.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	// Launcher is the path of scripts/moto-server when the server runs
	// through it (StartOptions.SafeTransactions), "" for plain moto_server.
	Launcher string
	cmd      *exec.Cmd
	done     chan struct{}
}

// PID is the server's process id (for CPU and memory figures).
func (s *Server) PID() int {
	if s == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Start runs moto_server on a free loopback port and waits until it answers.
// If moto_server is not on PATH it tries `pip install 'moto[server]'` once.
// Output goes to logw (io.Discard when nil).
func Start(ctx context.Context, logw io.Writer) (*Server, error) {
	return StartWith(ctx, logw, StartOptions{})
}

// StartOptions choose how StartWith runs moto.
type StartOptions struct {
	// SafeTransactions runs moto through the repository's
	// scripts/moto-server wrapper instead of moto_server: moto with
	// DynamoDB TransactWriteItems rolled back from a snapshot of the items
	// the transaction touches (moto's own deep-copies every table it names,
	// over a second per transaction at 20,000 items), and DynamoDB
	// requests served one at a time (moto's rollback of a cancelled
	// transaction otherwise undoes concurrent writes: lost counter
	// increments, import jobs that never finish). Semantics are moto's
	// own. The local stack (`make dev`, shared/devtools/devstack), the fault test
	// and the benchmark run it; the adapters' tests use plain moto.
	//
	// The wrapper is found at scripts/moto-server under the module root:
	// the first directory holding go.mod above the working directory (a
	// test's package directory, or the clone where `go run ./cmd/rmmbridge`
	// runs), else the module this package was compiled from.
	SafeTransactions bool
}

// StartWith is Start with options: it runs moto (or, with
// SafeTransactions, scripts/moto-server) on a free loopback port and waits
// until it answers. Output goes to logw (io.Discard when nil).
func StartWith(ctx context.Context, logw io.Writer, opts StartOptions) (*Server, error) {
	if logw == nil {
		logw = io.Discard
	}
	var launcher string
	if opts.SafeTransactions {
		var err error
		if launcher, err = findLauncher(); err != nil {
			return nil, err
		}
	}
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		fmt.Fprintln(logw, "moto_server not found; installing moto[server] with pip")
		install := exec.CommandContext(ctx, "python3", "-m", "pip", "install", "--quiet", "moto[server]")
		install.Stdout, install.Stderr = logw, logw
		if ierr := install.Run(); ierr != nil {
			return nil, fmt.Errorf("moto_server is not installed and pip install 'moto[server]' failed: %w", ierr)
		}
		if bin, err = exec.LookPath("moto_server"); err != nil {
			return nil, fmt.Errorf("moto_server still not on PATH after pip install: %w", err)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"-H", "127.0.0.1", "-p", strconv.Itoa(port)}
	name, cmd := "moto_server", exec.Command(bin, args...)
	if launcher != "" {
		name, cmd = launcherPath, exec.Command("python3", append([]string{launcher}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = logw, logw
	// Kill moto if we die without stopping it (test binaries, Ctrl-C races).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), Launcher: launcher, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx, name, 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// launcherPath is the transaction-safe wrapper, relative to the module
// root.
const launcherPath = "scripts/moto-server"

// findLauncher returns the wrapper's path: under the module root above the
// working directory (tests run in their package's directory; `make dev`
// and `go run ./cmd/rmmbridge` in the clone), else under the module root
// this file was compiled from (a binary built from a clone, run from
// elsewhere). The first error is returned when neither has it.
func findLauncher() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", launcherPath, err)
	}
	p, werr := launcherUnder(wd)
	if werr == nil {
		return p, nil
	}
	if root := sourceModuleRoot(); root != "" {
		if p, err := launcherUnder(root); err == nil {
			return p, nil
		}
	}
	return "", werr
}

// sourceModuleRoot is the module root of this source file
// (<root>/shared/devtools/motoserver/motoserver.go), "" when the binary was built
// without absolute source paths (-trimpath) or the file is gone.
func sourceModuleRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return ""
	}
	root := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(file))))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return ""
	}
	return root
}

func launcherUnder(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(d, filepath.FromSlash(launcherPath))
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("safe transactions need %s in the module root %s: %w", launcherPath, d, err)
			}
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("safe transactions need %s, but no go.mod (module root) is above %s", launcherPath, dir)
		}
	}
}

func (s *Server) waitReady(ctx context.Context, name string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("%s exited during start-up (see its output in the log writer)", name)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if Ping(s.Endpoint) == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer on %s within %s", name, s.Endpoint, limit)
}

// Stop ends the server and its process group.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Ping checks that a moto server answers at endpoint.
func Ping(endpoint string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(endpoint + "/moto-api/")
	if err != nil {
		return fmt.Errorf("moto at %s: %w", endpoint, err)
	}
	resp.Body.Close()
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// AWSConfig loads an SDK config whose endpoint is the moto server: static
// test credentials, us-east-1, and BaseEndpoint set the way AWS_ENDPOINT_URL
// would set it.
//
// The endpoint goes on the loaded config, not through
// config.WithBaseEndpoint: a load option is an in-code setting that wins
// over every endpoint variable, while the config's BaseEndpoint gives way
// to the SDK's service-specific ones. So AWS_ENDPOINT_URL_SQS (set before
// the SQS clients are made) sends SQS elsewhere, e.g. to fastsqs for bulk
// local runs, while DynamoDB and Secrets Manager stay on moto.
func AWSConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing", Source: "moto"}, nil
		})),
	)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config for moto: %w", err)
	}
	cfg.BaseEndpoint = aws.String(endpoint)
	return cfg, nil
}

// testServer is one moto server per test binary, started on first use.
type testServer struct {
	once     sync.Once
	endpoint string
	err      error
}

// config starts the server once (start returns its endpoint) and returns
// an SDK config on it; it fails the test when the server cannot be had.
func (ts *testServer) config(t testing.TB, what string, start func() (string, error)) aws.Config {
	t.Helper()
	ts.once.Do(func() { ts.endpoint, ts.err = start() })
	if ts.err != nil {
		t.Fatalf("%s is required for this test: %v", what, ts.err)
	}
	cfg, err := AWSConfig(context.Background(), ts.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var plainTest, safeTest testServer

// ForTest returns an SDK config pointed at moto for a test. It uses
// AWS_ENDPOINT_URL when `make test` has started a server, and otherwise
// starts one for this test binary (killed when the binary exits). A test
// that needs moto fails, never skips, when moto cannot be had.
func ForTest(t testing.TB) aws.Config {
	t.Helper()
	return plainTest.config(t, "moto", func() (string, error) {
		if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
			return ep, Ping(ep)
		}
		s, err := Start(context.Background(), nil)
		if err != nil {
			return "", err
		}
		return s.Endpoint, nil
	})
}

// SafeForTest is ForTest on moto behind scripts/moto-server
// (StartOptions.SafeTransactions), started once for this test binary
// whatever AWS_ENDPOINT_URL says: DynamoDB requests are served one at a
// time, so concurrent conditional writes exclude each other as in
// DynamoDB (plain moto checks a condition and writes without a lock, and
// two racing writers can both win). Tests of leases, claims and budgets
// under concurrency need it.
func SafeForTest(t testing.TB) aws.Config {
	t.Helper()
	return safeTest.config(t, "moto (scripts/moto-server)", func() (string, error) {
		s, err := StartWith(context.Background(), nil, StartOptions{SafeTransactions: true})
		if err != nil {
			return "", err
		}
		return s.Endpoint, nil
	})
}

// UniqueName returns a name unique to this test run, for tables and queues,
// so that tests sharing one moto server never see each other's data.
func UniqueName(prefix string) string {
	n := seq.Add(1)
	return fmt.Sprintf("%s-%d-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1_000_000, n)
}

var seq atomic.Int64
