package dynamostore

import (
	"context"
	"fmt"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/account"
)

// ListAudit pages a tenant's audit events, newest first: limit per page,
// cursor from the previous page ("" for the first); a cursor this list did
// not issue is Invalid naming "cursor". The users' events (action
// user.*, users.go) share the partition; they carry no mapping, so their
// Before and After are nil here.
func (r Mappings) ListAudit(ctx context.Context, tenantID string, limit int, cursor string) ([]account.AuditEvent, string, error) {
	var items []auditItem
	next, err := r.s.Query(ctx, Query{PK: "T#" + tenantID + "#AUDIT", Limit: int32(limit), Cursor: cursor, Descending: true}, &items)
	if err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", err)
	}
	out := make([]account.AuditEvent, 0, len(items))
	for _, it := range items {
		e := account.AuditEvent{At: it.At, Actor: it.Actor, Action: it.Action, Target: it.Target, Before: it.Before, After: it.After}
		if strings.HasPrefix(it.Action, "user.") {
			e.Before, e.After = nil, nil // user snapshots, not mappings
		}
		out = append(out, e)
	}
	return out, next, nil
}
