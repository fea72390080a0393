package connectwise

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
)

func toTicket(t apiTicket) psa.Ticket {
	out := psa.Ticket{
		ID:          strconv.Itoa(t.ID),
		AccountID:   t.Company.id(),
		LocationID:  t.Site.id(),
		Summary:     t.Summary,
		Description: t.InitialDescription,
		Closed:      t.ClosedFlag,
	}
	if t.Status != nil {
		out.Status = psa.NamedRef{ID: t.Status.id(), Name: t.Status.Name}
	}
	if t.Priority != nil {
		out.Priority = psa.NamedRef{ID: t.Priority.id(), Name: t.Priority.Name}
	}
	if t.Board != nil {
		out.Board = psa.NamedRef{ID: t.Board.id(), Name: t.Board.Name}
	}
	if t.Info != nil {
		out.CreatedAt = parseTime(t.Info.DateEntered)
	}
	return out
}

// patch sends a JSON Patch; replacing fields with fixed values is safe to
// repeat, so it is retried like a GET.
func (c *Client) patch(ctx context.Context, route, path string, ops []patchOp, out any) error {
	_, err := c.http.Do(ctx, vendorhttp.Request{Method: http.MethodPatch, Path: path, Body: ops, Route: "PATCH " + route, Idempotent: true}, out)
	return err
}

// CreateTicket implements psa.TicketWriter: POST /service/tickets with the
// summary truncated to Config.MaxSummaryLen, the board, status and
// priority (resolved by name when no id is given; a status name is looked
// up among the board's statuses), company, site, initial description and
// our reference in externalXRef; then the asset is attached
// (POST /service/tickets/{id}/configurations). A failed attachment does
// not fail the call — the ticket exists and a second one must not be
// opened — it is logged and the returned ticket has no AssetID.
func (c *Client) CreateTicket(ctx context.Context, t psa.NewTicket) (psa.Ticket, error) {
	summary := psa.Truncate(strings.TrimSpace(t.Summary), c.cfg.MaxSummaryLen)
	if summary == "" {
		return psa.Ticket{}, apperr.InvalidFields(apperr.FieldError{Field: "summary", Message: "is required"})
	}
	company, err := strconv.Atoi(t.AccountID)
	if err != nil || company <= 0 {
		return psa.Ticket{}, apperr.InvalidFields(apperr.FieldError{Field: "accountId", Message: "must be a ConnectWise company id"})
	}
	var site, asset int
	if t.LocationID != "" {
		if site, err = strconv.Atoi(t.LocationID); err != nil || site <= 0 {
			return psa.Ticket{}, apperr.InvalidFields(apperr.FieldError{Field: "locationId", Message: "must be a ConnectWise site id"})
		}
	}
	if t.AssetID != "" {
		if asset, err = strconv.Atoi(t.AssetID); err != nil || asset <= 0 {
			return psa.Ticket{}, apperr.InvalidFields(apperr.FieldError{Field: "assetId", Message: "must be a ConnectWise configuration id"})
		}
	}
	board, err := resolve(ctx, "service board", t.Board, c.loader(pathBoards))
	if err != nil {
		return psa.Ticket{}, err
	}
	status, err := c.resolveStatus(ctx, board, t.Status)
	if err != nil {
		return psa.Ticket{}, err
	}
	priority, err := resolve(ctx, "priority", t.Priority, c.loader(pathPriorities))
	if err != nil {
		return psa.Ticket{}, err
	}
	typ, err := c.resolveType(ctx, board, t.Type)
	if err != nil {
		return psa.Ticket{}, err
	}
	body := apiTicket{
		Summary:            summary,
		RecordType:         "ServiceTicket",
		Board:              idRef(board),
		Status:             idRef(status),
		Priority:           idRef(priority),
		Type:               idRef(typ),
		Company:            idRef(company),
		Site:               idRef(site),
		InitialDescription: t.Description,
		ExternalXRef:       t.ExternalRef,
	}
	var created apiTicket
	if _, err := c.do(ctx, http.MethodPost, "/service/tickets", "/service/tickets", nil, body, &created); err != nil {
		return psa.Ticket{}, fmt.Errorf("create ConnectWise ticket for company %d: %w", company, err)
	}
	out := toTicket(created)
	if asset != 0 {
		if err := c.attachConfiguration(ctx, created.ID, asset); err != nil {
			if c.cfg.Logger != nil {
				c.cfg.Logger.WarnContext(ctx, "ConnectWise ticket created but the configuration was not attached", "ticketId", created.ID, "assetId", asset, "error", err.Error())
			}
			return out, nil
		}
		out.AssetID = strconv.Itoa(asset)
	}
	return out, nil
}

