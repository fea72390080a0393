package autotask

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// The request budget (shared/ratelimit; Spec.Budget, Config.Budget):
//
//   - the budget key is the Autotask database: the zone plus the API
//     user's company; every connection of the same MSP shares it. Until
//     the client can name the database (ThresholdInformation does not
//     say it), the zone url plus the integration code is the closest key
//     the client has (BudgetKey);
//   - the budget's concurrency limit is per entity endpoint (EndpointOf),
//     3 in flight per integration code, ThresholdInformation included
//     and the zone lookup exempt;
//   - the budget calibrates on ThresholdInformation (ReadThreshold, at
//     most once a minute per client, single flight) when it is due (at
//     most once a minute across every function: the Limiter's claim),
//     through the budgeted client, and becomes Spec.Budget.Share of the
//     hourly threshold less what other integrations use.

// Threshold is ThresholdInformation as the budget's calibration reads it:
// Limit requests per Window for the whole database (every integration
// together), Used of them counted in the current window. Its fields are
// those of ratelimit.Observation, so a conversion adapts it.
type Threshold struct {
	Limit  int
	Used   int
	Window time.Duration
}

// ThresholdEvery is the least time between two ThresholdInformation reads
// of one client: the read itself counts against the threshold and takes
// one of the endpoint's three threads.
const ThresholdEvery = time.Minute

// thresholdReader is the single-flight, once-a-minute state of
// ReadThreshold.
type thresholdReader struct {
	mu    sync.Mutex
	at    time.Time
	last  Threshold
	err   error
	wait  chan struct{} // open while a read is in flight
	reads int64
}

// ReadThreshold returns the database's request threshold and usage. It
// sends GET ThresholdInformation at most once per ThresholdEvery: callers
// within the minute get the last answer (or its error), and callers during
// a read wait for that read instead of sending their own.
func (c *Client) ReadThreshold(ctx context.Context) (Threshold, error) {
	r := &c.threshold
	r.mu.Lock()
	for {
		if !r.at.IsZero() && c.cfg.Now().Sub(r.at) < ThresholdEvery {
			t, err := r.last, r.err
			r.mu.Unlock()
			return t, err
		}
		if r.wait == nil {
			break
		}
		ch := r.wait
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Threshold{}, apperr.Wrap(apperr.Unavailable, ctx.Err(), "Autotask threshold read did not finish in time")
		}
		r.mu.Lock()
	}
	ch := make(chan struct{})
	r.wait = ch
	r.reads++
	r.mu.Unlock()

	// The read itself must not start a calibration: its probe would wait
	// for this very read.
	t, err := c.readThreshold(context.WithValue(ctx, probeKey{}, true))

	r.mu.Lock()
	r.at, r.last, r.err, r.wait = c.cfg.Now(), t, err, nil
	r.mu.Unlock()
	close(ch)
	return t, err
}

// ThresholdReads is how many ThresholdInformation reads the client sent.
func (c *Client) ThresholdReads() int64 {
	c.threshold.mu.Lock()
	defer c.threshold.mu.Unlock()
	return c.threshold.reads
}

func (c *Client) readThreshold(ctx context.Context) (Threshold, error) {
	var out struct {
		ExternalRequestThreshold     int `json:"externalRequestThreshold"`
		RequestThresholdTimeframe    int `json:"requestThresholdTimeframe"`
		CurrentTimeframeRequestCount int `json:"currentTimeframeRequestCount"`
	}
	if err := c.get(ctx, "/V1.0/ThresholdInformation", "/V1.0/ThresholdInformation", &out); err != nil {
		return Threshold{}, fmt.Errorf("read Autotask ThresholdInformation: %w", err)
	}
	if out.ExternalRequestThreshold <= 0 || out.RequestThresholdTimeframe <= 0 {
		return Threshold{}, apperr.New(apperr.Vendor, "Autotask's ThresholdInformation reported no threshold")
	}
	return Threshold{Limit: out.ExternalRequestThreshold, Used: out.CurrentTimeframeRequestCount,
		Window: time.Duration(out.RequestThresholdTimeframe) * time.Minute}, nil
}

// EndpointOf names the entity endpoint of a request path (relative, or a
// nextPageUrl) for the budget's per-endpoint concurrency: the entity
// after /V1.0/, the child entity for child paths (Companies/{id}/Locations
// is CompanyLocations, Tickets/{id}/Notes is TicketNotes [U]); "" for the
// zone lookup, which the thread limit exempts.
func EndpointOf(path string) string {
	if i := strings.Index(strings.ToLower(path), "/v1.0/"); i >= 0 {
		path = path[i+len("/v1.0/"):]
	}
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case segs[0] == "" || strings.EqualFold(segs[0], "ZoneInformation"):
		return ""
	case len(segs) >= 3 && strings.EqualFold(segs[0], "Companies") && strings.EqualFold(segs[2], "Locations"):
		return "CompanyLocations"
	case len(segs) >= 3 && strings.EqualFold(segs[0], "Tickets") && strings.EqualFold(segs[2], "Notes"):
		return "TicketNotes"
	}
	return segs[0]
}

// BudgetKey names the budget this client's requests draw from: a hash of
// the zone's REST root and the integration code (after the zone lookup;
// "" before it), so the key stored in DynamoDB never shows the
// integration code, which is part of the credentials. See the note above
// on the database.
func (c *Client) BudgetKey() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api == nil {
		return ""
	}
	return budgetKey(c.api.BaseURL(), c.cfg.IntegrationCode)
}

// budgetKey is BudgetKey of the zone's REST root: the first 12 bytes of
// SHA-256 over the lower-cased root and the integration code, in hex.
func budgetKey(root, integrationCode string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimRight(root, "/")) + "\x00" + integrationCode))
	return hex.EncodeToString(sum[:12])
}

// probeKey marks the calibration probe's context: its own request does
// not try to calibrate again.
type probeKey struct{}

// calibrate calibrates the budget on ReadThreshold when it is due (the
// Limiter decides; a call that is not due returns at once). A failed
// calibration is logged, never the call's error.
func (c *Client) calibrate(ctx context.Context) {
	c.mu.Lock()
	cal := c.calib
	c.mu.Unlock()
	if cal == nil || ctx.Value(probeKey{}) != nil {
		return
	}
	ran, err := cal.Calibrate(ctx, func(ctx context.Context) (ratelimit.Observation, error) {
		t, err := c.ReadThreshold(ctx)
		return ratelimit.Observation(t), err
	})
	if ran && err != nil && c.cfg.Logger != nil {
		c.cfg.Logger.WarnContext(ctx, "Autotask request budget calibration failed", "error", err.Error())
	}
}
