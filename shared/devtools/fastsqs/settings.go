package fastsqs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SQS's limits and defaults for queue attributes.
const (
	defaultVisibility  = 30 * time.Second
	defaultRetention   = 4 * 24 * time.Hour
	defaultMaxSize     = 262_144
	maxVisibility      = 12 * time.Hour
	maxDelay           = 15 * time.Minute
	maxWait            = 20 * time.Second
	dedupWindow        = 5 * time.Minute
	maxReceiveCountMax = 1000
)

// redrivePolicy is a queue's RedrivePolicy attribute.
type redrivePolicy struct {
	TargetARN       string `json:"deadLetterTargetArn"`
	MaxReceiveCount int    `json:"maxReceiveCount"`
}

// settings are a queue's configurable attributes, parsed.
type settings struct {
	delay        time.Duration
	visibility   time.Duration
	retention    time.Duration
	wait         time.Duration
	maxSize      int
	redrive      *redrivePolicy
	contentDedup bool
	dedupScope   string // "queue" or "messageGroup" (FIFO)
	throughput   string // "perQueue" or "perMessageGroupId" (FIFO)
	// verbatim holds attributes fastsqs stores and returns but does not act
	// on: Policy, RedriveAllowPolicy, KMS and SSE settings.
	verbatim map[string]string
}

func defaultSettings(fifo bool) settings {
	st := settings{
		visibility: defaultVisibility,
		retention:  defaultRetention,
		maxSize:    defaultMaxSize,
		verbatim:   map[string]string{"SqsManagedSseEnabled": "true"},
	}
	if fifo {
		st.dedupScope, st.throughput = "queue", "perQueue"
	}
	return st
}

func (st settings) clone() settings {
	c := st
	c.verbatim = make(map[string]string, len(st.verbatim))
	for k, v := range st.verbatim {
		c.verbatim[k] = v
	}
	if st.redrive != nil {
		rp := *st.redrive
		c.redrive = &rp
	}
	return c
}

// attrKind says how a settable attribute is parsed.
type attrKind int

const (
	kindSeconds attrKind = iota // whole seconds within [lo, hi]
	kindInt                     // an integer within [lo, hi]
	kindBool
	kindEnum
	kindRedrive
	kindVerbatim
)

type attrSpec struct {
	kind     attrKind
	lo, hi   int
	enum     []string
	fifoOnly bool
}

// settable lists the attributes CreateQueue and SetQueueAttributes take
// (FifoQueue, which only CreateQueue takes, is handled apart).
var settable = map[string]attrSpec{
	"DelaySeconds":                  {kind: kindSeconds, lo: 0, hi: 900},
	"MaximumMessageSize":            {kind: kindInt, lo: 1024, hi: 1_048_576},
	"MessageRetentionPeriod":        {kind: kindSeconds, lo: 60, hi: 1_209_600},
	"ReceiveMessageWaitTimeSeconds": {kind: kindSeconds, lo: 0, hi: 20},
	"VisibilityTimeout":             {kind: kindSeconds, lo: 0, hi: 43_200},
	"RedrivePolicy":                 {kind: kindRedrive},
	"RedriveAllowPolicy":            {kind: kindVerbatim},
	"Policy":                        {kind: kindVerbatim},
	"KmsMasterKeyId":                {kind: kindVerbatim},
	"KmsDataKeyReusePeriodSeconds":  {kind: kindInt, lo: 60, hi: 86_400},
	"SqsManagedSseEnabled":          {kind: kindBool},
	"ContentBasedDeduplication":     {kind: kindBool, fifoOnly: true},
	"DeduplicationScope":            {kind: kindEnum, enum: []string{"messageGroup", "queue"}, fifoOnly: true},
	"FifoThroughputLimit":           {kind: kindEnum, enum: []string{"perQueue", "perMessageGroupId"}, fifoOnly: true},
}

