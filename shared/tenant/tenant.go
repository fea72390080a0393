// Package tenant manages tenants (one MSP each) and their API keys.
//
// An API key is random, shown once when it is issued, and stored only as
// its SHA-256 hash. Authentication hashes the presented key, looks the hash
// up and compares in constant time; the key itself is never stored or
// logged.
package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Roles a key can carry.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
	RoleViewer   = "viewer"
)

// KeyPrefix starts every key rmmbridge issues, so that leaked keys are easy
// to recognise in scanners.
const KeyPrefix = "rmb_"

// MinKeyLength is the shortest key accepted for registration (a chosen dev key).
const MinKeyLength = 16

// Tenant is one MSP.
type Tenant struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Key is a stored API key: everything but the key itself.
type Key struct {
	ID        string // short public id, safe to log
	TenantID  string
	Role      string
	Label     string
	Hash      string // hex SHA-256 of the key
	CreatedAt time.Time
	Revoked   bool
}

// Store persists tenants and keys.
type Store interface {
	PutTenant(ctx context.Context, t Tenant) error
	// PutKey stores k; a key with the same hash is a Conflict.
	PutKey(ctx context.Context, k Key) error
	// KeyByHash returns the key with that hash, or a NotFound error.
	KeyByHash(ctx context.Context, hash string) (Key, error)
}

// Service issues and checks keys.
type Service struct {
	store Store
	now   func() time.Time
	rand  io.Reader
}

// NewService returns a Service over store.
func NewService(store Store) *Service {
	return &Service{store: store, now: time.Now, rand: rand.Reader}
}

// HashKey returns the hex SHA-256 of a key.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func (s *Service) randomID(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return prefix + strings.ToLower(base32(b)), nil
}

func base32(b []byte) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var sb strings.Builder
	var acc, bits uint
	for _, c := range b {
		acc = acc<<8 | uint(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			sb.WriteByte(alphabet[(acc>>bits)&31])
		}
	}
	if bits > 0 {
		sb.WriteByte(alphabet[(acc<<(5-bits))&31])
	}
	return sb.String()
}

// CreateTenant creates a tenant with a new id.
func (s *Service) CreateTenant(ctx context.Context, name string) (Tenant, error) {
	if strings.TrimSpace(name) == "" {
		return Tenant{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	id, err := s.randomID("t_", 10)
	if err != nil {
		return Tenant{}, err
	}
	return s.putTenant(ctx, Tenant{ID: id, Name: name, CreatedAt: s.now().UTC()})
}

// EnsureTenant creates a tenant with a chosen id (the local demo tenant),
// or keeps it when it exists.
func (s *Service) EnsureTenant(ctx context.Context, id, name string) (Tenant, error) {
	t, err := s.putTenant(ctx, Tenant{ID: id, Name: name, CreatedAt: s.now().UTC()})
	if apperr.Is(err, apperr.Conflict) {
		return t, nil
	}
	return t, err
}

func (s *Service) putTenant(ctx context.Context, t Tenant) (Tenant, error) {
	if err := s.store.PutTenant(ctx, t); err != nil {
		return t, fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	return t, nil
}

func validRole(role string) error {
	switch role {
	case RoleAdmin, RoleOperator, RoleViewer:
		return nil
	}
	return apperr.InvalidFields(apperr.FieldError{Field: "role", Message: "must be admin, operator or viewer"})
}

// IssueKey creates a new random key for a tenant. The returned plaintext is
// the only copy: show it once.
func (s *Service) IssueKey(ctx context.Context, tenantID, role, label string) (string, Key, error) {
	if err := validRole(role); err != nil {
		return "", Key{}, err
	}
	secret := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, secret); err != nil {
		return "", Key{}, fmt.Errorf("read random bytes: %w", err)
	}
	plaintext := KeyPrefix + base64.RawURLEncoding.EncodeToString(secret)
	k, err := s.RegisterKey(ctx, tenantID, role, label, plaintext)
	return plaintext, k, err
}

// RegisterKey stores a key the caller chose (RMMBRIDGE_DEV_API_KEY). It is
// idempotent for the same tenant and role; the same key for another tenant
// is a Conflict.
func (s *Service) RegisterKey(ctx context.Context, tenantID, role, label, plaintext string) (Key, error) {
	if err := validRole(role); err != nil {
		return Key{}, err
	}
	if len(plaintext) < MinKeyLength {
		return Key{}, apperr.InvalidFields(apperr.FieldError{Field: "key", Message: fmt.Sprintf("must be at least %d characters", MinKeyLength)})
	}
	id, err := s.randomID("k_", 8)
	if err != nil {
		return Key{}, err
	}
	k := Key{ID: id, TenantID: tenantID, Role: role, Label: label, Hash: HashKey(plaintext), CreatedAt: s.now().UTC()}
	err = s.store.PutKey(ctx, k)
	if apperr.Is(err, apperr.Conflict) {
		existing, gerr := s.store.KeyByHash(ctx, k.Hash)
		if gerr == nil && existing.TenantID == tenantID && existing.Role == role && !existing.Revoked {
			return existing, nil
		}
		return Key{}, apperr.New(apperr.Conflict, "that key is already registered")
	}
	if err != nil {
		return Key{}, fmt.Errorf("store key %s for tenant %s: %w", k.ID, tenantID, err)
	}
	return k, nil
}

// Authenticate returns the key record for a presented key, or an
// Unauthorized error that says nothing about why.
func (s *Service) Authenticate(ctx context.Context, presented string) (Key, error) {
	denied := apperr.New(apperr.Unauthorized, "invalid API key")
	if presented == "" {
		return Key{}, denied
	}
	hash := HashKey(presented)
	k, err := s.store.KeyByHash(ctx, hash)
	if apperr.Is(err, apperr.NotFound) {
		return Key{}, denied
	}
	if err != nil {
		return Key{}, fmt.Errorf("look up API key: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(k.Hash), []byte(hash)) != 1 || k.Revoked || validRole(k.Role) != nil {
		return Key{}, denied
	}
	return k, nil
}
