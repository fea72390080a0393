package localrun

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		expr string
		want time.Duration
		fail bool
		kind apperr.Kind
	}{
		{expr: "rate(1 minute)", want: time.Minute},
		{expr: "rate(5 minutes)", want: 5 * time.Minute},
		{expr: "rate(1 hour)", want: time.Hour},
		{expr: "rate(12 hours)", want: 12 * time.Hour},
		{expr: "rate(2 days)", want: 48 * time.Hour},
		{expr: "rate(1 minutes)", fail: true, kind: apperr.Invalid},
		{expr: "rate(5 minute)", fail: true, kind: apperr.Invalid},
		{expr: "rate(0 minutes)", fail: true, kind: apperr.Invalid},
		{expr: "rate(5 seconds)", fail: true, kind: apperr.Invalid},
		{expr: "every 5 minutes", fail: true, kind: apperr.Invalid},
		{expr: "cron(0 3 * * ? *)", fail: true, kind: apperr.NotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := parseRate(tt.expr)
			if tt.fail {
				if !apperr.Is(err, tt.kind) {
					t.Fatalf("parseRate = %v, %v; want a %s error", got, err, tt.kind)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseRate = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// tick is one scheduled invocation as the handler saw it.
type tick struct {
	fn        string
	ev        events.EventBridgeEvent
	raw       string
	requestID string
	deadline  time.Duration
}

// ticks records scheduled invocations; behave (optional) decides what the
// handler does.
type ticks struct {
	mu     sync.Mutex
	got    []tick
	behave func(ctx context.Context) error
}

func (r *ticks) factory(id string) lambdafn.Factory {
	return func(context.Context, func(string) string, aws.Config) (lambdafn.Handlers, error) {
		return lambdafn.Handlers{Scheduled: func(ctx context.Context, ev events.EventBridgeEvent) error {
			raw, _ := json.Marshal(ev)
			tk := tick{fn: id, ev: ev, raw: string(raw)}
			if lc, ok := lambdacontext.FromContext(ctx); ok {
				tk.requestID = lc.AwsRequestID
			}
			if dl, ok := ctx.Deadline(); ok {
				tk.deadline = time.Until(dl)
			}
			r.mu.Lock()
			r.got = append(r.got, tk)
			behave := r.behave
			r.mu.Unlock()
			if behave != nil {
				return behave(ctx)
			}
			return nil
		}}, nil
	}
}

func (r *ticks) all() []tick {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tick(nil), r.got...)
}

func (r *ticks) setBehave(f func(ctx context.Context) error) {
	r.mu.Lock()
	r.behave = f
	r.mu.Unlock()
}

// byRule counts the recorded ticks by the rule in their resources.
func (r *ticks) byRule() map[string]int {
	out := map[string]int{}
	for _, tk := range r.all() {
		for _, res := range tk.ev.Resources {
			out[res[strings.LastIndex(res, "/")+1:]]++
		}
	}
	return out
}

func scheduleOptions(t *testing.T, rec *ticks, logs *syncBuffer) Options {
	t.Helper()
	o := testOptions(t, &fakeFuncs{}, logs)
	o.TemplatePath = "testdata/schedule.yaml"
	o.Functions = map[string]lambdafn.Factory{
		"TickFunction":    rec.factory("TickFunction"),
		"NightlyFunction": rec.factory("NightlyFunction"),
		"PlainFunction": func(context.Context, func(string) string, aws.Config) (lambdafn.Handlers, error) {
			return lambdafn.Handlers{SQS: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				return events.SQSEventResponse{}, nil
			}}, nil
		},
	}
	return o
}

// TestScheduleTicks runs the schedules fast (ScheduleEvery): enabled
// events fire repeatedly with EventBridge's scheduled event and the
// function's deadline, a disabled one never, and nothing fires after Stop.
func TestScheduleTicks(t *testing.T) {
	rec := &ticks{}
	logs := &syncBuffer{}
	o := scheduleOptions(t, rec, logs)
	o.ScheduleEvery = 150 * time.Millisecond
	s := start(t, o, logs)
	waitFor(t, 10*time.Second, "two ticks of each enabled schedule", func() bool {
		n := rec.byRule()
		return n[o.StackName+"-TickFunctionTick"] >= 2 && n[o.StackName+"-NightlyFunctionNightly"] >= 2
	})
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	after := len(rec.all())
	time.Sleep(400 * time.Millisecond)
	if n := len(rec.all()); n != after {
		t.Errorf("%d ticks after Stop", n-after)
	}
	if n := rec.byRule()[o.StackName+"-TickFunctionPaused"]; n != 0 {
		t.Errorf("the disabled schedule fired %d times", n)
	}

	first := rec.all()[0]
	ev := first.ev
	wantRule := "arn:aws:events:" + o.AWS.Region + ":123456789012:rule/" + o.StackName + "-" + first.fn
	if first.fn == "TickFunction" {
		wantRule += "Tick"
	} else {
		wantRule += "Nightly"
	}
	type shape struct {
		Version, DetailType, Source, Account, Region, Detail string
		Resources                                            []string
	}
	got := shape{ev.Version, ev.DetailType, ev.Source, ev.AccountID, ev.Region, string(ev.Detail), ev.Resources}
	want := shape{"0", "Scheduled Event", "aws.events", "123456789012", o.AWS.Region, "{}", []string{wantRule}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scheduled event (-want +got):\n%s", diff)
	}
	if !ev.Time.Equal(ev.Time.Truncate(time.Second)) || time.Since(ev.Time) > time.Minute || ev.ID == "" {
		t.Errorf("event time %v id %q: want a whole second of now and an id", ev.Time, ev.ID)
	}
	if !strings.Contains(first.raw, `"detail-type":"Scheduled Event"`) {
		t.Errorf("event JSON lacks detail-type: %s", first.raw)
	}
	if first.requestID == "" || first.deadline <= 0 || first.deadline > time.Second {
		t.Errorf("request id %q deadline %v; want an id and the function's 1 s timeout", first.requestID, first.deadline)
	}
	if !strings.Contains(logs.String(), `"trigger":"schedule"`) {
		t.Errorf("no invocation log line for the ticks:\n%s", logs.String())
	}
}

// TestTrigger fires schedules on demand: the invocation's outcome comes
// back to the caller, and what has no schedule is NotFound.
func TestTrigger(t *testing.T) {
	rec := &ticks{}
	logs := &syncBuffer{}
	o := scheduleOptions(t, rec, logs)
	s := start(t, o, logs) // rate(1 minute): no tick during the test
	ctx := context.Background()
	tests := []struct {
		name     string
		function string
		behave   func(ctx context.Context) error
		ctx      func() (context.Context, context.CancelFunc)
		wantErr  string // "" for success
		// wantKind is checked when it is not the zero Kind (Internal).
		wantKind apperr.Kind
		wantRule string
	}{
		{name: "success", function: "TickFunction", wantRule: "TickFunctionTick"},
		{name: "cron schedule", function: "NightlyFunction", wantRule: "NightlyFunctionNightly"},
		{name: "handler error", function: "TickFunction", behave: func(context.Context) error { return errBoom },
			wantErr: "error: boom", wantRule: "TickFunctionTick"},
		{name: "panic", function: "TickFunction", behave: func(context.Context) error { panic("kaboom") },
			wantErr: "handler panic: kaboom", wantRule: "TickFunctionTick"},
		{name: "timeout", function: "TickFunction", behave: func(ctx context.Context) error { <-ctx.Done(); time.Sleep(50 * time.Millisecond); return nil },
			wantErr: "task timed out after 1s", wantRule: "TickFunctionTick"},
		{name: "caller gives up", function: "TickFunction", behave: func(context.Context) error { time.Sleep(300 * time.Millisecond); return nil },
			ctx:     func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 50*time.Millisecond) },
			wantErr: "context deadline exceeded", wantRule: "TickFunctionTick"},
		{name: "unknown function", function: "NoFunction", wantKind: apperr.NotFound, wantErr: "no function NoFunction"},
		{name: "function without a schedule", function: "PlainFunction", wantKind: apperr.NotFound, wantErr: "has no Schedule event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.setBehave(tt.behave)
			before := rec.byRule()
			c, cancel := ctx, context.CancelFunc(func() {})
			if tt.ctx != nil {
				c, cancel = tt.ctx()
			}
			defer cancel()
			err := s.Trigger(c, tt.function)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Trigger = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Trigger = %v, want an error containing %q", err, tt.wantErr)
			case tt.wantKind != apperr.Internal && !apperr.Is(err, tt.wantKind):
				t.Errorf("Trigger error kind = %s, want %s", apperr.KindOf(err), tt.wantKind)
			}
			if tt.wantRule != "" {
				if got := rec.byRule()[o.StackName+"-"+tt.wantRule] - before[o.StackName+"-"+tt.wantRule]; got != 1 {
					t.Errorf("invocations on rule %s = %d, want 1", tt.wantRule, got)
				}
			}
		})
	}
}

func TestScheduleStartErrors(t *testing.T) {
	t.Run("scheduled function without a Scheduled handler", func(t *testing.T) {
		rec := &ticks{}
		logs := &syncBuffer{}
		o := scheduleOptions(t, rec, logs)
		o.Functions["TickFunction"] = o.Functions["PlainFunction"]
		_, err := Start(context.Background(), o)
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "Schedule event Tick but its factory gave no Scheduled handler") {
			t.Fatalf("Start = %v, want Invalid naming the missing Scheduled handler", err)
		}
	})
	t.Run("rate EventBridge refuses", func(t *testing.T) {
		data, err := os.ReadFile("testdata/schedule.yaml")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(path, []byte(strings.Replace(string(data), "rate(1 minute)", "rate(1 minutes)", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		rec := &ticks{}
		logs := &syncBuffer{}
		o := scheduleOptions(t, rec, logs)
		o.TemplatePath = path
		_, err = Start(context.Background(), o)
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "TickFunction event Tick") {
			t.Fatalf("Start = %v, want Invalid naming the event", err)
		}
	})
}
