package tenant

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

func TestIssueAndAuthenticate(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	svc := NewService(store)
	tn, err := svc.CreateTenant(ctx, "Acme MSP")
	if err != nil {
		t.Fatal(err)
	}
	plain, k, err := svc.IssueKey(ctx, tn.ID, RoleAdmin, "first key")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, KeyPrefix) || len(plain) < 40 {
		t.Errorf("key %q: want prefix %q and ≥ 40 chars", plain, KeyPrefix)
	}
	if k.Hash != HashKey(plain) || strings.Contains(k.Hash, plain) {
		t.Errorf("stored hash %q is not the SHA-256 of the key", k.Hash)
	}
	for _, stored := range store.keys {
		if strings.Contains(stored.Hash+stored.Label+stored.ID, plain) {
			t.Error("the plaintext key is stored")
		}
	}
	got, err := svc.Authenticate(ctx, plain)
	if err != nil {
		t.Fatalf("Authenticate(valid) = %v", err)
	}
	if diff := cmp.Diff(k, got); diff != "" {
		t.Errorf("Authenticate (-want +got):\n%s", diff)
	}

	tests := []struct{ name, key string }{
		{"empty", ""},
		{"wrong", plain + "x"},
		{"truncated", plain[:len(plain)-1]},
		{"other", "rmb_somebody_elses_key_entirely"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Authenticate(ctx, tc.key)
			if !apperr.Is(err, apperr.Unauthorized) {
				t.Errorf("Authenticate(%s) = %v, want Unauthorized", tc.name, err)
			}
		})
	}
}

func TestRegisterKey(t *testing.T) {
	ctx := context.Background()
	svc := NewService(NewMemStore())
	k1, err := svc.RegisterKey(ctx, "t_demo", RoleAdmin, "dev", "my-dev-key-123456")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := svc.RegisterKey(ctx, "t_demo", RoleAdmin, "dev", "my-dev-key-123456")
	if err != nil || k2.ID != k1.ID {
		t.Errorf("re-registering the same key: got %v, %v; want the same key back", k2.ID, err)
	}
	if _, err := svc.RegisterKey(ctx, "t_other", RoleAdmin, "dev", "my-dev-key-123456"); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("same key for another tenant: got %v, want Conflict", err)
	}
	if _, err := svc.RegisterKey(ctx, "t_demo", RoleAdmin, "dev", "short"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("short key: got %v, want Invalid", err)
	}
	if _, err := svc.RegisterKey(ctx, "t_demo", "root", "dev", "my-dev-key-abcdefg"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("bad role: got %v, want Invalid", err)
	}
}

func TestEnsureTenantIsIdempotent(t *testing.T) {
	ctx := context.Background()
	svc := NewService(NewMemStore())
	for i := 0; i < 2; i++ {
		if _, err := svc.EnsureTenant(ctx, "t_demo", "Demo MSP"); err != nil {
			t.Fatalf("EnsureTenant #%d: %v", i+1, err)
		}
	}
	if _, err := svc.CreateTenant(ctx, " "); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("blank name: got %v, want Invalid", err)
	}
}
