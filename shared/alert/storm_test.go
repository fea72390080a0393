package alert_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// The storm: 100 alert series, each a trigger, 18 repeats, a reset, a
// trigger again inside the reopen window, 18 repeats and a reset (40
// events, 4,000 in all), plus 1,000 duplicate deliveries at random later
// places of their series, every series' stream interleaved at random with
// the others. Deliveries go through the webhook — the table in moto, the
// AlertQueue a FIFO queue in fastsqs (moto's FIFO queues slow down with
// depth and can hand out two messages of one group at once; fastsqs keeps
// SQS's semantics, the five-minute deduplication included) — from 8
// senders, while 4 consumers drain the queue into the worker like the
// Lambda event source mapping (long-polled batches of 10, partial failures
// made visible again). The PSA is in memory.
const (
	stormSeries    = 100
	stormPerSeries = 40
	stormDups      = 1000
	stormSenders   = 8
	stormConsumers = 4
)

// stormEvent is event k of series s: 0 trigger, 1–18 repeats, 19 reset,
// 20 trigger again, 21–38 repeats, 39 reset; 30 s apart.
func stormEvent(s, k int) activity {
	device := 1000 + s%20
	triggered := k != 19 && k != 39
	return condition(int64(s*100+k+1), fmt.Sprintf("storm-%03d", s), device, triggered, time.Duration(k)*30*time.Second+time.Duration(s)*time.Millisecond)
}

