package fastsqs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// maxBatchBytes bounds the summed size of a SendMessageBatch's messages.
const maxBatchBytes = 1_048_576

// sendEntry is a message to send, from SendMessage or a batch entry.
type sendEntry struct {
	Id                      string
	MessageBody             *string
	DelaySeconds            *int32
	MessageAttributes       map[string]attrValue
	MessageSystemAttributes map[string]attrValue
	MessageDeduplicationId  *string
	MessageGroupId          *string
}

type sendMessageInput struct {
	QueueUrl string
	sendEntry
}

type sendResult struct {
	Id                           string `json:",omitempty"`
	MessageId                    string
	MD5OfMessageBody             string
	MD5OfMessageAttributes       string `json:",omitempty"`
	MD5OfMessageSystemAttributes string `json:",omitempty"`
	SequenceNumber               string `json:",omitempty"`
}

type batchFailure struct {
	Id          string
	Code        string
	Message     string
	SenderFault bool
}

// size is what an entry counts against the message size limits.
func (e *sendEntry) size() int {
	n := 0
	if e.MessageBody != nil {
		n = len(*e.MessageBody)
	}
	for k, v := range e.MessageAttributes {
		n += len(k) + len(v.DataType) + len(v.BinaryValue)
		if v.StringValue != nil {
			n += len(*v.StringValue)
		}
	}
	return n
}

