package alertwebhookfn

import (
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
)

// TestRequestIDLogKey: the webhook logs API Gateway's request id under the
// key the HTTP edge uses, so both lines of a request can be joined.
func TestRequestIDLogKey(t *testing.T) {
	if alert.LogKeyRequestID != httpapi.LogKeyAPIRequestID {
		t.Errorf("alert logs the request id as %q, httpapi as %q", alert.LogKeyRequestID, httpapi.LogKeyAPIRequestID)
	}
}
