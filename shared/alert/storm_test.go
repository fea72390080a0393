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
	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
	"github.com/rmmbridge/rmmbridge/shared/vendors/dattormm"
	dattosb "github.com/rmmbridge/rmmbridge/shared/vendors/dattormm/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendors/tacticalrmm"
	tacticalsb "github.com/rmmbridge/rmmbridge/shared/vendors/tacticalrmm/sandbox"
)

// The storm, table-driven over the RMMs' webhook parsers. NinjaOne: 100
// alert series, each a trigger, 18 repeats, a reset, a trigger again
// inside the reopen window, 18 repeats and a reset (40 events, 4,000 in
// all), plus 1,000 duplicate deliveries at random later places of their
// series. Datto RMM and Tactical RMM repeat no trigger and open a new
// episode under a new alert id (a new series): 125 conditions, each
// trigger → reset of one alert and trigger → reset of the next (250
// series, 500 events), plus 1,000 duplicates. Every condition's stream is
// interleaved at random with the others. Deliveries go through the
// webhook — the table in moto, the AlertQueue a FIFO queue in fastsqs
// (moto's FIFO queues slow down with depth and can hand out two messages
// of one group at once; fastsqs keeps SQS's semantics, the five-minute
// deduplication included) — from 8 senders, while 4 consumers drain the
// queue into the worker like the Lambda event source mapping (long-polled
// batches of 10, partial failures made visible again). The PSA is in
// memory.
const (
	stormSenders   = 8
	stormConsumers = 4
)

// stormCase is one RMM's storm: streams conditions of perStream events,
// each stream seriesPerStream series one after the other, and dups
// duplicate deliveries.
type stormCase struct {
	name                                string
	streams, perStream, seriesPerStream int
	dups                                int
	// rmm parses the bodies on both sides (and resolves, for Datto).
	rmm alert.RMM
	// devices are linked to assets before the storm.
	devices []string
	// body is event k of stream s.
	body func(t testing.TB, s, k int) []byte
	// ticket checks one ticket ("" when right); notes is AddTicketNote
	// calls per series; occurrences each closed link's count.
	ticket      func(tk *psafake.Ticket) string
	notes       int
	occurrences int
	// check, when set, runs after the storm.
	check func(t *testing.T)
}

// stormSeriesCount is the number of series of a storm.
func (c stormCase) stormSeriesCount() int { return c.streams * c.seriesPerStream }

// ticketNotes counts a ticket's repeat, re-trigger and closing notes.
func ticketNotes(tk *psafake.Ticket) (repeats, retriggers, cleared int) {
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
	return
}

// ninjaStorm is event k of series s: 0 trigger, 1–18 repeats, 19 reset,
// 20 trigger again, 21–38 repeats, 39 reset; 30 s apart.
func ninjaStorm(t testing.TB) stormCase {
	var devices []string
	for d := 1000; d < 1020; d++ {
		devices = append(devices, fmt.Sprint(d))
	}
	return stormCase{name: "ninjaone", streams: 100, perStream: 40, seriesPerStream: 1, dups: 1000,
		rmm: ninjaParser(t), devices: devices,
		body: func(t testing.TB, s, k int) []byte {
			triggered := k != 19 && k != 39
			return condition(int64(s*100+k+1), fmt.Sprintf("storm-%03d", s), 1000+s%20, triggered,
				time.Duration(k)*30*time.Second+time.Duration(s)*time.Millisecond).body(t)
		},
		ticket: func(tk *psafake.Ticket) string {
			repeats, retriggers, cleared := ticketNotes(tk)
			if repeats != 36 || retriggers != 1 || cleared != 2 || len(tk.Notes) != 39 || tk.Closes != 2 || tk.Reopens != 1 || !tk.Closed {
				return fmt.Sprintf("%d repeat notes, %d re-trigger notes, %d closing notes (%d in all), closed %d times, reopened %d, closed now %v;"+
					" want 36, 1, 2 (39), 2, 1, true", repeats, retriggers, cleared, len(tk.Notes), tk.Closes, tk.Reopens, tk.Closed)
			}
			return ""
		},
		notes: 37, occurrences: 38,
	}
}

