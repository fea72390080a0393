package halopsa

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// The account statuses: Halo clients have an inactive flag, not a status
// list.
var (
	statusActive   = psa.NamedRef{ID: "active", Name: "Active"}
	statusInactive = psa.NamedRef{ID: "inactive", Name: "Inactive"}
)

// lookup returns a cached Halo list ({id, name} entries) of entity.
func (c *Client) lookup(ctx context.Context, entity string) ([]psa.NamedRef, error) {
	now := c.cfg.Now()
	c.mu.Lock()
	e, ok := c.lookups[entity]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.cfg.LookupTTL {
		return e.refs, nil
	}
	var raw json.RawMessage
	if err := c.get(ctx, "/api/"+entity, "/"+entity, nil, &raw); err != nil {
		return nil, fmt.Errorf("list HaloPSA %s: %w", entity, err)
	}
	var items []apiNamed
	if strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, apperr.Wrap(apperr.Vendor, err, "HaloPSA answered a %s list that is not the expected JSON", entity)
		}
	} else {
		// A {record_count, <key>: [...]} answer: the first list in it.
		var obj map[string]json.RawMessage
		_ = json.Unmarshal(raw, &obj)
		for _, v := range obj {
			if json.Unmarshal(v, &items) == nil && len(items) > 0 {
				break
			}
		}
	}
	refs := make([]psa.NamedRef, 0, len(items))
	for _, it := range items {
		id := it.ID
		if id == 0 {
			id = it.PriorityID
		}
		if id != 0 {
			refs = append(refs, psa.NamedRef{ID: strconv.Itoa(id), Name: it.Name})
		}
	}
	c.mu.Lock()
	c.lookups[entity] = cached{refs: refs, at: now}
	c.mu.Unlock()
	return refs, nil
}

// resolve finds r (by id, else by name, case-insensitively) in entity's
// list; a zero r resolves to 0. An unknown value is Invalid naming what.
func (c *Client) resolve(ctx context.Context, entity, what string, r psa.NamedRef) (psa.NamedRef, error) {
	if r.IsZero() {
		return psa.NamedRef{}, nil
	}
	refs, err := c.lookup(ctx, entity)
	if err != nil {
		return psa.NamedRef{}, err
	}
	for _, x := range refs {
		if (r.ID != "" && x.ID == strings.TrimSpace(r.ID)) || (r.ID == "" && strings.EqualFold(strings.TrimSpace(x.Name), strings.TrimSpace(r.Name))) {
			return x, nil
		}
	}
	return psa.NamedRef{}, apperr.New(apperr.Invalid, "HaloPSA has no %s %q", what, r.ID+r.Name)
}

func (c *Client) nameIn(ctx context.Context, entity string, id int) string {
	if id == 0 {
		return ""
	}
	refs, err := c.lookup(ctx, entity)
	if err != nil {
		return ""
	}
	for _, r := range refs {
		if r.ID == strconv.Itoa(id) {
			return r.Name
		}
	}
	return ""
}

func (c *Client) toAccount(ctx context.Context, a apiClient) psa.Account {
	st := statusActive
	if a.Inactive {
		st = statusInactive
	}
	tl := a.TopLevelName
	if tl == "" {
		tl = c.nameIn(ctx, "TopLevel", a.TopLevelID)
	}
	return psa.Account{ID: strconv.Itoa(a.ID), Name: a.Name, Status: st, Type: psa.NamedRef{ID: itoa(a.TopLevelID), Name: tl}}
}

// ListAccountStatuses implements psa.AccountPicklists: Active and
// Inactive (the inactive flag).
func (c *Client) ListAccountStatuses(context.Context) ([]psa.NamedRef, error) {
	return []psa.NamedRef{statusActive, statusInactive}, nil
}

// ListAccountTypes implements psa.AccountPicklists: the top levels.
func (c *Client) ListAccountTypes(ctx context.Context) ([]psa.NamedRef, error) {
	return c.lookup(ctx, "TopLevel")
}

// accountStatus resolves a status by id or name ("" for none).
func accountStatus(r psa.NamedRef) (string, error) {
	for _, s := range []psa.NamedRef{statusActive, statusInactive} {
		if strings.EqualFold(strings.TrimSpace(r.ID), s.ID) || (r.ID == "" && strings.EqualFold(strings.TrimSpace(r.Name), s.Name)) {
			return s.ID, nil
		}
	}
	if r.IsZero() {
		return "", nil
	}
	return "", apperr.New(apperr.Invalid, "HaloPSA client status must be Active or Inactive, not %q", r.ID+r.Name)
}

