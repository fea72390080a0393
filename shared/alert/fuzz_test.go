package alert_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// In-memory stand-ins for the webhook's stores, for the fuzz target and
// the in-process benchmark (moto is far too slow for either; the
// adapters themselves are tested against moto elsewhere).

type memIntegrations struct{ ig connection.Integration }

func (m memIntegrations) TenantOfIntegration(_ context.Context, id string) (string, error) {
	if id != m.ig.ID {
		return "", apperr.New(apperr.NotFound, "no integration %s", id)
	}
	return m.ig.TenantID, nil
}

func (m memIntegrations) GetIntegration(_ context.Context, tenantID, id string) (connection.Integration, error) {
	if tenantID != m.ig.TenantID || id != m.ig.ID {
		return connection.Integration{}, apperr.New(apperr.NotFound, "no integration %s", id)
	}
	return m.ig, nil
}

type memSecrets map[string][]byte

func (m memSecrets) Get(_ context.Context, ref string) ([]byte, error) {
	v, ok := m[ref]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no secret %s", ref)
	}
	return v, nil
}

type memDeliveries struct {
	mu   sync.Mutex
	recs map[string]alert.Delivery
}

func (m *memDeliveries) RecordDelivery(_ context.Context, sc tenancy.Scope, id string, now time.Time, _ time.Duration) (alert.Delivery, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := sc.TenantID + "/" + sc.IntegrationID + "/" + id
	if r, ok := m.recs[k]; ok {
		return r, false, nil
	}
	m.recs[k] = alert.Delivery{FirstAt: now}
	return m.recs[k], true, nil
}

func (m *memDeliveries) MarkQueued(_ context.Context, sc tenancy.Scope, id string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := sc.TenantID + "/" + sc.IntegrationID + "/" + id
	r, ok := m.recs[k]
	if !ok {
		return apperr.New(apperr.NotFound, "no delivery %s", id)
	}
	r.Queued = true
	m.recs[k] = r
	return nil
}

// memWebhook is the webhook over in-memory stores with a known secret.
func memWebhook(tb testing.TB, q alert.Queue) (*httpapi.Router, string, string) {
	tb.Helper()
	return memWebhookWith(q, ninjaParser(tb))
}

// memWebhookWith is memWebhook with another RMM's parser.
func memWebhookWith(q alert.Queue, p rmm.WebhookParser) (*httpapi.Router, string, string) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	sum := sha256.Sum256([]byte(secret))
	ig := connection.Integration{ID: "i_fuzz", TenantID: "t_fuzz", RMMConnectionID: "c_rmm",
		WebhookSecretHash: hex.EncodeToString(sum[:]), WebhookSecretRef: "ref-fuzz"}
	w := alert.NewWebhook(memIntegrations{ig}, memSecrets{"ref-fuzz": []byte(secret)}, parsers{p},
		&memDeliveries{recs: map[string]alert.Delivery{}}, q, alert.WebhookOptions{Logger: quiet})
	return router(w), ig.ID, secret
}

