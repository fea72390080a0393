package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Outcome is what became of a request, reported when its permit is
// released.
type Outcome struct {
	// Status is the vendor's HTTP status, 0 when no answer arrived.
	Status int
	// Throttled says the vendor asked to slow down (429, or an answer the
	// client classifies as throttled): the budget cools down.
	Throttled bool
	// RetryAfter is the vendor's Retry-After, 0 when it sent none.
	RetryAfter time.Duration
}

// Budgets opens the Limiters of one process over one Store. Limiters of
// the same budget share their local state (reserved tokens, held leases,
// the known cool-down), so every client of a warm Lambda draws together.
// It is safe for concurrent use.
type Budgets struct {
	store    Store
	opt      Options
	instance func() string // random, drawn on first use (not at start)
	leaseSeq atomic.Int64

	mu     sync.Mutex
	states map[ID]*state

	stats counters
}

// NewBudgets returns the budgets kept in store.
func NewBudgets(store Store, opt Options) *Budgets {
	return &Budgets{store: store, opt: opt.withDefaults(), instance: sync.OnceValue(newInstanceID), states: map[ID]*state{}}
}

// newInstanceID is a random id of this process, naming the leases it holds.
func newInstanceID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Limiter returns the limiter of budget id configured by budget.
func (bs *Budgets) Limiter(id ID, budget Budget) *Limiter {
	bs.mu.Lock()
	st, ok := bs.states[id]
	if !ok {
		st = &state{slots: map[string]*endpointSlots{}}
		bs.states[id] = st
	}
	bs.mu.Unlock()
	if budget.Window <= 0 {
		budget.Window = DefaultWindow
	}
	if budget.Ceiling <= 0 || budget.Ceiling > 1 {
		budget.Ceiling = DefaultCeiling
	}
	if budget.Name == "" {
		budget.Name = "the vendor"
	}
	return &Limiter{bs: bs, id: id, budget: budget, st: st}
}

// Stats returns what the budgets did so far.
func (bs *Budgets) Stats() Stats { return bs.stats.snapshot() }

// Limiter draws requests from one budget. It is safe for concurrent use.
// A nil *Limiter is no budget: it permits every request at once and
// never calibrates.
type Limiter struct {
	bs     *Budgets
	id     ID
	budget Budget
	st     *state
}

// ID returns the budget's id.
func (l *Limiter) ID() ID { return l.id }

// Budget returns the limiter's configuration.
func (l *Limiter) Budget() Budget { return l.budget }

// state is one budget's local state, shared by its Limiters.
type state struct {
	mu sync.Mutex
	// bucket is the bucket as last read or written (known says whether
	// it was), readAt when.
	bucket Bucket
	known  bool
	readAt time.Time
	// coolUntil is the latest cool-down known.
	coolUntil time.Time
	// pool holds tokens reserved by import takes and not used yet, by
	// maturity (ascending); each is usable until maturity + hold.
	pool []time.Time
	// fetching: one import request is drawing (or waiting to draw) for
	// every import request of the instance; the others wait for done.
	fetching  bool
	done      chan struct{}
	nextFetch time.Time
	waiters   int
	// contention is a moving average of the draws lost per draw won.
	contention float64
	// uses are the times tokens were handed out, the last hold's worth
	// (to size import takes).
	uses []time.Time
	// slots are the leases held and awaited, by endpoint.
	slots map[string]*endpointSlots
	// calibration: one at a time per instance, none before nextCalib.
	calibrating bool
	nextCalib   time.Time
}

// params returns the bucket parameters l wants now: the configured
// budget, or the calibrated one when the bucket holds a live allowance.
func (l *Limiter) params(b Bucket, found bool, now time.Time) params {
	requests := l.budget.Requests
	if found && b.AllowedUntil.After(now) {
		if l.budget.Share > 0 && b.BaseRequests > 0 {
			requests = b.BaseRequests
		}
		if b.Allowed > 0 {
			requests = min(requests, b.Allowed)
		}
	}
	return derive(requests, l.budget.Window, l.bs.opt, l.budget.Strict)
}

