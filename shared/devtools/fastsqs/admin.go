package fastsqs

import (
	"context"
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
)

var queueNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

type createQueueInput struct {
	QueueName  string
	Attributes map[string]string
	Tags       map[string]string `json:"tags"`
}

type queueURLOutput struct {
	QueueUrl string
}

// createQueue creates a queue, or returns the URL of an existing one whose
// attributes match those given (QueueNameExists otherwise).
func (s *Server) createQueue(_ context.Context, c *call) (any, *sqsError) {
	var in createQueueInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	fifo := false
	if v, ok := in.Attributes["FifoQueue"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errInvalidAttributeValue("Invalid value for the parameter FifoQueue: %q.", v)
		}
		fifo = b
	}
	name := in.QueueName
	if name == "" {
		return nil, errMissingParameter("QueueName")
	}
	base, hasSuffix := strings.CutSuffix(name, ".fifo")
	switch {
	case fifo && (!hasSuffix || len(name) > 80 || !queueNamePattern.MatchString(base)):
		return nil, errInvalidParameter("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
	case !fifo && !queueNamePattern.MatchString(name):
		return nil, errInvalidParameter("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	st := defaultSettings(fifo)
	for k, v := range in.Attributes {
		if k == "FifoQueue" {
			continue
		}
		if err := st.apply(k, v, fifo); err != nil {
			return nil, err
		}
	}
	if err := st.check(fifo); err != nil {
		return nil, err
	}
	arn := queueARN(name)
	if st.redrive != nil {
		if err := s.checkRedrive(st.redrive, arn, fifo); err != nil {
			return nil, err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[name]; q != nil {
		if _, given := in.Attributes["FifoQueue"]; given && q.fifo != fifo {
			return nil, errQueueNameExists(name, "FifoQueue")
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		for k := range in.Attributes {
			if k == "FifoQueue" {
				continue
			}
			want, _ := st.value(k, fifo)
			have, _ := q.st.value(k, q.fifo)
			if want != have {
				return nil, errQueueNameExists(name, k)
			}
		}
		return queueURLOutput{q.url}, nil
	}
	q := newQueue(name, s.queueURL(name), arn, s.uids.Add(1), fifo, st, c.now)
	s.queues[name], s.byARN[arn] = q, q
	return queueURLOutput{q.url}, nil
}

// checkRedrive validates a redrive policy's target: an existing queue of
// the same type, not the queue itself.
func (s *Server) checkRedrive(rp *redrivePolicy, ownARN string, fifo bool) *sqsError {
	if rp.TargetARN == ownARN {
		return errInvalidValue(rp.TargetARN, "RedrivePolicy", "A queue cannot be its own dead-letter queue.")
	}
	dlq := s.queueByARN(rp.TargetARN)
	switch {
	case dlq == nil:
		return errInvalidValue(rp.TargetARN, "RedrivePolicy", "Dead-letter target does not exist.")
	case dlq.fifo != fifo:
		return errInvalidValue(rp.TargetARN, "RedrivePolicy", "Dead-letter queue must be the same type of queue as the source.")
	}
	return nil
}

type getQueueURLInput struct {
	QueueName              string
	QueueOwnerAWSAccountId string
}

func (s *Server) getQueueURL(_ context.Context, c *call) (any, *sqsError) {
	var in getQueueURLInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, errMissingParameter("QueueName")
	}
	s.mu.RLock()
	q := s.queues[in.QueueName]
	s.mu.RUnlock()
	if q == nil {
		return nil, errQueueDoesNotExist()
	}
	return queueURLOutput{q.url}, nil
}

type getQueueAttributesInput struct {
	QueueUrl       string
	AttributeNames []string
}

type attributesOutput struct {
	Attributes map[string]string `json:",omitempty"`
}

// countNames are the attributes GetQueueAttributes computes.
var countNames = []string{
	"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
	"CreatedTimestamp", "LastModifiedTimestamp", "QueueArn",
}

func (s *Server) getQueueAttributes(_ context.Context, c *call) (any, *sqsError) {
	var in getQueueAttributesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range in.AttributeNames {
		switch {
		case n == "All":
			names = append(append(names, countNames...), configurableNames...)
		case contains(countNames, n) || contains(configurableNames, n):
			names = append(names, n)
		default:
			return nil, errInvalidAttributeName(n)
		}
	}
	out := map[string]string{}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.advance(c.now)
	q.signal()
	for _, n := range names {
		switch n {
		case "ApproximateNumberOfMessages":
			out[n] = strconv.Itoa(q.nReady)
		case "ApproximateNumberOfMessagesNotVisible":
			out[n] = strconv.Itoa(q.nInflight)
		case "ApproximateNumberOfMessagesDelayed":
			out[n] = strconv.Itoa(q.nDelayed)
		case "CreatedTimestamp":
			out[n] = strconv.FormatInt(q.created.Unix(), 10)
		case "LastModifiedTimestamp":
			out[n] = strconv.FormatInt(q.modified.Unix(), 10)
		case "QueueArn":
			out[n] = q.arn
		default:
			if v, ok := q.st.value(n, q.fifo); ok {
				out[n] = v
			}
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return attributesOutput{out}, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

type setQueueAttributesInput struct {
	QueueUrl   string
	Attributes map[string]string
}

func (s *Server) setQueueAttributes(_ context.Context, c *call) (any, *sqsError) {
	var in setQueueAttributesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if _, ok := in.Attributes["FifoQueue"]; ok {
		return nil, errInvalidAttributeName("FifoQueue")
	}
	// The redrive target is checked before taking the queue's lock: the
	// server's lock is never taken while a queue's is held.
	if v, ok := in.Attributes["RedrivePolicy"]; ok && strings.TrimSpace(v) != "" && strings.TrimSpace(v) != "{}" {
		rp, perr := parseRedrive(v)
		if perr != nil {
			return nil, perr
		}
		if err := s.checkRedrive(rp, q.arn, q.fifo); err != nil {
			return nil, err
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.st.clone()
	for k, v := range in.Attributes {
		if err := st.apply(k, v, q.fifo); err != nil {
			return nil, err
		}
	}
	if err := st.check(q.fifo); err != nil {
		return nil, err
	}
	q.setSettings(st, c.now)
	return struct{}{}, nil
}

type listQueuesInput struct {
	QueueNamePrefix string
	MaxResults      *int
	NextToken       string
}

type listQueuesOutput struct {
	QueueUrls []string `json:",omitempty"`
	NextToken string   `json:",omitempty"`
}

// listQueues lists queue URLs by name, up to 1,000 (or MaxResults, with a
// NextToken when more follow).
func (s *Server) listQueues(_ context.Context, c *call) (any, *sqsError) {
	var in listQueuesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	limit := 1000
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 1000 {
			return nil, errInvalidValue(*in.MaxResults, "MaxResults", "MaxResults must be an integer between 1 and 1000.")
		}
		limit = *in.MaxResults
	}
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil {
			return nil, errInvalidParameter("Invalid NextToken value.")
		}
		after = string(b)
	}
	var out listQueuesOutput
	for _, n := range s.sortedQueueNames() {
		if !strings.HasPrefix(n, in.QueueNamePrefix) || (after != "" && n <= after) {
			continue
		}
		if len(out.QueueUrls) == limit {
			if in.MaxResults != nil {
				last := out.QueueUrls[len(out.QueueUrls)-1]
				out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(last[strings.LastIndexByte(last, '/')+1:]))
			}
			break
		}
		out.QueueUrls = append(out.QueueUrls, s.queueURL(n))
	}
	return out, nil
}

type queueURLInput struct {
	QueueUrl string
}

func (s *Server) deleteQueue(_ context.Context, c *call) (any, *sqsError) {
	var in queueURLInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.queues[q.name] == q {
		delete(s.queues, q.name)
		delete(s.byARN, q.arn)
	}
	s.mu.Unlock()
	q.mu.Lock()
	q.deleted = true
	q.purge()
	q.wakeAll()
	q.mu.Unlock()
	return struct{}{}, nil
}

func (s *Server) purgeQueue(_ context.Context, c *call) (any, *sqsError) {
	var in queueURLInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	q.purge()
	q.mu.Unlock()
	return struct{}{}, nil
}
