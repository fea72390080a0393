package ninjaone

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// errNoSeries is the cause for alert activities without any series key.
var errNoSeries = errors.New("activity has neither seriesUid nor sourceConfigUid and deviceId")

// activity is the Activity object NinjaOne posts to webhooks.
type activity struct {
	ID              flexString     `json:"id"`
	ActivityTime    epochSeconds   `json:"activityTime"`
	DeviceID        flexString     `json:"deviceId"`
	Severity        string         `json:"severity"`
	Priority        string         `json:"priority"`
	SeriesUID       string         `json:"seriesUid"`
	ActivityType    string         `json:"activityType"`
	StatusCode      string         `json:"statusCode"`
	Status          string         `json:"status"`
	SourceConfigUID string         `json:"sourceConfigUid"`
	SourceName      string         `json:"sourceName"`
	Subject         string         `json:"subject"`
	Message         string         `json:"message"`
	Data            map[string]any `json:"data"`
	Device          *webhookDevice `json:"device"`
}

// webhookDevice is the device embedded in a webhook activity (expanded
// references included when the webhook asks for them).
type webhookDevice struct {
	ID             flexString `json:"id"`
	OrganizationID flexString `json:"organizationId"`
	LocationID     flexString `json:"locationId"`
	SystemName     string     `json:"systemName"`
	DisplayName    string     `json:"displayName"`
	References     struct {
		Organization *struct {
			ID flexString `json:"id"`
		} `json:"organization"`
		Location *struct {
			ID flexString `json:"id"`
		} `json:"location"`
	} `json:"references"`
}

// ParseWebhook reads a NinjaOne activity webhook body. It reports an alert
// (isAlert true) for condition activities — activityType CONDITION with
// statusCode TRIGGERED or RESET, compared case-insensitively; the display
// "status" is ignored. Other well-formed activities return isAlert false
// and no error. A body that is not an activity is apperr.Malformed; an
// alert without any series key is apperr.Invalid.
//
// The series id is seriesUid, falling back to sourceConfigUid + ":" +
// deviceId. activityTime is epoch seconds with a fraction.
func ParseWebhook(body []byte) (rmm.Alert, bool, error) {
	var a activity
	if err := json.Unmarshal(body, &a); err != nil {
		return rmm.Alert{}, false, apperr.Wrap(apperr.Malformed, err, "the NinjaOne webhook body is not a JSON activity")
	}
	if a.ActivityType == "" && a.StatusCode == "" {
		return rmm.Alert{}, false, apperr.New(apperr.Malformed, "the NinjaOne webhook body has no activityType or statusCode")
	}
	if !strings.EqualFold(a.ActivityType, "CONDITION") {
		return rmm.Alert{}, false, nil
	}
	var state rmm.AlertState
	switch strings.ToUpper(strings.TrimSpace(a.StatusCode)) {
	case "TRIGGERED":
		state = rmm.AlertTriggered
	case "RESET":
		state = rmm.AlertReset
	default:
		return rmm.Alert{}, false, nil
	}
	deviceID := string(a.DeviceID)
	if deviceID == "" && a.Device != nil {
		deviceID = string(a.Device.ID)
	}
	series := a.SeriesUID
	if series == "" && a.SourceConfigUID != "" && deviceID != "" {
		series = a.SourceConfigUID + ":" + deviceID
	}
	if series == "" {
		return rmm.Alert{}, false, apperr.Wrap(apperr.Invalid, errNoSeries, "the NinjaOne condition activity has no series id")
	}
	al := rmm.Alert{
		SeriesID:   series,
		ActivityID: string(a.ID),
		DeviceID:   deviceID,
		State:      state,
		Severity:   rmm.ParseSeverity(a.Severity),
		Priority:   strings.ToLower(strings.TrimSpace(a.Priority)),
		Subject:    a.Subject,
		Message:    a.Message,
		SourceName: a.SourceName,
		OccurredAt: a.ActivityTime.Time,
	}
	al.Code, al.Values = messageData(a.Data)
	if d := a.Device; d != nil {
		al.DeviceName = firstNonEmpty(d.SystemName, d.DisplayName)
		al.OrganizationID = string(d.OrganizationID)
		if al.OrganizationID == "" && d.References.Organization != nil {
			al.OrganizationID = string(d.References.Organization.ID)
		}
		al.SiteID = string(d.LocationID)
		if al.SiteID == "" && d.References.Location != nil {
			al.SiteID = string(d.References.Location.ID)
		}
	}
	if al.OrganizationID == "0" {
		al.OrganizationID = ""
	}
	if _, err := strconv.ParseInt(al.DeviceID, 10, 64); al.DeviceID != "" && err != nil {
		return rmm.Alert{}, false, apperr.New(apperr.Invalid, "the NinjaOne activity's deviceId %q is not a number", al.DeviceID)
	}
	return al, true, nil
}
