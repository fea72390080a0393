package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/devtools/samtemplate"
)

// rateExpr is an EventBridge rate expression. EventBridge wants the
// singular unit for 1 and the plural otherwise.
var rateExpr = regexp.MustCompile(`^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$`)

// parseRate returns the period of "rate(N minute|minutes|hour|hours|day|days)".
// A cron expression is apperr NotImplemented; anything else Invalid.
func parseRate(expr string) (time.Duration, error) {
	m := rateExpr.FindStringSubmatch(expr)
	if m == nil {
		if len(expr) > 5 && expr[:5] == "cron(" {
			return 0, apperr.New(apperr.NotImplemented, "cron schedules are not run locally: %s", expr)
		}
		return 0, apperr.New(apperr.Invalid, "schedule %q is not rate(N unit)", expr)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 {
		return 0, apperr.New(apperr.Invalid, "schedule %q: the rate must be a positive whole number", expr)
	}
	unit, plural := m[2], m[2][len(m[2])-1] == 's'
	if (n == 1) == plural {
		return 0, apperr.New(apperr.Invalid, "schedule %q: EventBridge wants the singular unit for 1 and the plural otherwise", expr)
	}
	per := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	if plural {
		unit = unit[:len(unit)-1]
	}
	return time.Duration(n) * per[unit], nil
}

// ticker is one Schedule event: a function invoked every period, like an
// EventBridge rule targeting it.
type ticker struct {
	s      *Stack
	fn     *function
	event  string
	rule   string
	period time.Duration
}

// buildTickers returns a ticker per enabled Schedule event. A period
// override (Options.ScheduleEvery) applies to every event; without one a
// cron event is logged and left to Trigger.
func (s *Stack) buildTickers() ([]*ticker, error) {
	var out []*ticker
	for _, tf := range s.tmpl.Functions {
		for _, e := range tf.Events {
			if e.Schedule == nil || !e.Schedule.Enabled {
				continue
			}
			period := s.o.ScheduleEvery
			if period <= 0 {
				var err error
				period, err = parseRate(e.Schedule.Expression)
				if apperr.Is(err, apperr.NotImplemented) {
					s.log.Warn("schedule not run locally; use Trigger", "function", tf.LogicalID, "event", e.Name, "schedule", e.Schedule.Expression)
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("%s event %s: %w", tf.LogicalID, e.Name, err)
				}
			}
			out = append(out, &ticker{s: s, fn: s.funcs[tf.LogicalID], event: e.Name, rule: s.ruleName(tf.LogicalID, e.Name), period: period})
		}
	}
	return out, nil
}

// ruleName stands for the EventBridge rule SAM creates for a Schedule
// event (logical id <Function><Event>).
func (s *Stack) ruleName(functionID, event string) string {
	return s.o.StackName + "-" + functionID + event
}

// run fires every period until ctx ends; the first tick comes one period
// after the start, as a new rule's does. Each tick is its own invocation:
// a slow one does not hold back the next, as with EventBridge.
func (k *ticker) run(ctx context.Context) {
	t := time.NewTicker(k.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case at := <-t.C:
			k.s.pollers.Add(1)
			go func() {
				defer k.s.pollers.Done()
				_ = k.s.tick(k.fn, k.event, k.rule, at)
			}()
		}
	}
}

// scheduledEvent is what EventBridge sends a rule's target on a tick.
func (s *Stack) scheduledEvent(rule string, at time.Time) events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version:    "0",
		ID:         newRequestID(),
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  accountID,
		Time:       at.UTC().Truncate(time.Second),
		Region:     s.region,
		Resources:  []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", s.region, accountID, rule)},
		Detail:     json.RawMessage(`{}`),
	}
}

// tick invokes the function with a scheduled event and logs the
// invocation. EventBridge invokes asynchronously and Lambda retries a
// failed asynchronous invocation; locally the next tick is the retry.
func (s *Stack) tick(f *function, event, rule string, at time.Time) error {
	h := func(ctx context.Context, ev events.EventBridgeEvent) (struct{}, error) {
		return struct{}{}, f.h.Scheduled(ctx, ev)
	}
	res := invoke(s, f, 0, s.scheduledEvent(rule, at), h)
	logInvocation(s, f, "schedule", res, slog.String("event", event), slog.String("rule", rule))
	if res.outcome != outcomeOK {
		return fmt.Errorf("%s %s: %s: %w", f.id, event, res.outcome, res.err)
	}
	return nil
}

// Trigger invokes a function once with the event of its first Schedule
// event, as EventBridge does on a tick, and waits for the invocation (or
// ctx) to end: how tests and the CLI run scheduled work on demand. It
// returns the invocation's failure (a handler error, panic or timeout).
// An unknown function, or one without a Schedule event, is apperr
// NotFound. A disabled schedule can still be triggered.
func (s *Stack) Trigger(ctx context.Context, logicalID string) error {
	tf, ok := s.tmpl.Function(logicalID)
	if !ok {
		return apperr.New(apperr.NotFound, "no function %s in the template", logicalID)
	}
	var ev *samtemplate.Event
	for i := range tf.Events {
		if tf.Events[i].Schedule != nil {
			ev = &tf.Events[i]
			break
		}
	}
	if ev == nil {
		return apperr.New(apperr.NotFound, "function %s has no Schedule event", logicalID)
	}
	f := s.funcs[logicalID]
	done := make(chan error, 1)
	go func() { done <- s.tick(f, ev.Name, s.ruleName(logicalID, ev.Name), time.Now()) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("trigger %s: %w", logicalID, ctx.Err())
	}
}
