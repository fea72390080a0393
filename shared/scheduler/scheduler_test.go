package scheduler

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// integ is an integration created at t0 with reverse provisioning on.
func integ(id string) connection.Integration {
	return connection.Integration{ID: id, TenantID: "t_1", Name: "pair " + id, RMMConnectionID: "c_r", PSAConnectionID: "c_p",
		Settings: connection.Settings{ProvisionRmmOrgs: true}, CreatedAt: t0, UpdatedAt: t0}
}

// setup is a scheduler over w with the real account service.
type setup struct {
	w    *world
	s    *Scheduler
	logs *bytes.Buffer

	mu      sync.Mutex
	openErr map[string]error
	patch   func(*Clients)
}

func newSetup(w *world, o Options) *setup {
	st := &setup{w: w, logs: &bytes.Buffer{}, openErr: map[string]error{}}
	o.Now = w.clock
	o.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: st.logs}, nil))
	svc := account.NewService(w, account.Options{Now: w.clock})
	st.s = New(w, w, svc, st.open, o)
	return st
}

func (st *setup) open(_ context.Context, _, integrationID string) (Clients, error) {
	st.mu.Lock()
	err, patch := st.openErr[integrationID], st.patch
	st.mu.Unlock()
	if err != nil {
		return Clients{}, err
	}
	st.w.mu.Lock()
	var ig *connection.Integration
	for i := range st.w.work {
		if st.w.work[i].ID == integrationID {
			ig = &st.w.work[i]
		}
	}
	st.w.mu.Unlock()
	if ig == nil {
		return Clients{}, apperr.New(apperr.NotFound, "no integration %s", integrationID)
	}
	c := Clients{Integration: *ig, RMM: st.w.rmmClient(), PSA: st.w.psaClient(), Recent: st.w.psaClient()}
	if patch != nil {
		patch(&c)
	}
	return c, nil
}

func (st *setup) run(t *testing.T) (Report, error) {
	t.Helper()
	return st.s.Run(context.Background())
}

