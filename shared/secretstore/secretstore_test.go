package secretstore

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
)

// counter is a thin decorator around the real Secrets Manager client that
// counts calls per operation and delegates everything.
type counter struct {
	real *secretsmanager.Client
	mu   sync.Mutex
	n    map[string]int
}

func (c *counter) inc(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[op]++
}

func (c *counter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (c *counter) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	c.inc("CreateSecret")
	return c.real.CreateSecret(ctx, in, optFns...)
}

func (c *counter) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	c.inc("PutSecretValue")
	return c.real.PutSecretValue(ctx, in, optFns...)
}

func (c *counter) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.inc("GetSecretValue")
	return c.real.GetSecretValue(ctx, in, optFns...)
}

func (c *counter) DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	c.inc("DeleteSecret")
	return c.real.DeleteSecret(ctx, in, optFns...)
}

func (c *counter) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	c.inc("DescribeSecret")
	return c.real.DescribeSecret(ctx, in, optFns...)
}

func (c *counter) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	c.inc("UpdateSecretVersionStage")
	return c.real.UpdateSecretVersionStage(ctx, in, optFns...)
}

// newTestStore returns a store under a prefix unique to the test, with its
// counting client.
func newTestStore(t *testing.T, opts ...Option) (*Store, *counter) {
	t.Helper()
	c := &counter{real: secretsmanager.NewFromConfig(motoserver.ForTest(t))}
	return New(c, "rmmbridge/"+motoserver.UniqueName("test")+"/", opts...), c
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestPutGetRoundTrip(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		value []byte
	}{
		{"json credentials", []byte(`{"clientId":"abc","clientSecret":"s3cr3t!","scope":"monitoring management"}`)},
		{"unicode", []byte("pässwörd-✓")},
		{"binary", []byte{0xff, 0x00, 0xfe, 0x10, 0x80}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "t1/conn-" + strings.ReplaceAll(tt.name, " ", "-")
			arn, err := s.Put(ctx, name, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(arn, "arn:aws:secretsmanager:") || !strings.Contains(arn, ":secret:"+s.Prefix()+name) {
				t.Errorf("ARN %q does not name %s", arn, s.Prefix()+name)
			}
			for _, ref := range []string{arn, s.Prefix() + name} {
				got, err := s.Get(ctx, ref)
				if err != nil {
					t.Fatalf("Get(%s): %v", ref, err)
				}
				if diff := cmp.Diff(tt.value, got); diff != "" {
					t.Errorf("Get(%s) (-want +got):\n%s", ref, diff)
				}
			}
		})
	}
}

