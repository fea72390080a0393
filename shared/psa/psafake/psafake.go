// Package psafake is an in-memory PSA for domain tests: one fake that
// passes the PSA behaviour suite (shared/psa/psatest) like a vendor
// client, with the knobs the domain tests need — seeding, call counts,
// per-call hooks and failures, injected 429/5xx/hangs (with the retry
// policy of a vendor client), a human technician touching tickets, and an
// optional "contains" serial search like some vendors'.
//
// A PSA holds the data; clients see it through Client (the integration's
// own API member), ClientAs (another member), ClientWithSecret (wrong
// credentials) and Reopener (a client that can also reopen tickets). Ids
// are numbers counted from FirstID for every kind of record (locations get
// an "L" in front), so tests can predict them.
//
// It is a test helper: nothing that ships in a Lambda imports it.
package psafake

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/internal/fakevendor"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// Defaults for the options.
const (
	DefaultFirstID        = 100
	DefaultAPIMember      = "rmmbridge"
	DefaultSecret         = "fake-psa-secret"
	DefaultSearchLimit    = 25
	DefaultMaxAttempts    = 4
	DefaultAttemptTimeout = time.Second
	// MaxRetryAfter is the longest Retry-After the fake's client waits
	// for itself (as vendorhttp); longer ones come back as Throttled.
	MaxRetryAfter = 20 * time.Second
	// RejectedReason is the safe message of a wrong-credentials answer.
	RejectedReason = "the fake PSA rejected the API keys"
)

// Option configures a PSA.
type Option func(*config)

type config struct {
	firstID        int
	statuses       []psa.NamedRef
	types          []psa.NamedRef
	loose          bool
	now            func() time.Time
	apiMember      string
	secret         string
	maxAttempts    int
	attemptTimeout time.Duration
	unsupported    map[string]bool
	only           map[string]bool
	assetPageSize  int
}

// AssetPageSize sets ListAccountAssets' page size (default 100).
func AssetPageSize(n int) Option { return func(c *config) { c.assetPageSize = n } }

// FirstID makes ids count up from n+1 (default 100: the first record is
// "101", the first location "L101").
func FirstID(n int) Option { return func(c *config) { c.firstID = n } }

// Statuses sets the account statuses (default Active "1", Inactive "2";
// the first is the default of new accounts).
func Statuses(refs ...psa.NamedRef) Option { return func(c *config) { c.statuses = refs } }

// Types sets the account types (default Client "1", Prospect "2").
func Types(refs ...psa.NamedRef) Option { return func(c *config) { c.types = refs } }

// LooseSerialSearch makes FindAssetsBySerial return every asset whose
// serial contains the text, as a vendor's "contains" search does (the
// asset ladder must filter). Such a fake fails the suite on purpose.
func LooseSerialSearch() Option { return func(c *config) { c.loose = true } }

// Clock sets the clock that dates new accounts (default time.Now).
func Clock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// APIMember names the integration's own member (default "rmmbridge").
func APIMember(id string) Option { return func(c *config) { c.apiMember = id } }

// Secret sets the API secret the PSA accepts (default DefaultSecret).
func Secret(s string) Option { return func(c *config) { c.secret = s } }

// Retries sets the fake client's attempts per call and how long an
// injected hang holds one attempt (defaults 4 and 1 s).
func Retries(maxAttempts int, attemptTimeout time.Duration) Option {
	return func(c *config) { c.maxAttempts, c.attemptTimeout = maxAttempts, attemptTimeout }
}

// Only makes every client method but the named ones answer
// apperr.NotImplemented: a test whose old fake implemented only those
// keeps failing loudly if the code under test calls anything else.
func Only(methods ...string) Option {
	return func(c *config) {
		c.only = map[string]bool{}
		for _, m := range methods {
			c.only[m] = true
		}
	}
}

// Unsupported makes the named client methods (e.g.
// "FindAccountsByExternalRef", "CreateAccount", "AccountsCreatedSince")
// answer apperr.NotImplemented, as a vendor without the role does.
func Unsupported(methods ...string) Option {
	return func(c *config) {
		for _, m := range methods {
			c.unsupported[m] = true
		}
	}
}