// apply parses one attribute into st.
func (st *settings) apply(name, value string, fifo bool) *sqsError {
	spec, ok := settable[name]
	if !ok || (spec.fifoOnly && !fifo) {
		return errInvalidAttributeName(name)
	}
	switch spec.kind {
	case kindSeconds, kindInt:
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil || n < spec.lo || n > spec.hi {
			return errInvalidAttributeValue("Invalid value for the parameter %s: %q (must be an integer from %d to %d).", name, value, spec.lo, spec.hi)
		}
		d := time.Duration(n) * time.Second
		switch name {
		case "DelaySeconds":
			st.delay = d
		case "MessageRetentionPeriod":
			st.retention = d
		case "ReceiveMessageWaitTimeSeconds":
			st.wait = d
		case "VisibilityTimeout":
			st.visibility = d
		case "MaximumMessageSize":
			st.maxSize = n
		default:
			st.verbatim[name] = strconv.Itoa(n)
		}
	case kindBool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return errInvalidAttributeValue("Invalid value for the parameter %s: %q (must be true or false).", name, value)
		}
		if name == "ContentBasedDeduplication" {
			st.contentDedup = b
		} else {
			st.verbatim[name] = strconv.FormatBool(b)
		}
	case kindEnum:
		found := false
		for _, e := range spec.enum {
			found = found || e == value
		}
		if !found {
			return errInvalidAttributeValue("Invalid value for the parameter %s: %q (must be one of %s).", name, value, strings.Join(spec.enum, ", "))
		}
		if name == "DeduplicationScope" {
			st.dedupScope = value
		} else {
			st.throughput = value
		}
	case kindRedrive:
		if strings.TrimSpace(value) == "" || strings.TrimSpace(value) == "{}" {
			st.redrive = nil
			return nil
		}
		rp, err := parseRedrive(value)
		if err != nil {
			return err
		}
		st.redrive = rp
	case kindVerbatim:
		if value == "" {
			delete(st.verbatim, name)
		} else {
			st.verbatim[name] = value
		}
	}
	return nil
}

// parseRedrive reads a RedrivePolicy; maxReceiveCount may be a number or a
// string of digits, as SQS accepts both.
func parseRedrive(value string) (*redrivePolicy, *sqsError) {
	var raw map[string]any
	dec := json.NewDecoder(strings.NewReader(value))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, errInvalidParameter("Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid JSON map.", value)
	}
	target, _ := raw["deadLetterTargetArn"].(string)
	if target == "" {
		return nil, errInvalidParameter("Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain deadLetterTargetArn.", value)
	}
	var count string
	switch v := raw["maxReceiveCount"].(type) {
	case json.Number:
		count = v.String()
	case string:
		count = v
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > maxReceiveCountMax {
		return nil, errInvalidParameter("Value %s for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: %q, valid values are from 1 to %d both inclusive.", value, count, maxReceiveCountMax)
	}
	return &redrivePolicy{TargetARN: target, MaxReceiveCount: n}, nil
}

// check validates the combination of a queue's settings.
func (st settings) check(fifo bool) *sqsError {
	if fifo && st.throughput == "perMessageGroupId" && st.dedupScope != "messageGroup" {
		return errInvalidAttributeValue("FifoThroughputLimit perMessageGroupId requires DeduplicationScope messageGroup.")
	}
	return nil
}

// value returns an attribute's canonical value, as GetQueueAttributes
// gives it.
func (st settings) value(name string, fifo bool) (string, bool) {
	secs := func(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }
	switch name {
	case "DelaySeconds":
		return secs(st.delay), true
	case "MessageRetentionPeriod":
		return secs(st.retention), true
	case "ReceiveMessageWaitTimeSeconds":
		return secs(st.wait), true
	case "VisibilityTimeout":
		return secs(st.visibility), true
	case "MaximumMessageSize":
		return strconv.Itoa(st.maxSize), true
	case "RedrivePolicy":
		if st.redrive == nil {
			return "", false
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, st.redrive.TargetARN, st.redrive.MaxReceiveCount)
		return b.String(), true
	case "FifoQueue":
		return "true", fifo
	case "ContentBasedDeduplication":
		return strconv.FormatBool(st.contentDedup), fifo
	case "DeduplicationScope":
		return st.dedupScope, fifo
	case "FifoThroughputLimit":
		return st.throughput, fifo
	}
	v, ok := st.verbatim[name]
	return v, ok
}

// configurableNames are the attributes "All" includes besides the counts,
// timestamps and ARN.
var configurableNames = []string{
	"DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
	"VisibilityTimeout", "RedrivePolicy", "RedriveAllowPolicy", "Policy", "KmsMasterKeyId",
	"KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "FifoQueue", "ContentBasedDeduplication",
	"DeduplicationScope", "FifoThroughputLimit",
}
