package dynamostore

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
)

// TestIntegrationsToProvision checks the sparse work list: integrations of
// every tenant are on it exactly while provisionRmmOrgs is on, whether
// created that way or switched by an update, and come back whole.
func TestIntegrationsToProvision(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	conns := NewConnections(s)
	r := NewSchedules(s)
	for _, tenantID := range []string{"t_a", "t_b"} {
		for _, c := range []connection.Connection{testConn("c_rmm", "rmm"), testConn("c_psa", "psa")} {
			c.TenantID = tenantID
			if err := conns.PutConnection(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	created := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	integ := func(tenantID, id string, on bool) connection.Integration {
		return connection.Integration{ID: id, TenantID: tenantID, Name: "pair " + id, RMMConnectionID: "c_rmm", PSAConnectionID: "c_psa",
			Settings:  connection.Settings{ProvisionRmmOrgs: on, AccountDefaults: connection.AccountDefaults{Status: "Active"}},
			CreatedAt: created, UpdatedAt: created, WebhookSecretHash: "h-" + id, WebhookSecretRef: "ref-" + id}
	}
	aOn, aOff, bOn := integ("t_a", "i_on", true), integ("t_a", "i_off", false), integ("t_b", "i_b", true)
	for _, in := range []connection.Integration{aOn, aOff, bOn} {
		if err := conns.PutIntegration(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, want []connection.Integration) {
		t.Helper()
		got, err := r.IntegrationsToProvision(ctx)
		if err != nil {
			t.Fatalf("IntegrationsToProvision: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("integrations (-want +got):\n%s", diff)
		}
	}
	t.Run("created on", func(t *testing.T) { check(t, []connection.Integration{aOn, bOn}) })

	t.Run("switched by updates", func(t *testing.T) {
		aOn.Settings.ProvisionRmmOrgs = false
		aOff.Settings.ProvisionRmmOrgs = true
		for _, in := range []*connection.Integration{&aOn, &aOff} {
			if err := conns.UpdateIntegration(ctx, *in); err != nil {
				t.Fatal(err)
			}
			in.Version++ // the store keeps the version after the one written from
		}
		check(t, []connection.Integration{aOff, bOn})
	})

	t.Run("deleted", func(t *testing.T) {
		if err := conns.DeleteIntegration(ctx, bOn); err != nil {
			t.Fatal(err)
		}
		check(t, []connection.Integration{aOff})
	})
}

// TestProvisionWatermark walks the watermark through claims and finishes:
// one live lease at a time, expired leases taken over, a run that lost its
// lease or whose watermark moved cannot advance it, a release keeps it.
func TestProvisionWatermark(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewSchedules(s)
	t0 := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	lease := 5 * time.Minute
	claim := func(owner string, now time.Time) (time.Time, error) {
		return r.ClaimProvisionRun(ctx, "t_a", "i_1", owner, now, now.Add(lease))
	}
	step := func(name string, f func(t *testing.T)) { t.Run(name, f) }

	step("first claim has no watermark", func(t *testing.T) {
		last, err := claim("run-a", t0)
		if err != nil || !last.IsZero() {
			t.Fatalf("claim = %v, %v; want zero, nil", last, err)
		}
	})
	step("a live lease refuses a second run", func(t *testing.T) {
		if _, err := claim("run-b", t0.Add(time.Minute)); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("second claim = %v, want Conflict", err)
		}
	})
	step("an expired lease is taken over", func(t *testing.T) {
		last, err := claim("run-b", t0.Add(lease+time.Second))
		if err != nil || !last.IsZero() {
			t.Fatalf("claim after expiry = %v, %v; want zero, nil", last, err)
		}
	})
	t1 := t0.Add(90 * time.Second).Add(123456 * time.Nanosecond)
	step("the run that lost its lease cannot advance", func(t *testing.T) {
		if err := r.FinishProvisionRun(ctx, "t_a", "i_1", "run-a", time.Time{}, t1); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("finish by the old owner = %v, want Conflict", err)
		}
	})
	step("the holder advances", func(t *testing.T) {
		if err := r.FinishProvisionRun(ctx, "t_a", "i_1", "run-b", time.Time{}, t1); err != nil {
			t.Fatalf("finish: %v", err)
		}
	})
	step("the next claim reads the watermark", func(t *testing.T) {
		last, err := claim("run-c", t0.Add(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if want := t1.UTC().Truncate(time.Millisecond); !last.Equal(want) {
			t.Errorf("watermark = %v, want %v", last, want)
		}
	})
	step("a stale watermark cannot advance", func(t *testing.T) {
		err := r.FinishProvisionRun(ctx, "t_a", "i_1", "run-c", t0, t0.Add(20*time.Minute))
		if !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("finish from a stale watermark = %v, want Conflict", err)
		}
	})
	step("a release keeps the watermark and frees the run", func(t *testing.T) {
		if err := r.FinishProvisionRun(ctx, "t_a", "i_1", "run-c", t1, time.Time{}); err != nil {
			t.Fatalf("release: %v", err)
		}
		last, err := claim("run-d", t0.Add(11*time.Minute))
		if err != nil {
			t.Fatalf("claim right after a release: %v", err)
		}
		if want := t1.UTC().Truncate(time.Millisecond); !last.Equal(want) {
			t.Errorf("watermark after release = %v, want %v", last, want)
		}
	})
	step("integrations are independent", func(t *testing.T) {
		last, err := r.ClaimProvisionRun(ctx, "t_a", "i_2", "run-x", t0, t0.Add(lease))
		if err != nil || !last.IsZero() {
			t.Errorf("claim of another integration = %v, %v; want zero, nil", last, err)
		}
	})
}
