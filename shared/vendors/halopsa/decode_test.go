package halopsa

import (
	"strings"
	"testing"
)

// TestDecodeError: Halo's own refusals (JSON shapes, a JSON string, short
// plain text on a 4xx) become the message; HTML, long bodies and 5xx
// answers yield nothing.
func TestDecodeError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"json message", 400, `{"message":"Please enter a summary"}`, "Please enter a summary"},
		{"json string", 400, `"Please select a client"`, "Please select a client"},
		{"plain text", 400, "Asset 5 does not belong to client 3", "Asset 5 does not belong to client 3"},
		{"plain text on 403", 403, "You do not have permission to access this resource: Asset", "You do not have permission to access this resource: Asset"},
		{"html", 404, "<html><body>Not Found</body></html>", ""},
		{"5xx text", 503, "Service Unavailable", ""},
		{"long", 400, strings.Repeat("x", 400), ""},
		{"unknown json", 400, `{"ClassName":"System.Exception"}`, ""},
		{"empty", 400, "  ", ""},
	} {
		if got := decodeError(tc.status, []byte(tc.body)); got != tc.want {
			t.Errorf("%s: decodeError = %q, want %q", tc.name, got, tc.want)
		}
	}
}
