package alert_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// fault is what an injected failure does to one write.
type fault int

const (
	noFault    fault = iota
	failBefore       // the write is not made; an error is returned
	failAfter        // the write is made, then an error is returned (an ambiguous write: its answer was lost)
)

// errLost is the error an injected fault returns: what the SDK returns when
// the Lambda's context ends while it waits for DynamoDB's or SQS's answer.
var errLost = apperr.Wrap(apperr.Unavailable, context.Canceled, "request canceled")

// faults decides, deterministically, which calls fail: the n-th call of an
// operation for one id fails after its write with probability after%, and
// before it with probability before%, whatever the goroutine schedule.
type faults struct {
	mu     sync.Mutex
	calls  map[string]int
	rates  map[string][2]int // op → {after, before} percent
	counts map[string]map[fault]int
}

func newFaults(rates map[string][2]int) *faults {
	return &faults{calls: map[string]int{}, rates: rates, counts: map[string]map[fault]int{}}
}

func (f *faults) decide(op, id string) fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.calls[op+"|"+id]
	f.calls[op+"|"+id] = n + 1
	h := fnv.New32a()
	fmt.Fprintf(h, "%s|%s|%d", op, id, n)
	p := int(h.Sum32() % 100)
	r := f.rates[op]
	got := noFault
	switch {
	case p < r[0]:
		got = failAfter
	case p < r[0]+r[1]:
		got = failBefore
	}
	if f.counts[op] == nil {
		f.counts[op] = map[fault]int{}
	}
	f.counts[op][got]++
	return got
}

func (f *faults) count(op string, k fault) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op][k]
}

// faultyDeliveries is the real delivery records (dynamostore against
// moto) with injected failures, before and after the write.
type faultyDeliveries struct {
	alert.Deliveries
	f *faults
}

func (d faultyDeliveries) RecordDelivery(ctx context.Context, sc tenancy.Scope, id string, now time.Time, keep time.Duration) (alert.Delivery, bool, error) {
	switch d.f.decide("record", id) {
	case failBefore:
		return alert.Delivery{}, false, errLost
	case failAfter:
		if _, _, err := d.Deliveries.RecordDelivery(ctx, sc, id, now, keep); err != nil {
			return alert.Delivery{}, false, err
		}
		return alert.Delivery{}, false, errLost
	}
	return d.Deliveries.RecordDelivery(ctx, sc, id, now, keep)
}

func (d faultyDeliveries) MarkQueued(ctx context.Context, sc tenancy.Scope, id string, at time.Time) error {
	switch d.f.decide("mark", id) {
	case failBefore:
		return errLost
	case failAfter:
		if err := d.Deliveries.MarkQueued(ctx, sc, id, at); err != nil {
			return err
		}
		return errLost
	}
	return d.Deliveries.MarkQueued(ctx, sc, id, at)
}

// faultyQueue is the real queue with injected failures; it counts the
// sends SQS accepted per deduplication id.
type faultyQueue struct {
	q alert.Queue
	f *faults

	mu   sync.Mutex
	sent map[string]int
}

func (q *faultyQueue) Enqueue(ctx context.Context, m alert.QueueMessage) error {
	switch q.f.decide("enqueue", m.DedupID) {
	case failBefore:
		return errLost
	case failAfter:
		if err := q.send(ctx, m); err != nil {
			return err
		}
		return errLost
	}
	return q.send(ctx, m)
}

func (q *faultyQueue) send(ctx context.Context, m alert.QueueMessage) error {
	if err := q.q.Enqueue(ctx, m); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent[m.DedupID]++
	return nil
}

func (q *faultyQueue) sends(dedupID string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.sent[dedupID]
}

// set replaces the failure rates.
func (f *faults) set(rates map[string][2]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rates = rates
}

