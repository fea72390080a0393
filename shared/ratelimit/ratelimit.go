// Package ratelimit is the request budget every vendor client draws from
// (through shared/vendorhttp), shared by every Lambda instance of every
// function through one DynamoDB table.
//
// A budget is identified by a tenant and a key chosen by the vendor client
// (Autotask: the database, i.e. the zone and the API user's company; the
// other vendors: the connection). It has three parts, all kept in the
// table so that every instance honours them:
//
//   - a token bucket (item BUCKET): Budget.Requests per Budget.Window. The
//     bucket's capacity and refill rate are derived so that the vendor
//     never receives more than Requests in any window of that length, from
//     all instances together (see Budget and derive);
//   - a cool-down (in the BUCKET item): a vendor answer that says "slow
//     down" (429, or what the client classifies as throttled) stops every
//     instance until Retry-After, or a conservative default, has passed;
//   - concurrency leases (items LEASE#<endpoint>#<slot>): at most
//     Budget.MaxConcurrency requests in flight per endpoint, each lease
//     with an expiry so that a crashed holder frees its slot.
//
// The core here imports no AWS package: it speaks to a Store
// (shared/dynamostore implements it on the table).
//
// # Lanes
//
// Callers mark their context with a Lane: alert tickets (LaneAlert) go
// before Sync-button refreshes (LaneSync), which go before imports
// (LaneImport). Imports may only take tokens while the bucket keeps a
// headroom above its floor, and only book tokens a short horizon ahead;
// they may use all concurrency slots of an endpoint but one. An alert
// request therefore finds a token and a slot (the reserved one) however
// hard imports push; its wait is bounded by the import horizon (1 s by
// default), never by the import's volume.
//
// # Waiting
//
// A caller that would wait longer than its lane allows (Options.SyncWait
// for the Sync button: 5 s) or than its context's deadline leaves (minus
// Options.DeadlineMargin) gets an apperr.Throttled error with RetryAfter
// instead of sleeping: SQS workers hand the message back with that
// visibility delay (shared/sqsbatch), the HTTP API answers 429 with
// Retry-After (shared/httpapi).
//
// # Cost
//
// A take is one conditional UpdateItem that adds -n to the stored tokens;
// concurrent takes from many instances do not conflict (no
// read-modify-write), except when the bucket is rebased (when it had
// filled up, every RebaseAfter, or when its rate changes). When the rate is
// high (rate × Hold ≥ 2) an import take reserves several tokens at once and
// hands them out locally for at most Hold after they mature: fewer
// DynamoDB requests per vendor request, at the price of Hold of slack in
// the window guarantee (accounted for in the refill rate) and, unless
// Budget.Strict, of up to Hold during which another instance may still use
// tokens it reserved before a cool-down was recorded. Leases cost a
// conditional PutItem and a DeleteItem per request, unless the slot passes
// directly to another waiting request of the same instance. Stats counts
// every DynamoDB request.
package ratelimit

import (
	"context"
	"math"
	"time"
)

// Lane is a request's priority.
type Lane int

// The lanes, lowest priority first.
const (
	// LaneImport is bulk work: organization and asset imports, scheduled
	// sweeps.
	LaneImport Lane = iota + 1
	// LaneSync is a person waiting: the Sync button, interactive API
	// calls. It is the lane of a context that names none.
	LaneSync
	// LaneAlert is an alert becoming a ticket.
	LaneAlert
)

// String names the lane.
func (l Lane) String() string {
	switch l {
	case LaneImport:
		return "import"
	case LaneSync:
		return "sync"
	case LaneAlert:
		return "alert"
	}
	return "unknown"
}

type laneKey struct{}

// WithLane returns ctx marked with lane: every vendor request made with it
// draws from the budget in that lane.
func WithLane(ctx context.Context, lane Lane) context.Context {
	return context.WithValue(ctx, laneKey{}, lane)
}

// LaneFrom returns the lane ctx is marked with, LaneSync when none.
func LaneFrom(ctx context.Context) Lane {
	if l, ok := ctx.Value(laneKey{}).(Lane); ok && l >= LaneImport && l <= LaneAlert {
		return l
	}
	return LaneSync
}

// ID names one budget: a tenant and a key the vendor client chooses
// (the connection id, or Autotask's database). Its items live under
// partition key T#<tenant>#BUDGET#<key>.
type ID struct {
	Tenant string
	Key    string
}

func (id ID) String() string { return id.Tenant + "/" + id.Key }

