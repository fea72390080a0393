package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// EmitWebhook POSTs activity as JSON to url with the given extra headers
// (e.g. the shared-secret Authorization header a NinjaOne webhook
// configuration carries). A non-2xx answer is an error.
func (s *Server) EmitWebhook(ctx context.Context, url string, header map[string]string, activity Activity) error {
	body, err := json.Marshal(activity)
	if err != nil {
		return fmt.Errorf("encode activity %d: %w", activity.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "NinjaOne-Webhook-Sandbox")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.opt.WebhookClient.Do(req)
	if err != nil {
		return fmt.Errorf("post webhook activity %d: %w", activity.ID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post webhook activity %d: receiver answered %d", activity.ID, resp.StatusCode)
	}
	return nil
}

// ConditionActivity builds a CONDITION activity for deviceID: with
// triggered true a TRIGGERED activity that opens a new alert series (the
// alert becomes active in /v2/alerts), with triggered false a RESET of the
// series seriesUID (the alert is removed). conditionIndex picks the
// condition template (disk space, memory, CPU, offline, pending reboot;
// taken modulo their number). The activity carries the device with its
// organization and location references, as NinjaOne's expanded webhook
// payloads do.
func (s *Server) ConditionActivity(deviceID int, triggered bool, seriesUID string, conditionIndex int) (Activity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.findDevice(deviceID)
	if d == nil {
		return Activity{}, fmt.Errorf("no sandbox device %d", deviceID)
	}
	org := s.findOrg(d.OrganizationID)
	if conditionIndex < 0 {
		conditionIndex = -conditionIndex
	}
	ci := conditionIndex % len(conditions)
	c := conditions[ci]
	now := time.Now()
	s.nextAct++
	ref := deviceRef(d, org)
	a := Activity{
		ID: s.nextAct, ActivityTime: epochFloat(now), DeviceID: d.ID, Severity: c.severity, Priority: c.priority,
		ActivityType: "CONDITION", ActivityResult: "SUCCESS", SourceConfigUID: conditionUIDs[ci],
		SourceName: c.name, Subject: c.subject, Type: "Condition", Device: &ref,
	}
	value := c.threshold + float64(1+s.rng.IntN(5))
	if triggered {
		if seriesUID == "" {
			seriesUID = uuid(s.rng)
		}
		a.StatusCode, a.Status = "TRIGGERED", "Triggered"
		a.Message = fmt.Sprintf("%s on %s: %g%s", c.subject, d.SystemName, value, c.unit)
		a.Data = conditionData(c, value)
		s.alerts = append(s.alerts, &Alert{
			UID: seriesUID, DeviceID: d.ID, SourceType: c.sourceType, SourceConfigUID: conditionUIDs[ci], SourceName: c.name,
			Subject: c.subject, Message: a.Message, CreateTime: a.ActivityTime, UpdateTime: a.ActivityTime,
			Data: a.Data, Device: ref,
		})
	} else {
		if seriesUID == "" {
			return Activity{}, fmt.Errorf("a reset needs the series uid of its trigger")
		}
		a.StatusCode, a.Status = "RESET", "Reset"
		value = c.threshold - float64(1+s.rng.IntN(5))
		a.Message = fmt.Sprintf("%s on %s is back to normal: %g%s", c.subject, d.SystemName, value, c.unit)
		a.Data = conditionData(c, value)
		kept := s.alerts[:0]
		for _, al := range s.alerts {
			if al.UID != seriesUID {
				kept = append(kept, al)
			}
		}
		s.alerts = kept
	}
	a.SeriesUID = seriesUID
	return a, nil
}

// TriggerCondition builds a TRIGGERED activity for deviceID (see
// ConditionActivity) and posts it to the webhook configured with PUT
// /v2/webhook, with its custom headers. It returns the activity.
func (s *Server) TriggerCondition(ctx context.Context, deviceID, conditionIndex int) (Activity, error) {
	a, err := s.ConditionActivity(deviceID, true, "", conditionIndex)
	if err != nil {
		return a, err
	}
	return a, s.deliver(ctx, a)
}

// ResetCondition builds the RESET activity of seriesUID on deviceID and
// posts it to the configured webhook.
func (s *Server) ResetCondition(ctx context.Context, deviceID int, seriesUID string, conditionIndex int) (Activity, error) {
	a, err := s.ConditionActivity(deviceID, false, seriesUID, conditionIndex)
	if err != nil {
		return a, err
	}
	return a, s.deliver(ctx, a)
}

func (s *Server) deliver(ctx context.Context, a Activity) error {
	cfg, ok := s.WebhookConfig()
	if !ok {
		return fmt.Errorf("no webhook is configured (PUT /v2/webhook)")
	}
	h := map[string]string{}
	for _, hh := range cfg.Headers {
		h[hh.Name] = hh.Value
	}
	return s.EmitWebhook(ctx, cfg.URL, h, a)
}
