package alert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// MaxBody is the largest webhook body accepted (413 beyond); the router
// serving the webhook must be built with it as its MaxBody.
const MaxBody = 256 << 10

// MaxQueueMessage is the AlertQueue's largest message (SQS's default
// maximum message size). A body that does not fit once wrapped in its
// envelope, even compacted, is refused with 413.
const MaxQueueMessage = 256 << 10

// Integrations finds the integration a webhook is for. The webhook route
// carries no API key, so the tenant comes from the integration id alone.
type Integrations interface {
	// TenantOfIntegration returns the tenant owning the integration
	// (NotFound for an unknown id).
	TenantOfIntegration(ctx context.Context, integrationID string) (string, error)
	GetIntegration(ctx context.Context, tenantID, id string) (connection.Integration, error)
}

// Secrets reads a webhook secret by its reference (secretstore.Store).
type Secrets interface {
	Get(ctx context.Context, ref string) ([]byte, error)
}

// Parsers gives the webhook parser of an integration's RMM.
type Parsers interface {
	WebhookParser(ctx context.Context, ig connection.Integration) (rmm.WebhookParser, error)
}

// WebhookOptions tune the webhook.
type WebhookOptions struct {
	Now func() time.Time
	// Logger receives one line per delivery (never a secret or a body).
	Logger *slog.Logger
	// Keep is how long a delivery id is remembered (default 4 days: longer
	// than the Standard Webhooks retry schedule's 75.6 hours).
	Keep time.Duration
	// Tolerance is the Standard Webhooks timestamp tolerance (default 5
	// minutes).
	Tolerance time.Duration
	// EnqueueTimeout bounds the enqueue and, separately, the write that
	// marks the delivery queued (default 3 s each, so that both fit the
	// function's 10 s after the record): a hung send answers 503 rather
	// than letting the function time out.
	EnqueueTimeout time.Duration
	// CacheFor is how long an integration read is reused (default 10 s).
	// A secret that does not match a cached integration is checked again
	// against a fresh read, so a rotated secret works at once.
	CacheFor time.Duration
}

// Webhook is the alert-webhook handler (POST
// /v1/webhooks/{integrationId}/rmm).
type Webhook struct {
	ints    Integrations
	secrets Secrets
	parsers Parsers
	dels    Deliveries
	queue   Queue
	o       WebhookOptions

	mu      sync.Mutex
	tenants map[string]string // integration id → tenant id (never changes)
	igs     map[string]cachedIntegration
	keys    map[string]cachedKey // integration id → HMAC key
}

type cachedIntegration struct {
	ig      connection.Integration
	expires time.Time
}

type cachedKey struct {
	hash string // the integration's WebhookSecretHash when read
	key  []byte
}

// NewWebhook returns the webhook handler.
func NewWebhook(ints Integrations, secrets Secrets, parsers Parsers, dels Deliveries, queue Queue, o WebhookOptions) *Webhook {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Keep == 0 {
		o.Keep = 4 * 24 * time.Hour
	}
	if o.Tolerance == 0 {
		o.Tolerance = SignatureTolerance
	}
	if o.EnqueueTimeout == 0 {
		o.EnqueueTimeout = 3 * time.Second
	}
	if o.CacheFor == 0 {
		o.CacheFor = 10 * time.Second
	}
	return &Webhook{ints: ints, secrets: secrets, parsers: parsers, dels: dels, queue: queue, o: o,
		tenants: map[string]string{}, igs: map[string]cachedIntegration{}, keys: map[string]cachedKey{}}
}

// WebhookRequest is one webhook call as the webhook reads it: the integration
// of its path, its body, and the request parts that carry the credential
// and the delivery's id. The alert-webhook function's HTTP edge fills it
// from the API Gateway request.
type WebhookRequest struct {
	IntegrationID string
	Body          []byte
	// ContentType is the Content-Type header ("" when absent).
	ContentType string
	// Authorization is the Authorization header; Token the ?token= query
	// parameter.
	Authorization string
	Token         string
	// WebhookID, WebhookTimestamp and WebhookSignature are the Standard
	// Webhooks headers.
	WebhookID        string
	WebhookTimestamp string
	WebhookSignature string
	// RequestID is API Gateway's request id, for the log.
	RequestID string
}

