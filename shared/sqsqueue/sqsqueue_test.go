package sqsqueue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/devtools/fastsqs"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
)

// recorder is a thin decorator around the real *sqs.Client: it delegates
// every call and records what was asked. For the retry path (moto never
// fails batch entries) it can also hold back chosen entries and report them
// in Failed, as SQS does when it fails part of a batch.
type recorder struct {
	real *sqs.Client

	mu         sync.Mutex
	batches    [][]string              // entry ids of each SendMessageBatch call
	sends      []*sqs.SendMessageInput // SendMessage inputs
	visibility []int32                 // ChangeMessageVisibility timeouts
	fail       map[string]int          // entry id -> times still to fail
	failAs     map[string]types.BatchResultErrorEntry
}

func (r *recorder) SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	r.mu.Lock()
	r.sends = append(r.sends, in)
	r.mu.Unlock()
	return r.real.SendMessage(ctx, in, optFns...)
}

func (r *recorder) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	r.mu.Lock()
	r.visibility = append(r.visibility, in.VisibilityTimeout)
	r.mu.Unlock()
	return r.real.ChangeMessageVisibility(ctx, in, optFns...)
}

func (r *recorder) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return r.real.DeleteMessage(ctx, in, optFns...)
}

func (r *recorder) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	r.mu.Lock()
	var ids []string
	var failed []types.BatchResultErrorEntry
	pass := *in
	pass.Entries = nil
	for _, e := range in.Entries {
		id := aws.ToString(e.Id)
		ids = append(ids, id)
		if r.fail[id] > 0 {
			r.fail[id]--
			f := r.failAs[id]
			f.Id = e.Id
			failed = append(failed, f)
			continue
		}
		pass.Entries = append(pass.Entries, e)
	}
	r.batches = append(r.batches, ids)
	r.mu.Unlock()

	out := &sqs.SendMessageBatchOutput{}
	if len(pass.Entries) > 0 {
		var err error
		if out, err = r.real.SendMessageBatch(ctx, &pass, optFns...); err != nil {
			return nil, err
		}
	}
	out.Failed = append(out.Failed, failed...)
	return out, nil
}

// failEntries makes the recorder report the given entries as failed n times.
func (r *recorder) failEntries(n int, code string, senderFault bool, ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail == nil {
		r.fail, r.failAs = map[string]int{}, map[string]types.BatchResultErrorEntry{}
	}
	for _, id := range ids {
		r.fail[id] = n
		r.failAs[id] = types.BatchResultErrorEntry{Code: aws.String(code), SenderFault: senderFault, Message: aws.String("injected by the test")}
	}
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	return &recorder{real: sqs.NewFromConfig(motoserver.ForTest(t))}
}

// newQueue creates a queue in moto (FIFO without content-based
// deduplication when fifo is set) and returns its URL.
func newQueue(t *testing.T, client *sqs.Client, fifo bool) string {
	t.Helper()
	name := motoserver.UniqueName("sqsqueue")
	attrs := map[string]string{}
	if fifo {
		name += ".fifo"
		attrs["FifoQueue"] = "true"
		attrs["ContentBasedDeduplication"] = "false"
	}
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	url := aws.ToString(out.QueueUrl)
	t.Cleanup(func() {
		if _, err := client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
			t.Errorf("delete queue %s: %v", name, err)
		}
	})
	return url
}

// drain receives and deletes messages until the queue has answered empty
// twice in a row, and returns them in receive order.
func drain(t *testing.T, client *sqs.Client, url string) []types.Message {
	t.Helper()
	ctx := context.Background()
	var got []types.Message
	empty := 0
	deadline := time.Now().Add(20 * time.Second)
	for empty < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("queue still not empty after 20 s (%d received)", len(got))
		}
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(url),
			MaxNumberOfMessages:         10,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range out.Messages {
			got = append(got, m)
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}
	}
	return got
}

func bodies(ms []types.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = aws.ToString(m.Body)
	}
	return out
}

func sortedBodies(ms []types.Message) []string {
	return slices.Sorted(slices.Values(bodies(ms)))
}

