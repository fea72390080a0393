package dynamostore

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// TestFloodSlots: a bucket admits at most max series; a series admitted
// before is admitted again (a retried or redelivered event is not counted
// twice); buckets and integrations do not share counts.
func TestFloodSlots(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewAlerts(s)
	other := tenancy.Scope{TenantID: "t_a", IntegrationID: "i_2"}
	steps := []struct {
		sc     tenancy.Scope
		bucket string
		series string
		want   bool
	}{
		{alertScope, "12#2026-12-03T10", "s-1", true},
		{alertScope, "12#2026-12-03T10", "s-2", true},
		{alertScope, "12#2026-12-03T10", "s-3", false},
		{alertScope, "12#2026-12-03T10", "s-1", true},
		{alertScope, "12#2026-12-03T10", "s-2", true},
		{alertScope, "12#2026-12-03T10", "s-4", false},
		{alertScope, "12#2026-12-03T11", "s-3", true},
		{alertScope, "13#2026-12-03T10", "s-3", true},
		{other, "12#2026-12-03T10", "s-3", true},
	}
	for i, st := range steps {
		got, err := r.TakeTicketSlot(ctx, st.sc, st.bucket, st.series, 2)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got != st.want {
			t.Errorf("step %d: %s in %s/%s admitted = %v, want %v", i, st.series, st.sc.IntegrationID, st.bucket, got, st.want)
		}
	}
}

// TestFloodSummaryClaim: one owner at a time may open the summary ticket;
// an expired claim passes to another; once the ticket is recorded every
// caller gets it, and a stale owner cannot overwrite it.
func TestFloodSummaryClaim(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewAlerts(s)
	const b = "12#2026-12-03T10"
	now := time.Date(2026, 12, 3, 10, 5, 0, 0, time.UTC)
	claim := func(owner string, at time.Time) alert.FloodSummary {
		t.Helper()
		got, err := r.ClaimFloodSummary(ctx, alertScope, b, owner, at, at.Add(90*time.Second))
		if err != nil {
			t.Fatalf("claim by %s: %v", owner, err)
		}
		return got
	}
	steps := []struct {
		owner string
		at    time.Time
		want  alert.FloodSummary
	}{
		{"w1", now, alert.FloodSummary{Claimed: true}},
		{"w2", now.Add(time.Second), alert.FloodSummary{}},
		{"w1", now.Add(2 * time.Second), alert.FloodSummary{Claimed: true}},
		{"w2", now.Add(2 * time.Minute), alert.FloodSummary{Claimed: true}},
	}
	for i, st := range steps {
		if diff := cmp.Diff(st.want, claim(st.owner, st.at)); diff != "" {
			t.Errorf("step %d (%s) (-want +got):\n%s", i, st.owner, diff)
		}
	}
	if err := r.SetFloodSummaryTicket(ctx, alertScope, b, "w1", "90"); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("the expired owner recorded its ticket: %v, want Conflict", err)
	}
	if err := r.SetFloodSummaryTicket(ctx, alertScope, b, "w2", "91"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetFloodSummaryTicket(ctx, alertScope, b, "w2", "91"); err != nil {
		t.Errorf("recording the same ticket again (a retried write): %v", err)
	}
	for _, owner := range []string{"w1", "w3"} {
		if diff := cmp.Diff(alert.FloodSummary{TicketID: "91"}, claim(owner, now.Add(time.Hour))); diff != "" {
			t.Errorf("claim by %s after the ticket (-want +got):\n%s", owner, diff)
		}
	}
}