// resolveStatus resolves a ticket status, by name among the board's.
func (c *Client) resolveStatus(ctx context.Context, board int, r psa.NamedRef) (int, error) {
	if r.ID == "" && r.Name != "" && board == 0 {
		return 0, apperr.InvalidFields(apperr.FieldError{Field: "status", Message: "a status given by name needs a board"})
	}
	return resolve(ctx, "ticket status", r, func(ctx context.Context) ([]apiNamed, error) { return c.boardStatuses(ctx, board) })
}

// resolveType resolves a ticket type among the board's types (0: none).
func (c *Client) resolveType(ctx context.Context, board int, r psa.NamedRef) (int, error) {
	if r.IsZero() {
		return 0, nil
	}
	if r.ID == "" && board == 0 {
		return 0, apperr.InvalidFields(apperr.FieldError{Field: "type", Message: "a ticket type given by name needs a board"})
	}
	return resolve(ctx, "ticket type", r, func(ctx context.Context) ([]apiNamed, error) { return c.boardTypes(ctx, board) })
}

// attachConfiguration links a configuration to a ticket; an existing link
// counts as success.
func (c *Client) attachConfiguration(ctx context.Context, ticket, config int) error {
	resp, err := c.do(ctx, http.MethodPost, "/service/tickets/{id}/configurations", fmt.Sprintf("/service/tickets/%d/configurations", ticket), nil, map[string]int{"id": config}, nil)
	if err != nil {
		if ve, ok := vendorError(resp); ok && ve.hasFieldError("ObjectExists", "") {
			return nil
		}
		return fmt.Errorf("attach ConnectWise configuration %d to ticket %d: %w", config, ticket, err)
	}
	return nil
}

func (c *Client) getTicket(ctx context.Context, n int) (apiTicket, error) {
	var t apiTicket
	if err := c.get(ctx, "/service/tickets/{id}", fmt.Sprintf("/service/tickets/%d", n), nil, &t); err != nil {
		return apiTicket{}, fmt.Errorf("get ConnectWise ticket %d: %w", n, err)
	}
	return t, nil
}

// GetTicket implements psa.TicketWriter: the ticket and its first attached
// configuration (2 requests).
func (c *Client) GetTicket(ctx context.Context, id string) (psa.Ticket, error) {
	n, err := parseID("ticket", id)
	if err != nil {
		return psa.Ticket{}, err
	}
	t, err := c.getTicket(ctx, n)
	if err != nil {
		return psa.Ticket{}, err
	}
	out := toTicket(t)
	cfs, err := collect[apiConfiguration](ctx, c, "/service/tickets/{id}/configurations", fmt.Sprintf("/service/tickets/%d/configurations", n), nil)
	if err != nil {
		return psa.Ticket{}, fmt.Errorf("list configurations of ConnectWise ticket %d: %w", n, err)
	}
	if len(cfs) > 0 {
		out.AssetID = strconv.Itoa(cfs[0].ID)
	}
	return out, nil
}

// FindTicketsByExternalRef implements psa.TicketRefFinder (conditions
// externalXRef="ref"). Found tickets carry no AssetID.
func (c *Client) FindTicketsByExternalRef(ctx context.Context, ref string) ([]psa.Ticket, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, nil
	}
	ts, err := collect[apiTicket](ctx, c, "/service/tickets", "/service/tickets", query(Eq("externalXRef", ref), nil))
	if err != nil {
		return nil, fmt.Errorf("find ConnectWise tickets by reference %q: %w", ref, err)
	}
	var out []psa.Ticket
	for _, t := range ts {
		if t.ExternalXRef == ref {
			out = append(out, toTicket(t))
		}
	}
	return out, nil
}

