package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// runSandbox serves one vendor sandbox on loopback until Ctrl-C.
func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "ninjaone" && args[0] != "connectwise") {
		return fmt.Errorf("usage: rmmbridge sandbox ninjaone|connectwise [--port N] [--seed N] [--orgs N] [--devices N]")
	}
	vendor := args[0]
	fs := flag.NewFlagSet("sandbox "+vendor, flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 8081, "port on 127.0.0.1")
	nopt := ninjasandbox.Options{ClientID: devstack.NinjaClientID, ClientSecret: devstack.NinjaClientSecret}
	ninjasandbox.RegisterFlags(fs, &nopt)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	nopt.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
	addr := fmt.Sprintf("127.0.0.1:%d", *port)
	if vendor == "ninjaone" {
		srv := ninjasandbox.New(nopt)
		fmt.Fprintf(stdout, "NinjaOne sandbox on http://%s (client id %s, secret %s; %d organizations, %d devices)\n",
			addr, nopt.ClientID, nopt.ClientSecret, len(srv.Orgs()), len(srv.Devices()))
		return srv.Serve(ctx, addr)
	}
	// The ConnectWise sandbox relates its companies to the NinjaOne
	// sandbox's organization names for the same seed.
	names := ninjasandbox.OrganizationNames(nopt.Seed, nopt.Orgs)
	copt := cwsandbox.Options{Seed: nopt.Seed, Orgs: names, CompanyID: devstack.CWCompanyID, PublicKey: devstack.CWPublicKey,
		PrivateKey: devstack.CWPrivateKey, ClientID: devstack.CWClientID}
	fmt.Fprintf(stdout, "ConnectWise sandbox on http://%s%s (company %s, public %s, private %s, clientId %s)\n",
		addr, cwsandbox.BasePath, copt.CompanyID, copt.PublicKey, copt.PrivateKey, copt.ClientID)
	return cwsandbox.Run(ctx, copt, addr)
}