// matches reports whether the bucket already has p's parameters.
func (p params) matches(b Bucket) bool {
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a)) }
	return b.Requests == p.requests && b.Window == p.window && near(b.Rate, p.rate) && near(b.Capacity, p.capacity)
}

// waitLimit is the latest time a request of lane may be sent: its lane's
// longest wait, or its context's deadline less the margin.
func (l *Limiter) waitLimit(ctx context.Context, lane Lane, now time.Time) time.Time {
	limit := now.Add(l.bs.opt.laneWait(lane))
	if dl, ok := ctx.Deadline(); ok {
		if d := dl.Add(-l.bs.opt.DeadlineMargin); d.Before(limit) {
			limit = d
		}
	}
	return limit
}

// throttled is the error for a request that would wait past its limit.
func (l *Limiter) throttled(wait time.Duration, why string) error {
	l.bs.stats.throttles.Add(1)
	secs := math.Ceil(max(wait, time.Second).Seconds())
	ra := time.Duration(secs) * time.Second
	return &apperr.Error{Kind: apperr.Throttled, RetryAfter: ra,
		Message: fmt.Sprintf("%s: %s; retry in %.0f s", l.budget.Name, why, secs)}
}

// Acquire waits for permission to send one request to endpoint in the
// lane ctx carries (LaneFrom): a concurrency slot when the budget has
// MaxConcurrency, then a token. It returns a release function the caller
// must call once with the request's outcome. When the wait would be
// longer than the lane's or the context's limit it returns an
// apperr.Throttled error with RetryAfter instead of sleeping; a failing
// store is an Unavailable or Internal error.
func (l *Limiter) Acquire(ctx context.Context, endpoint string) (release func(Outcome), err error) {
	if l == nil {
		return func(Outcome) {}, nil
	}
	o := l.bs.opt
	lane := LaneFrom(ctx)
	now := o.Now()
	limit := l.waitLimit(ctx, lane, now)
	if err := l.waitCool(ctx, limit); err != nil {
		return nil, err
	}
	var lease *heldLease
	if l.budget.MaxConcurrency > 0 {
		if lease, err = l.acquireSlot(ctx, endpoint, lane, limit); err != nil {
			return nil, err
		}
	}
	fail := func(err error) (func(Outcome), error) {
		if lease != nil {
			l.releaseSlot(context.WithoutCancel(ctx), lease)
		}
		return nil, err
	}
	for {
		at, readAt, err := l.token(ctx, lane, limit)
		if err != nil {
			return fail(err)
		}
		if wait := at.Sub(o.Now()); wait > 0 {
			if err := o.Sleep(ctx, wait); err != nil {
				return fail(apperr.Wrap(apperr.Unavailable, err, "%s: gave up waiting for the request budget", l.budget.Name))
			}
		}
		// A cool-down another request of this instance learned while this
		// one waited voids its token.
		if err := l.waitCool(ctx, limit); err != nil {
			return fail(err)
		}
		// A token that waited is checked against the stored cool-down
		// before it is used: always for strict budgets, and for the others
		// when this instance has not read the bucket for longer than the
		// hold (a request booked ahead; at most one read per hold).
		hold := l.hold()
		if (l.budget.Strict && o.Now().Sub(readAt) > strictSlack) || o.Now().Sub(l.st.lastRead()) > hold {
			cool, err := l.validate(ctx)
			if err != nil {
				return fail(err)
			}
			if cool {
				if err := l.waitCool(ctx, limit); err != nil {
					return fail(err)
				}
				continue // the token is void: draw another
			}
		}
		if lease != nil {
			if lease, err = l.keepSlot(ctx, lease, lane, limit); err != nil {
				return nil, err
			}
		}
		// The window guarantee counts on every token being used within
		// the hold after it matures: one that is older (the checks above
		// took too long) is dropped.
		if o.Now().Sub(at) > hold {
			l.bs.stats.wasted.Add(1)
			continue
		}
		break
	}
	l.bs.stats.permits.Add(1)
	var once sync.Once
	return func(out Outcome) {
		once.Do(func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if out.Throttled {
				l.coolDown(rctx, out.RetryAfter)
			}
			if lease != nil {
				l.releaseSlot(rctx, lease)
			}
		})
	}, nil
}

