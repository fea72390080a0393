package dattormm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// The two webhook bodies to paste into Datto RMM (Setup → Integrations →
// Global Webhooks, or a monitor's webhook response), documented in the
// README: one for "alert triggered", one for "alert resolved". Datto posts
// the text with each bracketed variable substituted. Only event and
// alertUid are needed; the rest is read when present. The variable names
// come from Datto's help and public templates ([alert_uid], [platform],
// [alert_message], [alert_priority], [device_hostname]: [P]); [device_uid]
// and [site_uid] are not confirmed [U]: when Datto leaves a variable as
// written, the field counts as absent and the alert's device and site come
// from GET /v2/alert/{uid} (ResolveAlert).
const (
	TriggeredBody = `{"source":"datto-rmm","event":"triggered","alertUid":"[alert_uid]","platform":"[platform]","deviceUid":"[device_uid]","siteUid":"[site_uid]","hostname":"[device_hostname]","priority":"[alert_priority]","message":"[alert_message]","timestamp":"[timestamp]"}`
	ResolvedBody  = `{"source":"datto-rmm","event":"resolved","alertUid":"[alert_uid]","platform":"[platform]","deviceUid":"[device_uid]","siteUid":"[site_uid]","hostname":"[device_hostname]","priority":"[alert_priority]","message":"[alert_message]","timestamp":"[timestamp]"}`
)

// webhookText is a body field: a JSON string, or a number, boolean or
// null (an MSP may leave a variable unquoted), as text.
type webhookText string

func (t *webhookText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*t = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = webhookText(s)
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("a webhook field is an object or array")
	default:
		*t = webhookText(b)
	}
	return nil
}

// webhookBody is the pasted body's fields.
type webhookBody struct {
	Source    webhookText `json:"source"`
	Event     webhookText `json:"event"`
	AlertUID  webhookText `json:"alertUid"`
	Platform  webhookText `json:"platform"`
	DeviceUID webhookText `json:"deviceUid"`
	SiteUID   webhookText `json:"siteUid"`
	Hostname  webhookText `json:"hostname"`
	Priority  webhookText `json:"priority"`
	Message   webhookText `json:"message"`
	Timestamp webhookText `json:"timestamp"`
}

// isVariable reports whether s is an unsubstituted Datto variable
// ("[alert_uid]"): letters, digits and underscores in brackets.
func isVariable(s string) bool {
	if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '_' {
			return false
		}
	}
	return true
}

// value returns t trimmed, "" when it is an unsubstituted variable.
func (t webhookText) value() string {
	s := strings.TrimSpace(string(t))
	if isVariable(s) {
		return ""
	}
	return s
}

// salvageRE finds the two fields a body must carry when Datto's text
// substitution (which need not escape quotes in a message) broke the JSON;
// compiled on first use (no regexp work at start).
var salvageRE = sync.OnceValue(func() map[string]*regexp.Regexp {
	return map[string]*regexp.Regexp{
		"event":    regexp.MustCompile(`"event"\s*:\s*"([A-Za-z_]{1,32})"`),
		"alertUid": regexp.MustCompile(`"alertUid"\s*:\s*"([A-Za-z0-9-]{1,64}|\[alert_uid\])"`),
	}
})

// ParseWebhook reads one of the two bodies (TriggeredBody, ResolvedBody)
// as Datto posts them. event "triggered" is an alert trigger and
// "resolved" its reset (case-insensitive; "trigger"/"resolve" too); the
// series is the alert uid. Another event (a test template) is isAlert
// false with no error, as is a body whose alertUid Datto left as
// "[alert_uid]" (the webhook screen's test send). A body that is not a
// JSON object with event or alertUid is apperr.Malformed; an alert event
// without a usable alertUid is apperr.Invalid. When the JSON is broken (a
// message with an unescaped quote) but event and alertUid can be read,
// they are used and the rest is left to ResolveAlert. Priority, device,
// site and message in the body are hints: ResolveAlert reads the
// authoritative ones.
func ParseWebhook(body []byte) (rmm.Alert, bool, error) {
	var w webhookBody
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return rmm.Alert{}, false, apperr.New(apperr.Malformed, "the Datto RMM webhook body is not a JSON object")
	}
	if err := json.Unmarshal(trimmed, &w); err != nil {
		re := salvageRE()
		ev, uid := re["event"].FindSubmatch(trimmed), re["alertUid"].FindSubmatch(trimmed)
		if ev == nil || uid == nil {
			return rmm.Alert{}, false, apperr.Wrap(apperr.Malformed, err, "the Datto RMM webhook body is not valid JSON")
		}
		w = webhookBody{Event: webhookText(ev[1]), AlertUID: webhookText(uid[1])}
	}
	if w.Event == "" && w.AlertUID == "" {
		return rmm.Alert{}, false, apperr.New(apperr.Malformed, "the Datto RMM webhook body has neither event nor alertUid: paste the README's body")
	}
	var state rmm.AlertState
	switch strings.ToLower(w.Event.value()) {
	case "triggered", "trigger":
		state = rmm.AlertTriggered
	case "resolved", "resolve":
		state = rmm.AlertReset
	default:
		return rmm.Alert{}, false, nil
	}
	raw := strings.TrimSpace(string(w.AlertUID))
	if isVariable(raw) {
		return rmm.Alert{}, false, nil
	}
	if !isUID(raw) {
		return rmm.Alert{}, false, apperr.New(apperr.Invalid, "the Datto RMM webhook's alertUid %q is not an alert uid", clipText(raw, 70))
	}
	a := rmm.Alert{
		SeriesID: raw, ActivityID: raw + ":" + string(state), State: state,
		DeviceName: w.Hostname.value(), Priority: strings.ToLower(w.Priority.value()),
		Message: w.Message.value(), OccurredAt: parseTime(w.Timestamp.value()),
	}
	a.Severity = severity(a.Priority)
	a.Subject = firstLine(a.Message)
	if d := w.DeviceUID.value(); isUID(d) {
		a.DeviceID = d
	}
	if s := w.SiteUID.value(); isUID(s) {
		a.OrganizationID, a.SiteID = s, s
	}
	if p := w.Platform.value(); p != "" {
		a.Values = map[string]string{"platform": clipText(p, 64)}
	}
	return a, true, nil
}