func TestPutTwiceUpdatesValue(t *testing.T) {
	s, c := newTestStore(t)
	ctx := context.Background()
	arn1, err := s.Put(ctx, "conn-1", []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, arn1); err != nil || string(got) != "first" {
		t.Fatalf("Get = %q, %v; want first", got, err)
	}
	arn2, err := s.Put(ctx, "conn-1", []byte("second"))
	if err != nil {
		t.Fatal(err)
	}
	if arn1 != arn2 {
		t.Errorf("ARN changed on update: %s then %s", arn1, arn2)
	}
	got, err := s.Get(ctx, arn1)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "second" {
		t.Errorf("Get after the update = %q, want second (Put must drop the cached value)", got)
	}
	want := map[string]int{"CreateSecret": 2, "PutSecretValue": 1, "GetSecretValue": 2}
	if diff := cmp.Diff(want, c.counts()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestGetCache(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, c := newTestStore(t, WithClock(clock.now))
	ctx := context.Background()
	arn, err := s.Put(ctx, "conn-cache", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("hits within the TTL, for ARN and name alike", func(t *testing.T) {
		for _, ref := range []string{arn, arn, s.Prefix() + "conn-cache"} {
			got, err := s.Get(ctx, ref)
			if err != nil || string(got) != "v1" {
				t.Fatalf("Get(%s) = %q, %v; want v1", ref, got, err)
			}
			got[0] = 'X' // callers own the returned slice
		}
		if n := c.counts()["GetSecretValue"]; n != 1 {
			t.Errorf("GetSecretValue calls = %d, want 1", n)
		}
	})

	// Change the value behind the store's back: the cache keeps serving
	// the old one until the TTL passes.
	if _, err := c.real.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(arn), SecretString: aws.String("v2"),
	}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance   time.Duration
		want      string
		wantCalls int
	}{
		{4*time.Minute + 59*time.Second, "v1", 1},
		{time.Second, "v2", 2}, // exactly 5 minutes: expired
		{time.Minute, "v2", 2},
		{5 * time.Minute, "v2", 3},
	}
	for _, st := range steps {
		clock.advance(st.advance)
		got, err := s.Get(ctx, arn)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != st.want || c.counts()["GetSecretValue"] != st.wantCalls {
			t.Errorf("at %s: Get = %q with %d calls, want %q with %d",
				clock.now().Format(time.TimeOnly), got, c.counts()["GetSecretValue"], st.want, st.wantCalls)
		}
	}

	t.Run("TTL 0 disables the cache", func(t *testing.T) {
		s0 := New(c, s.Prefix(), WithCacheTTL(0))
		before := c.counts()["GetSecretValue"]
		for range 3 {
			if _, err := s0.Get(ctx, arn); err != nil {
				t.Fatal(err)
			}
		}
		if n := c.counts()["GetSecretValue"] - before; n != 3 {
			t.Errorf("GetSecretValue calls = %d, want 3", n)
		}
	})
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name     string
		recovery int
	}{
		{"with recovery window", 7},
		{"forced, without recovery", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestStore(t, WithRecoveryWindow(tt.recovery))
			ctx := context.Background()
			arn, err := s.Put(ctx, "conn-del", []byte("doomed"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, arn); err != nil { // now cached
				t.Fatal(err)
			}
			if err := s.Delete(ctx, arn); err != nil {
				t.Fatal(err)
			}
			for _, ref := range []string{arn, s.Prefix() + "conn-del"} {
				_, err := s.Get(ctx, ref)
				if !apperr.Is(err, apperr.NotFound) {
					t.Errorf("Get(%s) after Delete = %v, want NotFound", ref, err)
				}
			}
			if err := s.Delete(ctx, arn); err != nil {
				t.Errorf("second Delete = %v, want nil", err)
			}
		})
	}
	t.Run("never created", func(t *testing.T) {
		s, _ := newTestStore(t)
		ctx := context.Background()
		if _, err := s.Get(ctx, s.Prefix()+"nothing-here"); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Get = %v, want NotFound", err)
		}
		if err := s.Delete(ctx, s.Prefix()+"nothing-here"); err != nil {
			t.Errorf("Delete = %v, want nil", err)
		}
	})
}

func TestPrefixEnforcement(t *testing.T) {
	s, c := newTestStore(t)
	other, _ := newTestStore(t)
	ctx := context.Background()
	otherARN, err := other.Put(ctx, "conn-x", []byte("not yours"))
	if err != nil {
		t.Fatal(err)
	}
	// A prefix that is a string prefix of ours but another folder.
	sibling := strings.TrimSuffix(s.Prefix(), "/") + "-evil/conn-x"
	refs := map[string]string{
		"another deployment's ARN":  otherARN,
		"another deployment's name": other.Prefix() + "conn-x",
		"bare name without prefix":  "conn-x",
		"the prefix itself":         s.Prefix(),
		"sibling folder":            sibling,
		"not a secrets ARN":         "arn:aws:s3:::bucket/" + s.Prefix() + "x",
	}
	for name, ref := range refs {
		t.Run(name, func(t *testing.T) {
			_, err := s.Get(ctx, ref)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "ref" {
				t.Errorf("Get = %v, want Invalid on field ref", err)
			}
			if err := s.Delete(ctx, ref); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("Delete = %v, want Invalid", err)
			}
		})
	}
	if n := len(c.counts()); n != 0 {
		t.Errorf("refused refs made calls: %v", c.counts())
	}
	if got, err := other.Get(ctx, otherARN); err != nil || string(got) != "not yours" {
		t.Errorf("the other secret changed: %q, %v", got, err)
	}
}