// AddTicketNote implements psa.TicketWriter: a detail-description note, or
// an internal-analysis note when n.Internal.
func (c *Client) AddTicketNote(ctx context.Context, id string, n psa.Note) error {
	tn, err := parseID("ticket", id)
	if err != nil {
		return err
	}
	if strings.TrimSpace(n.Text) == "" {
		return apperr.InvalidFields(apperr.FieldError{Field: "text", Message: "is required"})
	}
	return c.addNote(ctx, tn, apiNote{Text: n.Text, DetailDescriptionFlag: !n.Internal, InternalAnalysisFlag: n.Internal})
}

func (c *Client) addNote(ctx context.Context, ticket int, note apiNote) error {
	if _, err := c.do(ctx, http.MethodPost, "/service/tickets/{id}/notes", fmt.Sprintf("/service/tickets/%d/notes", ticket), nil, note, nil); err != nil {
		return fmt.Errorf("add note to ConnectWise ticket %d: %w", ticket, err)
	}
	return nil
}

// CloseTicket implements psa.TicketWriter: unless the ticket is already
// closed, it adds the resolution as a resolution note (when not empty) and
// sets the closed status with a JSON Patch. The status is Config.ClosedStatus
// when set, else the board's first active closed status by sort order.
func (c *Client) CloseTicket(ctx context.Context, id string, resolution string) error {
	n, err := parseID("ticket", id)
	if err != nil {
		return err
	}
	t, err := c.getTicket(ctx, n)
	if err != nil {
		return err
	}
	if t.ClosedFlag {
		return nil
	}
	if t.Board == nil || t.Board.ID == 0 {
		return apperr.New(apperr.Vendor, "ConnectWise ticket %d has no board", n)
	}
	statuses, err := c.boardStatuses(ctx, t.Board.ID)
	if err != nil {
		return err
	}
	closed, ok := closedStatus(statuses, c.cfg.ClosedStatus)
	if !ok {
		if c.cfg.ClosedStatus != "" {
			return apperr.New(apperr.Invalid, "ConnectWise board %q has no status named %q", t.Board.Name, c.cfg.ClosedStatus)
		}
		return apperr.New(apperr.Invalid, "ConnectWise board %q has no closed status", t.Board.Name)
	}
	if strings.TrimSpace(resolution) != "" {
		if err := c.addNote(ctx, n, apiNote{Text: resolution, ResolutionFlag: true}); err != nil {
			return err
		}
	}
	if err := c.patch(ctx, "/service/tickets/{id}", fmt.Sprintf("/service/tickets/%d", n), []patchOp{replace("status", ref{ID: closed.ID})}, nil); err != nil {
		return fmt.Errorf("close ConnectWise ticket %d: %w", n, err)
	}
	return nil
}

// closedStatus picks the status CloseTicket sets.
func closedStatus(statuses []apiNamed, name string) (apiNamed, bool) {
	if name != "" {
		return findNamed(statuses, name)
	}
	for _, s := range statuses {
		if s.ClosedStatus && !s.Inactive {
			return s, true
		}
	}
	return apiNamed{}, false
}

// ReopenTicket implements psa.TicketReopener: unless the ticket is open
// already, it sets an open status with a JSON Patch (ConnectWise clears
// closedFlag with it). The status is Config.ReopenStatus when set (a status
// of the ticket's board that is not a closed one), else the board's
// default status when it is open, else its first active open status by
// sort order.
func (c *Client) ReopenTicket(ctx context.Context, id string) error {
	n, err := parseID("ticket", id)
	if err != nil {
		return err
	}
	t, err := c.getTicket(ctx, n)
	if err != nil {
		return err
	}
	if !t.ClosedFlag {
		return nil
	}
	if t.Board == nil || t.Board.ID == 0 {
		return apperr.New(apperr.Vendor, "ConnectWise ticket %d has no board", n)
	}
	statuses, err := c.boardStatuses(ctx, t.Board.ID)
	if err != nil {
		return err
	}
	open, ok := openStatus(statuses, c.cfg.ReopenStatus)
	if !ok {
		if c.cfg.ReopenStatus != "" {
			return apperr.New(apperr.Invalid, "ConnectWise board %q has no open status named %q (settings.reopenStatus)", t.Board.Name, c.cfg.ReopenStatus)
		}
		return apperr.New(apperr.Invalid, "ConnectWise board %q has no open status", t.Board.Name)
	}
	if err := c.patch(ctx, "/service/tickets/{id}", fmt.Sprintf("/service/tickets/%d", n), []patchOp{replace("status", ref{ID: open.ID})}, nil); err != nil {
		return fmt.Errorf("reopen ConnectWise ticket %d: %w", n, err)
	}
	return nil
}