// SearchAccounts implements psa.AccountSearcher with one page of
// GET /api/Client (search, toplevel_id, includeinactive/includeactive);
// the cursor is the next page number. The status and type filters are
// applied again to the answer, so a server that ignores a parameter never
// returns an account of another status or type.
func (c *Client) SearchAccounts(ctx context.Context, q psa.AccountQuery) (psa.Page[psa.Account], error) {
	size := q.Limit
	if size <= 0 {
		size = DefaultSearchLimit
	}
	size = min(size, MaxPageSize)
	no := 1
	if q.Cursor != "" {
		n, err := strconv.Atoi(q.Cursor)
		if err != nil || n < 2 {
			return psa.Page[psa.Account]{}, apperr.New(apperr.Invalid, "the cursor %q was not returned by this listing", clipText(q.Cursor, 40))
		}
		no = n
	}
	status, err := accountStatus(psa.NamedRef{ID: q.Status})
	if err != nil {
		return psa.Page[psa.Account]{}, err
	}
	v := url.Values{}
	if s := strings.TrimSpace(q.Search); s != "" {
		v.Set("search", s)
	}
	switch status {
	case "inactive":
		v.Set("includeinactive", "true")
		v.Set("includeactive", "false")
	case "":
		v.Set("includeinactive", "true")
	}
	if q.Type != "" {
		tl, err := strconv.Atoi(q.Type)
		if err != nil {
			return psa.Page[psa.Account]{}, apperr.New(apperr.Invalid, "HaloPSA top level ids are numbers, not %q", clipText(q.Type, 40))
		}
		v.Set("toplevel_id", strconv.Itoa(tl))
	}
	p, err := getPage[apiClient](ctx, c, "Client", "clients", v, size, no)
	if err != nil {
		return psa.Page[psa.Account]{}, fmt.Errorf("search HaloPSA clients: %w", err)
	}
	out := psa.Page[psa.Account]{Items: []psa.Account{}}
	for _, a := range p.items {
		acc := c.toAccount(ctx, a)
		if (status != "" && acc.Status.ID != status) || (q.Type != "" && acc.Type.ID != q.Type) {
			continue
		}
		out.Items = append(out.Items, acc)
	}
	if len(p.items) == size && (!p.hasCount || no*size < p.count) {
		out.NextCursor = strconv.Itoa(no + 1)
	}
	return out, nil
}

// GetAccount implements psa.AccountGetter.
func (c *Client) GetAccount(ctx context.Context, id string) (psa.Account, error) {
	n, err := parseID("client", id)
	if err != nil {
		return psa.Account{}, err
	}
	var a apiClient
	if err := c.get(ctx, "/api/Client/{id}", "/Client/"+strconv.Itoa(n), nil, &a); err != nil {
		return psa.Account{}, fmt.Errorf("get HaloPSA client %d: %w", n, err)
	}
	return c.toAccount(ctx, a), nil
}

