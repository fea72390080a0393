package psa

import "context"

// AccountRefFinder finds accounts by the external reference rmmbridge stored
// on them at creation (NewAccount.ExternalRef, the RMM organization id). The
// exactly-once account creation uses it to adopt an account that a crashed
// worker created before it could record the mapping. It returns every match
// (possibly none); it never returns NotFound. A vendor client configured
// without a place for the reference returns an apperr.NotImplemented error.
type AccountRefFinder interface {
	FindAccountsByExternalRef(ctx context.Context, ref string) ([]Account, error)
}

// TicketRefFinder finds tickets by the external reference rmmbridge stored
// on them at creation (NewTicket.ExternalRef, the alert series id), so that
// an alert worker that crashed between creating a ticket and recording the
// alert link adopts the ticket instead of opening a second one. It returns
// every match (possibly none); it never returns NotFound.
type TicketRefFinder interface {
	FindTicketsByExternalRef(ctx context.Context, ref string) ([]Ticket, error)
}

// TicketReopener reopens a closed ticket: it sets the ticket back to an
// open status. Reopening a ticket that is open already changes nothing.
// The alert worker uses it for a trigger inside the integration's reopen
// window; without it, it only notes the trigger on the closed ticket.
type TicketReopener interface {
	ReopenTicket(ctx context.Context, id string) error
}
