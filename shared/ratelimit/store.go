package ratelimit

import (
	"context"
	"time"
)

// Bucket is a budget's shared state (the BUCKET item).
//
// The level of the bucket at time t is
//
//	min(Capacity, Tokens + Rate·(t − RefilledAt))
//
// Tokens is the level at RefilledAt less every token taken since: a take
// only adds −n to Tokens, so takes from many instances never conflict.
// RefilledAt moves (a rebase, which bumps Epoch) only when the bucket has
// filled up, when it grows older than Options.RebaseAfter, or when the
// rate changes. A negative level is tokens booked ahead: they mature as
// the bucket refills.
type Bucket struct {
	Tokens        float64
	RefilledAt    time.Time
	CoolDownUntil time.Time
	Rate          float64 // tokens per second
	Capacity      float64
	// Epoch changes with every rebase; takes are conditional on it.
	Epoch int64
	// Version changes with every write; rewrites are conditional on it.
	Version int64
	// Taken counts every token taken since the bucket was created.
	Taken int64
	// Requests per Window are what Rate and Capacity were derived from;
	// BaseRequests is the configured budget before calibration.
	Requests     int
	Window       time.Duration
	BaseRequests int
	// Allowed, until AllowedUntil, is the calibrated budget per Window
	// (0: none).
	Allowed      int
	AllowedUntil time.Time
	// CalibratedAt is when an instance last claimed a calibration;
	// Samples are Taken as of past calibrations (oldest first).
	CalibratedAt time.Time
	Samples      []Sample
}

// Sample is the bucket's Taken counter at a time.
type Sample struct {
	At    time.Time
	Taken int64
}

// Take is a conditional draw from the bucket. It applies only when the
// stored bucket has Epoch, is not cooling down at NotCoolingAt (unless
// zero) and its Tokens lie within [Min, Max] (each bound optional). It
// then adds AddTokens to Tokens (or sets SetTokens), adds Taken to the
// counter, and, when SetRefilledAt is not zero, moves RefilledAt there
// and bumps Epoch.
type Take struct {
	Epoch         int64
	NotCoolingAt  time.Time
	Min, Max      *float64
	AddTokens     float64
	SetTokens     *float64
	SetRefilledAt time.Time
	Taken         int64
}

// Lease is one concurrency slot's item.
type Lease struct {
	Endpoint  string
	Slot      int
	Holder    string
	ExpiresAt time.Time
}

// Store keeps budgets. Every method is one request to the table (the
// DynamoDB adapter counts them). A condition that does not hold is not an
// error: the method reports ok false with the item as it is.
type Store interface {
	// GetBucket reads the bucket (strongly consistent); found is false
	// when it does not exist.
	GetBucket(ctx context.Context, id ID) (b Bucket, found bool, err error)
	// CreateBucket writes b unless a bucket exists; then ok is false and
	// the existing bucket is returned.
	CreateBucket(ctx context.Context, id ID, b Bucket) (got Bucket, ok bool, err error)
	// Draw applies t. On success it returns the bucket after the draw;
	// otherwise the bucket as it is (found false when there is none).
	Draw(ctx context.Context, id ID, t Take) (got Bucket, ok, found bool, err error)
	// Rewrite replaces the bucket's state with b when its Version is
	// version (b.Version and b.Epoch are ignored: both are bumped).
	Rewrite(ctx context.Context, id ID, version int64, b Bucket) (got Bucket, ok bool, err error)
	// SetCoolDown makes the bucket cool down until at least until. It
	// creates a bare bucket if none exists.
	SetCoolDown(ctx context.Context, id ID, until time.Time) error
	// ClaimCalibration records now as the last calibration if none
	// happened since now − every; ok reports whether this caller won.
	ClaimCalibration(ctx context.Context, id ID, now time.Time, every time.Duration) (ok bool, err error)

	// AcquireLease takes slot of endpoint for holder until expires, if the
	// slot is free or its lease expired by now; otherwise it reports the
	// lease that holds it.
	AcquireLease(ctx context.Context, id ID, l Lease, now time.Time) (ok bool, current Lease, err error)
	// RenewLease extends holder's lease; ok is false when it is no longer
	// the holder's.
	RenewLease(ctx context.Context, id ID, l Lease) (ok bool, err error)
	// ReleaseLease frees the slot if holder still holds it.
	ReleaseLease(ctx context.Context, id ID, l Lease) error
	// Leases lists endpoint's leases (expired ones included).
	Leases(ctx context.Context, id ID, endpoint string) ([]Lease, error)
}