// prepare validates an entry against the queue and builds its message and
// delay (q.mu held).
func (q *queue) prepare(e *sendEntry, sender string, now time.Time) (*message, time.Duration, *sqsError) {
	if e.MessageBody == nil || *e.MessageBody == "" {
		return nil, 0, errMissingParameter("MessageBody")
	}
	body := *e.MessageBody
	if !validChars(body) {
		return nil, 0, errInvalidMessageContents()
	}
	attrSize, err := checkAttributes(e.MessageAttributes)
	if err != nil {
		return nil, 0, err
	}
	if size := len(body) + attrSize; size > q.st.maxSize {
		return nil, 0, errInvalidParameter("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", q.st.maxSize)
	}
	m := &message{
		id: newMessageID(), body: body, md5Body: md5Hex(body), senderID: sender, sentAt: now, enqueuedAt: now,
	}
	if len(e.MessageAttributes) > 0 {
		m.attrs, m.md5Attrs = e.MessageAttributes, md5OfAttributes(e.MessageAttributes)
	}
	for k, v := range e.MessageSystemAttributes {
		if k != "AWSTraceHeader" || v.DataType != "String" || v.StringValue == nil || *v.StringValue == "" {
			return nil, 0, errInvalidParameter("Message system attribute '%s' is invalid: only AWSTraceHeader of type String is supported.", k)
		}
		m.traceHdr = *v.StringValue
		m.md5System = md5OfAttributes(e.MessageSystemAttributes)
	}
	const wrongType = "The request include parameter that is not valid for this queue type."
	delay := q.st.delay
	if e.DelaySeconds != nil {
		d := *e.DelaySeconds
		switch {
		case d < 0 || time.Duration(d)*time.Second > maxDelay:
			return nil, 0, errInvalidValue(d, "DelaySeconds", "Must be between 0 and 900, if provided.")
		case q.fifo && d != 0:
			return nil, 0, errInvalidValue(d, "DelaySeconds", wrongType)
		}
		delay = time.Duration(d) * time.Second
	}
	if e.MessageGroupId != nil {
		g := *e.MessageGroupId
		if len(g) > maxIDLen || !groupIDPattern.MatchString(g) {
			return nil, 0, errInvalidValue(g, "MessageGroupId", "MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.")
		}
		m.groupID = g
	} else if q.fifo {
		return nil, 0, errMissingParameter("MessageGroupId")
	}
	switch {
	case e.MessageDeduplicationId != nil && !q.fifo:
		return nil, 0, errInvalidValue(*e.MessageDeduplicationId, "MessageDeduplicationId", wrongType)
	case e.MessageDeduplicationId != nil:
		d := *e.MessageDeduplicationId
		if len(d) > maxIDLen || !groupIDPattern.MatchString(d) {
			return nil, 0, errInvalidValue(d, "MessageDeduplicationId", "MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.")
		}
		m.dedupID = d
	case q.fifo && q.st.contentDedup:
		sum := sha256.Sum256([]byte(body))
		m.dedupID = hex.EncodeToString(sum[:])
	case q.fifo:
		return nil, 0, errInvalidParameter("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
	}
	return m, delay, nil
}

// send stores a prepared message; on a FIFO queue a send whose
// deduplication id was seen within the interval is accepted and dropped,
// answering with the first send's message id and sequence number
// (q.mu held). It reports whether the message was stored.
func (q *queue) send(m *message, delay time.Duration, now time.Time) (sendResult, bool) {
	res := sendResult{MessageId: m.id, MD5OfMessageBody: m.md5Body, MD5OfMessageAttributes: m.md5Attrs, MD5OfMessageSystemAttributes: m.md5System}
	if q.fifo {
		key := m.dedupID
		if q.st.dedupScope == "messageGroup" {
			key = m.groupID + "\x00" + key
		}
		if e, ok := q.dedup[key]; ok && now.Before(e.expires) {
			res.MessageId, res.SequenceNumber = e.messageID, e.seqNumber
			return res, false
		}
		m.seqNumber = q.nextSequenceNumber()
		res.SequenceNumber = m.seqNumber
		q.remember(key, dedupEntry{expires: now.Add(dedupWindow), messageID: m.id, seqNumber: m.seqNumber})
	}
	q.store(m, delay, now)
	return res, true
}

func (s *Server) sendMessage(_ context.Context, c *call) (any, *sqsError) {
	var in sendMessageInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.advance(c.now)
	m, delay, err := q.prepare(&in.sendEntry, c.sender, c.now)
	if err != nil {
		return nil, err
	}
	res, stored := q.send(m, delay, c.now)
	if stored {
		s.sent.Add(1)
	}
	q.signal()
	return res, nil
}

type sendMessageBatchInput struct {
	QueueUrl string
	Entries  []sendEntry
}

type sendMessageBatchOutput struct {
	Successful []sendResult
	Failed     []batchFailure
}

// checkBatchIDs applies SQS's rules for a batch's entry ids.
func checkBatchIDs(ids []string) *sqsError {
	switch {
	case len(ids) == 0:
		return errEmptyBatch()
	case len(ids) > 10:
		return errTooManyEntries(len(ids))
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !batchIDPattern.MatchString(id) {
			return errInvalidBatchEntryID(id)
		}
		if seen[id] {
			return errBatchIDsNotDistinct(id)
		}
		seen[id] = true
	}
	return nil
}

func failure(id string, err *sqsError) batchFailure {
	return batchFailure{Id: id, Code: err.query, Message: err.msg, SenderFault: err.status < 500}
}

func (s *Server) sendMessageBatch(_ context.Context, c *call) (any, *sqsError) {
	var in sendMessageBatchInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	total := 0
	for i := range in.Entries {
		ids[i] = in.Entries[i].Id
		total += in.Entries[i].size()
	}
	if err := checkBatchIDs(ids); err != nil {
		return nil, err
	}
	if total > maxBatchBytes {
		return nil, errBatchTooLong(total, maxBatchBytes)
	}
	out := sendMessageBatchOutput{Successful: []sendResult{}, Failed: []batchFailure{}}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.advance(c.now)
	for i := range in.Entries {
		e := &in.Entries[i]
		m, delay, err := q.prepare(e, c.sender, c.now)
		if err != nil {
			out.Failed = append(out.Failed, failure(e.Id, err))
			continue
		}
		res, stored := q.send(m, delay, c.now)
		if stored {
			s.sent.Add(1)
		}
		res.Id = e.Id
		out.Successful = append(out.Successful, res)
	}
	q.signal()
	return out, nil
}

type receiveMessageInput struct {
	QueueUrl                    string
	AttributeNames              []string
	MessageSystemAttributeNames []string
	MessageAttributeNames       []string
	MaxNumberOfMessages         *int32
	VisibilityTimeout           *int32
	WaitTimeSeconds             *int32
	ReceiveRequestAttemptId     *string
}

type messageOut struct {
	MessageId              string
	ReceiptHandle          string
	MD5OfBody              string
	Body                   string
	Attributes             map[string]string    `json:",omitempty"`
	MD5OfMessageAttributes string               `json:",omitempty"`
	MessageAttributes      map[string]attrValue `json:",omitempty"`
}

type receiveMessageOutput struct {
	Messages []messageOut `json:",omitempty"`
}

// receiveMessage delivers up to MaxNumberOfMessages, long-polling up to
// WaitTimeSeconds (the queue's ReceiveMessageWaitTimeSeconds when absent)
// for the first: it sleeps until a send or a visibility change makes a
// message receivable, or a delayed or in-flight message's time comes.
func (s *Server) receiveMessage(ctx context.Context, c *call) (any, *sqsError) {
	var in receiveMessageInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	limit := 1
	if p := in.MaxNumberOfMessages; p != nil {
		if *p < 1 || *p > 10 {
			return nil, errInvalidValue(*p, "MaxNumberOfMessages", "Must be between 1 and 10, if provided.")
		}
		limit = int(*p)
	}
	var vis *time.Duration
	if p := in.VisibilityTimeout; p != nil {
		if *p < 0 || time.Duration(*p)*time.Second > maxVisibility {
			return nil, errInvalidValue(*p, "VisibilityTimeout", "Must be between 0 and 43200, if provided.")
		}
		d := time.Duration(*p) * time.Second
		vis = &d
	}
	var wait *time.Duration
	if p := in.WaitTimeSeconds; p != nil {
		if *p < 0 || time.Duration(*p)*time.Second > maxWait {
			return nil, errInvalidValue(*p, "WaitTimeSeconds", "Must be >= 0 and <= 20, if provided.")
		}
		d := time.Duration(*p) * time.Second
		wait = &d
	}
	sys := newSystemSelection(in.AttributeNames, in.MessageSystemAttributeNames)

	var deadline time.Time
	for {
		now := time.Now()
		// The dead-letter queue is looked up before the queue is locked:
		// a queue's lock is never held while taking the server's.
		maxReceive, dlq := 0, (*queue)(nil)
		if rp := q.redrive.Load(); rp != nil {
			if dlq = s.queueByARN(rp.TargetARN); dlq != nil {
				maxReceive = rp.MaxReceiveCount
			}
		}
		q.mu.Lock()
		if q.deleted {
			q.mu.Unlock()
			return nil, errQueueDoesNotExist()
		}
		if deadline.IsZero() {
			w := q.st.wait
			if wait != nil {
				w = *wait
			}
			deadline = now.Add(w)
		}
		v := q.st.visibility
		if vis != nil {
			v = *vis
		}
		q.advance(now)
		got, dead := q.take(limit, v, maxReceive, now)
		var out receiveMessageOutput
		for _, m := range got {
			out.Messages = append(out.Messages, render(q, m, sys, in.MessageAttributeNames))
		}
		var changed <-chan struct{}
		var next time.Time
		if len(got) == 0 {
			changed, next = q.waitChan(), q.nextEvent()
		}
		q.signal()
		q.mu.Unlock()

		s.received.Add(int64(len(got)))
		if len(dead) > 0 {
			s.deadLetter(q, dlq, dead, now)
		}
		if len(got) > 0 || !now.Before(deadline) {
			return out, nil
		}
		wake := deadline
		if !next.IsZero() && next.Before(wake) {
			wake = next
		}
		t := time.NewTimer(time.Until(wake))
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return receiveMessageOutput{}, nil
		case <-s.done:
			t.Stop()
			return receiveMessageOutput{}, nil
		}
		t.Stop()
	}
}

