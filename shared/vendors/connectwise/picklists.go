package connectwise

import (
	"context"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

var _ psa.TicketPicklists = (*Client)(nil)

// ListBoards implements psa.TicketPicklists: the active service boards.
func (c *Client) ListBoards(ctx context.Context) ([]psa.NamedRef, error) {
	return c.picklist(ctx, pathBoards)
}

// ListPriorities implements psa.TicketPicklists.
func (c *Client) ListPriorities(ctx context.Context) ([]psa.NamedRef, error) {
	return c.picklist(ctx, pathPriorities)
}

// ListTicketStatuses implements psa.TicketPicklists: the board's statuses
// in their sort order (Invalid without a board: ConnectWise has no
// statuses but a board's).
func (c *Client) ListTicketStatuses(ctx context.Context, board psa.NamedRef) ([]psa.NamedRef, error) {
	if board.IsZero() {
		return nil, apperr.New(apperr.Invalid, "ConnectWise lists ticket statuses and types per service board: name a board")
	}
	id, err := resolve(ctx, "service board", board, c.loader(pathBoards))
	if err != nil {
		return nil, err
	}
	items, err := c.boardStatuses(ctx, id)
	if err != nil {
		return nil, err
	}
	return activeRefs(items), nil
}

// ListTicketTypes implements psa.TicketPicklists: the board's ticket types
// (Invalid without a board, as statuses).
func (c *Client) ListTicketTypes(ctx context.Context, board psa.NamedRef) ([]psa.NamedRef, error) {
	if board.IsZero() {
		return nil, apperr.New(apperr.Invalid, "ConnectWise lists ticket statuses and types per service board: name a board")
	}
	id, err := resolve(ctx, "service board", board, c.loader(pathBoards))
	if err != nil {
		return nil, err
	}
	items, err := c.boardTypes(ctx, id)
	if err != nil {
		return nil, err
	}
	return activeRefs(items), nil
}

func activeRefs(items []apiNamed) []psa.NamedRef {
	out := make([]psa.NamedRef, 0, len(items))
	for _, it := range items {
		if !it.InactiveFlag && !it.Inactive {
			out = append(out, it.ref())
		}
	}
	return out
}