// Account is an account with what the PSA keeps beside it.
type Account struct {
	psa.Account
	// ExternalRef is our reference (NewAccount.ExternalRef).
	ExternalRef string
	// Created is the creation time (zero: the fake's clock at AddAccount).
	Created time.Time
	Deleted bool
}

// Member is a member with its login identifier.
type Member struct {
	psa.Member
	Identifier string
	Inactive   bool
}

// Ticket is a ticket as the fake holds it.
type Ticket struct {
	// NewTicket is what CreateTicket was given.
	psa.NewTicket
	ID string
	// Notes are the note texts, a close's resolution included.
	Notes   []string
	Closed  bool
	Touched bool
	// Closes and Reopens count the calls that closed or reopened it.
	Closes, Reopens int
	Created         time.Time
}

func (t *Ticket) clone() *Ticket {
	c := *t
	c.Notes = slices.Clone(t.Notes)
	return &c
}

// PSA is the fake's data. It is safe for concurrent use. Its Gate counts
// the client calls and holds the hook, the queued failures and the
// injected faults (OnCall, Fail, ThrottleNext, FailNext, HangNext, Calls,
// CallCounts, TotalCalls, ResetCalls, Requests, Waits).
type PSA struct {
	*fakevendor.Gate
	opt config

	mu        sync.Mutex
	next      int
	accounts  []*Account
	locations []psa.Location
	assets    []psa.Asset
	tickets   map[string]*Ticket
	members   []Member
	created   []psa.NewAccount
	after     fakevendor.Failures
}

// New returns an empty PSA.
func New(opts ...Option) *PSA {
	c := config{
		firstID:        DefaultFirstID,
		statuses:       []psa.NamedRef{{ID: "1", Name: "Active"}, {ID: "2", Name: "Inactive"}},
		types:          []psa.NamedRef{{ID: "1", Name: "Client"}, {ID: "2", Name: "Prospect"}},
		now:            time.Now,
		apiMember:      DefaultAPIMember,
		secret:         DefaultSecret,
		maxAttempts:    DefaultMaxAttempts,
		attemptTimeout: DefaultAttemptTimeout,
		unsupported:    map[string]bool{},
		assetPageSize:  100,
	}
	for _, o := range opts {
		o(&c)
	}
	gate := fakevendor.NewGate(fakevendor.Policy{Name: "PSA", Secret: c.secret, RejectedReason: RejectedReason,
		MaxAttempts: c.maxAttempts, AttemptTimeout: c.attemptTimeout, MaxRetryAfter: MaxRetryAfter,
		Unsupported: c.unsupported, Only: c.only})
	return &PSA{Gate: gate, opt: c, next: c.firstID, tickets: map[string]*Ticket{}, after: fakevendor.NewFailures()}
}

// nextID returns the next id; the caller holds p.mu.
func (p *PSA) nextID() string {
	p.next++
	return strconv.Itoa(p.next)
}

// --- seeding -----------------------------------------------------------

// AddAccounts adds accounts without a reference (ids assigned when empty).
func (p *PSA) AddAccounts(as ...psa.Account) {
	for _, a := range as {
		p.AddAccount(Account{Account: a})
	}
}

// AddAccount adds an account and returns it with its id.
func (p *PSA) AddAccount(a Account) psa.Account {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.ID == "" {
		a.ID = p.nextID()
	}
	if a.Created.IsZero() {
		a.Created = p.opt.now()
	}
	p.accounts = append(p.accounts, &a)
	return a.Account
}

// AddLocation adds a location (id assigned when empty).
func (p *PSA) AddLocation(l psa.Location) psa.Location {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l.ID == "" {
		l.ID = "L" + p.nextID()
	}
	p.locations = append(p.locations, l)
	return l
}

// PutAsset stores a (replacing the asset with its id; an id is assigned
// when empty).
func (p *PSA) PutAsset(a psa.Asset) psa.Asset {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.ID == "" {
		a.ID = p.nextID()
	}
	if i := slices.IndexFunc(p.assets, func(x psa.Asset) bool { return x.ID == a.ID }); i >= 0 {
		p.assets[i] = a
	} else {
		p.assets = append(p.assets, a)
	}
	return a
}

