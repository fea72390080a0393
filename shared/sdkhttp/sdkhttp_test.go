package sdkhttp_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/logging"

	"github.com/rmmbridge/rmmbridge/shared/devtools/fastsqs"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/sdkhttp"
)

// starvedConn is a client connection on a loaded machine, made certain:
// every write reaches the server at once but returns to net/http's writer
// goroutine only after writeStall (the goroutine lost its CPU just after
// sending), and every read of the answer trickles (readDelay each, at most
// readChunk bytes), so the caller is still reading the response when the
// writer resumes.
type starvedConn struct {
	net.Conn
	writeStall, readDelay time.Duration
	readChunk             int
}

func (c *starvedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	time.Sleep(c.writeStall)
	return n, err
}

func (c *starvedConn) Read(p []byte) (int, error) {
	time.Sleep(c.readDelay)
	if len(p) > c.readChunk {
		p = p[:c.readChunk]
	}
	return c.Conn.Read(p)
}

// starvedClient is the SDK's default HTTP client dialing starvedConns.
func starvedClient() *awshttp.BuildableClient {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &starvedConn{Conn: c, writeStall: 300 * time.Millisecond, readDelay: 20 * time.Millisecond, readChunk: 4096}, nil
		}
	})
}

// warnings collects what the SDK logs.
type warnings struct {
	mu  sync.Mutex
	got []string
}

func (w *warnings) Logf(c logging.Classification, format string, v ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, fmt.Sprintf(string(c)+" "+format, v...))
}

// TestReceiveIsNotLostWhenTheWriterIsStarved is the local stack's lost
// SQS batch: a ReceiveMessage whose answer carried 10 messages, read by
// the SDK from a connection that net/http closed under it because its
// writer goroutine resumed after the SDK had closed the request body. The
// SDK retried the receive, got nothing (the 10 were in flight), and the
// messages waited out their visibility timeout. Through Client the one
// receive returns the 10 messages, with no second attempt and no warning.
func TestReceiveIsNotLostWhenTheWriterIsStarved(t *testing.T) {
	tests := []struct {
		name string
		http func() aws.HTTPClient
	}{
		// The SDK's own client, as the stack used it: the messages are
		// lost. Kept to prove the test reproduces the race.
		{"sdk client", func() aws.HTTPClient { return starvedClient() }},
		{"wrapped", func() aws.HTTPClient { return sdkhttp.Wrap(starvedClient()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			srv, err := fastsqs.Start("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			cfg, err := motoserver.AWSConfig(ctx, srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			fast := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL()) })
			q, err := fast.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work"),
				Attributes: map[string]string{"VisibilityTimeout": "360"}})
			if err != nil {
				t.Fatal(err)
			}
			var entries []types.SendMessageBatchRequestEntry
			for i := range 10 {
				entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)),
					MessageBody: aws.String(strings.Repeat(fmt.Sprint(i), 20_000))})
			}
			if _, err := fast.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q.QueueUrl, Entries: entries}); err != nil {
				t.Fatal(err)
			}

			logs := &warnings{}
			cfg.HTTPClient, cfg.Logger = tt.http(), logs
			out, err := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL()) }).
				ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
			st := srv.Stats()
			got := 0
			if err == nil {
				got = len(out.Messages)
			}
			if got != 10 || st.Received != 10 || st.Requests["ReceiveMessage"] != 1 {
				msg := fmt.Sprintf("receive gave %d messages (error %v); fastsqs delivered %d in %d ReceiveMessage calls; SDK log %q",
					got, err, st.Received, st.Requests["ReceiveMessage"], logs.got)
				if tt.name == "sdk client" {
					t.Logf("the race, reproduced: %s", msg)
					return
				}
				t.Fatalf("%s; want 10 messages in one call", msg)
			}
			if tt.name == "sdk client" {
				t.Fatalf("the SDK's own client received the batch intact: the test no longer reproduces the race (SDK log %q)", logs.got)
			}
			if len(logs.got) > 0 {
				t.Errorf("SDK log %q, want none", logs.got)
			}
		})
	}
}
