package providers

import (
	"errors"
	"testing"
	"time"
)

// TestOpenerReadCache: with ReadTTL an Opener reuses a record read for that
// long, per key, reads it again after, never keeps an error, and without
// ReadTTL reads every time.
func TestOpenerReadCache(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	reads := map[string]int{}
	fail := false
	get := func(key string) func() (string, error) {
		return func() (string, error) {
			reads[key]++
			if fail {
				return "", errors.New("table down")
			}
			return key + "-v" + string(rune('0'+reads[key])), nil
		}
	}
	o := &Opener{ReadTTL: 15 * time.Second, Now: func() time.Time { return now }}
	for i := range 3 {
		if v, err := cachedGet(o, "integration/t/i1", get("i1")); err != nil || v != "i1-v1" {
			t.Fatalf("read %d = %q, %v; want the first read", i, v, err)
		}
	}
	if _, err := cachedGet(o, "connection/t/c1", get("c1")); err != nil {
		t.Fatal(err)
	}
	if reads["i1"] != 1 || reads["c1"] != 1 {
		t.Errorf("reads %v, want one of each", reads)
	}
	now = now.Add(16 * time.Second)
	if v, _ := cachedGet(o, "integration/t/i1", get("i1")); v != "i1-v2" {
		t.Errorf("after the TTL: %q, want a new read", v)
	}
	now = now.Add(16 * time.Second)
	fail = true
	if _, err := cachedGet(o, "integration/t/i1", get("i1")); err == nil {
		t.Errorf("a failed read after the TTL answered from the cache")
	}
	fail = false
	if v, _ := cachedGet(o, "integration/t/i1", get("i1")); v != "i1-v4" {
		t.Errorf("after a failed read: %q, want a new read", v)
	}
	plain := &Opener{}
	for range 2 {
		_, _ = cachedGet(plain, "integration/t/i2", get("i2"))
	}
	if reads["i2"] != 2 {
		t.Errorf("without ReadTTL: %d reads of 2 opens, want 2", reads["i2"])
	}
}
