// Package fastsqs is an in-memory Amazon SQS for bulk local runs: the local
// stack's benchmark and `rmmbridge dev` sessions that move thousands of
// messages, where moto's SQS slows down with queue depth (its
// ReceiveMessage rebuilds the visible-message list on every call: about
// 3.5 s per receive at 4,000 messages deep, measured on our machines).
// Correctness tests of the SQS adapter keep running against moto; fastsqs
// is the fast queue behind the same event-source-mapping semantics.
//
// It speaks the wire protocol of aws-sdk-go-v2's sqs client (AWS JSON 1.0:
// POST /, X-Amz-Target AmazonSQS.<Operation>, errors as "__type" plus the
// x-amzn-query-error header), so the real client is pointed at it with the
// SDK's own AWS_ENDPOINT_URL_SQS variable while DynamoDB and Secrets
// Manager stay on moto. It listens on a loopback address only.
//
// Operations: CreateQueue, GetQueueUrl, GetQueueAttributes,
// SetQueueAttributes, ListQueues, DeleteQueue, PurgeQueue, SendMessage,
// SendMessageBatch, ReceiveMessage (long polling without busy waiting),
// DeleteMessage(Batch) and ChangeMessageVisibility(Batch). Semantics
// follow SQS: visibility timeouts (at most 12 h from the receive), receive
// counts, redrive to the dead-letter queue on the receive after
// maxReceiveCount, DelaySeconds, retention, and for FIFO queues in-order
// delivery per message group, a group held back while one of its messages
// is in flight, deduplication for 5 minutes by MessageDeduplicationId (or
// the body's SHA-256 with content-based deduplication; per group with
// DeduplicationScope messageGroup) and sequence numbers. Standard queues
// accept and return a MessageGroupId (fair queues) and order best-effort
// (oldest first). Receipt handles are unique per receive; a malformed one,
// or one of another queue, is ReceiptHandleIsInvalid. For a well-formed
// stale handle fastsqs follows SQS: DeleteMessage succeeds on a standard
// queue (and deletes the message) and for a message already gone, while a
// FIFO queue refuses a handle whose visibility timeout has passed
// (InvalidParameterValue, "expired"); ChangeMessageVisibility fails with
// InvalidParameterValue once the message was deleted or received again,
// and does nothing when only its visibility timeout has passed.
//
// Not modelled: the query protocol, IAM and signatures (any credentials
// pass), throttling and FIFO throughput limits (the attributes are stored),
// the 60-second limits on PurgeQueue and on re-creating a deleted queue,
// ReceiveRequestAttemptId, tags beyond CreateQueue, message move tasks,
// list-valued message attributes.
//
// Every operation takes O(log n) in the queue's depth (O(1) for most), so
// queues 100,000 messages deep stay fast; the server is safe for
// concurrent use.
package fastsqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Region and AccountID are what queue URLs and ARNs carry (moto's
// defaults, which the local stack uses too).
const (
	Region    = "us-east-1"
	AccountID = "123456789012"
)

// maxRequestBytes bounds a request body: ten 1 MiB messages and their
// JSON encoding.
const maxRequestBytes = 16 << 20

// Server is a running fastsqs.
type Server struct {
	url      string
	listener net.Listener
	http     *http.Server
	serveErr chan error
	done     chan struct{}
	close    sync.Once
	closeErr error

	mu     sync.RWMutex
	queues map[string]*queue // by name
	byARN  map[string]*queue
	uids   atomic.Uint64

	requests                              map[string]*atomic.Int64
	sent, received, deleted, deadLettered atomic.Int64
}

// Stats counts what a server has done since it started.
type Stats struct {
	// Requests counts API calls by operation (failed calls included;
	// "Unknown" for targets fastsqs does not implement).
	Requests map[string]int64
	// Sent counts messages stored (FIFO duplicates excluded), Received
	// messages delivered by ReceiveMessage, Deleted messages deleted
	// through a receipt handle, DeadLettered messages moved to a
	// dead-letter queue.
	Sent, Received, Deleted, DeadLettered int64
}

// Start serves fastsqs on addr, a loopback host and port ("127.0.0.1:0"
// picks a free port; empty means that).
func Start(addr string) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "fastsqs: address %q is not host:port", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, apperr.New(apperr.Invalid, "fastsqs: %q is not a loopback address", host)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fastsqs: listen on %s: %w", addr, err)
	}
	s := &Server{
		url:      "http://" + l.Addr().String(),
		listener: l,
		serveErr: make(chan error, 1),
		done:     make(chan struct{}),
		queues:   map[string]*queue{},
		byARN:    map[string]*queue{},
		requests: map[string]*atomic.Int64{"Unknown": {}},
	}
	for op := range operations {
		s.requests[op] = &atomic.Int64{}
	}
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { s.serveErr <- s.http.Serve(l) }()
	return s, nil
}

