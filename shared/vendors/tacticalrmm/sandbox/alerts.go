package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The URL Action bodies the README tells Tactical RMM users to paste (the
// failure and the resolved action of their alert template), and the
// headers. The placeholders sit inside JSON strings: Tactical substitutes
// them as text before it parses the body.
const (
	FailureBody = `{
  "event": "trigger",
  "alert_id": "{{alert.id}}",
  "alert_time": "{{alert.alert_time}}",
  "alert_type": "{{alert.alert_type}}",
  "severity": "{{alert.severity}}",
  "message": "{{alert.message}}",
  "check": "{{alert.assigned_check.readable_desc}}",
  "task": "{{alert.assigned_task.name}}",
  "agent_id": "{{agent.agent_id}}",
  "hostname": "{{agent.hostname}}",
  "client_id": "{{client.id}}",
  "client": "{{client.name}}",
  "site_id": "{{site.id}}",
  "site": "{{site.name}}"
}`
	ResolvedBody = `{
  "event": "resolved",
  "alert_id": "{{alert.id}}",
  "alert_time": "{{alert.alert_time}}",
  "resolved_on": "{{alert.resolved_on}}",
  "alert_type": "{{alert.alert_type}}",
  "severity": "{{alert.severity}}",
  "message": "{{alert.message}}",
  "check": "{{alert.assigned_check.readable_desc}}",
  "task": "{{alert.assigned_task.name}}",
  "agent_id": "{{agent.agent_id}}",
  "hostname": "{{agent.hostname}}",
  "client_id": "{{client.id}}",
  "client": "{{client.name}}",
  "site_id": "{{site.id}}",
  "site": "{{site.name}}"
}`
	// HeadersTemplate is the URL Action's headers, with the integration's
	// webhook secret in place of <secret>.
	HeadersTemplate = `{"Content-Type": "application/json", "Authorization": "Bearer <secret>"}`
)

// Posted is one URL Action the sandbox ran.
type Posted struct {
	URL    string
	Body   []byte
	Status int
	Err    error
}

// --- URL Actions and alert templates ------------------------------------

func (s *Server) handleListURLActions(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.actions)
}

func (s *Server) handleCreateURLAction(w http.ResponseWriter, r *http.Request) {
	var a URLAction
	if !readBody(w, r, &a) {
		return
	}
	if strings.TrimSpace(a.Name) == "" {
		validationError(w, "name", "This field may not be blank.")
		return
	}
	if a.RestMethod == "" {
		a.RestMethod = "post"
	}
	if a.ActionType == "" {
		a.ActionType = "rest"
	}
	for _, field := range []struct{ name, text string }{{"rest_body", a.RestBody}, {"rest_headers", a.RestHeaders}} {
		if field.text != "" && !json.Valid([]byte(placeholderRE.ReplaceAllString(field.text, "x"))) {
			validationError(w, field.name, "Value must be valid JSON.")
			return
		}
	}
	s.mu.Lock()
	a.ID = len(s.actions) + 1
	s.actions = append(s.actions, &a)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, "URL Action added")
}

func (s *Server) handleListTemplates(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.templates)
}

