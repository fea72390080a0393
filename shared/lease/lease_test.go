package lease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/lease"
)

func TestOlderAndOldest(t *testing.T) {
	tests := []struct {
		ids  []string
		want string
	}{
		{ids: []string{"9", "10", "100"}, want: "9"},
		{ids: []string{"100", "10", "9"}, want: "9"},
		{ids: []string{"250", "249", "1000"}, want: "249"},
		{ids: []string{"b-2", "a-9", "a-10"}, want: "a-9"},
		{ids: []string{"42"}, want: "42"},
	}
	for _, tt := range tests {
		got := lease.Oldest(tt.ids, func(s string) string { return s })
		if got != tt.want {
			t.Errorf("Oldest(%v) = %s, want %s", tt.ids, got, tt.want)
		}
	}
	if lease.Older("10", "9") || !lease.Older("9", "10") || lease.Older("7", "7") {
		t.Error("Older must order numeric ids by value and be strict")
	}
}

func TestFindOrCreate(t *testing.T) {
	id := func(s string) string { return s }
	boom := errors.New("boom")
	tests := []struct {
		name        string
		found       []string
		findErr     error
		wantRec     string
		wantAdopted bool
		wantCreates int
		wantErr     error
	}{
		{name: "adopts the oldest of our duplicates", found: []string{"31", "7", "12"}, wantRec: "7", wantAdopted: true},
		{name: "creates when nothing carries our reference", wantRec: "new", wantCreates: 1},
		{name: "a failed lookup never creates", findErr: boom, wantErr: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creates := 0
			rec, adopted, err := lease.FindOrCreate(context.Background(),
				func(context.Context) ([]string, error) { return tt.found, tt.findErr }, id,
				func(context.Context) (string, error) { creates++; return "new", nil })
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff([]any{tt.wantRec, tt.wantAdopted, tt.wantCreates}, []any{rec, adopted, creates}); diff != "" {
				t.Errorf("record, adopted, creates (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeClock is a clock that moves only when slept on.
type fakeClock struct {
	now    time.Time
	sleeps int
	frozen bool // a clock that never moves
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.sleeps++
	if !c.frozen {
		c.now = c.now.Add(d)
	}
	return nil
}

func TestWaitUntil(t *testing.T) {
	t.Run("done on the third try", func(t *testing.T) {
		c := &fakeClock{now: time.Unix(0, 0)}
		tries := 0
		busy, err := lease.Wait{For: time.Second, Poll: 100 * time.Millisecond, Now: c.Now, Sleep: c.Sleep}.Until(context.Background(),
			func() (bool, error) { tries++; return tries == 3, nil })
		if busy || err != nil || tries != 3 || c.sleeps != 2 {
			t.Errorf("busy %v, err %v, tries %d, sleeps %d; want done after 3 tries and 2 sleeps", busy, err, tries, c.sleeps)
		}
	})
	t.Run("busy after For", func(t *testing.T) {
		c := &fakeClock{now: time.Unix(0, 0)}
		tries := 0
		busy, err := lease.Wait{For: time.Second, Poll: 100 * time.Millisecond, Now: c.Now, Sleep: c.Sleep}.Until(context.Background(),
			func() (bool, error) { tries++; return false, nil })
		if !busy || err != nil || tries != 11 || c.sleeps != 10 {
			t.Errorf("busy %v, err %v, tries %d, sleeps %d; want busy after 11 tries and 10 sleeps", busy, err, tries, c.sleeps)
		}
	})
	t.Run("a frozen clock still ends", func(t *testing.T) {
		c := &fakeClock{now: time.Unix(0, 0), frozen: true}
		busy, err := lease.Wait{For: time.Second, Poll: 100 * time.Millisecond, Now: c.Now, Sleep: c.Sleep}.Until(context.Background(),
			func() (bool, error) { return false, nil })
		if !busy || err != nil || c.sleeps != 10 {
			t.Errorf("busy %v, err %v, sleeps %d; want busy after 10 sleeps", busy, err, c.sleeps)
		}
	})
	t.Run("an error stops the wait", func(t *testing.T) {
		boom := errors.New("boom")
		busy, err := lease.Wait{}.Until(context.Background(), func() (bool, error) { return false, boom })
		if busy || !errors.Is(err, boom) {
			t.Errorf("busy %v, err %v; want the try's error", busy, err)
		}
	})
	t.Run("the context ends the sleep", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		busy, err := lease.Wait{Poll: time.Hour, For: 2 * time.Hour}.Until(ctx, func() (bool, error) { return false, nil })
		if busy || !errors.Is(err, context.Canceled) {
			t.Errorf("busy %v, err %v; want context.Canceled", busy, err)
		}
	})
}

func TestNewOwner(t *testing.T) {
	a, b := lease.NewOwner(), lease.NewOwner()
	if len(a) != 16 || a == b {
		t.Errorf("owners %q and %q: want two different 16-digit ids", a, b)
	}
}
