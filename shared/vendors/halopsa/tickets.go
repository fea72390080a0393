package halopsa

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

func (c *Client) toTicket(ctx context.Context, t apiTicket) psa.Ticket {
	out := psa.Ticket{
		ID: strconv.Itoa(t.ID), AccountID: itoa(t.ClientID), LocationID: itoa(t.SiteID), Summary: t.Summary, Description: t.Details,
		Status:   psa.NamedRef{ID: itoa(t.StatusID), Name: c.nameIn(ctx, "Status", t.StatusID)},
		Priority: psa.NamedRef{ID: itoa(t.PriorityID), Name: c.nameIn(ctx, "Priority", t.PriorityID)},
		Closed:   t.StatusID == c.cfg.ClosedStatusID,
	}
	if len(t.Assets) > 0 {
		out.AssetID = itoa(t.Assets[0].ID)
	}
	if t.Team != "" {
		out.Board = psa.NamedRef{Name: t.Team}
		if r, err := c.resolve(ctx, "Team", "team", psa.NamedRef{Name: t.Team}); err == nil {
			out.Board = r
		}
	}
	if t.DateCreated != "" {
		out.CreatedAt = parseTime(t.DateCreated)
	}
	return out
}

// CreateTicket implements psa.TicketWriter: POST /api/Tickets with the
// team (Board), ticket type, status and priority resolved from Halo's
// lists (an unknown one is Invalid, never silently dropped), the asset in
// assets[] and our series reference in the ticket custom field.
func (c *Client) CreateTicket(ctx context.Context, nt psa.NewTicket) (psa.Ticket, error) {
	client, err := parseID("client", nt.AccountID)
	if err != nil {
		return psa.Ticket{}, apperr.InvalidFields(apperr.FieldError{Field: "accountId", Message: "is not a HaloPSA client id"})
	}
	summary := psa.Truncate(strings.TrimSpace(nt.Summary), c.cfg.MaxSummaryLen)
	if summary == "" {
		return psa.Ticket{}, apperr.InvalidFields(apperr.FieldError{Field: "summary", Message: "is required"})
	}
	body := apiTicket{Summary: summary, Details: nt.Description, ClientID: client, SiteID: atoi(nt.LocationID)}
	for _, r := range []struct {
		entity, what string
		ref          psa.NamedRef
		dst          *int
	}{
		{"TicketType", "ticket type", nt.Type, &body.TicketTypeID},
		{"Status", "status", nt.Status, &body.StatusID},
		{"Priority", "priority", nt.Priority, &body.PriorityID},
	} {
		x, err := c.resolve(ctx, r.entity, r.what, r.ref)
		if err != nil {
			return psa.Ticket{}, err
		}
		*r.dst = atoi(x.ID)
	}
	team, err := c.resolve(ctx, "Team", "team", nt.Board)
	if err != nil {
		return psa.Ticket{}, err
	}
	body.Team = team.Name
	if id := atoi(nt.AssetID); id != 0 {
		body.Assets = []idRef{{ID: id}}
	}
	if ref := strings.TrimSpace(nt.ExternalRef); ref != "" && c.cfg.TicketRefFieldID != 0 {
		body.CustomFields = []customField{{ID: c.cfg.TicketRefFieldID, Value: textValue(ref)}}
	}
	var saved apiTicket
	if err := c.post(ctx, "Tickets", body, &saved); err != nil {
		return psa.Ticket{}, fmt.Errorf("create HaloPSA ticket: %w", err)
	}
	if saved.ID == 0 {
		return psa.Ticket{}, apperr.New(apperr.Vendor, "HaloPSA saved a ticket without an id")
	}
	return c.toTicket(ctx, saved), nil
}

func (c *Client) getTicket(ctx context.Context, id string) (apiTicket, int, error) {
	n, err := parseID("ticket", id)
	if err != nil {
		return apiTicket{}, 0, err
	}
	var t apiTicket
	if err := c.get(ctx, "/api/Tickets/{id}", "/Tickets/"+strconv.Itoa(n), nil, &t); err != nil {
		return apiTicket{}, n, fmt.Errorf("get HaloPSA ticket %d: %w", n, err)
	}
	return t, n, nil
}

// GetTicket implements psa.TicketWriter.
func (c *Client) GetTicket(ctx context.Context, id string) (psa.Ticket, error) {
	t, _, err := c.getTicket(ctx, id)
	if err != nil {
		return psa.Ticket{}, err
	}
	return c.toTicket(ctx, t), nil
}

