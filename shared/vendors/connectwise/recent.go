package connectwise

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/psa"
)

var _ psa.RecentAccounts = (*Client)(nil)

// fieldDateEntered is when a record was created, in its _info object.
const fieldDateEntered = "_info/dateEntered"

// After is field > [datetime]: ConnectWise compares dates written in
// square brackets (vendor-apis.md §4.4, "lastUpdated>[ts]"), to the second,
// in UTC. t is truncated to the second, so nothing after t is missed.
func After(field string, t time.Time) Cond {
	return Cond(field + " > [" + t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z") + "]")
}

// AccountsCreatedSince implements psa.RecentAccounts: the companies not
// deleted whose _info/dateEntered is after since, every page (conditions
// deletedFlag=false and _info/dateEntered > [since]). Companies carrying
// rmmbridge's reference in the custom field Config.AccountRefFieldID were
// created by rmmbridge for an RMM organization and are left out.
func (c *Client) AccountsCreatedSince(ctx context.Context, since time.Time) ([]psa.Account, error) {
	q := query(And(EqBool("deletedFlag", false), After(fieldDateEntered, since)), nil)
	cos, err := collect[apiCompany](ctx, c, "/company/companies", "/company/companies", q)
	if err != nil {
		return nil, fmt.Errorf("list ConnectWise companies entered since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	// Forward-only paging takes no orderBy: order here.
	slices.SortFunc(cos, func(a, b apiCompany) int { return a.ID - b.ID })
	out := make([]psa.Account, 0, len(cos))
	for _, co := range cos {
		if co.DeletedFlag {
			continue // a server that ignored the condition
		}
		if c.cfg.AccountRefFieldID != 0 && fieldText(co.CustomFields, c.cfg.AccountRefFieldID) != "" {
			continue
		}
		out = append(out, toAccount(co))
	}
	return out, nil
}
