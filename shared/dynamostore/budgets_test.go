package dynamostore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

func f64(x float64) *float64 { return &x }

func TestBudgetBucket(t *testing.T) {
	s, client := newTestStore(t)
	b := NewBudgets(s)
	ctx := context.Background()
	id := ratelimit.ID{Tenant: "t1", Key: "conn-1"}
	t0 := time.UnixMilli(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC).UnixMilli())
	bk := ratelimit.Bucket{Tokens: 9, RefilledAt: t0, Rate: 9.344262295081967, Capacity: 30, Epoch: 1, Taken: 1,
		Requests: 600, Window: time.Minute, BaseRequests: 600,
		Samples: []ratelimit.Sample{{At: t0, Taken: 1}}}

	if _, found, err := b.GetBucket(ctx, id); err != nil || found {
		t.Fatalf("get before create: found %v err %v", found, err)
	}
	if _, ok, _, err := b.Draw(ctx, id, ratelimit.Take{Epoch: 1, AddTokens: -1, Taken: 1}); err != nil || ok {
		t.Fatalf("draw from a missing bucket: ok %v err %v", ok, err)
	}
	got, ok, err := b.CreateBucket(ctx, id, bk)
	if err != nil || !ok {
		t.Fatalf("create: ok %v err %v", ok, err)
	}
	bk.Version = 1
	if diff := cmp.Diff(bk, got); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	other := bk
	other.Tokens = 1
	if got, ok, err := b.CreateBucket(ctx, id, other); err != nil || ok || got.Tokens != 9 {
		t.Errorf("second create: ok %v err %v tokens %v, want the existing bucket (9)", ok, err, got.Tokens)
	}
	read, found, err := b.GetBucket(ctx, id)
	if err != nil || !found {
		t.Fatal(found, err)
	}
	if diff := cmp.Diff(bk, read); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	// The item is the tenant's: its key starts with T#<tenant>.
	raw, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table()), Key: map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: "T#t1#BUDGET#conn-1"}, AttrSK: &types.AttributeValueMemberS{Value: "BUCKET"}}})
	if err != nil || raw.Item == nil {
		t.Fatalf("the bucket is not at T#t1#BUDGET#conn-1 / BUCKET: %v", err)
	}
	if _, ok := raw.Item[AttrTTL]; !ok {
		t.Error("the bucket has no ttl")
	}

	draws := []struct {
		name      string
		take      ratelimit.Take
		ok        bool
		tokens    float64
		epoch     int64
		refilled  time.Time
		coolUntil time.Time
	}{
		{"another epoch", ratelimit.Take{Epoch: 2, AddTokens: -1, Taken: 1}, false, 9, 1, t0, time.Time{}},
		{"too few tokens", ratelimit.Take{Epoch: 1, Min: f64(9.5), AddTokens: -1, Taken: 1}, false, 9, 1, t0, time.Time{}},
		{"over the cap", ratelimit.Take{Epoch: 1, Max: f64(8), AddTokens: -1, Taken: 1}, false, 9, 1, t0, time.Time{}},
		{"within bounds", ratelimit.Take{Epoch: 1, Min: f64(3), Max: f64(30), NotCoolingAt: t0, AddTokens: -3, Taken: 3}, true, 6, 1, t0, time.Time{}},
		{"a rebase", ratelimit.Take{Epoch: 1, Min: f64(0), SetTokens: f64(29.5), SetRefilledAt: t0.Add(time.Minute), Taken: 1}, true, 29.5, 2, t0.Add(time.Minute), time.Time{}},
	}
	version := int64(1)
	taken := int64(1)
	for _, d := range draws {
		got, ok, found, err := b.Draw(ctx, id, d.take)
		if err != nil || !found {
			t.Fatalf("%s: found %v err %v", d.name, found, err)
		}
		if ok {
			version++
			taken += d.take.Taken
		}
		if ok != d.ok || got.Tokens != d.tokens || got.Epoch != d.epoch || !got.RefilledAt.Equal(d.refilled) || got.Version != version || got.Taken != taken {
			t.Errorf("%s: ok %v tokens %v epoch %d refilled %s v %d taken %d; want %v %v %d %s %d %d", d.name, ok, got.Tokens, got.Epoch,
				got.RefilledAt, got.Version, got.Taken, d.ok, d.tokens, d.epoch, d.refilled, version, taken)
		}
	}

	// Cool-downs only ever lengthen, and a cooling bucket refuses draws
	// that say they are not cooling.
	if err := b.SetCoolDown(ctx, id, t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := b.SetCoolDown(ctx, id, t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	read, _, _ = b.GetBucket(ctx, id)
	if !read.CoolDownUntil.Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("cool-down until %s, want the longer %s", read.CoolDownUntil, t0.Add(10*time.Minute))
	}
	if _, ok, _, _ := b.Draw(ctx, id, ratelimit.Take{Epoch: 2, NotCoolingAt: t0.Add(9 * time.Minute), AddTokens: -1, Taken: 1}); ok {
		t.Error("a draw went through a cool-down")
	}
	if _, ok, _, _ := b.Draw(ctx, id, ratelimit.Take{Epoch: 2, NotCoolingAt: t0.Add(10 * time.Minute), AddTokens: -1, Taken: 1}); !ok {
		t.Error("a draw at the end of the cool-down failed")
	}

	// Rewrites are conditional on the version.
	read, _, _ = b.GetBucket(ctx, id)
	nb := read
	nb.Rate, nb.Capacity, nb.Requests = 1, 2, 100
	if _, ok, err := b.Rewrite(ctx, id, read.Version-1, nb); err != nil || ok {
		t.Errorf("rewrite of an old version: ok %v err %v", ok, err)
	}
	got, ok, err = b.Rewrite(ctx, id, read.Version, nb)
	if err != nil || !ok || got.Version != read.Version+1 || got.Epoch != read.Epoch+1 || got.Rate != 1 || !got.CoolDownUntil.Equal(read.CoolDownUntil) {
		t.Errorf("rewrite: ok %v err %v got %+v", ok, err, got)
	}

	// One calibration per period.
	now := t0.Add(time.Hour)
	for i, want := range []bool{true, false} {
		if ok, err := b.ClaimCalibration(ctx, id, now.Add(time.Duration(i)*30*time.Second), time.Minute); err != nil || ok != want {
			t.Errorf("claim %d: ok %v err %v, want %v", i, ok, err, want)
		}
	}
	if ok, _ := b.ClaimCalibration(ctx, id, now.Add(61*time.Second), time.Minute); !ok {
		t.Error("claim after the period failed")
	}
	if ok, _ := b.ClaimCalibration(ctx, ratelimit.ID{Tenant: "t1", Key: "none"}, now, time.Minute); ok {
		t.Error("claimed the calibration of a bucket that does not exist")
	}

	// A cool-down for a budget never used creates a bare bucket.
	bare := ratelimit.ID{Tenant: "t1", Key: "bare"}
	if err := b.SetCoolDown(ctx, bare, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, found, _ := b.GetBucket(ctx, bare); !found || !got.CoolDownUntil.Equal(t0.Add(time.Minute)) || got.Epoch != 0 {
		t.Errorf("bare bucket: found %v %+v", found, got)
	}

	if _, _, err := b.GetBucket(ctx, ratelimit.ID{Key: "x"}); !apperr.Is(err, apperr.Internal) {
		t.Errorf("a budget without a tenant: got %v, want Internal", err)
	}
}

// TestBudgetDrawsAreAtomic: 40 callers draw one token each from a bucket
// of 10 that does not refill: exactly 10 succeed. (On the serializing
// wrapper: plain moto evaluates a condition and writes without a lock, so
// concurrent conditional writes can both succeed there, which DynamoDB
// never allows.)
func TestBudgetDrawsAreAtomic(t *testing.T) {
	s, _ := newFastTestStore(t)
	b := NewBudgets(s)
	ctx := context.Background()
	id := ratelimit.ID{Tenant: "t1", Key: "race"}
	if _, _, err := b.CreateBucket(ctx, id, ratelimit.Bucket{Tokens: 10, RefilledAt: time.Now(), Capacity: 10, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			_, ok, _, err := b.Draw(ctx, id, ratelimit.Take{Epoch: 1, Min: f64(1), AddTokens: -1, Taken: 1})
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	got, _, _ := b.GetBucket(ctx, id)
	if wins.Load() != 10 || got.Tokens != 0 || got.Taken != 10 {
		t.Errorf("%d draws won, tokens left %v, taken %d; want 10, 0, 10", wins.Load(), got.Tokens, got.Taken)
	}
}

func TestBudgetLeases(t *testing.T) {
	s, _ := newTestStore(t)
	b := NewBudgets(s)
	ctx := context.Background()
	id := ratelimit.ID{Tenant: "t1", Key: "db"}
	t0 := time.UnixMilli(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC).UnixMilli())
	a := ratelimit.Lease{Endpoint: "Tickets", Slot: 0, Holder: "a-1", ExpiresAt: t0.Add(time.Minute)}
	if ok, _, err := b.AcquireLease(ctx, id, a, t0); err != nil || !ok {
		t.Fatalf("acquire a free slot: ok %v err %v", ok, err)
	}
	bl := ratelimit.Lease{Endpoint: "Tickets", Slot: 0, Holder: "b-1", ExpiresAt: t0.Add(2 * time.Minute)}
	ok, cur, err := b.AcquireLease(ctx, id, bl, t0.Add(30*time.Second))
	if err != nil || ok || cur != a {
		t.Errorf("acquire a held slot: ok %v err %v current %+v, want false and %+v", ok, err, cur, a)
	}
	// Once a's lease expired (its holder crashed), b takes the slot.
	if ok, _, err := b.AcquireLease(ctx, id, bl, t0.Add(61*time.Second)); err != nil || !ok {
		t.Fatalf("acquire an expired slot: ok %v err %v", ok, err)
	}
	renewed := a
	renewed.ExpiresAt = t0.Add(5 * time.Minute)
	if ok, err := b.RenewLease(ctx, id, renewed); err != nil || ok {
		t.Errorf("the old holder renewed a lease it lost: ok %v err %v", ok, err)
	}
	if err := b.ReleaseLease(ctx, id, a); err != nil {
		t.Fatal(err)
	}
	other := ratelimit.Lease{Endpoint: "Tickets#1", Slot: 2, Holder: "c-1", ExpiresAt: t0.Add(time.Minute)}
	if ok, _, _ := b.AcquireLease(ctx, id, other, t0); !ok {
		t.Fatal("acquire on another endpoint failed")
	}
	list, err := b.Leases(ctx, id, "Tickets")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ratelimit.Lease{bl}, list); diff != "" {
		t.Errorf("Tickets leases after the old holder's release (-want +got):\n%s", diff)
	}
	renewed = bl
	renewed.ExpiresAt = t0.Add(10 * time.Minute)
	if ok, err := b.RenewLease(ctx, id, renewed); err != nil || !ok {
		t.Errorf("the holder's renewal failed: ok %v err %v", ok, err)
	}
	if err := b.ReleaseLease(ctx, id, bl); err != nil {
		t.Fatal(err)
	}
	if list, _ := b.Leases(ctx, id, "Tickets"); len(list) != 0 {
		t.Errorf("leases after release: %+v", list)
	}
}
