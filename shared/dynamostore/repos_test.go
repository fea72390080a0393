package dynamostore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
)

func TestTenantsRepository(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewTenants(s)
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	if err := r.PutTenant(ctx, tenant.Tenant{ID: "t_a", Name: "A", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := r.PutTenant(ctx, tenant.Tenant{ID: "t_a", Name: "A again"}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("second PutTenant = %v, want Conflict", err)
	}
	k := tenant.Key{ID: "k_1", TenantID: "t_a", Role: "admin", Label: "x", Hash: tenant.HashKey("some-long-key-value"), CreatedAt: now}
	if err := r.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	got, err := r.KeyByHash(ctx, k.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(k, got); diff != "" {
		t.Errorf("KeyByHash (-want +got):\n%s", diff)
	}
	if _, err := r.KeyByHash(ctx, tenant.HashKey("unknown")); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("unknown hash = %v, want NotFound", err)
	}
}

func testConn(id, kind string) connection.Connection {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	return connection.Connection{ID: id, TenantID: "t_a", Name: "conn " + id, Kind: kind, Provider: "ninjaone",
		BaseURL: "https://app.ninjarmm.com", Settings: map[string]any{"pageSize": float64(500)}, Status: "ok",
		TestedAt: now, CreatedAt: now, UpdatedAt: now, SecretRef: "arn:secret:" + id}
}

func TestConnectionsRepository(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewConnections(s)
	rmmC, psaC := testConn("c_rmm", "rmm"), testConn("c_psa", "psa")
	for _, c := range []connection.Connection{rmmC, psaC} {
		if err := r.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.GetConnection(ctx, "t_a", "c_rmm")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rmmC, got); diff != "" {
		t.Errorf("GetConnection (-want +got):\n%s", diff)
	}
	if _, err := r.GetConnection(ctx, "t_other", "c_rmm"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("another tenant's connection = %v, want NotFound", err)
	}
	list, _, err := r.ListConnections(ctx, "t_a", 50, "")
	if err != nil || len(list) != 2 {
		t.Fatalf("ListConnections = %d items, %v; want 2", len(list), err)
	}
	rmmC.Name = "renamed"
	if err := r.UpdateConnection(ctx, rmmC); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateConnection(ctx, testConn("c_missing", "rmm")); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("UpdateConnection(missing) = %v, want NotFound", err)
	}

	in := connection.Integration{ID: "i_1", TenantID: "t_a", Name: "pair", RMMConnectionID: "c_rmm", PSAConnectionID: "c_psa",
		Settings: connection.Settings{AutoCreateAccounts: true, PriorityMap: map[string]string{"critical": "P1"}}, WebhookSecretHash: "h"}
	if err := r.PutIntegration(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteConnection(ctx, "t_a", "c_rmm"); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("DeleteConnection while used = %v, want Conflict", err)
	}
	bad := in
	bad.ID, bad.PSAConnectionID = "i_2", "c_gone"
	if err := r.PutIntegration(ctx, bad); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("PutIntegration with a missing connection = %v, want Conflict", err)
	}
	if _, err := r.GetIntegration(ctx, "t_a", "i_2"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("the failed integration was written: %v", err)
	}
	if c, _ := r.GetConnection(ctx, "t_a", "c_rmm"); c.Refs != 1 {
		t.Errorf("refs after one integration and one failed one = %d, want 1", c.Refs)
	}
	gotIn, err := r.GetIntegration(ctx, "t_a", "i_1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, gotIn); diff != "" {
		t.Errorf("GetIntegration (-want +got):\n%s", diff)
	}
	if err := r.DeleteIntegration(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteConnection(ctx, "t_a", "c_rmm"); err != nil {
		t.Errorf("DeleteConnection after its integration went = %v, want nil", err)
	}
}

// TestIntegrationRefsUnderConcurrency creates integrations on one pair of
// connections from many goroutines: every one is counted.
func TestIntegrationRefsUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewConnections(s)
	for _, c := range []connection.Connection{testConn("c_rmm", "rmm"), testConn("c_psa", "psa")} {
		if err := r.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			in := connection.Integration{ID: fmt.Sprintf("i_%d", i), TenantID: "t_a", Name: "x", RMMConnectionID: "c_rmm", PSAConnectionID: "c_psa"}
			for attempt := 0; attempt < 20; attempt++ {
				err := r.PutIntegration(ctx, in)
				if err == nil || !apperr.KindOf(err).Transient() || apperr.Is(err, apperr.Conflict) {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("PutIntegration: %v", err)
		}
	}
	c, _ := r.GetConnection(ctx, "t_a", "c_psa")
	if c.Refs != n {
		t.Errorf("refs = %d, want %d", c.Refs, n)
	}
}
