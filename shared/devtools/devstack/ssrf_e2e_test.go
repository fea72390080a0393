package devstack_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

// TestConnectionsRefuseSSRF covers issue 9 §3 through the local stack (the
// loopback switch on): a base URL that redirects to another origin is a 422
// naming the host the vendor redirected to, the target never receives a
// request (neither NinjaOne's client secret nor ConnectWise's Basic
// credentials), and nothing the target or the redirect said reaches the
// answer. (Private and other non-public addresses are tested offline, in
// netguard, connection and providers: this test opens no socket off
// 127.0.0.1, even if the guard were broken.)
func TestConnectionsRefuseSSRF(t *testing.T) {
	c := client(t)
	var mu sync.Mutex
	var seen []string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s auth=%q body=%q", r.Method, r.URL.Path, r.Header.Get("Authorization"), body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"message":"TARGET-REPLY-TEXT","error":"TARGET-REPLY-TEXT"}`)
	}))
	defer target.Close()
	tu, _ := url.Parse(target.URL)
	const secret = "ssrf-test-secret-value-77"
	cases := []struct {
		provider, kind, path string
		creds                map[string]string
	}{
		{"ninjaone", "rmm", "", map[string]string{"clientId": devstack.NinjaClientID, "clientSecret": secret}},
		{"connectwise", "psa", cwsandbox.BasePath, map[string]string{"companyId": devstack.CWCompanyID, "publicKey": devstack.CWPublicKey,
			"privateKey": secret, "clientId": devstack.CWClientID}},
	}
	for _, tc := range cases {
		for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
			t.Run(fmt.Sprintf("%s %d", tc.provider, status), func(t *testing.T) {
				origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Location", target.URL+r.URL.Path)
					w.WriteHeader(status)
					_, _ = io.WriteString(w, "REDIRECT-PAGE-TEXT")
				}))
				defer origin.Close()
				r := c.Do(http.MethodPost, "/v1/connections", map[string]any{"name": "redirecting " + tc.provider, "kind": tc.kind,
					"provider": tc.provider, "baseUrl": origin.URL + tc.path, "credentials": tc.creds})
				var p problem
				r.JSON(t, &p)
				if r.Status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != "credentials" ||
					!strings.Contains(p.Errors[0].Message, "redirected to "+tu.Host) {
					t.Errorf("create with a redirecting base URL = %d %s; want 422 naming credentials and the host %s", r.Status, r.Body, tu.Host)
				}
				t.Logf("redirect → %d: %s", r.Status, p.Detail)
				for _, leak := range []string{"TARGET-REPLY-TEXT", "REDIRECT-PAGE-TEXT", secret} {
					if strings.Contains(string(r.Body), leak) {
						t.Errorf("the answer shows %q: %s", leak, r.Body)
					}
				}
			})
		}
	}
	// A saved connection moved to a redirecting base URL is refused the
	// same way and keeps working where it was.
	origin := httptest.NewServer(http.RedirectHandler(target.URL+"/x", http.StatusTemporaryRedirect))
	defer origin.Close()
	r := c.Do(http.MethodPatch, "/v1/connections/"+env.RMMConnection, map[string]any{"baseUrl": origin.URL})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "redirected to "+tu.Host) {
		t.Errorf("PATCH to a redirecting base URL = %d %s, want 422 naming %s", r.Status, r.Body, tu.Host)
	}
	if r := c.Do(http.MethodPost, "/v1/connections/"+env.RMMConnection+"/test", nil); !strings.Contains(string(r.Body), `"ok"`) {
		t.Errorf("after the refused PATCH the connection must still test ok: %s", r.Body)
	}
	mu.Lock()
	if len(seen) != 0 {
		t.Errorf("the redirect target received %v, want nothing", seen)
	}
	mu.Unlock()

	if strings.Contains(logs.String(), secret) {
		t.Error("the test secret reached a log line")
	}
}
