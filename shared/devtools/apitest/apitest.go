// Package apitest is an HTTP client for end-to-end tests of the API: it
// calls a running stack (the local stack on loopback) and checks every
// request it sends and every response it gets against openapi.yaml, so the
// contract cannot drift from the code unnoticed.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

var (
	specOnce sync.Once
	spec     *openapi3.T
	specErr  error
)

// RepoRoot walks up from the working directory to the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		spec, specErr = loader.LoadFromFile(filepath.Join(RepoRoot(t), "openapi.yaml"))
		if specErr == nil {
			specErr = spec.Validate(loader.Context)
		}
	})
	if specErr != nil {
		t.Fatalf("openapi.yaml: %v", specErr)
	}
	return spec
}

// Client talks to one API base URL with one API key.
type Client struct {
	t       testing.TB
	BaseURL string
	Key     string
	router  routers.Router
	http    *http.Client
}

// New returns a Client for baseURL (e.g. the local stack's APIURL()).
func New(t testing.TB, baseURL, key string) *Client {
	t.Helper()
	doc := *loadSpec(t)
	doc.Servers = openapi3.Servers{{URL: strings.TrimRight(baseURL, "/")}}
	r, err := legacy.NewRouter(&doc)
	if err != nil {
		t.Fatalf("openapi router: %v", err)
	}
	return &Client{t: t, BaseURL: strings.TrimRight(baseURL, "/"), Key: key, router: r, http: &http.Client{}}
}

// WithKey returns a copy using another API key ("" sends none).
func (c *Client) WithKey(key string) *Client {
	cp := *c
	cp.Key = key
	return &cp
}

// Response is what a call returned.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it can't.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %d response: %v: %s", r.Status, err, r.Body)
	}
}

// Do sends a request (body marshalled as JSON unless it is []byte) and
// validates the response against the operation's documented responses:
// the status must be listed (or covered by default) and the body must match
// its schema. A request for a route the spec does not have fails the test.
func (c *Client) Do(method, path string, body any) Response {
	c.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			c.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, c.BaseURL+path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header, Body: out}
	if err := c.validate(req, raw, r); err != nil {
		c.t.Errorf("%s %s → %d does not match openapi.yaml: %v\nbody: %s", method, path, r.Status, err, out)
	}
	return r
}

func (c *Client) validate(req *http.Request, reqBody []byte, r Response) error {
	// API Gateway's own 401/404 bodies ({"message":...}) come before our
	// code; only our responses are held to the spec.
	if r.Header.Get("x-request-id") == "" {
		return nil
	}
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		return fmt.Errorf("no operation for this request: %w", err)
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus:   true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()},
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
	rv := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.Status, Header: r.Header, Options: opts}
	rv.SetBodyBytes(r.Body)
	return openapi3filter.ValidateResponse(context.Background(), rv)
}