// onceTicket checks a ticket of an RMM that repeats no trigger: opened,
// closed once with its closing note, never reopened.
func onceTicket(tk *psafake.Ticket) string {
	repeats, retriggers, cleared := ticketNotes(tk)
	if repeats != 0 || retriggers != 0 || cleared != 1 || len(tk.Notes) != 1 || tk.Closes != 1 || tk.Reopens != 0 || !tk.Closed {
		return fmt.Sprintf("%d repeat notes, %d re-trigger notes, %d closing notes (%d in all), closed %d times, reopened %d, closed now %v;"+
			" want 0, 0, 1 (1), 1, 0, true", repeats, retriggers, cleared, len(tk.Notes), tk.Closes, tk.Reopens, tk.Closed)
	}
	return ""
}

// episodes are the events of a stream of an RMM that opens each episode
// under a new alert id: 0 trigger of the first alert, 1 its reset, 2
// trigger of the next alert, 3 its reset.
func episode(k int) (alertN int, triggered bool) { return k / 2, k%2 == 0 }

// dattoStorm posts the README's two bodies as Datto substitutes them
// (the sandbox's Render). The worker resolves each alert through the RMM
// (alert.AlertResolver): Datto's record is the body's here, and for every
// third series the record is gone (NotFound: routed by the body).
func dattoStorm(t testing.TB) stormCase {
	var devices []string
	for d := range 20 {
		devices = append(devices, fmt.Sprintf("0c7d1a3e-5b2f-4c61-9d8e-%012d", d))
	}
	site := "7f0e2c44-8a91-4d3b-b6c5-2e9d0a1f3b77"
	uidOf := func(s, n int) string { return fmt.Sprintf("a1b2c3d4-0000-4000-8000-%06d%06d", s, n) }
	res := &stormResolver{RMM: parserRMM{t: t, p: dattormm.ParseWebhook}, gone: func(uid string) bool {
		return (uid[len(uid)-4]+uid[len(uid)-1])%3 == 0
	}}
	return stormCase{name: "dattormm", streams: 125, perStream: 4, seriesPerStream: 2, dups: 1000,
		rmm: res, devices: devices,
		check: func(t *testing.T) {
			if res.resolved.Load() == 0 || res.missing.Load() == 0 {
				t.Errorf("the worker resolved %d alerts and found %d gone; want both", res.resolved.Load(), res.missing.Load())
			}
		},
		body: func(t testing.TB, s, k int) []byte {
			n, triggered := episode(k)
			tmpl := dattosb.TriggeredTemplate
			if !triggered {
				tmpl = dattosb.ResolvedTemplate
			}
			return dattosb.Render(tmpl, map[string]string{"alert_uid": uidOf(s, n), "platform": "merlot",
				"device_uid": devices[s%len(devices)], "site_uid": site, "device_hostname": fmt.Sprintf("PC-%02d", s%len(devices)),
				"alert_priority": "High", "alert_message": `Disk "C:" below 10% free`,
				"timestamp": t0.Add(time.Duration(k) * time.Minute).Format(time.RFC3339)})
		},
		ticket: onceTicket, notes: 0, occurrences: 1,
	}
}

