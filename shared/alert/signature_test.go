package alert_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// The Standard Webhooks specification's own example: secret, message id,
// timestamp, payload and the signature it gives.
func TestVerifySignatureSpecExample(t *testing.T) {
	secret := []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	body := []byte(`{"test": 2432232314}`)
	now := time.Unix(1614265330, 0)
	err := alert.VerifySignature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", body, now, alert.SignatureTolerance)
	if err != nil {
		t.Fatalf("the specification's example does not verify: %v", err)
	}
}

func TestVerifySignature(t *testing.T) {
	secret := []byte("whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	other := []byte("whsec_" + base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210")))
	body := []byte(`{"id":4460312,"activityType":"CONDITION","statusCode":"TRIGGERED"}`)
	now := time.Date(2026, 1, 6, 14, 8, 32, 0, time.UTC)
	sign := func(secret []byte, at time.Time) map[string]string {
		return alert.SignWebhook(secret, "msg_1", at, body)
	}
	good := sign(secret, now)

	tests := []struct {
		name       string
		id, ts     string
		signatures string
		body       []byte
		wantOK     bool
	}{
		{"valid", "msg_1", good["webhook-timestamp"], good["webhook-signature"], body, true},
		{"wrong secret", "msg_1", good["webhook-timestamp"], sign(other, now)["webhook-signature"], body, false},
		{"tampered body", "msg_1", good["webhook-timestamp"], good["webhook-signature"], append([]byte(" "), body...), false},
		{"another message id", "msg_2", good["webhook-timestamp"], good["webhook-signature"], body, false},
		{"missing signature", "msg_1", good["webhook-timestamp"], "", body, false},
		{"missing id", "", good["webhook-timestamp"], good["webhook-signature"], body, false},
		{"missing timestamp", "msg_1", "", good["webhook-signature"], body, false},
		{"timestamp not a number", "msg_1", "yesterday", good["webhook-signature"], body, false},
		{"expired: 5 min 1 s old", "msg_1", ts(now.Add(-5*time.Minute - time.Second)), sign(secret, now.Add(-5*time.Minute-time.Second))["webhook-signature"], body, false},
		{"5 min old is still within tolerance", "msg_1", ts(now.Add(-5 * time.Minute)), sign(secret, now.Add(-5*time.Minute))["webhook-signature"], body, true},
		{"from the future: 5 min 1 s ahead", "msg_1", ts(now.Add(5*time.Minute + time.Second)), sign(secret, now.Add(5*time.Minute+time.Second))["webhook-signature"], body, false},
		{"huge timestamp", "msg_1", "99999999999999999", good["webhook-signature"], body, false},
		{"rotation: second signature matches", "msg_1", good["webhook-timestamp"], sign(other, now)["webhook-signature"] + " " + good["webhook-signature"], body, true},
		{"asymmetric scheme is skipped", "msg_1", good["webhook-timestamp"], "v1a," + good["webhook-signature"][3:], body, false},
		{"no scheme", "msg_1", good["webhook-timestamp"], good["webhook-signature"][3:], body, false},
		{"signature of another payload", "msg_1", good["webhook-timestamp"], "v1," + hmacOf(secret, "msg_1."+good["webhook-timestamp"]+".{}"), body, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := alert.VerifySignature(secret, tc.id, tc.ts, tc.signatures, tc.body, now, alert.SignatureTolerance)
			if tc.wantOK && err != nil {
				t.Fatalf("VerifySignature: %v", err)
			}
			if !tc.wantOK && !apperr.Is(err, apperr.Unauthorized) {
				t.Fatalf("VerifySignature = %v, want Unauthorized", err)
			}
		})
	}
}

func ts(at time.Time) string { return strconv.FormatInt(at.Unix(), 10) }

// hmacOf signs content the way the specification does, independently of
// the package.
func hmacOf(secret []byte, content string) string {
	key, _ := base64.StdEncoding.DecodeString(string(secret[len("whsec_"):]))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(content))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestSignWebhookMatchesIndependentHMAC(t *testing.T) {
	secret := []byte("whsec_" + base64.StdEncoding.EncodeToString([]byte("a-32-byte-secret-for-the-test!!!")))
	body := []byte(`{"a":1}`)
	at := time.Unix(1767708512, 0)
	h := alert.SignWebhook(secret, "msg_x", at, body)
	want := "v1," + hmacOf(secret, "msg_x.1767708512."+string(body))
	if h["webhook-signature"] != want || h["webhook-id"] != "msg_x" || h["webhook-timestamp"] != "1767708512" {
		t.Errorf("SignWebhook = %v, want signature %s", h, want)
	}
}