// RemoveAsset deletes an asset (as a person in the PSA would).
func (p *PSA) RemoveAsset(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.assets = slices.DeleteFunc(p.assets, func(a psa.Asset) bool { return a.ID == id })
}

// AddMember adds a member (id assigned when empty).
func (p *PSA) AddMember(m Member) psa.Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m.ID == "" {
		m.ID = p.nextID()
	}
	m.Member.Active = !m.Inactive
	p.members = append(p.members, m)
	return m.Member
}

// Touch marks a ticket as worked on by a human.
func (p *PSA) Touch(ticketID string) {
	p.EditTicket(ticketID, func(t *Ticket) { t.Touched = true })
}

// EditTicket changes a ticket in place (as a person in the PSA would); a
// missing ticket is ignored.
func (p *PSA) EditTicket(id string, edit func(t *Ticket)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.tickets[id]; ok {
		edit(t)
	}
}

// DeleteTicket deletes a ticket (as a person in the PSA would).
func (p *PSA) DeleteTicket(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.tickets, id)
}

// --- inspection --------------------------------------------------------

// Accounts returns the accounts, deleted ones included, in creation order.
func (p *PSA) Accounts() []Account {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Account, len(p.accounts))
	for i, a := range p.accounts {
		out[i] = *a
	}
	return out
}

// CreatedAccounts returns what CreateAccount was given, in order.
func (p *PSA) CreatedAccounts() []psa.NewAccount {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.created)
}

// Locations returns an account's locations.
func (p *PSA) Locations(accountID string) []psa.Location {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.locationsOf(accountID)
}

func (p *PSA) locationsOf(accountID string) []psa.Location {
	var out []psa.Location
	for _, l := range p.locations {
		if l.AccountID == accountID {
			out = append(out, l)
		}
	}
	return out
}

// Asset returns an asset by id.
func (p *PSA) Asset(id string) (psa.Asset, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.IndexFunc(p.assets, func(a psa.Asset) bool { return a.ID == id })
	if i < 0 {
		return psa.Asset{}, false
	}
	return p.assets[i], true
}

// Assets returns the assets keep selects (nil: all), by id.
func (p *PSA) Assets(keep func(psa.Asset) bool) []psa.Asset {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.findAssets(keep)
}

func (p *PSA) findAssets(keep func(psa.Asset) bool) []psa.Asset {
	var out []psa.Asset
	for _, a := range p.assets {
		if keep == nil || keep(a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b psa.Asset) int { return compareIDs(a.ID, b.ID) })
	return out
}

// Ticket returns a copy of a ticket, nil if there is none.
func (p *PSA) Ticket(id string) *Ticket {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.tickets[id]
	if !ok {
		return nil
	}
	return t.clone()
}

// Tickets returns copies of every ticket, by id.
func (p *PSA) Tickets() []*Ticket {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Ticket, 0, len(p.tickets))
	for _, t := range p.tickets {
		out = append(out, t.clone())
	}
	slices.SortFunc(out, func(a, b *Ticket) int { return compareIDs(a.ID, b.ID) })
	return out
}

// --- behaviour ---------------------------------------------------------

// FailAfter makes the next n calls of a write method (CreateAccount,
// CreateLocation, CreateAsset, UpdateAsset, CreateTicket, AddTicketNote,
// CloseTicket, ReopenTicket) carry out the write and then answer err: an
// ambiguous write, as when the connection drops after the vendor saved.
func (p *PSA) FailAfter(method string, n int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.after.Set(method, n, err)
}

