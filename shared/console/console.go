// Package console serves the operator console: a single-page application of
// plain HTML, CSS and JavaScript modules embedded in the binary, which
// calls the /v1 API from the browser on the same origin. It is the
// console function's handler (template.yaml routes GET / and
// GET /console/{proxy+} to it, without the authorizer: the files are
// public, the data behind them is not).
//
// Every answer carries a strict Content-Security-Policy (scripts, styles,
// images, fonts and API calls from this origin only; no inline script or
// style; no framing), X-Content-Type-Options nosniff and a no-referrer
// policy. Files are revalidated on every load (ETag, 304).
package console

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

//go:embed static
var static embed.FS

// Route keys of the console function, as template.yaml declares them.
const (
	IndexRoute  = "GET /"
	AssetsRoute = "GET /console/{proxy+}"
)

// AssetPrefix is the URL path under which the console's files are served.
const AssetPrefix = "/console/"

// CSP is the Content-Security-Policy of every answer.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one embedded file, ready to serve.
type file struct {
	body        string
	contentType string
	etag        string
}

// entry is an embedded file read, typed and hashed on its first request,
// so a cold start costs a directory walk, not a read and SHA-256 of every
// file (about half a millisecond) plus the mime table's first load.
type entry struct {
	once sync.Once
	f    file
	err  error
}

// Console serves the embedded files.
type Console struct {
	fsys  fs.FS
	files map[string]*entry // by path below static/, e.g. "app.js"
}

// New loads the embedded files.
func New() (*Console, error) {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	return newFrom(sub)
}

func newFrom(fsys fs.FS) (*Console, error) {
	c := &Console{fsys: fsys, files: map[string]*entry{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		c.files[p] = &entry{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, ok := c.files["index.html"]; !ok {
		return nil, fs.ErrNotExist
	}
	return c, nil
}

// load reads, types and hashes the file at p once.
func (e *entry) load(fsys fs.FS, p string) (file, error) {
	e.once.Do(func() {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			e.err = fmt.Errorf("console file %s: %w", p, err)
			return
		}
		sum := sha256.Sum256(b)
		e.f = file{body: string(b), contentType: contentType(p), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	})
	return e.f, e.err
}

func contentType(p string) string {
	switch path.Ext(p) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".json":
		return "application/json; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(path.Ext(p)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// Files lists the served paths below /console/ (index.html is also /).
func (c *Console) Files() []string {
	out := make([]string, 0, len(c.files))
	for p := range c.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// RouteKeys lists the routes the console answers.
func RouteKeys() []string { return []string{IndexRoute, AssetsRoute} }

// SecurityHeaders are set on every answer.
func SecurityHeaders() map[string]string {
	return map[string]string{
		"content-security-policy":    CSP,
		"x-content-type-options":     "nosniff",
		"x-frame-options":            "DENY",
		"referrer-policy":            "no-referrer",
		"cross-origin-opener-policy": "same-origin",
		"permissions-policy":         "camera=(), microphone=(), geolocation=()",
	}
}

// Serve is the console function's HTTP handler.
func (c *Console) Serve(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	key := ev.RouteKey
	if key == "" || key == "$default" {
		key = ev.RequestContext.RouteKey
	}
	var name string
	switch key {
	case IndexRoute:
		name = "index.html"
	case AssetsRoute:
		name = ev.PathParameters["proxy"]
	}
	f, ok, err := c.lookup(name)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if !ok {
		return answer(http.StatusNotFound, "text/plain; charset=utf-8", "not found\n", nil), nil
	}
	extra := map[string]string{"etag": f.etag, "cache-control": "no-cache"}
	if inm := header(ev, "if-none-match"); inm != "" && etagMatch(inm, f.etag) {
		return answer(http.StatusNotModified, "", "", extra), nil
	}
	return answer(http.StatusOK, f.contentType, f.body, extra), nil
}

// lookup finds an embedded file by its request path: clean, relative,
// without dot segments or hidden names.
func (c *Console) lookup(name string) (file, bool, error) {
	if name == "" || strings.Contains(name, "\\") || strings.HasPrefix(name, "/") || !fs.ValidPath(name) {
		return file{}, false, nil
	}
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return file{}, false, nil
		}
	}
	e, ok := c.files[name]
	if !ok {
		return file{}, false, nil
	}
	f, err := e.load(c.fsys, name)
	return f, err == nil, err
}

func header(ev events.APIGatewayV2HTTPRequest, name string) string {
	for k, v := range ev.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func etagMatch(inm, etag string) bool {
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func answer(status int, ctype, body string, extra map[string]string) events.APIGatewayV2HTTPResponse {
	h := SecurityHeaders()
	for k, v := range extra {
		h[k] = v
	}
	if ctype != "" {
		h["content-type"] = ctype
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: h, Body: body}
}