// deadLetter moves messages to the dead-letter queue, keeping their id,
// body, attributes and receive count; a standard queue's message keeps its
// enqueue time (retention counts from the original send), a FIFO queue's
// restarts it, as SQS does.
func (s *Server) deadLetter(src, dlq *queue, dead []*message, now time.Time) {
	dlq.mu.Lock()
	defer dlq.mu.Unlock()
	if dlq.deleted {
		return
	}
	dlq.advance(now)
	for _, m := range dead {
		m.sourceARN = src.arn
		if dlq.fifo {
			m.enqueuedAt = now
		}
		dlq.store(m, 0, now)
	}
	s.deadLettered.Add(int64(len(dead)))
	dlq.signal()
}

// systemSelection is which message system attributes a receive asks for.
type systemSelection struct {
	all   bool
	names map[string]bool
}

func newSystemSelection(lists ...[]string) systemSelection {
	sel := systemSelection{names: map[string]bool{}}
	for _, l := range lists {
		for _, n := range l {
			sel.all = sel.all || n == "All"
			sel.names[n] = true
		}
	}
	return sel
}

func (sel systemSelection) wants(name string) bool { return sel.all || sel.names[name] }

// render builds a received message's wire form (q.mu held).
func render(q *queue, m *message, sys systemSelection, attrNames []string) messageOut {
	out := messageOut{
		MessageId:         m.id,
		ReceiptHandle:     receipt{queue: q.uid, message: m.seq, receive: uint32(m.receives)}.encode(),
		MD5OfBody:         m.md5Body,
		Body:              m.body,
		MessageAttributes: selectAttributes(m.attrs, attrNames),
	}
	// The digest covers the attributes returned (clients that check it
	// hash what they got).
	switch n := len(out.MessageAttributes); {
	case n == len(m.attrs):
		out.MD5OfMessageAttributes = m.md5Attrs
	case n > 0:
		out.MD5OfMessageAttributes = md5OfAttributes(out.MessageAttributes)
	}
	if !sys.all && len(sys.names) == 0 {
		return out
	}
	a := map[string]string{}
	put := func(name, value string) {
		if value != "" && sys.wants(name) {
			a[name] = value
		}
	}
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	put("SenderId", m.senderID)
	put("SentTimestamp", ms(m.sentAt))
	put("ApproximateReceiveCount", strconv.Itoa(m.receives))
	put("ApproximateFirstReceiveTimestamp", ms(m.firstReceive))
	put("MessageGroupId", m.groupID)
	put("MessageDeduplicationId", m.dedupID)
	put("SequenceNumber", m.seqNumber)
	put("AWSTraceHeader", m.traceHdr)
	put("DeadLetterQueueSourceArn", m.sourceARN)
	if len(a) > 0 {
		out.Attributes = a
	}
	return out
}