// compareIDs orders numeric ids as numbers, others as text.
func compareIDs(a, b string) int {
	x, errA := strconv.Atoi(strings.TrimPrefix(a, "L"))
	y, errB := strconv.Atoi(strings.TrimPrefix(b, "L"))
	if errA == nil && errB == nil && x != y {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// --- clients -----------------------------------------------------------

// Client is a client of the fake PSA acting as one member. It implements
// psa.Client, psa.AccountRefFinder, psa.TicketRefFinder and
// psa.RecentAccounts.
type Client struct {
	p      *PSA
	member string
	secret string
}

// Compile-time checks.
var (
	_ psa.Client           = (*Client)(nil)
	_ psa.AccountRefFinder = (*Client)(nil)
	_ psa.TicketRefFinder  = (*Client)(nil)
	_ psa.RecentAccounts   = (*Client)(nil)
)

// Client returns a client acting as the integration's API member.
func (p *PSA) Client() *Client {
	return &Client{p: p, member: p.opt.apiMember, secret: p.opt.secret}
}

// ClientAs returns a client acting as another member (a technician):
// what it changes on a ticket touches the ticket.
func (p *PSA) ClientAs(member string) *Client {
	return &Client{p: p, member: member, secret: p.opt.secret}
}

// ClientWithSecret returns a client using secret; anything but the PSA's
// secret is rejected (apperr.Unauthorized with RejectedReason).
func (p *PSA) ClientWithSecret(secret string) *Client {
	return &Client{p: p, member: p.opt.apiMember, secret: secret}
}

// Fake returns the PSA the client talks to.
func (c *Client) Fake() *PSA { return c.p }

// ReopenClient is a Client that can also reopen tickets.
type ReopenClient struct{ *Client }

// Reopener returns a client acting as the API member that can also
// reopen tickets.
func (p *PSA) Reopener() ReopenClient { return ReopenClient{p.Client()} }

// ReopenTicket reopens a closed ticket.
func (c ReopenClient) ReopenTicket(ctx context.Context, id string) error {
	if err := c.begin(ctx, "ReopenTicket"); err != nil {
		return err
	}
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.tickets[id]
	if !ok {
		return notFound("ticket", id)
	}
	t.Closed = false
	t.Reopens++
	c.touch(t)
	return p.after.Take("ReopenTicket")
}

func notFound(kind, id string) error {
	return apperr.New(apperr.NotFound, "the fake PSA has no %s %q", kind, id)
}

// begin runs what every call goes through (fakevendor.Gate.Begin): the
// call count, the credentials, the hook and queued failures, then the
// simulated requests with the retry policy of a vendor client.
func (c *Client) begin(ctx context.Context, method string) error {
	return c.p.Begin(ctx, method, c.secret)
}

// after takes a FailAfter failure of method, if any.
func (c *Client) after(method string) error {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return c.p.after.Take(method)
}

// touch records a change by c's member; the caller holds p.mu.
func (c *Client) touch(t *Ticket) {
	if !strings.EqualFold(c.member, c.p.opt.apiMember) {
		t.Touched = true
	}
}

// TestConnection implements psa.Tester.
func (c *Client) TestConnection(ctx context.Context) error {
	return c.begin(ctx, "TestConnection")
}

func (p *PSA) account(id string) (*Account, bool) {
	for _, a := range p.accounts {
		if a.ID == id && !a.Deleted {
			return a, true
		}
	}
	return nil, false
}

// SearchAccounts implements psa.AccountSearcher: name or identifier
// containing the text, case-insensitively, filtered by status and type
// id, in creation order; the cursor is an offset.
func (c *Client) SearchAccounts(ctx context.Context, q psa.AccountQuery) (psa.Page[psa.Account], error) {
	if err := c.begin(ctx, "SearchAccounts"); err != nil {
		return psa.Page[psa.Account]{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	start, ok := fakevendor.ParseOffset(q.Cursor)
	if !ok {
		return psa.Page[psa.Account]{}, apperr.InvalidFields(apperr.FieldError{Field: "cursor", Message: "is not a cursor this listing returned"})
	}
	text := strings.ToLower(strings.TrimSpace(q.Search))
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	var match []psa.Account
	for _, a := range p.accounts {
		if a.Deleted || !strings.Contains(strings.ToLower(a.Name+"\x00"+a.Identifier), text) ||
			(q.Status != "" && a.Status.ID != q.Status) || (q.Type != "" && a.Type.ID != q.Type) {
			continue
		}
		match = append(match, a.Account)
	}
	page, next := fakevendor.Page(match, start, limit)
	return psa.Page[psa.Account]{Items: append([]psa.Account{}, page...), NextCursor: next}, nil
}

// GetAccount implements psa.AccountGetter.
func (c *Client) GetAccount(ctx context.Context, id string) (psa.Account, error) {
	if err := c.begin(ctx, "GetAccount"); err != nil {
		return psa.Account{}, err
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	a, ok := c.p.account(id)
	if !ok {
		return psa.Account{}, notFound("account", id)
	}
	return a.Account, nil
}

// ListAccountStatuses implements psa.AccountPicklists.
func (c *Client) ListAccountStatuses(ctx context.Context) ([]psa.NamedRef, error) {
	if err := c.begin(ctx, "ListAccountStatuses"); err != nil {
		return nil, err
	}
	return slices.Clone(c.p.opt.statuses), nil
}

// ListAccountTypes implements psa.AccountPicklists.
func (c *Client) ListAccountTypes(ctx context.Context) ([]psa.NamedRef, error) {
	if err := c.begin(ctx, "ListAccountTypes"); err != nil {
		return nil, err
	}
	return slices.Clone(c.p.opt.types), nil
}

// resolve fills a picklist reference: an id is taken as is (with its name
// when known), a name must exist.
func resolve(kind string, r psa.NamedRef, refs []psa.NamedRef) (psa.NamedRef, error) {
	switch {
	case r.IsZero():
		return psa.NamedRef{}, nil
	case r.ID != "":
		for _, x := range refs {
			if x.ID == r.ID {
				return x, nil
			}
		}
		return psa.NamedRef{ID: r.ID}, nil
	}
	for _, x := range refs {
		if strings.EqualFold(x.Name, strings.TrimSpace(r.Name)) {
			return x, nil
		}
	}
	return psa.NamedRef{}, apperr.New(apperr.Invalid, "the fake PSA has no %s named %q", kind, r.Name)
}

// CreateAccount implements psa.AccountCreator. It records what it was
// given (CreatedAccounts) and keeps ExternalRef for the reference
// lookups. Status defaults to the first status; no location is created.
func (c *Client) CreateAccount(ctx context.Context, na psa.NewAccount) (psa.Account, error) {
	if err := c.begin(ctx, "CreateAccount"); err != nil {
		return psa.Account{}, err
	}
	name := strings.TrimSpace(na.Name)
	if name == "" {
		return psa.Account{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	p := c.p
	status, err := resolve("account status", na.Status, p.opt.statuses)
	if err != nil {
		return psa.Account{}, err
	}
	if status.IsZero() && len(p.opt.statuses) > 0 {
		status = p.opt.statuses[0]
	}
	typ, err := resolve("account type", na.Type, p.opt.types)
	if err != nil {
		return psa.Account{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a := &Account{Account: psa.Account{ID: p.nextID(), Name: name, Identifier: na.Identifier, Status: status, Type: typ},
		ExternalRef: na.ExternalRef, Created: p.opt.now()}
	p.accounts = append(p.accounts, a)
	p.created = append(p.created, na)
	return a.Account, p.after.Take("CreateAccount")
}

// FindAccountsByExternalRef implements psa.AccountRefFinder.
func (c *Client) FindAccountsByExternalRef(ctx context.Context, ref string) ([]psa.Account, error) {
	if err := c.begin(ctx, "FindAccountsByExternalRef"); err != nil {
		return nil, err
	}
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, nil
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	var out []psa.Account
	for _, a := range c.p.accounts {
		if !a.Deleted && a.ExternalRef == ref {
			out = append(out, a.Account)
		}
	}
	return out, nil
}

// AccountsCreatedSince implements psa.RecentAccounts: accounts created
// after since, not deleted and without our reference, by id.
func (c *Client) AccountsCreatedSince(ctx context.Context, since time.Time) ([]psa.Account, error) {
	if err := c.begin(ctx, "AccountsCreatedSince"); err != nil {
		return nil, err
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	var out []psa.Account
	for _, a := range c.p.accounts {
		if !a.Deleted && a.ExternalRef == "" && a.Created.After(since) {
			out = append(out, a.Account)
		}
	}
	slices.SortFunc(out, func(a, b psa.Account) int { return compareIDs(a.ID, b.ID) })
	return out, nil
}

// ListLocations implements psa.LocationLister.
func (c *Client) ListLocations(ctx context.Context, accountID string) ([]psa.Location, error) {
	if err := c.begin(ctx, "ListLocations"); err != nil {
		return nil, err
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	locs := c.p.locationsOf(accountID)
	if _, ok := c.p.account(accountID); !ok && len(locs) == 0 {
		return nil, notFound("account", accountID)
	}
	return locs, nil
}

// CreateLocation implements psa.LocationCreator.
func (c *Client) CreateLocation(ctx context.Context, accountID string, l psa.NewLocation) (psa.Location, error) {
	if err := c.begin(ctx, "CreateLocation"); err != nil {
		return psa.Location{}, err
	}
	name := strings.TrimSpace(l.Name)
	if name == "" {
		return psa.Location{}, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	loc := psa.Location{ID: "L" + p.nextID(), AccountID: accountID, Name: name}
	p.locations = append(p.locations, loc)
	return loc, p.after.Take("CreateLocation")
}

// GetAsset implements psa.AssetFinder.
func (c *Client) GetAsset(ctx context.Context, id string) (psa.Asset, error) {
	if err := c.begin(ctx, "GetAsset"); err != nil {
		return psa.Asset{}, err
	}
	a, ok := c.p.Asset(id)
	if !ok {
		return psa.Asset{}, notFound("asset", id)
	}
	return a, nil
}

// FindAssetsByExternalRef implements psa.AssetFinder (by id).
func (c *Client) FindAssetsByExternalRef(ctx context.Context, ref string) ([]psa.Asset, error) {
	if err := c.begin(ctx, "FindAssetsByExternalRef"); err != nil {
		return nil, err
	}
	if ref = strings.TrimSpace(ref); ref == "" {
		return nil, nil
	}
	return c.p.Assets(func(a psa.Asset) bool { return a.ExternalRef == ref }), nil
}

// FindAssetsBySerial implements psa.AssetFinder: the same serial,
// case-insensitively (or containing it, with LooseSerialSearch), by id. A
// placeholder serial matches nothing.
func (c *Client) FindAssetsBySerial(ctx context.Context, serial string) ([]psa.Asset, error) {
	if err := c.begin(ctx, "FindAssetsBySerial"); err != nil {
		return nil, err
	}
	serial = strings.ToLower(strings.TrimSpace(serial))
	if rmm.IsPlaceholderSerial(serial) {
		return nil, nil
	}
	return c.p.Assets(func(a psa.Asset) bool {
		s := strings.ToLower(strings.TrimSpace(a.SerialNumber))
		return s == serial || (c.p.opt.loose && s != "" && strings.Contains(s, serial))
	}), nil
}

// ListAccountAssets implements psa.AssetLister: the account's assets by id,
// AssetPageSize a page; the cursor is the last id of the previous page.
func (c *Client) ListAccountAssets(ctx context.Context, accountID, cursor string) (psa.Page[psa.Asset], error) {
	if err := c.begin(ctx, "ListAccountAssets"); err != nil {
		return psa.Page[psa.Asset]{}, err
	}
	if cursor != "" {
		if _, err := strconv.Atoi(cursor); err != nil {
			return psa.Page[psa.Asset]{}, apperr.InvalidFields(apperr.FieldError{Field: "cursor", Message: "is not a cursor this listing returned"})
		}
	}
	all := c.p.Assets(func(a psa.Asset) bool {
		return a.AccountID == accountID && (cursor == "" || compareIDs(a.ID, cursor) > 0)
	})
	size := max(c.p.opt.assetPageSize, 1)
	var out psa.Page[psa.Asset]
	if len(all) > size {
		all = all[:size]
		out.NextCursor = all[size-1].ID
	}
	out.Items = all
	return out, nil
}

// CreateAsset implements psa.AssetWriter: every field is kept.
func (c *Client) CreateAsset(ctx context.Context, a psa.Asset) (psa.Asset, error) {
	if err := c.begin(ctx, "CreateAsset"); err != nil {
		return psa.Asset{}, err
	}
	a.ID = ""
	return c.p.PutAsset(a), c.after("CreateAsset")
}

// UpdateAsset implements psa.AssetWriter.
func (c *Client) UpdateAsset(ctx context.Context, a psa.Asset) (psa.Asset, error) {
	if err := c.begin(ctx, "UpdateAsset"); err != nil {
		return psa.Asset{}, err
	}
	if _, ok := c.p.Asset(a.ID); !ok || a.ID == "" {
		return psa.Asset{}, notFound("asset", a.ID)
	}
	return c.p.PutAsset(a), c.after("UpdateAsset")
}

func (t *Ticket) view() psa.Ticket {
	return psa.Ticket{ID: t.ID, AccountID: t.AccountID, LocationID: t.LocationID, AssetID: t.AssetID, Summary: t.Summary,
		Description: t.Description, Status: t.Status, Priority: t.Priority, Board: t.Board, Closed: t.Closed, CreatedAt: t.Created}
}

// CreateTicket implements psa.TicketWriter; the ticket keeps what it was
// given.
func (c *Client) CreateTicket(ctx context.Context, nt psa.NewTicket) (psa.Ticket, error) {
	if err := c.begin(ctx, "CreateTicket"); err != nil {
		return psa.Ticket{}, err
	}
	if strings.TrimSpace(nt.Summary) == "" {
		return psa.Ticket{}, apperr.InvalidFields(apperr.FieldError{Field: "summary", Message: "is required"})
	}
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	t := &Ticket{NewTicket: nt, ID: p.nextID(), Created: p.opt.now()}
	p.tickets[t.ID] = t
	return t.view(), p.after.Take("CreateTicket")
}

// GetTicket implements psa.TicketWriter.
func (c *Client) GetTicket(ctx context.Context, id string) (psa.Ticket, error) {
	if err := c.begin(ctx, "GetTicket"); err != nil {
		return psa.Ticket{}, err
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	t, ok := c.p.tickets[id]
	if !ok {
		return psa.Ticket{}, notFound("ticket", id)
	}
	return t.view(), nil
}

// FindTicketsByExternalRef implements psa.TicketRefFinder (by id).
func (c *Client) FindTicketsByExternalRef(ctx context.Context, ref string) ([]psa.Ticket, error) {
	if err := c.begin(ctx, "FindTicketsByExternalRef"); err != nil {
		return nil, err
	}
	if ref = strings.TrimSpace(ref); ref == "" {
		return nil, nil
	}
	var out []psa.Ticket
	for _, t := range c.p.Tickets() {
		if t.ExternalRef == ref {
			out = append(out, t.view())
		}
	}
	return out, nil
}

// AddTicketNote implements psa.TicketWriter.
func (c *Client) AddTicketNote(ctx context.Context, id string, n psa.Note) error {
	if err := c.begin(ctx, "AddTicketNote"); err != nil {
		return err
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	t, ok := c.p.tickets[id]
	if !ok {
		return notFound("ticket", id)
	}
	t.Notes = append(t.Notes, n.Text)
	c.touch(t)
	return c.p.after.Take("AddTicketNote")
}

// CloseTicket implements psa.TicketWriter. Every call counts in Closes;
// closing a closed ticket changes nothing else.
func (c *Client) CloseTicket(ctx context.Context, id, resolution string) error {
	if err := c.begin(ctx, "CloseTicket"); err != nil {
		return err
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	t, ok := c.p.tickets[id]
	if !ok {
		return notFound("ticket", id)
	}
	t.Closes++
	if t.Closed {
		return nil
	}
	if strings.TrimSpace(resolution) != "" {
		t.Notes = append(t.Notes, resolution)
	}
	t.Closed = true
	c.touch(t)
	return c.p.after.Take("CloseTicket")
}

// TicketTouched implements psa.TicketWriter: Touch was called, or another
// member changed the ticket.
func (c *Client) TicketTouched(ctx context.Context, id string) (bool, error) {
	if err := c.begin(ctx, "TicketTouched"); err != nil {
		return false, err
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	t, ok := c.p.tickets[id]
	if !ok {
		return false, notFound("ticket", id)
	}
	return t.Touched, nil
}

// ListMembers implements psa.MemberLister: every member, inactive ones
// included (Active false).
func (c *Client) ListMembers(ctx context.Context) ([]psa.Member, error) {
	if err := c.begin(ctx, "ListMembers"); err != nil {
		return nil, err
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	out := make([]psa.Member, 0, len(c.p.members))
	for _, m := range c.p.members {
		pm := m.Member
		pm.Active = !m.Inactive
		out = append(out, pm)
	}
	return out, nil
}