// noSleep records waits instead of sleeping.
type noSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (n *noSleep) sleep(ctx context.Context, d time.Duration) error {
	n.mu.Lock()
	n.waits = append(n.waits, d)
	n.mu.Unlock()
	return ctx.Err()
}

func makeMessages(n int, body func(i int) string) []Message {
	ms := make([]Message, n)
	for i := range ms {
		ms[i] = Message{Body: body(i)}
	}
	return ms
}

func TestSendBatchChunksAndDelivers(t *testing.T) {
	rec := newRecorder(t)
	url := newQueue(t, rec.real, false)
	c := New(rec)
	msgs := makeMessages(25, func(i int) string { return fmt.Sprintf(`{"deviceId":"dev-%02d"}`, i) })
	msgs[3].Attributes = map[string]string{"tenant": "t1", "kind": "asset"}

	if err := c.SendBatch(context.Background(), url, msgs); err != nil {
		t.Fatal(err)
	}
	if got := c.Calls(); got != 3 {
		t.Errorf("Calls() = %d, want 3", got)
	}
	var sizes []int
	for _, b := range rec.batches {
		sizes = append(sizes, len(b))
	}
	if diff := cmp.Diff([]int{10, 10, 5}, sizes); diff != "" {
		t.Errorf("SendMessageBatch sizes (-want +got):\n%s", diff)
	}

	got := drain(t, rec.real, url)
	var want []string
	for _, m := range msgs {
		want = append(want, m.Body)
	}
	if diff := cmp.Diff(want, sortedBodies(got)); diff != "" {
		t.Errorf("received bodies (-want +got):\n%s", diff)
	}
	for _, m := range got {
		if aws.ToString(m.Body) != msgs[3].Body {
			continue
		}
		gotAttrs := map[string]string{}
		for k, v := range m.MessageAttributes {
			gotAttrs[k] = aws.ToString(v.StringValue)
		}
		if diff := cmp.Diff(msgs[3].Attributes, gotAttrs); diff != "" {
			t.Errorf("attributes (-want +got):\n%s", diff)
		}
	}
}

