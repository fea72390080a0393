package dattormm

import (
	"context"
	"fmt"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

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
