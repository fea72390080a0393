package localrun

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// starvedConn is a connection on a loaded machine, made certain: a write
// reaches the server at once but returns to net/http's writer goroutine
// only after a stall, and the answer trickles in, so the caller is still
// reading it when the writer resumes.
type starvedConn struct{ net.Conn }

func (c starvedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	time.Sleep(150 * time.Millisecond)
	return n, err
}

func (c starvedConn) Read(p []byte) (int, error) {
	time.Sleep(20 * time.Millisecond)
	return c.Conn.Read(p[:min(len(p), 4096)])
}

// starveTo is the SDK's HTTP client with connections to addr starved.
func starveTo(addr string) aws.HTTPClient {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, a)
			if err != nil || a != addr {
				return c, err
			}
			return starvedConn{c}, nil
		}
	})
}

// TestPollerKeepsBatchesOnAStarvedMachine is the 10,000-device
// benchmark's stall: on a loaded machine net/http's writer goroutine
// resumed after the SDK had closed a ReceiveMessage's request body, took
// the closed body for a write error and closed the connection while the
// poller read the answer; the SDK retried the receive, and the batch it
// had been given stayed in flight, unprocessed, for the visibility
// timeout. The stack's SDK clients now send buffered bodies
// (sdkhttp): every message of a batch reaches the function on its first
// receive, and fastsqs delivers each once.
func TestPollerKeepsBatchesOnAStarvedMachine(t *testing.T) {
	f := &fakeFuncs{}
	d := &deliveries{}
	f.Work = func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		d.add(ev)
		return events.SQSEventResponse{}, nil
	}
	logs := &syncBuffer{}
	o, srv := fastOptions(t, f, logs)
	plain := o.AWS
	o.AWS.HTTPClient = starveTo(strings.TrimPrefix(srv.URL(), "http://"))
	s := start(t, o, logs)

	c := sqs.NewFromConfig(plain)
	bodies := map[string]string{}
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, name := range []string{"a", "b", "c"} {
		bodies[strings.Repeat(name, 20_000)] = name
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(strings.Repeat(name, 20_000))})
	}
	if _, err := c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.QueueURL("WorkQueue")), Entries: entries}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the three messages processed", func() bool {
		n := 0
		for b := range bodies {
			n += min(d.seen(b), 1)
		}
		return n == 3
	})
	time.Sleep(1500 * time.Millisecond) // a lost receive comes back after the 1 s visibility timeout
	counts, _ := d.snapshot()
	got := map[string][]string{}
	for b, rc := range counts {
		got[bodies[b]] = rc
	}
	want := map[string][]string{"a": {"1"}, "b": {"1"}, "c": {"1"}}
	if fmt.Sprint(got) != fmt.Sprint(want) || srv.Stats().Received != 3 {
		t.Errorf("receive counts of the messages the function got: %v, want %v; fastsqs delivered %d messages, want 3 (a receive the poller never saw)",
			got, want, srv.Stats().Received)
	}
}
