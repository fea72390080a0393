// Package lease is the one way rmmbridge creates a vendor record exactly
// once however many workers race for it:
//
//	claim (a conditional write of a claim record with a lease, held by a
//	random owner id) → look the vendor up by our external reference,
//	adopting what a worker that died after its create left behind →
//	create → finalize (a write conditioned on the claim).
//
// Each domain package keeps its own claim record (an organization's
// mapping, a device's asset link, an alert series' link, a provisioning
// run) and its own store. Lease gives them the parts that must agree
// everywhere: the owner id (NewOwner), the wait of a caller that lost a
// claim for its winner (Wait), a sleep that ends with the context (Sleep),
// the adopt-or-create step (FindOrCreate) and the one rule deciding which
// of several records carrying our reference is adopted: the oldest, so
// that every racing worker adopts the same one (Oldest, Older).
//
// It depends on nothing but the standard library.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// NewOwner returns a new random claim owner id (16 hex digits).
func NewOwner() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Sleep waits d, or until ctx ends (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Older reports whether vendor record id a is older than b: numeric ids
// compare as numbers (shorter first), other ids lexically. Vendors number
// their records in creation order, so the smaller id is the older record.
func Older(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// Oldest returns the item with the oldest id (see Older); items must not
// be empty. Every worker adopting duplicates that carry our reference
// picks the same one.
func Oldest[T any](items []T, id func(T) string) T {
	best := items[0]
	for _, it := range items[1:] {
		if Older(id(it), id(best)) {
			best = it
		}
	}
	return best
}

// FindOrCreate is the step taken under a claim: find the records carrying
// our reference and adopt the oldest (adopted is then true), else create
// one. A create whose worker died before it was recorded is found by the
// next claimant instead of repeated.
func FindOrCreate[T any](ctx context.Context, find func(context.Context) ([]T, error), id func(T) string,
	create func(context.Context) (T, error)) (rec T, adopted bool, err error) {
	found, err := find(ctx)
	if err != nil {
		var zero T
		return zero, false, err
	}
	if len(found) > 0 {
		return Oldest(found, id), true, nil
	}
	rec, err = create(ctx)
	return rec, false, err
}

// Wait is how a caller that lost a claim waits for the winner: it tries
// again every Poll, for at most For.
type Wait struct {
	// For is how long to wait in all (default 10 s).
	For time.Duration
	// Poll is the interval between tries (default 100 ms).
	Poll time.Duration
	// Now and Sleep are the clock and the sleep (defaults: time.Now and
	// Sleep); tests replace them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

func (w Wait) withDefaults() Wait {
	if w.For <= 0 {
		w.For = 10 * time.Second
	}
	if w.Poll <= 0 {
		w.Poll = 100 * time.Millisecond
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Sleep == nil {
		w.Sleep = Sleep
	}
	return w
}

// Until calls try until it is done or fails, sleeping Poll between calls.
// It gives up after For (by the clock) or For/Poll sleeps (whichever comes
// first, so a test clock that never moves cannot hold it forever) and
// reports that with busy: the claim is still held by someone else, and the
// caller answers Conflict (try again later). A sleep cut short by the
// context returns the context's error.
func (w Wait) Until(ctx context.Context, try func() (done bool, err error)) (busy bool, err error) {
	w = w.withDefaults()
	deadline := w.Now().Add(w.For)
	polls := int(w.For / w.Poll)
	for attempt := 0; ; attempt++ {
		done, err := try()
		if done || err != nil {
			return false, err
		}
		if attempt >= polls || w.Now().After(deadline) {
			return true, nil
		}
		if err := w.Sleep(ctx, w.Poll); err != nil {
			return false, err
		}
	}
}