// waitCool sleeps through a cool-down this instance knows of, or fails
// with Throttled when it ends after limit.
func (l *Limiter) waitCool(ctx context.Context, limit time.Time) error {
	o := l.bs.opt
	for {
		l.st.mu.Lock()
		until := l.st.coolUntil
		l.st.mu.Unlock()
		now := o.Now()
		if !until.After(now) {
			return nil
		}
		if until.After(limit) {
			return l.throttled(until.Sub(now), "the vendor asked to slow down")
		}
		if err := o.Sleep(ctx, until.Sub(now)); err != nil {
			return apperr.Wrap(apperr.Unavailable, err, "%s: gave up waiting for the request budget", l.budget.Name)
		}
	}
}

// learn records what the store said of the bucket.
func (st *state) learn(b Bucket, now time.Time) {
	st.bucket, st.known, st.readAt = b, true, now
	if b.CoolDownUntil.After(st.coolUntil) {
		st.coolUntil = b.CoolDownUntil
		if b.CoolDownUntil.After(now) {
			st.pool = nil
		}
	}
}

// popPool hands out the earliest reserved token still usable that matures
// by limit.
func (st *state) popPool(now, limit time.Time, hold time.Duration) (time.Time, bool, int) {
	wasted := 0
	for len(st.pool) > 0 && st.pool[0].Add(hold).Before(now) {
		st.pool = st.pool[1:]
		wasted++
	}
	if len(st.pool) == 0 || st.pool[0].After(limit) {
		return time.Time{}, false, wasted
	}
	at := st.pool[0]
	st.pool = st.pool[1:]
	return at, true, wasted
}

// used records tokens handed out at now, keeping one hold's worth.
func (st *state) used(now time.Time, hold time.Duration, n int) {
	for range n {
		st.uses = append(st.uses, now)
	}
	cut := 0
	for cut < len(st.uses) && now.Sub(st.uses[cut]) > hold {
		cut++
	}
	st.uses = st.uses[cut:]
}

// token returns when a token for one request of lane matures (no later
// than limit), and when this instance last read the bucket before that
// token was granted (for strict budgets' check).
func (l *Limiter) token(ctx context.Context, lane Lane, limit time.Time) (time.Time, time.Time, error) {
	o := l.bs.opt
	st := l.st
	for {
		now := o.Now()
		st.mu.Lock()
		p := l.params(st.bucket, st.known, now)
		if st.coolUntil.After(now) {
			st.mu.Unlock()
			if err := l.waitCool(ctx, limit); err != nil {
				return time.Time{}, time.Time{}, err
			}
			continue
		}
		at, ok, wasted := st.popPool(now, limit, p.hold)
		l.bs.stats.wasted.Add(int64(wasted))
		if ok {
			st.used(now, p.hold, 1)
			readAt := st.readAt
			st.mu.Unlock()
			l.bs.stats.local.Add(1)
			return at, readAt, nil
		}
		if lane == LaneImport && st.fetching {
			// Another import request of this instance draws for us.
			if st.nextFetch.After(limit) {
				wait := st.nextFetch.Sub(now)
				st.mu.Unlock()
				return time.Time{}, time.Time{}, l.throttled(wait, "the request budget is used up for now")
			}
			done := st.done
			st.waiters++
			st.mu.Unlock()
			err := l.waitFor(ctx, done, limit)
			st.mu.Lock()
			st.waiters--
			st.mu.Unlock()
			if err != nil {
				return time.Time{}, time.Time{}, err
			}
			continue
		}
		n := 1
		if lane == LaneImport {
			st.fetching, st.done = true, make(chan struct{})
			n = max(1, min(p.maxBatch, 1+st.waiters+len(st.uses)/2))
			// Far from its limit (the bucket more than half full), the
			// budget loses nothing to tokens that expire unused: take the
			// largest batch, so that a steady worker draws once a batch.
			if st.known && math.Min(st.bucket.level(now), st.bucket.Capacity)-float64(p.maxBatch) >= st.bucket.Capacity/2 {
				n = p.maxBatch
			}
		}
		st.mu.Unlock()
		at, err := l.fetch(ctx, lane, limit, n)
		st.mu.Lock()
		readAt := st.readAt
		if lane == LaneImport {
			st.fetching = false
			close(st.done)
		}
		st.mu.Unlock()
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		return at, readAt, nil
	}
}