func TestStorm(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := newHookEnv(t)
	e.useFastSQS(t)
	rnd := rand.New(rand.NewPCG(6, 1))

	// Per-series streams with duplicates inserted after their original.
	streams := make([][]int, stormSeries) // k values; duplicates repeat an earlier k
	for s := range streams {
		for k := range stormPerSeries {
			streams[s] = append(streams[s], k)
		}
	}
	for range stormDups {
		s := rnd.IntN(stormSeries)
		st := streams[s]
		from := rnd.IntN(len(st))
		at := from + 1 + rnd.IntN(len(st)-from)
		streams[s] = append(st[:at], append([]int{st[from]}, st[at:]...)...)
	}
	// A random interleaving of the streams, order kept within each.
	type delivery struct{ s, k int }
	var merged []delivery
	pos := make([]int, stormSeries)
	for remaining := stormSeries*stormPerSeries + stormDups; remaining > 0; remaining-- {
		for {
			s := rnd.IntN(stormSeries)
			if pos[s] < len(streams[s]) {
				merged = append(merged, delivery{s, streams[s][pos[s]]})
				pos[s]++
				break
			}
		}
	}
	bodies := make(map[[2]int][]byte, stormSeries*stormPerSeries)
	for s := range stormSeries {
		for k := range stormPerSeries {
			bodies[[2]int{s, k}] = stormEvent(s, k).body(t)
		}
	}

	// The worker side: the table of the webhook, an in-memory PSA that
	// reopens, every device imported.
	p := newFakePSA()
	assets := newFakeAssets()
	for d := 1000; d < 1020; d++ {
		assets.links[fmt.Sprint(d)] = alert.AssetRef{AssetID: fmt.Sprint("a-", d), AccountID: "acct-12"}
	}
	refresh := &fakeRefresh{}
	clients := alert.Clients{Integration: e.ig, RMM: ninjaParser(t), PSA: p.Reopener()}
	clients.Integration.Settings = connection.Settings{ReopenWindowMinutes: 60}
	accounts := newFakeAccounts()
	svc := alert.NewService(e.alerts, assets, accounts, refresh, alert.Options{Logger: quiet})
	clients = withSync(clients, assets, accounts)
	worker := sqsbatch.Processor{Name: "alert-worker", Log: quiet}.BatchHandler(
		alert.NewWorker(svc, func(context.Context, string, string) (alert.Clients, error) { return clients, nil }, quiet).Prepare)
	tq := &timedQueue{q: sqsQueue{c: e.sender, url: e.queueURL}}
	td := &timedDeliveries{Deliveries: e.alerts}
	rt := router(alert.NewWebhook(e.conns, e.secrets, parsers{ninjaParser(t)}, td, tq,
		alert.WebhookOptions{CacheFor: time.Hour, Logger: quiet}))
	opsBefore := e.store.Ops()
	setup := time.Since(start)

	// Senders: sender g delivers the series s with s % senders == g, in
	// merged order, each delivery after the previous one was answered.
	var accepted, duplicates atomic.Int64
	latencies := make([][]time.Duration, stormSenders)
	sendStart := time.Now()
	var senders sync.WaitGroup
	for g := range stormSenders {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for _, d := range merged {
				if d.s%stormSenders != g {
					continue
				}
				req := hookRequest(e.ig.ID, bodies[[2]int{d.s, d.k}], bearer(e.secret), nil)
				began := time.Now()
				code, ack, prob := deliver(t, rt, req)
				latencies[g] = append(latencies[g], time.Since(began))
				if code != 202 {
					t.Errorf("delivery %d/%d: %d %+v", d.s, d.k, code, prob)
					return
				}
				accepted.Add(1)
				if ack.Duplicate {
					duplicates.Add(1)
				}
			}
		}()
	}
	sendersDone := make(chan struct{})
	go func() { senders.Wait(); close(sendersDone) }()

	// Consumers: receive (long poll, 10), run the worker, delete what
	// succeeded, make the failures visible again — as the event source
	// mapping does.
	var processed, failedRecords, batchesRun atomic.Int64
	var consumers sync.WaitGroup
	drainStart := time.Now()
	for range stormConsumers {
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			idle := 0
			for ctx.Err() == nil {
				out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 10,
					// Short, so that a receive whose answer is lost (the
					// messages then wait out their visibility timeout)
					// delays the storm little.
					WaitTimeSeconds: 1, VisibilityTimeout: 20,
					MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("receive: %v", err)
					}
					return
				}
				if len(out.Messages) > 0 {
					idle = 0
					n, failed, err := consumeBatch(ctx, e.sqs, e.queueURL, worker, out.Messages)
					if err != nil {
						t.Errorf("consume: %v", err)
						return
					}
					processed.Add(int64(n - failed))
					failedRecords.Add(int64(failed))
					batchesRun.Add(1)
					continue
				}
				select {
				case <-sendersDone:
					idle++
					if idle >= 2 && queueEmpty(ctx, t, e.sqs, e.queueURL) {
						return
					}
				default:
				}
			}
		}()
	}
	<-sendersDone
	sendTime := time.Since(sendStart)
	consumers.Wait()
	drainTime := time.Since(drainStart)

	// Exactly one ticket per series, with the right notes and closures.
	tickets := p.Tickets()
	if len(tickets) != stormSeries || p.Calls("CreateTicket") != stormSeries {
		t.Fatalf("%d tickets (%d creates), want exactly %d", len(tickets), p.Calls("CreateTicket"), stormSeries)
	}
	refs := map[string]bool{}
	for _, tk := range tickets {
		refs[tk.ExternalRef] = true
		var repeats, retriggers, cleared int
		for _, n := range tk.Notes {
			switch {
			case strings.HasPrefix(n, "Alert occurred again"):
				repeats++
			case strings.HasPrefix(n, "The condition triggered again"):
				retriggers++
			case strings.HasPrefix(n, "The condition cleared") && strings.Contains(n, "Closed by rmmbridge"):
				cleared++
			}
		}
		if repeats != 36 || retriggers != 1 || cleared != 2 || len(tk.Notes) != 39 || tk.Closes != 2 || tk.Reopens != 1 || !tk.Closed {
			t.Errorf("ticket %s (%s): %d repeat notes, %d re-trigger notes, %d closing notes (%d in all), closed %d times, reopened %d, closed now %v;"+
				" want 36, 1, 2 (39), 2, 1, true", tk.ID, tk.ExternalRef, repeats, retriggers, cleared, len(tk.Notes), tk.Closes, tk.Reopens, tk.Closed)
		}
	}
	if len(refs) != stormSeries {
		t.Errorf("%d distinct series have tickets, want %d", len(refs), stormSeries)
	}
	if p.Calls("AddTicketNote") != stormSeries*37 {
		t.Errorf("%d notes added, want %d", p.Calls("AddTicketNote"), stormSeries*37)
	}
	links, _, err := svc.List(ctx, tenancy.Scope{TenantID: e.ig.TenantID, IntegrationID: e.ig.ID}, alert.ListQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != stormSeries {
		t.Errorf("%d series listed, want %d", len(links), stormSeries)
	}
	for _, l := range links {
		if l.State != alert.StateClosed || l.Occurrences != 38 {
			t.Errorf("series %s: %s with %d occurrences, want closed with 38", l.SeriesID, l.State, l.Occurrences)
		}
	}
	if got := accepted.Load(); got != int64(len(merged)) {
		t.Errorf("%d deliveries accepted, want %d", got, len(merged))
	}
	if got := duplicates.Load(); got != stormDups {
		t.Errorf("%d deliveries answered as duplicates, want %d", got, stormDups)
	}
	// A run of a series' events in one batch asks for one refresh.
	if got := refresh.count(); got < stormSeries || got > stormSeries*stormPerSeries {
		t.Errorf("%d asset refreshes, want between one per series and one per ticket write", got)
	}

	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	t.Logf("storm: %d deliveries (%d duplicates) of %d series in %v (%.0f/s; webhook p50 %v, p99 %v); "+
		"queue drained into the worker in %v (%d records applied in %d batches, %d failed and retried); DynamoDB requests: %d for deliveries, %d for alert links; setup %v; "+
		"per delivery: record %v, enqueue %v",
		len(merged), duplicates.Load(), stormSeries, sendTime.Round(time.Millisecond), float64(len(merged))/sendTime.Seconds(),
		percentile(all, 50), percentile(all, 99), drainTime.Round(time.Millisecond), processed.Load(), batchesRun.Load(), failedRecords.Load(),
		td.n.Load(), e.store.Ops()-opsBefore-td.n.Load(), setup.Round(time.Millisecond), td.mean(), tq.mean())
}