type deleteMessageInput struct {
	QueueUrl      string
	ReceiptHandle string
}

// remove deletes the message a receipt handle names (q.mu held). A handle
// of a message already gone succeeds. On a standard queue any handle issued
// for the message deletes it; on a FIFO queue only the one of its current
// receive, while that receive's visibility timeout runs.
func (q *queue) remove(handle string) *sqsError {
	m, r, err := q.lookup(handle)
	if err != nil || m == nil {
		return err
	}
	if q.fifo && (m.st != stateInflight || uint32(m.receives) != r.receive) {
		return errInvalidValue(handle, "ReceiptHandle", "The receipt handle has expired.")
	}
	q.detach(m)
	return nil
}

// lookup decodes a receipt handle of this queue and finds its message (nil
// when gone).
func (q *queue) lookup(handle string) (*message, receipt, *sqsError) {
	if handle == "" {
		return nil, receipt{}, errMissingParameter("ReceiptHandle")
	}
	r, ok := decodeReceipt(handle)
	if !ok {
		return nil, r, errReceiptHandleIsInvalid(handle, "")
	}
	if r.queue != q.uid {
		return nil, r, errReceiptHandleIsInvalid(handle, " for this queue")
	}
	return q.msgs[r.message], r, nil
}

func (s *Server) deleteMessage(_ context.Context, c *call) (any, *sqsError) {
	var in deleteMessageInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.advance(c.now)
	n := len(q.msgs)
	if err := q.remove(in.ReceiptHandle); err != nil {
		return nil, err
	}
	s.deleted.Add(int64(n - len(q.msgs)))
	q.signal()
	return struct{}{}, nil
}

