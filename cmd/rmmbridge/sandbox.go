package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxes"
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// sandboxUsage is `rmmbridge sandbox`'s usage line.
func sandboxUsage() string {
	return "usage: rmmbridge sandbox " + sandboxes.Choices("") +
		" [--port N] [--seed N] [--orgs N] [--devices N] [--rmm NAME] [--latency D] [--rate-limit N] [--fail-rate X] [--timeout-rate X]"
}

// runSandbox serves one vendor sandbox, from the sandbox registry, on
// loopback until Ctrl-C. A PSA sandbox relates its data to an RMM
// sandbox's (--rmm) for the same seed, as the dev stack does.
func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("%s", sandboxUsage())
	}
	spec, ok := sandboxes.Get(args[0], "")
	if !ok {
		return fmt.Errorf("no sandbox %q; %s", args[0], sandboxUsage())
	}
	fs := flag.NewFlagSet("sandbox "+spec.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", spec.DefaultPort, "port on 127.0.0.1")
	o := sandboxspec.Options{}
	fs.Int64Var(&o.Seed, "seed", 1, "data seed")
	fs.IntVar(&o.Orgs, "orgs", 30, "RMM organizations (a PSA sandbox relates its accounts to them)")
	fs.IntVar(&o.Devices, "devices", 1200, "RMM devices (a PSA sandbox holds assets for some)")
	rmmName := fs.String("rmm", "ninjaone", "for a PSA sandbox: the RMM sandbox whose data it relates to ("+sandboxes.Choices(vendorspec.KindRMM)+")")
	fs.DurationVar(&o.Faults.Latency, "latency", 0, "added latency per request")
	fs.Float64Var(&o.Faults.RateLimit, "rate-limit", 0, "requests per second before 429 (0: unlimited)")
	fs.Float64Var(&o.Faults.FailRate5xx, "fail-rate", 0, "share of requests answered 5xx")
	fs.Float64Var(&o.Faults.TimeoutRate, "timeout-rate", 0, "share of requests that hang")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	o.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
	var sb sandboxspec.Sandbox
	detail := ""
	if spec.Kind == vendorspec.KindRMM {
		r := spec.NewRMM(o)
		d := r.Data()
		sb, detail = r, fmt.Sprintf("; %d organizations, %d devices", len(d.Orgs), len(d.Devices))
	} else {
		rspec, ok := sandboxes.Get(*rmmName, vendorspec.KindRMM)
		if !ok {
			return fmt.Errorf("--rmm %s: no such RMM sandbox (choose one of %s)", *rmmName, sandboxes.Choices(vendorspec.KindRMM))
		}
		// The RMM sandbox is built, not started: only its data is read.
		data := rspec.NewRMM(sandboxspec.Options{Seed: o.Seed, Orgs: o.Orgs, Devices: o.Devices}).Data()
		o.Related = &data
		sb, detail = spec.NewPSA(o), fmt.Sprintf("; accounts related to the %s sandbox's %d organizations", rspec.DisplayName, len(data.Orgs))
	}
	url, err := sb.Start(fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		return fmt.Errorf("start the %s sandbox: %w", spec.DisplayName, err)
	}
	fmt.Fprintf(stdout, "%s sandbox on %s%s (credentials %s%s)\n", spec.DisplayName, url, spec.BasePath, credentialText(spec.Credentials), detail)
	<-ctx.Done()
	return sb.Close()
}

// credentialText lists credentials as name=value, sorted (demo values).
func credentialText(c map[string]string) string {
	parts := make([]string, 0, len(c))
	for k, v := range c {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
