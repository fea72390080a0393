package autotask

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// pick is one picklist value of entityInformation/fields.
type pick struct {
	Value     string `json:"value"`
	Label     string `json:"label"`
	IsDefault bool   `json:"isDefaultValue"`
	SortOrder int    `json:"sortOrder"`
	IsActive  bool   `json:"isActive"`
}

// fieldInfo is one field of entityInformation/fields.
type fieldInfo struct {
	Name           string `json:"name"`
	DataType       string `json:"dataType"`
	IsRequired     bool   `json:"isRequired"`
	IsReadOnly     bool   `json:"isReadOnly"`
	IsPickList     bool   `json:"isPickList"`
	PicklistValues []pick `json:"picklistValues"`
}

// entityMeta is an entity's fields and UDF names.
type entityMeta struct {
	fields map[string]fieldInfo // by lower-case name
	udfs   []string
}

// metaCache caches entity metadata for Config.LookupTTL.
type metaCache struct {
	mu      sync.Mutex
	entries map[string]metaEntry
	loading map[string]*sync.Mutex
}

type metaEntry struct {
	m  entityMeta
	at time.Time
}

// metaOf returns an entity's metadata, read once per LookupTTL (one
// loader at a time per entity).
func (c *Client) metaOf(ctx context.Context, entity string) (entityMeta, error) {
	mc := &c.meta
	mc.mu.Lock()
	if mc.entries == nil {
		mc.entries, mc.loading = map[string]metaEntry{}, map[string]*sync.Mutex{}
	}
	if e, ok := mc.entries[entity]; ok && c.cfg.Now().Sub(e.at) < c.cfg.LookupTTL {
		mc.mu.Unlock()
		return e.m, nil
	}
	l := mc.loading[entity]
	if l == nil {
		l = &sync.Mutex{}
		mc.loading[entity] = l
	}
	mc.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	mc.mu.Lock()
	if e, ok := mc.entries[entity]; ok && c.cfg.Now().Sub(e.at) < c.cfg.LookupTTL {
		mc.mu.Unlock()
		return e.m, nil
	}
	mc.mu.Unlock()
	var fields, udfs struct {
		Fields []fieldInfo `json:"fields"`
	}
	base := "/V1.0/" + entity + "/entityInformation/"
	if err := c.get(ctx, base+"fields", base+"fields", &fields); err != nil {
		return entityMeta{}, fmt.Errorf("read Autotask %s fields: %w", entity, err)
	}
	m := entityMeta{fields: map[string]fieldInfo{}}
	for _, f := range fields.Fields {
		m.fields[strings.ToLower(f.Name)] = f
	}
	if entity != "TicketNotes" && entity != "Resources" { // UDFs unused there
		if err := c.get(ctx, base+"userDefinedFields", base+"userDefinedFields", &udfs); err != nil {
			return entityMeta{}, fmt.Errorf("read Autotask %s user-defined fields: %w", entity, err)
		}
		for _, f := range udfs.Fields {
			m.udfs = append(m.udfs, f.Name)
		}
	}
	mc.mu.Lock()
	mc.entries[entity] = metaEntry{m: m, at: c.cfg.Now()}
	mc.mu.Unlock()
	return m, nil
}

// field returns a field's metadata.
func (m entityMeta) field(name string) (fieldInfo, bool) {
	f, ok := m.fields[strings.ToLower(name)]
	return f, ok
}

// hasUDF reports whether a UDF exists (case-insensitively).
func (m entityMeta) hasUDF(name string) bool {
	for _, u := range m.udfs {
		if strings.EqualFold(u, name) {
			return true
		}
	}
	return false
}

// writable reports whether the tenant lets the API write field.
func (m entityMeta) writable(name string) bool {
	f, ok := m.field(name)
	return ok && !f.IsReadOnly
}

// picklist returns a picklist's active values as NamedRefs, in sort order.
func (c *Client) picklist(ctx context.Context, entity, field string) ([]psa.NamedRef, error) {
	m, err := c.metaOf(ctx, entity)
	if err != nil {
		return nil, err
	}
	f, ok := m.field(field)
	if !ok || !f.IsPickList {
		return nil, apperr.New(apperr.Vendor, "Autotask %s has no %s picklist", entity, field)
	}
	vals := append([]pick(nil), f.PicklistValues...)
	sort.SliceStable(vals, func(i, j int) bool { return vals[i].SortOrder < vals[j].SortOrder })
	var out []psa.NamedRef
	for _, p := range vals {
		if p.IsActive {
			out = append(out, psa.NamedRef{ID: p.Value, Name: p.Label})
		}
	}
	return out, nil
}