// FindTicketsByExternalRef implements psa.TicketRefFinder: tickets whose
// custom field Config.TicketRefFieldID is ref. Halo's search narrows the
// candidates (§6 [U] whether it covers custom fields: if not, a crashed
// worker's ticket is not adopted and a second ticket is opened — visible,
// never a lost alert); each candidate's field is compared exactly.
func (c *Client) FindTicketsByExternalRef(ctx context.Context, ref string) ([]psa.Ticket, error) {
	if c.cfg.TicketRefFieldID == 0 {
		return nil, apperr.New(apperr.NotImplemented, "the HaloPSA connection has no ticket custom field for rmmbridge's reference (settings.ticketRefFieldId)")
	}
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, nil
	}
	raws, err := collect[json.RawMessage](ctx, c, "Tickets", "tickets", url.Values{"search": {ref}})
	if err != nil {
		return nil, fmt.Errorf("find HaloPSA tickets by reference: %w", err)
	}
	var out []psa.Ticket
	for _, raw := range raws {
		t, err := complete[apiTicket](ctx, c, "Tickets", raw, "customfields")
		if err != nil {
			return nil, fmt.Errorf("find HaloPSA tickets by reference: %w", err)
		}
		if fieldText(t.CustomFields, c.cfg.TicketRefFieldID) == ref {
			out = append(out, c.toTicket(ctx, t))
		}
	}
	return out, nil
}

// addAction posts an action to ticket n.
func (c *Client) addAction(ctx context.Context, n int, text string, internal bool) error {
	outcome := "Note"
	if internal {
		outcome = "Private Note"
	}
	return c.post(ctx, "Actions", apiAction{TicketID: n, Outcome: outcome, Note: text, HiddenFromUse: internal}, nil)
}

// AddTicketNote implements psa.TicketWriter: POST /api/Actions.
func (c *Client) AddTicketNote(ctx context.Context, id string, note psa.Note) error {
	n, err := parseID("ticket", id)
	if err != nil {
		return err
	}
	if err := c.addAction(ctx, n, note.Text, note.Internal); err != nil {
		return fmt.Errorf("add a note to HaloPSA ticket %d: %w", n, err)
	}
	return nil
}

// setStatus updates the ticket's status (Halo records the change as an
// action of our agent).
func (c *Client) setStatus(ctx context.Context, n, status int) error {
	return c.post(ctx, "Tickets", apiTicket{ID: n, StatusID: status}, nil)
}

// CloseTicket implements psa.TicketWriter: the resolution as a private
// action, then the closed status. A closed ticket is left alone.
func (c *Client) CloseTicket(ctx context.Context, id string, resolution string) error {
	t, n, err := c.getTicket(ctx, id)
	if err != nil {
		return err
	}
	if t.StatusID == c.cfg.ClosedStatusID {
		return nil
	}
	if r := strings.TrimSpace(resolution); r != "" {
		if err := c.addAction(ctx, n, r, true); err != nil {
			return fmt.Errorf("add the resolution to HaloPSA ticket %d: %w", n, err)
		}
	}
	if err := c.setStatus(ctx, n, c.cfg.ClosedStatusID); err != nil {
		return fmt.Errorf("close HaloPSA ticket %d: %w", n, err)
	}
	return nil
}

// ReopenTicket implements psa.TicketReopener: the reopen status
// (Config.ReopenStatusID) on a closed ticket; an open one is left alone.
func (c *Client) ReopenTicket(ctx context.Context, id string) error {
	if c.cfg.ReopenStatusID == 0 {
		return apperr.New(apperr.NotImplemented, "the HaloPSA connection has no status to reopen tickets with (settings.reopenStatusId)")
	}
	t, n, err := c.getTicket(ctx, id)
	if err != nil {
		return err
	}
	if t.StatusID != c.cfg.ClosedStatusID {
		return nil
	}
	if err := c.setStatus(ctx, n, c.cfg.ReopenStatusID); err != nil {
		return fmt.Errorf("reopen HaloPSA ticket %d: %w", n, err)
	}
	return nil
}

// TicketTouched implements psa.TicketWriter: whether any action of the
// ticket (notes and status changes alike; action ids are per ticket, so
// only this ticket's list is read) was made by an agent other than ours
// (the API application's agent and Config.IgnoreAgentIDs). An action
// without an agent (an end user's e-mail, §6 [U]) counts as touched: when
// unsure, rmmbridge notes the clear instead of closing a ticket a person
// may be working.
func (c *Client) TicketTouched(ctx context.Context, id string) (bool, error) {
	n, err := parseID("ticket", id)
	if err != nil {
		return false, err
	}
	me, err := c.agentID(ctx)
	if err != nil {
		return false, fmt.Errorf("check HaloPSA ticket %d: read our agent: %w", n, err)
	}
	ours := append([]int{me}, c.cfg.IgnoreAgentIDs...)
	actions, err := collect[apiAction](ctx, c, "Actions", "actions", url.Values{"ticket_id": {strconv.Itoa(n)}})
	if err != nil {
		return false, fmt.Errorf("list the actions of HaloPSA ticket %d: %w", n, err)
	}
	for _, a := range actions {
		if a.TicketID != 0 && a.TicketID != n {
			continue // another ticket's action: ids are per ticket
		}
		if !slices.Contains(ours, a.WhoAgentID) {
			return true, nil
		}
	}
	return false, nil
}

