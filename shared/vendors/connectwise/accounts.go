package connectwise

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// identifierMaxLen is the longest company identifier the client derives
// (ConnectWise's column is 25 characters [U]).
const identifierMaxLen = 25

func toAccount(co apiCompany) psa.Account {
	a := psa.Account{ID: strconv.Itoa(co.ID), Name: co.Name, Identifier: co.Identifier}
	if co.Status != nil {
		a.Status = psa.NamedRef{ID: co.Status.id(), Name: co.Status.Name}
	}
	if len(co.Types) > 0 {
		t := co.Types[0]
		a.Type = psa.NamedRef{ID: t.id(), Name: t.Name}
	}
	return a
}

// SearchAccounts implements psa.AccountSearcher: one page of companies,
// not deleted, whose name or identifier contains q.Search (conditions
// name like "%text%"), filtered by status (status/id, or status/name when
// q.Status is not a number) and type (childConditions types/id, or
// types/name), ordered by name. The cursor is the next page number.
func (c *Client) SearchAccounts(ctx context.Context, q psa.AccountQuery) (psa.Page[psa.Account], error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	limit = min(limit, MaxPageSize)
	page := 1
	if q.Cursor != "" {
		n, err := strconv.Atoi(q.Cursor)
		if err != nil || n < 1 {
			return psa.Page[psa.Account]{}, apperr.InvalidFields(apperr.FieldError{Field: "cursor", Message: "is not a cursor this listing returned"})
		}
		page = n
	}
	conds := []Cond{EqBool("deletedFlag", false)}
	if s := strings.TrimSpace(q.Search); s != "" {
		conds = append(conds, Or(Contains("name", s), Contains("identifier", s)))
	}
	params := url.Values{
		"page":     {strconv.Itoa(page)},
		"pageSize": {strconv.Itoa(limit)},
		"orderBy":  {"name asc"},
	}
	if q.Status != "" {
		if n, err := strconv.Atoi(q.Status); err == nil {
			conds = append(conds, EqInt("status/id", n))
		} else {
			conds = append(conds, Eq("status/name", q.Status))
		}
	}
	if q.Type != "" {
		if n, err := strconv.Atoi(q.Type); err == nil {
			params.Set("childConditions", string(EqInt("types/id", n)))
		} else {
			params.Set("childConditions", string(Eq("types/name", q.Type)))
		}
	}
	var cos []apiCompany
	resp, err := c.do(ctx, http.MethodGet, "/company/companies", "/company/companies", query(And(conds...), params), nil, &cos)
	if err != nil {
		return psa.Page[psa.Account]{}, fmt.Errorf("search ConnectWise companies: %w", err)
	}
	out := psa.Page[psa.Account]{Items: make([]psa.Account, len(cos))}
	for i, co := range cos {
		out.Items[i] = toAccount(co)
	}
	if nextLink(resp) {
		out.NextCursor = strconv.Itoa(page + 1)
	}
	return out, nil
}

// GetAccount implements psa.AccountGetter.
func (c *Client) GetAccount(ctx context.Context, id string) (psa.Account, error) {
	n, err := parseID("company", id)
	if err != nil {
		return psa.Account{}, err
	}
	var co apiCompany
	if err := c.get(ctx, "/company/companies/{id}", fmt.Sprintf("/company/companies/%d", n), nil, &co); err != nil {
		return psa.Account{}, fmt.Errorf("get ConnectWise company %d: %w", n, err)
	}
	return toAccount(co), nil
}

// FindAccountsByExternalRef implements psa.AccountRefFinder through the
// company custom field Config.AccountRefFieldID (customFieldConditions
// id=N and value="ref"). Answers are checked against the field's value, so
// a server that ignored the filter cannot make us adopt a stranger.
func (c *Client) FindAccountsByExternalRef(ctx context.Context, ref string) ([]psa.Account, error) {
	if c.cfg.AccountRefFieldID == 0 {
		return nil, apperr.New(apperr.NotImplemented, "no ConnectWise company custom field is configured for the RMM organization id")
	}
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, nil
	}
	q := query(EqBool("deletedFlag", false), url.Values{
		"customFieldConditions": {string(And(EqInt("id", c.cfg.AccountRefFieldID), Eq("value", ref)))},
	})
	cos, err := collect[apiCompany](ctx, c, "/company/companies", "/company/companies", q)
	if err != nil {
		return nil, fmt.Errorf("find ConnectWise companies by RMM organization %q: %w", ref, err)
	}
	var out []psa.Account
	for _, co := range cos {
		if fieldText(co.CustomFields, c.cfg.AccountRefFieldID) == ref {
			out = append(out, toAccount(co))
		}
	}
	return out, nil
}

// ListAccountStatuses implements psa.AccountPicklists.
func (c *Client) ListAccountStatuses(ctx context.Context) ([]psa.NamedRef, error) {
	return c.picklist(ctx, pathCompanyStatuses)
}

// ListAccountTypes implements psa.AccountPicklists.
func (c *Client) ListAccountTypes(ctx context.Context) ([]psa.NamedRef, error) {
	return c.picklist(ctx, pathCompanyTypes)
}