// fuzzSeeds are real payloads (events/) and malformed ones.
func fuzzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var hook struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(fixture(tb, "alert-webhook-ninjaone.json"), &hook); err != nil {
		tb.Fatal(err)
	}
	seeds := [][]byte{[]byte(hook.Body)}
	var batch struct {
		Records []struct {
			Body string `json:"body"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(fixture(tb, "sqs-alert.json"), &batch); err != nil {
		tb.Fatal(err)
	}
	for _, r := range batch.Records {
		m, err := alert.DecodeMessage([]byte(r.Body))
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, m.Activity, []byte(r.Body))
	}
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `"CONDITION"`, `{"activityType":"CONDITION"}`,
		`{"activityType":"CONDITION","statusCode":"TRIGGERED"}`,
		`{"activityType":"condition","statusCode":"reset","seriesUid":"s","deviceId":"12"}`,
		`{"activityType":"CONDITION","statusCode":"TRIGGERED","sourceConfigUid":"c","deviceId":1e400}`,
		`{"activityType":"CONDITION","statusCode":"TRIGGERED","seriesUid":"s","deviceId":"not-a-number"}`,
		`{"activityType":"CONDITION","statusCode":"TRIGGERED","seriesUid":"s","activityTime":-1e308}`,
		`{"activityType":"CONDITION","statusCode":"TRIGGERED","seriesUid":"s","activityTime":"yesterday"}`,
		`{"activityType":"CONDITION","statusCode":"TRIGGERED","seriesUid":"s","data":{"message":{"params":[1,{"x":null}]}}}`,
		`{"activityType":"CONDITION","statusCode":"TRIGGERED","seriesUid":"s","device":{"references":{"organization":null}}}`,
		`{"activityType":"ACTION","statusCode":"NODE_CREATED","id":` + strings.Repeat("9", 400) + `}`,
		`{"id":1,"activityType":"CONDITION","statusCode":"TRIGGERED","seriesUid":"` + strings.Repeat("é", 300) + `"}`,
		"{\"activityType\":\"CONDITION\",\"statusCode\":\"TRIGGERED\",\"seriesUid\":\"\xff\xfe\"}",
		"{\"activityType\":\"CONDITION\",\"statusCode\":\"TRIGGERED\",\"seriesUid\":\"s\",\"message\":\"\uffff\xef\xbf\xbe\xc0\"}",
		`{"activityType":"CONDITION","statusCode":"TRIGGERED","seriesUid":"s"}{"trailing":true}`,
		strings.Repeat(`{"a":`, 2000) + strings.Repeat(`}`, 2000),
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzParseWebhook feeds arbitrary bodies to the NinjaOne webhook parser,
// the webhook handler (authenticated, so the body reaches the parser) and
// the worker's message decoding. None may panic; the handler answers only
// 202, 400, 413 or 415; whatever it queues decodes and parses back to the
// same alert.
//
// make test runs it for 10 s; a longer run:
//
//	go test -run '^$' -fuzz FuzzParseWebhook -fuzztime 10m ./shared/alert/
func FuzzParseWebhook(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	parser := ninjaParser(f)
	q := &recordingQueue{}
	rt, igID, secret := memWebhook(f, q)
	f.Fuzz(func(t *testing.T, body []byte) {
		a, isAlert, err := parser.ParseWebhook(body)
		switch {
		case err != nil:
			if k := apperr.KindOf(err); k != apperr.Malformed && k != apperr.Invalid {
				t.Fatalf("parse error of kind %s: %v", k, err)
			}
		case isAlert && a.SeriesID == "":
			t.Fatalf("alert without series id from %q", body)
		}
		_, _ = alert.DecodeMessage(body)

		q.mu.Lock()
		q.msgs = q.msgs[:0]
		q.mu.Unlock()
		code, ack, prob := deliver(t, rt, hookRequest(igID, body, bearer(secret), nil))
		switch code {
		case http.StatusAccepted, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("status %d (%+v) for %q", code, prob, body)
		}
		q.mu.Lock()
		msgs := append([]alert.QueueMessage(nil), q.msgs...)
		q.mu.Unlock()
		switch {
		case code == http.StatusAccepted && ack.Duplicate && len(msgs) != 0:
			t.Fatalf("a duplicate of a queued alert was queued %d times", len(msgs))
		case code == http.StatusAccepted && err == nil && isAlert && !ack.Duplicate && len(msgs) != 1:
			t.Fatalf("an accepted alert was queued %d times", len(msgs))
		}
		for _, m := range msgs {
			if len(m.GroupID) > 128 || len(m.DedupID) > 128 {
				t.Fatalf("SQS ids too long: %q %q", m.GroupID, m.DedupID)
			}
			if !sqsBodyOK(m.Body) {
				t.Fatalf("queued body is not valid for SQS: %q", m.Body)
			}
			dm, derr := alert.DecodeMessage([]byte(m.Body))
			if derr != nil {
				t.Fatalf("queued message does not decode: %v", derr)
			}
			back, ok, perr := parser.ParseWebhook(dm.Activity)
			if perr != nil || !ok || back.SeriesID != a.SeriesID || back.ActivityID != a.ActivityID || back.State != a.State {
				t.Fatalf("queued activity parses to %+v (%v, %v), want %+v", back, ok, perr, a)
			}
		}
	})
}

// sqsBodyOK reports whether SQS accepts s as a message body: #x9, #xA,
// #xD, #x20–#xD7FF, #xE000–#xFFFD, #x10000–#x10FFFF.
func sqsBodyOK(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}