// ListMembers implements psa.MemberLister: the active agents, without
// API-only agents and our own (agents, not end users: importing users
// would take licence seats).
func (c *Client) ListMembers(ctx context.Context) ([]psa.Member, error) {
	var agents []apiAgent
	if err := c.get(ctx, "/api/Agent", "/Agent", url.Values{"includeinactive": {"true"}}, &agents); err != nil {
		return nil, fmt.Errorf("list HaloPSA agents: %w", err)
	}
	// Our own agent is left out too (Halo's mark of an API-only agent is
	// not documented, §6 [U]); if it cannot be read, the list is still
	// answered.
	me, _ := c.agentID(ctx)
	out := []psa.Member{}
	for _, a := range agents {
		if a.IsAPIOnly || a.ID == 0 || a.ID == me {
			continue
		}
		// Inactive agents are listed too (Active false): user import
		// refuses them with the reason, a re-import shows who left.
		out = append(out, psa.Member{ID: strconv.Itoa(a.ID), Name: strings.TrimSpace(a.Name), Email: strings.TrimSpace(a.Email), Active: !a.Inactive})
	}
	return out, nil
}

// ListBoards implements psa.TicketPicklists: the teams.
func (c *Client) ListBoards(ctx context.Context) ([]psa.NamedRef, error) {
	return c.lookup(ctx, "Team")
}

// ListPriorities implements psa.TicketPicklists.
func (c *Client) ListPriorities(ctx context.Context) ([]psa.NamedRef, error) {
	return c.lookup(ctx, "Priority")
}

// team checks that the board (team) exists.
func (c *Client) team(ctx context.Context, board psa.NamedRef) error {
	if board.IsZero() {
		return nil
	}
	if _, err := c.resolve(ctx, "Team", "team", board); err != nil {
		if apperr.Is(err, apperr.Invalid) {
			return apperr.New(apperr.NotFound, "HaloPSA has no team %q", board.ID+board.Name)
		}
		return err
	}
	return nil
}

// ListTicketStatuses implements psa.TicketPicklists: Halo's statuses are
// not per team; the team is checked to exist.
func (c *Client) ListTicketStatuses(ctx context.Context, board psa.NamedRef) ([]psa.NamedRef, error) {
	if err := c.team(ctx, board); err != nil {
		return nil, err
	}
	return c.lookup(ctx, "Status")
}

// ListTicketTypes implements psa.TicketPicklists: the ticket types (not
// per team either).
func (c *Client) ListTicketTypes(ctx context.Context, board psa.NamedRef) ([]psa.NamedRef, error) {
	if err := c.team(ctx, board); err != nil {
		return nil, err
	}
	return c.lookup(ctx, "TicketType")
}

// validateSettings checks the configured ids against the instance's lists
// (TestConnection): asset types, statuses, and the client and ticket
// custom fields of our references. Only what was configured is checked.
func (c *Client) validateSettings(ctx context.Context) error {
	var bad []apperr.FieldError
	has := func(entity string, id int) (bool, error) {
		refs, err := c.lookup(ctx, entity)
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(refs, func(r psa.NamedRef) bool { return r.ID == strconv.Itoa(id) }), nil
	}
	check := func(entity, field string, id int) error {
		if id == 0 {
			return nil
		}
		ok, err := has(entity, id)
		if err != nil {
			return fmt.Errorf("test HaloPSA connection: %w", err)
		}
		if !ok {
			bad = append(bad, apperr.FieldError{Field: "settings." + field, Message: fmt.Sprintf("HaloPSA has no %s with id %d", strings.ToLower(entity), id)})
		}
		return nil
	}
	closed := 0
	if c.closedSet {
		closed = c.cfg.ClosedStatusID
	}
	for _, m := range c.cfg.AssetTypes {
		if err := check("AssetType", "assetTypeMap", m.TypeID); err != nil {
			return err
		}
	}
	for _, x := range []struct {
		entity, field string
		id            int
	}{{"AssetType", "defaultAssetTypeId", c.cfg.DefaultAssetTypeID}, {"Status", "closedStatusId", closed}, {"Status", "reopenStatusId", c.cfg.ReopenStatusID}} {
		if err := check(x.entity, x.field, x.id); err != nil {
			return err
		}
	}
	cf, err := c.checkCustomFields(ctx)
	if err != nil {
		return err
	}
	bad = append(bad, cf...)
	if len(bad) > 0 {
		return apperr.InvalidFields(bad...)
	}
	return nil
}
