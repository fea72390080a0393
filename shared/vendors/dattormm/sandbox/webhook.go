package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The two webhook bodies the README tells an MSP to paste into Datto RMM
// (Setup → Integrations → Global Webhooks, or a monitor's webhook
// response): one for "alert triggered", one for "alert resolved". Datto
// substitutes the bracketed variables as text. The client package keeps
// the same two strings (its tests check they agree).
const (
	TriggeredTemplate = `{"source":"datto-rmm","event":"triggered","alertUid":"[alert_uid]","platform":"[platform]","deviceUid":"[device_uid]","siteUid":"[site_uid]","hostname":"[device_hostname]","priority":"[alert_priority]","message":"[alert_message]","timestamp":"[timestamp]"}`
	ResolvedTemplate  = `{"source":"datto-rmm","event":"resolved","alertUid":"[alert_uid]","platform":"[platform]","deviceUid":"[device_uid]","siteUid":"[site_uid]","hostname":"[device_hostname]","priority":"[alert_priority]","message":"[alert_message]","timestamp":"[timestamp]"}`
)

// Render substitutes vars into template as Datto does: each [name] is
// replaced by the value's text (JSON-escaped here, so the sandbox's bodies
// stay valid JSON whatever the message holds); unknown variables stay as
// they are.
func Render(template string, vars map[string]string) []byte {
	out := template
	for k, v := range vars {
		b, _ := json.Marshal(v)
		out = strings.ReplaceAll(out, "["+k+"]", string(b[1:len(b)-1]))
	}
	return []byte(out)
}

// alertVars are the variables of alert a (lock held).
func (s *Server) alertVars(a *Alert) map[string]string {
	v := map[string]string{"alert_uid": a.UID, "platform": s.opt.Platform, "alert_priority": a.Priority,
		"alert_message": a.Diagnostics, "timestamp": a.Timestamp.UTC().Format(time.RFC3339)}
	if d := s.findDevice(a.DeviceUID); d != nil {
		v["device_uid"], v["device_hostname"], v["site_uid"] = d.UID, d.Hostname, d.SiteUID
	}
	return v
}

// NewAlert raises an alert on device deviceUID from condition template
// conditionIndex (disk, memory, CPU, offline, pending reboot; modulo
// their number) with the given uid ("" draws one) and returns its uid.
func (s *Server) NewAlert(deviceUID, alertUID string, conditionIndex int) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.findDevice(deviceUID) == nil {
		return "", fmt.Errorf("no sandbox device %s", deviceUID)
	}
	if alertUID == "" {
		alertUID = uid(s.rng)
	}
	if s.findAlert(alertUID) != nil {
		return alertUID, nil
	}
	c := conditions[(conditionIndex%len(conditions)+len(conditions))%len(conditions)]
	s.alerts = append(s.alerts, &Alert{UID: alertUID, DeviceUID: deviceUID, Priority: c.priority, Diagnostics: c.diagnostics,
		Timestamp: time.Now().UTC().Truncate(time.Millisecond), Context: c.context(s.rng)})
	return alertUID, nil
}

// WebhookBody is the body Datto posts for alert alertUID: the triggered
// template, or the resolved one (which also marks the alert resolved).
func (s *Server) WebhookBody(alertUID string, triggered bool) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.findAlert(alertUID)
	if a == nil {
		return nil, fmt.Errorf("no sandbox alert %s", alertUID)
	}
	if triggered {
		return Render(TriggeredTemplate, s.alertVars(a)), nil
	}
	a.Resolved, a.ResolvedOn = true, time.Now().UTC().Truncate(time.Millisecond)
	return Render(ResolvedTemplate, s.alertVars(a)), nil
}

// RaiseAlert raises an alert on deviceUID (see NewAlert) and posts the
// triggered body to url. It returns the alert's uid.
func (s *Server) RaiseAlert(ctx context.Context, url, deviceUID string, conditionIndex int) (string, error) {
	id, err := s.NewAlert(deviceUID, "", conditionIndex)
	if err != nil {
		return "", err
	}
	body, err := s.WebhookBody(id, true)
	if err != nil {
		return id, err
	}
	return id, s.post(ctx, url, body)
}

// ResolveAlert resolves alert alertUID and posts the resolved body to url.
func (s *Server) ResolveAlert(ctx context.Context, url, alertUID string) error {
	body, err := s.WebhookBody(alertUID, false)
	if err != nil {
		return err
	}
	return s.post(ctx, url, body)
}

// post sends a webhook body as Datto does: a POST of the rendered JSON.
// A non-2xx answer is an error.
func (s *Server) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Datto-RMM-Webhook-Sandbox")
	resp, err := s.opt.WebhookClient.Do(req)
	if err != nil {
		return fmt.Errorf("post alert webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post alert webhook: receiver answered %d", resp.StatusCode)
	}
	return nil
}