// URL is the endpoint to give the SDK (AWS_ENDPOINT_URL_SQS), e.g.
// http://127.0.0.1:40123.
func (s *Server) URL() string { return s.url }

// Close stops the server: long polls return at once, connections close,
// queues are gone. It is safe to call twice.
func (s *Server) Close() error {
	s.close.Do(func() {
		close(s.done)
		err := s.http.Close()
		if serr := <-s.serveErr; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		if err != nil {
			s.closeErr = fmt.Errorf("fastsqs: close: %w", err)
		}
	})
	return s.closeErr
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	st := Stats{
		Requests: make(map[string]int64, len(s.requests)),
		Sent:     s.sent.Load(), Received: s.received.Load(), Deleted: s.deleted.Load(), DeadLettered: s.deadLettered.Load(),
	}
	for op, n := range s.requests {
		if v := n.Load(); v > 0 {
			st.Requests[op] = v
		}
	}
	return st
}

// call is one API request.
type call struct {
	body   []byte
	sender string // SenderId for sent messages
	now    time.Time
}

// decode reads the request's JSON input into v.
func (c *call) decode(v any) *sqsError {
	if len(c.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return errSerialization(err)
	}
	return nil
}

type operation func(s *Server, ctx context.Context, c *call) (any, *sqsError)

// operations maps X-Amz-Target operation names to their handlers.
var operations = map[string]operation{
	"CreateQueue":                  (*Server).createQueue,
	"GetQueueUrl":                  (*Server).getQueueURL,
	"GetQueueAttributes":           (*Server).getQueueAttributes,
	"SetQueueAttributes":           (*Server).setQueueAttributes,
	"ListQueues":                   (*Server).listQueues,
	"DeleteQueue":                  (*Server).deleteQueue,
	"PurgeQueue":                   (*Server).purgeQueue,
	"SendMessage":                  (*Server).sendMessage,
	"SendMessageBatch":             (*Server).sendMessageBatch,
	"ReceiveMessage":               (*Server).receiveMessage,
	"DeleteMessage":                (*Server).deleteMessage,
	"DeleteMessageBatch":           (*Server).deleteMessageBatch,
	"ChangeMessageVisibility":      (*Server).changeMessageVisibility,
	"ChangeMessageVisibilityBatch": (*Server).changeMessageVisibilityBatch,
}

// ServeHTTP answers one AWS JSON 1.0 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	name, _ := strings.CutPrefix(target, "AmazonSQS.")
	op, ok := operations[name]
	if !ok || r.Method != http.MethodPost {
		s.requests["Unknown"].Add(1)
		writeError(w, errUnknownOperation(r.Method+" "+target))
		return
	}
	s.requests[name].Add(1)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		writeError(w, errSerialization(err))
		return
	}
	out, serr := op(s, r.Context(), &call{body: body, sender: senderID(r), now: time.Now()})
	if serr != nil {
		writeError(w, serr)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeError(w, &sqsError{http.StatusInternalServerError, "InternalError", "InternalError", "encode response: " + err.Error()})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", newMessageID())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *sqsError) {
	b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.sqs#" + e.shape, "message": e.msg})
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", newMessageID())
	fault := "Sender"
	if e.status >= 500 {
		fault = "Receiver"
	}
	h.Set("X-Amzn-Query-Error", e.query+";"+fault)
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// senderID is the access key id of the request's SigV4 credential, which
// stands for SenderId (SQS gives the caller's IAM user or role id).
func senderID(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if _, cred, ok := strings.Cut(auth, "Credential="); ok {
		if key, _, ok := strings.Cut(cred, "/"); ok && key != "" {
			return key
		}
	}
	return "AIDAFASTSQSLOCAL"
}

// queueURL and queueARN name a queue as SQS does.
func (s *Server) queueURL(name string) string { return s.url + "/" + AccountID + "/" + name }

func queueARN(name string) string { return "arn:aws:sqs:" + Region + ":" + AccountID + ":" + name }

// queueByURL finds the queue a QueueUrl names (by its last path element,
// whatever the host).
func (s *Server) queueByURL(u string) (*queue, *sqsError) {
	if u == "" {
		return nil, errMissingParameter("QueueUrl")
	}
	name := u[strings.LastIndexByte(strings.TrimRight(u, "/"), '/')+1:]
	name = strings.TrimRight(name, "/")
	s.mu.RLock()
	q := s.queues[name]
	s.mu.RUnlock()
	if q == nil {
		return nil, errQueueDoesNotExist()
	}
	return q, nil
}

func (s *Server) queueByARN(arn string) *queue {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byARN[arn]
}

// sortedQueueNames returns the names of the queues, sorted.
func (s *Server) sortedQueueNames() []string {
	s.mu.RLock()
	names := make([]string, 0, len(s.queues))
	for n := range s.queues {
		names = append(names, n)
	}
	s.mu.RUnlock()
	sort.Strings(names)
	return names
}
