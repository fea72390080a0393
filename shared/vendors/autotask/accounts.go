package autotask

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// apiCompany is a Companies record.
type apiCompany struct {
	ID                json.Number `json:"id"`
	CompanyName       string      `json:"companyName"`
	CompanyNumber     string      `json:"companyNumber"`
	CompanyType       json.Number `json:"companyType"`
	IsActive          bool        `json:"isActive"`
	CreateDate        string      `json:"createDate"`
	UserDefinedFields []udfValue  `json:"userDefinedFields"`
}

// account converts a company, naming its type from the picklist.
func (c *Client) account(ctx context.Context, co apiCompany) (psa.Account, error) {
	types, err := c.ListAccountTypes(ctx)
	if err != nil {
		return psa.Account{}, err
	}
	a := psa.Account{ID: co.ID.String(), Name: co.CompanyName, Identifier: co.CompanyNumber,
		Status: psa.NamedRef{ID: statusInactive, Name: "Inactive"}, Type: psa.NamedRef{ID: co.CompanyType.String()}}
	if co.IsActive {
		a.Status = psa.NamedRef{ID: statusActive, Name: "Active"}
	}
	if t, ok := resolvePick(types, a.Type); ok {
		a.Type = t
	}
	return a, nil
}

func (c *Client) accounts(ctx context.Context, cos []apiCompany) ([]psa.Account, error) {
	out := make([]psa.Account, 0, len(cos))
	for _, co := range cos {
		a, err := c.account(ctx, co)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// SearchAccounts implements psa.AccountSearcher: companyName or
// companyNumber containing the text, with isActive and companyType
// filters, in id order; the cursor is the last id of the previous page.
func (c *Client) SearchAccounts(ctx context.Context, q psa.AccountQuery) (psa.Page[psa.Account], error) {
	after, err := parseCursor(q.Cursor)
	if err != nil {
		return psa.Page[psa.Account]{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	limit = min(limit, MaxPageSize)
	fs := []filter{op("gt", "id", after)}
	if s := strings.TrimSpace(q.Search); s != "" {
		fs = append(fs, or(op("contains", "companyName", s), op("contains", "companyNumber", s)))
	}
	switch q.Status {
	case "":
	case statusActive, statusInactive:
		fs = append(fs, eq("isActive", q.Status == statusActive))
	default:
		return psa.Page[psa.Account]{}, apperr.InvalidFields(apperr.FieldError{Field: "status", Message: "must be 1 (active) or 0 (inactive)"})
	}
	if q.Type != "" {
		n, err := strconv.Atoi(q.Type)
		if err != nil {
			return psa.Page[psa.Account]{}, apperr.InvalidFields(apperr.FieldError{Field: "type", Message: "must be a company type id"})
		}
		fs = append(fs, eq("companyType", n))
	}
	p, err := queryPage[apiCompany](ctx, c, "Companies", queryBody{Filter: fs, MaxRecords: limit})
	if err != nil {
		return psa.Page[psa.Account]{}, fmt.Errorf("search Autotask companies: %w", err)
	}
	items, err := c.accounts(ctx, p.Items)
	if err != nil {
		return psa.Page[psa.Account]{}, err
	}
	out := psa.Page[psa.Account]{Items: items}
	if p.PageDetails.NextPageURL != "" && len(p.Items) > 0 {
		out.NextCursor = cursorAfter(idOf(p.Items[len(p.Items)-1].ID))
	}
	return out, nil
}

// GetAccount implements psa.AccountGetter.
func (c *Client) GetAccount(ctx context.Context, id string) (psa.Account, error) {
	n, err := parseID("company", id)
	if err != nil {
		return psa.Account{}, err
	}
	var out struct {
		Item *apiCompany `json:"item"`
	}
	if err := c.get(ctx, "/V1.0/Companies/{id}", "/V1.0/Companies/"+strconv.Itoa(n), &out); err != nil {
		return psa.Account{}, fmt.Errorf("read Autotask company %d: %w", n, err)
	}
	if out.Item == nil {
		return psa.Account{}, apperr.New(apperr.NotFound, "no Autotask company %d", n)
	}
	return c.account(ctx, *out.Item)
}

// FindAccountsByExternalRef implements psa.AccountRefFinder with the
// Config.AccountRefUDF filter (exact value).
func (c *Client) FindAccountsByExternalRef(ctx context.Context, ref string) ([]psa.Account, error) {
	if c.cfg.AccountRefUDF == "" {
		return nil, apperr.New(apperr.NotImplemented, "the Autotask connection names no company UDF for rmmbridge's reference (setting accountRefUdf)")
	}
	if strings.TrimSpace(ref) == "" {
		return nil, nil
	}
	cos, err := queryAll[apiCompany](ctx, c, "Companies", udfEq(c.cfg.AccountRefUDF, ref))
	if err != nil {
		return nil, fmt.Errorf("find Autotask companies by reference: %w", err)
	}
	var keep []apiCompany
	for _, co := range cos {
		if udfOf(co.UserDefinedFields, c.cfg.AccountRefUDF) == ref {
			keep = append(keep, co)
		}
	}
	return c.accounts(ctx, keep)
}

// AccountsCreatedSince implements psa.RecentAccounts: createDate on or
// after since, without our reference, in id order.
func (c *Client) AccountsCreatedSince(ctx context.Context, since time.Time) ([]psa.Account, error) {
	cos, err := queryAll[apiCompany](ctx, c, "Companies", op("gte", "createDate", since.UTC().Format(time.RFC3339)))
	if err != nil {
		return nil, fmt.Errorf("list Autotask companies created since %s: %w", since.Format(time.RFC3339), err)
	}
	var keep []apiCompany
	for _, co := range cos {
		if c.cfg.AccountRefUDF == "" || udfOf(co.UserDefinedFields, c.cfg.AccountRefUDF) == "" {
			keep = append(keep, co)
		}
	}
	sort.Slice(keep, func(i, j int) bool { return idOf(keep[i].ID) < idOf(keep[j].ID) })
	return c.accounts(ctx, keep)
}

// CreateAccount implements psa.AccountCreator: a company with the type
// asked (or Config.CompanyType), active unless the status says Inactive,
// owned by Config.OwnerResourceID, our reference in the UDF.
func (c *Client) CreateAccount(ctx context.Context, a psa.NewAccount) (psa.Account, error) {
	name := strings.TrimSpace(a.Name)
	if name == "" {
		return psa.Account{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	ty, err := c.pickOrSetting(ctx, "Companies", "companyType", a.Type, "companyType", c.cfg.CompanyType)
	if err != nil {
		return psa.Account{}, err
	}
	active := true
	switch {
	case a.Status.ID == statusInactive || (a.Status.ID == "" && strings.EqualFold(a.Status.Name, "Inactive")):
		active = false
	case a.Status.IsZero() || a.Status.ID == statusActive || strings.EqualFold(a.Status.Name, "Active"):
	default:
		return psa.Account{}, apperr.InvalidFields(apperr.FieldError{Field: "status", Message: "must be Active or Inactive"})
	}
	m, err := c.metaOf(ctx, "Companies")
	if err != nil {
		return psa.Account{}, err
	}
	body := map[string]any{"companyName": psa.Truncate(name, 100), "companyType": atoiRef(ty), "isActive": active}
	if c.cfg.OwnerResourceID != 0 {
		body["ownerResourceID"] = c.cfg.OwnerResourceID
	} else if f, ok := m.field("ownerResourceID"); ok && f.IsRequired {
		return psa.Account{}, apperr.InvalidFields(apperr.FieldError{Field: "settings.ownerResourceId",
			Message: "is required: this Autotask tenant requires an owner resource on new companies"})
	}
	if a.ExternalRef != "" && c.cfg.AccountRefUDF != "" {
		body["userDefinedFields"] = []udfValue{{Name: c.cfg.AccountRefUDF, Value: a.ExternalRef}}
	}
	if err := c.fillRequired(ctx, "Companies", body); err != nil {
		return psa.Account{}, err
	}
	id, err := c.create(ctx, "/V1.0/Companies", "/V1.0/Companies", body)
	if err != nil {
		return psa.Account{}, fmt.Errorf("create Autotask company %q: %w", name, err)
	}
	// Autotask answers {"itemId": N} only; account() reads the body's
	// fields and companyNumber, which the body does not carry: empty on a
	// new company (that no tenant setting numbers new companies is [U]; the
	// callers use the id and the name). The company as written is what a
	// read answers, without the read.
	co, err := written[apiCompany](id, body)
	if err != nil {
		return psa.Account{}, err
	}
	return c.account(ctx, co)
}

// apiLocation is a CompanyLocations record.
type apiLocation struct {
	ID        json.Number `json:"id"`
	CompanyID json.Number `json:"companyID"`
	Name      string      `json:"name"`
}

// ListLocations implements psa.LocationLister.
func (c *Client) ListLocations(ctx context.Context, accountID string) ([]psa.Location, error) {
	n, err := parseID("company", accountID)
	if err != nil {
		return nil, err
	}
	locs, err := queryAll[apiLocation](ctx, c, "CompanyLocations", eq("companyID", n))
	if err != nil {
		return nil, fmt.Errorf("list Autotask locations of company %d: %w", n, err)
	}
	if len(locs) == 0 {
		if _, err := c.GetAccount(ctx, accountID); err != nil {
			return nil, err
		}
	}
	out := make([]psa.Location, 0, len(locs))
	for _, l := range locs {
		out = append(out, psa.Location{ID: l.ID.String(), AccountID: l.CompanyID.String(), Name: l.Name})
	}
	return out, nil
}

// CreateLocation implements psa.LocationCreator under the company.
func (c *Client) CreateLocation(ctx context.Context, accountID string, l psa.NewLocation) (psa.Location, error) {
	name := strings.TrimSpace(l.Name)
	if name == "" {
		return psa.Location{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	n, err := parseID("company", accountID)
	if err != nil {
		return psa.Location{}, err
	}
	body := map[string]any{"companyID": n, "name": psa.Truncate(name, 100), "isActive": true}
	if err := c.fillRequired(ctx, "CompanyLocations", body); err != nil {
		return psa.Location{}, err
	}
	id, err := c.create(ctx, "/V1.0/Companies/{parentId}/Locations", "/V1.0/Companies/"+strconv.Itoa(n)+"/Locations", body)
	if err != nil {
		return psa.Location{}, fmt.Errorf("create Autotask location %q in company %d: %w", name, n, err)
	}
	return psa.Location{ID: strconv.Itoa(id), AccountID: strconv.Itoa(n), Name: psa.Truncate(name, 100)}, nil
}
