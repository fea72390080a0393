// Package apperr is rmmbridge's one small error vocabulary.
//
// Domain and adapter packages return errors that carry a Kind (not found,
// conflict, invalid input, ...) and a message that is safe to show a client.
// Edge packages decide what to do by kind: shared/httpapi maps kinds to HTTP
// status codes in one table, SQS workers decide retry-versus-drop by kind.
// The wrapped cause is for logs only and never reaches a response.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error by what the caller should do about it.
type Kind int

// The kinds. Internal is the zero value: an error nobody classified is a bug
// or an outage, never the client's fault.
const (
	Internal         Kind = iota // unexpected; logged, reported as 500
	Invalid                      // semantically invalid input (422)
	Malformed                    // unparseable input (400)
	NotFound                     // no such resource for this tenant (404)
	Conflict                     // state conflict, e.g. a conditional write lost (409)
	Unauthorized                 // missing or wrong credentials (401)
	Forbidden                    // authenticated but not allowed (403)
	TooLarge                     // body over the limit (413)
	UnsupportedMedia             // wrong content type (415)
	Throttled                    // a rate limit applies; retry later (429)
	Vendor                       // the RMM/PSA failed or refused (502)
	NotImplemented               // feature not built yet (501)
	Unavailable                  // a dependency is down; transient (503)
	// PreconditionFailed: the client's precondition (HTTP If-Match) does
	// not hold; the resource changed since the client read it (412).
	PreconditionFailed
)

var kindNames = [...]string{
	Internal:           "internal",
	Invalid:            "invalid",
	Malformed:          "malformed",
	NotFound:           "not_found",
	Conflict:           "conflict",
	Unauthorized:       "unauthorized",
	Forbidden:          "forbidden",
	TooLarge:           "too_large",
	UnsupportedMedia:   "unsupported_media",
	Throttled:          "throttled",
	Vendor:             "vendor",
	NotImplemented:     "not_implemented",
	Unavailable:        "unavailable",
	PreconditionFailed: "precondition_failed",
}

// String returns the kind's stable snake_case name.
func (k Kind) String() string {
	if int(k) >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Transient reports whether an operation that failed with this kind may
// succeed if simply tried again later (the SQS workers' retry decision).
func (k Kind) Transient() bool {
	switch k {
	case Internal, Throttled, Unavailable, Vendor, Conflict:
		return true
	}
	return false
}

// FieldError names one input field at fault.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a classified error. Message is safe to return to clients; Err is
// the underlying cause, kept for logs and errors.Is/As.
type Error struct {
	Kind    Kind
	Message string
	Fields  []FieldError
	// RetryAfter, when positive, says how long the caller should wait
	// (Throttled errors from vendors honouring Retry-After).
	RetryAfter time.Duration
	// VendorStatus is the HTTP status a vendor answered, for Vendor errors.
	VendorStatus int
	Err          error
}

// Error implements error. It includes the cause, so it is for logs; clients
// get Message only.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Kind.String()
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a client-safe message.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Wrap classifies cause as kind k with a client-safe message.
func Wrap(k Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...), Err: cause}
}

// InvalidFields returns an Invalid error naming the fields at fault.
func InvalidFields(fields ...FieldError) *Error {
	msg := "the request has invalid fields"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Kind: Invalid, Message: msg, Fields: fields}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err carries kind k.
func Is(err error, k Kind) bool {
	return err != nil && KindOf(err) == k
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
