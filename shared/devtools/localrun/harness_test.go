package localrun

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
)

// fakeFuncs are the test's stand-ins for the functions of
// testdata/stack.yaml. Each field may be replaced before Start; nil fields
// get a default (200 "ok", an authorizer accepting "Bearer good", SQS
// handlers that succeed).
type fakeFuncs struct {
	API  lambdafn.HTTPHandler
	Auth lambdafn.AuthorizerHandler
	Work lambdafn.SQSHandler
	Fifo lambdafn.SQSHandler

	mu        sync.Mutex
	authCalls int
	apiCalls  int
	envs      map[string]func(string) string
}

func (f *fakeFuncs) factories() map[string]lambdafn.Factory {
	record := func(id string, getenv func(string) string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.envs == nil {
			f.envs = map[string]func(string) string{}
		}
		f.envs[id] = getenv
	}
	return map[string]lambdafn.Factory{
		"ApiFunction": func(_ context.Context, getenv func(string) string, _ aws.Config) (lambdafn.Handlers, error) {
			record("ApiFunction", getenv)
			return lambdafn.Handlers{HTTP: func(ctx context.Context, r events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				f.mu.Lock()
				f.apiCalls++
				f.mu.Unlock()
				if f.API != nil {
					return f.API(ctx, r)
				}
				return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "ok"}, nil
			}}, nil
		},
		"AuthFunction": func(_ context.Context, getenv func(string) string, _ aws.Config) (lambdafn.Handlers, error) {
			record("AuthFunction", getenv)
			return lambdafn.Handlers{Authorizer: func(ctx context.Context, r events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
				f.mu.Lock()
				f.authCalls++
				f.mu.Unlock()
				if f.Auth != nil {
					return f.Auth(ctx, r)
				}
				if r.Headers["authorization"] == "Bearer good" {
					return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true,
						Context: map[string]any{"tenantId": "t1", "level": 3}}, nil
				}
				return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
			}}, nil
		},
		"WorkerFunction": func(_ context.Context, getenv func(string) string, _ aws.Config) (lambdafn.Handlers, error) {
			record("WorkerFunction", getenv)
			return lambdafn.Handlers{SQS: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				if f.Work != nil {
					return f.Work(ctx, ev)
				}
				return events.SQSEventResponse{}, nil
			}}, nil
		},
		"FifoFunction": func(_ context.Context, getenv func(string) string, _ aws.Config) (lambdafn.Handlers, error) {
			record("FifoFunction", getenv)
			return lambdafn.Handlers{SQS: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				if f.Fifo != nil {
					return f.Fifo(ctx, ev)
				}
				return events.SQSEventResponse{}, nil
			}}, nil
		},
	}
}

func (f *fakeFuncs) counts() (auth, api int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.authCalls, f.apiCalls
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testOptions are the options every test starts from: the test template,
// moto, a fresh stack name, a free port, fast polling.
func testOptions(t *testing.T, f *fakeFuncs, logs *syncBuffer) Options {
	t.Helper()
	return Options{
		TemplatePath: "testdata/stack.yaml",
		AWS:          motoserver.ForTest(t),
		StackName:    motoserver.UniqueName("ls"),
		Functions:    f.factories(),
		ExtraEnv:     map[string]string{"RMMBRIDGE_LOCAL": "1"},
		APIAddr:      "127.0.0.1:0",
		Logger:       slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		PollWait:     100 * time.Millisecond,
	}
}

// start starts a stack and stops it when the test ends (failing the test
// if Stop fails); on failure the stack's logs are printed.
func start(t *testing.T, o Options, logs *syncBuffer) *Stack {
	t.Helper()
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if t.Failed() {
			t.Logf("stack logs:\n%s", logs.String())
		}
	})
	return s
}

// restartWith stops the stack, runs between (to queue messages while no
// poller runs), and starts it again.
func restartWith(t *testing.T, s *Stack, o Options, logs *syncBuffer, between func()) *Stack {
	t.Helper()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	between()
	return start(t, o, logs)
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	// Limits only bound failures: a loaded 2-core CI machine running
	// several moto servers can be several times slower than a quiet one.
	limit *= 4
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queueDepth returns visible + in-flight messages of a queue.
func queueDepth(t *testing.T, c *sqs.Client, url string) int {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	n := 0
	for _, k := range []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	} {
		v, err := strconv.Atoi(out.Attributes[string(k)])
		if err != nil {
			t.Fatalf("queue attribute %s: %v", k, err)
		}
		n += v
	}
	return n
}

func sendMessages(t *testing.T, c *sqs.Client, url string, bodies ...string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, b := range bodies {
		out, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b)})
		if err != nil {
			t.Fatalf("send %q: %v", b, err)
		}
		ids[b] = aws.ToString(out.MessageId)
	}
	return ids
}

var errBoom = errors.New("boom")
