package vendorhttp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/netguard"
)

// targetBody is what the redirect target answers; it must never reach an
// error.
const targetBody = `{"message":"TARGET-REPLY-TEXT","access_token":"TARGET-TOKEN"}`

// recordingTarget is a second origin (another port on 127.0.0.1) that
// records every request it receives, with its credentials.
type recordingTarget struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD path | Authorization | clientId | body"
}

func newRecordingTarget(t *testing.T) *recordingTarget {
	t.Helper()
	rt := &recordingTarget{}
	rt.srv = newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rt.mu.Lock()
		rt.seen = append(rt.seen, fmt.Sprintf("%s %s | %s | %s | %s", r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("clientId"), body))
		rt.mu.Unlock()
		answer(http.StatusOK, nil, targetBody)(w, r)
	}))
	return rt
}

func (rt *recordingTarget) Seen() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.seen...)
}

func (rt *recordingTarget) host() string {
	u, _ := url.Parse(rt.srv.URL)
	return u.Host
}

// redirector answers every request with status and a Location on target.
func redirector(status int, target string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target+"/steal?access_token=LOCATION-TOKEN")
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<html>REDIRECT-PAGE-TEXT</html>")
	}
}

var redirectStatuses = []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect}

// checkRedirectError asserts err is the redirect refusal naming host and
// showing nothing else of the redirect or of the target.
func checkRedirectError(t *testing.T, err error, host string, status int) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid || e.VendorStatus != status {
		t.Fatalf("err = %#v, want Invalid with VendorStatus %d", err, status)
	}
	if !strings.Contains(e.Message, "redirected to "+host) {
		t.Errorf("message %q does not name the host %s", e.Message, host)
	}
	for _, leak := range []string{"TARGET-REPLY-TEXT", "TARGET-TOKEN", "LOCATION-TOKEN", "/steal", "REDIRECT-PAGE-TEXT"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q shows %q", err.Error(), leak)
		}
	}
}

func TestDoNeverFollowsRedirects(t *testing.T) {
	auths := map[string]func(tokenURL string) Auth{
		"basic (ConnectWise)": func(string) Auth {
			return BasicWithClientID{Username: "acme+pub", Password: "PRIVATE-KEY", ClientID: "guid"}
		},
		"oauth bearer (NinjaOne)": func(tokenURL string) Auth {
			return &OAuthClientCredentials{TokenURL: tokenURL, ClientID: "cid", ClientSecret: "CLIENT-SECRET"}
		},
	}
	for name, mkAuth := range auths {
		for _, status := range redirectStatuses {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				t.Run(fmt.Sprintf("%s %d %s", name, status, method), func(t *testing.T) {
					target := newRecordingTarget(t)
					tokens := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						answer(http.StatusOK, nil, `{"access_token":"API-TOKEN","expires_in":3600}`)(w, r)
					}))
					s := &scripted{answers: []func(http.ResponseWriter, *http.Request){redirector(status, target.srv.URL)}}
					origin := newServer(t, s)
					sl := &sleepRecorder{}
					c := newClient(t, Options{BaseURL: origin.URL, Auth: mkAuth(tokens.URL + "/oauth/token"), Sleep: sl.Sleep})
					_, err := c.Do(context.Background(), Request{Method: method, Path: "/v2/organizations", Body: map[string]string{"name": "x"}}, nil)
					checkRedirectError(t, err, target.host(), status)
					if got := target.Seen(); len(got) != 0 {
						t.Errorf("the redirect target received %v, want nothing", got)
					}
					if got := s.count(); got != 1 {
						t.Errorf("origin saw %d requests, want 1 (a redirect is final)", got)
					}
					if w := sl.Waits(); len(w) != 0 {
						t.Errorf("waited %v before retrying a redirect", w)
					}
				})
			}
		}
	}

	t.Run("same-origin redirect is not followed either", func(t *testing.T) {
		var mu sync.Mutex
		var paths []string
		var origin *httptest.Server
		origin = newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			paths = append(paths, r.URL.Path)
			mu.Unlock()
			if r.URL.Path == "/v2/organizations" {
				http.Redirect(w, r, origin.URL+"/elsewhere", http.StatusFound)
				return
			}
			answer(http.StatusOK, nil, `[]`)(w, r)
		}))
		c := newClient(t, Options{BaseURL: origin.URL, Auth: BasicWithClientID{Username: "u", Password: "p"}})
		_, err := c.Do(context.Background(), Request{Path: "/v2/organizations"}, nil)
		u, _ := url.Parse(origin.URL)
		checkRedirectError(t, err, u.Host, http.StatusFound)
		if !strings.Contains(err.Error(), "(the same host)") {
			t.Errorf("error %q does not say the redirect stayed on the host", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(paths) != 1 {
			t.Errorf("origin saw %v, want only the first request", paths)
		}
	})

	t.Run("a caller's client that follows redirects is overridden", func(t *testing.T) {
		target := newRecordingTarget(t)
		origin := newServer(t, redirector(http.StatusTemporaryRedirect, target.srv.URL))
		follow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
		c := newClient(t, Options{BaseURL: origin.URL, HTTPClient: follow, Auth: BasicWithClientID{Username: "u", Password: "PRIVATE-KEY"}})
		_, err := c.Do(context.Background(), Request{Path: "/x"}, nil)
		checkRedirectError(t, err, target.host(), http.StatusTemporaryRedirect)
		if got := target.Seen(); len(got) != 0 {
			t.Errorf("the redirect target received %v, want nothing", got)
		}
	})
}