// only returns the report of the run's single integration.
func only(t *testing.T, rep Report) IntegrationReport {
	t.Helper()
	if len(rep.Integrations) != 1 {
		t.Fatalf("report has %d integrations, want 1: %+v", len(rep.Integrations), rep)
	}
	return rep.Integrations[0]
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// counts are the comparable parts of an IntegrationReport.
type counts struct {
	Outcome                              string
	Listed, Provisioned, Skipped, Failed int
}

func countsOf(ir IntegrationReport) counts {
	return counts{ir.Outcome, ir.Listed, ir.Provisioned, ir.Skipped, ir.Failed}
}

// TestWindows follows one integration over three runs: the first window
// starts at the integration's creation less the overlap (an older account
// is never provisioned), later ones at the watermark less the overlap,
// which picks up an account that became visible late and skips what is
// mapped.
func TestWindows(t *testing.T) {
	w := newWorld(t0.Add(time.Hour))
	w.work = []connection.Integration{integ("i_1")}
	st := newSetup(w, Options{})
	w.addAccount("Old Customer", -2*time.Hour)   // t0 - 1h: before the integration
	w.addAccount("Same Second", -60*time.Minute) // t0: dated like the integration
	w.addAccount("Acme", -5*time.Minute)         // t0 + 55m

	rep, err := st.run(t)
	if err != nil {
		t.Fatalf("run 1: %v", err)
	}
	if diff := cmp.Diff(counts{OutcomeDone, 2, 2, 0, 0}, countsOf(only(t, rep))); diff != "" {
		t.Errorf("run 1 (-want +got):\n%s", diff)
	}
	run1 := w.clock()
	if got := w.watermark("i_1"); !got.Equal(run1) {
		t.Errorf("watermark after run 1 = %v, want the run's start %v", got, run1)
	}

	w.advance(5 * time.Minute)
	w.addAccount("Late Visible", -8*time.Minute) // dated before run 1, listed after it
	w.addAccount("Globex", -3*time.Minute)
	rep, err = st.run(t)
	if err != nil {
		t.Fatalf("run 2: %v", err)
	}
	// Acme (t0+55m) is inside the overlap: listed again, skipped as mapped.
	if diff := cmp.Diff(counts{OutcomeDone, 3, 2, 1, 0}, countsOf(only(t, rep))); diff != "" {
		t.Errorf("run 2 (-want +got):\n%s", diff)
	}

	w.advance(5 * time.Minute)
	rep, err = st.run(t)
	if err != nil {
		t.Fatalf("run 3: %v", err)
	}
	if diff := cmp.Diff(counts{OutcomeDone, 2, 0, 2, 0}, countsOf(only(t, rep))); diff != "" {
		t.Errorf("run 3 (-want +got):\n%s", diff)
	}

	wantSinces := []time.Time{t0.Add(-DefaultOverlap), run1.Add(-DefaultOverlap), run1.Add(5 * time.Minute).Add(-DefaultOverlap)}
	if diff := cmp.Diff(wantSinces, w.listedSinces()); diff != "" {
		t.Errorf("windows listed (-want +got):\n%s", diff)
	}
	want := map[string]string{"Same Second": "101", "Acme": "102", "Late Visible": "103", "Globex": "104"}
	if diff := cmp.Diff(want, w.mappedOrgs()); diff != "" {
		t.Errorf("mappings, organization → account (-want +got):\n%s", diff)
	}
	if w.creates() != 4 {
		t.Errorf("organizations created = %d, want 4", w.creates())
	}
	for _, e := range w.audit {
		if e.Actor != Actor || e.Action != "mapping.provision" {
			t.Errorf("audit event %+v, want actor %s action mapping.provision", e, Actor)
		}
	}
	if len(w.audit) != 4 {
		t.Errorf("audit events = %d, want 4", len(w.audit))
	}
}

// TestAccountOutcomes runs one window per scenario and checks what each
// account became and whether the watermark moved.
func TestAccountOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		arrange func(w *world)
		want    counts
		wantErr bool
		// mapped is organization name → account id after the run.
		mapped  map[string]string
		creates int
		advance bool
	}{
		{
			name:    "new account gets an organization",
			arrange: func(w *world) { w.addAccount("Acme", -time.Minute) },
			want:    counts{OutcomeDone, 1, 1, 0, 0}, mapped: map[string]string{"Acme": "100"}, creates: 1, advance: true,
		},
		{
			name: "account mapped already is skipped",
			arrange: func(w *world) {
				a := w.addAccount("Acme", -time.Minute)
				o := w.addOrg("Acme RMM")
				w.maps["i_1/"+o.ID] = account.Mapping{IntegrationID: "i_1", OrganizationID: o.ID, OrganizationName: o.Name,
					AccountID: a.ID, State: account.StateMapped}
			},
			want: counts{OutcomeDone, 1, 0, 1, 0}, mapped: map[string]string{"Acme RMM": "100"}, advance: true,
		},
		{
			name: "organization of the same name is adopted",
			arrange: func(w *world) {
				w.addOrg("ACME ")
				w.addAccount("Acme", -time.Minute)
			},
			want: counts{OutcomeDone, 1, 1, 0, 0}, mapped: map[string]string{"ACME ": "100"}, advance: true,
		},
		{
			name: "similarly written organization is adopted, not duplicated",
			arrange: func(w *world) {
				w.addOrg("ACME Inc")
				w.addAccount("Acme, Inc.", -time.Minute)
			},
			want: counts{OutcomeDone, 1, 1, 0, 0}, mapped: map[string]string{"ACME Inc": "100"}, advance: true,
		},
		{
			name: "two organizations could be the account: nothing created, left for a person",
			arrange: func(w *world) {
				w.addOrg("ACME Inc")
				w.addOrg("Acme LLC")
				w.addAccount("Acme", -time.Minute)
			},
			want: counts{OutcomeDone, 1, 0, 1, 0}, mapped: map[string]string{}, advance: true,
		},
		{
			name: "organization of the same name mapped to another account is left alone",
			arrange: func(w *world) {
				o := w.addOrg("Acme")
				w.maps["i_1/"+o.ID] = account.Mapping{IntegrationID: "i_1", OrganizationID: o.ID, OrganizationName: o.Name,
					AccountID: "55", State: account.StateMapped}
				w.addAccount("Acme", -time.Minute)
			},
			want: counts{OutcomeDone, 1, 0, 1, 0}, mapped: map[string]string{"Acme": "55"}, advance: true,
		},
		{
			name: "duplicate names in one window: the first gets the organization",
			arrange: func(w *world) {
				w.addAccount("Acme", -2*time.Minute)
				w.addAccount("acme", -time.Minute)
			},
			want: counts{OutcomeDone, 2, 1, 1, 0}, mapped: map[string]string{"Acme": "100"}, creates: 1, advance: true,
		},
		{
			name: "organization being mapped right now holds the watermark",
			arrange: func(w *world) {
				o := w.addOrg("Acme")
				w.maps["i_1/"+o.ID] = account.Mapping{IntegrationID: "i_1", OrganizationID: o.ID, OrganizationName: o.Name,
					State: account.StateClaimed, LeaseOwner: "x", LeaseUntil: w.now.Add(time.Minute)}
				w.addAccount("Acme", -time.Minute)
			},
			want: counts{OutcomeFailed, 1, 0, 0, 1}, wantErr: true, mapped: map[string]string{}, advance: false,
		},
		{
			name: "transient failure holds the watermark",
			arrange: func(w *world) {
				w.addAccount("Acme", -2*time.Minute)
				w.addAccount("Globex", -time.Minute)
				w.createErr["Acme"] = apperr.New(apperr.Unavailable, "RMM down")
			},
			want: counts{OutcomeFailed, 2, 1, 0, 1}, wantErr: true, mapped: map[string]string{"Globex": "101"}, creates: 1, advance: false,
		},
		{
			name: "permanent failure is not retried",
			arrange: func(w *world) {
				w.addAccount("Acme", -2*time.Minute)
				w.addAccount("Globex", -time.Minute)
				w.createErr["Acme"] = apperr.New(apperr.Invalid, "name refused")
			},
			want: counts{OutcomeDone, 2, 1, 0, 1}, mapped: map[string]string{"Globex": "101"}, creates: 1, advance: true,
		},
		{
			name: "listing fails",
			arrange: func(w *world) {
				w.addAccount("Acme", -time.Minute)
				w.listErr = apperr.New(apperr.Throttled, "slow down")
			},
			want: counts{OutcomeFailed, 0, 0, 0, 0}, wantErr: true, mapped: map[string]string{}, advance: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t0.Add(time.Hour))
			w.work = []connection.Integration{integ("i_1")}
			tt.arrange(w)
			st := newSetup(w, Options{})
			rep, err := st.run(t)
			if (err != nil) != tt.wantErr {
				t.Errorf("Run error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, countsOf(only(t, rep))); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.mapped, w.mappedOrgs()); diff != "" {
				t.Errorf("mappings, organization → account (-want +got):\n%s", diff)
			}
			if w.creates() != tt.creates {
				t.Errorf("organizations created = %d, want %d", w.creates(), tt.creates)
			}
			if got := !w.watermark("i_1").IsZero(); got != tt.advance {
				t.Errorf("watermark advanced = %v, want %v", got, tt.advance)
			}
			// Whatever happened, the run's lease is released.
			if _, err := w.ClaimProvisionRun(context.Background(), "t_1", "i_1", "probe", w.clock(), w.clock()); err != nil {
				t.Errorf("claim after the run = %v, want the lease released", err)
			}
		})
	}
}