// ParseWebhook implements rmm.WebhookParser (see the package function).
func (c *Client) ParseWebhook(body []byte) (rmm.Alert, bool, error) { return ParseWebhook(body) }

// severity maps Datto's priority (Critical, High, Moderate, Low,
// Information, Unknown).
func severity(priority string) rmm.Severity {
	switch strings.ToLower(strings.TrimSpace(priority)) {
	case "critical":
		return rmm.SeverityCritical
	case "high":
		return rmm.SeverityMajor
	case "moderate":
		return rmm.SeverityModerate
	case "low":
		return rmm.SeverityMinor
	}
	return rmm.SeverityNone
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return clipText(strings.TrimSpace(s), 200)
}

// toAlert maps an alert: open alerts are triggered, resolved ones reset.
// Code is the alertContext's @class, Values its other fields.
func toAlert(a apiAlert) rmm.Alert {
	al := rmm.Alert{
		SeriesID: a.AlertUID, State: rmm.AlertTriggered, Priority: strings.ToLower(a.Priority), Severity: severity(a.Priority),
		DeviceID: a.AlertSourceInfo.DeviceUID, DeviceName: a.AlertSourceInfo.DeviceName,
		OrganizationID: a.AlertSourceInfo.SiteUID, SiteID: a.AlertSourceInfo.SiteUID,
		Message: a.Diagnostics, Subject: firstLine(a.Diagnostics), SourceName: a.AlertSourceInfo.SiteName,
		OccurredAt: a.Timestamp.Time,
	}
	if a.Resolved {
		al.State = rmm.AlertReset
	}
	if class, ok := a.AlertContext["@class"].(string); ok {
		al.Code = class
	}
	keys := make([]string, 0, len(a.AlertContext))
	for k := range a.AlertContext {
		if k != "@class" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if al.Values == nil {
			al.Values = map[string]string{}
		}
		al.Values[k] = contextText(a.AlertContext[k])
	}
	return al
}

func contextText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// GetAlert reads alert uid (GET /v2/alert/{uid}): its priority, device,
// site, diagnostics and context.
func (c *Client) GetAlert(ctx context.Context, uid string) (rmm.Alert, error) {
	if err := checkUID("alert", uid); err != nil {
		return rmm.Alert{}, err
	}
	var a apiAlert
	if err := c.get(ctx, "GET /v2/alert/{alertUid}", "/v2/alert/"+uid, nil, &a); err != nil {
		return rmm.Alert{}, fmt.Errorf("get Datto RMM alert %s: %w", uid, err)
	}
	if a.AlertUID == "" {
		a.AlertUID = uid
	}
	return toAlert(a), nil
}

// ResolveAlert completes a parsed webhook alert with Datto's own record of
// it (one request): device, site, priority and severity, condition class
// and context, and the diagnostics when the body carried no message. The
// webhook's state and event id are kept. The alert worker calls it before
// routing a Datto alert (alert.AlertResolver).
func (c *Client) ResolveAlert(ctx context.Context, a rmm.Alert) (rmm.Alert, error) {
	full, err := c.GetAlert(ctx, a.SeriesID)
	if err != nil {
		return a, err
	}
	out := a
	out.DeviceID, out.DeviceName = full.DeviceID, firstNonEmpty(full.DeviceName, a.DeviceName)
	out.OrganizationID, out.SiteID = full.OrganizationID, full.SiteID
	out.Priority, out.Severity, out.Code, out.SourceName = full.Priority, full.Severity, full.Code, full.SourceName
	if out.Message == "" {
		out.Message, out.Subject = full.Message, full.Subject
	}
	if out.OccurredAt.IsZero() {
		out.OccurredAt = full.OccurredAt
	}
	out.Values = map[string]string{}
	for k, v := range a.Values {
		out.Values[k] = v
	}
	for k, v := range full.Values {
		out.Values[k] = v
	}
	return out, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
