package vendorspec

import (
	"time"

	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// Budget is a vendor's request budget (shared/ratelimit): the defaults of
// the budget settings every connection has (BudgetSettings), and how the
// vendor wants its budget kept. The budget itself is shared by every
// function through the table, keyed per connection unless the client asks
// for another key (Params.Budget).
type Budget struct {
	// RequestsPerMinute is the budget of a connection whose
	// requestsPerMinute setting is unset (0: DefaultRequestsPerMinute).
	RequestsPerMinute int
	// MaxConcurrency is the requests in flight per endpoint of a
	// connection whose maxConcurrency setting is unset (0: unlimited).
	// Which requests share an endpoint the client says
	// (vendorhttp.Request.Endpoint or Options.Endpoint; Autotask: the
	// entity).
	MaxConcurrency int
	// Strict is for vendors that punish any request sent after a throttle
	// answer (Datto RMM): see ratelimit.Budget.Strict.
	Strict bool
	// Share, when positive, makes the budget that share of the limit the
	// vendor reports when the client calibrates it (Autotask: 0.5 of
	// ThresholdInformation's hourly threshold); RequestsPerMinute holds
	// until the first calibration and whenever the setting is set.
	Share float64
}

// DefaultRequestsPerMinute is the budget of a vendor that declares none:
// neither NinjaOne nor ConnectWise publishes its limits (vendor-apis.md
// §1.4, §4.5), and 1,200 requests a minute keeps a runaway import from
// hammering them without slowing any flow rmmbridge has. Every vendor's
// throttle answers cool the budget down whatever its size.
const DefaultRequestsPerMinute = 1200

// The budget settings every connection has, whatever its vendor
// (BudgetSettings).
const (
	RequestsPerMinuteSetting = "requestsPerMinute"
	MaxConcurrencySetting    = "maxConcurrency"
)

// BudgetSettings are the settings every vendor's connections read, on top
// of the vendor's own: one block for all, so that every vendor — the ones
// to come included — gets a request budget the same way, and openapi.yaml
// documents it once (BudgetSettings). Unset, each takes its vendor's
// default (Spec.Budget). A vendor may not declare settings of these names.
var BudgetSettings = []Setting{
	{Name: RequestsPerMinuteSetting, Type: Integer, Min: Int(2), Max: Int(100000),
		Description: "The connection's request budget: the most requests rmmbridge sends it per minute, from every " +
			"function together. Unset: the vendor's default (1,200 unless its spec says otherwise; Autotask: half of " +
			"the database's hourly threshold, as ThresholdInformation reports it)."},
	{Name: MaxConcurrencySetting, Type: Integer, Min: Int(1), Max: Int(100),
		Description: "The most requests in flight per endpoint across every function. Unset: the vendor's default " +
			"(unlimited unless its spec says otherwise; Autotask: 3 per entity)."},
}

func isBudgetSetting(name string) bool {
	return name == RequestsPerMinuteSetting || name == MaxConcurrencySetting
}

// Budget returns the request budget of a connection of the vendor with
// settings (typed, as TypedSettings returns them): its settings where set,
// the vendor's defaults otherwise.
func (v *Vendor) Budget(settings Settings) ratelimit.Budget {
	b := ratelimit.Budget{Name: v.DisplayName, Requests: v.Spec.Budget.RequestsPerMinute, Window: time.Minute,
		MaxConcurrency: v.Spec.Budget.MaxConcurrency, Strict: v.Spec.Budget.Strict, Share: v.Spec.Budget.Share}
	if b.Requests <= 0 {
		b.Requests = DefaultRequestsPerMinute
	}
	if n := settings.Int(RequestsPerMinuteSetting); n > 0 {
		b.Requests = n
		b.Share = 0 // the person's figure wins over calibration's share
	}
	if n := settings.Int(MaxConcurrencySetting); n > 0 {
		b.MaxConcurrency = n
	}
	return b
}

// BudgetFunc opens a connection's request budget by key: "" is the
// connection's own budget; another key names a budget the client shares
// with other connections of the tenant (Autotask: its database, e.g.
// "autotask-db-<zone>-<company>"), the connection's settings configuring
// it. The result may be nil (no budget: every request is permitted).
type BudgetFunc func(key string) *ratelimit.Limiter

// Limiter returns the client's request budget under key ("" for the
// connection's), nil when the client is opened without budgets ("Test &
// save", tests). A nil *ratelimit.Limiter permits every request, so the
// result can be given to vendorhttp as is.
func (p Params) Limiter(key string) *ratelimit.Limiter {
	if p.Budget == nil {
		return nil
	}
	return p.Budget(key)
}