// Budget is one budget's configuration.
type Budget struct {
	// Name names the vendor in messages ("ConnectWise").
	Name string
	// Requests is the most requests the vendor may receive in any window
	// of Window, from every instance together (at least 2). Window
	// defaults to one minute.
	Requests int
	Window   time.Duration
	// MaxConcurrency is the most requests in flight per endpoint across
	// every instance; 0 is unlimited (no leases are written).
	MaxConcurrency int
	// Strict is for vendors that punish any request sent after a throttle
	// answer (Datto RMM blocks the address after repeated 429s): no
	// local reservation of several tokens, no booking ahead for imports,
	// and a token that waited is checked against the stored cool-down
	// before it is used. Every request then costs at least one DynamoDB
	// request for its token.
	Strict bool
	// Share, when positive, makes the budget that share of the limit the
	// vendor reports (Calibrate): Autotask's default is 0.5 of the
	// ThresholdInformation hourly threshold. Requests applies until the
	// first observation.
	Share float64
	// Ceiling is the share of the vendor's limit that all integrations
	// together should stay under; calibration shrinks this budget when
	// others use the rest (default 0.9).
	Ceiling float64
}

// Options tune every budget of a Budgets. Zero values get the defaults.
type Options struct {
	// BurstShare is the share of Requests the bucket holds when full
	// (default 0.02); the refill rate is what remains so that any window
	// stays within Requests.
	BurstShare float64
	// AlertBurst is how many tokens beyond the import horizon imports leave
	// in the bucket for alerts and the Sync button (default 3).
	AlertBurst float64
	// Hold is how long a token stays usable after it matures: a token
	// reserved locally, or one whose request was delayed by the checks
	// before it leaves, is dropped after that. It is also how long an
	// instance trusts what it last read of a cool-down (default Window/60,
	// at least 100 ms and at most 1 s). The refill rate leaves room for it.
	Hold time.Duration
	// Horizon is how far ahead imports may book tokens (default Hold; 0
	// for strict budgets). An alert waits at most about this long for
	// tokens imports booked.
	Horizon time.Duration
	// MaxBatch bounds the tokens one DynamoDB take reserves (default 10).
	MaxBatch int
	// AlertWait, SyncWait and ImportWait are the longest a request of each
	// lane waits before it gets a Throttled error instead (defaults 30 s,
	// 5 s and 20 s).
	AlertWait, SyncWait, ImportWait time.Duration
	// DeadlineMargin is kept free before the context's deadline (default
	// 2 s).
	DeadlineMargin time.Duration
	// CoolDown is the cool-down after a throttle answer without
	// Retry-After (default 60 s); MaxCoolDown bounds any cool-down
	// (default 15 min).
	CoolDown, MaxCoolDown time.Duration
	// LeaseTTL is a lease's life (default 60 s); a lease is renewed before
	// a request when less than LeaseMinLeft remains (default 35 s: more
	// than vendorhttp's 30 s attempt timeout).
	LeaseTTL, LeaseMinLeft time.Duration
	// RebaseAfter is how old the bucket's refill reference may grow before
	// a take moves it to now (default 10 min).
	RebaseAfter time.Duration
	// CalibrateEvery is the least time between two calibrations of one
	// budget across all instances (default 1 min); AllowanceTTL is how
	// long a calibrated allowance holds without a new observation
	// (default 5 min).
	CalibrateEvery, AllowanceTTL time.Duration
	// Now is the clock, Sleep waits (returning early with the context's
	// error), Jitter draws in [0, max): tests replace them.
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func(max time.Duration) time.Duration
}

// Defaults.
const (
	DefaultWindow         = time.Minute
	DefaultBurstShare     = 0.02
	DefaultAlertBurst     = 3
	DefaultMaxBatch       = 10
	DefaultAlertWait      = 30 * time.Second
	DefaultSyncWait       = 5 * time.Second
	DefaultImportWait     = 20 * time.Second
	DefaultDeadlineMargin = 2 * time.Second
	DefaultCoolDown       = 60 * time.Second
	DefaultMaxCoolDown    = 15 * time.Minute
	DefaultLeaseTTL       = 60 * time.Second
	DefaultLeaseMinLeft   = 35 * time.Second
	DefaultRebaseAfter    = 10 * time.Minute
	DefaultCalibrateEvery = time.Minute
	DefaultAllowanceTTL   = 5 * time.Minute
	DefaultCeiling        = 0.9
)

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.BurstShare <= 0 || o.BurstShare >= 1 {
		o.BurstShare = DefaultBurstShare
	}
	if o.AlertBurst <= 0 {
		o.AlertBurst = DefaultAlertBurst
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	def(&o.AlertWait, DefaultAlertWait)
	def(&o.SyncWait, DefaultSyncWait)
	def(&o.ImportWait, DefaultImportWait)
	def(&o.DeadlineMargin, DefaultDeadlineMargin)
	def(&o.CoolDown, DefaultCoolDown)
	def(&o.MaxCoolDown, DefaultMaxCoolDown)
	def(&o.LeaseTTL, DefaultLeaseTTL)
	if o.LeaseMinLeft <= 0 || o.LeaseMinLeft >= o.LeaseTTL {
		o.LeaseMinLeft = min(DefaultLeaseMinLeft, o.LeaseTTL/2)
	}
	def(&o.RebaseAfter, DefaultRebaseAfter)
	def(&o.CalibrateEvery, DefaultCalibrateEvery)
	def(&o.AllowanceTTL, DefaultAllowanceTTL)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	if o.Jitter == nil {
		o.Jitter = jitter
	}
	return o
}