// waitFor waits until done closes, or fails at limit or when ctx ends.
func (l *Limiter) waitFor(ctx context.Context, done <-chan struct{}, limit time.Time) error {
	d := limit.Sub(l.bs.opt.Now())
	if d <= 0 {
		return l.throttled(time.Second, "the request budget is used up for now")
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return l.throttled(time.Second, "the request budget is used up for now")
	case <-ctx.Done():
		return apperr.Wrap(apperr.Unavailable, ctx.Err(), "%s: gave up waiting for the request budget", l.budget.Name)
	}
}

// fetch draws n tokens from the store for a request of lane, waiting
// (while the wait ends by limit) for the bucket to refill. It keeps the
// first token and pools the rest.
func (l *Limiter) fetch(ctx context.Context, lane Lane, limit time.Time, n int) (time.Time, error) {
	o := l.bs.opt
	st := l.st
	for {
		now := o.Now()
		mats, wait, eta, err := l.draw(ctx, lane, limit, n)
		if err != nil {
			return time.Time{}, err
		}
		if len(mats) > 0 {
			st.mu.Lock()
			st.pool = append(st.pool, mats[1:]...)
			slices.SortFunc(st.pool, func(a, b time.Time) int { return a.Compare(b) })
			st.used(now, l.params(st.bucket, st.known, now).hold, 1)
			st.mu.Unlock()
			return mats[0], nil
		}
		if now.Add(eta).After(limit) {
			if st.coolUntilAfter(now) {
				return time.Time{}, l.throttled(eta, "the vendor asked to slow down")
			}
			return time.Time{}, l.throttled(eta, "the request budget is used up for now")
		}
		// Waiting: spread the retries of competing instances over the
		// refill of as many tokens as draws were lost lately per draw won
		// (about the number of instances competing).
		st.mu.Lock()
		rate, contention := st.bucket.Rate, st.contention
		st.mu.Unlock()
		spread := wait / 4
		if rate > 0 {
			spread = max(spread, durationOf((1+min(contention, 16))/rate))
		}
		wait += o.Jitter(max(spread, time.Millisecond))
		if now.Add(wait).After(limit) {
			wait = max(limit.Sub(now), 0)
		}
		st.mu.Lock()
		st.nextFetch = now.Add(wait)
		st.mu.Unlock()
		if err := o.Sleep(ctx, wait); err != nil {
			return time.Time{}, apperr.Wrap(apperr.Unavailable, err, "%s: gave up waiting for the request budget", l.budget.Name)
		}
		if !o.Now().Before(limit) {
			return time.Time{}, l.throttled(eta, "the request budget is used up for now")
		}
	}
}

func (st *state) coolUntilAfter(now time.Time) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.coolUntil.After(now)
}

// lastRead is when this instance last read or wrote the bucket.
func (st *state) lastRead() time.Time {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.readAt
}

// hold is the budget's hold.
func (l *Limiter) hold() time.Duration {
	l.st.mu.Lock()
	defer l.st.mu.Unlock()
	return l.params(l.st.bucket, l.st.known, l.bs.opt.Now()).hold
}

// strictSlack is how old the last read of the bucket may be when a strict
// budget's token is used without reading it again.
const strictSlack = 20 * time.Millisecond

// maxTries bounds the store requests of one draw when other instances
// keep changing the bucket under it.
const maxTries = 6

