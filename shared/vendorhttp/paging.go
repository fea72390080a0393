package vendorhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// ParseRetryAfter reads a Retry-After header given in seconds or as an HTTP
// date (relative to now). ok is false when the header is absent or
// unreadable; a date in the past yields 0 with ok true.
func ParseRetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

// DecodeErrorMessage is the default ErrorDecoder. It understands the common
// JSON error shapes — {"message"}, {"errorMessage"} (NinjaOne, with
// resultCode and incidentId), {"error", "error_description"} (OAuth),
// {"errors": ["..."]} (Autotask), {"errors": [{"message"}]} (ConnectWise
// field errors). Anything else — plain text, an HTML page, a proxy's or
// another server's reply — yields "": callers see only the vendor's own
// error fields (redacted and clipped by the Client), never raw reply text.
func DecodeErrorMessage(status int, body []byte) string {
	body = []byte(strings.TrimSpace(string(body)))
	if len(body) == 0 {
		return ""
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err == nil {
		var parts []string
		str := func(key string) string {
			var s string
			if raw, ok := m[key]; ok && json.Unmarshal(raw, &s) == nil {
				return strings.TrimSpace(s)
			}
			return ""
		}
		for _, k := range []string{"errorMessage", "message", "error_description", "Message"} {
			if s := str(k); s != "" {
				parts = append(parts, s)
				break
			}
		}
		if len(parts) == 0 {
			if s := str("error"); s != "" {
				parts = append(parts, s)
			}
		}
		if raw, ok := m["errors"]; ok {
			var ss []string
			var objs []struct {
				Message string `json:"message"`
				Field   string `json:"field"`
			}
			switch {
			case json.Unmarshal(raw, &ss) == nil:
				parts = append(parts, ss...)
			case json.Unmarshal(raw, &objs) == nil:
				for _, o := range objs {
					if o.Field != "" {
						parts = append(parts, o.Field+": "+o.Message)
					} else if o.Message != "" {
						parts = append(parts, o.Message)
					}
				}
			}
		}
		if s := str("incidentId"); s != "" && len(parts) > 0 {
			parts = append(parts, "incident "+s)
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// NextLink returns the URL of the rel="next" entry of an RFC 8288 Link
// header (ConnectWise paging), or "" when there is none.
func NextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, part := range splitLinks(v) {
			part = strings.TrimSpace(part)
			end := strings.Index(part, ">")
			if !strings.HasPrefix(part, "<") || end < 0 {
				continue
			}
			target := part[1:end]
			for _, p := range strings.Split(part[end+1:], ";") {
				p = strings.TrimSpace(p)
				k, val, ok := strings.Cut(p, "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return target
					}
				}
			}
		}
	}
	return ""
}

// splitLinks splits a Link header on the commas between entries (commas
// inside <...> belong to URLs).
func splitLinks(v string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range v {
		switch r {
		case '<':
			depth++
		case '>':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// KeysetFetch fetches the page after the given key ("" for the first page)
// with at most pageSize items.
type KeysetFetch[T any] func(ctx context.Context, after string, pageSize int) ([]T, error)

// CollectKeyset walks keyset pages (NinjaOne's pageSize + after = last id)
// and returns every item. It stops on a page shorter than pageSize or an
// empty page, and fails (Vendor) if the vendor returns the same last key
// twice instead of advancing. key extracts an item's paging key.
func CollectKeyset[T any](ctx context.Context, pageSize int, fetch KeysetFetch[T], key func(T) string) ([]T, error) {
	if pageSize <= 0 {
		return nil, fmt.Errorf("collect keyset pages: page size %d: %w", pageSize, apperr.New(apperr.Internal, "invalid page size"))
	}
	var all []T
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return all, apperr.Wrap(apperr.Unavailable, err, "listing stopped before the end")
		}
		page, err := fetch(ctx, after, pageSize)
		if err != nil {
			return all, err
		}
		all = append(all, page...)
		if len(page) < pageSize || len(page) == 0 {
			return all, nil
		}
		next := key(page[len(page)-1])
		if next == after || next == "" {
			return all, apperr.New(apperr.Vendor, "the vendor's paging did not advance past %q", after)
		}
		after = next
	}
}
