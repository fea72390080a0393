package connection

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/limits"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// TicketListsOpener is a Tester that also opens a PSA connection's ticket
// picklists (providers.Registry), so that an integration's ticket defaults
// and priority map are checked against the PSA's lists when the
// integration is saved, not first when a ticket is opened. ok is false
// when the connection's client offers none (those settings then stay free
// text); an error is the PSA's (unreachable, refused).
type TicketListsOpener interface {
	TicketPicklists(ctx context.Context, provider, baseURL string, creds Credentials, settings map[string]any) (lists psa.TicketPicklists, ok bool, err error)
}

// TicketDefaultKeys are the ticketDefaults keys shared/alert reads: board
// (ConnectWise board, Autotask queue, HaloPSA team), queue (read when
// board is not set), status, type, and priority (for a severity the
// priority map leaves out).
var TicketDefaultKeys = []string{"board", "queue", "status", "type", "priority"}

// maxKnownShown bounds the known values a refusal lists.
const maxKnownShown = 8

// ticketSettingsOf returns the parts of s that name PSA ticket values,
// for telling whether a patch changed them.
func ticketSettingsOf(s Settings) []map[string]string {
	out := []map[string]string{s.TicketDefaults, s.PriorityMap}
	for _, id := range slices.Sorted(maps.Keys(s.AlertPolicy.Organizations)) {
		o := s.AlertPolicy.Organizations[id]
		out = append(out, map[string]string{"#org": id}, o.TicketDefaults, o.PriorityMap)
	}
	return out
}

// namesTicketValues reports whether s names any PSA ticket value.
func namesTicketValues(s Settings) bool {
	for _, m := range ticketSettingsOf(s) {
		for k, v := range m {
			if k != "#org" && strings.TrimSpace(v) != "" {
				return true
			}
		}
	}
	return false
}

// sameTicketSettings reports whether a and b name the same ticket values.
func sameTicketSettings(a, b Settings) bool {
	x, y := ticketSettingsOf(a), ticketSettingsOf(b)
	return slices.EqualFunc(x, y, func(p, q map[string]string) bool { return maps.Equal(p, q) })
}

// checkTicketSettings checks the ticket defaults and priority maps of set
// (the integration's and every organization override's) against the
// lists of the PSA connection pc, when its client offers them
// (vendorspec.TicketsPicklists) and the service's Tester can open them:
// one field error per value the PSA does not have. A PSA that cannot be
// asked is an error (Throttled or Unavailable as the PSA said, Vendor
// otherwise): nothing unchecked is saved.
func (s *Service) checkTicketSettings(ctx context.Context, pc Connection, set Settings) ([]apperr.FieldError, error) {
	opener, ok := s.tester.(TicketListsOpener)
	if !ok || !namesTicketValues(set) {
		return nil, nil
	}
	if _, known := s.o.Vendors.Vendor(pc.Provider); !known || !s.capabilities(pc).Has(vendorspec.TicketsPicklists) {
		return nil, nil
	}
	creds, err := s.Credentials(ctx, pc)
	if err != nil {
		return nil, err
	}
	lists, ok, err := opener.TicketPicklists(ctx, pc.Provider, pc.BaseURL, creds, pc.Settings)
	if err != nil {
		return nil, unreachable(err)
	}
	if !ok {
		return nil, nil
	}
	c := &ticketChecker{lists: lists, boardLists: map[string]*boardLists{}}
	fe, err := c.check(ctx, set)
	if err != nil {
		return nil, unreachable(err)
	}
	return fe, nil
}

// unreachable is the error of a PSA that could not be asked for its
// lists.
func unreachable(err error) error {
	msg := "the PSA could not be asked for its ticket lists to check the ticket defaults and priority map; nothing was saved, try again"
	if e, ok := apperr.As(err); ok && e.Message != "" {
		msg += " (" + e.Message + ")"
	}
	kind := apperr.KindOf(err)
	if kind != apperr.Throttled && kind != apperr.Unavailable {
		kind = apperr.Vendor
	}
	out := apperr.Wrap(kind, err, "%s", msg)
	if e, ok := apperr.As(err); ok {
		out.RetryAfter, out.VendorStatus = e.RetryAfter, e.VendorStatus
	}
	return out
}

// ticketChecker checks values against one PSA's lists, reading each list
// once.
type ticketChecker struct {
	lists      psa.TicketPicklists
	boards     []psa.NamedRef
	priorities []psa.NamedRef
	loaded     [2]bool
	boardLists map[string]*boardLists // by the board's setting value, lower case
}

