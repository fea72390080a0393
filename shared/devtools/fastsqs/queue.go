package fastsqs

import (
	"sync"
	"sync/atomic"
	"time"
)

// state is where a message stands.
type state uint8

const (
	stateReady    state = iota // visible
	stateDelayed               // sent with a delay that has not passed
	stateInflight              // received, its visibility timeout running
)

// message is one stored message. Every field is guarded by its queue's mu.
type message struct {
	seq        uint64 // internal id, unique within the queue; send order
	id         string // MessageId
	body       string
	md5Body    string
	attrs      map[string]attrValue
	md5Attrs   string
	traceHdr   string // the AWSTraceHeader system attribute
	md5System  string
	groupID    string
	dedupID    string
	seqNumber  string // FIFO SequenceNumber
	senderID   string
	sourceARN  string    // DeadLetterQueueSourceArn, for a dead-lettered message
	sentAt     time.Time // SentTimestamp
	enqueuedAt time.Time // what retention counts from

	receives     int       // ApproximateReceiveCount
	firstReceive time.Time // ApproximateFirstReceiveTimestamp
	receivedAt   time.Time // the latest receive (the 12 h visibility limit counts from it)

	st        state
	visibleAt time.Time // delayed and in-flight messages: when they become visible
	// Heap positions (-1: not in that heap).
	readyIdx, timedIdx, ageIdx int
	// FIFO: the message's group and its neighbours there, in send order.
	group      *group
	prev, next *message
}

// group is a FIFO message group: its messages in send order. A group
// delivers only while none of its messages is in flight.
type group struct {
	id         string
	head, tail *message
	inflight   int
	readyIdx   int // position in the queue's readyGroups heap
}

func (g *group) append(m *message) {
	m.group, m.prev, m.next = g, g.tail, nil
	if g.tail != nil {
		g.tail.next = m
	} else {
		g.head = m
	}
	g.tail = m
}

func (g *group) unlink(m *message) {
	if m.prev != nil {
		m.prev.next = m.next
	} else {
		g.head = m.next
	}
	if m.next != nil {
		m.next.prev = m.prev
	} else {
		g.tail = m.prev
	}
	m.prev, m.next, m.group = nil, nil, nil
}

// dedupEntry remembers a FIFO send for the deduplication interval.
type dedupEntry struct {
	expires   time.Time
	messageID string
	seqNumber string
}

type dedupKey struct {
	key     string
	expires time.Time
}

// queue is one queue. Its structures keep every operation at O(log n) or
// better: standard queues keep visible messages in a heap by send order,
// FIFO queues keep each group's messages in a list and the deliverable
// groups in a heap by their oldest message; delayed and in-flight messages
// of both wait in a heap keyed by the time they become visible, and a heap
// by enqueue time enforces retention.
type queue struct {
	name, url, arn string
	uid            uint64 // distinguishes a re-created queue of the same name (receipt handles)
	fifo           bool
	created        time.Time
	// redrive mirrors st.redrive for readers that do not hold mu.
	redrive atomic.Pointer[redrivePolicy]

	mu       sync.Mutex
	st       settings
	modified time.Time
	deleted  bool
	nextSeq  uint64
	seqNum   uint64
	msgs     map[uint64]*message

	ready       indexedHeap[*message] // standard queues: visible messages by seq
	timed       indexedHeap[*message] // delayed and in-flight messages by visibleAt
	aging       indexedHeap[*message] // all messages by enqueuedAt (retention)
	groups      map[string]*group     // FIFO
	readyGroups indexedHeap[*group]   // FIFO: groups that can deliver, by their head's seq

	dedup      map[string]dedupEntry
	dedupOrder []dedupKey // in expiry order (the interval is fixed)
	dedupHead  int

	nReady, nDelayed, nInflight int
	// changed is closed (and cleared) when a message may have become
	// receivable; long polls wait on it. nil while nobody waits.
	changed chan struct{}
	grew    bool
}

