package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	atsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/autotask/sandbox"
	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// The budget benchmark's targets (issue 12).
const (
	budgetWindow        = time.Minute
	targetBudgetUse     = 0.90
	targetAlertP99      = 5 * time.Second
	targetPerEndpoint   = 3
	alertTicketDeadline = 60 * time.Second // an alert without a ticket by then counts as missed
)

// sentAlert is one alert webhook the benchmark sent during the import.
type sentAlert struct {
	series   string
	device   int
	org      string
	accepted time.Time // the webhook's 2xx answer
	err      error
}

// runBudget is `rmmbridge bench --budget N`: an asset import into the
// Autotask sandbox under a request budget of N a minute, with NinjaOne
// alert webhooks arriving during it, measured on the sandbox's own request
// log (issue 12).
//
// The budget is Autotask's default one, calibrated: the sandbox's database
// threshold is set to 120·N requests an hour, so the connection's default
// budget (half of the threshold ThresholdInformation reports, per minute)
// is N, and the calibration's reads of ThresholdInformation are in the
// measured traffic. No requestsPerMinute is set on the connection.
func (b *bench) runBudget(ctx context.Context) error {
	at, ok := sandboxspec.ServerOf[*atsandbox.Server](b.env.PSA)
	if !ok {
		return fmt.Errorf("--budget measures the Autotask sandbox: run it with --psa autotask")
	}
	ninja := b.env.Ninja()
	if ninja == nil {
		return fmt.Errorf("--budget sends NinjaOne alert webhooks: run it with --rmm ninjaone")
	}
	budget := b.o.budget
	threshold := 2 * 60 * budget
	at.SetThreshold(threshold)
	fmt.Fprintf(b.w, "\nbudget: %d requests/min, Autotask's default budget calibrated on ThresholdInformation (the sandbox's threshold set to %d requests/hour, half of it per minute = %d; no requestsPerMinute on the connection); at most %d in flight per entity\n",
		budget, threshold, budget, targetPerEndpoint)
	fmt.Fprintf(b.w, "alerts: one NinjaOne webhook (Authorization: Bearer <webhook secret>, as NinjaOne sends it) every %s for a device of an organization already mapped, from the import's start to its end\n", b.o.alertEvery)

	targets := &targetChecks{w: b.w}
	check := targets.check

	logStart := len(at.Requests())
	seededCIs := len(b.env.PSA.Assets())
	began := time.Now()
	base := "/v1/integrations/" + b.env.IntegrationID + "/imports"
	var q struct{ ID string }
	fmt.Fprintf(b.w, "\nimport of %d devices\n", len(b.env.RMM.Data().Devices))
	if err := b.api.do(ctx, http.MethodPost, base, map[string]any{"kind": "assets", "createMissingAccounts": true}, &q); err != nil {
		return err
	}
	actx, stopAlerts := context.WithCancel(ctx)
	var (
		wg     sync.WaitGroup
		alerts []sentAlert
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		alerts = b.sendAlerts(actx, ninja)
	}()
	job, stalled, err := b.watchBudgetImport(ctx, base+"/"+q.ID)
	stopAlerts()
	wg.Wait()
	if err != nil {
		return err
	}
	ended := time.Now()
	if stalled {
		fmt.Fprintf(b.w, "  STALLED: no device done for %s at %d/%d; measuring what was done (a job that never ends is a failure of its own)\n",
			b.o.stall, job.Counts.done(), job.Counts.Total)
	}

	// Wait for the last alerts' tickets.
	tickets, err := b.alertTickets(ctx, at, alerts)
	if err != nil {
		return err
	}
	reqs := at.Requests()[logStart:]

	// The sandbox's record: every request but the zone lookups (exempt
	// from Autotask's threshold and from the budget), at its arrival.
	var counted []time.Time
	var first, lastCreate time.Time
	byKind := map[string]int{}
	refused := map[int]int{}
	endpoints := map[string]bool{}
	for _, r := range reqs {
		if strings.Contains(strings.ToLower(r.Path), "zoneinformation") {
			continue
		}
		counted = append(counted, r.Start)
		if first.IsZero() || r.Start.Before(first) {
			first = r.Start
		}
		segs := strings.Split(strings.Trim(r.Path, "/"), "/")
		ep := ""
		if len(segs) > 1 {
			ep = segs[1]
			endpoints[ep] = true
		}
		kind := r.Method + " " + ep
		if strings.HasSuffix(strings.ToLower(r.Path), "/query") {
			kind += "/query"
		}
		byKind[kind]++
		if r.Status == http.StatusTooManyRequests || r.Status >= 500 {
			refused[r.Status]++
		}
		if r.Method == http.MethodPost && strings.EqualFold(ep, "ConfigurationItems") && r.Status == http.StatusOK && r.Start.After(lastCreate) {
			lastCreate = r.Start
		}
	}
	win := slidingWindow(counted, budgetWindow, budget)
	fmt.Fprintf(b.w, "  wall time            %s (%s)\n", ended.Sub(began).Round(time.Millisecond), job.Counts)
	fmt.Fprintf(b.w, "  Autotask requests    %d (%s)\n", len(counted), kindsString(byKind))

	fmt.Fprintf(b.w, "\nbudget (issue 12), measured on the Autotask sandbox's request log            value   target\n")
	fmt.Fprintf(b.w, "  requests in the busiest 60 s window                               %7d   ≤ %d  (from %s after the import started)\n",
		win.Max, budget, win.MaxAt.Sub(began).Round(time.Second))
	fmt.Fprintf(b.w, "  requests that arrived with > %d in the 60 s ending at them       %7d   0\n", budget, win.Over)
	// Budget use: the steady part of the import, from one window after
	// its first request (the ramp-up: jobs being planned, the bucket's
	// burst, the first calibration) to its last CI create (the tail after
	// it is the job's bookkeeping, not budget-bound).
	from, to := first.Add(budgetWindow), lastCreate
	use, n, useOK := budgetUse(counted, from, to, budget, budgetWindow)
	if useOK {
		fmt.Fprintf(b.w, "  budget used, steady import                                       %6.1f %%   ≥ %.0f %%  (%d requests in %s = %.0f/min, from the first request + 60 s to the last CI create)\n",
			100*use, 100*targetBudgetUse, n, to.Sub(from).Round(time.Second), float64(n)/to.Sub(from).Minutes())
	} else {
		fmt.Fprintf(b.w, "  budget used, steady import                                            –   ≥ %.0f %%  (the import's creates ended within its first 60 s: too small to measure; use more devices)\n", 100*targetBudgetUse)
	}
	eps := make([]string, 0, len(endpoints))
	for ep := range endpoints {
		eps = append(eps, ep)
	}
	sort.Strings(eps)
	maxConc, worst := 0, ""
	var concParts []string
	for _, ep := range eps {
		c := at.MaxConcurrent(ep)
		concParts = append(concParts, fmt.Sprintf("%s %d", ep, c))
		if c > maxConc {
			maxConc, worst = c, ep
		}
	}
	fmt.Fprintf(b.w, "  most requests in flight on one endpoint                           %7d   ≤ %d  (%s)\n", maxConc, targetPerEndpoint, strings.Join(concParts, ", "))
	fmt.Fprintf(b.w, "  refused by the sandbox (429 threshold/thread limit, 5xx)          %7d   0  (%v)\n", sum(refused), refused)

	type slowAlert struct {
		lat time.Duration
		at  time.Duration // after the import started
	}
	var lat []time.Duration
	var slow []slowAlert
	missed, failedSends := 0, 0
	for _, a := range alerts {
		if a.err != nil {
			if failedSends == 0 {
				fmt.Fprintf(b.w, "  first refused webhook: %v\n", a.err)
			}
			failedSends++
			continue
		}
		created, ok := tickets[a.series]
		if !ok {
			missed++
			continue
		}
		l := max(created.Sub(a.accepted), 0)
		lat = append(lat, l)
		slow = append(slow, slowAlert{l, a.accepted.Sub(began)})
	}
	sort.Slice(slow, func(i, j int) bool { return slow[i].lat > slow[j].lat })
	p50, p99, pmax := percentile(lat, 50), percentile(lat, 99), percentile(lat, 100)
	fmt.Fprintf(b.w, "  alert → ticket p99 (webhook accepted → ticket's createDate)        %6.2fs   < %s  (%d alerts, %d tickets; p50 %.2fs, max %.2fs; %d without a ticket after %s, %d webhooks refused)\n",
		p99.Seconds(), targetAlertP99, len(alerts), len(lat), p50.Seconds(), pmax.Seconds(), missed, alertTicketDeadline, failedSends)
	if len(slow) > 0 {
		var parts []string
		for _, a := range slow[:min(3, len(slow))] {
			parts = append(parts, fmt.Sprintf("%.2fs at %s", a.lat.Seconds(), a.at.Round(time.Second)))
		}
		fmt.Fprintf(b.w, "  slowest alerts (latency at time since the import started): %s\n", strings.Join(parts, ", "))
	}

	modes, err := b.mappingModes(ctx)
	if err != nil {
		return err
	}
	dupCIs := duplicateRefs(b.env.PSA.Assets(), func(a sandboxspec.Asset) string { return a.ExternalRef })
	dupCos := duplicateRefs(b.env.PSA.Accounts(), func(a sandboxspec.Account) string { return a.ExternalRef })
	_, missingCIs := b.duplicates(modes)
	fmt.Fprintf(b.w, "  device references on more than one CI                             %7d   0  (%d CIs created; %d synced devices without one)\n", dupCIs, len(b.env.PSA.Assets())-seededCIs, missingCIs)
	fmt.Fprintf(b.w, "  organization references on more than one company                 %7d   0  (%d linked, %d created, %d in review)\n",
		dupCos, countMode(modes, "linked"), countMode(modes, "created"), len(b.env.RMM.Data().Orgs)-len(modes))
	if missingCIs > 0 {
		fmt.Fprintf(b.w, "  devices of mapped organizations without a CI: %s\n", b.missingDevices(modes, alerts, 20))
	}
	fmt.Fprintln(b.w)

	check(!stalled && (job.Status == "succeeded" || job.Counts.Review > 0 && job.Counts.Failed == 0), "job %s (%s)", job.Status, job.Counts)
	check(win.Over == 0 && win.Max <= budget, "requests in any 60 s window ≤ %d: busiest %d, %d requests over", budget, win.Max, win.Over)
	if useOK {
		check(use >= targetBudgetUse, "budget used during the import ≥ %.0f %%: %.1f %%", 100*targetBudgetUse, 100*use)
	} else {
		check(false, "budget used during the import ≥ %.0f %%: not measurable (the creates ended within the first 60 s)", 100*targetBudgetUse)
	}
	check(maxConc <= targetPerEndpoint && sum(refused) == 0, "concurrent requests per endpoint ≤ %d: %d (%s), %d refused", targetPerEndpoint, maxConc, worst, sum(refused))
	check(len(alerts) > 0 && missed == 0 && failedSends == 0 && p99 < targetAlertP99, "alert → ticket p99 < %s: %.2fs over %d alerts (%d missed, %d refused)", targetAlertP99, p99.Seconds(), len(alerts), missed, failedSends)
	check(dupCIs == 0 && dupCos == 0 && missingCIs == 0, "no duplicate CI or company: %d CIs, %d companies duplicated; %d devices missing", dupCIs, dupCos, missingCIs)
	check(b.accountDuplicates(modes) == 0, "each created organization has exactly one company with its reference, linked and review ones none: %d off", b.accountDuplicates(modes))
	if err := targets.err(); err != nil {
		return err
	}
	return nil
}