// laneWait is the longest a request of lane waits.
func (o Options) laneWait(l Lane) time.Duration {
	switch l {
	case LaneAlert:
		return o.AlertWait
	case LaneImport:
		return o.ImportWait
	}
	return o.SyncWait
}

// params are a budget's bucket parameters, derived from its Budget.
type params struct {
	requests int
	window   time.Duration
	rate     float64 // tokens per second
	capacity float64
	// headroom is what imports leave in the bucket (before booking
	// ahead): sync requests may take half of it, alerts all.
	headroom float64
	horizon  time.Duration
	hold     time.Duration
	maxBatch int
}

// derive computes the bucket for requests per window.
//
// A bucket of capacity C refilled at rate r lets through at most
// C + r·T in any interval T. Tokens reserved locally are used up to Hold
// after they mature, so the requests sent in a window W are among the
// tokens that matured in W + Hold: at most C + r·(W + Hold). Choosing
// r = (Requests − C) / (W + Hold) makes that exactly Requests. The bucket
// holds enough for the alert headroom and one import batch.
func derive(requests int, window time.Duration, o Options, strict bool) params {
	if window <= 0 {
		window = DefaultWindow
	}
	requests = max(requests, 2)
	hold := o.Hold
	if hold <= 0 {
		hold = min(time.Second, max(100*time.Millisecond, window/60))
	}
	horizon := o.Horizon
	if horizon <= 0 {
		horizon = hold
	}
	if strict {
		horizon = 0
	}
	span := (window + hold).Seconds()
	guess := float64(requests) / span
	c := math.Max(math.Round(o.BurstShare*float64(requests)), math.Ceil(guess*horizon.Seconds()+o.AlertBurst)+1)
	c = math.Min(c, math.Floor(float64(requests)/2))
	c = math.Max(c, 1)
	rate := (float64(requests) - c) / span
	headroom := math.Min(rate*horizon.Seconds()+o.AlertBurst, c-1)
	batch := 1
	if !strict {
		batch = max(1, min(o.MaxBatch, int(math.Floor(rate*hold.Seconds()))))
	}
	return params{requests: requests, window: window, rate: rate, capacity: c, headroom: math.Max(headroom, 0),
		horizon: horizon, hold: hold, maxBatch: batch}
}

// floor is the lowest level lane may leave the bucket at when it may wait
// up to wait for its tokens: a negative level books tokens that mature
// later.
func (p params) floor(lane Lane, wait time.Duration) float64 {
	wait = max(wait, 0)
	switch lane {
	case LaneAlert:
		return -p.rate * wait.Seconds()
	case LaneSync:
		return p.headroom/2 - p.rate*min(p.horizon, wait).Seconds()
	}
	return p.headroom - p.rate*min(p.horizon, wait).Seconds()
}

// eta says, for a take of n tokens by lane that the bucket at level
// cannot give now, when the take becomes possible (wait) and when its
// last token could be sent (eta ≥ wait), had the lane no time limit:
// imports and the Sync button must wait for the level to come back above
// their headroom less what they may book ahead; every token must wait for
// the level to reach it.
func (p params) eta(lane Lane, level, n float64) (wait, eta time.Duration) {
	if p.rate <= 0 {
		return time.Minute, time.Minute
	}
	mature := (n - level) / p.rate
	take := 0.0
	switch lane {
	case LaneImport:
		take = (p.headroom+n-level)/p.rate - p.horizon.Seconds()
	case LaneSync:
		take = (p.headroom/2+n-level)/p.rate - p.horizon.Seconds()
	}
	return durationOf(take), durationOf(math.Max(mature, take))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