func (c *Client) picklist(ctx context.Context, path string) ([]psa.NamedRef, error) {
	items, err := c.list(ctx, path)
	if err != nil {
		return nil, err
	}
	out := make([]psa.NamedRef, 0, len(items))
	for _, it := range items {
		if !it.InactiveFlag {
			out = append(out, it.ref())
		}
	}
	return out, nil
}

// CreateAccount implements psa.AccountCreator: POST /company/companies with
// the identifier (derived from the name when empty), status and type
// (resolved by name when no id is given), a main site and, when configured,
// the RMM organization id in the reference custom field. When a derived
// identifier is taken, it retries with "2", "3", "4" appended.
func (c *Client) CreateAccount(ctx context.Context, a psa.NewAccount) (psa.Account, error) {
	name := strings.TrimSpace(a.Name)
	if name == "" {
		return psa.Account{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	statusID, err := resolve(ctx, "company status", a.Status, c.loader(pathCompanyStatuses))
	if err != nil {
		return psa.Account{}, err
	}
	typeID, err := resolve(ctx, "company type", a.Type, c.loader(pathCompanyTypes))
	if err != nil {
		return psa.Account{}, err
	}
	body := apiNewCompany{Name: name, Status: idRef(statusID), Site: &ref{Name: c.cfg.MainSiteName}}
	if typeID != 0 {
		body.Types = []ref{{ID: typeID}}
	}
	if c.cfg.AccountRefFieldID != 0 && a.ExternalRef != "" {
		body.CustomFields = []customField{textField(c.cfg.AccountRefFieldID, a.ExternalRef)}
	}
	base, derived := strings.TrimSpace(a.Identifier), false
	if base == "" {
		base, derived = DeriveIdentifier(name), true
	}
	for attempt := 1; ; attempt++ {
		body.Identifier = base
		if attempt > 1 {
			sfx := strconv.Itoa(attempt)
			body.Identifier = truncateASCII(base, identifierMaxLen-len(sfx)) + sfx
		}
		var co apiCompany
		resp, err := c.do(ctx, http.MethodPost, "/company/companies", "/company/companies", nil, body, &co)
		if err == nil {
			return toAccount(co), nil
		}
		if ve, ok := vendorError(resp); ok && derived && attempt < 4 && apperr.Is(err, apperr.Invalid) && ve.hasFieldError("ObjectExists", "identifier") {
			continue
		}
		return psa.Account{}, fmt.Errorf("create ConnectWise company %q: %w", name, err)
	}
}

// DeriveIdentifier makes a company identifier from a name: its letters and
// digits (common accented Latin letters folded to ASCII), upper-cased, at
// most 25 characters; "COMPANY" when nothing is left.
func DeriveIdentifier(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(unicode.ToUpper(r))
		default:
			if s, ok := asciiFold[unicode.ToLower(r)]; ok {
				b.WriteString(strings.ToUpper(s))
			}
		}
		if b.Len() >= identifierMaxLen {
			break
		}
	}
	id := truncateASCII(b.String(), identifierMaxLen)
	if id == "" {
		return "COMPANY"
	}
	return id
}

func truncateASCII(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

var asciiFold = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'æ': "ae",
	'ç': "c", 'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ì': "i", 'í': "i",
	'î': "i", 'ï': "i", 'ñ': "n", 'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o",
	'ö': "o", 'ø': "o", 'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ý': "y",
	'ÿ': "y", 'ß': "ss", 'œ': "oe",
}

func toLocation(companyID int, s apiSite) psa.Location {
	if s.Company != nil && s.Company.ID != 0 {
		companyID = s.Company.ID
	}
	return psa.Location{ID: strconv.Itoa(s.ID), AccountID: strconv.Itoa(companyID), Name: s.Name}
}

// ListLocations implements psa.LocationLister: the company's active sites.
func (c *Client) ListLocations(ctx context.Context, accountID string) ([]psa.Location, error) {
	n, err := parseID("company", accountID)
	if err != nil {
		return nil, err
	}
	sites, err := collect[apiSite](ctx, c, "/company/companies/{id}/sites", fmt.Sprintf("/company/companies/%d/sites", n), query(EqBool("inactiveFlag", false), nil))
	if err != nil {
		return nil, fmt.Errorf("list ConnectWise sites of company %d: %w", n, err)
	}
	out := make([]psa.Location, len(sites))
	for i, s := range sites {
		out[i] = toLocation(n, s)
	}
	return out, nil
}

// CreateLocation implements psa.LocationCreator.
func (c *Client) CreateLocation(ctx context.Context, accountID string, l psa.NewLocation) (psa.Location, error) {
	n, err := parseID("company", accountID)
	if err != nil {
		return psa.Location{}, err
	}
	name := strings.TrimSpace(l.Name)
	if name == "" {
		return psa.Location{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	var s apiSite
	if _, err := c.do(ctx, http.MethodPost, "/company/companies/{id}/sites", fmt.Sprintf("/company/companies/%d/sites", n), nil, apiSite{Name: name}, &s); err != nil {
		return psa.Location{}, fmt.Errorf("create ConnectWise site %q in company %d: %w", name, n, err)
	}
	return toLocation(n, s), nil
}
