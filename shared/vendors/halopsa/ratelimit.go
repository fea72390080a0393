package halopsa

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// RateReading is what HaloPSA said of its own request limit in the last
// X-RateLimit-Limit and X-RateLimit-Remaining headers it sent: Limit
// requests per Window, Used of them counted. It has the fields, in order,
// of the request budget's ratelimit.Observation, so that the budget's
// Calibrator takes it by a plain conversion:
//
//	lim.Calibrate(ctx, func(ctx context.Context) (ratelimit.Observation, error) {
//		r, err := client.RateLimitReading(ctx)
//		return ratelimit.Observation(r), err
//	})
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

// RateLimitReading returns the last reading without sending a request.
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
