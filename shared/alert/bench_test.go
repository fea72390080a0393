package alert_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
)

// countingQueue accepts and counts messages.
type countingQueue struct{ n atomic.Int64 }

func (q *countingQueue) Enqueue(context.Context, alert.QueueMessage) error { q.n.Add(1); return nil }

// reportLatency reports throughput and latency percentiles.
func reportLatency(b *testing.B, lat []time.Duration) {
	b.Helper()
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(percentile(lat, 50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 99).Microseconds()), "p99-µs")
}

// BenchmarkWebhook measures the webhook handler in process: request
// decoding, authentication, parsing, deduplication and the envelope, with
// the delivery records and the queue in memory ("memory/*"), then with the
// records in moto and the queue in fastsqs ("moto+fastsqs", which mostly
// measures moto). Run with make bench, or:
//
//	go test -run '^$' -bench BenchmarkWebhook ./shared/alert/
func BenchmarkWebhook(b *testing.B) {
	for _, mode := range []string{"bearer", "signed", "duplicate"} {
		b.Run("memory/"+mode, func(b *testing.B) {
			q := &countingQueue{}
			rt, igID, secret := memWebhook(b, q)
			reqs := make([]func() (int, error), b.N)
			for i := range b.N {
				id := int64(i)
				if mode == "duplicate" {
					id = 1
				}
				body := condition(id, fmt.Sprintf("s-%d", i%100), 1001, true, 0).body(b)
				h := bearer(secret)
				if mode == "signed" {
					h = alert.SignWebhook([]byte(secret), fmt.Sprintf("msg_%d", i), time.Now(), body)
				}
				req := hookRequest(igID, body, h, nil)
				reqs[i] = func() (int, error) {
					resp, err := rt.Serve(context.Background(), req)
					return resp.StatusCode, err
				}
			}
			lat := make([]time.Duration, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				began := time.Now()
				code, err := reqs[i]()
				lat[i] = time.Since(began)
				if err != nil || code != 202 {
					b.Fatalf("request %d: %d %v", i, code, err)
				}
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
	b.Run("memory/parallel", func(b *testing.B) {
		q := &countingQueue{}
		rt, igID, secret := memWebhook(b, q)
		var next atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1)
				req := hookRequest(igID, condition(i, fmt.Sprintf("s-%d", i%100), 1001, true, 0).body(b), bearer(secret), nil)
				if resp, err := rt.Serve(context.Background(), req); err != nil || resp.StatusCode != 202 {
					b.Errorf("request %d: %d %v", i, resp.StatusCode, err)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("moto+fastsqs", func(b *testing.B) {
		e := newHookEnv(b)
		e.useFastSQS(b)
		rt := router(e.webhook(b, nil, alert.WebhookOptions{CacheFor: time.Hour}))
		lat := make([]time.Duration, b.N)
		b.ResetTimer()
		for i := range b.N {
			req := hookRequest(e.ig.ID, condition(int64(i), fmt.Sprintf("s-%d", i%100), 1001, true, 0).body(b), bearer(e.secret), nil)
			began := time.Now()
			resp, err := rt.Serve(context.Background(), req)
			lat[i] = time.Since(began)
			if err != nil || resp.StatusCode != 202 {
				b.Fatalf("request %d: %d %v", i, resp.StatusCode, err)
			}
		}
		b.StopTimer()
		reportLatency(b, lat)
	})
}

// BenchmarkAlertToTicket measures one alert's way from the webhook to a
// PSA ticket in process: the delivery through the webhook (records and
// alert links in moto, the queue in fastsqs), the receive, the worker
// (link read, claim, ticket, link write) and the delete. The PSA is in
// memory, so this is rmmbridge's own share of the latency; the end-to-end
// run against the ConnectWise sandbox adds the vendor's.
//
//	go test -run '^$' -bench BenchmarkAlertToTicket ./shared/alert/
func BenchmarkAlertToTicket(b *testing.B) {
	ctx := context.Background()
	e := newHookEnv(b)
	e.useFastSQS(b)
	rt := router(e.webhook(b, nil, alert.WebhookOptions{CacheFor: time.Hour}))
	p := newFakePSA()
	assets := newFakeAssets()
	assets.links["1001"] = alert.AssetRef{AssetID: "a-1001", AccountID: "acct-12"}
	clients := alert.Clients{Integration: e.ig, RMM: ninjaParser(b), PSA: p.Client()}
	clients.Integration.Settings = connection.Settings{}
	accounts := newFakeAccounts()
	svc := alert.NewService(e.alerts, assets, accounts, &fakeRefresh{}, alert.Options{Logger: quiet})
	clients = withSync(clients, assets, accounts)
	w := sqsbatch.Processor{Name: "alert-worker", Log: quiet}.BatchHandler(
		alert.NewWorker(svc, func(context.Context, string, string) (alert.Clients, error) { return clients, nil }, quiet).Prepare)
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		req := hookRequest(e.ig.ID, condition(int64(i), fmt.Sprintf("bench-%d", i), 1001, true, 0).body(b), bearer(e.secret), nil)
		began := time.Now()
		if resp, err := rt.Serve(ctx, req); err != nil || resp.StatusCode != 202 {
			b.Fatalf("webhook answered %d %v", resp.StatusCode, err)
		}
		for len(p.Tickets()) <= i {
			out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 10,
				WaitTimeSeconds: 1, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := consumeBatch(ctx, e.sqs, e.queueURL, w, out.Messages); err != nil {
				b.Fatal(err)
			}
		}
		lat[i] = time.Since(began)
	}
	b.StopTimer()
	reportLatency(b, lat)
}
