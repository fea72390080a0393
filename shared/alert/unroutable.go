package alert

import (
	"errors"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// reviewer is implemented by errors saying a person must decide (an
// organization with several candidate PSA accounts, in review): retrying
// cannot help until they do, whatever the error's kind.
type reviewer interface{ NeedsReview() bool }

// unroutable decides, in one place, whether a failure to find or create the
// PSA account of an alert's organization (or to read its device) can never
// be cured by retrying the event, and returns the reason to record then:
// the error's client-safe message.
//
// Unroutable: Invalid (the account decision refuses, e.g. creating is not
// allowed, or the PSA connection lacks accounts.findByRef, which it
// needs), NotFound (the organization or device does not exist in the
// RMM), NotImplemented (a vendor call rmmbridge cannot make), and
// any error that needs a review (see reviewer; a Conflict otherwise is a
// lost race, retried). Everything else — outages, throttling, rejected
// credentials, unclassified errors — is retried by the queue.
func unroutable(err error) (reason string, ok bool) {
	if err == nil {
		return "", false
	}
	var rv reviewer
	review := errors.As(err, &rv) && rv.NeedsReview()
	switch apperr.KindOf(err) {
	case apperr.Invalid, apperr.NotFound, apperr.NotImplemented:
	default:
		if !review {
			return "", false
		}
	}
	if e, ok := apperr.As(err); ok && e.Message != "" {
		return e.Message, true
	}
	if review {
		return "the choice of its PSA account waits for a review", true
	}
	return "the account decision answered " + apperr.KindOf(err).String(), true
}
