package sqsqueue

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// FailedEntry is one message SendBatch could not send.
type FailedEntry struct {
	ID          string // the entry id (Message.ID or the generated one)
	Code        string // SQS error code
	SenderFault bool   // SQS blamed the request; not retried
}

// BatchError details what a SendBatch call did not send. SendBatch wraps it
// in an apperr error; reach it with errors.As.
type BatchError struct {
	// Total is the number of messages given to SendBatch.
	Total int
	// Failed lists the entries SQS refused: sender faults, and entries
	// still failing after the last attempt.
	Failed []FailedEntry
	// Unsent lists the ids never sent because the call stopped early (an
	// earlier failure, a request error or the context ending).
	Unsent []string
}

// maxListed bounds how many ids an error message spells out.
const maxListed = 20

func (e *BatchError) Error() string {
	var parts []string
	if len(e.Failed) > 0 {
		var b strings.Builder
		b.WriteString("failed:")
		for i, f := range e.Failed {
			if i == maxListed {
				fmt.Fprintf(&b, " and %d more", len(e.Failed)-maxListed)
				break
			}
			fault := ""
			if f.SenderFault {
				fault = ", sender fault"
			}
			fmt.Fprintf(&b, " %s (%s%s)", f.ID, f.Code, fault)
		}
		parts = append(parts, b.String())
	}
	if len(e.Unsent) > 0 {
		ids := e.Unsent
		more := ""
		if len(ids) > maxListed {
			ids, more = ids[:maxListed], fmt.Sprintf(" and %d more", len(e.Unsent)-maxListed)
		}
		parts = append(parts, "not sent: "+strings.Join(ids, " ")+more)
	}
	return strings.Join(parts, "; ")
}

// summary is the client-safe head of the error.
func (e *BatchError) summary() string {
	return fmt.Sprintf("%d of %d messages not sent", len(e.Failed)+len(e.Unsent), e.Total)
}

func (e *BatchError) senderFault() bool {
	for _, f := range e.Failed {
		if f.SenderFault {
			return true
		}
	}
	return false
}

// entry is a validated message with its batch entry id.
type entry struct {
	id  string
	msg Message
}

// SendBatch sends msgs in as few SendMessageBatch calls as the limits allow
// (10 entries and 256 KiB each), in order, one call at a time. Entries SQS
// reports as failed are re-sent, alone, with capped full-jitter backoff up
// to the attempt limit; an entry SQS marks as a sender fault fails at once.
// SendBatch stops at the first chunk that cannot be sent completely, so an
// at-least-once caller that retries the whole batch re-sends as little as
// possible and FIFO order is kept. The error is then apperr Invalid when
// SQS blamed the request and Unavailable otherwise, wrapping a *BatchError.
//
// A message larger than 256 KiB is sent in a call of its own; whether SQS
// accepts it depends on the queue's maximum message size.
func (c *Client) SendBatch(ctx context.Context, queueURL string, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	entries, err := prepare(queueURL, msgs)
	if err != nil {
		return fmt.Errorf("send batch to %s: %w", queueName(queueURL), err)
	}
	chunks := chunk(entries)
	for i, ch := range chunks {
		be, reqErr := c.sendChunk(ctx, queueURL, ch)
		if be == nil {
			continue
		}
		be.Total = len(msgs)
		for _, later := range chunks[i+1:] {
			for _, e := range later {
				be.Unsent = append(be.Unsent, e.id)
			}
		}
		var aerr *apperr.Error
		switch {
		case reqErr != nil:
			aerr = apperr.Wrap(apperr.KindOf(reqErr), fmt.Errorf("%w: %w", be, reqErr), "%s", be.summary())
		case be.senderFault():
			aerr = apperr.Wrap(apperr.Invalid, be, "%s", be.summary())
		default:
			aerr = apperr.Wrap(apperr.Unavailable, be, "%s", be.summary())
		}
		return fmt.Errorf("send batch to %s: %w", queueName(queueURL), aerr)
	}
	return nil
}

// sendChunk sends one chunk, re-sending failed entries. It returns nil when
// every entry was sent; otherwise a *BatchError without Total, plus the
// classified request error when a call itself failed.
func (c *Client) sendChunk(ctx context.Context, queueURL string, pending []entry) (*BatchError, error) {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return unsent(pending), apperr.Wrap(apperr.Unavailable, err, "request canceled")
		}
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL)}
		byID := make(map[string]entry, len(pending))
		for _, e := range pending {
			byID[e.id] = e
			in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{
				Id:                     aws.String(e.id),
				MessageBody:            aws.String(e.msg.Body),
				DelaySeconds:           delaySeconds(e.msg.Delay),
				MessageAttributes:      attributes(e.msg.Attributes),
				MessageGroupId:         optional(e.msg.GroupID),
				MessageDeduplicationId: optional(dedupID(queueURL, e.msg)),
			})
		}
		c.calls.Add(1)
		out, err := c.api.SendMessageBatch(ctx, in)
		if err != nil {
			return unsent(pending), classify(err)
		}
		var retry []entry
		var failed []FailedEntry
		hard := false
		for _, f := range out.Failed {
			e, ok := byID[aws.ToString(f.Id)]
			if !ok {
				continue
			}
			failed = append(failed, FailedEntry{ID: e.id, Code: aws.ToString(f.Code), SenderFault: f.SenderFault})
			hard = hard || f.SenderFault
			retry = append(retry, e)
		}
		if len(failed) == 0 {
			return nil, nil
		}
		if hard || attempt >= c.maxAttempts {
			return &BatchError{Failed: failed}, nil
		}
		if err := c.sleep(ctx, c.backoff(attempt)); err != nil {
			return unsent(retry), apperr.Wrap(apperr.Unavailable, err, "request canceled")
		}
		pending = retry
	}
}

func unsent(es []entry) *BatchError {
	be := &BatchError{}
	for _, e := range es {
		be.Unsent = append(be.Unsent, e.id)
	}
	return be
}

// prepare validates msgs and assigns entry ids, which must be unique within
// the call.
func prepare(queueURL string, msgs []Message) ([]entry, error) {
	entries := make([]entry, len(msgs))
	seen := make(map[string]int, len(msgs))
	var fields []apperr.FieldError
	for i, m := range msgs {
		id := entryID(m, i)
		where := fmt.Sprintf("messages[%d]", i)
		if err := validate(queueURL, m); err != nil {
			if e, ok := apperr.As(err); ok {
				for _, f := range e.Fields {
					fields = append(fields, apperr.FieldError{Field: where + "." + f.Field, Message: f.Message})
				}
			}
		}
		switch j, dup := seen[id]; {
		case len(id) > maxEntryIDLength || !entryIDPattern().MatchString(id):
			fields = append(fields, apperr.FieldError{Field: where + ".id", Message: "must be 1-80 letters, digits, '-' or '_'"})
		case dup:
			fields = append(fields, apperr.FieldError{Field: where + ".id", Message: fmt.Sprintf("repeats the id of messages[%d]", j)})
		}
		seen[id] = i
		entries[i] = entry{id: id, msg: m}
	}
	if len(fields) > 0 {
		return nil, apperr.InvalidFields(fields...)
	}
	return entries, nil
}

// chunk splits entries, in order, into groups within the batch limits.
func chunk(entries []entry) [][]entry {
	var chunks [][]entry
	var cur []entry
	curSize := 0
	for _, e := range entries {
		n := size(e.msg)
		if len(cur) == MaxBatchEntries || (len(cur) > 0 && curSize+n > MaxBatchBytes) {
			chunks = append(chunks, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, e)
		curSize += n
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}
