package autotask

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// apiTicket is a Tickets record.
type apiTicket struct {
	ID                     json.Number `json:"id"`
	CompanyID              json.Number `json:"companyID"`
	CompanyLocationID      json.Number `json:"companyLocationID"`
	ConfigurationItemID    json.Number `json:"configurationItemID"`
	Title                  string      `json:"title"`
	Description            string      `json:"description"`
	Status                 json.Number `json:"status"`
	Priority               json.Number `json:"priority"`
	QueueID                json.Number `json:"queueID"`
	ExternalID             string      `json:"externalID"`
	CreateDate             string      `json:"createDate"`
	LastActivityResourceID json.Number `json:"lastActivityResourceID"`
}

func optID(n json.Number) string {
	if idOf(n) > 0 {
		return n.String()
	}
	return ""
}

// ticket converts a ticket, naming its picklist values.
func (c *Client) ticket(ctx context.Context, t apiTicket) (psa.Ticket, error) {
	out := psa.Ticket{ID: t.ID.String(), AccountID: t.CompanyID.String(), LocationID: optID(t.CompanyLocationID),
		AssetID: optID(t.ConfigurationItemID), Summary: t.Title, Description: t.Description}
	if ts, err := time.Parse(time.RFC3339Nano, t.CreateDate); err == nil {
		out.CreatedAt = ts
	}
	name := func(field string, v json.Number) (psa.NamedRef, error) {
		list, err := c.picklist(ctx, "Tickets", field)
		if err != nil {
			return psa.NamedRef{}, err
		}
		r := psa.NamedRef{ID: v.String()}
		if p, ok := resolvePick(list, r); ok {
			r = p
		}
		return r, nil
	}
	var err error
	if out.Status, err = name("status", t.Status); err != nil {
		return psa.Ticket{}, err
	}
	if out.Priority, err = name("priority", t.Priority); err != nil {
		return psa.Ticket{}, err
	}
	if optID(t.QueueID) != "" {
		if out.Board, err = name("queueID", t.QueueID); err != nil {
			return psa.Ticket{}, err
		}
	}
	complete, err := c.completeStatus(ctx)
	if err != nil {
		return psa.Ticket{}, err
	}
	out.Closed = out.Status.ID == complete.ID
	return out, nil
}

// completeStatus resolves Config.CompleteStatus.
func (c *Client) completeStatus(ctx context.Context) (psa.NamedRef, error) {
	return c.pickOrSetting(ctx, "Tickets", "status", psa.NamedRef{}, "completeStatus", c.cfg.CompleteStatus)
}

// CreateTicket implements psa.TicketWriter: the queue, status and
// priority asked or the connection's defaults, our series reference in
// externalID (at most 50 characters: a longer one is refused).
func (c *Client) CreateTicket(ctx context.Context, nt psa.NewTicket) (psa.Ticket, error) {
	acct, err := parseID("company", nt.AccountID)
	if err != nil {
		return psa.Ticket{}, apperr.InvalidFields(apperr.FieldError{Field: "accountId", Message: "is not an Autotask company id"})
	}
	queue, err := c.pickOrSetting(ctx, "Tickets", "queueID", nt.Board, "ticketQueue", c.cfg.TicketQueue)
	if err != nil {
		return psa.Ticket{}, err
	}
	status, err := c.pickOrSetting(ctx, "Tickets", "status", nt.Status, "ticketStatus", c.cfg.TicketStatus)
	if err != nil {
		return psa.Ticket{}, err
	}
	prio, err := c.pickOrSetting(ctx, "Tickets", "priority", nt.Priority, "ticketPriority", c.cfg.TicketPriority)
	if err != nil {
		return psa.Ticket{}, err
	}
	summary := psa.Truncate(strings.TrimSpace(nt.Summary), maxTitleLen)
	if summary == "" {
		return psa.Ticket{}, apperr.InvalidFields(apperr.FieldError{Field: "summary", Message: "is required"})
	}
	body := map[string]any{"companyID": acct, "title": summary, "description": psa.Truncate(nt.Description, maxDescriptionLen),
		"status": atoiRef(status), "priority": atoiRef(prio), "queueID": atoiRef(queue)}
	if nt.ExternalRef != "" {
		// rmmAlertID too: Autotask's own duplicate-ticket handling for
		// RMM alerts keys on it [P].
		body["externalID"], body["rmmAlertID"] = externalID(nt.ExternalRef), externalID(nt.ExternalRef)
	}
	if !nt.Type.IsZero() {
		ty, err := c.pickOrSetting(ctx, "Tickets", "ticketType", nt.Type, "", "")
		if err != nil {
			return psa.Ticket{}, err
		}
		body["ticketType"] = atoiRef(ty)
	}
	if nt.LocationID != "" {
		n, err := parseID("location", nt.LocationID)
		if err != nil {
			return psa.Ticket{}, apperr.InvalidFields(apperr.FieldError{Field: "locationId", Message: "is not an Autotask location id"})
		}
		body["companyLocationID"] = n
	}
	if nt.AssetID != "" {
		n, err := parseID("configuration item", nt.AssetID)
		if err != nil {
			return psa.Ticket{}, apperr.InvalidFields(apperr.FieldError{Field: "assetId", Message: "is not an Autotask configuration item id"})
		}
		body["configurationItemID"] = n
	}
	if err := c.fillRequired(ctx, "Tickets", body); err != nil {
		return psa.Ticket{}, err
	}
	id, err := c.create(ctx, "/V1.0/Tickets", "/V1.0/Tickets", body)
	if err != nil {
		return psa.Ticket{}, fmt.Errorf("create Autotask ticket: %w", err)
	}
	complete, err := c.completeStatus(ctx)
	if err != nil {
		return psa.Ticket{}, err
	}
	return psa.Ticket{ID: strconv.Itoa(id), AccountID: strconv.Itoa(acct), LocationID: nt.LocationID, AssetID: nt.AssetID,
		Summary: summary, Description: body["description"].(string), Status: status, Priority: prio, Board: queue,
		Closed: status.ID == complete.ID, CreatedAt: c.cfg.Now().UTC()}, nil
}