// TestRetryAfterTransientFailure: the window a failed run left is listed
// again; what succeeded is skipped, what failed is provisioned.
func TestRetryAfterTransientFailure(t *testing.T) {
	w := newWorld(t0.Add(time.Hour))
	w.work = []connection.Integration{integ("i_1")}
	w.addAccount("Acme", -2*time.Minute)
	w.addAccount("Globex", -time.Minute)
	w.createErr["Acme"] = apperr.New(apperr.Unavailable, "RMM down")
	st := newSetup(w, Options{})
	if _, err := st.run(t); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("run 1 error = %v, want the Unavailable that held it", err)
	}
	delete(w.createErr, "Acme")
	w.advance(5 * time.Minute)
	rep, err := st.run(t)
	if err != nil {
		t.Fatalf("run 2: %v", err)
	}
	if diff := cmp.Diff(counts{OutcomeDone, 2, 1, 1, 0}, countsOf(only(t, rep))); diff != "" {
		t.Errorf("run 2 (-want +got):\n%s", diff)
	}
	first := t0.Add(-DefaultOverlap)
	if diff := cmp.Diff([]time.Time{first, first}, w.listedSinces()); diff != "" {
		t.Errorf("windows (-want +got):\n%s", diff)
	}
	if got := w.watermark("i_1"); !got.Equal(w.clock()) {
		t.Errorf("watermark = %v, want run 2's start %v", got, w.clock())
	}
	if diff := cmp.Diff(map[string]string{"Acme": "100", "Globex": "101"}, w.mappedOrgs()); diff != "" {
		t.Errorf("mappings (-want +got):\n%s", diff)
	}
}