func (s *Server) handleCreateTemplate(w http.ResponseWriter, r *http.Request) {
	var t AlertTemplate
	t.IsActive = true
	if !readBody(w, r, &t) {
		return
	}
	if strings.TrimSpace(t.Name) == "" {
		validationError(w, "name", "This field may not be blank.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range []*int{t.ActionRest, t.ResolvedActionRest} {
		if id != nil && (*id < 1 || *id > len(s.actions)) {
			validationError(w, "action_rest", fmt.Sprintf("Invalid pk \"%d\" - object does not exist.", *id))
			return
		}
	}
	t.ID = len(s.templates) + 1
	s.templates = append(s.templates, &t)
	writeJSON(w, http.StatusOK, "ok")
}

// ConfigureURLActions does what the README asks a Tactical admin to do:
// two Web Hooks posting to url with the documented bodies and headers
// (secret in the Authorization header), an alert template that runs them
// as failure and resolved actions for agent, check and task alerts, set as
// the global default template. It returns the template's id.
func (s *Server) ConfigureURLActions(url, secret string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	headers := strings.Replace(HeadersTemplate, "<secret>", secret, 1)
	fail := &URLAction{ID: len(s.actions) + 1, Name: "rmmbridge alert", ActionType: "rest", Pattern: url, RestMethod: "post", RestBody: FailureBody, RestHeaders: headers}
	s.actions = append(s.actions, fail)
	res := &URLAction{ID: len(s.actions) + 1, Name: "rmmbridge resolved", ActionType: "rest", Pattern: url, RestMethod: "post", RestBody: ResolvedBody, RestHeaders: headers}
	s.actions = append(s.actions, res)
	t := &AlertTemplate{ID: len(s.templates) + 1, Name: "rmmbridge", IsActive: true, ActionType: "rest", ActionRest: &fail.ID,
		ResolvedActionType: "rest", ResolvedActionRest: &res.ID, AgentScriptActions: true, CheckScriptActions: true, TaskScriptActions: true}
	s.templates = append(s.templates, t)
	s.defaultTemplate = t.ID
	return t.ID
}

// SetClientAlertTemplate assigns template id to a client (0: the default).
func (s *Server) SetClientAlertTemplate(clientID, templateID int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.findClient(clientID)
	if c == nil {
		return fmt.Errorf("no client %d", clientID)
	}
	c.AlertTemplate = templateID
	return nil
}

// Posts returns the URL Actions run so far.
func (s *Server) Posts() []Posted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Posted(nil), s.posted...)
}

// --- alerts --------------------------------------------------------------

// AlertEvent is what a URL Action's placeholders are filled from.
type AlertEvent struct {
	// ID is the alert's id ({{alert.id}}); tests may use any text.
	ID         string
	AgentID    string
	AlertType  string
	Severity   string
	Message    string
	CheckDesc  string
	TaskName   string
	AlertTime  time.Time
	ResolvedOn time.Time
}

// FailCheck opens an alert for a failing check of agent agentID (as the
// agent reports the check failing) and runs the failure action of the
// agent's alert template, if any. It returns the alert's id; the post's
// error (Tactical logs it and never retries) is returned too.
func (s *Server) FailCheck(ctx context.Context, agentID, checkDesc, severity string) (int, error) {
	s.mu.Lock()
	a := s.findAgent(agentID)
	if a == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("no agent %q", agentID)
	}
	al := &Alert{ID: len(s.alerts) + 1, AgentID: agentID, AlertType: "check", Severity: severity, CheckDesc: checkDesc,
		Message: a.Hostname + " has a " + checkDesc + " failing", AlertTime: time.Now().UTC().Truncate(time.Microsecond)}
	s.alerts = append(s.alerts, al)
	s.mu.Unlock()
	return al.ID, s.runAction(ctx, al, false)
}

// ResolveAlert resolves alert id and runs the resolved action.
func (s *Server) ResolveAlert(ctx context.Context, id int) error {
	s.mu.Lock()
	var al *Alert
	for _, x := range s.alerts {
		if x.ID == id {
			al = x
		}
	}
	if al == nil || al.Resolved {
		s.mu.Unlock()
		return fmt.Errorf("no open alert %d", id)
	}
	al.Resolved, al.ResolvedOn = true, time.Now().UTC().Truncate(time.Microsecond)
	s.mu.Unlock()
	return s.runAction(ctx, al, true)
}

