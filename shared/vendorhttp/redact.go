package vendorhttp

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
)

// Redacted replaces every secret this package masks.
const Redacted = "[REDACTED]"

// secretPatterns match secrets inside free text: authorization header
// values, JSON members and form/query parameters whose names say they hold a
// credential. Group 1 is kept, the rest is masked. They are compiled on
// first use, not at a function's cold start.
var secretPatterns = sync.OnceValue(func() []*regexp.Regexp {
	return []*regexp.Regexp{
		// Authorization: Bearer abc / Basic abc (header dumps, error texts).
		regexp.MustCompile(`(?i)((?:bearer|basic)\s+)[A-Za-z0-9\-._~+/=]{4,}`),
		// "access_token":"abc", "client_secret": "abc", "password":"abc", ...
		regexp.MustCompile(`(?i)("(?:[a-z_]*token|[a-z_]*secret|password|passwd|api_?key|private_?key|authorization|cookie|session_?key)"\s*:\s*")[^"]*`),
		// access_token=abc&client_secret=abc (form bodies, query strings).
		regexp.MustCompile(`(?i)((?:^|[?&\s])(?:[a-z_]*token|[a-z_]*secret|password|passwd|api_?key|private_?key|session_?key)=)[^&\s"]*`),
		// AWS credentials in any of their spellings: aws_secret_access_key=…,
		// AWS_SESSION_TOKEN: …, "SecretAccessKey": "…", SessionToken=… (env
		// dumps, ini and YAML files, STS answers, SDK errors).
		regexp.MustCompile(`(?i)((?:aws_?)?(?:secret_?access_?key|session_?token|security_?token)["']?\s*[:=]\s*["']?)[^\s"'&,;}]+`),
		// Presigned URL parameters: X-Amz-Security-Token, X-Amz-Signature,
		// X-Amz-Credential.
		regexp.MustCompile(`(?i)(x-amz-(?:security-token|signature|credential)=)[^&\s"]*`),
		// AWS access key ids (AKIA… long-term, ASIA… temporary, and the other
		// IAM unique-id prefixes that can act as key ids), anywhere.
		regexp.MustCompile(`()\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b`),
	}
})

// Redact masks credentials that appear in s: Bearer/Basic authorization
// values, the values of JSON members or form/query parameters named like
// tokens, secrets, passwords and keys, AWS access key ids (AKIA…, ASIA…),
// AWS secret access keys and session tokens in their env, ini, YAML, JSON
// and presigned-URL spellings. It is applied to every vendor message
// before it reaches an error or a log line.
func Redact(s string) string {
	for _, re := range secretPatterns() {
		s = re.ReplaceAllString(s, "${1}"+Redacted)
	}
	return s
}

// sensitiveKey reports whether a log attribute or header key names a
// credential.
func sensitiveKey(k string) bool {
	k = strings.ToLower(strings.NewReplacer("-", "", "_", "", ".", "").Replace(k))
	for _, part := range []string{"authorization", "token", "secret", "password", "passwd", "apikey", "privatekey", "cookie", "sessionkey", "credential", "accesskey", "signature"} {
		if strings.Contains(k, part) {
			return true
		}
	}
	return false
}

// ReplaceAttr is a slog.HandlerOptions.ReplaceAttr that masks attributes
// named like credentials (authorization, *token*, *secret*, password, api
// key, private key, cookie) and redacts secrets inside string values.
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	return redactAttr(a)
}

func redactAttr(a slog.Attr) slog.Attr {
	if sensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, 0, len(attrs))
		for _, g := range attrs {
			out = append(out, redactAttr(g))
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, Redact(err.Error()))
		}
		if s, ok := v.Any().(interface{ String() string }); ok {
			return slog.String(a.Key, Redact(s.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// RedactingHandler wraps a slog.Handler so that no record it passes on
// carries a credential: the message and every attribute go through Redact
// and ReplaceAttr. Use it around handlers whose options you do not control
// (for example lambdacontext.NewLogger's).
func RedactingHandler(next slog.Handler) slog.Handler {
	return redactingHandler{next: next}
}

type redactingHandler struct{ next slog.Handler }

func (h redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return redactingHandler{next: h.next.WithAttrs(red)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{next: h.next.WithGroup(name)}
}