// resolvePick resolves a NamedRef (id wins, else label, case-insensitive)
// against a picklist; ok false when it names nothing there.
func resolvePick(list []psa.NamedRef, r psa.NamedRef) (psa.NamedRef, bool) {
	for _, p := range list {
		if (r.ID != "" && p.ID == r.ID) || (r.ID == "" && strings.EqualFold(strings.TrimSpace(p.Name), strings.TrimSpace(r.Name))) {
			return p, true
		}
	}
	return psa.NamedRef{}, false
}

// setting is a picklist setting given as a label or a value.
func setting(v string) psa.NamedRef {
	v = strings.TrimSpace(v)
	if _, err := strconv.Atoi(v); err == nil {
		return psa.NamedRef{ID: v}
	}
	return psa.NamedRef{Name: v}
}

// pickOrSetting resolves r, or the setting when r is zero, against a
// picklist; a value naming nothing is Invalid naming what was asked
// (settingName for the setting).
func (c *Client) pickOrSetting(ctx context.Context, entity, field string, r psa.NamedRef, settingName, settingValue string) (psa.NamedRef, error) {
	list, err := c.picklist(ctx, entity, field)
	if err != nil {
		return psa.NamedRef{}, err
	}
	what := field
	if r.IsZero() {
		if strings.TrimSpace(settingValue) == "" {
			return psa.NamedRef{}, apperr.InvalidFields(apperr.FieldError{Field: "settings." + settingName,
				Message: fmt.Sprintf("is required: Autotask needs a %s %s (one of %s)", entity, field, labels(list))})
		}
		r, what = setting(settingValue), "setting "+settingName
	}
	p, ok := resolvePick(list, r)
	if !ok {
		return psa.NamedRef{}, apperr.New(apperr.Invalid, "Autotask has no %s %s %q (%s; one of %s)", entity, field, r.Name+r.ID, what, labels(list))
	}
	return p, nil
}

func labels(list []psa.NamedRef) string {
	var out []string
	for _, p := range list {
		out = append(out, p.Name)
	}
	if len(out) > 20 {
		out = append(out[:20], "…")
	}
	return strings.Join(out, ", ")
}

func atoiRef(r psa.NamedRef) int {
	n, _ := strconv.Atoi(r.ID)
	return n
}

// fillRequired gives the required fields of a new entity record that
// body lacks their picklist's default value; a required field without one
// is Invalid naming it (the tenant made a field mandatory that rmmbridge
// has no value for).
func (c *Client) fillRequired(ctx context.Context, entity string, body map[string]any) error {
	m, err := c.metaOf(ctx, entity)
	if err != nil {
		return err
	}
	has := func(name string) bool {
		for k := range body {
			if strings.EqualFold(k, name) {
				return true
			}
		}
		return false
	}
	var missing []string
	for _, f := range m.fields {
		if !f.IsRequired || f.IsReadOnly || strings.EqualFold(f.Name, "id") || has(f.Name) {
			continue
		}
		def := ""
		for _, p := range f.PicklistValues {
			if p.IsDefault && p.IsActive {
				def = p.Value
			}
		}
		if n, err := strconv.Atoi(def); err == nil && f.IsPickList {
			body[f.Name] = n
			continue
		}
		missing = append(missing, entity+"."+f.Name)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return apperr.New(apperr.Invalid, "this Autotask tenant requires %s on new records and has no default value for it: give the field a default in Autotask or make it optional", strings.Join(missing, ", "))
	}
	return nil
}

// TestConnection implements psa.Tester: the zone lookup, then the
// metadata of the entities the client writes (the first authenticated
// call proves the credentials), then CheckSettings. Rejected credentials
// are Unauthorized naming the part that is wrong (user name, integration
// code or secret); a missing or unknown default is Invalid naming the
// setting.
func (c *Client) TestConnection(ctx context.Context) error {
	if _, err := c.metaOf(ctx, "Companies"); err != nil {
		return fmt.Errorf("test Autotask connection: %w", err)
	}
	return c.CheckSettings(ctx)
}

