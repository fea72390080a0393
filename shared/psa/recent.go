package psa

import (
	"context"
	"time"
)

// RecentAccounts lists the accounts created after a time, with the vendor's
// server-side filter on the creation date (never a download of every
// account). Reverse provisioning uses it to find new PSA accounts.
//
// Deleted accounts are left out, and so are the accounts rmmbridge itself
// created for an RMM organization (those carrying our external reference,
// NewAccount.ExternalRef): they already have their organization. The
// creation date is the vendor's clock, so callers overlap their windows.
// The result is ordered by account id.
type RecentAccounts interface {
	AccountsCreatedSince(ctx context.Context, since time.Time) ([]Account, error)
}
