package halopsa

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// BudgetKey names the request budget of a HaloPSA instance: Halo limits
// requests per instance (and tenant, for Halo-hosted ones), so every
// connection to it shares one budget.
func BudgetKey(baseURL, tenant string) string {
	host := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	if u, err := url.Parse(host); err == nil && u.Host != "" {
		host = u.Host
	}
	return "halopsa-" + strings.ToLower(host) + "|" + strings.ToLower(strings.TrimSpace(tenant))
}

// calibrate calibrates the budget on RateLimitReading when it is due (the
// Limiter decides: at most once a minute across every function; the probe
// sends nothing). Without a recent reading the budget keeps its size and
// learns from 429s.
func (c *Client) calibrate(ctx context.Context) {
	if c.calib == nil {
		return
	}
	if _, err := c.RateLimitReading(ctx); err != nil {
		return // nothing to learn from: do not spend the period's claim
	}
	ran, err := c.calib.Calibrate(ctx, func(ctx context.Context) (ratelimit.Observation, error) {
		r, err := c.RateLimitReading(ctx)
		return ratelimit.Observation(r), err
	})
	if ran && err != nil && c.cfg.Logger != nil {
		c.cfg.Logger.WarnContext(ctx, "HaloPSA request budget calibration failed", "error", err.Error())
	}
}

// RateReading is what HaloPSA said of its own request limit in the last
// X-RateLimit-Limit and X-RateLimit-Remaining headers it sent: Limit
// requests per Window, Used of them counted. It has the fields, in order,
// of the request budget's ratelimit.Observation, so that the budget's
// Calibrator takes it by a plain conversion (calibrate).
//
// Halo does not say its window (§6.4 [U]: third parties report 450–700
// per 5 minutes, or 60 per minute); it is Config.RateWindow (default
// 5 minutes).
type RateReading struct {
	Limit  int
	Used   int
	Window time.Duration
}

// rateState is the last rate-limit headers seen.
type rateState struct {
	limit, remaining int
	seen             bool
	at               time.Time
}

// observe keeps the rate-limit headers of an answer (every answer that
// carries both, 429s included).
func (c *Client) observe(h http.Header) {
	limit, err1 := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Limit")))
	left, err2 := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	if err1 != nil || err2 != nil || limit <= 0 {
		return
	}
	c.mu.Lock()
	c.rate = rateState{limit: limit, remaining: max(left, 0), seen: true, at: c.cfg.Now()}
	c.mu.Unlock()
}

// RateLimitReading returns the last reading without sending a request
// (ratelimit.ObservationFromHeaders read the same headers).
// It is apperr.NotFound until an answer carried the headers, or when the
// last one is older than the window (a stale count would mislead the
// budget; without a reading it keeps its conservative default and learns
// from 429s).
func (c *Client) RateLimitReading(context.Context) (RateReading, error) {
	c.mu.Lock()
	r := c.rate
	c.mu.Unlock()
	if !r.seen || c.cfg.Now().Sub(r.at) > c.cfg.RateWindow {
		return RateReading{}, apperr.New(apperr.NotFound, "HaloPSA has sent no X-RateLimit headers lately")
	}
	return RateReading{Limit: r.limit, Used: max(0, r.limit-r.remaining), Window: c.cfg.RateWindow}, nil
}
