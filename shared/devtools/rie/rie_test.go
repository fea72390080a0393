package rie

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelloUnderEmulator builds the hello-world function with the deploy
// flags, invokes it cold and warm under the pinned emulator, reads its
// init phase, and checks Stop leaves no process behind, neither the
// emulator nor the bootstrap it runs in a process group of its own.
func TestHelloUnderEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	emulator, err := EmulatorPath(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	bins, err := Build(ctx, root, t.TempDir(), HelloPackage, SDKFloorPackage)
	if err != nil {
		t.Fatal(err)
	}
	// The SDK floor the cold-start benchmark prints answers as hello does.
	floor, fout, err := StartInvoke(ctx, Options{Emulator: emulator, Bootstrap: bins[SDKFloorPackage],
		Env: RuntimeEnv(map[string]string{"AWS_REGION": "us-east-1"}, "")}, "floor-1", []byte(`{}`))
	if floor != nil {
		floor.Stop()
	}
	if err != nil || strings.TrimSpace(string(fout)) != `{"hello":"world"}` {
		t.Errorf("the SDK floor answered %s, %v", fout, err)
	}
	e, out, err := StartInvoke(ctx, Options{Emulator: emulator, Bootstrap: bins[HelloPackage],
		Env: RuntimeEnv(map[string]string{"AWS_REGION": "us-east-1"}, "")}, "req-1", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			e.Stop()
		}
	}()
	if strings.TrimSpace(string(out)) != `{"hello":"world"}` {
		t.Errorf("cold answer %s", out)
	}
	if out, err := e.Invoke(ctx, "req-2", []byte(`{}`)); err != nil || strings.TrimSpace(string(out)) != `{"hello":"world"}` {
		t.Errorf("warm answer %s, %v", out, err)
	}
	if d, err := e.InitDuration(); err != nil || d <= 0 || d > 10*time.Second {
		t.Errorf("InitDuration = %v, %v", d, err)
	}
	// The emulator may write an invocation's lines just after its answer.
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(e.Output(), "START RequestId: req-2") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(e.Output(), "START RequestId: req-2") {
		t.Errorf("the emulator did not run invocation req-2:\n%s", e.Output())
	}
	pids := append(childPIDs(e.cmd.Process.Pid), e.cmd.Process.Pid)
	if len(pids) < 2 {
		t.Fatalf("no bootstrap process under the emulator (pids %v)", pids)
	}
	e.Stop()
	stopped = true
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still runs after Stop", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// alive says whether pid runs (a zombie awaiting its parent counts as gone).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	return err == nil && !strings.Contains(string(b), ") Z ")
}