// boardLists are one board's statuses and types; err is the PSA's
// refusal to list them (a field error's reason).
type boardLists struct {
	statuses, types []psa.NamedRef
	err             error
}

func (c *ticketChecker) allBoards(ctx context.Context) ([]psa.NamedRef, error) {
	if !c.loaded[0] {
		b, err := c.lists.ListBoards(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the PSA's boards: %w", err)
		}
		c.boards, c.loaded[0] = b, true
	}
	return c.boards, nil
}

func (c *ticketChecker) allPriorities(ctx context.Context) ([]psa.NamedRef, error) {
	if !c.loaded[1] {
		p, err := c.lists.ListPriorities(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the PSA's priorities: %w", err)
		}
		c.priorities, c.loaded[1] = p, true
	}
	return c.priorities, nil
}

// ofBoard lists a board's statuses and types. A refusal naming the input
// (Invalid, NotFound: e.g. a PSA that lists statuses per board, given no
// board) is kept as the reason; any other failure is an error.
func (c *ticketChecker) ofBoard(ctx context.Context, board string) (*boardLists, error) {
	key := strings.ToLower(strings.TrimSpace(board))
	if bl, ok := c.boardLists[key]; ok {
		return bl, nil
	}
	ref := valueRef(board)
	bl := &boardLists{}
	var err error
	if bl.statuses, err = c.lists.ListTicketStatuses(ctx, ref); err == nil {
		bl.types, err = c.lists.ListTicketTypes(ctx, ref)
	}
	if err != nil {
		if k := apperr.KindOf(err); k != apperr.Invalid && k != apperr.NotFound {
			return nil, fmt.Errorf("list the statuses and types of board %q: %w", board, err)
		}
		bl.err = err
	}
	c.boardLists[key] = bl
	return bl, nil
}

// valueRef reads a setting as shared/alert does when it opens a ticket:
// digits are an id, anything else a name.
func valueRef(v string) psa.NamedRef {
	v = strings.TrimSpace(v)
	if v != "" && strings.Trim(v, "0123456789") == "" {
		return psa.NamedRef{ID: v}
	}
	return psa.NamedRef{Name: v}
}

// inList reports whether v names a value of list the way the PSA clients
// resolve it: an id exactly, a name without case and surrounding space.
func inList(list []psa.NamedRef, v string) bool {
	r := valueRef(v)
	return slices.ContainsFunc(list, func(p psa.NamedRef) bool {
		if r.ID != "" {
			return strings.TrimSpace(p.ID) == r.ID
		}
		return strings.EqualFold(strings.TrimSpace(p.Name), r.Name)
	})
}

// notIn is the message for v missing from list.
func notIn(what, v string, list []psa.NamedRef) string {
	r := valueRef(v)
	head := fmt.Sprintf("no %s named %q in the PSA", what, r.Name)
	if r.ID != "" {
		head = fmt.Sprintf("no %s with id %s in the PSA", what, r.ID)
	}
	if len(list) == 0 {
		return head + "; it lists none"
	}
	known := make([]string, 0, maxKnownShown+1)
	for i, p := range list {
		if i == maxKnownShown {
			known = append(known, fmt.Sprintf("… (%d in all)", len(list)))
			break
		}
		known = append(known, limits.Clip(fmt.Sprintf("%s (id %s)", p.Name, p.ID)))
	}
	return head + "; known: " + strings.Join(known, ", ")
}

// scope is one set of ticket settings to check: the integration's, or an
// organization's override merged over them (field names the override's
// own keys; values inherited from the integration are named where they
// are set).
type scope struct {
	defaults, priorities map[string]string
	// field returns the field of a ticketDefaults key or priorityMap
	// severity (priority: true).
	field func(key string, priority bool) string
	// own reports whether the scope sets key itself (false: inherited,
	// already checked with the integration unless it depends on the
	// scope's board).
	own func(key string, priority bool) bool
	org string
}