func (s *Server) runAction(ctx context.Context, al *Alert, resolved bool) error {
	s.mu.Lock()
	a := s.findAgent(al.AgentID)
	tid := s.findClient(s.findSite(a.Site).Client).AlertTemplate
	if tid == 0 {
		tid = s.defaultTemplate
	}
	var action *URLAction
	if tid > 0 && tid <= len(s.templates) {
		t := s.templates[tid-1]
		on := t.IsActive && map[string]bool{"availability": t.AgentScriptActions, "check": t.CheckScriptActions, "task": t.TaskScriptActions}[al.AlertType]
		id, typ := t.ActionRest, t.ActionType
		if resolved {
			id, typ = t.ResolvedActionRest, t.ResolvedActionType
		}
		if on && typ == "rest" && id != nil && *id >= 1 && *id <= len(s.actions) {
			action = s.actions[*id-1]
		}
	}
	ev := AlertEvent{ID: strconv.Itoa(al.ID), AgentID: al.AgentID, AlertType: al.AlertType, Severity: al.Severity, Message: al.Message,
		CheckDesc: al.CheckDesc, TaskName: al.TaskName, AlertTime: al.AlertTime, ResolvedOn: al.ResolvedOn}
	s.mu.Unlock()
	if action == nil {
		return nil
	}
	body, err := s.Render(action.RestBody, ev)
	if err != nil {
		return err
	}
	headers := map[string]string{}
	if h, err := s.renderText(action.RestHeaders, ev); err == nil {
		_ = json.Unmarshal([]byte(h), &headers)
	}
	p := Posted{URL: action.Pattern, Body: body}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(action.RestMethod), action.Pattern, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("User-Agent", "python-requests/2.32.3")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		var resp *http.Response
		if resp, err = s.opt.WebhookClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			p.Status = resp.StatusCode
			if resp.StatusCode/100 != 2 {
				err = fmt.Errorf("the URL Action's receiver answered %d", resp.StatusCode)
			}
		}
	}
	p.Err = err
	s.mu.Lock()
	s.posted = append(s.posted, p)
	s.mu.Unlock()
	return err
}

// --- placeholder substitution, as Tactical does it ----------------------

// placeholderRE is Tactical's RE_DB_VALUE.
var placeholderRE = regexp.MustCompile(`\{\{\s*(client|site|agent|global|alert)((?:\.[\w\-\s.]+)+)\s*\}\}`)

// value looks a placeholder up for ev as get_db_value does and renders it
// as str(value): falsy values (empty, 0, False) and unknown properties
// are None, datetimes Python's str() of an aware datetime.
func (s *Server) value(model, prop string, ev AlertEvent) string {
	a := s.findAgent(ev.AgentID)
	var site *Site
	var client *Client
	if a != nil {
		site = s.findSite(a.Site)
		client = s.findClient(site.Client)
	}
	var v any
	switch model + "." + strings.TrimSpace(prop) {
	case "alert.id":
		v = ev.ID
	case "alert.alert_type":
		v = ev.AlertType
	case "alert.severity":
		v = ev.Severity
	case "alert.message":
		v = ev.Message
	case "alert.alert_time":
		v = ev.AlertTime
	case "alert.resolved_on":
		v = ev.ResolvedOn
	case "alert.resolved":
		v = !ev.ResolvedOn.IsZero()
	case "alert.assigned_check.readable_desc":
		v = ev.CheckDesc
	case "alert.assigned_task.name":
		v = ev.TaskName
	case "agent.agent_id":
		v = ev.AgentID
	}
	if a != nil {
		switch model + "." + strings.TrimSpace(prop) {
		case "agent.hostname", "alert.agent.hostname":
			v = a.Hostname
		case "agent.description":
			v = a.Description
		case "agent.monitoring_type":
			v = a.MonitoringType
		case "agent.operating_system":
			v = a.OperatingSystem
		case "agent.public_ip":
			v = a.PublicIP
		case "agent.logged_in_username":
			v = a.LoggedInUsername
		case "agent.last_seen":
			v = a.LastSeen
		case "client.id", "alert.client.id":
			v = client.ID
		case "client.name", "alert.client.name":
			v = client.Name
		case "site.id", "alert.site.id":
			v = site.ID
		case "site.name", "alert.site.name":
			v = site.Name
		}
	}
	switch x := v.(type) {
	case string:
		if x != "" {
			return x
		}
	case int:
		if x != 0 {
			return strconv.Itoa(x)
		}
	case bool:
		if x {
			return "True"
		}
	case time.Time:
		if !x.IsZero() {
			return pyTime(x)
		}
	}
	return "None"
}

