package psatest

import (
	"context"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/internal/conformance"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// recorded wraps a client so that every error it returns is kept for the
// redaction check. Optional roles are forwarded when the wrapped client
// has them; capability checks look at the wrapped client itself (raw).
type recorded struct {
	raw psa.Client
	log *conformance.Errors
}

// errNoRole is what the wrapper answers for a role the client lacks.
func errNoRole(role string) error {
	return apperr.New(apperr.NotImplemented, "the client does not implement %s", role)
}

func (c recorded) TestConnection(ctx context.Context) error {
	return c.log.Add(c.raw.TestConnection(ctx))
}

func (c recorded) SearchAccounts(ctx context.Context, q psa.AccountQuery) (psa.Page[psa.Account], error) {
	p, err := c.raw.SearchAccounts(ctx, q)
	return p, c.log.Add(err)
}

func (c recorded) GetAccount(ctx context.Context, id string) (psa.Account, error) {
	a, err := c.raw.GetAccount(ctx, id)
	return a, c.log.Add(err)
}

func (c recorded) ListAccountStatuses(ctx context.Context) ([]psa.NamedRef, error) {
	r, err := c.raw.ListAccountStatuses(ctx)
	return r, c.log.Add(err)
}

func (c recorded) ListAccountTypes(ctx context.Context) ([]psa.NamedRef, error) {
	r, err := c.raw.ListAccountTypes(ctx)
	return r, c.log.Add(err)
}

func (c recorded) CreateAccount(ctx context.Context, a psa.NewAccount) (psa.Account, error) {
	r, err := c.raw.CreateAccount(ctx, a)
	return r, c.log.Add(err)
}

func (c recorded) ListLocations(ctx context.Context, accountID string) ([]psa.Location, error) {
	r, err := c.raw.ListLocations(ctx, accountID)
	return r, c.log.Add(err)
}

func (c recorded) CreateLocation(ctx context.Context, accountID string, l psa.NewLocation) (psa.Location, error) {
	r, err := c.raw.CreateLocation(ctx, accountID, l)
	return r, c.log.Add(err)
}

func (c recorded) GetAsset(ctx context.Context, id string) (psa.Asset, error) {
	r, err := c.raw.GetAsset(ctx, id)
	return r, c.log.Add(err)
}

func (c recorded) FindAssetsByExternalRef(ctx context.Context, ref string) ([]psa.Asset, error) {
	r, err := c.raw.FindAssetsByExternalRef(ctx, ref)
	return r, c.log.Add(err)
}

func (c recorded) FindAssetsBySerial(ctx context.Context, serial string) ([]psa.Asset, error) {
	r, err := c.raw.FindAssetsBySerial(ctx, serial)
	return r, c.log.Add(err)
}

func (c recorded) CreateAsset(ctx context.Context, a psa.Asset) (psa.Asset, error) {
	r, err := c.raw.CreateAsset(ctx, a)
	return r, c.log.Add(err)
}

func (c recorded) UpdateAsset(ctx context.Context, a psa.Asset) (psa.Asset, error) {
	r, err := c.raw.UpdateAsset(ctx, a)
	return r, c.log.Add(err)
}

func (c recorded) CreateTicket(ctx context.Context, t psa.NewTicket) (psa.Ticket, error) {
	r, err := c.raw.CreateTicket(ctx, t)
	return r, c.log.Add(err)
}

func (c recorded) GetTicket(ctx context.Context, id string) (psa.Ticket, error) {
	r, err := c.raw.GetTicket(ctx, id)
	return r, c.log.Add(err)
}

func (c recorded) AddTicketNote(ctx context.Context, id string, n psa.Note) error {
	return c.log.Add(c.raw.AddTicketNote(ctx, id, n))
}

func (c recorded) CloseTicket(ctx context.Context, id, resolution string) error {
	return c.log.Add(c.raw.CloseTicket(ctx, id, resolution))
}

func (c recorded) TicketTouched(ctx context.Context, id string) (bool, error) {
	r, err := c.raw.TicketTouched(ctx, id)
	return r, c.log.Add(err)
}

func (c recorded) ListMembers(ctx context.Context) ([]psa.Member, error) {
	r, err := c.raw.ListMembers(ctx)
	return r, c.log.Add(err)
}

func (c recorded) FindAccountsByExternalRef(ctx context.Context, ref string) ([]psa.Account, error) {
	f, ok := c.raw.(psa.AccountRefFinder)
	if !ok {
		return nil, errNoRole("psa.AccountRefFinder")
	}
	r, err := f.FindAccountsByExternalRef(ctx, ref)
	return r, c.log.Add(err)
}

func (c recorded) FindTicketsByExternalRef(ctx context.Context, ref string) ([]psa.Ticket, error) {
	f, ok := c.raw.(psa.TicketRefFinder)
	if !ok {
		return nil, errNoRole("psa.TicketRefFinder")
	}
	r, err := f.FindTicketsByExternalRef(ctx, ref)
	return r, c.log.Add(err)
}

func (c recorded) AccountsCreatedSince(ctx context.Context, since time.Time) ([]psa.Account, error) {
	f, ok := c.raw.(psa.RecentAccounts)
	if !ok {
		return nil, errNoRole("psa.RecentAccounts")
	}
	r, err := f.AccountsCreatedSince(ctx, since)
	return r, c.log.Add(err)
}

func (c recorded) ReopenTicket(ctx context.Context, id string) error {
	f, ok := c.raw.(TicketReopener)
	if !ok {
		return errNoRole("TicketReopener")
	}
	return c.log.Add(f.ReopenTicket(ctx, id))
}
