// Package conformance holds what the vendor conformance suites
// (shared/psa/psatest, shared/rmm/rmmtest) share: the T they run on (a
// *testing.T, or a Recorder when a meta-test checks that a suite catches a
// broken client), the fault-injection and credential subtests every vendor
// client must pass, and the log of errors checked for leaked secrets.
package conformance

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// T is what a suite runs on: testing.TB plus subtests.
type T interface {
	testing.TB
	// Run runs f as a subtest named name and reports whether it passed.
	Run(name string, f func(t T)) bool
}

// Adapt makes a *testing.T a T.
func Adapt(t *testing.T) T { return adapter{t} }

type adapter struct{ *testing.T }

func (a adapter) Run(name string, f func(T)) bool {
	return a.T.Run(name, func(t *testing.T) { f(adapter{t}) })
}

// Recorder is a T that records failures instead of reporting them, so a
// meta-test can run a suite against a deliberately broken client and
// assert that the suite failed. Helper, Cleanup, TempDir, Context and the
// like are the real test's. Fatal, FailNow and Skip end the calling
// goroutine (every subtest runs in its own); a Skip counts as a failure,
// since suites never skip.
type Recorder struct {
	testing.TB
	name   string
	parent *Recorder

	mu       sync.Mutex
	failed   bool
	failures []string
}

// NewRecorder returns a Recorder whose resources belong to tb.
func NewRecorder(tb testing.TB) *Recorder { return &Recorder{TB: tb, name: tb.Name()} }

// Record runs f on a new Recorder in its own goroutine (so that a Fatal
// inside f ends only f) and returns the Recorder once f returned.
func Record(tb testing.TB, f func(t T)) *Recorder {
	r := NewRecorder(tb)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

// Name returns the recorder's test name, with its subtest path.
func (r *Recorder) Name() string { return r.name }

func (r *Recorder) fail(msg string) {
	for x := r; x != nil; x = x.parent {
		x.mu.Lock()
		x.failed = true
		x.failures = append(x.failures, r.name+": "+msg)
		x.mu.Unlock()
	}
}

// Errorf records a failure.
func (r *Recorder) Errorf(format string, args ...any) { r.fail(fmt.Sprintf(format, args...)) }

// Error records a failure.
func (r *Recorder) Error(args ...any) { r.fail(strings.TrimSuffix(fmt.Sprintln(args...), "\n")) }

// Fatalf records a failure and ends the goroutine.
func (r *Recorder) Fatalf(format string, args ...any) {
	r.fail(fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// Fatal records a failure and ends the goroutine.
func (r *Recorder) Fatal(args ...any) {
	r.fail(strings.TrimSuffix(fmt.Sprintln(args...), "\n"))
	runtime.Goexit()
}

// Fail records a failure.
func (r *Recorder) Fail() { r.fail("Fail called") }

// FailNow records a failure and ends the goroutine.
func (r *Recorder) FailNow() {
	r.fail("FailNow called")
	runtime.Goexit()
}

// Failed reports whether a failure was recorded here or in a subtest.
func (r *Recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// Skip records a failure (suites never skip) and ends the goroutine.
func (r *Recorder) Skip(args ...any) {
	r.fail("skipped: " + strings.TrimSuffix(fmt.Sprintln(args...), "\n"))
	runtime.Goexit()
}

// Skipf records a failure (suites never skip) and ends the goroutine.
func (r *Recorder) Skipf(format string, args ...any) {
	r.fail("skipped: " + fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// SkipNow records a failure (suites never skip) and ends the goroutine.
func (r *Recorder) SkipNow() {
	r.fail("skipped")
	runtime.Goexit()
}

// Skipped reports false: a Recorder never skips.
func (r *Recorder) Skipped() bool { return false }

// Log discards its arguments (the suites' progress notes would drown the
// meta-test's own output).
func (r *Recorder) Log(...any) {}

// Logf discards its arguments.
func (r *Recorder) Logf(string, ...any) {}

// Run runs f as a sub-recorder in its own goroutine and waits for it.
func (r *Recorder) Run(name string, f func(T)) bool {
	child := &Recorder{TB: r.TB, name: r.name + "/" + name, parent: r}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(child)
	}()
	<-done
	return !child.Failed()
}

// Failures returns the recorded failure messages, each prefixed with the
// (sub)test that reported it.
func (r *Recorder) Failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.failures...)
}

// FailedIn reports whether a failure was recorded by a (sub)test whose
// name contains part.
func (r *Recorder) FailedIn(part string) bool {
	for _, f := range r.Failures() {
		name, _, _ := strings.Cut(f, ": ")
		if strings.Contains(name, part) {
			return true
		}
	}
	return false
}
