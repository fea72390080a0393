// Package config reads a function's environment into a typed struct.
//
// Each function reads only the variables its template.yaml entry gives it,
// through an injected getenv, and learns about every missing or malformed
// variable at once rather than one per deploy.
package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Reader collects values and problems. Use it once, then call Err.
type Reader struct {
	getenv   func(string) string
	problems []string
}

// New returns a Reader over getenv (os.Getenv in Lambda, the template's
// resolved environment in the local stack).
func New(getenv func(string) string) *Reader {
	return &Reader{getenv: getenv}
}

// String returns a required variable.
func (r *Reader) String(name string) string {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		r.problems = append(r.problems, name+" is not set")
	}
	return v
}

// Optional returns a variable or def when it is unset.
func (r *Reader) Optional(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

// URL returns a required absolute URL (queue URLs, base URLs).
func (r *Reader) URL(name string) string {
	v := r.String(name)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		r.problems = append(r.problems, name+" is not an absolute URL")
	}
	return v
}

// Bool returns an optional boolean (true/false/1/0), def when unset.
func (r *Reader) Bool(name string, def bool) bool {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.problems = append(r.problems, fmt.Sprintf("%s=%q is not a boolean", name, v))
	}
	return b
}

// Duration returns an optional Go duration, def when unset.
func (r *Reader) Duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.problems = append(r.problems, fmt.Sprintf("%s=%q is not a duration", name, v))
	}
	return d
}

// Err reports every problem found, or nil.
func (r *Reader) Err() error {
	if len(r.problems) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %s", strings.Join(r.problems, "; "))
}