// draw makes one attempt (a few store requests at most) to take n tokens
// for lane: it returns their maturities, or how long to wait before
// trying again and how long until a token could be sent at the soonest
// (eta ≥ wait: a take may book a token that matures later).
func (l *Limiter) draw(ctx context.Context, lane Lane, limit time.Time, n int) (mats []time.Time, wait, eta time.Duration, err error) {
	o := l.bs.opt
	st := l.st
	s := &l.bs.stats
	for try := 0; try < maxTries; try++ {
		now := o.Now()
		st.mu.Lock()
		b, known := st.bucket, st.known
		st.mu.Unlock()
		if !known {
			got, found, err := l.bs.store.GetBucket(ctx, l.id)
			s.gets.Add(1)
			if err != nil {
				return nil, 0, 0, l.storeErr(err)
			}
			if !found {
				p := l.params(Bucket{}, false, now)
				nb := rebased(Bucket{}, now, p)
				nb.Epoch, nb.BaseRequests = 1, p.requests
				nb.Tokens = round6(p.capacity - float64(n))
				nb.Taken = int64(n)
				got, ok, err := l.bs.store.CreateBucket(ctx, l.id, nb)
				s.creates.Add(1)
				if err != nil {
					return nil, 0, 0, l.storeErr(err)
				}
				st.mu.Lock()
				st.learn(got, now)
				st.mu.Unlock()
				if ok {
					s.tokens.Add(int64(n))
					return maturities(got, now, n), 0, 0, nil
				}
				continue
			}
			st.mu.Lock()
			st.learn(got, now)
			st.mu.Unlock()
			b = got
		}
		p := l.params(b, true, now)
		if !p.matches(b) && !b.CoolDownUntil.After(now) {
			// The configuration or the calibration changed the budget:
			// rebase the bucket on the new parameters.
			nb := rebased(b, now, p)
			got, ok, err := l.bs.store.Rewrite(ctx, l.id, b.Version, nb)
			s.rewrites.Add(1)
			if err != nil {
				return nil, 0, 0, l.storeErr(err)
			}
			st.mu.Lock()
			st.learn(got, now)
			if !ok && got.Version == 0 {
				st.known = false // gone (expired): read again
			}
			st.mu.Unlock()
			continue
		}
		nf := float64(n)
		floor := p.floor(lane, limit.Sub(now))
		if room := math.Floor(b.Capacity - floor); nf > room && room >= 1 {
			nf = room
		}
		pl := planTake(b, now, nf, floor, o.RebaseAfter)
		if pl.cooling {
			return nil, pl.wait, pl.wait, nil
		}
		if !pl.ok {
			wait, eta := p.eta(lane, math.Min(b.level(now), b.Capacity), nf)
			return nil, wait, eta, nil
		}
		got, ok, found, err := l.bs.store.Draw(ctx, l.id, pl.take)
		s.draws.Add(1)
		if err != nil {
			return nil, 0, 0, l.storeErr(err)
		}
		st.mu.Lock()
		if found {
			st.learn(got, now)
		} else {
			st.known = false
		}
		if ok {
			st.contention *= 0.8
		} else {
			st.contention += 0.2
		}
		st.mu.Unlock()
		if ok {
			s.tokens.Add(int64(nf))
			return maturities(got, now, int(nf)), 0, 0, nil
		}
		s.conflicts.Add(1)
	}
	// Others kept changing the bucket: try again shortly.
	d := 10*time.Millisecond + o.Jitter(40*time.Millisecond)
	return nil, d, d, nil
}

// validate reads the bucket to check, before a token that waited is used
// (strict budgets), that no instance recorded a cool-down meanwhile.
func (l *Limiter) validate(ctx context.Context) (cooling bool, err error) {
	now := l.bs.opt.Now()
	b, found, err := l.bs.store.GetBucket(ctx, l.id)
	l.bs.stats.validations.Add(1)
	if err != nil {
		return false, l.storeErr(err)
	}
	l.st.mu.Lock()
	defer l.st.mu.Unlock()
	if !found {
		l.st.known = false
		return false, nil
	}
	l.st.learn(b, now)
	return b.CoolDownUntil.After(now), nil
}

