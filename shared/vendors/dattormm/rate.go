package dattormm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// BudgetKey names the request budget of the Datto account behind an API
// URL and key: Datto counts requests per account, so every connection
// with the same platform and API key shares one budget ("dattormm-" and a
// hash of the platform host and the key, which never shows the key).
func BudgetKey(baseURL, apiKey string) string {
	host := strings.TrimSuffix(strings.TrimRight(strings.TrimSpace(baseURL), "/"), "/api")
	if u, err := url.Parse(host); err == nil && u.Host != "" {
		host = strings.ToLower(u.Host)
	}
	sum := sha256.Sum256([]byte(host + "\x00" + strings.TrimSpace(apiKey)))
	return "dattormm-" + hex.EncodeToString(sum[:12])
}

// probeKey marks the context of the calibration probe, whose own request
// must not try to calibrate again.
type probeKey struct{}

// calibrate calibrates the budget on RequestRate when it is due (the
// Limiter decides: at most once per minute across every function; a call
// that is not due returns at once). A failed calibration is logged, never
// the call's error: the budget keeps its size, and Datto's own refusals
// still cool it down.
func (c *Client) calibrate(ctx context.Context) {
	if c.calib == nil || ctx.Value(probeKey{}) != nil {
		return
	}
	ran, err := c.calib.Calibrate(ctx, func(ctx context.Context) (ratelimit.Observation, error) {
		r, err := c.RequestRate(context.WithValue(ctx, probeKey{}, true))
		return ratelimit.Observation{Limit: r.Limit, Used: r.Used, Window: r.Window}, err
	})
	if ran && err != nil {
		c.logger.WarnContext(ctx, "Datto RMM request budget calibration failed", "error", err.Error())
	}
}

// RequestRate is Datto's own count of the account's requests in its
// rolling window (GET /v2/system/request_rate). Limit, Used and Window
// are the read quota, named as the shared budget's Observation
// (ratelimit.Observation{Limit, Used, Window}) so a calibration probe is
//
//	func(ctx context.Context) (ratelimit.Observation, error) {
//		r, err := client.RequestRate(ctx)
//		return ratelimit.Observation{Limit: r.Limit, Used: r.Used, Window: r.Window}, err
//	}
//
// The write quota is reported apart when Datto sends it (HasWrites; the
// fields are not in the 1.22.1 document [P]).
type RequestRate struct {
	Limit  int
	Used   int
	Window time.Duration
	// CutOff is the share of Limit past which Datto slows answers
	// (accountCutOffRatio, 0.9).
	CutOff float64
	// WriteLimit and WriteUsed are the write quota, when HasWrites.
	WriteLimit, WriteUsed int
	HasWrites             bool
}

// RequestRate reads Datto's request counters (one read request, counted
// by Datto like any other). A reply without a limit or a window is
// apperr.Vendor.
func (c *Client) RequestRate(ctx context.Context) (RequestRate, error) {
	var r apiRequestRate
	if err := c.get(ctx, "GET /v2/system/request_rate", "/v2/system/request_rate", nil, &r); err != nil {
		return RequestRate{}, fmt.Errorf("read the Datto RMM request rate: %w", err)
	}
	if r.AccountRateLimit <= 0 || r.SlidingTimeWindowSizeSeconds <= 0 {
		return RequestRate{}, apperr.New(apperr.Vendor, "Datto RMM reported no request limit (limit %d, window %d s)", r.AccountRateLimit, r.SlidingTimeWindowSizeSeconds)
	}
	out := RequestRate{
		Limit: int(r.AccountRateLimit), Used: int(max(0, r.AccountCount)),
		Window: time.Duration(r.SlidingTimeWindowSizeSeconds) * time.Second, CutOff: r.AccountCutOffRatio,
	}
	if r.AccountWriteRateLimit != nil && *r.AccountWriteRateLimit > 0 {
		out.HasWrites, out.WriteLimit = true, int(*r.AccountWriteRateLimit)
		if r.AccountWriteCount != nil {
			out.WriteUsed = int(max(0, *r.AccountWriteCount))
		}
	}
	return out, nil
}