// watchBudgetImport follows the job until it ends, printing its progress
// every 15 s; stalled is true when no device was done for --stall (the
// job is then left running and the run measured as it stands).
func (b *bench) watchBudgetImport(ctx context.Context, path string) (j importJobView, stalled bool, err error) {
	start, logged, moved := time.Now(), time.Now(), time.Now()
	done := -1
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := b.api.do(ctx, http.MethodGet, path, nil, &j); err != nil {
			return j, false, fmt.Errorf("read import: %w", err)
		}
		if n := j.Counts.done(); n != done {
			done, moved = n, time.Now()
		}
		if time.Since(logged) >= 15*time.Second {
			logged = time.Now()
			fmt.Fprintf(b.w, "  %6s  %d/%d %s · %s\n", time.Since(start).Round(time.Second), done, j.Counts.Total, j.Status, j.Counts)
		}
		switch {
		case isFinal(j.Status):
			return j, false, nil
		case b.o.stall > 0 && time.Since(moved) >= b.o.stall:
			return j, true, nil
		}
		select {
		case <-ctx.Done():
			return j, false, fmt.Errorf("stopped watching import %s: %w", j.ID, ctx.Err())
		case <-t.C:
		}
	}
}

// sendAlerts sends a NinjaOne trigger webhook every alertEvery until ctx
// ends, each for a device of an organization mapped by then (the mappings
// are re-read every 5 s; none is sent before the first is mapped), and
// returns what it sent.
func (b *bench) sendAlerts(ctx context.Context, ninja *ninjasandbox.Server) []sentAlert {
	hook := b.env.Stack.APIURL() + "/v1/webhooks/" + b.env.IntegrationID + "/rmm"
	hdr := map[string]string{"Authorization": "Bearer " + b.env.WebhookSecret}
	devicesOf := map[string][]int{}
	for _, d := range b.env.RMM.Data().Devices {
		if id, err := strconv.Atoi(d.ID); err == nil {
			devicesOf[d.OrgID] = append(devicesOf[d.OrgID], id)
		}
	}
	var (
		out    []sentAlert
		mapped []string
		readAt time.Time
		sent   int
		tick   = time.NewTicker(b.o.alertEvery)
	)
	defer tick.Stop()
	// Each call gets its own deadline: ctx ends with the import, and a
	// webhook sent just before must still be delivered.
	call := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	}
	for {
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
		if time.Since(readAt) >= 5*time.Second {
			mctx, cancel := call()
			modes, err := b.mappingModes(mctx)
			cancel()
			if err == nil {
				mapped = mapped[:0]
				for org := range modes {
					if len(devicesOf[org]) > 0 {
						mapped = append(mapped, org)
					}
				}
				sort.Strings(mapped)
				readAt = time.Now()
			}
		}
		if len(mapped) == 0 {
			continue
		}
		org := mapped[sent%len(mapped)]
		devs := devicesOf[org]
		dev := devs[(sent/len(mapped))%len(devs)]
		sent++
		a := sentAlert{device: dev, org: org}
		act, err := ninja.ConditionActivity(dev, true, "", sent)
		if err == nil {
			a.series = act.SeriesUID
			wctx, cancel := call()
			err = ninja.EmitWebhook(wctx, hook, hdr, act)
			cancel()
		}
		a.accepted, a.err = time.Now(), err
		out = append(out, a)
	}
}