// tacticalStorm posts the README's URL Action bodies as Tactical renders
// them (the sandbox's Render: placeholders substituted as text, Python
// datetimes, json.dumps).
func tacticalStorm(t testing.TB) stormCase {
	sb := tacticalsb.New(tacticalsb.Options{Seed: 9, Clients: 2, Agents: 20, Epoch: t0})
	var devices []string
	for _, a := range sb.Agents() {
		devices = append(devices, a.AgentID)
	}
	return stormCase{name: "tacticalrmm", streams: 125, perStream: 4, seriesPerStream: 2, dups: 1000,
		rmm: parserRMM{t: t, p: tacticalrmm.ParseWebhook}, devices: devices,
		body: func(t testing.TB, s, k int) []byte {
			n, triggered := episode(k)
			ev := tacticalsb.AlertEvent{ID: fmt.Sprint(1000 + s*2 + n), AgentID: devices[s%len(devices)], AlertType: "check",
				Severity: "error", Message: "Disk space check failing", CheckDesc: "Disk space check: Drive C:",
				AlertTime: t0.Add(time.Duration(k) * time.Minute)}
			tmpl := tacticalsb.FailureBody
			if !triggered {
				tmpl, ev.ResolvedOn = tacticalsb.ResolvedBody, t0.Add(time.Duration(k)*time.Minute)
			}
			b, err := sb.Render(tmpl, ev)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		ticket: onceTicket, notes: 0, occurrences: 1,
	}
}

// parserRMM is an RMM client of a package parser: it parses, and no
// device is read (routing goes by the linked assets).
type parserRMM struct {
	t testing.TB
	p func([]byte) (rmm.Alert, bool, error)
}

func (r parserRMM) ParseWebhook(body []byte) (rmm.Alert, bool, error) { return r.p(body) }

func (r parserRMM) GetDevice(_ context.Context, id string) (rmm.Device, error) {
	r.t.Errorf("the storm read device %s from the RMM", id)
	return rmm.Device{}, apperr.New(apperr.NotFound, "no device %s", id)
}

// stormResolver answers ResolveAlert (alert.AlertResolver) as Datto's
// GET /v2/alert/{uid} would for the storm: the body's alert (device,
// site, priority), or NotFound for an alert gone says.
type stormResolver struct {
	alert.RMM
	gone     func(uid string) bool
	resolved atomic.Int64
	missing  atomic.Int64
}

func (r *stormResolver) ResolveAlert(_ context.Context, a rmm.Alert) (rmm.Alert, error) {
	if r.gone(a.SeriesID) {
		r.missing.Add(1)
		return rmm.Alert{}, apperr.New(apperr.NotFound, "Datto RMM has no alert %s", a.SeriesID)
	}
	r.resolved.Add(1)
	a.Code = "perf_disk_usage_ctx"
	return a, nil
}

func TestStorm(t *testing.T) {
	for _, mk := range []func(testing.TB) stormCase{ninjaStorm, dattoStorm, tacticalStorm} {
		c := mk(t)
		t.Run(c.name, func(t *testing.T) { runStorm(t, c) })
	}
}

func runStorm(t *testing.T, c stormCase) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := newHookEnv(t)
	e.useFastSQS(t)
	rnd := rand.New(rand.NewPCG(6, 1))
	nSeries, nEvents := c.stormSeriesCount(), c.streams*c.perStream

	// Per-stream events with duplicates inserted after their original.
	streams := make([][]int, c.streams) // k values; duplicates repeat an earlier k
	for s := range streams {
		for k := range c.perStream {
			streams[s] = append(streams[s], k)
		}
	}
	for range c.dups {
		s := rnd.IntN(c.streams)
		st := streams[s]
		from := rnd.IntN(len(st))
		at := from + 1 + rnd.IntN(len(st)-from)
		streams[s] = append(st[:at], append([]int{st[from]}, st[at:]...)...)
	}
	// A random interleaving of the streams, order kept within each.
	type delivery struct{ s, k int }
	var merged []delivery
	pos := make([]int, c.streams)
	for remaining := nEvents + c.dups; remaining > 0; remaining-- {
		for {
			s := rnd.IntN(c.streams)
			if pos[s] < len(streams[s]) {
				merged = append(merged, delivery{s, streams[s][pos[s]]})
				pos[s]++
				break
			}
		}
	}
	// The bodies, and the delivery id each must be processed under.
	bodies := make(map[[2]int][]byte, nEvents)
	wantIDs := map[string]bool{}
	for s := range c.streams {
		for k := range c.perStream {
			b := c.body(t, s, k)
			bodies[[2]int{s, k}] = b
			a, isAlert, err := c.rmm.ParseWebhook(b)
			if err != nil || !isAlert {
				t.Fatalf("event %d/%d does not parse as an alert (%v): %s", s, k, err, b)
			}
			wantIDs[alert.DeliveryID("", a.ActivityID, b)] = true
		}
	}
	if len(wantIDs) != nEvents {
		t.Fatalf("%d distinct delivery ids for %d events", len(wantIDs), nEvents)
	}

	// The worker side: the table of the webhook, an in-memory PSA that
	// reopens, every device imported.
	p := newFakePSA()
	assets := newFakeAssets()
	for _, d := range c.devices {
		assets.links[d] = alert.AssetRef{AssetID: "a-" + d, AccountID: "acct-12"}
	}
	refresh := &fakeRefresh{}
	clients := alert.Clients{Integration: e.ig, RMM: c.rmm, PSA: p.Reopener()}
	clients.Integration.Settings = connection.Settings{ReopenWindowMinutes: 60}
	accounts := newFakeAccounts()
	svc := alert.NewService(e.alerts, assets, accounts, refresh, alert.Options{Logger: quiet})
	clients = withSync(clients, assets, accounts)
	inner := sqsbatch.Processor{Name: "alert-worker", Log: quiet}.BatchHandler(
		alert.NewWorker(svc, func(context.Context, string, string) (alert.Clients, error) { return clients, nil }, quiet).Prepare)
	// The worker, recording the deliveries it processed.
	var seenMu sync.Mutex
	seen := map[string]int{}
	worker := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		resp, err := inner(ctx, ev)
		if err != nil {
			return resp, err
		}
		bad := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			bad[f.ItemIdentifier] = true
		}
		seenMu.Lock()
		defer seenMu.Unlock()
		for _, r := range ev.Records {
			if m, err := alert.DecodeMessage([]byte(r.Body)); err == nil && !bad[r.MessageId] {
				seen[m.DeliveryID]++
			}
		}
		return resp, nil
	}
	tq := &timedQueue{q: sqsQueue{c: e.sender, url: e.queueURL}}
	td := &timedDeliveries{Deliveries: e.alerts}
	rt := router(alert.NewWebhook(e.conns, e.secrets, parsers{c.rmm}, td, tq,
		alert.WebhookOptions{CacheFor: time.Hour, Logger: quiet}))
	opsBefore := e.store.Ops()
	setup := time.Since(start)

	// Senders: sender g delivers the streams s with s % senders == g, in
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
	if len(tickets) != nSeries || p.Calls("CreateTicket") != nSeries {
		t.Fatalf("%d tickets (%d creates), want exactly %d", len(tickets), p.Calls("CreateTicket"), nSeries)
	}
	refs := map[string]bool{}
	for _, tk := range tickets {
		refs[tk.ExternalRef] = true
		if msg := c.ticket(tk); msg != "" {
			t.Errorf("ticket %s (%s): %s", tk.ID, tk.ExternalRef, msg)
		}
	}
	if len(refs) != nSeries {
		t.Errorf("%d distinct series have tickets, want %d", len(refs), nSeries)
	}
	if p.Calls("AddTicketNote") != nSeries*c.notes {
		t.Errorf("%d notes added, want %d", p.Calls("AddTicketNote"), nSeries*c.notes)
	}
	links, _, err := svc.List(ctx, tenancy.Scope{TenantID: e.ig.TenantID, IntegrationID: e.ig.ID}, alert.ListQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != nSeries {
		t.Errorf("%d series listed, want %d", len(links), nSeries)
	}
	for _, l := range links {
		if l.State != alert.StateClosed || l.Occurrences != c.occurrences {
			t.Errorf("series %s: %s with %d occurrences, want closed with %d", l.SeriesID, l.State, l.Occurrences, c.occurrences)
		}
	}
	if got := accepted.Load(); got != int64(len(merged)) {
		t.Errorf("%d deliveries accepted, want %d", got, len(merged))
	}
	if got := duplicates.Load(); got != int64(c.dups) {
		t.Errorf("%d deliveries answered as duplicates, want %d", got, c.dups)
	}
	// No delivery lost: every accepted event was processed by the worker
	// under its delivery id, and nothing else was.
	seenMu.Lock()
	for id := range wantIDs {
		if seen[id] == 0 {
			t.Errorf("delivery %s was accepted but never processed", id)
		}
	}
	for id := range seen {
		if !wantIDs[id] {
			t.Errorf("the worker processed delivery %s, which no event has", id)
		}
	}
	seenMu.Unlock()
	if c.check != nil {
		c.check(t)
	}
	// A run of a series' events in one batch asks for one refresh.
	if got := refresh.count(); got < nSeries || got > nEvents {
		t.Errorf("%d asset refreshes, want between one per series and one per ticket write", got)
	}

	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	t.Logf("storm %s: %d deliveries (%d duplicates) of %d series in %v (%.0f/s; webhook p50 %v, p99 %v); "+
		"queue drained into the worker in %v (%d records applied in %d batches, %d failed and retried); DynamoDB requests: %d for deliveries, %d for alert links; setup %v; "+
		"per delivery: record %v, enqueue %v; total %v",
		c.name, len(merged), duplicates.Load(), nSeries, sendTime.Round(time.Millisecond), float64(len(merged))/sendTime.Seconds(),
		percentile(all, 50), percentile(all, 99), drainTime.Round(time.Millisecond), processed.Load(), batchesRun.Load(), failedRecords.Load(),
		td.n.Load(), e.store.Ops()-opsBefore-td.n.Load(), setup.Round(time.Millisecond), td.mean(), tq.mean(), time.Since(start).Round(time.Millisecond))
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