// LogKeyRequestID is the log attribute carrying API Gateway's request id:
// the key the HTTP edge logs it under (httpapi.LogKeyAPIRequestID; a test
// of the alert-webhook function checks they agree).
const LogKeyRequestID = "apiRequestId"

// Ack is the webhook's answer (with 202 Accepted).
type Ack struct {
	Accepted  bool `json:"accepted"`
	Duplicate bool `json:"duplicate"`
}

// errBadCredentials is the one answer for an unknown integration and a
// wrong secret, so that the answer does not reveal which ids exist.
func errBadCredentials(cause error) error {
	return apperr.Wrap(apperr.Unauthorized, cause, "the webhook secret or signature is missing or wrong")
}

// integrationIDPattern bounds what is looked up in the table.
// It is compiled on first use: the package is linked by functions that
// never serve the webhook.
var integrationIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`) })

// Accept authenticates, parses, deduplicates and enqueues one delivery.
//
// Answers (the HTTP edge maps the errors' kinds to statuses): an Ack with
// Duplicate false once the activity is queued (or, for activities that are
// not alerts, ignored), 202; an Ack with Duplicate true for a delivery
// whose message was queued already; Unauthorized (401) for a missing or
// wrong secret or signature, a stale timestamp, or an unknown integration;
// Malformed (400) for a body that is not a usable activity or an id over
// MaxIDBytes or with control characters (naming the field); TooLarge (413)
// over MaxBody; UnsupportedMedia (415) for a non-JSON content type;
// Unavailable (503) when the delivery could not be recorded or queued, so
// that the RMM retries.
//
// The delivery is recorded (received), then queued, then marked queued.
// Any of the three writes may be applied and still answer an error (a lost
// answer, the function's context ending): the record says whether the
// message was queued, and a delivery recorded but not marked queued is
// queued again by the sender's retry — never answered as a duplicate. A
// second copy of a message is harmless: SQS drops it inside its
// five-minute deduplication window, and the worker skips an activity it
// applied already.
func (w *Webhook) Accept(ctx context.Context, d WebhookRequest) (Ack, error) {
	id := d.IntegrationID
	if !integrationIDPattern().MatchString(id) {
		return Ack{}, errBadCredentials(fmt.Errorf("integration id %q has an impossible shape", id))
	}
	body := d.Body
	if len(body) > MaxBody {
		return Ack{}, apperr.New(apperr.TooLarge, "the body is %d bytes; the limit is %d", len(body), MaxBody)
	}
	ig, err := w.authenticate(ctx, id, d)
	if err != nil {
		return Ack{}, err
	}
	log := w.o.Logger.With("integrationId", ig.ID, "tenantId", ig.TenantID, LogKeyRequestID, d.RequestID)
	if ct := d.ContentType; ct != "" {
		mt, _, perr := mime.ParseMediaType(ct)
		if perr != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && mt != "text/plain") {
			return Ack{}, apperr.New(apperr.UnsupportedMedia, "content type %q is not JSON; send application/json", ct)
		}
	}
	webhookID := d.WebhookID
	if err := checkID(HeaderWebhookID, "the webhook-id header", webhookID); err != nil {
		return Ack{}, err
	}
	parser, err := w.parsers.WebhookParser(ctx, ig)
	if err != nil {
		return Ack{}, fmt.Errorf("open the webhook parser of integration %s: %w", ig.ID, err)
	}
	a, isAlert, err := parseActivity(parser, body)
	if err != nil {
		return Ack{}, err
	}
	if !isAlert {
		log.InfoContext(ctx, "webhook activity is not an alert; ignored", "bytes", len(body))
		return Ack{Accepted: true}, nil
	}
	if err := checkAlertIDs(a); err != nil {
		return Ack{}, err
	}
	deliveryID := DeliveryID(webhookID, a.ActivityID, body)
	log = log.With("seriesId", a.SeriesID, "deliveryId", deliveryID, "activityId", a.ActivityID, "state", string(a.State))

	now := w.o.Now().UTC().Truncate(time.Millisecond)
	msg, err := envelope(ig, deliveryID, now, body)
	if err != nil {
		return Ack{}, err
	}
	sc := tenancy.Scope{TenantID: ig.TenantID, IntegrationID: ig.ID, Actor: "alert-webhook"}
	rec, fresh, err := w.dels.RecordDelivery(ctx, sc, deliveryID, now, w.o.Keep)
	if err != nil {
		// The record may have been written all the same: the retry then
		// finds it not queued, and queues it.
		return Ack{}, fmt.Errorf("record delivery %s: %w", deliveryID, err)
	}
	if rec.Queued {
		log.InfoContext(ctx, "duplicate webhook delivery", "firstAt", rec.FirstAt)
		return Ack{Accepted: true, Duplicate: true}, nil
	}
	qm := QueueMessage{Body: string(msg), GroupID: GroupID(ig.ID, a.SeriesID), DedupID: DedupID(ig.ID, deliveryID)}
	ectx, cancel := context.WithTimeout(ctx, w.o.EnqueueTimeout)
	err = w.queue.Enqueue(ectx, qm)
	cancel()
	if err != nil {
		// The record stays "received": the RMM's retry queues the alert
		// (a copy, if this send was made after all, is dropped by SQS or
		// skipped by the worker).
		return Ack{}, apperr.Wrap(apperr.Unavailable, err, "the alert could not be queued; retry later")
	}
	// The message is queued: the answer is 202 whatever happens to the
	// mark, which is written even if the caller's context has ended. A
	// mark that fails leaves the record "received", so a later delivery
	// of the same id queues a harmless copy.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.o.EnqueueTimeout)
	if err := w.dels.MarkQueued(mctx, sc, deliveryID, now); err != nil {
		log.WarnContext(ctx, "the alert is queued but its delivery record could not be marked queued; a repeat of the delivery will be queued again", "error", err)
	}
	cancel()
	log.InfoContext(ctx, "webhook alert queued", "fresh", fresh, "bytes", len(body))
	return Ack{Accepted: true}, nil
}

// MaxIDBytes bounds every id taken from a webhook delivery (the series,
// activity, device, organization and site ids, the webhook-id header):
// they become parts of DynamoDB keys (at most 1,024 bytes) and SQS ids.
const MaxIDBytes = 256

// checkAlertIDs refuses an alert whose ids would not fit a key, naming the
// field (rmm.Alert's name for it) in a 400.
func checkAlertIDs(a rmm.Alert) error {
	for _, f := range []struct{ field, what, v string }{
		{"seriesId", "the alert's series id", a.SeriesID},
		{"activityId", "the activity id", a.ActivityID},
		{"deviceId", "the device id", a.DeviceID},
		{"organizationId", "the organization id", a.OrganizationID},
		{"siteId", "the site (location) id", a.SiteID},
	} {
		if err := checkID(f.field, f.what, f.v); err != nil {
			return err
		}
	}
	return nil
}

// checkID refuses an id over MaxIDBytes or holding control characters
// (C0, DEL, C1), with a 400 naming field; the id itself is not echoed.
func checkID(field, what, v string) error {
	msg := ""
	switch {
	case len(v) > MaxIDBytes:
		msg = fmt.Sprintf("%s is %d bytes; the limit is %d", what, len(v), MaxIDBytes)
	case strings.ContainsFunc(v, unicode.IsControl):
		msg = what + " contains control characters"
	default:
		return nil
	}
	return &apperr.Error{Kind: apperr.Malformed, Message: field + ": " + msg,
		Fields: []apperr.FieldError{{Field: field, Message: msg}}}
}

// parseActivity runs the vendor parser, refusing bodies it cannot use with
// 400 (a panicking parser is a bug, answered as a 500 without crashing the
// function).
func parseActivity(p rmm.WebhookParser, body []byte) (a rmm.Alert, isAlert bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			a, isAlert, err = rmm.Alert{}, false, apperr.New(apperr.Internal, "the webhook parser failed: %v", r)
		}
	}()
	a, isAlert, err = p.ParseWebhook(body)
	if err != nil {
		switch apperr.KindOf(err) {
		case apperr.Malformed, apperr.Invalid:
			msg := "the body is not a usable RMM activity"
			if e, ok := apperr.As(err); ok && e.Message != "" {
				msg = e.Message
			}
			return rmm.Alert{}, false, apperr.Wrap(apperr.Malformed, err, "%s", msg)
		}
		return rmm.Alert{}, false, fmt.Errorf("parse webhook: %w", err)
	}
	if isAlert && a.SeriesID == "" {
		return rmm.Alert{}, false, apperr.New(apperr.Malformed, "the alert has no series id")
	}
	return a, isAlert, nil
}

// envelope wraps the body in the queue message, compacting it; it refuses
// a message SQS would not take.
func envelope(ig connection.Integration, deliveryID string, now time.Time, body []byte) ([]byte, error) {
	b, err := json.Marshal(Message{TenantID: ig.TenantID, IntegrationID: ig.ID, DeliveryID: deliveryID,
		ReceivedAt: now, Activity: json.RawMessage(body)})
	if err != nil {
		return nil, apperr.Wrap(apperr.Malformed, err, "the body is not JSON")
	}
	b = sqsText(b)
	if len(b) > MaxQueueMessage {
		return nil, apperr.New(apperr.TooLarge, "the activity is too large to queue (%d bytes with its envelope; the limit is %d)", len(b), MaxQueueMessage)
	}
	return b, nil
}

// sqsText makes a compact JSON text acceptable as an SQS message body,
// which must be valid Unicode without U+FFFE and U+FFFF: bytes that are not
// UTF-8 become \ufffd (what a JSON decoder reads them as anyway) and the
// two non-characters are escaped. Outside strings JSON is ASCII, so both
// only ever occur inside strings, where escapes mean the same.
func sqsText(b []byte) []byte {
	clean := true
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && size == 1) || r == 0xFFFE || r == 0xFFFF {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case r == 0xFFFE:
			out = append(out, `\ufffe`...)
		case r == 0xFFFF:
			out = append(out, `\uffff`...)
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

// authenticate finds the integration and checks the delivery's credential
// against it: a Standard Webhooks signature when the webhook-signature
// header is present, otherwise the Authorization header ("Bearer <secret>"
// or the bare secret), otherwise ?token=. A credential that does not match
// a cached integration is checked once more against a fresh read.
func (w *Webhook) authenticate(ctx context.Context, id string, d WebhookRequest) (connection.Integration, error) {
	ig, cached, err := w.integration(ctx, id, false)
	if err != nil {
		return connection.Integration{}, err
	}
	err = w.check(ctx, ig, d)
	if err != nil && cached && apperr.Is(err, apperr.Unauthorized) {
		if ig, _, err = w.integration(ctx, id, true); err != nil {
			return connection.Integration{}, err
		}
		err = w.check(ctx, ig, d)
	}
	if err != nil {
		return connection.Integration{}, err
	}
	return ig, nil
}

func (w *Webhook) check(ctx context.Context, ig connection.Integration, d WebhookRequest) error {
	if sig := d.WebhookSignature; sig != "" {
		key, err := w.secret(ctx, ig)
		if err != nil {
			return err
		}
		if err := VerifySignature(key, d.WebhookID, d.WebhookTimestamp, sig, d.Body, w.o.Now(), w.o.Tolerance); err != nil {
			return err
		}
		return nil
	}
	presented := ""
	switch auth := strings.TrimSpace(d.Authorization); {
	case auth != "":
		if scheme, rest, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "bearer") {
			auth = strings.TrimSpace(rest)
		}
		presented = auth
	case d.Token != "":
		presented = d.Token
	default:
		return apperr.New(apperr.Unauthorized, "send the webhook secret as Authorization: Bearer <secret>, as ?token=<secret>, or sign the delivery (Standard Webhooks)")
	}
	if ig.WebhookSecretHash == "" || !ig.CheckWebhookSecret(presented) {
		return errBadCredentials(nil)
	}
	return nil
}

// integration returns the integration with its tenant, from the cache
// unless fresh; cached reports whether it came from the cache. An unknown
// integration is Unauthorized, like a wrong secret.
func (w *Webhook) integration(ctx context.Context, id string, fresh bool) (connection.Integration, bool, error) {
	now := w.o.Now()
	w.mu.Lock()
	tenantID, knownTenant := w.tenants[id]
	c, ok := w.igs[id]
	w.mu.Unlock()
	if !fresh && ok && now.Before(c.expires) {
		return c.ig, true, nil
	}
	if !knownTenant {
		var err error
		tenantID, err = w.ints.TenantOfIntegration(ctx, id)
		if apperr.Is(err, apperr.NotFound) {
			return connection.Integration{}, false, errBadCredentials(err)
		}
		if err != nil {
			return connection.Integration{}, false, fmt.Errorf("find the tenant of integration %s: %w", id, err)
		}
	}
	ig, err := w.ints.GetIntegration(ctx, tenantID, id)
	if apperr.Is(err, apperr.NotFound) {
		w.mu.Lock()
		delete(w.tenants, id)
		delete(w.igs, id)
		w.mu.Unlock()
		return connection.Integration{}, false, errBadCredentials(err)
	}
	if err != nil {
		return connection.Integration{}, false, fmt.Errorf("read integration %s: %w", id, err)
	}
	ig.TenantID = tenantID
	w.mu.Lock()
	w.tenants[id] = tenantID
	w.igs[id] = cachedIntegration{ig: ig, expires: now.Add(w.o.CacheFor)}
	w.mu.Unlock()
	return ig, false, nil
}

// secret returns the integration's webhook secret for HMAC checks, read
// from the secret store once per secret version (its hash in the
// integration says when it was rotated).
func (w *Webhook) secret(ctx context.Context, ig connection.Integration) ([]byte, error) {
	w.mu.Lock()
	k, ok := w.keys[ig.ID]
	w.mu.Unlock()
	if ok && k.hash == ig.WebhookSecretHash {
		return k.key, nil
	}
	if ig.WebhookSecretRef == "" {
		return nil, errBadCredentials(fmt.Errorf("integration %s has no webhook secret", ig.ID))
	}
	v, err := w.secrets.Get(ctx, ig.WebhookSecretRef)
	if err != nil {
		return nil, fmt.Errorf("read the webhook secret of integration %s: %w", ig.ID, err)
	}
	sum := sha256.Sum256(v)
	if hex.EncodeToString(sum[:]) != ig.WebhookSecretHash {
		// The store still serves the secret before a rotation: use it
		// for this request, but do not cache it.
		return v, nil
	}
	w.mu.Lock()
	w.keys[ig.ID] = cachedKey{hash: ig.WebhookSecretHash, key: v}
	w.mu.Unlock()
	return v, nil
}

// DeliveryID is the deduplication key of a delivery: the Standard Webhooks
// message id when the sender gives one, else the activity id, else the
// SHA-256 of the body (an identical retry of an id-less payload is then
// still recognized). Long ids are hashed so that keys stay small.
func DeliveryID(webhookID, activityID string, body []byte) string {
	switch {
	case webhookID != "":
		return bounded("w-", webhookID)
	case activityID != "":
		return bounded("a-", activityID)
	}
	sum := sha256.Sum256(body)
	return "b-" + hex.EncodeToString(sum[:])
}

func bounded(prefix, id string) string {
	if len(id) <= 100 && sqsSafe(id) {
		return prefix + id
	}
	sum := sha256.Sum256([]byte(id))
	return prefix + "h" + hex.EncodeToString(sum[:])
}

// sqsSafe reports whether s uses only the characters SQS allows in message
// group and deduplication ids (letters, digits and ASCII punctuation).
func sqsSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// sqsID joins an integration id and a key into an SQS id of at most 128
// characters, hashing the key when it would not fit or has characters SQS
// refuses.
func sqsID(integrationID, key string) string {
	id := integrationID + "#" + key
	if len(id) <= 128 && sqsSafe(id) {
		return id
	}
	sum := sha256.Sum256([]byte(key))
	return integrationID + "#~" + hex.EncodeToString(sum[:])
}

// GroupID is the AlertQueue message group of a series: one group per
// integration and series, so the events of a series are handled in order.
func GroupID(integrationID, seriesID string) string { return sqsID(integrationID, seriesID) }

// DedupID is the AlertQueue deduplication id of a delivery.
func DedupID(integrationID, deliveryID string) string { return sqsID(integrationID, deliveryID) }
