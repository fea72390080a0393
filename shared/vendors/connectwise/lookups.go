package connectwise

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// lookups caches picklists (statuses, types, boards, priorities, ...) for
// Config.LookupTTL, so that name references cost a request only on first
// use. Two callers racing on a cold entry may both load it; the later one
// wins, which is harmless.
type lookups struct {
	mu sync.Mutex
	m  map[string]lookupEntry
}

type lookupEntry struct {
	v  any
	at time.Time
}

// cached returns the value stored under key, loading it when missing or
// older than the TTL.
func cached[T any](ctx context.Context, c *Client, key string, load func(context.Context) (T, error)) (T, error) {
	now := c.cfg.Now()
	c.lookups.mu.Lock()
	e, ok := c.lookups.m[key]
	c.lookups.mu.Unlock()
	if ok && now.Sub(e.at) < c.cfg.LookupTTL {
		return e.v.(T), nil
	}
	v, err := load(ctx)
	if err != nil {
		return v, err
	}
	c.lookups.mu.Lock()
	if c.lookups.m == nil {
		c.lookups.m = map[string]lookupEntry{}
	}
	c.lookups.m[key] = lookupEntry{v: v, at: now}
	c.lookups.mu.Unlock()
	return v, nil
}

// list returns a whole picklist, cached.
func (c *Client) list(ctx context.Context, path string) ([]apiNamed, error) {
	return cached(ctx, c, path, func(ctx context.Context) ([]apiNamed, error) {
		items, err := collect[apiNamed](ctx, c, path, path, nil)
		if err != nil {
			return nil, fmt.Errorf("list ConnectWise %s: %w", path, err)
		}
		return items, nil
	})
}

func (c *Client) boardStatuses(ctx context.Context, boardID int) ([]apiNamed, error) {
	path := fmt.Sprintf("/service/boards/%d/statuses", boardID)
	return cached(ctx, c, path, func(ctx context.Context) ([]apiNamed, error) {
		items, err := collect[apiNamed](ctx, c, "/service/boards/{id}/statuses", path, nil)
		if err != nil {
			return nil, fmt.Errorf("list ConnectWise statuses of board %d: %w", boardID, err)
		}
		slices.SortStableFunc(items, func(a, b apiNamed) int { return a.SortOrder - b.SortOrder })
		return items, nil
	})
}

// boardTypes lists a board's ticket types, cached.
func (c *Client) boardTypes(ctx context.Context, boardID int) ([]apiNamed, error) {
	path := fmt.Sprintf("/service/boards/%d/types", boardID)
	return cached(ctx, c, path, func(ctx context.Context) ([]apiNamed, error) {
		items, err := collect[apiNamed](ctx, c, "/service/boards/{id}/types", path, nil)
		if err != nil {
			return nil, fmt.Errorf("list ConnectWise ticket types of board %d: %w", boardID, err)
		}
		return items, nil
	})
}

// manufacturerID finds a manufacturer by name (0 when ConnectWise has none
// of that name), cached per name.
func (c *Client) manufacturerID(ctx context.Context, name string) (int, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return 0, nil
	}
	return cached(ctx, c, "manufacturer/"+strings.ToLower(name), func(ctx context.Context) (int, error) {
		items, err := collect[apiNamed](ctx, c, "/procurement/manufacturers", "/procurement/manufacturers", query(Eq("name", name), nil))
		if err != nil {
			return 0, fmt.Errorf("find ConnectWise manufacturer %q: %w", name, err)
		}
		for _, m := range items {
			if strings.EqualFold(strings.TrimSpace(m.Name), name) {
				return m.ID, nil
			}
		}
		return 0, nil
	})
}

// resolve turns a NamedRef into an id: the id when set, else the
// case-insensitive name match in the list load returns. A zero ref is 0.
func resolve(ctx context.Context, kind string, r psa.NamedRef, load func(context.Context) ([]apiNamed, error)) (int, error) {
	if r.IsZero() {
		return 0, nil
	}
	if r.ID != "" {
		n, err := parseID(kind, r.ID)
		if err != nil {
			return 0, apperr.New(apperr.Invalid, "%q is not a ConnectWise %s id", r.ID, kind)
		}
		return n, nil
	}
	items, err := load(ctx)
	if err != nil {
		return 0, err
	}
	if n, ok := findNamed(items, r.Name); ok {
		return n.ID, nil
	}
	return 0, apperr.New(apperr.Invalid, "ConnectWise has no %s named %q", kind, r.Name)
}

// findNamed matches a name case-insensitively, ignoring surrounding space.
func findNamed(items []apiNamed, name string) (apiNamed, bool) {
	name = strings.TrimSpace(name)
	for _, it := range items {
		if strings.EqualFold(strings.TrimSpace(it.Name), name) {
			return it, true
		}
	}
	return apiNamed{}, false
}

func (c *Client) loader(path string) func(context.Context) ([]apiNamed, error) {
	return func(ctx context.Context) ([]apiNamed, error) { return c.list(ctx, path) }
}

// Picklist paths.
const (
	pathCompanyStatuses = "/company/companies/statuses"
	pathCompanyTypes    = "/company/companies/types"
	pathBoards          = "/service/boards"
	pathPriorities      = "/service/priorities"
	pathConfigTypes     = "/company/configurations/types"
)