func TestOAuthTokenFetchNeverFollowsRedirects(t *testing.T) {
	for _, inHeader := range []bool{false, true} {
		for _, status := range redirectStatuses {
			t.Run(fmt.Sprintf("credentialsInHeader=%v %d", inHeader, status), func(t *testing.T) {
				target := newRecordingTarget(t)
				api := &scripted{answers: []func(http.ResponseWriter, *http.Request){answer(http.StatusOK, nil, `[]`)}}
				origin := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/oauth/token" {
						redirector(status, target.srv.URL)(w, r)
						return
					}
					api.ServeHTTP(w, r)
				}))
				auth := &OAuthClientCredentials{TokenURL: origin.URL + "/oauth/token", ClientID: "cid", ClientSecret: "CLIENT-SECRET", CredentialsInHeader: inHeader}
				sl := &sleepRecorder{}
				c := newClient(t, Options{BaseURL: origin.URL, Auth: auth, Sleep: sl.Sleep})
				_, err := c.Do(context.Background(), Request{Path: "/v2/organizations"}, nil)
				checkRedirectError(t, err, target.host(), status)
				if !strings.HasPrefix(err.Error(), "the token endpoint redirected") {
					t.Errorf("error %q does not say the token endpoint redirected", err)
				}
				if got := target.Seen(); len(got) != 0 {
					t.Errorf("the redirect target received %v, want nothing (no client secret)", got)
				}
				if api.count() != 0 {
					t.Errorf("the API got %d requests without a token", api.count())
				}
				if auth.Fetches() != 1 || len(sl.Waits()) != 0 {
					t.Errorf("fetches %d, waits %v: want one fetch, no retry", auth.Fetches(), sl.Waits())
				}
			})
		}
	}
}

// TestErrorBodiesAreNotEchoed checks that only the vendor's own JSON error
// fields, redacted and clipped, reach an error; raw reply text never does.
func TestErrorBodiesAreNotEchoed(t *testing.T) {
	huge := strings.Repeat("HUGE-BODY ", 200_000)
	tests := []struct {
		name        string
		contentType string
		body        string
		leaks       []string
		wantMessage string // exact, when set
	}{
		{name: "short plain text", contentType: "text/plain", body: "upstream 10.1.2.3 /srv/app/secret.cfg", leaks: []string{"10.1.2.3", "secret.cfg"},
			wantMessage: "TestVendor refused the request (HTTP 400)"},
		{name: "huge plain text", contentType: "text/plain", body: huge, leaks: []string{"HUGE-BODY"}},
		{name: "html page", contentType: "text/html", body: "<html><body><h1>nginx</h1><p>INTERNAL-PAGE</p>" + huge + "</body></html>", leaks: []string{"INTERNAL-PAGE", "nginx", "HUGE-BODY"}},
		{name: "json string", contentType: "application/json", body: `"RAW-JSON-STRING"`, leaks: []string{"RAW-JSON-STRING"}},
		{name: "json with huge message", contentType: "application/json", body: `{"message":"` + huge + `"}`},
		{name: "json with a secret", contentType: "application/json", body: `{"message":"bad key AKIAIOSFODNN7EXAMPLE, aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`,
			leaks: []string{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, tt.body)
			}))
			c := newClient(t, Options{BaseURL: srv.URL})
			_, err := c.Do(context.Background(), Request{Path: "/x"}, nil)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Invalid {
				t.Fatalf("err = %v, want Invalid", err)
			}
			if len(e.Message) > 400 {
				t.Errorf("message is %d bytes, want ≤ 400", len(e.Message))
			}
			if tt.wantMessage != "" && e.Message != tt.wantMessage {
				t.Errorf("message %q, want %q", e.Message, tt.wantMessage)
			}
			for _, leak := range tt.leaks {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %.200q shows %q", err.Error(), leak)
				}
			}
		})
	}
}

// TestDoRefusedAddressIsFinal checks that a connection the address guard
// refuses is an Invalid error naming the reason, is not retried, and never
// reaches the server.
func TestDoRefusedAddressIsFinal(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter, *http.Request){answer(http.StatusOK, nil, `{}`)}}
	srv := newServer(t, s)
	guarded := &http.Client{Transport: netguard.NewTransport(&netguard.Dialer{})}
	for _, auth := range []Auth{nil, &OAuthClientCredentials{TokenURL: srv.URL + "/oauth/token", ClientID: "cid", ClientSecret: "s", HTTPClient: guarded}} {
		sl := &sleepRecorder{}
		c := newClient(t, Options{BaseURL: srv.URL, HTTPClient: guarded, Auth: auth, Sleep: sl.Sleep})
		_, err := c.Do(context.Background(), Request{Path: "/x"}, nil)
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Invalid || !netguard.IsRefused(err) {
			t.Fatalf("err = %v, want an Invalid refusal", err)
		}
		if !strings.Contains(e.Message, "127.0.0.1 is a loopback address") {
			t.Errorf("message %q does not say why", e.Message)
		}
		if len(sl.Waits()) != 0 || s.count() != 0 {
			t.Errorf("waits %v, server hits %d: want no retry and no request", sl.Waits(), s.count())
		}
	}
}