// rawTicket reads one ticket.
func (c *Client) rawTicket(ctx context.Context, id string) (apiTicket, error) {
	n, err := parseID("ticket", id)
	if err != nil {
		return apiTicket{}, err
	}
	var out struct {
		Item *apiTicket `json:"item"`
	}
	if err := c.get(ctx, "/V1.0/Tickets/{id}", "/V1.0/Tickets/"+strconv.Itoa(n), &out); err != nil {
		return apiTicket{}, fmt.Errorf("read Autotask ticket %d: %w", n, err)
	}
	if out.Item == nil {
		return apiTicket{}, apperr.New(apperr.NotFound, "no Autotask ticket %d", n)
	}
	return *out.Item, nil
}

// GetTicket implements psa.TicketWriter.
func (c *Client) GetTicket(ctx context.Context, id string) (psa.Ticket, error) {
	t, err := c.rawTicket(ctx, id)
	if err != nil {
		return psa.Ticket{}, err
	}
	return c.ticket(ctx, t)
}

// FindTicketsByExternalRef implements psa.TicketRefFinder (externalID,
// exact value).
func (c *Client) FindTicketsByExternalRef(ctx context.Context, ref string) ([]psa.Ticket, error) {
	if strings.TrimSpace(ref) == "" {
		return nil, nil
	}
	ref = externalID(ref)
	ts, err := queryAll[apiTicket](ctx, c, "Tickets", eq("externalID", ref))
	if err != nil {
		return nil, fmt.Errorf("find Autotask tickets by reference: %w", err)
	}
	var out []psa.Ticket
	for _, t := range ts {
		if t.ExternalID != ref {
			continue
		}
		pt, err := c.ticket(ctx, t)
		if err != nil {
			return nil, err
		}
		out = append(out, pt)
	}
	return out, nil
}

// externalID is the externalID (and rmmAlertID) stored for a series
// reference: the reference itself when it fits Autotask's 50 characters,
// else "sha256:" and the first 43 hex digits of its SHA-256, so that a
// long reference is stored and found again the same way.
func externalID(ref string) string {
	if len(ref) <= maxExternalIDLen {
		return ref
	}
	sum := sha256.Sum256([]byte(ref))
	return "sha256:" + hex.EncodeToString(sum[:])[:maxExternalIDLen-len("sha256:")]
}

// notePicks chooses a note's noteType and publish values: the picklist
// default, else its first active value. Every publish value of Autotask's
// list is internal [U]; Note.Internal picks one labelled internal when
// there is one.
func (c *Client) notePicks(ctx context.Context, internal bool) (int, int, error) {
	choose := func(field string, prefer func(string) bool) (int, error) {
		m, err := c.metaOf(ctx, "TicketNotes")
		if err != nil {
			return 0, err
		}
		f, _ := m.field(field)
		var first, def, pref string
		for _, p := range f.PicklistValues {
			if !p.IsActive {
				continue
			}
			if first == "" {
				first = p.Value
			}
			if p.IsDefault && def == "" {
				def = p.Value
			}
			if prefer != nil && prefer(p.Label) && pref == "" {
				pref = p.Value
			}
		}
		for _, v := range []string{pref, def, first} {
			if n, err := strconv.Atoi(v); err == nil {
				return n, nil
			}
		}
		return 0, apperr.New(apperr.Vendor, "Autotask ticket notes have no %s values", field)
	}
	noteType, err := choose("noteType", func(l string) bool { return strings.EqualFold(l, "Task Notes") })
	if err != nil {
		return 0, 0, err
	}
	publish, err := choose("publish", func(l string) bool {
		if internal {
			return strings.Contains(strings.ToLower(l), "internal")
		}
		return strings.EqualFold(l, "All Autotask Users")
	})
	return noteType, publish, err
}

