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

func TestStartWithFastTransactions(t *testing.T) {
	ctx := context.Background()
	var log syncBuffer
	s, err := StartWith(ctx, &log, StartOptions{FastTransactions: true})
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
	if !strings.Contains(log.String(), "moto-server: fast DynamoDB transactions on") {
		t.Errorf("launcher log lacks its banner:\n%s", log.String())
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

func TestStartWithFastTransactionsOutsideModule(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := StartWith(context.Background(), nil, StartOptions{FastTransactions: true})
	if err == nil || !strings.Contains(err.Error(), "no go.mod") {
		t.Fatalf("got %v, want an error saying no module root was found", err)
	}
}
