package alert

import (
	"cmp"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// subjectOf is the alert's one-line title: the vendor's subject, else the
// condition's name, else its code.
func subjectOf(a rmm.Alert) string {
	for _, s := range []string{a.Subject, a.SourceName, a.Code} {
		if s = oneLine(s); s != "" {
			return s
		}
	}
	return ""
}

// oneLine collapses whitespace (newlines included) to single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// severityLabel is the severity as the summary shows it ("MAJOR").
func severityLabel(s rmm.Severity) string {
	if s == "" {
		s = rmm.SeverityNone
	}
	return strings.ToUpper(string(s))
}

// Summary is the ticket summary of an alert: "[MAJOR] <subject>", with
// " on <device>" when the subject does not name the device, capped at max
// characters.
func Summary(a rmm.Alert, max int) string {
	subj := subjectOf(a)
	if subj == "" {
		subj = "RMM alert"
	}
	s := "[" + severityLabel(a.Severity) + "] " + subj
	if dev := oneLine(a.DeviceName); dev != "" && !strings.Contains(strings.ToLower(subj), strings.ToLower(dev)) {
		s += " on " + dev
	}
	return psa.Truncate(s, max)
}

// values renders the condition's parameters sorted by name
// ("threshold=90, unit=%, value=93").
func values(v map[string]string) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, oneLine(k)+"="+oneLine(v[k]))
	}
	return strings.Join(parts, ", ")
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Description is the ticket's initial description: what happened, on
// which device, the condition and its values, and links.
func Description(a rmm.Alert, integrationID string) string {
	var b strings.Builder
	line := func(label, v string) {
		if v = strings.TrimSpace(v); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", label, v)
		}
	}
	if subj := subjectOf(a); subj != "" {
		b.WriteString(subj + "\n")
	}
	if msg := strings.TrimSpace(a.Message); msg != "" {
		b.WriteString("\n" + msg + "\n")
	}
	b.WriteString("\n")
	device := oneLine(a.DeviceName)
	if a.DeviceID != "" {
		device = strings.TrimSpace(device + " (RMM device " + a.DeviceID + ")")
	}
	line("Device", device)
	org := ""
	if a.OrganizationID != "" {
		org = "RMM organization " + a.OrganizationID
		if a.SiteID != "" {
			org += ", site " + a.SiteID
		}
	}
	line("Organization", org)
	cond := oneLine(a.SourceName)
	if a.Code != "" {
		cond = strings.TrimSpace(cond + " (" + a.Code + ")")
	}
	line("Condition", cond)
	sev := severityLabel(a.Severity)
	if a.Priority != "" {
		sev += ", RMM priority " + a.Priority
	}
	line("Severity", sev)
	line("Values", values(a.Values))
	if !a.OccurredAt.IsZero() {
		line("Triggered at", stamp(a.OccurredAt))
	}
	line("Alert series", a.SeriesID)
	b.WriteString("\nLinks:\n")
	if a.DeviceID != "" {
		fmt.Fprintf(&b, "- Synced asset: GET /v1/integrations/%s/assets/%s\n", integrationID, a.DeviceID)
	}
	fmt.Fprintf(&b, "- Alert series: GET /v1/integrations/%s/alerts?state=open\n", integrationID)
	b.WriteString("\nOpened by rmmbridge. Repeats of this alert are added as notes; the ticket is closed when the condition clears, unless someone has worked on it.\n")
	return b.String()
}

// newTicket is the ticket to open for a.
func (s *Service) newTicket(c Clients, tgt target, a rmm.Alert, ref string) psa.NewTicket {
	defaults, priorities := ticketSettings(c.Integration.Settings, tgt.OrganizationID)
	sev := a.Severity
	if sev == "" {
		sev = rmm.SeverityNone
	}
	priority := priorities[string(sev)]
	if priority == "" {
		priority = defaults["priority"]
	}
	return psa.NewTicket{
		AccountID:   tgt.AccountID,
		LocationID:  tgt.LocationID,
		AssetID:     tgt.AssetID,
		Summary:     Summary(a, s.o.SummaryMax),
		Description: Description(a, c.Integration.ID),
		Board:       namedRef(cmp.Or(defaults["board"], defaults["queue"])),
		Status:      namedRef(defaults["status"]),
		Type:        namedRef(defaults["type"]),
		Priority:    namedRef(priority),
		ExternalRef: ref,
	}
}

// namedRef reads a setting as a PSA reference: digits are an id, anything
// else a name the client resolves.
func namedRef(v string) psa.NamedRef {
	v = strings.TrimSpace(v)
	if v == "" {
		return psa.NamedRef{}
	}
	if strings.Trim(v, "0123456789") == "" {
		return psa.NamedRef{ID: v}
	}
	return psa.NamedRef{Name: v}
}

// detail is the event's message and values on one line.
func detail(a rmm.Alert) string {
	var parts []string
	if m := oneLine(a.Message); m != "" {
		parts = append(parts, m)
	} else if subj := subjectOf(a); subj != "" {
		parts = append(parts, subj)
	}
	if v := values(a.Values); v != "" {
		parts = append(parts, "Values: "+v)
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, ". ")
}

// repeatNote is the note of occurrence n of an open series.
func repeatNote(a rmm.Alert, n int) string {
	return fmt.Sprintf("Alert occurred again at %s (occurrence %d, severity %s).%s",
		stamp(a.OccurredAt), n, severityLabel(a.Severity), detail(a))
}

// retriggerNote is the note of a trigger after the series was reset.
func retriggerNote(a rmm.Alert, n int, reopened, stillClosed bool) string {
	s := fmt.Sprintf("The condition triggered again at %s (occurrence %d, severity %s).%s",
		stamp(a.OccurredAt), n, severityLabel(a.Severity), detail(a))
	switch {
	case reopened:
		s += " rmmbridge reopened this ticket."
	case stillClosed:
		s += " The PSA integration cannot reopen tickets: please reopen this one."
	}
	return s
}

// clearedNote is the note (or resolution) of a reset.
func clearedNote(a rmm.Alert, closing bool) string {
	s := fmt.Sprintf("The condition cleared in the RMM at %s.%s", stamp(a.OccurredAt), detail(a))
	if closing {
		return s + " Closed by rmmbridge: nobody had worked on the ticket."
	}
	return s + " The ticket stays open because it has been worked on."
}