func TestPutValidation(t *testing.T) {
	s, c := newTestStore(t)
	tests := []struct {
		name, secret string
		value        []byte
		wantField    string
	}{
		{"empty name", "", []byte("v"), "name"},
		{"space in name", "conn 1", []byte("v"), "name"},
		{"hash in name", "T#t1", []byte("v"), "name"},
		{"name too long", strings.Repeat("a", MaxNameLength), []byte("v"), "name"},
		{"empty value", "conn-1", nil, "value"},
		{"value too large", "conn-1", bytes.Repeat([]byte("v"), MaxValueBytes+1), "value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Put(context.Background(), tt.secret, tt.value)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Invalid || len(e.Fields) == 0 || e.Fields[0].Field != tt.wantField {
				t.Errorf("Put = %v, want Invalid on %s", err, tt.wantField)
			}
		})
	}
	if len(c.counts()) != 0 {
		t.Errorf("invalid puts made calls: %v", c.counts())
	}
}

func TestErrorsNeverCarryTheValue(t *testing.T) {
	const value = "hunter2-very-secret-password"
	ctx := context.Background()

	t.Run("canceled context", func(t *testing.T) {
		s, _ := newTestStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.Put(cctx, "conn-canceled", []byte(value))
		checkNoValue(t, err, value, apperr.Unavailable)
	})
	t.Run("unreachable endpoint", func(t *testing.T) {
		client := secretsmanager.NewFromConfig(motoserver.ForTest(t), func(o *secretsmanager.Options) {
			o.BaseEndpoint = aws.String("http://127.0.0.1:1") // nothing listens on port 1
			o.RetryMaxAttempts = 1
		})
		s := New(client, "rmmbridge/test/")
		_, err := s.Put(ctx, "conn-down", []byte(value))
		checkNoValue(t, err, value, apperr.Unavailable)
	})
	t.Run("update fails after create found the secret", func(t *testing.T) {
		s, _ := newTestStore(t)
		if _, err := s.Put(ctx, "conn-up", []byte("old")); err != nil {
			t.Fatal(err)
		}
		// Deadline passes between CreateSecret (which answers "exists") and
		// PutSecretValue, so the failing call is the one carrying the value.
		dctx, cancel := context.WithCancel(ctx)
		defer cancel()
		s.api = cancelAfter{smAPI: s.api, cancel: cancel}
		_, err := s.Put(dctx, "conn-up", []byte(value))
		checkNoValue(t, err, value, apperr.Unavailable)
	})
}

// cancelAfter delegates to the real client and cancels the context right
// after CreateSecret answers.
type cancelAfter struct {
	smAPI
	cancel context.CancelFunc
}

func (c cancelAfter) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	defer c.cancel()
	return c.smAPI.CreateSecret(ctx, in, optFns...)
}

func checkNoValue(t *testing.T, err error, value string, kind apperr.Kind) {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error")
	}
	if got := apperr.KindOf(err); got != kind {
		t.Errorf("kind = %v (%v), want %v", got, err, kind)
	}
	e, _ := apperr.As(err)
	for _, text := range []string{err.Error(), e.Message} {
		if strings.Contains(text, value) {
			t.Errorf("error text contains the secret value: %q", text)
		}
	}
	if !strings.Contains(err.Error(), "rmmbridge/") {
		t.Errorf("error %q does not name the secret", err)
	}
}