func TestChunkLimits(t *testing.T) {
	const kib = 1024
	sized := func(sizes ...int) []entry {
		var es []entry
		for i, n := range sizes {
			es = append(es, entry{id: fmt.Sprint(i), msg: Message{Body: strings.Repeat("x", n)}})
		}
		return es
	}
	many := func(n, size int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = size
		}
		return s
	}
	tests := []struct {
		name  string
		sizes []int
		want  []int // entries per chunk
	}{
		{"ten small fit one call", many(10, 100), []int{10}},
		{"eleventh starts a new call", many(11, 100), []int{10, 1}},
		{"three of 100 KiB", many(3, 100*kib), []int{2, 1}},
		{"exactly 256 KiB in one call", []int{128 * kib, 128 * kib, 1}, []int{2, 1}},
		{"oversized message goes alone", []int{10, 300 * kib, 10}, []int{1, 1, 1}},
		{"25 small", many(25, 10), []int{10, 10, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			for _, ch := range chunk(sized(tt.sizes...)) {
				got = append(got, len(ch))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("chunks (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("attributes count toward the payload", func(t *testing.T) {
		big := Message{Body: strings.Repeat("x", 128*kib-20), Attributes: map[string]string{"k": strings.Repeat("v", 20)}}
		es := []entry{{id: "a", msg: big}, {id: "b", msg: big}}
		if got := len(chunk(es)); got != 2 {
			t.Errorf("got %d chunks, want 2 (the attributes push the pair over 256 KiB)", got)
		}
	})
}

func TestSendBatchFIFOOrderPerGroup(t *testing.T) {
	rec := newRecorder(t)
	url := newQueue(t, rec.real, true)
	c := New(rec)
	var msgs []Message
	for i := range 12 {
		for _, g := range []string{"T#a#INT#1#series-a", "T#a#INT#1#series-b"} {
			msgs = append(msgs, Message{Body: fmt.Sprintf("%s/%02d", g, i), GroupID: g})
		}
	}
	if err := c.SendBatch(context.Background(), url, msgs); err != nil {
		t.Fatal(err)
	}
	if got := c.Calls(); got != 3 {
		t.Errorf("Calls() = %d, want 3", got)
	}
	got := drain(t, rec.real, url)
	perGroup := map[string][]string{}
	for _, m := range got {
		g := m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
		perGroup[g] = append(perGroup[g], aws.ToString(m.Body))
	}
	want := map[string][]string{}
	for _, m := range msgs {
		want[m.GroupID] = append(want[m.GroupID], m.Body)
	}
	if diff := cmp.Diff(want, perGroup); diff != "" {
		t.Errorf("per-group order (-want +got):\n%s", diff)
	}
}

func TestFIFODeduplication(t *testing.T) {
	rec := newRecorder(t)
	url := newQueue(t, rec.real, true)
	c := New(rec)
	ctx := context.Background()
	msgs := []Message{
		{Body: "same body", GroupID: "g"},
		{Body: "same body", GroupID: "g"}, // default dedup id (body hash) drops it
		{Body: "first of d1", GroupID: "g", DedupID: "d1"},
		{Body: "second of d1", GroupID: "g", DedupID: "d1"}, // same explicit id drops it
		{Body: "twin", GroupID: "g", DedupID: "d2"},
		{Body: "twin", GroupID: "g", DedupID: "d3"}, // distinct ids keep both
	}
	if err := c.SendBatch(ctx, url, msgs); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, url, Message{Body: "same body", GroupID: "g"}); err != nil {
		t.Fatal(err)
	}
	got := drain(t, rec.real, url)
	if diff := cmp.Diff([]string{"same body", "first of d1", "twin", "twin"}, bodies(got)); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	sum := sha256.Sum256([]byte("same body"))
	wantDedup := hex.EncodeToString(sum[:])
	if gotDedup := got[0].Attributes[string(types.MessageSystemAttributeNameMessageDeduplicationId)]; gotDedup != wantDedup {
		t.Errorf("default dedup id = %q, want sha256 of the body %q", gotDedup, wantDedup)
	}
	if len(rec.sends) != 1 || aws.ToString(rec.sends[0].MessageDeduplicationId) != wantDedup {
		t.Errorf("Send did not use the body hash as dedup id")
	}
}

func TestSendStandardQueueDelayAndGroup(t *testing.T) {
	rec := newRecorder(t)
	url := newQueue(t, rec.real, false)
	c := New(rec)
	ctx := context.Background()
	m := Message{Body: "refresh dev-1", GroupID: "T#tenant-1", Delay: 1500 * time.Millisecond, Attributes: map[string]string{"a": "b"}}
	if err := c.Send(ctx, url, m); err != nil {
		t.Fatal(err)
	}
	in := rec.sends[0]
	if in.DelaySeconds != 2 || aws.ToString(in.MessageGroupId) != "T#tenant-1" || in.MessageDeduplicationId != nil {
		t.Errorf("SendMessage input: delay %d, group %q, dedup %v; want 2, T#tenant-1, nil",
			in.DelaySeconds, aws.ToString(in.MessageGroupId), in.MessageDeduplicationId)
	}
	out, err := rec.real.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 0 {
		t.Errorf("a delayed message was visible at once")
	}
	time.Sleep(2100 * time.Millisecond)
	got := drain(t, rec.real, url)
	if diff := cmp.Diff([]string{m.Body}, bodies(got)); diff != "" {
		t.Errorf("delivered after the delay (-want +got):\n%s", diff)
	}
}

func TestSendBatchRetriesOnlyFailedEntries(t *testing.T) {
	rec := newRecorder(t)
	url := newQueue(t, rec.real, false)
	sl := &noSleep{}
	c := New(rec, WithSleep(sl.sleep), WithBackoff(10*time.Millisecond, 40*time.Millisecond))
	msgs := makeMessages(12, func(i int) string { return fmt.Sprintf("asset-%02d", i) })
	rec.failEntries(1, "InternalError", false, "m3", "m7")
	rec.failEntries(2, "ServiceUnavailable", false, "m11")

	if err := c.SendBatch(context.Background(), url, msgs); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"},
		{"m3", "m7"},
		{"m10", "m11"},
		{"m11"},
		{"m11"},
	}
	if diff := cmp.Diff(want, rec.batches); diff != "" {
		t.Errorf("SendMessageBatch entries per call (-want +got):\n%s", diff)
	}
	if len(sl.waits) != 3 {
		t.Fatalf("waited %d times, want 3", len(sl.waits))
	}
	caps := []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}
	for i, w := range sl.waits {
		if w < 0 || w >= caps[i] {
			t.Errorf("wait %d = %v, want in [0, %v)", i, w, caps[i])
		}
	}
	got := drain(t, rec.real, url)
	var wantBodies []string
	for _, m := range msgs {
		wantBodies = append(wantBodies, m.Body)
	}
	if diff := cmp.Diff(wantBodies, sortedBodies(got)); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
}

