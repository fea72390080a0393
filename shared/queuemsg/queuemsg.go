// Package queuemsg is what the queue workers take, free of the Lambda
// event types: a Message (its id, body and receive count), the message
// that crosses functions (AssetRefresh: sent by import-dispatch and
// alert-worker, consumed by asset-refresh), and the one rule deciding what
// becomes of a message whose work failed (Settler.Settle: retry, give up,
// or record the failure on the last receive).
//
// The domain packages take Messages and return errors; shared/sqsbatch
// turns SQS events into Messages and errors into batch item failures.
package queuemsg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// MaxReceives is the queues' maxReceiveCount in template.yaml: the receive
// on which a failing message records its item as failed before it goes to
// the dead-letter queue (a test checks the two agree).
const MaxReceives = 5

// Message is one queue message as a worker sees it.
type Message struct {
	ID   string
	Body string
	// Receives is how many times the queue has handed the message out,
	// this time included (at least 1).
	Receives int
	// Earlier is how many times earlier copies of the message were
	// handed out: a message held back by the request budget is re-sent
	// as a new message (shared/sqsbatch), whose Receives start again at 1.
	Earlier int
}

// Redelivered reports whether the message (or an earlier copy of it) was
// handed out before: an earlier delivery may have done part of its work.
func (m Message) Redelivered() bool { return m.Receives > 1 || m.Earlier > 0 }

// Last reports whether this is the message's last receive: a failure now
// sends it to the dead-letter queue.
func (m Message) Last() bool { return m.Receives >= MaxReceives }

// AssetRefresh is an AssetQueue message body: refresh one device. JobID is
// empty for refreshes outside an import (alerts). Messages of an import are
// sent with the tenant id as message group (fair queues), so one MSP's big
// import does not starve another's refreshes.
type AssetRefresh struct {
	TenantID      string `json:"tenantId"`
	IntegrationID string `json:"integrationId"`
	JobID         string `json:"jobId,omitempty"`
	DeviceID      string `json:"deviceId"`
	Reason        string `json:"reason"` // import | retry | alert | sync
	// Device is the device as the import read it in bulk
	// (rmm.DeviceSnapshotLister), so the worker needs no RMM request; nil
	// when the RMM has no bulk read, or the snapshot would make the
	// message larger than MaxAssetMessageBytes: the worker reads the
	// device itself.
	Device *rmm.Device `json:"device,omitempty"`
	// Match is the answer of the PSA index the import built from the
	// account's assets (psa.AssetLister); nil when the PSA cannot list an
	// account's assets: the worker runs the full lookup ladder.
	Match *AssetMatch `json:"match,omitempty"`
}

// MaxAssetMessageBytes bounds an AssetQueue message body. SQS takes 256
// KiB per message and per SendMessageBatch of 10, so a batch of bodies of
// at most 24 KiB always fits in one call. A device snapshot is about 1 KiB
// (names, OS, a few volumes and addresses); one larger than the bound (a
// device reporting hundreds of volumes or addresses) travels without its
// snapshot, and a tie with more candidates than fit without its match.
const MaxAssetMessageBytes = 24 * 1024

// AssetMatch is the import's PSA index answer for one device, as of AsOf.
type AssetMatch struct {
	// By is "externalRef" (AssetID carries our reference), "serial"
	// (AssetID is the one asset with the device's serial and no other
	// device's reference), "tie" (Candidates share the serial) or "none".
	By         string   `json:"by"`
	AssetID    string   `json:"assetId,omitempty"`
	Candidates []string `json:"candidates,omitempty"`
	// AccountID is the account whose assets were indexed: the answer
	// holds only while the organization is still mapped to it.
	AccountID string    `json:"accountId"`
	AsOf      time.Time `json:"asOf"`
	// NoLink says the import saw no asset link for the device: the worker
	// claims it without reading its link first.
	NoLink bool `json:"noLink,omitempty"`
}