// CreateAccount implements psa.AccountCreator: POST /api/Client with the
// top level, the inactive flag and our reference in the custom field.
func (c *Client) CreateAccount(ctx context.Context, na psa.NewAccount) (psa.Account, error) {
	name := strings.TrimSpace(na.Name)
	if name == "" {
		return psa.Account{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	status, err := accountStatus(na.Status)
	if err != nil {
		return psa.Account{}, err
	}
	tl, err := c.resolve(ctx, "TopLevel", "top level", na.Type)
	if err != nil {
		return psa.Account{}, err
	}
	body := apiClient{Name: name, TopLevelID: atoi(tl.ID), Inactive: status == "inactive"}
	if ref := strings.TrimSpace(na.ExternalRef); ref != "" && c.cfg.AccountRefFieldID != 0 {
		body.CustomFields = []customField{{ID: c.cfg.AccountRefFieldID, Value: textValue(ref)}}
	}
	var saved apiClient
	if err := c.post(ctx, "Client", body, &saved); err != nil {
		return psa.Account{}, fmt.Errorf("create HaloPSA client %q: %w", name, err)
	}
	if saved.ID == 0 {
		return psa.Account{}, apperr.New(apperr.Vendor, "HaloPSA saved client %q without an id", name)
	}
	return c.toAccount(ctx, saved), nil
}

// FindAccountsByExternalRef implements psa.AccountRefFinder: every client
// (active and inactive) is listed and its custom field compared exactly.
// Whether Halo's search covers custom fields is not known (§6 [U]);
// listing every client costs a few pages and cannot miss. A listed
// client without its customfields (a list that leaves them out) is read
// one by one.
func (c *Client) FindAccountsByExternalRef(ctx context.Context, ref string) ([]psa.Account, error) {
	if c.cfg.AccountRefFieldID == 0 {
		return nil, apperr.New(apperr.NotImplemented, "the HaloPSA connection has no client custom field for rmmbridge's reference (settings.accountRefFieldId)")
	}
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, nil
	}
	raws, err := collect[json.RawMessage](ctx, c, "Client", "clients", url.Values{"includeinactive": {"true"}})
	if err != nil {
		return nil, fmt.Errorf("find HaloPSA clients by reference: %w", err)
	}
	var out []psa.Account
	for _, raw := range raws {
		a, err := complete[apiClient](ctx, c, "Client", raw, "customfields")
		if err != nil {
			return nil, fmt.Errorf("find HaloPSA clients by reference: %w", err)
		}
		if fieldText(a.CustomFields, c.cfg.AccountRefFieldID) == ref {
			out = append(out, c.toAccount(ctx, a))
		}
	}
	return out, nil
}

// complete decodes a listed record, reading it by id when the list left
// out one of keys (Halo lists may return fewer properties than a single
// read, §6 [U]).
func complete[T any](ctx context.Context, c *Client, entity string, raw json.RawMessage, keys ...string) (T, error) {
	var out T
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return out, apperr.Wrap(apperr.Vendor, err, "HaloPSA listed a %s that is not the expected JSON", entity)
	}
	whole := true
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			whole = false
		}
	}
	if whole {
		if err := json.Unmarshal(raw, &out); err != nil {
			return out, apperr.Wrap(apperr.Vendor, err, "HaloPSA listed a %s that is not the expected JSON", entity)
		}
		return out, nil
	}
	var id int
	_ = json.Unmarshal(m["id"], &id)
	if id == 0 {
		return out, apperr.New(apperr.Vendor, "HaloPSA listed a %s without an id", entity)
	}
	err := c.get(ctx, "/api/"+entity+"/{id}", "/"+entity+"/"+strconv.Itoa(id), nil, &out)
	return out, err
}

// ListLocations implements psa.LocationLister: the client's sites. An
// empty list is checked against the client (a missing one is NotFound).
func (c *Client) ListLocations(ctx context.Context, accountID string) ([]psa.Location, error) {
	n, err := parseID("client", accountID)
	if err != nil {
		return nil, err
	}
	sites, err := collect[apiSite](ctx, c, "Site", "sites", url.Values{"client_id": {strconv.Itoa(n)}})
	if err != nil {
		return nil, fmt.Errorf("list HaloPSA sites of client %d: %w", n, err)
	}
	if len(sites) == 0 {
		if _, err := c.GetAccount(ctx, accountID); err != nil {
			return nil, err
		}
	}
	out := make([]psa.Location, 0, len(sites))
	for _, s := range sites {
		if s.ClientID != 0 && s.ClientID != n {
			continue // a server that ignored client_id
		}
		out = append(out, psa.Location{ID: strconv.Itoa(s.ID), AccountID: strconv.Itoa(n), Name: s.Name})
	}
	return out, nil
}

// CreateLocation implements psa.LocationCreator: POST /api/Site.
func (c *Client) CreateLocation(ctx context.Context, accountID string, l psa.NewLocation) (psa.Location, error) {
	n, err := parseID("client", accountID)
	if err != nil {
		return psa.Location{}, err
	}
	name := strings.TrimSpace(l.Name)
	if name == "" {
		return psa.Location{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	var s apiSite
	if err := c.post(ctx, "Site", apiSite{Name: name, ClientID: n}, &s); err != nil {
		return psa.Location{}, fmt.Errorf("create HaloPSA site %q of client %d: %w", name, n, err)
	}
	return psa.Location{ID: strconv.Itoa(s.ID), AccountID: strconv.Itoa(n), Name: s.Name}, nil
}