func TestResolveARN(t *testing.T) {
	s := New(nil, "rmmbridge/dev/")
	tests := []struct {
		ref, want string
	}{
		{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:rmmbridge/dev/T_t1/conn-abc-Ab12Cd", "rmmbridge/dev/T_t1/conn-abc"},
		{"arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:rmmbridge/dev/x-AAAAAA", "rmmbridge/dev/x"},
		{"rmmbridge/dev/conn-abc123", "rmmbridge/dev/conn-abc123"},
	}
	for _, tt := range tests {
		got, err := s.resolve(tt.ref)
		if err != nil || got != tt.want {
			t.Errorf("resolve(%s) = %q, %v; want %q", tt.ref, got, err, tt.want)
		}
	}
}

// TestStagePromote covers the all-or-nothing change of a secret: a staged
// version is read only through its pinned reference until it is promoted,
// the previous pinned reference keeps reading its own version throughout,
// and the secret's name follows the current version.
func TestStagePromote(t *testing.T) {
	s, c := newTestStore(t)
	ctx := context.Background()
	name := "t1/conn-stage"
	ref1, err := s.Stage(ctx, name, []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	base1, ver1 := splitRef(ref1)
	if !strings.HasPrefix(base1, "arn:aws:secretsmanager:") || ver1 == "" {
		t.Fatalf("Stage of a new secret = %q, want <ARN>#<version>", ref1)
	}
	read := func(ref, want string) {
		t.Helper()
		got, err := s.Get(ctx, ref)
		if err != nil || string(got) != want {
			t.Errorf("Get(%s) = %q, %v; want %q", ref, got, err, want)
		}
	}
	read(ref1, "v1")
	read(s.Prefix()+name, "v1") // a new secret's first version is current

	ref2, err := s.Stage(ctx, name, []byte("v2"))
	if err != nil {
		t.Fatal(err)
	}
	if base2, ver2 := splitRef(ref2); base2 != base1 || ver2 == ver1 || ver2 == "" {
		t.Fatalf("second Stage = %q, want the same secret pinned to a new version (first %q)", ref2, ref1)
	}
	s0 := New(c, s.Prefix(), WithCacheTTL(0)) // no cache: what Secrets Manager holds
	for _, st := range []*Store{s, s0} {
		for ref, want := range map[string]string{ref1: "v1", ref2: "v2", s.Prefix() + name: "v1", base1: "v1"} {
			got, err := st.Get(ctx, ref)
			if err != nil || string(got) != want {
				t.Errorf("before Promote: Get(%s) = %q, %v; want %q", ref, got, err, want)
			}
		}
	}

	if err := s.Promote(ctx, ref2); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{ref1: "v1", ref2: "v2", s.Prefix() + name: "v2"} {
		got, err := s0.Get(ctx, ref)
		if err != nil || string(got) != want {
			t.Errorf("after Promote: Get(%s) = %q, %v; want %q", ref, got, err, want)
		}
	}
	read(s.Prefix()+name, "v2") // the cached current value was dropped
	before := c.counts()["UpdateSecretVersionStage"]
	for _, ref := range []string{ref2, base1} {
		if err := s.Promote(ctx, ref); err != nil {
			t.Errorf("Promote(%s) again = %v, want nil", ref, err)
		}
	}
	if n := c.counts()["UpdateSecretVersionStage"] - before; n != 0 {
		t.Errorf("promoting the current version (or an unpinned ref) moved labels %d times", n)
	}
	// Pinned reads are cached per version: a promotion never serves one
	// version for another.
	calls := c.counts()["GetSecretValue"]
	read(ref1, "v1")
	read(ref2, "v2")
	if n := c.counts()["GetSecretValue"] - calls; n != 0 {
		t.Errorf("pinned reads after the first one called Secrets Manager %d times, want 0", n)
	}

	if err := s.Delete(ctx, ref2); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{ref1, ref2, s.Prefix() + name} {
		if _, err := s.Get(ctx, ref); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Get(%s) after Delete = %v, want NotFound", ref, err)
		}
	}
}

func TestPromoteRefusesOtherDeployments(t *testing.T) {
	s, c := newTestStore(t)
	other, _ := newTestStore(t)
	ref, err := other.Stage(context.Background(), "conn-x", []byte("not yours"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Promote(context.Background(), ref); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("Promote of another deployment's secret = %v, want Invalid", err)
	}
	if _, err := s.Get(context.Background(), ref); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("Get of another deployment's pinned secret = %v, want Invalid", err)
	}
	if len(c.counts()) != 0 {
		t.Errorf("refused refs made calls: %v", c.counts())
	}
}
