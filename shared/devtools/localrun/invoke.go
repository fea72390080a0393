package localrun

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// outcome is how an invocation ended.
type outcome string

const (
	outcomeOK      outcome = "ok"
	outcomeError   outcome = "error"   // the handler returned an error
	outcomePanic   outcome = "panic"   // the handler panicked
	outcomeTimeout outcome = "timeout" // the function's Timeout passed
	// outcomeAbandoned: the caller stopped waiting (API Gateway's
	// integration timeout) before the function finished.
	outcomeAbandoned outcome = "abandoned"
	outcomeTooLarge  outcome = "payload_too_large"
)

// result is what one invocation gave.
type result[Resp any] struct {
	resp      Resp
	outcome   outcome
	err       error
	requestID string
	duration  time.Duration
	stack     string
}

// invoke runs one handler call the way Lambda does: the event and the
// response pass through JSON (so handlers see exactly what the wire
// carries), the context has the function's Timeout as deadline and a
// LambdaContext with a fresh request id, a panic is a failed invocation.
// wait bounds how long the caller waits (0: until the function's
// deadline); a handler that ignores its deadline keeps running in the
// background, tracked for Stop, while the caller gets a timeout.
func invoke[Req, Resp any](s *Stack, f *function, wait time.Duration, req Req, h func(context.Context, Req) (Resp, error)) result[Resp] {
	res := result[Resp]{requestID: newRequestID()}
	start := time.Now()
	defer func() { res.duration = time.Since(start) }()

	var in Req
	if err := roundTrip(req, &in); err != nil {
		res.outcome, res.err = outcomeTooLarge, err
		if !errors.Is(err, errPayloadTooLarge) {
			res.outcome = outcomeError
		}
		return res
	}
	// Invocations are not tied to whoever triggered them (a client that
	// hangs up, a poller being stopped): like Lambda, they run to the end.
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       res.requestID,
		InvokedFunctionArn: f.arn,
	})
	type done struct {
		resp  Resp
		err   error
		stack string
	}
	ch := make(chan done, 1)
	s.inflight.Add(1)
	go func() {
		defer s.inflight.Done()
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				ch <- done{err: fmt.Errorf("handler panic: %v", p), stack: string(debug.Stack())}
			}
		}()
		resp, err := h(ctx, in)
		ch <- done{resp: resp, err: err}
	}()

	var capC <-chan time.Time
	if wait > 0 && wait < f.timeout {
		t := time.NewTimer(wait)
		defer t.Stop()
		capC = t.C
	}
	var d done
	select {
	case d = <-ch:
	case <-ctx.Done():
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			d = <-ch // canceled by the handler's goroutine: it has finished
			break
		}
		res.outcome, res.err = outcomeTimeout, fmt.Errorf("task timed out after %s", f.timeout)
		return res
	case <-capC:
		res.outcome, res.err = outcomeAbandoned, fmt.Errorf("no response within %s", wait)
		return res
	}
	switch {
	case d.stack != "":
		res.outcome, res.err, res.stack = outcomePanic, d.err, d.stack
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		// Finished, but after its deadline: Lambda has already ended it.
		res.outcome, res.err = outcomeTimeout, fmt.Errorf("task timed out after %s", f.timeout)
	case d.err != nil:
		res.outcome, res.err = outcomeError, d.err
	default:
		res.outcome = outcomeOK
		if err := roundTrip(d.resp, &res.resp); err != nil {
			res.outcome, res.err = outcomeError, fmt.Errorf("response: %w", err)
		}
	}
	return res
}

var errPayloadTooLarge = errors.New("payload exceeds Lambda's 6 MB invocation limit")

// roundTrip encodes v as JSON and decodes it into out, enforcing Lambda's
// payload limit.
func roundTrip(v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode payload: %w", err)
	}
	if len(b) > maxPayload {
		return fmt.Errorf("%w (%d bytes)", errPayloadTooLarge, len(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode payload: %w", err)
	}
	return nil
}

// logInvocation writes the one log line every invocation gets.
func logInvocation[Resp any](s *Stack, f *function, trigger string, res result[Resp], attrs ...slog.Attr) {
	level := slog.LevelInfo
	if res.outcome != outcomeOK {
		level = slog.LevelWarn
	}
	all := []slog.Attr{
		slog.String("function", f.id),
		slog.String("trigger", trigger),
		slog.String("requestId", res.requestID),
		slog.Float64("durationMs", float64(res.duration.Microseconds())/1000),
		slog.String("outcome", string(res.outcome)),
	}
	all = append(all, attrs...)
	if res.err != nil {
		all = append(all, slog.String("error", res.err.Error()))
	}
	if res.stack != "" {
		all = append(all, slog.String("stack", res.stack))
	}
	s.log.LogAttrs(context.Background(), level, "invocation", all...)
}

// newRequestID returns a random UUID (version 4), the shape of Lambda
// request ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newAPIRequestID returns an id shaped like API Gateway's request ids.
func newAPIRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}