// TestWebhookLostAnswers walks each write of a delivery (the record, the
// send, the mark) failing before it is made and after (applied, its answer
// lost). The first case is the lost alert of issue 9: the record is
// written but its answer is lost, the webhook answers 503, and the sender
// retries five minutes later (the Standard Webhooks schedule); the retry
// must queue the alert, not call it a duplicate. In every case the
// sender's retry ends with the alert queued, and a third delivery is a
// duplicate that queues nothing.
func TestWebhookLostAnswers(t *testing.T) {
	e := newHookEnv(t)
	tests := []struct {
		name  string
		fault map[string][2]int // for the first delivery only
		first int               // its status
		// retryDup is the retry's duplicate flag; sends counts the
		// messages SQS accepted after the retry.
		retryDup bool
		sends    int
	}{
		{"record applied, its answer lost", map[string][2]int{"record": {100, 0}}, http.StatusServiceUnavailable, false, 1},
		{"record not made", map[string][2]int{"record": {0, 100}}, http.StatusServiceUnavailable, false, 1},
		{"send applied, its answer lost", map[string][2]int{"enqueue": {100, 0}}, http.StatusServiceUnavailable, false, 2},
		{"send not made", map[string][2]int{"enqueue": {0, 100}}, http.StatusServiceUnavailable, false, 1},
		{"mark applied, its answer lost", map[string][2]int{"mark": {100, 0}}, http.StatusAccepted, true, 1},
		{"mark not made", map[string][2]int{"mark": {0, 100}}, http.StatusAccepted, false, 2},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := time.Date(2026, 1, 6, 14, 0, 0, 0, time.UTC)
			f := newFaults(tc.fault)
			q := &faultyQueue{q: &recordingQueue{}, f: f, sent: map[string]int{}}
			rt := router(alert.NewWebhook(e.conns, e.secrets, parsers{ninjaParser(t)}, faultyDeliveries{Deliveries: e.alerts, f: f}, q,
				alert.WebhookOptions{Now: func() time.Time { return clock }, Logger: quiet}))
			id := int64(9001 + i)
			body := condition(id, fmt.Sprint("lost-", i), 1001, true, 0).body(t)
			dedup := alert.DedupID(e.ig.ID, fmt.Sprint("a-", id))
			code, ack, prob := deliver(t, rt, hookRequest(e.ig.ID, body, bearer(e.secret), nil))
			if code != tc.first || (code == http.StatusAccepted && ack.Duplicate) {
				t.Fatalf("first delivery: %d %+v %+v, want %d", code, ack, prob, tc.first)
			}
			f.set(nil)
			clock = clock.Add(5*time.Minute + 5*time.Second)
			code, ack, prob = deliver(t, rt, hookRequest(e.ig.ID, body, bearer(e.secret), nil))
			if code != http.StatusAccepted || ack.Duplicate != tc.retryDup {
				t.Fatalf("the sender's retry: %d %+v %+v, want 202 with duplicate %v", code, ack, prob, tc.retryDup)
			}
			if n := q.sends(dedup); n != tc.sends {
				t.Errorf("the alert was queued %d times, want %d", n, tc.sends)
			}
			clock = clock.Add(30 * time.Minute)
			code, ack, _ = deliver(t, rt, hookRequest(e.ig.ID, body, bearer(e.secret), nil))
			if code != http.StatusAccepted || !ack.Duplicate {
				t.Errorf("a delivery after the alert was queued: %d %+v, want 202 duplicate", code, ack)
			}
			if n := q.sends(dedup); n != tc.sends {
				t.Errorf("the alert was queued %d times after a duplicate, want %d", n, tc.sends)
			}
		})
	}
}

// The sender of TestWebhookAmbiguousWrites retries an unanswered delivery
// on the Standard Webhooks schedule (after 5 s, 5 min, 30 min, 2 h, 5 h,
// 10 h, 10 h): the times of its rounds after the first attempt.
var senderRounds = []time.Duration{0, 5 * time.Second, 5*time.Minute + 5*time.Second, 35*time.Minute + 5*time.Second,
	2*time.Hour + 35*time.Minute + 5*time.Second, 7*time.Hour + 35*time.Minute + 5*time.Second,
	17*time.Hour + 35*time.Minute + 5*time.Second, 27*time.Hour + 35*time.Minute + 5*time.Second}

const (
	ambiguousSeries      = 300 // alerts, one series each, all delivered at once
	ambiguousConcurrency = 100 // deliveries in flight
)

