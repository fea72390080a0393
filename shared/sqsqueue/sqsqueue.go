// Package sqsqueue is rmmbridge's adapter for sending to Amazon SQS.
//
// SendBatch packs messages into SendMessageBatch calls of at most 10
// entries and 256 KiB, re-sends only the entries SQS reports as failed (with
// capped, fully jittered backoff) and fails at once on entries SQS blames on
// the sender. FIFO queues (URL ending in ".fifo") get a message group and a
// deduplication id on every message. Errors name entry ids and SQS error
// codes, never message bodies.
package sqsqueue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Limits of the SQS API that shape requests.
const (
	MaxBatchEntries   = 10                  // entries per SendMessageBatch
	MaxBatchBytes     = 256 * 1024          // payload per SendMessageBatch
	MaxDelay          = 900 * time.Second   // DelaySeconds
	MaxVisibility     = 43200 * time.Second // VisibilityTimeout (12 h)
	MaxAttributes     = 10                  // message attributes per message
	maxEntryIDLength  = 80
	defaultAttempts   = 5
	defaultBackoff    = 50 * time.Millisecond
	defaultBackoffCap = 2 * time.Second
)

// sqsAPI lists the SQS operations the client uses.
type sqsAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

var _ sqsAPI = (*sqs.Client)(nil)

// Message is one message to send.
type Message struct {
	// ID names the entry within a SendBatch call (letters, digits, '-' and
	// '_', at most 80); it appears in errors. Generated when empty.
	ID string
	// Body is the message body (required).
	Body string
	// GroupID is the FIFO message group; on a standard queue it selects a
	// fair-queue tenant.
	GroupID string
	// DedupID is the FIFO deduplication id; on a FIFO queue it defaults to
	// the SHA-256 of Body.
	DedupID string
	// Delay postpones delivery (standard queues only, at most 15 minutes).
	Delay time.Duration
	// Attributes are sent as String message attributes (at most 10).
	Attributes map[string]string
}

// Client sends messages to SQS queues. It is safe for concurrent use.
type Client struct {
	api         sqsAPI
	maxAttempts int
	base, cap   time.Duration
	sleep       func(context.Context, time.Duration) error
	calls       atomic.Int64
}

// Option configures a Client.
type Option func(*Client)

// WithMaxAttempts sets how many times SendBatch sends an entry that SQS
// reports as failed, the first send included (default 5; minimum 1).
func WithMaxAttempts(n int) Option {
	return func(c *Client) { c.maxAttempts = max(n, 1) }
}

// WithBackoff sets the base and cap of the full-jitter backoff between
// re-sends (defaults 50 ms and 2 s): the wait before attempt n+1 is uniform
// in [0, min(cap, base·2^(n-1))).
func WithBackoff(base, cap time.Duration) Option {
	return func(c *Client) { c.base, c.cap = base, cap }
}

// WithSleep replaces the wait between re-sends (for tests). The function
// must return ctx.Err() when ctx ends first.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.sleep = sleep }
}

// New returns a client that sends through api (a *sqs.Client in
// production).
func New(api sqsAPI, opts ...Option) *Client {
	c := &Client{api: api, maxAttempts: defaultAttempts, base: defaultBackoff, cap: defaultBackoffCap, sleep: sleepCtx}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Calls returns the number of SQS requests the client has made.
func (c *Client) Calls() int64 { return c.calls.Load() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff returns the full-jitter wait after the given failed attempt (1-based).
func (c *Client) backoff(attempt int) time.Duration {
	if c.base <= 0 {
		return 0
	}
	d := c.cap
	if attempt-1 < 32 {
		if e := c.base << (attempt - 1); e > 0 && e < c.cap {
			d = e
		}
	}
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// IsFIFO reports whether queueURL names a FIFO queue.
func IsFIFO(queueURL string) bool { return strings.HasSuffix(queueURL, ".fifo") }

// Send sends one message.
func (c *Client) Send(ctx context.Context, queueURL string, m Message) error {
	if err := validate(queueURL, m); err != nil {
		return fmt.Errorf("send to %s: %w", queueName(queueURL), err)
	}
	in := &sqs.SendMessageInput{
		QueueUrl:               aws.String(queueURL),
		MessageBody:            aws.String(m.Body),
		DelaySeconds:           delaySeconds(m.Delay),
		MessageAttributes:      attributes(m.Attributes),
		MessageGroupId:         optional(m.GroupID),
		MessageDeduplicationId: optional(dedupID(queueURL, m)),
	}
	c.calls.Add(1)
	if _, err := c.api.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("send to %s: %w", queueName(queueURL), classify(err))
	}
	return nil
}

// ChangeVisibility sets how long a received message stays hidden, counted
// from now. timeout is clamped to 0..12 h and rounded up to whole seconds;
// 0 makes the message visible at once.
func (c *Client) ChangeVisibility(ctx context.Context, queueURL, receiptHandle string, timeout time.Duration) error {
	timeout = min(max(timeout, 0), MaxVisibility)
	secs := int32((timeout + time.Second - 1) / time.Second)
	c.calls.Add(1)
	_, err := c.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(queueURL),
		ReceiptHandle:     aws.String(receiptHandle),
		VisibilityTimeout: secs,
	})
	if err != nil {
		return fmt.Errorf("change visibility on %s to %ds: %w", queueName(queueURL), secs, classify(err))
	}
	return nil
}