// coolDown records a throttle answer: this instance stops at once, every
// other at its next draw.
func (l *Limiter) coolDown(ctx context.Context, retryAfter time.Duration) {
	o := l.bs.opt
	d := retryAfter
	if d <= 0 {
		d = o.CoolDown
	}
	d = min(d, o.MaxCoolDown)
	until := o.Now().Add(d)
	l.st.mu.Lock()
	if until.After(l.st.coolUntil) {
		l.st.coolUntil = until
	}
	l.bs.stats.wasted.Add(int64(len(l.st.pool)))
	l.st.pool = nil
	l.st.mu.Unlock()
	l.bs.stats.coolDowns.Add(1)
	if err := l.bs.store.SetCoolDown(ctx, l.id, until); err != nil {
		l.bs.stats.errors.Add(1)
	}
}

// storeErr classifies a store failure (the adapter already returns
// apperr kinds; anything else is Unavailable).
func (l *Limiter) storeErr(err error) error {
	l.bs.stats.errors.Add(1)
	if _, ok := apperr.As(err); ok {
		return fmt.Errorf("%s request budget %s: %w", l.budget.Name, l.id, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return apperr.Wrap(apperr.Unavailable, err, "%s: gave up waiting for the request budget", l.budget.Name)
	}
	return apperr.Wrap(apperr.Unavailable, err, "%s: the request budget could not be read", l.budget.Name)
}

func jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return mrand.N(max)
}

// Stats count what the budgets did; StoreRequests is every request made
// to the store.
type Stats struct {
	// Permits is the requests let through; Tokens the tokens taken from
	// the store (Local of them handed out from local reservations);
	// Wasted the reserved tokens that expired or were voided by a
	// cool-down; Throttles the Throttled errors returned.
	Permits, Tokens, Local, Wasted, Throttles int64
	// Store requests by kind: bucket reads (Gets and Validations),
	// creates, draws (Conflicts of them lost their condition), rewrites,
	// cool-downs, calibration claims, lease acquisitions (LeaseConflicts
	// of them found the slot held), renewals, releases and listings.
	Gets, Validations, Creates, Draws, Conflicts, Rewrites, CoolDowns, Claims int64
	LeaseAcquires, LeaseConflicts, LeaseRenews, LeaseReleases, LeaseLists     int64
	// Handoffs are slots passed from one request to a waiting one of the
	// same instance without a store request; Errors are store failures.
	Handoffs, Errors int64
}

// StoreRequests is the number of requests made to the store.
func (s Stats) StoreRequests() int64 {
	return s.Gets + s.Validations + s.Creates + s.Draws + s.Rewrites + s.CoolDowns + s.Claims +
		s.LeaseAcquires + s.LeaseRenews + s.LeaseReleases + s.LeaseLists
}

type counters struct {
	permits, tokens, local, wasted, throttles                         atomic.Int64
	gets, validations, creates, draws, conflicts, rewrites, coolDowns atomic.Int64
	claims                                                            atomic.Int64
	leaseAcquires, leaseConflicts, leaseRenews, leaseReleases         atomic.Int64
	leaseLists, handoffs, errors                                      atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Permits: c.permits.Load(), Tokens: c.tokens.Load(), Local: c.local.Load(), Wasted: c.wasted.Load(), Throttles: c.throttles.Load(),
		Gets: c.gets.Load(), Validations: c.validations.Load(), Creates: c.creates.Load(), Draws: c.draws.Load(),
		Conflicts: c.conflicts.Load(), Rewrites: c.rewrites.Load(), CoolDowns: c.coolDowns.Load(), Claims: c.claims.Load(),
		LeaseAcquires: c.leaseAcquires.Load(), LeaseConflicts: c.leaseConflicts.Load(), LeaseRenews: c.leaseRenews.Load(),
		LeaseReleases: c.leaseReleases.Load(), LeaseLists: c.leaseLists.Load(), Handoffs: c.handoffs.Load(), Errors: c.errors.Load(),
	}
}
