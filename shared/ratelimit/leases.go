package ratelimit

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// endpointSlots is what an instance knows of one endpoint's slots.
type endpointSlots struct {
	// held are the slots this instance holds.
	held map[int]bool
	// busy are slots other holders were seen holding, until when.
	busy map[int]time.Time
	// waiters are this instance's requests waiting for a slot.
	waiters []*slotWaiter
}

type slotWaiter struct {
	lane    Lane
	allowed int // slots 0..allowed-1 may be used
	ch      chan *heldLease
}

// heldLease is a lease this instance holds.
type heldLease struct{ Lease }

func (st *state) endpoint(name string) *endpointSlots {
	es, ok := st.slots[name]
	if !ok {
		es = &endpointSlots{held: map[int]bool{}, busy: map[int]time.Time{}}
		st.slots[name] = es
	}
	return es
}

// allowedSlots is how many of an endpoint's slots lane may use: imports
// leave one free for alerts and the Sync button.
func (l *Limiter) allowedSlots(lane Lane) int {
	n := l.budget.MaxConcurrency
	if lane == LaneImport && n >= 2 {
		return n - 1
	}
	return n
}

// slotOrder is the order lane tries free slots in: alerts and the Sync
// button start with the slot imports cannot take, imports with a random
// one (so instances do not all race for slot 0).
func slotOrder(free []int, lane Lane, reserved int) []int {
	mrand.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	if lane == LaneImport {
		return free
	}
	for i, s := range free {
		if s == reserved {
			free[0], free[i] = free[i], free[0]
		}
	}
	return free
}

// acquireSlot takes one of endpoint's slots for a request of lane, waiting
// (for a slot this instance releases, or polling the table) until limit.
func (l *Limiter) acquireSlot(ctx context.Context, endpoint string, lane Lane, limit time.Time) (*heldLease, error) {
	o := l.bs.opt
	st := l.st
	s := &l.bs.stats
	allowed := l.allowedSlots(lane)
	backoff := 20 * time.Millisecond
	for {
		now := o.Now()
		st.mu.Lock()
		es := st.endpoint(endpoint)
		var free []int
		for slot := range allowed {
			if es.held[slot] {
				continue
			}
			if until, ok := es.busy[slot]; ok && until.After(now) {
				continue
			}
			free = append(free, slot)
		}
		st.mu.Unlock()
		for _, slot := range slotOrder(free, lane, l.budget.MaxConcurrency-1) {
			lease := Lease{Endpoint: endpoint, Slot: slot, ExpiresAt: now.Add(o.LeaseTTL),
				Holder: fmt.Sprintf("%s-%d", l.bs.instance(), l.bs.leaseSeq.Add(1))}
			ok, cur, err := l.bs.store.AcquireLease(ctx, l.id, lease, now)
			s.leaseAcquires.Add(1)
			if err != nil {
				return nil, l.storeErr(err)
			}
			st.mu.Lock()
			if ok {
				es.held[slot] = true
				delete(es.busy, slot)
				st.mu.Unlock()
				return &heldLease{lease}, nil
			}
			s.leaseConflicts.Add(1)
			es.busy[slot] = cur.ExpiresAt
			st.mu.Unlock()
		}
		// Every slot is busy: wait for one of ours to come free, or look
		// again after a while.
		if !now.Before(limit) {
			return nil, l.throttled(time.Second, fmt.Sprintf("all %d request slots of %s are busy", l.budget.MaxConcurrency, endpoint))
		}
		w := &slotWaiter{lane: lane, allowed: allowed, ch: make(chan *heldLease, 1)}
		st.mu.Lock()
		es.waiters = append(es.waiters, w)
		st.mu.Unlock()
		d := min(backoff+o.Jitter(backoff), limit.Sub(now))
		backoff = min(2*backoff, 500*time.Millisecond)
		t := time.NewTimer(d)
		var ctxErr error
		select {
		case h := <-w.ch:
			t.Stop()
			return h, nil
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			ctxErr = ctx.Err()
		}
		st.mu.Lock()
		for i, x := range es.waiters {
			if x == w {
				es.waiters = append(es.waiters[:i], es.waiters[i+1:]...)
				break
			}
		}
		st.mu.Unlock()
		select {
		case h := <-w.ch: // handed over while the timer fired
			return h, nil
		default:
		}
		if ctxErr != nil {
			return nil, apperr.Wrap(apperr.Unavailable, ctxErr, "%s: gave up waiting for a request slot", l.budget.Name)
		}
		if !o.Now().Before(limit) {
			return nil, l.throttled(time.Second, fmt.Sprintf("all %d request slots of %s are busy", l.budget.MaxConcurrency, endpoint))
		}
		leases, err := l.bs.store.Leases(ctx, l.id, endpoint)
		s.leaseLists.Add(1)
		if err != nil {
			return nil, l.storeErr(err)
		}
		now = o.Now()
		st.mu.Lock()
		clear(es.busy)
		for _, x := range leases {
			if x.ExpiresAt.After(now) && !es.held[x.Slot] {
				es.busy[x.Slot] = x.ExpiresAt
			}
		}
		st.mu.Unlock()
	}
}

// keepSlot makes sure h outlives the request about to be sent: it renews
// a lease with less than LeaseMinLeft to live, and takes a slot again if
// the lease was lost.
func (l *Limiter) keepSlot(ctx context.Context, h *heldLease, lane Lane, limit time.Time) (*heldLease, error) {
	o := l.bs.opt
	now := o.Now()
	if h.ExpiresAt.Sub(now) >= o.LeaseMinLeft {
		return h, nil
	}
	renewed := h.Lease
	renewed.ExpiresAt = now.Add(o.LeaseTTL)
	ok, err := l.bs.store.RenewLease(ctx, l.id, renewed)
	l.bs.stats.leaseRenews.Add(1)
	if err != nil {
		l.releaseSlot(context.WithoutCancel(ctx), h)
		return nil, l.storeErr(err)
	}
	if ok {
		return &heldLease{renewed}, nil
	}
	l.st.mu.Lock()
	delete(l.st.endpoint(h.Endpoint).held, h.Slot)
	l.st.mu.Unlock()
	return l.acquireSlot(ctx, h.Endpoint, lane, limit)
}

// releaseSlot passes h to the most urgent request of this instance
// waiting for a slot it may use, or frees it in the table.
func (l *Limiter) releaseSlot(ctx context.Context, h *heldLease) {
	st := l.st
	st.mu.Lock()
	es := st.endpoint(h.Endpoint)
	best := -1
	for i, w := range es.waiters {
		if h.Slot < w.allowed && (best < 0 || w.lane > es.waiters[best].lane) {
			best = i
		}
	}
	if best >= 0 && h.ExpiresAt.After(l.bs.opt.Now()) {
		w := es.waiters[best]
		es.waiters = append(es.waiters[:best], es.waiters[best+1:]...)
		st.mu.Unlock()
		w.ch <- h
		l.bs.stats.handoffs.Add(1)
		return
	}
	delete(es.held, h.Slot)
	st.mu.Unlock()
	if err := l.bs.store.ReleaseLease(ctx, l.id, h.Lease); err != nil {
		l.bs.stats.errors.Add(1)
	}
	l.bs.stats.leaseReleases.Add(1)
}