// Delete deletes a received message by its receipt handle. A handle of a
// message that is no longer in flight is an apperr Conflict.
func (c *Client) Delete(ctx context.Context, queueURL, receiptHandle string) error {
	c.calls.Add(1)
	if _, err := c.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: aws.String(receiptHandle)}); err != nil {
		return fmt.Errorf("delete from %s: %w", queueName(queueURL), classify(err))
	}
	return nil
}

// entryIDPattern is what SQS allows in a batch entry id, compiled on first use.
var entryIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]+$`) })

func validate(queueURL string, m Message) error {
	var fields []apperr.FieldError
	if m.Body == "" {
		fields = append(fields, apperr.FieldError{Field: "body", Message: "is required"})
	}
	if m.Delay < 0 || m.Delay > MaxDelay {
		fields = append(fields, apperr.FieldError{Field: "delay", Message: "must be between 0 and 900 seconds"})
	}
	if m.Delay > 0 && IsFIFO(queueURL) {
		fields = append(fields, apperr.FieldError{Field: "delay", Message: "is not supported per message on a FIFO queue"})
	}
	if IsFIFO(queueURL) && m.GroupID == "" {
		fields = append(fields, apperr.FieldError{Field: "groupId", Message: "is required on a FIFO queue"})
	}
	if len(m.GroupID) > 128 || len(m.DedupID) > 128 {
		fields = append(fields, apperr.FieldError{Field: "groupId", Message: "group and deduplication ids are at most 128 characters"})
	}
	if len(m.Attributes) > MaxAttributes {
		fields = append(fields, apperr.FieldError{Field: "attributes", Message: "at most 10 attributes"})
	}
	if len(fields) > 0 {
		return apperr.InvalidFields(fields...)
	}
	return nil
}

func delaySeconds(d time.Duration) int32 {
	return int32((d + time.Second - 1) / time.Second)
}

func attributes(attrs map[string]string) map[string]types.MessageAttributeValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]types.MessageAttributeValue, len(attrs))
	for k, v := range attrs {
		out[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return out
}

func dedupID(queueURL string, m Message) string {
	if m.DedupID != "" || !IsFIFO(queueURL) {
		return m.DedupID
	}
	sum := sha256.Sum256([]byte(m.Body))
	return hex.EncodeToString(sum[:])
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// size is what a message counts against the batch payload limit: body plus
// attribute names, types and values.
func size(m Message) int {
	n := len(m.Body)
	for k, v := range m.Attributes {
		n += len(k) + len("String") + len(v)
	}
	return n
}

// queueName returns the last path element of a queue URL, for messages.
func queueName(queueURL string) string {
	if i := strings.LastIndexByte(queueURL, '/'); i >= 0 {
		return queueURL[i+1:]
	}
	return queueURL
}

// classify maps an SQS error to an apperr kind, keeping the cause.
func classify(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return apperr.Wrap(apperr.Unavailable, err, "request canceled")
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return apperr.Wrap(apperr.Unavailable, err, "queue unreachable")
	}
	code := ae.ErrorCode()
	switch {
	case code == "QueueDoesNotExist" || code == "AWS.SimpleQueueService.NonExistentQueue":
		return apperr.Wrap(apperr.Internal, err, "queue does not exist")
	case code == "RequestThrottled" || code == "ThrottlingException" || code == "KmsThrottled" ||
		strings.Contains(code, "Throttl"):
		return apperr.Wrap(apperr.Throttled, err, "queue throttled")
	case code == "ReceiptHandleIsInvalid" || code == "MessageNotInflight" ||
		// Real SQS answers a receipt handle of a deleted or re-received
		// message with InvalidParameterValue naming the handle (moto uses
		// ReceiptHandleIsInvalid): the message moved on, not a bad request.
		(code == "InvalidParameterValue" && strings.Contains(strings.ToLower(ae.ErrorMessage()), "receipthandle")):
		return apperr.Wrap(apperr.Conflict, err, "message is no longer in flight")
	case invalidCodes[code] || ae.ErrorFault() == smithy.FaultClient:
		return apperr.Wrap(apperr.Invalid, err, "queue rejected the request (%s)", code)
	}
	return apperr.Wrap(apperr.Unavailable, err, "queue unavailable (%s)", code)
}

// invalidCodes are SQS error codes that blame the request.
var invalidCodes = map[string]bool{
	"InvalidParameterValue": true, "MissingParameter": true, "InvalidMessageContents": true,
	"BatchRequestTooLong": true, "TooManyEntriesInBatchRequest": true, "BatchEntryIdsNotDistinct": true,
	"InvalidBatchEntryId": true, "EmptyBatchRequest": true, "UnsupportedOperation": true,
	"InvalidAttributeName": true, "InvalidAttributeValue": true, "InvalidParameterCombination": true,
	"AWS.SimpleQueueService.BatchRequestTooLong": true, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest": true,
	"AWS.SimpleQueueService.BatchEntryIdsNotDistinct": true, "AWS.SimpleQueueService.InvalidBatchEntryId": true,
	"AWS.SimpleQueueService.EmptyBatchRequest": true, "AWS.SimpleQueueService.UnsupportedOperation": true,
}

// entryID returns m.ID or a generated id for position i.
func entryID(m Message, i int) string {
	if m.ID != "" {
		return m.ID
	}
	return "m" + strconv.Itoa(i)
}