func TestSendBatchGivesUpAfterMaxAttempts(t *testing.T) {
	rec := newRecorder(t)
	url := newQueue(t, rec.real, false)
	sl := &noSleep{}
	c := New(rec, WithSleep(sl.sleep), WithMaxAttempts(3))
	msgs := makeMessages(14, func(i int) string { return fmt.Sprintf("payload-%02d", i) })
	msgs[4].ID = "org-42"
	rec.failEntries(100, "InternalError", false, "org-42")

	err := c.SendBatch(context.Background(), url, msgs)
	if apperr.KindOf(err) != apperr.Unavailable {
		t.Fatalf("got %v, want an Unavailable error", err)
	}
	var be *BatchError
	if !errors.As(err, &be) {
		t.Fatalf("error %v carries no *BatchError", err)
	}
	wantBE := &BatchError{
		Total:  14,
		Failed: []FailedEntry{{ID: "org-42", Code: "InternalError"}},
		Unsent: []string{"m10", "m11", "m12", "m13"},
	}
	if diff := cmp.Diff(wantBE, be); diff != "" {
		t.Errorf("BatchError (-want +got):\n%s", diff)
	}
	for _, s := range []string{"5 of 14 messages not sent", "org-42 (InternalError)", "m13"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "payload-") {
		t.Errorf("error %q leaks a message body", err)
	}
	if got := c.Calls(); got != 3 {
		t.Errorf("Calls() = %d, want 3 (no call for the chunk after the failure)", got)
	}
}

func TestSendBatchSenderFaultIsNotRetried(t *testing.T) {
	rec := newRecorder(t)
	url := newQueue(t, rec.real, false)
	sl := &noSleep{}
	c := New(rec, WithSleep(sl.sleep))
	msgs := makeMessages(15, func(i int) string { return fmt.Sprintf("secret-body-%02d", i) })
	rec.failEntries(1, "InvalidMessageContents", true, "m2")
	rec.failEntries(1, "InternalError", false, "m5")

	err := c.SendBatch(context.Background(), url, msgs)
	if apperr.KindOf(err) != apperr.Invalid {
		t.Fatalf("got %v, want an Invalid error", err)
	}
	if got := c.Calls(); got != 1 || len(sl.waits) != 0 {
		t.Errorf("calls %d, waits %d; want 1 call and no wait", got, len(sl.waits))
	}
	var be *BatchError
	if !errors.As(err, &be) {
		t.Fatalf("error %v carries no *BatchError", err)
	}
	wantFailed := []FailedEntry{{ID: "m2", Code: "InvalidMessageContents", SenderFault: true}, {ID: "m5", Code: "InternalError"}}
	if diff := cmp.Diff(wantFailed, be.Failed); diff != "" {
		t.Errorf("failed entries (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), "m2 (InvalidMessageContents, sender fault)") {
		t.Errorf("error %q does not name the sender fault", err)
	}
	if strings.Contains(err.Error(), "secret-body") {
		t.Errorf("error %q leaks a message body", err)
	}
	if got := len(drain(t, rec.real, url)); got != 8 {
		t.Errorf("received %d messages, want the 8 SQS accepted", got)
	}
}

func TestSendBatchContextEndsDuringBackoff(t *testing.T) {
	rec := newRecorder(t)
	url := newQueue(t, rec.real, false)
	ctx, cancel := context.WithCancel(context.Background())
	c := New(rec, WithSleep(func(context.Context, time.Duration) error { cancel(); return context.Canceled }))
	rec.failEntries(1, "InternalError", false, "m1")
	err := c.SendBatch(ctx, url, makeMessages(3, func(i int) string { return fmt.Sprint(i) }))
	if apperr.KindOf(err) != apperr.Unavailable || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want Unavailable wrapping context.Canceled", err)
	}
	var be *BatchError
	if !errors.As(err, &be) || !slices.Equal(be.Unsent, []string{"m1"}) {
		t.Errorf("BatchError = %+v, want m1 unsent", be)
	}
}