func (s *Server) renderText(text string, ev AlertEvent) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return placeholderRE.ReplaceAllStringFunc(text, func(m string) string {
		sub := placeholderRE.FindStringSubmatch(m)
		return s.value(sub[1], strings.TrimPrefix(sub[2], "."), ev)
	}), nil
}

var (
	controlRE    = regexp.MustCompile(`[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\x{80}-\x{9f}]`)
	errNotObject = errors.New("not a JSON document")
)

// sanitize is Tactical's _sanitize_webhook: control characters become
// spaces (tab, newline and carriage return stay) and a backslash not
// starting \\, \n, \r or \t is doubled.
func sanitize(s string) string {
	s = controlRE.ReplaceAllString(s, " ")
	// Python: (?<!\\)(\\)(?![\\nrt]) → \\\\ ; done with a scan, Go's
	// regexp has no look-around.
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		prevSlash := i > 0 && s[i-1] == '\\'
		next := byte(0)
		if i+1 < len(s) {
			next = s[i+1]
		}
		if !prevSlash && next != '\\' && next != 'n' && next != 'r' && next != 't' {
			b.WriteString(`\\`)
			continue
		}
		b.WriteByte('\\')
	}
	return b.String()
}

// Render is the body Tactical posts for a URL Action body template and an
// alert: placeholders substituted as text, the text sanitized and parsed
// (json.loads(strict=False)); a body that then parses is re-encoded as
// Python's json.dumps does, one that does not is posted as a JSON string
// holding the text (Tactical logs the parse error and sends
// json.dumps(text)).
func (s *Server) Render(body string, ev AlertEvent) ([]byte, error) {
	text, err := s.renderText(body, ev)
	if err != nil {
		return nil, err
	}
	text = sanitize(text)
	if out, err := pyDumps([]byte(escapeRawControls(text))); err == nil {
		return out, nil
	}
	return pyDumps(mustJSON(text))
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// escapeRawControls escapes raw tabs, newlines and carriage returns inside
// JSON strings (what strict=False accepts), so a strict parser reads the
// text.
func escapeRawControls(s string) string {
	var b strings.Builder
	in, esc := false, false
	for _, r := range s {
		switch {
		case in && esc:
			esc = false
		case in && r == '\\':
			esc = true
		case r == '"':
			in = !in
		case in && r == '\n':
			b.WriteString(`\n`)
			continue
		case in && r == '\r':
			b.WriteString(`\r`)
			continue
		case in && r == '\t':
			b.WriteString(`\t`)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// pyDumps re-encodes a JSON document as Python's json.dumps does: keys in
// their order, ", " and ": " separators, non-ASCII escaped as \uXXXX.
func pyDumps(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var b bytes.Buffer
	if err := dumpValue(dec, &b); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errNotObject
	}
	return b.Bytes(), nil
}

func dumpValue(dec *json.Decoder, b *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		closing := map[json.Delim]json.Delim{'{': '}', '[': ']'}[t]
		b.WriteRune(rune(t))
		for i := 0; dec.More(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				writePyString(b, k.(string))
				b.WriteString(": ")
			}
			if err := dumpValue(dec, b); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		b.WriteRune(rune(closing))
	case string:
		writePyString(b, t)
	case json.Number:
		b.WriteString(t.String())
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case nil:
		b.WriteString("null")
	}
	return nil
}

func writePyString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				r1, r2 := utf16Pair(r)
				fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
