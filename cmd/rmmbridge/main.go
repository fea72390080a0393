// Command rmmbridge is the project's CLI: the local stack (dev), vendor
// sandboxes, API keys for a deployed stack, and imports with progress.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxes"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if err.Error() != "" {
			fmt.Fprintln(os.Stderr, "rmmbridge:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usage lists the commands; the sandboxes come from the sandbox registry.
var usage = `usage: rmmbridge <command> [flags]

commands:
  dev          run the whole stack locally: moto, an RMM and a PSA sandbox (-rmm ` + sandboxes.Choices(vendorspec.KindRMM) + `,
               -psa ` + sandboxes.Choices(vendorspec.KindPSA) + `), the HTTP API on 127.0.0.1:3000, queue pollers, a demo
               tenant with connections and an integration
  sandbox      serve one vendor sandbox: rmmbridge sandbox ` + sandboxes.Choices("") + ` --port N
  key create   create a tenant and an admin API key in a deployed stack's table
  import       start an import job on a running stack; --watch shows a progress bar and
               exits 0 (succeeded), 2 (partial) or 1 (failed)
  bench        end-to-end asset import benchmark through the local stack against the sandboxes
  invoke       sam local invoke without Docker: build one function's bootstrap and invoke it under
               AWS's runtime interface emulator against the local stack's moto (-fn api -event FILE)
  coldstart    each function's init under the emulator against a hello-world function's
               (median of -n cold starts each, interleaved); fails above -max-ratio
  help         this text

Run "rmmbridge <command> -h" for a command's flags.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "dev":
		return runDev(ctx, args[1:], getenv, stdout, stderr)
	case "sandbox":
		return runSandbox(ctx, args[1:], stdout, stderr)
	case "key":
		return runKey(ctx, args[1:], stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], getenv, stdout, stderr)
	case "invoke":
		return runInvoke(ctx, args[1:], getenv, stdout, stderr)
	case "coldstart":
		return runColdStart(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
