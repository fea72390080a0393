package psa

import "context"

// TicketPicklists lists the values of the PSA's ticket fields that an
// integration's ticket defaults and priority map choose from: boards (or
// queues), priorities, and a board's statuses and types. A board is given
// by id or name (NamedRef). A PSA client without it leaves those settings
// to be typed.
type TicketPicklists interface {
	ListBoards(ctx context.Context) ([]NamedRef, error)
	ListPriorities(ctx context.Context) ([]NamedRef, error)
	ListTicketStatuses(ctx context.Context, board NamedRef) ([]NamedRef, error)
	ListTicketTypes(ctx context.Context, board NamedRef) ([]NamedRef, error)
}