func newQueue(name, url, arn string, uid uint64, fifo bool, st settings, now time.Time) *queue {
	q := &queue{
		name: name, url: url, arn: arn, uid: uid, fifo: fifo, created: now, modified: now,
		st: st, msgs: map[uint64]*message{}, groups: map[string]*group{}, dedup: map[string]dedupEntry{},
		seqNum: 10_000_000_000_000_000_000,
	}
	q.redrive.Store(st.redrive)
	q.ready = indexedHeap[*message]{
		less:  func(a, b *message) bool { return a.seq < b.seq },
		index: func(m *message) *int { return &m.readyIdx },
	}
	q.timed = indexedHeap[*message]{
		less: func(a, b *message) bool {
			if a.visibleAt.Equal(b.visibleAt) {
				return a.seq < b.seq
			}
			return a.visibleAt.Before(b.visibleAt)
		},
		index: func(m *message) *int { return &m.timedIdx },
	}
	q.aging = indexedHeap[*message]{
		less: func(a, b *message) bool {
			if a.enqueuedAt.Equal(b.enqueuedAt) {
				return a.seq < b.seq
			}
			return a.enqueuedAt.Before(b.enqueuedAt)
		},
		index: func(m *message) *int { return &m.ageIdx },
	}
	q.readyGroups = indexedHeap[*group]{
		less:  func(a, b *group) bool { return a.head.seq < b.head.seq },
		index: func(g *group) *int { return &g.readyIdx },
	}
	return q
}

// setSettings replaces the queue's settings (mu held).
func (q *queue) setSettings(st settings, now time.Time) {
	q.st, q.modified = st, now
	q.redrive.Store(st.redrive)
}

// signal wakes long polls if something became receivable (mu held; call
// before unlocking).
func (q *queue) signal() {
	if q.grew && q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
	q.grew = false
}

// waitChan returns the channel the next signal closes (mu held).
func (q *queue) waitChan() <-chan struct{} {
	if q.changed == nil {
		q.changed = make(chan struct{})
	}
	return q.changed
}

// wakeAll releases every long poll (a deleted queue).
func (q *queue) wakeAll() {
	q.grew = true
	q.signal()
}

// nextEvent is when the earliest delayed or in-flight message becomes
// visible; zero when none waits.
func (q *queue) nextEvent() time.Time {
	if m, ok := q.timed.peek(); ok {
		return m.visibleAt
	}
	return time.Time{}
}

// advance brings the queue to now: delayed and in-flight messages whose
// time has come become visible, messages past retention go, and expired
// deduplication ids are forgotten.
func (q *queue) advance(now time.Time) {
	for {
		m, ok := q.timed.peek()
		if !ok || m.visibleAt.After(now) {
			break
		}
		q.timed.remove(m)
		q.makeVisible(m)
	}
	for {
		m, ok := q.aging.peek()
		if !ok || m.enqueuedAt.Add(q.st.retention).After(now) {
			break
		}
		q.detach(m)
	}
	for q.dedupHead < len(q.dedupOrder) && !q.dedupOrder[q.dedupHead].expires.After(now) {
		k := q.dedupOrder[q.dedupHead]
		if e, ok := q.dedup[k.key]; ok && e.expires.Equal(k.expires) {
			delete(q.dedup, k.key)
		}
		q.dedupOrder[q.dedupHead] = dedupKey{}
		q.dedupHead++
	}
	if q.dedupHead > 1024 && q.dedupHead*2 > len(q.dedupOrder) {
		q.dedupOrder = append(q.dedupOrder[:0:0], q.dedupOrder[q.dedupHead:]...)
		q.dedupHead = 0
	}
}

// makeVisible turns a delayed or in-flight message (already out of the
// timed heap) visible.
func (q *queue) makeVisible(m *message) {
	switch m.st {
	case stateInflight:
		q.nInflight--
		if m.group != nil {
			m.group.inflight--
		}
	case stateDelayed:
		q.nDelayed--
	default:
		return
	}
	m.st = stateReady
	q.nReady++
	if q.fifo {
		q.refreshGroup(m.group)
	} else {
		q.ready.push(m)
		q.grew = true
	}
}

// refreshGroup puts a FIFO group in or out of readyGroups: it can deliver
// when none of its messages is in flight and its oldest is visible. An
// empty group is dropped.
func (q *queue) refreshGroup(g *group) {
	can := g.inflight == 0 && g.head != nil && g.head.st == stateReady
	switch {
	case can && !q.readyGroups.contains(g):
		q.readyGroups.push(g)
		q.grew = true
	case can:
		q.readyGroups.update(g)
	default:
		q.readyGroups.remove(g)
	}
	if g.head == nil && g.inflight == 0 {
		delete(q.groups, g.id)
	}
}

