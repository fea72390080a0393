package fastsqs_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fill sends n messages in batches of 10 from four goroutines.
func fill(tb testing.TB, c *sqs.Client, url string, n int) {
	tb.Helper()
	batches := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := range batches {
				sendBatch(tb, c, url, start, min(10, n-start))
			}
		}()
	}
	for start := 0; start < n; start += 10 {
		batches <- start
	}
	close(batches)
	wg.Wait()
}

func sendBatch(tb testing.TB, c *sqs.Client, url string, start, count int) {
	in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(url)}
	for i := range count {
		in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{
			Id: aws.String(fmt.Sprint("e", i)), MessageBody: aws.String(fmt.Sprintf(`{"assetId":"asset-%07d"}`, start+i))})
	}
	if out, err := c.SendMessageBatch(context.Background(), in); err != nil || len(out.Failed) > 0 {
		tb.Errorf("send batch at %d: %v %v", start, err, out)
	}
}

// receiveDeleteAtDepth measures ReceiveMessage (10) plus DeleteMessageBatch
// on a queue held at depth messages: each timed iteration receives and
// deletes a batch, then (untimed) sends a batch back.
func receiveDeleteAtDepth(b *testing.B, depth int) {
	_, c := newServer(b)
	ctx := context.Background()
	url := createQueue(b, c, "deep", map[string]string{"VisibilityTimeout": "600"})
	fill(b, c, url, depth)
	moved := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil || len(out.Messages) == 0 {
			b.Fatalf("receive at depth %d: %v (%d messages)", depth, err, len(out.Messages))
		}
		del := &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url)}
		for j, m := range out.Messages {
			del.Entries = append(del.Entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(j)), ReceiptHandle: m.ReceiptHandle})
		}
		if res, err := c.DeleteMessageBatch(ctx, del); err != nil || len(res.Failed) > 0 {
			b.Fatalf("delete: %v %v", err, res)
		}
		moved += len(out.Messages)
		b.StopTimer()
		sendBatch(b, c, url, depth+moved, len(out.Messages))
		b.StartTimer()
	}
	b.StopTimer()
	if secs := b.Elapsed().Seconds(); secs > 0 {
		b.ReportMetric(float64(moved)/secs, "msgs/s")
	}
}

// BenchmarkReceiveDeep is receive+delete throughput 10,000 messages deep,
// through the real SDK client over loopback HTTP. (moto 5.2.1 takes about
// 3.5 s per ReceiveMessage at 4,000 deep.)
func BenchmarkReceiveDeep(b *testing.B) {
	receiveDeleteAtDepth(b, 10_000)
}

// BenchmarkReceiveDepths shows the cost does not grow with depth.
func BenchmarkReceiveDepths(b *testing.B) {
	for _, depth := range []int{100, 100_000} {
		b.Run(fmt.Sprint("depth=", depth), func(b *testing.B) { receiveDeleteAtDepth(b, depth) })
	}
}

// TestDeepQueue keeps 20,000 messages in one queue and checks a receive
// there still takes milliseconds, not moto's seconds.
func TestDeepQueue(t *testing.T) {
	_, c := newServer(t)
	url := createQueue(t, c, "deep", map[string]string{"VisibilityTimeout": "600"})
	const depth = 20_000
	fill(t, c, url, depth)
	if got := counts(t, c, url); got != [3]string{fmt.Sprint(depth), "0", "0"} {
		t.Fatalf("counts after filling = %v", got)
	}
	const rounds = 50
	start := time.Now()
	for range rounds {
		msgs := receive(t, c, url, 10)
		if len(msgs) != 10 {
			t.Fatalf("received %d, want 10", len(msgs))
		}
	}
	per := time.Since(start) / rounds
	t.Logf("ReceiveMessage(10) at %d deep: %s per call", depth, per)
	// A generous bound for a loaded 2-core machine; moto needs seconds.
	if per > 100*time.Millisecond {
		t.Errorf("ReceiveMessage took %s per call at %d deep", per, depth)
	}
	if got := counts(t, c, url); got != [3]string{fmt.Sprint(depth - rounds*10), fmt.Sprint(rounds * 10), "0"} {
		t.Errorf("counts after receiving = %v", got)
	}
}