type handleEntry struct {
	Id                string
	ReceiptHandle     string
	VisibilityTimeout *int32
}

type handleBatchInput struct {
	QueueUrl string
	Entries  []handleEntry
}

type batchSuccess struct {
	Id string
}

type handleBatchOutput struct {
	Successful []batchSuccess
	Failed     []batchFailure
}

// handleBatch runs fn for each entry of a DeleteMessageBatch or
// ChangeMessageVisibilityBatch under one lock of the queue.
func (s *Server) handleBatch(c *call, fn func(q *queue, e handleEntry) *sqsError) (any, *sqsError) {
	var in handleBatchInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.Id
	}
	if err := checkBatchIDs(ids); err != nil {
		return nil, err
	}
	out := handleBatchOutput{Successful: []batchSuccess{}, Failed: []batchFailure{}}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.advance(c.now)
	for _, e := range in.Entries {
		if err := fn(q, e); err != nil {
			out.Failed = append(out.Failed, failure(e.Id, err))
			continue
		}
		out.Successful = append(out.Successful, batchSuccess{e.Id})
	}
	q.signal()
	return out, nil
}

func (s *Server) deleteMessageBatch(_ context.Context, c *call) (any, *sqsError) {
	return s.handleBatch(c, func(q *queue, e handleEntry) *sqsError {
		n := len(q.msgs)
		err := q.remove(e.ReceiptHandle)
		s.deleted.Add(int64(n - len(q.msgs)))
		return err
	})
}

type changeVisibilityInput struct {
	QueueUrl          string
	ReceiptHandle     string
	VisibilityTimeout *int32
}

// changeVisibility applies ChangeMessageVisibility (q.mu held). The handle
// must be the message's latest; once the message was deleted or received
// again SQS answers InvalidParameterValue. A handle whose visibility
// timeout has passed, the message not received since, changes nothing.
// The new timeout counts from now and may not reach beyond 12 h after the
// receive.
func (q *queue) changeVisibility(e handleEntry, now time.Time) *sqsError {
	if e.VisibilityTimeout == nil {
		return errMissingParameter("VisibilityTimeout")
	}
	secs := *e.VisibilityTimeout
	if secs < 0 || time.Duration(secs)*time.Second > maxVisibility {
		return errInvalidValue(secs, "VisibilityTimeout", "Must be between 0 and 43200, if provided.")
	}
	m, r, err := q.lookup(e.ReceiptHandle)
	if err != nil {
		return err
	}
	if m == nil || uint32(m.receives) != r.receive {
		return errInvalidValue(e.ReceiptHandle, "ReceiptHandle", "Message does not exist or is not available for visibility timeout change.")
	}
	if m.st != stateInflight {
		return nil
	}
	vis := time.Duration(secs) * time.Second
	if now.Add(vis).After(m.receivedAt.Add(maxVisibility)) {
		return errInvalidValue(secs, "VisibilityTimeout", "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]")
	}
	q.setVisibility(m, vis, now)
	return nil
}

func (s *Server) changeMessageVisibility(_ context.Context, c *call) (any, *sqsError) {
	var in changeVisibilityInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.advance(c.now)
	if err := q.changeVisibility(handleEntry{ReceiptHandle: in.ReceiptHandle, VisibilityTimeout: in.VisibilityTimeout}, c.now); err != nil {
		return nil, err
	}
	q.signal()
	return struct{}{}, nil
}

func (s *Server) changeMessageVisibilityBatch(_ context.Context, c *call) (any, *sqsError) {
	return s.handleBatch(c, func(q *queue, e handleEntry) *sqsError { return q.changeVisibility(e, c.now) })
}
