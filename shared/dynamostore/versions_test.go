package dynamostore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
)

// TestUpdatesAreConditionalOnTheVersion: UpdateConnection and
// UpdateIntegration write only from the stored version (an item written
// before versions existed is at 0), store the next one, refuse a stale
// version with a Conflict wrapping connection.ErrStale and write nothing,
// answer NotFound for a missing item (another tenant's included), and a
// refs change (an integration created) does not move a connection's
// version.
func TestUpdatesAreConditionalOnTheVersion(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewConnections(s)
	rmm, psa := testConn("c_rmm", "rmm"), testConn("c_psa", "psa")
	for _, c := range []connection.Connection{rmm, psa} {
		if err := r.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	ig := connection.Integration{ID: "i_1", TenantID: "t_a", Name: "pair", RMMConnectionID: "c_rmm", PSAConnectionID: "c_psa",
		CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := r.PutIntegration(ctx, ig); err != nil {
		t.Fatal(err)
	}

	// Connections: stored before versions existed (no attribute): version 0.
	if err := s.Update(ctx, connKey("t_a", "c_psa"), expression.Remove(expression.Name("version")), nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := r.GetConnection(ctx, "t_a", "c_psa")
	if err != nil || got.Version != 0 || got.Refs != 1 {
		t.Fatalf("legacy connection: version %d refs %d, %v; want version 0 (refs 1: the integration's use does not count as an update)", got.Version, got.Refs, err)
	}
	got.Name = "first"
	if err := r.UpdateConnection(ctx, got); err != nil {
		t.Fatalf("update from version 0: %v", err)
	}
	stale := got // still at version 0
	stale.Name = "stale"
	err = r.UpdateConnection(ctx, stale)
	if !apperr.Is(err, apperr.Conflict) || !errors.Is(err, connection.ErrStale) {
		t.Errorf("stale connection update = %v, want a Conflict wrapping ErrStale", err)
	}
	if now, _ := r.GetConnection(ctx, "t_a", "c_psa"); now.Name != "first" || now.Version != 1 {
		t.Errorf("after the stale update: %q at version %d, want %q at 1", now.Name, now.Version, "first")
	}
	other := got
	other.TenantID, other.Version = "t_b", 1
	if err := r.UpdateConnection(ctx, other); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("update of another tenant's connection = %v, want NotFound", err)
	}

	// Integrations.
	igNow, err := r.GetIntegration(ctx, "t_a", "i_1")
	if err != nil || igNow.Version != 1 {
		t.Fatalf("new integration: version %d, %v; want 1", igNow.Version, err)
	}
	igNow.Name = "renamed"
	if err := r.UpdateIntegration(ctx, igNow); err != nil {
		t.Fatal(err)
	}
	err = r.UpdateIntegration(ctx, igNow) // version 1 again: stale
	if !apperr.Is(err, apperr.Conflict) || !errors.Is(err, connection.ErrStale) {
		t.Errorf("stale integration update = %v, want a Conflict wrapping ErrStale", err)
	}
	if after, _ := r.GetIntegration(ctx, "t_a", "i_1"); after.Version != 2 || after.Name != "renamed" {
		t.Errorf("integration after: %q at version %d, want %q at 2", after.Name, after.Version, "renamed")
	}
	gone := igNow
	gone.ID, gone.Version = "i_gone", 2
	if err := r.UpdateIntegration(ctx, gone); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("update of a missing integration = %v, want NotFound", err)
	}
	if _, err := r.GetIntegration(ctx, "t_a", "i_gone"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("the refused update created i_gone: %v", err)
	}
}
