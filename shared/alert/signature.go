package alert

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Standard Webhooks headers (lower case, as API Gateway payload 2.0 gives
// them).
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// SignatureTolerance is how far a Standard Webhooks timestamp may be from
// now, either way.
const SignatureTolerance = 5 * time.Minute

// secretPrefix marks a Standard Webhooks symmetric secret; the key is the
// base64 text after it.
const secretPrefix = "whsec_"

// signingKey returns the HMAC key of a webhook secret: the base64-decoded
// part after "whsec_", or the secret's bytes when it is not in that form.
func signingKey(secret []byte) []byte {
	s := strings.TrimSpace(string(secret))
	if rest, ok := strings.CutPrefix(s, secretPrefix); ok {
		if k, err := base64.StdEncoding.DecodeString(rest); err == nil && len(k) > 0 {
			return k
		}
	}
	return []byte(s)
}

// sign returns the base64 HMAC-SHA256 of "<id>.<timestamp>.<body>".
func sign(key []byte, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignWebhook returns the Standard Webhooks headers for body sent with
// message id msgID at time at, signed with secret ("whsec_..."): what an
// RMM (or a test, or the sandbox) that signs its deliveries sends.
func SignWebhook(secret []byte, msgID string, at time.Time, body []byte) map[string]string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return map[string]string{
		HeaderWebhookID:        msgID,
		HeaderWebhookTimestamp: ts,
		HeaderWebhookSignature: "v1," + sign(signingKey(secret), msgID, ts, body),
	}
}

// VerifySignature checks a Standard Webhooks signature: the message id and
// timestamp must be present, the timestamp within tolerance of now (either
// way), and one of the space-separated "v1,<base64>" signatures the
// HMAC-SHA256 of "<id>.<timestamp>.<body>" under the secret, compared in
// constant time. Other schemes in the list (v1a, ...) are skipped. Every
// failure is apperr.Unauthorized with a reason that reveals nothing about
// the secret.
func VerifySignature(secret []byte, msgID, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	if msgID == "" || timestamp == "" || signatures == "" {
		return apperr.New(apperr.Unauthorized, "a signed webhook needs the webhook-id, webhook-timestamp and webhook-signature headers")
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return apperr.New(apperr.Unauthorized, "webhook-timestamp is not a Unix time in seconds")
	}
	// Compare in seconds so that no timestamp can overflow a Duration.
	nowSec, tolSec := now.Unix(), int64(tolerance/time.Second)
	if sec < nowSec-tolSec || sec > nowSec+tolSec {
		return apperr.New(apperr.Unauthorized, "webhook-timestamp is more than %s away from now", tolerance)
	}
	want := []byte(sign(signingKey(secret), msgID, timestamp, body))
	ok := false
	for _, part := range strings.Fields(signatures) {
		version, sig, found := strings.Cut(part, ",")
		if !found || version != "v1" {
			continue
		}
		// Check every candidate, so the time taken does not say which one
		// matched.
		if hmac.Equal([]byte(sig), want) {
			ok = true
		}
	}
	if !ok {
		return apperr.New(apperr.Unauthorized, "no webhook-signature matches")
	}
	return nil
}
