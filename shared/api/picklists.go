package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/limits"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

type ticketPicklistsView struct {
	Boards     []namedItem `json:"boards"`
	Priorities []namedItem `json:"priorities"`
	Statuses   []namedItem `json:"statuses"`
	Types      []namedItem `json:"types"`
}

func namedItems(refs []psa.NamedRef) []namedItem {
	out := make([]namedItem, 0, len(refs))
	for _, r := range refs {
		out = append(out, namedItem{ID: r.ID, Name: r.Name})
	}
	return out
}

// ticketPicklists is GET /psa/ticket-picklists?board=: the values an
// integration's ticketDefaults and priorityMap choose from — boards and
// priorities, and with board (an id or a name) that board's statuses and
// types. A PSA that cannot list them is a 422 saying so.
func (a accountsAPI) ticketPicklists(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	board, err := r.QueryChecked("board", func(f, s string) *apperr.FieldError { return limits.Text(f, s, limits.MaxTextLength) })
	if err != nil {
		return nil, err
	}
	cl, err := a.open(ctx, r)
	if err != nil {
		return nil, err
	}
	p, err := vendorspec.Require[psa.TicketPicklists](cl.PSA, vendorspec.TicketsPicklists,
		"offering the PSA's ticket boards and priorities (type the ticket defaults and priorities as the PSA names them)")
	if err != nil {
		return nil, err
	}
	out := ticketPicklistsView{Statuses: []namedItem{}, Types: []namedItem{}}
	boards, err := p.ListBoards(ctx)
	if err != nil {
		return nil, err
	}
	prios, err := p.ListPriorities(ctx)
	if err != nil {
		return nil, err
	}
	out.Boards, out.Priorities = namedItems(boards), namedItems(prios)
	if board != "" {
		ref := psa.NamedRef{Name: board}
		if _, err := strconv.Atoi(board); err == nil {
			ref = psa.NamedRef{ID: board}
		}
		st, err := p.ListTicketStatuses(ctx, ref)
		if err != nil {
			return nil, httpapi.QueryError(boardError(err), "board")
		}
		ty, err := p.ListTicketTypes(ctx, ref)
		if err != nil {
			return nil, httpapi.QueryError(boardError(err), "board")
		}
		out.Statuses, out.Types = namedItems(st), namedItems(ty)
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

// boardError names the board parameter in a PSA's refusal of an unknown
// board.
func boardError(err error) error {
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid && len(e.Fields) == 0 {
		return apperr.InvalidFields(apperr.FieldError{Field: "board", Message: e.Message})
	}
	return err
}