// CheckSettings checks the connection's defaults against the tenant's
// metadata: every default a required field needs is set, every picklist
// default names a value of its picklist, and the reference UDFs exist. The
// error is apperr.Invalid with one field error per bad setting.
func (c *Client) CheckSettings(ctx context.Context) error {
	var fe []apperr.FieldError
	bad := func(name, format string, args ...any) {
		fe = append(fe, apperr.FieldError{Field: "settings." + name, Message: fmt.Sprintf(format, args...)})
	}
	metas := map[string]entityMeta{}
	for _, e := range []string{"Companies", "ConfigurationItems", "Tickets"} {
		m, err := c.metaOf(ctx, e)
		if err != nil {
			return fmt.Errorf("check Autotask settings: %w", err)
		}
		metas[e] = m
	}
	checkPick := func(entity, field, name, value string) {
		m := metas[entity]
		f, ok := m.field(field)
		if !ok {
			return
		}
		if strings.TrimSpace(value) == "" {
			if f.IsRequired {
				bad(name, "is required: this Autotask tenant requires %s.%s on new records", entity, field)
			}
			return
		}
		list, _ := c.picklist(ctx, entity, field)
		if _, ok := resolvePick(list, setting(value)); !ok {
			bad(name, "%q is not a %s %s in this Autotask tenant (one of %s)", value, entity, field, labels(list))
		}
	}
	checkPick("Companies", "companyType", "companyType", c.cfg.CompanyType)
	checkPick("ConfigurationItems", "configurationItemType", "configurationItemType", c.cfg.ConfigurationItemType)
	checkPick("Tickets", "queueID", "ticketQueue", c.cfg.TicketQueue)
	checkPick("Tickets", "status", "ticketStatus", c.cfg.TicketStatus)
	checkPick("Tickets", "priority", "ticketPriority", c.cfg.TicketPriority)
	if c.cfg.CompleteStatus == "" {
		bad("completeStatus", "is required: the ticket status that closes a ticket (usually Complete)")
	} else {
		checkPick("Tickets", "status", "completeStatus", c.cfg.CompleteStatus)
	}
	if c.cfg.ReopenStatus != "" && c.cfg.ReopenStatus != c.cfg.TicketStatus {
		checkPick("Tickets", "status", "reopenStatus", c.cfg.ReopenStatus)
	}
	if f, ok := metas["Companies"].field("ownerResourceID"); ok && f.IsRequired && c.cfg.OwnerResourceID == 0 {
		bad("ownerResourceId", "is required: this Autotask tenant requires an owner resource on new companies")
	}
	if f, ok := metas["ConfigurationItems"].field("productID"); ok && f.IsRequired && c.cfg.ProductID == 0 {
		bad("productId", "is required: this Autotask tenant requires a product on new configuration items")
	}
	if u := c.cfg.AccountRefUDF; u != "" && !metas["Companies"].hasUDF(u) {
		bad("accountRefUdf", "Autotask has no company user-defined field %q: create it (text) or change the setting", u)
	}
	if u := c.cfg.AssetRefUDF; u != "" && !metas["ConfigurationItems"].hasUDF(u) {
		bad("assetRefUdf", "Autotask has no configuration item user-defined field %q: create it (text) or change the setting", u)
	}
	if len(fe) > 0 {
		e := apperr.InvalidFields(fe...)
		var parts []string
		for _, f := range fe {
			parts = append(parts, f.Field+" "+f.Message)
		}
		e.Message = "the Autotask connection settings do not fit this tenant: " + strings.Join(parts, "; ")
		return e
	}
	return nil
}

// ListAccountStatuses implements psa.AccountPicklists: Autotask companies
// are active or inactive (isActive). No request.
func (c *Client) ListAccountStatuses(context.Context) ([]psa.NamedRef, error) {
	return []psa.NamedRef{{ID: statusActive, Name: "Active"}, {ID: statusInactive, Name: "Inactive"}}, nil
}

// The account status ids.
const (
	statusActive   = "1"
	statusInactive = "0"
)

// ListAccountTypes implements psa.AccountPicklists: the companyType
// picklist.
func (c *Client) ListAccountTypes(ctx context.Context) ([]psa.NamedRef, error) {
	return c.picklist(ctx, "Companies", "companyType")
}

// ListBoards implements psa.TicketPicklists: the ticket queues.
func (c *Client) ListBoards(ctx context.Context) ([]psa.NamedRef, error) {
	return c.picklist(ctx, "Tickets", "queueID")
}

// ListPriorities implements psa.TicketPicklists.
func (c *Client) ListPriorities(ctx context.Context) ([]psa.NamedRef, error) {
	return c.picklist(ctx, "Tickets", "priority")
}