// TestIntegrationOutcomes covers what stops or skips a whole integration,
// and when the run as a whole is an error.
func TestIntegrationOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		work     []connection.Integration
		arrange  func(st *setup)
		ctx      func() (context.Context, context.CancelFunc)
		outcomes []string
		wantErr  bool
		// advanced lists the integrations whose watermark moved.
		advanced []string
	}{
		{name: "no integrations", outcomes: nil},
		{name: "integration switched off since the work list was read", work: []connection.Integration{integ("i_1")},
			arrange:  func(st *setup) { st.patch = func(c *Clients) { c.Integration.Settings.ProvisionRmmOrgs = false } },
			outcomes: []string{OutcomeOff}},
		{name: "integration deleted since the work list was read", work: []connection.Integration{integ("i_1")},
			arrange:  func(st *setup) { st.openErr["i_1"] = apperr.New(apperr.NotFound, "no integration i_1") },
			outcomes: []string{OutcomeOff}},
		{name: "PSA without a creation-date listing", work: []connection.Integration{integ("i_1")},
			arrange:  func(st *setup) { st.patch = func(c *Clients) { c.Recent = nil } },
			outcomes: []string{OutcomeUnsupported}},
		{name: "one integration failing does not stop the others", work: []connection.Integration{integ("i_1"), integ("i_2")},
			arrange:  func(st *setup) { st.openErr["i_1"] = apperr.New(apperr.Unauthorized, "bad credentials") },
			outcomes: []string{OutcomeFailed, OutcomeDone}, advanced: []string{"i_2"}},
		{name: "every integration failing is an error", work: []connection.Integration{integ("i_1"), integ("i_2")},
			arrange: func(st *setup) {
				st.openErr["i_1"] = apperr.New(apperr.Unauthorized, "bad credentials")
				st.openErr["i_2"] = apperr.New(apperr.Unavailable, "secrets manager down")
			},
			outcomes: []string{OutcomeFailed, OutcomeFailed}, wantErr: true},
		{name: "out of time before the first account", work: []connection.Integration{integ("i_1")},
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 5*time.Second)
			},
			outcomes: []string{OutcomePartial}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t0.Add(time.Hour))
			w.work = tt.work
			w.addAccount("Acme", -time.Minute)
			st := newSetup(w, Options{})
			if tt.arrange != nil {
				tt.arrange(st)
			}
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			rep, err := st.s.Run(ctx)
			if (err != nil) != tt.wantErr {
				t.Errorf("Run error = %v, want error %v", err, tt.wantErr)
			}
			var got []string
			for _, ir := range rep.Integrations {
				got = append(got, ir.Outcome)
			}
			if diff := cmp.Diff(tt.outcomes, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			var advanced []string
			for _, ig := range tt.work {
				if !w.watermark(ig.ID).IsZero() {
					advanced = append(advanced, ig.ID)
				}
			}
			if diff := cmp.Diff(tt.advanced, advanced); diff != "" {
				t.Errorf("watermarks advanced (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWatermarkRace runs a second run in the middle of the first: while
// the first holds its lease the second is busy; once the lease has run
// out the second takes over, and the first neither advances the
// watermark nor creates a second organization.
func TestWatermarkRace(t *testing.T) {
	t.Run("second run while the first holds the lease", func(t *testing.T) {
		w := newWorld(t0.Add(time.Hour))
		w.work = []connection.Integration{integ("i_1")}
		w.addAccount("Acme", -time.Minute)
		st := newSetup(w, Options{})
		var second Report
		var secondErr error
		var fired atomic.Bool
		w.beforeCrea = func(string) {
			if fired.CompareAndSwap(false, true) {
				second, secondErr = st.s.Run(context.Background())
			}
		}
		first, err := st.run(t)
		if err != nil || secondErr != nil {
			t.Fatalf("runs: first %v, second %v", err, secondErr)
		}
		if got := only(t, second).Outcome; got != OutcomeBusy {
			t.Errorf("second run = %s, want %s", got, OutcomeBusy)
		}
		if diff := cmp.Diff(counts{OutcomeDone, 1, 1, 0, 0}, countsOf(only(t, first))); diff != "" {
			t.Errorf("first run (-want +got):\n%s", diff)
		}
		if w.creates() != 1 || !w.watermark("i_1").Equal(t0.Add(time.Hour)) {
			t.Errorf("creates %d watermark %v; want 1 and the first run's start", w.creates(), w.watermark("i_1"))
		}
	})

	t.Run("lease ran out: the other run owns the watermark", func(t *testing.T) {
		w := newWorld(t0.Add(time.Hour))
		w.work = []connection.Integration{integ("i_1")}
		w.addAccount("Acme", -time.Minute)
		st := newSetup(w, Options{Lease: time.Minute})
		var second Report
		var secondErr error
		var secondStart time.Time
		var fired atomic.Bool
		w.beforeList = func() {
			if fired.CompareAndSwap(false, true) {
				w.advance(2 * time.Minute) // the first run's lease is over
				secondStart = w.clock()
				second, secondErr = st.s.Run(context.Background())
			}
		}
		first, err := st.run(t)
		if err != nil || secondErr != nil {
			t.Fatalf("runs: first %v, second %v", err, secondErr)
		}
		if diff := cmp.Diff(counts{OutcomeDone, 1, 1, 0, 0}, countsOf(only(t, second))); diff != "" {
			t.Errorf("second run (-want +got):\n%s", diff)
		}
		// The first lists after the second finished: the account is mapped.
		if diff := cmp.Diff(counts{OutcomeDone, 1, 0, 1, 0}, countsOf(only(t, first))); diff != "" {
			t.Errorf("first run (-want +got):\n%s", diff)
		}
		if got := w.watermark("i_1"); !got.Equal(secondStart) {
			t.Errorf("watermark = %v, want the second run's start %v (the first must not move it back)", got, secondStart)
		}
		if w.creates() != 1 {
			t.Errorf("organizations created = %d, want 1", w.creates())
		}
		if !strings.Contains(st.logs.String(), "taken over") {
			t.Errorf("the first run's lost finish is not logged:\n%s", st.logs.String())
		}
	})
}