// alertTickets waits (up to alertTicketDeadline after the last alert) for
// every sent alert's ticket and returns each series' ticket creation time
// as the Autotask sandbox recorded it (the ticket's createDate), read
// through the alert records (series → ticket id).
func (b *bench) alertTickets(ctx context.Context, at *atsandbox.Server, alerts []sentAlert) (map[string]time.Time, error) {
	want := 0
	var last time.Time
	for _, a := range alerts {
		if a.err == nil {
			want++
			last = a.accepted
		}
	}
	out := map[string]time.Time{}
	for {
		ticketOf, err := b.alertTicketIDs(ctx)
		if err != nil {
			return nil, err
		}
		created := map[int]time.Time{}
		for _, t := range at.Tickets() {
			created[t.ID] = t.Created
		}
		for _, a := range alerts {
			id, err := strconv.Atoi(ticketOf[a.series])
			if a.err != nil || err != nil {
				continue
			}
			if c, ok := created[id]; ok && !c.IsZero() {
				out[a.series] = c
			}
		}
		if len(out) >= want || time.Since(last) > alertTicketDeadline {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// alertTicketIDs reads every alert series' ticket id from the API.
func (b *bench) alertTicketIDs(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	type alert struct {
		SeriesID string `json:"seriesId"`
		TicketID string `json:"ticketId"`
	}
	err := listAll(ctx, b.api, "/v1/integrations/"+b.env.IntegrationID+"/alerts", "alerts", func(a alert) {
		out[a.SeriesID] = a.TicketID
	})
	return out, err
}

// missingDevices lists up to n devices of mapped organizations with no CI
// carrying their reference, each marked when an alert was sent for it.
func (b *bench) missingDevices(modes map[string]string, alerts []sentAlert, n int) string {
	has := map[string]bool{}
	for _, a := range b.env.PSA.Assets() {
		has[a.ExternalRef] = true
	}
	alerted := map[string]bool{}
	for _, a := range alerts {
		alerted[strconv.Itoa(a.device)] = true
	}
	var out []string
	for _, d := range b.env.RMM.Data().Devices {
		if modes[d.OrgID] == "" || has[d.ID] {
			continue
		}
		if len(out) == n {
			out = append(out, "…")
			break
		}
		s := d.ID + " (org " + d.OrgID
		if alerted[d.ID] {
			s += ", alerted"
		}
		out = append(out, s+")")
	}
	return strings.Join(out, ", ")
}

// duplicateRefs counts the references carried by more than one record.
func duplicateRefs[T any](recs []T, ref func(T) string) int {
	by := map[string]int{}
	for _, r := range recs {
		if k := ref(r); k != "" {
			by[k]++
		}
	}
	n := 0
	for _, c := range by {
		if c > 1 {
			n++
		}
	}
	return n
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// kindsString lists request kinds, most frequent first.
func kindsString(m map[string]int) string {
	ops := make(map[string]int, len(m))
	for k, v := range m {
		ops[k] = v
	}
	return opsString(ops)
}