// check returns one field error per value the PSA lacks.
func (c *ticketChecker) check(ctx context.Context, set Settings) ([]apperr.FieldError, error) {
	var fe []apperr.FieldError
	top := scope{defaults: set.TicketDefaults, priorities: set.PriorityMap,
		field: func(k string, p bool) string {
			if p {
				return "settings.priorityMap." + k
			}
			return limits.Clip("settings.ticketDefaults." + k)
		},
		own: func(string, bool) bool { return true }}
	scopes := []scope{top}
	for _, id := range slices.Sorted(maps.Keys(set.AlertPolicy.Organizations)) {
		o := set.AlertPolicy.Organizations[id]
		if o.Exclude || (len(o.TicketDefaults) == 0 && len(o.PriorityMap) == 0) {
			continue
		}
		base := "settings.alertPolicy.organizations." + id
		merged, prios := maps.Clone(set.TicketDefaults), maps.Clone(set.PriorityMap)
		if merged == nil {
			merged = map[string]string{}
		}
		if prios == nil {
			prios = map[string]string{}
		}
		maps.Copy(merged, o.TicketDefaults)
		maps.Copy(prios, o.PriorityMap)
		scopes = append(scopes, scope{defaults: merged, priorities: prios, org: id,
			field: func(k string, p bool) string {
				if p {
					return base + ".priorityMap." + k
				}
				return limits.Clip(base + ".ticketDefaults." + k)
			},
			own: func(k string, p bool) bool {
				if p {
					_, ok := o.PriorityMap[k]
					return ok
				}
				_, ok := o.TicketDefaults[k]
				return ok
			}})
	}
	for _, sc := range scopes {
		f, err := c.checkScope(ctx, sc)
		if err != nil {
			return nil, err
		}
		fe = append(fe, f...)
	}
	return fe, nil
}

// checkScope checks one scope's keys, board (and queue), status and type
// (among the board's), priority and priority map.
func (c *ticketChecker) checkScope(ctx context.Context, sc scope) ([]apperr.FieldError, error) {
	var fe []apperr.FieldError
	bad := func(key string, priority bool, msg string) {
		fe = append(fe, apperr.FieldError{Field: sc.field(key, priority), Message: msg})
	}
	for _, k := range slices.Sorted(maps.Keys(sc.defaults)) {
		if !slices.Contains(TicketDefaultKeys, k) && sc.own(k, false) {
			bad(k, false, "is not a ticket default rmmbridge uses: use board (the ConnectWise board, Autotask queue or HaloPSA team; queue is read when board is not set), status, type or priority")
		}
	}
	value := func(k string) string { return strings.TrimSpace(sc.defaults[k]) }
	boardOK := true
	for _, k := range []string{"board", "queue"} {
		if value(k) == "" {
			continue
		}
		boards, err := c.allBoards(ctx)
		if err != nil {
			return nil, err
		}
		if !inList(boards, value(k)) {
			if sc.own(k, false) {
				bad(k, false, notIn("board", value(k), boards))
			}
			if k == "board" || value("board") == "" {
				boardOK = false // its statuses and types cannot be checked
			}
		}
	}
	board := cmp.Or(value("board"), value("queue"))
	// Statuses and types are the board's: checked where they are set, and
	// again for an organization whose own board they are inherited into.
	ownBoard := sc.own("board", false) || sc.own("queue", false)
	for _, k := range []string{"status", "type"} {
		v := value(k)
		if v == "" || !boardOK || (!sc.own(k, false) && !(sc.org != "" && ownBoard)) {
			continue
		}
		bl, err := c.ofBoard(ctx, board)
		if err != nil {
			return nil, err
		}
		what, list := "status", bl.statuses
		if k == "type" {
			what, list = "ticket type", bl.types
		}
		inherited := ""
		if !sc.own(k, false) {
			inherited = fmt.Sprintf(" (inherited from settings.ticketDefaults.%s; set one for this organization)", k)
		}
		switch {
		case bl.err != nil:
			reason := bl.err.Error()
			if e, ok := apperr.As(bl.err); ok && e.Message != "" {
				reason = e.Message
			}
			if board == "" {
				bad(k, false, "cannot be checked without a board: set ticketDefaults.board ("+limits.Clip(reason)+")")
			} else {
				bad(k, false, fmt.Sprintf("board %q does not list %ss: %s", board, what, limits.Clip(reason)))
			}
		case !inList(list, v):
			msg := notIn(what, v, list)
			if board != "" {
				msg = strings.Replace(msg, " in the PSA", fmt.Sprintf(" on board %q", board), 1)
			}
			bad(k, false, msg+inherited)
		}
	}
	prioKeys := []struct {
		key      string
		priority bool
	}{{"priority", false}}
	for _, sev := range slices.Sorted(maps.Keys(sc.priorities)) {
		prioKeys = append(prioKeys, struct {
			key      string
			priority bool
		}{sev, true})
	}
	for _, p := range prioKeys {
		v := strings.TrimSpace(sc.defaults[p.key])
		if p.priority {
			v = strings.TrimSpace(sc.priorities[p.key])
		}
		if v == "" || !sc.own(p.key, p.priority) {
			continue
		}
		prios, err := c.allPriorities(ctx)
		if err != nil {
			return nil, err
		}
		if !inList(prios, v) {
			bad(p.key, p.priority, notIn("priority", v, prios))
		}
	}
	return fe, nil
}