// consumeBatch runs the worker over received messages, deletes the ones
// that succeeded and makes the failed ones visible again.
func consumeBatch(ctx context.Context, c *sqs.Client, url string, w sqsbatch.Handler, msgs []sqstypes.Message) (n, failed int, err error) {
	ev := events.SQSEvent{}
	handles := map[string]string{}
	for _, m := range msgs {
		id := aws.ToString(m.MessageId)
		handles[id] = aws.ToString(m.ReceiptHandle)
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: id, ReceiptHandle: handles[id], Body: aws.ToString(m.Body),
			Attributes: m.Attributes, EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:alerts.fifo"})
	}
	resp, err := w(ctx, ev)
	if err != nil {
		return 0, 0, err
	}
	bad := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		bad[f.ItemIdentifier] = true
	}
	var del []sqstypes.DeleteMessageBatchRequestEntry
	var vis []sqstypes.ChangeMessageVisibilityBatchRequestEntry
	for i, r := range ev.Records {
		entryID := fmt.Sprint("e", i)
		if bad[r.MessageId] {
			vis = append(vis, sqstypes.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(entryID), ReceiptHandle: aws.String(r.ReceiptHandle)})
		} else {
			del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(entryID), ReceiptHandle: aws.String(r.ReceiptHandle)})
		}
	}
	if len(del) > 0 {
		res, err := c.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del})
		if err != nil {
			return 0, 0, fmt.Errorf("delete batch: %w", err)
		}
		if len(res.Failed) > 0 {
			return 0, 0, apperr.New(apperr.Internal, "%d deletes failed", len(res.Failed))
		}
	}
	if len(vis) > 0 {
		if _, err := c.ChangeMessageVisibilityBatch(context.WithoutCancel(ctx), &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: vis}); err != nil {
			return 0, 0, fmt.Errorf("change visibility: %w", err)
		}
	}
	return len(ev.Records), len(vis), nil
}

// queueEmpty reports whether the queue holds no message, visible or in
// flight.
func queueEmpty(ctx context.Context, t testing.TB, c *sqs.Client, url string) bool {
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Errorf("queue attributes: %v", err)
		return true
	}
	return out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
}

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)].Round(time.Microsecond)
}

// timedQueue and timedDeliveries measure the webhook's two writes.
type timedQueue struct {
	q     alert.Queue
	n, ns atomic.Int64
}

func (q *timedQueue) Enqueue(ctx context.Context, m alert.QueueMessage) error {
	began := time.Now()
	defer func() { q.n.Add(1); q.ns.Add(int64(time.Since(began))) }()
	return q.q.Enqueue(ctx, m)
}

func (q *timedQueue) mean() time.Duration {
	return (time.Duration(q.ns.Load()) / time.Duration(max(q.n.Load(), 1))).Round(time.Microsecond)
}

type timedDeliveries struct {
	alert.Deliveries
	n, ns atomic.Int64
}

func (d *timedDeliveries) RecordDelivery(ctx context.Context, sc tenancy.Scope, id string, now time.Time, keep time.Duration) (alert.Delivery, bool, error) {
	began := time.Now()
	defer func() { d.n.Add(1); d.ns.Add(int64(time.Since(began))) }()
	return d.Deliveries.RecordDelivery(ctx, sc, id, now, keep)
}

func (d *timedDeliveries) mean() time.Duration {
	return (time.Duration(d.ns.Load()) / time.Duration(max(d.n.Load(), 1))).Round(time.Microsecond)
}
