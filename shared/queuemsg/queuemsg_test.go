package queuemsg_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
)

// TestSettle is the retry / give-up / record-on-last-receive rule every
// worker follows, case by case.
func TestSettle(t *testing.T) {
	transient := apperr.New(apperr.Unavailable, "the PSA is down")
	refused := apperr.New(apperr.Invalid, "the PSA refused the asset: name too long")
	internal := errors.New("nil map write")
	recordErr := apperr.New(apperr.Unavailable, "table down")
	tests := []struct {
		name     string
		err      error
		receives int
		noRecord bool // nothing to record into
		failRec  bool // the record itself fails
		wantErr  bool
		want     []string // reasons recorded
	}{
		{name: "success", err: nil, receives: 1},
		{name: "transient before the last receive: back to the queue, nothing recorded", err: transient, receives: 4, wantErr: true},
		{name: "transient on the last receive: recorded, then the DLQ", err: transient, receives: queuemsg.MaxReceives,
			wantErr: true, want: []string{"the PSA is down"}},
		{name: "given up: recorded and acknowledged", err: queuemsg.GiveUp(refused, ""), receives: 1, want: []string{"the PSA refused the asset: name too long"}},
		{name: "given up names what failed", err: queuemsg.GiveUp(refused, "create the asset"), receives: 2,
			want: []string{"create the asset: the PSA refused the asset: name too long"}},
		{name: "an internal error's text is never recorded", err: internal, receives: queuemsg.MaxReceives + 1,
			wantErr: true, want: []string{"internal error; see the test-worker logs"}},
		{name: "a permanent kind not given up is retried", err: refused, receives: 1, wantErr: true},
		{name: "given up with nothing to record into: acknowledged", err: queuemsg.GiveUp(refused, ""), receives: 1, noRecord: true},
		{name: "last receive with nothing to record into: the DLQ", err: transient, receives: queuemsg.MaxReceives, noRecord: true, wantErr: true},
		{name: "a failed record sends even a given-up message back", err: queuemsg.GiveUp(refused, ""), receives: 1, failRec: true,
			wantErr: true, want: []string{"the PSA refused the asset: name too long"}},
	}
	s := queuemsg.Settler{Name: "test-worker", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			record := func(ctx context.Context, reason string) error {
				if ctx.Err() != nil {
					t.Error("the failure is recorded with a context that has ended")
				}
				got = append(got, reason)
				if tt.failRec {
					return recordErr
				}
				return nil
			}
			if tt.noRecord {
				record = nil
			}
			err := s.Settle(context.Background(), queuemsg.Message{ID: "m1", Receives: tt.receives}, tt.err, record)
			if (err != nil) != tt.wantErr {
				t.Errorf("Settle = %v, want error %v", err, tt.wantErr)
			}
			if tt.failRec && !errors.Is(err, recordErr) {
				t.Errorf("Settle = %v, want the record's error in it", err)
			}
			if tt.err != nil && err != nil && !errors.Is(err, tt.err) && !errors.Is(err, errors.Unwrap(tt.err)) {
				t.Errorf("Settle = %v, want the work's error in it", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("recorded reasons (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeAssetRefresh(t *testing.T) {
	m, err := queuemsg.DecodeAssetRefresh(`{"tenantId":"t1","integrationId":"i1","jobId":"j1","deviceId":"d1","reason":"import"}`)
	if diff := cmp.Diff(queuemsg.AssetRefresh{TenantID: "t1", IntegrationID: "i1", JobID: "j1", DeviceID: "d1", Reason: "import"}, m); err != nil || diff != "" {
		t.Errorf("decode: %v (-want +got):\n%s", err, diff)
	}
	for _, body := range []string{`not json`, `{"tenantId":"t1","integrationId":"i1"}`, `{"deviceId":"d1"}`} {
		if _, err := queuemsg.DecodeAssetRefresh(body); !apperr.Is(err, apperr.Malformed) {
			t.Errorf("DecodeAssetRefresh(%s) = %v, want Malformed", body, err)
		}
	}
}