// checkBoard resolves a queue; NotFound when it names none.
func (c *Client) checkBoard(ctx context.Context, board psa.NamedRef) error {
	if board.IsZero() {
		return nil
	}
	list, err := c.ListBoards(ctx)
	if err != nil {
		return err
	}
	if _, ok := resolvePick(list, board); !ok {
		return apperr.New(apperr.NotFound, "no Autotask queue %q", board.Name+board.ID)
	}
	return nil
}

// ListTicketStatuses implements psa.TicketPicklists: Autotask's statuses
// do not depend on the queue; a queue that does not exist is NotFound.
func (c *Client) ListTicketStatuses(ctx context.Context, board psa.NamedRef) ([]psa.NamedRef, error) {
	if err := c.checkBoard(ctx, board); err != nil {
		return nil, err
	}
	return c.picklist(ctx, "Tickets", "status")
}

// ListTicketTypes implements psa.TicketPicklists: the ticketType
// picklist (independent of the queue).
func (c *Client) ListTicketTypes(ctx context.Context, board psa.NamedRef) ([]psa.NamedRef, error) {
	if err := c.checkBoard(ctx, board); err != nil {
		return nil, err
	}
	return c.picklist(ctx, "Tickets", "ticketType")
}

// selfID returns the API user's resource id (found by user name once).
func (c *Client) selfID(ctx context.Context) (int, error) {
	c.selfOnce.Lock()
	defer c.selfOnce.Unlock()
	if c.self != 0 {
		return c.self, nil
	}
	rs, err := queryAll[apiResource](ctx, c, "Resources", eq("userName", c.cfg.Username))
	if err != nil {
		return 0, fmt.Errorf("find the Autotask API user's resource: %w", err)
	}
	for _, r := range rs {
		if strings.EqualFold(r.UserName, c.cfg.Username) {
			c.self = idOf(r.ID)
			return c.self, nil
		}
	}
	return 0, apperr.New(apperr.Vendor, "Autotask has no resource for the API user")
}

// apiResource is a Resources record.
type apiResource struct {
	ID        json.Number `json:"id"`
	FirstName string      `json:"firstName"`
	LastName  string      `json:"lastName"`
	Email     string      `json:"email"`
	UserName  string      `json:"userName"`
	IsActive  bool        `json:"isActive"`
	UserType  *int        `json:"userType"`
}

// ListMembers implements psa.MemberLister: every resource, inactive ones
// and ones without an email address too (Active and Email say so; user
// import refuses them with the reason, a re-import shows who became
// inactive), the API user excluded. Two resources may share an address;
// both are listed (user import decides). Role is the resource's security
// level by name: Autotask's userType picklist (Resources
// entityInformation/fields, cached for LookupTTL like the other
// picklists); empty for a level the picklist does not name.
func (c *Client) ListMembers(ctx context.Context) ([]psa.Member, error) {
	rs, err := queryAll[apiResource](ctx, c, "Resources", op("gt", "id", 0))
	if err != nil {
		return nil, fmt.Errorf("list Autotask resources: %w", err)
	}
	levels, err := c.securityLevels(ctx)
	if err != nil {
		return nil, err
	}
	var out []psa.Member
	for _, r := range rs {
		if strings.EqualFold(r.UserName, c.cfg.Username) {
			continue
		}
		m := psa.Member{ID: r.ID.String(), Name: strings.TrimSpace(r.FirstName + " " + r.LastName),
			Email: strings.TrimSpace(r.Email), Active: r.IsActive}
		if r.UserType != nil {
			m.Role = levels[strconv.Itoa(*r.UserType)]
		}
		out = append(out, m)
	}
	return out, nil
}

// securityLevels maps the Resources userType picklist's values (the
// security levels, inactive ones included: a resource may still hold one)
// to their names.
func (c *Client) securityLevels(ctx context.Context) (map[string]string, error) {
	m, err := c.metaOf(ctx, "Resources")
	if err != nil {
		return nil, fmt.Errorf("read Autotask security levels: %w", err)
	}
	f, ok := m.field("userType")
	if !ok || !f.IsPickList {
		return nil, apperr.New(apperr.Vendor, "Autotask Resources have no userType (security level) picklist")
	}
	out := make(map[string]string, len(f.PicklistValues))
	for _, p := range f.PicklistValues {
		out[strings.TrimSpace(p.Value)] = strings.TrimSpace(p.Label)
	}
	return out, nil
}