func TestSendValidation(t *testing.T) {
	rec := newRecorder(t)
	std := newQueue(t, rec.real, false)
	fifo := newQueue(t, rec.real, true)
	c := New(rec)
	tests := []struct {
		name      string
		url       string
		msgs      []Message
		wantField string
	}{
		{"delay over 15 minutes", std, []Message{{Body: "x", Delay: 901 * time.Second}}, "messages[0].delay"},
		{"negative delay", std, []Message{{Body: "x", Delay: -time.Second}}, "messages[0].delay"},
		{"delay on FIFO", fifo, []Message{{Body: "x", GroupID: "g", Delay: time.Second}}, "messages[0].delay"},
		{"FIFO without group", fifo, []Message{{Body: "x"}, {Body: "y", GroupID: ""}}, "messages[0].groupId"},
		{"empty body", std, []Message{{Body: "ok"}, {Body: ""}}, "messages[1].body"},
		{"repeated id", std, []Message{{ID: "a", Body: "1"}, {ID: "a", Body: "2"}}, "messages[1].id"},
		{"id with bad characters", std, []Message{{ID: "a b", Body: "1"}}, "messages[0].id"},
		{"too many attributes", std, []Message{{Body: "1", Attributes: map[string]string{
			"a": "", "b": "", "c": "", "d": "", "e": "", "f": "", "g": "", "h": "", "i": "", "j": "", "k": ""}}}, "messages[0].attributes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.SendBatch(context.Background(), tt.url, tt.msgs)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Invalid {
				t.Fatalf("got %v, want Invalid", err)
			}
			if len(e.Fields) == 0 || e.Fields[0].Field != tt.wantField {
				t.Errorf("fields = %+v, want first %s", e.Fields, tt.wantField)
			}
		})
	}
	t.Run("Send checks too", func(t *testing.T) {
		if err := c.Send(context.Background(), std, Message{Body: "x", Delay: time.Hour}); apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("got %v, want Invalid", err)
		}
	})
	if c.Calls() != 0 {
		t.Errorf("invalid messages made %d calls", c.Calls())
	}
}

func TestChangeVisibility(t *testing.T) {
	rec := newRecorder(t)
	url := newQueue(t, rec.real, false)
	c := New(rec)
	ctx := context.Background()
	if err := c.Send(ctx, url, Message{Body: "retry me"}); err != nil {
		t.Fatal(err)
	}
	receive := func() []types.Message {
		t.Helper()
		out, err := rec.real.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), VisibilityTimeout: 300, MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.Messages
	}
	first := receive()
	if len(first) != 1 {
		t.Fatalf("received %d messages, want 1", len(first))
	}
	if got := receive(); len(got) != 0 {
		t.Fatalf("in-flight message received again before its visibility changed")
	}
	if err := c.ChangeVisibility(ctx, url, aws.ToString(first[0].ReceiptHandle), -5*time.Second); err != nil {
		t.Fatal(err)
	}
	second := receive()
	if len(second) != 1 || aws.ToString(second[0].Body) != "retry me" {
		t.Fatalf("after ChangeVisibility(0) received %v, want the message again", bodies(second))
	}
	if n := second[0].Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]; n != "2" {
		t.Errorf("receive count = %s, want 2", n)
	}
	handle := aws.ToString(second[0].ReceiptHandle)

	if err := c.ChangeVisibility(ctx, url, handle, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// moto, like SQS, limits a message's total invisibility to 12 h; the
	// clamped request asks for exactly 12 h from now, which moto counts
	// from the send time and refuses.
	if err := c.ChangeVisibility(ctx, url, handle, 100*time.Hour); apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("ChangeVisibility(100h) = %v, want moto's Invalid for 12 h after the send", err)
	}
	if diff := cmp.Diff([]int32{0, 2, 43200}, rec.visibility); diff != "" {
		t.Errorf("VisibilityTimeout sent (-want +got):\n%s", diff)
	}

	if _, err := rec.real.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(handle)}); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangeVisibility(ctx, url, handle, time.Second); apperr.KindOf(err) != apperr.Conflict {
		t.Errorf("ChangeVisibility on a deleted message = %v, want Conflict", err)
	}
}

