package motoserver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func TestLauncherUnder(t *testing.T) {
	mkfile := func(t *testing.T, path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		files   []string // relative to the temp root
		from    string   // directory to search from, relative to the temp root
		want    string   // launcher path relative to the temp root; "" = error
		wantErr string
	}{
		{"from the module root", []string{"m/go.mod", "m/scripts/moto-server"}, "m", "m/scripts/moto-server", ""},
		{"from a package deep inside", []string{"m/go.mod", "m/scripts/moto-server", "m/shared/pkg/x.go"}, "m/shared/pkg", "m/scripts/moto-server", ""},
		{"nearest go.mod wins", []string{"go.mod", "scripts/moto-server", "m/go.mod", "m/scripts/moto-server", "m/a/x.go"}, "m/a", "m/scripts/moto-server", ""},
		{"module root without the launcher", []string{"m/go.mod", "m/a/x.go"}, "m/a", "", "scripts/moto-server in the module root"},
		{"no module root", []string{"m/a/x.go"}, "m/a", "", "no go.mod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tt.files {
				mkfile(t, filepath.Join(root, f))
			}
			got, err := launcherUnder(filepath.Join(root, tt.from))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got (%q, %v), want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(root, tt.want); got != want {
				t.Errorf("launcher = %q, want %q", got, want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe to read while a child process writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestStartWithSafeTransactions(t *testing.T) {
	ctx := context.Background()
	var log syncBuffer
	s, err := StartWith(ctx, &log, StartOptions{SafeTransactions: true})
	if err != nil {
		t.Fatalf("start: %v\n%s", err, log.String())
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			s.Stop()
		}
	})
	// The launcher announces the patch only after installing it.
	if !strings.Contains(log.String(), "moto-server: fast DynamoDB transactions on") ||
		!strings.Contains(log.String(), "DynamoDB requests one at a time") {
		t.Errorf("launcher log lacks its banner:\n%s", log.String())
	}
	want, err := filepath.Abs("../../../scripts/moto-server")
	if err != nil {
		t.Fatal(err)
	}
	if s.Launcher != want || s.PID() <= 0 {
		t.Errorf("server runs launcher %q as pid %d; want %q and a pid", s.Launcher, s.PID(), want)
	}
	cfg, err := AWSConfig(ctx, s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("DynamoDB through the launcher: %v", err)
	}
	s.Stop()
	stopped = true
	if err := Ping(s.Endpoint); err == nil {
		t.Errorf("server still answers on %s after Stop", s.Endpoint)
	}
}

// TestFindLauncherOutsideModule runs from a directory outside any module
// (a binary built from the clone, run elsewhere): the wrapper is found
// under the module this package was compiled from.
func TestFindLauncherOutsideModule(t *testing.T) {
	want, err := filepath.Abs("../../../scripts/moto-server")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	got, err := findLauncher()
	if err != nil || got != want {
		t.Fatalf("findLauncher() = %q, %v; want %q", got, err, want)
	}
}

// TestFindLauncherFromEveryPackage finds the wrapper from each directory a
// test or `go run ./cmd/rmmbridge` may run in: the module root and every
// package directory of the clone.
func TestFindLauncherFromEveryPackage(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, "scripts", "moto-server")
	dirs := []string{root}
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			if dir := filepath.Dir(p); dirs[len(dirs)-1] != dir {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 10 {
		t.Fatalf("found only %d package directories under %s", len(dirs), root)
	}
	for _, d := range dirs {
		if got, err := launcherUnder(d); err != nil || got != want {
			t.Errorf("from %s: launcher %q, %v; want %q", d, got, err, want)
		}
	}
}