// AddTicketNote implements psa.TicketWriter (Tickets/{id}/Notes).
func (c *Client) AddTicketNote(ctx context.Context, id string, n psa.Note) error {
	tid, err := parseID("ticket", id)
	if err != nil {
		return err
	}
	noteType, publish, err := c.notePicks(ctx, n.Internal)
	if err != nil {
		return err
	}
	text := strings.TrimSpace(n.Text)
	if text == "" {
		return apperr.InvalidFields(apperr.FieldError{Field: "text", Message: "is required"})
	}
	title := psa.Truncate(strings.SplitN(text, "\n", 2)[0], 250)
	if _, err := c.create(ctx, "/V1.0/Tickets/{parentId}/Notes", "/V1.0/Tickets/"+strconv.Itoa(tid)+"/Notes", map[string]any{
		"ticketID": tid, "title": title, "description": psa.Truncate(text, 32000), "noteType": noteType, "publish": publish,
	}); err != nil {
		return fmt.Errorf("add a note to Autotask ticket %d: %w", tid, err)
	}
	return nil
}

// setStatus patches a ticket's status.
func (c *Client) setStatus(ctx context.Context, id int, status psa.NamedRef) error {
	if err := c.patch(ctx, "Tickets", map[string]any{"id": id, "status": atoiRef(status)}); err != nil {
		return fmt.Errorf("set the status of Autotask ticket %d: %w", id, err)
	}
	return nil
}

// CloseTicket implements psa.TicketWriter: the resolution as a note, then
// Config.CompleteStatus. A ticket complete already is left alone.
func (c *Client) CloseTicket(ctx context.Context, id, resolution string) error {
	t, err := c.rawTicket(ctx, id)
	if err != nil {
		return err
	}
	complete, err := c.completeStatus(ctx)
	if err != nil {
		return err
	}
	if t.Status.String() == complete.ID {
		return nil
	}
	if strings.TrimSpace(resolution) != "" {
		if err := c.AddTicketNote(ctx, id, psa.Note{Text: resolution, Internal: true}); err != nil {
			return err
		}
	}
	return c.setStatus(ctx, idOf(t.ID), complete)
}

// ReopenTicket implements psa.TicketReopener: a complete ticket goes back
// to Config.ReopenStatus (default the new-ticket status).
func (c *Client) ReopenTicket(ctx context.Context, id string) error {
	t, err := c.rawTicket(ctx, id)
	if err != nil {
		return err
	}
	complete, err := c.completeStatus(ctx)
	if err != nil {
		return err
	}
	if t.Status.String() != complete.ID {
		return nil
	}
	open, err := c.pickOrSetting(ctx, "Tickets", "status", psa.NamedRef{}, "reopenStatus", c.cfg.ReopenStatus)
	if err != nil {
		return err
	}
	return c.setStatus(ctx, idOf(t.ID), open)
}

// TicketTouched implements psa.TicketWriter: a resource other than the
// API user was the ticket's last actor (a status or field change, a note
// or a time entry), wrote a note, or logged time on it. Autotask's REST API
// has no field history, so a human's status change followed by our own
// activity is seen only through its notes or time entries.
func (c *Client) TicketTouched(ctx context.Context, id string) (bool, error) {
	t, err := c.rawTicket(ctx, id)
	if err != nil {
		return false, err
	}
	self, err := c.selfID(ctx)
	if err != nil {
		return false, err
	}
	if last := idOf(t.LastActivityResourceID); last != 0 && last != self {
		return true, nil
	}
	tid := idOf(t.ID)
	n, err := c.count(ctx, "TicketNotes", eq("ticketID", tid), op("noteq", "creatorResourceID", self))
	if err != nil {
		return false, fmt.Errorf("count the notes of Autotask ticket %d: %w", tid, err)
	}
	if n > 0 {
		return true, nil
	}
	p, err := queryPage[struct {
		ID json.Number `json:"id"`
	}](ctx, c, "TimeEntries", queryBody{Filter: []filter{eq("ticketID", tid), op("noteq", "resourceID", self)}, IncludeFields: []string{"id"}, MaxRecords: 1})
	if err != nil {
		return false, fmt.Errorf("read the time entries of Autotask ticket %d: %w", tid, err)
	}
	return len(p.Items) > 0, nil
}