// store adds a new message: visible at once, or delayed by delay.
func (q *queue) store(m *message, delay time.Duration, now time.Time) {
	q.nextSeq++
	m.seq = q.nextSeq
	m.readyIdx, m.timedIdx, m.ageIdx = -1, -1, -1
	q.msgs[m.seq] = m
	q.aging.push(m)
	if delay > 0 {
		m.st, m.visibleAt = stateDelayed, now.Add(delay)
		q.nDelayed++
		q.timed.push(m)
	} else {
		m.st = stateReady
		q.nReady++
		if !q.fifo {
			q.ready.push(m)
			q.grew = true
		}
	}
	if q.fifo {
		g := q.groups[m.groupID]
		if g == nil {
			g = &group{id: m.groupID, readyIdx: -1}
			q.groups[m.groupID] = g
		}
		g.append(m)
		q.refreshGroup(g)
	}
}

// detach removes a message from every structure of the queue.
func (q *queue) detach(m *message) {
	delete(q.msgs, m.seq)
	q.aging.remove(m)
	switch m.st {
	case stateReady:
		q.nReady--
		q.ready.remove(m)
	case stateDelayed:
		q.nDelayed--
		q.timed.remove(m)
	case stateInflight:
		q.nInflight--
		q.timed.remove(m)
		if m.group != nil {
			m.group.inflight--
		}
	}
	if g := m.group; g != nil {
		g.unlink(m)
		q.refreshGroup(g)
	}
}

// deliver marks a visible message received, in flight for vis.
func (q *queue) deliver(m *message, vis time.Duration, now time.Time) {
	q.ready.remove(m)
	q.nReady--
	q.nInflight++
	m.receives++
	if m.receives == 1 {
		m.firstReceive = now
	}
	m.receivedAt = now
	m.st, m.visibleAt = stateInflight, now.Add(vis)
	q.timed.push(m)
	if m.group != nil {
		m.group.inflight++
	}
}

// take receives up to limit messages, each in flight for vis. Messages that
// have been received maxReceive times already (maxReceive > 0) are
// detached and returned in dead instead, to move to the dead-letter queue:
// SQS moves a message on the receive after its limit.
func (q *queue) take(limit int, vis time.Duration, maxReceive int, now time.Time) (got, dead []*message) {
	over := func(m *message) bool { return maxReceive > 0 && m.receives >= maxReceive }
	if !q.fifo {
		for len(got) < limit {
			m, ok := q.ready.peek()
			if !ok {
				break
			}
			if over(m) {
				q.detach(m)
				dead = append(dead, m)
				continue
			}
			q.deliver(m, vis, now)
			got = append(got, m)
		}
		return got, dead
	}
	// FIFO: as many as possible from one group, oldest group first; a
	// group with a message in flight delivers nothing.
	for len(got) < limit {
		g, ok := q.readyGroups.pop()
		if !ok {
			break
		}
		for m := g.head; m != nil && len(got) < limit; {
			next := m.next
			if m.st != stateReady {
				break
			}
			if over(m) {
				q.detach(m)
				dead = append(dead, m)
			} else {
				q.deliver(m, vis, now)
				got = append(got, m)
			}
			m = next
		}
		q.refreshGroup(g)
	}
	return got, dead
}

// setVisibility makes an in-flight message visible after vis from now.
func (q *queue) setVisibility(m *message, vis time.Duration, now time.Time) {
	m.visibleAt = now.Add(vis)
	q.timed.update(m)
	if vis == 0 {
		q.timed.remove(m)
		q.makeVisible(m)
	}
}

// purge deletes every message.
func (q *queue) purge() {
	q.ready.clear()
	q.timed.clear()
	q.aging.clear()
	q.readyGroups.clear()
	for _, m := range q.msgs {
		m.group, m.prev, m.next = nil, nil, nil
	}
	clear(q.msgs)
	clear(q.groups)
	q.nReady, q.nDelayed, q.nInflight = 0, 0, 0
}

// remember records a FIFO send for the deduplication interval.
func (q *queue) remember(key string, e dedupEntry) {
	q.dedup[key] = e
	q.dedupOrder = append(q.dedupOrder, dedupKey{key: key, expires: e.expires})
}

// nextSequenceNumber returns the next FIFO SequenceNumber (20 digits).
func (q *queue) nextSequenceNumber() string {
	q.seqNum++
	return formatSeq(q.seqNum)
}