func TestBackoffIsCappedFullJitter(t *testing.T) {
	c := New(nil, WithBackoff(50*time.Millisecond, 2*time.Second))
	tests := []struct {
		attempt int
		ceiling time.Duration
	}{
		{1, 50 * time.Millisecond},
		{2, 100 * time.Millisecond},
		{4, 400 * time.Millisecond},
		{6, 1600 * time.Millisecond},
		{7, 2 * time.Second},
		{40, 2 * time.Second},
		{1000, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("attempt ", tt.attempt), func(t *testing.T) {
			var maxSeen time.Duration
			for range 2000 {
				d := c.backoff(tt.attempt)
				if d < 0 || d >= tt.ceiling {
					t.Fatalf("backoff = %v, want in [0, %v)", d, tt.ceiling)
				}
				maxSeen = max(maxSeen, d)
			}
			if maxSeen < tt.ceiling/2 {
				t.Errorf("max of 2000 draws = %v; not spread over [0, %v)", maxSeen, tt.ceiling)
			}
		})
	}
}

func TestMissingQueue(t *testing.T) {
	rec := newRecorder(t)
	url := newQueue(t, rec.real, false)
	c := New(rec)
	missing := url[:strings.LastIndexByte(url, '/')+1] + motoserver.UniqueName("no-such-queue")
	err := c.SendBatch(context.Background(), missing, makeMessages(2, func(i int) string { return "b" }))
	if apperr.KindOf(err) != apperr.Internal {
		t.Errorf("got %v, want Internal (queue does not exist)", err)
	}
	var be *BatchError
	if !errors.As(err, &be) || len(be.Unsent) != 2 {
		t.Errorf("BatchError = %+v, want 2 unsent", be)
	}
}

// TestChangeVisibilityOfAMessageThatMovedOn checks the error real SQS gives
// for the receipt handle of a deleted message (InvalidParameterValue naming
// the ReceiptHandle; moto answers ReceiptHandleIsInvalid instead), using
// fastsqs, which follows SQS here: it must be a Conflict, not Invalid.
func TestChangeVisibilityOfAMessageThatMovedOn(t *testing.T) {
	ctx := context.Background()
	srv, err := fastsqs.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	cfg, err := motoserver.AWSConfig(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	raw := sqs.NewFromConfig(cfg)
	q, err := raw.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("moved-on")})
	if err != nil {
		t.Fatal(err)
	}
	c := New(raw)
	if err := c.Send(ctx, *q.QueueUrl, Message{Body: "x"}); err != nil {
		t.Fatal(err)
	}
	got, err := raw.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, VisibilityTimeout: 30})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("receive: %v, %d messages", err, len(got.Messages))
	}
	if _, err := raw.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: got.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	err = c.ChangeVisibility(ctx, *q.QueueUrl, *got.Messages[0].ReceiptHandle, time.Minute)
	if !apperr.Is(err, apperr.Conflict) {
		t.Errorf("ChangeVisibility of a deleted message = %v (kind %s), want Conflict", err, apperr.KindOf(err))
	}
}
