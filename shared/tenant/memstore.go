package tenant

import (
	"context"
	"sync"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// MemStore is an in-memory Store for domain tests and examples.
type MemStore struct {
	mu      sync.Mutex
	tenants map[string]Tenant
	keys    map[string]Key
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{tenants: map[string]Tenant{}, keys: map[string]Key{}}
}

// PutTenant implements Store.
func (m *MemStore) PutTenant(_ context.Context, t Tenant) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tenants[t.ID]; ok {
		return apperr.New(apperr.Conflict, "tenant exists")
	}
	m.tenants[t.ID] = t
	return nil
}

// PutKey implements Store.
func (m *MemStore) PutKey(_ context.Context, k Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[k.Hash]; ok {
		return apperr.New(apperr.Conflict, "key exists")
	}
	m.keys[k.Hash] = k
	return nil
}

// KeyByHash implements Store.
func (m *MemStore) KeyByHash(_ context.Context, hash string) (Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[hash]
	if !ok {
		return Key{}, apperr.New(apperr.NotFound, "no such key")
	}
	return k, nil
}
