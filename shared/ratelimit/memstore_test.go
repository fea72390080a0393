package ratelimit

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memStore is an in-memory Store with the DynamoDB adapter's semantics,
// for unit tests with a fake clock (the adapter itself is tested against
// moto in shared/dynamostore, and the Limiter over it in moto_test.go).
type memStore struct {
	mu      sync.Mutex
	buckets map[ID]Bucket
	leases  map[ID]map[string]Lease
	calls   int
}

func newMemStore() *memStore {
	return &memStore{buckets: map[ID]Bucket{}, leases: map[ID]map[string]Lease{}}
}

func (m *memStore) GetBucket(_ context.Context, id ID) (Bucket, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	b, ok := m.buckets[id]
	return cloneBucket(b), ok, nil
}

func cloneBucket(b Bucket) Bucket {
	b.Samples = append([]Sample(nil), b.Samples...)
	return b
}

func (m *memStore) CreateBucket(_ context.Context, id ID, b Bucket) (Bucket, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if old, ok := m.buckets[id]; ok {
		return cloneBucket(old), false, nil
	}
	b.Version = 1
	m.buckets[id] = cloneBucket(b)
	return b, true, nil
}

func (m *memStore) Draw(_ context.Context, id ID, t Take) (Bucket, bool, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	b, ok := m.buckets[id]
	if !ok {
		return Bucket{}, false, false, nil
	}
	if b.Epoch != t.Epoch || (!t.NotCoolingAt.IsZero() && b.CoolDownUntil.After(t.NotCoolingAt)) ||
		(t.Min != nil && b.Tokens < *t.Min) || (t.Max != nil && b.Tokens > *t.Max) {
		return cloneBucket(b), false, true, nil
	}
	if t.SetTokens != nil {
		b.Tokens = *t.SetTokens
	} else {
		b.Tokens += t.AddTokens
	}
	if !t.SetRefilledAt.IsZero() {
		b.RefilledAt, b.Epoch = time.UnixMilli(t.SetRefilledAt.UnixMilli()), b.Epoch+1
	}
	b.Taken += t.Taken
	b.Version++
	m.buckets[id] = b
	return cloneBucket(b), true, true, nil
}

func (m *memStore) Rewrite(_ context.Context, id ID, version int64, b Bucket) (Bucket, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	old, ok := m.buckets[id]
	if !ok || old.Version != version {
		return cloneBucket(old), false, nil
	}
	b.Version, b.Epoch = version+1, b.Epoch+1
	b.RefilledAt = time.UnixMilli(b.RefilledAt.UnixMilli())
	m.buckets[id] = cloneBucket(b)
	return b, true, nil
}

func (m *memStore) SetCoolDown(_ context.Context, id ID, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	b := m.buckets[id]
	if until.After(b.CoolDownUntil) {
		b.CoolDownUntil = time.UnixMilli(until.UnixMilli())
		b.Version++
		m.buckets[id] = b
	}
	return nil
}

func (m *memStore) ClaimCalibration(_ context.Context, id ID, now time.Time, every time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	b, ok := m.buckets[id]
	if !ok || (!b.CalibratedAt.IsZero() && b.CalibratedAt.After(now.Add(-every))) {
		return false, nil
	}
	b.CalibratedAt = now
	b.Version++
	m.buckets[id] = b
	return true, nil
}

func leaseName(l Lease) string { return l.Endpoint + "#" + strconv.Itoa(l.Slot) }

func (m *memStore) AcquireLease(_ context.Context, id ID, l Lease, now time.Time) (bool, Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.leases[id] == nil {
		m.leases[id] = map[string]Lease{}
	}
	if cur, ok := m.leases[id][leaseName(l)]; ok && cur.ExpiresAt.After(now) {
		return false, cur, nil
	}
	m.leases[id][leaseName(l)] = l
	return true, l, nil
}

func (m *memStore) RenewLease(_ context.Context, id ID, l Lease) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	cur, ok := m.leases[id][leaseName(l)]
	if !ok || cur.Holder != l.Holder {
		return false, nil
	}
	m.leases[id][leaseName(l)] = l
	return true, nil
}

func (m *memStore) ReleaseLease(_ context.Context, id ID, l Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if cur, ok := m.leases[id][leaseName(l)]; ok && cur.Holder == l.Holder {
		delete(m.leases[id], leaseName(l))
	}
	return nil
}

func (m *memStore) Leases(_ context.Context, id ID, endpoint string) ([]Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	var out []Lease
	for name, l := range m.leases[id] {
		if strings.HasPrefix(name, endpoint+"#") && l.Endpoint == endpoint {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slot < out[j].Slot })
	return out, nil
}

// fakeClock is a clock that only sleeping advances.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.Advance(d)
	}
	return nil
}

// fakeOptions are Options on the fake clock, without jitter.
func fakeOptions(c *fakeClock) Options {
	return Options{Now: c.Now, Sleep: c.Sleep, Jitter: func(time.Duration) time.Duration { return 0 }}
}
