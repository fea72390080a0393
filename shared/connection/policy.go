package connection

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/limits"
)

// MaxTicketsPerHourLimit bounds AlertPolicy.MaxTicketsPerHour (the flood
// guard's counter remembers the series it let through in one item).
const MaxTicketsPerHourLimit = 1000

// maxPolicyTypes bounds each of the include and exclude lists.
const maxPolicyTypes = 100

// AlertPolicy decides which alerts of an integration become tickets. The
// zero policy lets every alert through. It is applied by shared/alert on
// the normalized alert (after the RMM's parser, before routing), so it
// works alike for every RMM.
type AlertPolicy struct {
	// MinSeverity filters alerts less severe than it ("" or "none": no
	// minimum).
	MinSeverity string `json:"minSeverity,omitempty"`
	// IncludeTypes, when not empty, lets through only alerts whose
	// condition code or condition name is one of them (compared without
	// case).
	IncludeTypes []string `json:"includeTypes,omitempty"`
	// ExcludeTypes filters alerts whose condition code or name is one of
	// them; it beats IncludeTypes.
	ExcludeTypes []string `json:"excludeTypes,omitempty"`
	// SkipMaintenance opens no ticket while the alert's device is in
	// maintenance mode, where the RMM reports it (inert otherwise).
	SkipMaintenance bool `json:"skipMaintenance,omitempty"`
	// MaxTicketsPerHour is the flood guard: at most this many new tickets
	// per organization per clock hour; beyond it one summary ticket per
	// organization and hour collects the rest as notes. 0 is off.
	MaxTicketsPerHour int `json:"maxTicketsPerHour,omitempty"`
	// Organizations are per-organization overrides, by RMM organization id.
	Organizations map[string]OrgPolicy `json:"organizations,omitempty"`
}

// OrgPolicy overrides the alert policy for one organization.
type OrgPolicy struct {
	// Exclude opens no tickets for the organization's alerts.
	Exclude bool `json:"exclude,omitempty"`
	// MinSeverity, when set, replaces the integration's minimum.
	MinSeverity string `json:"minSeverity,omitempty"`
	// TicketDefaults are merged over the integration's ticket defaults
	// (board, queue, status, type, ...).
	TicketDefaults map[string]string `json:"ticketDefaults,omitempty"`
	// PriorityMap is merged over the integration's priority map.
	PriorityMap map[string]string `json:"priorityMap,omitempty"`
}

// IsZero reports whether the policy lets every alert through and
// overrides nothing.
func (p AlertPolicy) IsZero() bool {
	return p.MinSeverity == "" && len(p.IncludeTypes) == 0 && len(p.ExcludeTypes) == 0 && !p.SkipMaintenance &&
		p.MaxTicketsPerHour == 0 && len(p.Organizations) == 0
}

// SeverityRank orders severities (none 0 … critical 4); -1 for a name
// that is not a severity.
func SeverityRank(s string) int {
	switch s {
	case "none":
		return 0
	case "minor":
		return 1
	case "moderate":
		return 2
	case "major":
		return 3
	case "critical":
		return 4
	}
	return -1
}

// checkSeverity checks an optional severity name.
func checkSeverity(field, s string) *apperr.FieldError {
	if s != "" && SeverityRank(s) < 0 {
		return &apperr.FieldError{Field: field, Message: "must be one of " + strings.Join(Severities, ", ")}
	}
	return nil
}

// checkPriorityMap checks a priority map's keys and values.
func checkPriorityMap(field string, m map[string]string) []apperr.FieldError {
	var fe []apperr.FieldError
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if SeverityRank(k) < 0 {
			fe = append(fe, apperr.FieldError{Field: limits.Clip(field + "." + k), Message: "must be one of " + strings.Join(Severities, ", ")})
		}
	}
	return append(fe, limits.StringMap(field, m, nil, nil)...)
}

// checkTypes checks an include or exclude list.
func checkTypes(field string, list []string) []apperr.FieldError {
	if len(list) > maxPolicyTypes {
		return []apperr.FieldError{{Field: field, Message: fmt.Sprintf("must have at most %d entries", maxPolicyTypes)}}
	}
	var fe []apperr.FieldError
	for i, s := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(s) == "" {
			fe = append(fe, apperr.FieldError{Field: f, Message: "must not be empty"})
			continue
		}
		if e := limits.Text(f, s, limits.MaxTextLength); e != nil {
			fe = append(fe, *e)
		}
	}
	return fe
}

// validate checks the policy; field names start with field
// ("settings.alertPolicy").
func (p AlertPolicy) validate(field string) []apperr.FieldError {
	var fe []apperr.FieldError
	fe = appendErr(fe, checkSeverity(field+".minSeverity", p.MinSeverity))
	if p.MaxTicketsPerHour < 0 || p.MaxTicketsPerHour > MaxTicketsPerHourLimit {
		fe = append(fe, apperr.FieldError{Field: field + ".maxTicketsPerHour",
			Message: fmt.Sprintf("must be from 0 (no flood guard) to %d", MaxTicketsPerHourLimit)})
	}
	fe = append(fe, checkTypes(field+".includeTypes", p.IncludeTypes)...)
	fe = append(fe, checkTypes(field+".excludeTypes", p.ExcludeTypes)...)
	if len(fe) == 0 {
		for i, s := range p.ExcludeTypes {
			if slices.ContainsFunc(p.IncludeTypes, func(in string) bool { return strings.EqualFold(strings.TrimSpace(in), strings.TrimSpace(s)) }) {
				fe = append(fe, apperr.FieldError{Field: fmt.Sprintf("%s.excludeTypes[%d]", field, i),
					Message: "is also in includeTypes; a type is either included or excluded"})
			}
		}
	}
	if len(p.Organizations) > limits.MaxMapEntries {
		return append(fe, apperr.FieldError{Field: field + ".organizations", Message: fmt.Sprintf("must have at most %d entries", limits.MaxMapEntries)})
	}
	ids := make([]string, 0, len(p.Organizations))
	for id := range p.Organizations {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if !limits.ValidID(id) {
			// The key is the caller's: never echo it whole.
			fe = append(fe, apperr.FieldError{Field: limits.Clip(field + ".organizations." + id), Message: "key is not an organization id: " + limits.IDMessage})
			continue
		}
		o := p.Organizations[id]
		of := field + ".organizations." + id
		fe = appendErr(fe, checkSeverity(of+".minSeverity", o.MinSeverity))
		fe = append(fe, limits.StringMap(of+".ticketDefaults", o.TicketDefaults, nil, nil)...)
		fe = append(fe, checkPriorityMap(of+".priorityMap", o.PriorityMap)...)
	}
	return fe
}