// DecodeAssetRefresh reads an AssetQueue message body; it needs the tenant,
// the integration and the device (apperr Malformed otherwise).
func DecodeAssetRefresh(body string) (AssetRefresh, error) {
	var m AssetRefresh
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return AssetRefresh{}, apperr.Wrap(apperr.Malformed, err, "the message is not an asset message")
	}
	if m.TenantID == "" || m.IntegrationID == "" || m.DeviceID == "" {
		return AssetRefresh{}, apperr.New(apperr.Malformed, "the asset message lacks tenantId, integrationId or deviceId")
	}
	if m.Device != nil && m.Device.ID != m.DeviceID {
		return AssetRefresh{}, apperr.New(apperr.Malformed, "the asset message's device snapshot is of device %q, not %q", m.Device.ID, m.DeviceID)
	}
	return m, nil
}

// givenUp marks a failure retrying cannot fix.
type givenUp struct {
	what string
	err  error
}

func (e *givenUp) Error() string {
	if e.what == "" {
		return e.err.Error()
	}
	return e.what + ": " + e.err.Error()
}

func (e *givenUp) Unwrap() error { return e.err }

// GiveUp marks err as a failure of the message's item that retrying cannot
// fix (the device or organization is unknown to the RMM, the vendor refused
// the record or the credentials, the PSA lacks what the work needs): Settle
// records it at once and acknowledges the message. what, when set, says
// what failed and starts the recorded reason ("<what>: <client-safe
// message>").
func GiveUp(err error, what string) error {
	if err == nil {
		return nil
	}
	return &givenUp{what: what, err: err}
}

// Settler applies the rule for one worker.
type Settler struct {
	// Name is the worker's function name: the reason recorded for an
	// internal error points at its logs.
	Name string
	Log  *slog.Logger
}

// RecordFailure records the failure of the message's item with a
// client-safe reason (an import item's outcome "failed").
type RecordFailure func(ctx context.Context, reason string) error

// Settle is the one rule for a message whose work ended with err, on its
// m.Receives-th receive. It returns what the worker reports for the
// message: nil acknowledges it, an error sends it back to the queue (and,
// after MaxReceives, to the dead-letter queue).
//
//   - nil: done.
//   - A transient failure before the last receive: back to the queue,
//     nothing recorded.
//   - A failure marked with GiveUp: recorded through record, then
//     acknowledged; retrying cannot help.
//   - A transient failure on the last receive: recorded through record,
//     then on to the dead-letter queue, so the item is counted and the
//     message kept for a redrive.
//
// record may be nil when there is nothing to record into (a refresh
// outside an import): a given-up message is then only logged and
// acknowledged. When recording fails, the message goes back to the queue
// with both errors.
func (s Settler) Settle(ctx context.Context, m Message, err error, record RecordFailure) error {
	if err == nil {
		return nil
	}
	var gu *givenUp
	permanent := errors.As(err, &gu)
	if !permanent && !m.Last() {
		return err
	}
	reason := s.reason(err, gu)
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("function", s.Name, "messageId", m.ID, "receiveCount", m.Receives, "kind", apperr.KindOf(err).String(),
		"reason", reason, "error", err.Error())
	switch {
	case record == nil && permanent:
		log.WarnContext(ctx, "message failed permanently; nothing to record it in")
		return nil
	case record == nil:
		return err
	case permanent:
		log.WarnContext(ctx, "message failed permanently; recorded as failed")
	default:
		log.ErrorContext(ctx, "message failed on its last receive; recorded as failed")
	}
	if rerr := record(context.WithoutCancel(ctx), reason); rerr != nil {
		return fmt.Errorf("%w; and recording the failure: %w", err, rerr)
	}
	if permanent {
		return nil
	}
	return err
}

// reason is the client-safe text recorded for err: its apperr message
// (prefixed with what the GiveUp says failed), never an internal error's
// text, which points at the worker's logs instead.
func (s Settler) reason(err error, gu *givenUp) string {
	text := "internal error; see the " + s.Name + " logs"
	if e, ok := apperr.As(err); ok && e.Kind != apperr.Internal && e.Message != "" {
		text = e.Message
	}
	if gu != nil && gu.what != "" {
		return gu.what + ": " + text
	}
	return text
}