// openStatus picks the status ReopenTicket sets.
func openStatus(statuses []apiNamed, name string) (apiNamed, bool) {
	if name != "" {
		s, ok := findNamed(statuses, name)
		return s, ok && !s.ClosedStatus
	}
	for _, s := range statuses {
		if s.DefaultFlag && !s.ClosedStatus && !s.Inactive {
			return s, true
		}
	}
	for _, s := range statuses {
		if !s.ClosedStatus && !s.Inactive {
			return s, true
		}
	}
	return apiNamed{}, false
}

// TicketTouched implements psa.TicketWriter. "Us" is Config.APIMember (or,
// when unset, the member who entered the ticket) plus Config.IgnoreMembers;
// the ticket was touched by a human when anyone else
//
//  1. last updated the ticket (_info.updatedBy), or
//  2. wrote one of its notes (createdBy, or member.identifier), or
//  3. appears in its audit trail (/system/audittrail?type=Ticket&id=N,
//     enteredBy), which also records status, owner and time changes.
//
// The checks run in this order and stop at the first hit. A workflow rule
// acting under another identity counts as a human unless listed in
// IgnoreMembers — the safe direction: rmmbridge then adds a note instead of
// closing.
func (c *Client) TicketTouched(ctx context.Context, id string) (bool, error) {
	n, err := parseID("ticket", id)
	if err != nil {
		return false, err
	}
	t, err := c.getTicket(ctx, n)
	if err != nil {
		return false, err
	}
	us := map[string]bool{}
	self := strings.TrimSpace(c.cfg.APIMember)
	if self == "" && t.Info != nil {
		self = strings.TrimSpace(t.Info.EnteredBy)
	}
	if self == "" {
		return false, apperr.New(apperr.Vendor, "ConnectWise ticket %d does not say who entered it; configure the API member", n)
	}
	for _, m := range append([]string{self}, c.cfg.IgnoreMembers...) {
		us[strings.ToLower(strings.TrimSpace(m))] = true
	}
	other := func(who string) bool {
		who = strings.ToLower(strings.TrimSpace(who))
		return who != "" && !us[who]
	}
	if t.Info != nil && other(t.Info.UpdatedBy) {
		return true, nil
	}
	notes, err := collect[apiNote](ctx, c, "/service/tickets/{id}/notes", fmt.Sprintf("/service/tickets/%d/notes", n), nil)
	if err != nil {
		return false, fmt.Errorf("list notes of ConnectWise ticket %d: %w", n, err)
	}
	for _, note := range notes {
		if other(note.CreatedBy) || (note.Member != nil && other(note.Member.Identifier)) {
			return true, nil
		}
	}
	audit, err := collect[apiAuditEntry](ctx, c, "/system/audittrail", "/system/audittrail", url.Values{"type": {"Ticket"}, "id": {strconv.Itoa(n)}})
	if err != nil {
		return false, fmt.Errorf("read the audit trail of ConnectWise ticket %d: %w", n, err)
	}
	for _, e := range audit {
		if other(e.EnteredBy) {
			return true, nil
		}
	}
	return false, nil
}

// ListMembers implements psa.MemberLister: every member, inactive ones
// included, with its security role.
func (c *Client) ListMembers(ctx context.Context) ([]psa.Member, error) {
	ms, err := collect[apiMember](ctx, c, "/system/members", "/system/members", url.Values{})
	if err != nil {
		return nil, fmt.Errorf("list ConnectWise members: %w", err)
	}
	out := make([]psa.Member, len(ms))
	for i, m := range ms {
		name := strings.TrimSpace(m.FirstName + " " + m.LastName)
		if name == "" {
			name = m.Identifier
		}
		email := m.PrimaryEmail
		if email == "" {
			email = m.OfficeEmail
		}
		role := ""
		if m.SecurityRole != nil {
			role = m.SecurityRole.Name
		}
		out[i] = psa.Member{ID: strconv.Itoa(m.ID), Name: name, Email: email, Active: !m.InactiveFlag, Role: role}
	}
	return out, nil
}