// TestWebhookAmbiguousWrites delivers hundreds of alerts concurrently
// while the delivery records and the queue fail at random — before their
// write, and after it (the write applied, its answer lost) — and the
// sender retries every unanswered delivery on its schedule and re-sends a
// quarter of the answered ones. Every alert must end accepted, queued at
// least once, and processed by the worker into exactly one ticket per
// series.
func TestWebhookAmbiguousWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	e := newHookEnv(t)
	e.useFastSQS(t)
	f := newFaults(map[string][2]int{"record": {12, 5}, "enqueue": {10, 5}, "mark": {10, 10}})
	q := &faultyQueue{q: sqsQueue{c: e.sender, url: e.queueURL}, f: f, sent: map[string]int{}}
	var clock atomic.Int64
	start := time.Date(2026, 1, 6, 14, 0, 0, 0, time.UTC)
	clock.Store(start.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	rt := router(alert.NewWebhook(e.conns, e.secrets, parsers{ninjaParser(t)}, faultyDeliveries{Deliveries: e.alerts, f: f}, q,
		alert.WebhookOptions{Now: now, CacheFor: 1000 * time.Hour, Logger: quiet}))

	bodies := make([][]byte, ambiguousSeries)
	for i := range bodies {
		bodies[i] = condition(int64(70000+i), fmt.Sprintf("amb-%03d", i), 3000+i, true, 0).body(t)
	}
	accepted := make([]bool, ambiguousSeries)
	pending := make([]int, 0, ambiguousSeries)
	for i := range ambiguousSeries {
		pending = append(pending, i)
	}
	answers := map[int]int{}
	rounds := 0
	began := time.Now()
	for r, at := range senderRounds {
		if len(pending) == 0 {
			break
		}
		rounds = r + 1
		clock.Store(start.Add(at).UnixNano())
		codes := make([]int, len(pending))
		sem := make(chan struct{}, ambiguousConcurrency)
		var wg sync.WaitGroup
		for j, i := range pending {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				codes[j], _, _ = deliver(t, rt, hookRequest(e.ig.ID, bodies[i], bearer(e.secret), nil))
			}()
		}
		wg.Wait()
		var next []int
		for j, i := range pending {
			answers[codes[j]]++
			switch {
			case codes[j] == http.StatusAccepted:
				accepted[i] = true
				// The sender lost a quarter of the answers and sends again.
				if h := fnv.New32a(); r == 0 {
					fmt.Fprintf(h, "resend|%d", i)
					if h.Sum32()%4 == 0 {
						next = append(next, i)
					}
				}
			case codes[j] >= 500 || codes[j] == http.StatusTooManyRequests:
				next = append(next, i)
			default:
				t.Fatalf("alert %d: status %d, want 202 or a retryable error", i, codes[j])
			}
		}
		pending = next
	}
	for i, ok := range accepted {
		if !ok {
			t.Errorf("alert %d was never accepted in %d rounds", i, len(senderRounds))
		}
	}
	lost := 0
	for i := range ambiguousSeries {
		if q.sends(alert.DedupID(e.ig.ID, fmt.Sprint("a-", 70000+i))) == 0 {
			lost++
			t.Errorf("alert %d (series amb-%03d) was accepted but never queued", i, i)
		}
	}

	sendTime := time.Since(began)
	began = time.Now()

	// A record says queued only for a message SQS accepted.
	sc := tenancy.Scope{TenantID: e.ig.TenantID, IntegrationID: e.ig.ID}
	unmarked := 0
	for i := range ambiguousSeries {
		id := fmt.Sprint("a-", 70000+i)
		d, fresh, err := e.alerts.RecordDelivery(ctx, sc, id, now(), time.Hour)
		switch {
		case err != nil || fresh:
			t.Errorf("delivery %s: fresh %v, %v; want its record", id, fresh, err)
		case d.Queued && q.sends(alert.DedupID(e.ig.ID, id)) == 0:
			t.Errorf("delivery %s is recorded queued but was never sent", id)
		case !d.Queued:
			unmarked++ // every mark failed: a later delivery would queue a copy
		}
	}

	// The worker drains the queue: one ticket per series.
	p := newFakePSA()
	assets := newFakeAssets()
	for i := range ambiguousSeries {
		assets.links[fmt.Sprint(3000+i)] = alert.AssetRef{AssetID: fmt.Sprint("a-", 3000+i), AccountID: "acct-12"}
	}
	clients := alert.Clients{Integration: e.ig, RMM: ninjaParser(t), PSA: p.Client()}
	// A short lease: a worker write that fails under load (moto on a busy
	// machine) leaves a claim that blocks its series until it expires.
	accounts := newFakeAccounts()
	svc := alert.NewService(e.alerts, assets, accounts, &fakeRefresh{}, alert.Options{Logger: quiet, Lease: 5 * time.Second})
	clients = withSync(clients, assets, accounts)
	worker := sqsbatch.Processor{Name: "alert-worker", Log: quiet}.BatchHandler(
		alert.NewWorker(svc, func(context.Context, string, string) (alert.Clients, error) { return clients, nil }, quiet).Prepare)
	messages, retried := 0, 0
	for idle := 0; idle < 2; {
		out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatalf("receive (after %d messages, %d tickets): %v", messages, len(p.Tickets()), err)
		}
		if len(out.Messages) == 0 {
			if queueEmpty(ctx, t, e.sqs, e.queueURL) {
				idle++
			}
			continue
		}
		idle = 0
		n, failed, err := consumeBatch(ctx, e.sqs, e.queueURL, worker, out.Messages)
		if err != nil {
			t.Fatal(err)
		}
		// A failed record (a transient error) comes back, as SQS does.
		retried += failed
		messages += n - failed
	}
	drainTime := time.Since(began)
	tickets := p.Tickets()
	perSeries := map[string]int{}
	for _, tk := range tickets {
		perSeries[tk.ExternalRef]++
	}
	for i := range ambiguousSeries {
		if n := perSeries[fmt.Sprintf("amb-%03d", i)]; n != 1 {
			t.Errorf("series amb-%03d has %d tickets, want exactly 1", i, n)
		}
	}
	if len(tickets) != ambiguousSeries {
		t.Errorf("%d tickets, want %d", len(tickets), ambiguousSeries)
	}
	t.Logf("%d alerts in %d sender rounds (answers %v); injected faults: record %d after / %d before, enqueue %d / %d, mark %d / %d; "+
		"%d lost; %d records left unmarked; %d queue messages processed (%d retried) into %d tickets; sending %v, draining %v",
		ambiguousSeries, rounds, answers, f.count("record", failAfter), f.count("record", failBefore),
		f.count("enqueue", failAfter), f.count("enqueue", failBefore), f.count("mark", failAfter), f.count("mark", failBefore),
		lost, unmarked, messages, retried, len(tickets), sendTime.Round(time.Millisecond), drainTime.Round(time.Millisecond))
}
