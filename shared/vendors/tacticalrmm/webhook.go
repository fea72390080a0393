package tacticalrmm

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// The fields of the URL Action bodies the README documents (failure and
// resolved action of an alert template).
var webhookKeys = []string{"event", "alert_id", "alert_time", "resolved_on", "alert_type", "severity", "message",
	"check", "task", "agent_id", "hostname", "client_id", "client", "site_id", "site"}

// ParseWebhook reads a Tactical RMM URL Action body built from the README's
// templates. Tactical fills the {{…}} placeholders as text before parsing
// the body, so:
//
//   - every value is text: ids come as "42", falsy values (empty, 0,
//     False) and unknown properties as "None", datetimes as Python's
//     str() ("2024-05-01 10:00:00.123456+00:00"); a placeholder left
//     outside quotes arrives as a JSON number, true/false or null;
//   - a value holding a double quote breaks the JSON: Tactical then posts
//     the whole text as one JSON string; the fields are read from that
//     text by their names (the documented keys) instead;
//   - control characters came out as spaces, lone backslashes doubled.
//
// event "trigger" (also "triggered", "failure") opens the series
// alert_id, "resolved" (also "resolve", "reset") closes it; other events,
// and bodies without an alert id (the Web Hook's "Test" button runs it for
// an agent, without an alert), are well-formed non-alerts (isAlert false,
// nil error). A body that is no JSON object (nor a string holding one), or
// has no event, is apperr.Malformed; a client or site id that is not a
// Tactical id (a positive integer) is apperr.Invalid. The series is the
// alert id as text (Tactical keeps one alert per failing condition until
// it resolves; a new failure is a new alert).
func ParseWebhook(body []byte) (rmm.Alert, bool, error) {
	fields, err := webhookFields(body)
	if err != nil {
		return rmm.Alert{}, false, err
	}
	event, ok := fields["event"]
	if !ok {
		return rmm.Alert{}, false, apperr.New(apperr.Malformed, "the Tactical RMM URL Action body has no event field (use the README's body)")
	}
	var state rmm.AlertState
	switch strings.ToLower(event) {
	case "trigger", "triggered", "failure", "failed", "fail":
		state = rmm.AlertTriggered
	case "resolved", "resolve", "reset":
		state = rmm.AlertReset
	default:
		return rmm.Alert{}, false, nil
	}
	series := fields["alert_id"]
	if series == "" {
		return rmm.Alert{}, false, nil
	}
	for _, k := range []string{"client_id", "site_id"} {
		if v := fields[k]; v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
				return rmm.Alert{}, false, apperr.New(apperr.Invalid, "the Tactical RMM URL Action's %s %q is not an id", k, clip(v))
			}
		}
	}
	a := rmm.Alert{
		SeriesID:       series,
		ActivityID:     series + ":" + string(state),
		DeviceID:       fields["agent_id"],
		DeviceName:     fields["hostname"],
		OrganizationID: fields["client_id"],
		SiteID:         fields["site_id"],
		State:          state,
		Severity:       severity(fields["severity"]),
		Priority:       strings.ToLower(fields["severity"]),
		Code:           strings.ToLower(fields["alert_type"]),
		Subject:        fields["message"],
		Message:        fields["message"],
		SourceName:     firstNonEmpty(fields["check"], fields["task"], fields["alert_type"]),
	}
	values := map[string]string{}
	for _, k := range []string{"alert_type", "check", "task", "client", "site"} {
		if v := fields[k]; v != "" {
			values[k] = v
		}
	}
	if len(values) > 0 {
		a.Values = values
	}
	a.OccurredAt, _ = parseTime(fields["alert_time"])
	if state == rmm.AlertReset {
		if t, ok := parseTime(fields["resolved_on"]); ok {
			a.OccurredAt = t
		}
	}
	return a, true, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// webhookFields reads the body's fields as text, normalized (see value).
func webhookFields(body []byte) (map[string]string, error) {
	body = bytes.TrimSpace(body)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err == nil && raw != nil {
		out := map[string]string{}
		for k, v := range raw {
			if s, ok := scalarText(v); ok {
				if s = value(s); s != "" || k == "event" {
					out[k] = s
				}
			}
		}
		return out, nil
	}
	var text string
	if err := json.Unmarshal(body, &text); err == nil {
		if t := strings.TrimSpace(text); strings.HasPrefix(t, "{") {
			if err := json.Unmarshal([]byte(t), &raw); err == nil && raw != nil {
				return webhookFields([]byte(t))
			}
			return lenientFields(t), nil
		}
	}
	return nil, apperr.New(apperr.Malformed, "the Tactical RMM URL Action body is not a JSON object")
}

// scalarText renders a JSON scalar as text (objects and arrays: false).
func scalarText(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&n) == nil {
		return n.String(), true
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		if b {
			return "True", true
		}
		return "", true
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		return "", true
	}
	return "", false
}

// placeholderRE matches a placeholder Tactical left as it was (a model it
// does not know).
var placeholderRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\{\{.*\}\}$`) })

// value normalizes a substituted value: trimmed; "None" (falsy or unknown
// values) and unsubstituted placeholders are empty.
func value(s string) string {
	s = strings.TrimSpace(s)
	if s == "None" || placeholderRE().MatchString(s) {
		return ""
	}
	return s
}

// keyRE finds `"<documented key>": "` in a body Tactical could not parse.
var keyRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`"(` + strings.Join(webhookKeys, "|") + `)"\s*:\s*"`) })

// lenientFields reads the documented keys from a body that is not valid
// JSON (a substituted value held a double quote): each value runs from
// its key to the next documented key (or the closing brace), without the
// closing quote and comma. When a key appears twice (a message quoting
// one), the first occurrence wins.
func lenientFields(text string) map[string]string {
	out := map[string]string{}
	idx := keyRE().FindAllStringSubmatchIndex(text, -1)
	for i, m := range idx {
		key := text[m[2]:m[3]]
		end := len(text)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		seg := strings.TrimSpace(text[m[1]:end])
		if i == len(idx)-1 {
			seg = strings.TrimSpace(strings.TrimSuffix(seg, "}"))
		}
		seg = strings.TrimSpace(strings.TrimSuffix(seg, ","))
		seg = strings.TrimSuffix(seg, `"`)
		if _, seen := out[key]; seen {
			continue
		}
		var s string
		if json.Unmarshal([]byte(`"`+seg+`"`), &s) != nil {
			s = strings.ReplaceAll(seg, `\\`, `\`)
		}
		if s = value(s); s != "" || key == "event" {
			out[key] = s
		}
	}
	return out
}
