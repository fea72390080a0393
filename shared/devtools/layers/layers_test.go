package layers_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/devtools/apitest"
	"github.com/rmmbridge/rmmbridge/shared/devtools/rie"
)

const module = "github.com/rmmbridge/rmmbridge"

// mayLinkTheEdge are the packages under shared/ allowed to depend on AWS,
// the Lambda runtime or the vendor clients: adapters, the HTTP and SQS
// edges, the functions' wiring, the vendor registry and clients, and the
// local tooling. Every other package under shared/ — the domain (account,
// asset, alert, importjob, scheduler, connection, tenant) and what it
// shares (tenancy, lease, queuemsg, rmm, psa, apperr, limits, ...) — must
// not, and a new package is checked as domain until it is listed here.
var mayLinkTheEdge = []string{
	"shared/api",         // the management API's routes (HTTP edge)
	"shared/authorizer",  // the authorizer (HTTP edge)
	"shared/console",     // the browser console's static pages (HTTP edge)
	"shared/httpapi",     // API Gateway events ⇄ handlers
	"shared/sqsbatch",    // SQS events ⇄ queue messages
	"shared/lambdafn",    // the Lambda runtime contract
	"shared/lambdas/",    // each function's wiring
	"shared/dynamostore", // DynamoDB
	"shared/sqsqueue",    // SQS
	"shared/secretstore", // Secrets Manager
	"shared/cognito",     // the Cognito user pool
	"shared/sdkhttp",     // the AWS SDK's HTTP client (buffered bodies)
	"shared/providers",   // the vendor client registry
	"shared/vendors/",    // the vendor clients and their sandboxes
	"shared/devtools/",   // local tooling
}

// forbidden are the dependencies the domain must not have.
var forbidden = []string{
	module + "/shared/vendors/",
	module + "/shared/providers",
	"github.com/aws/aws-lambda-go",
	"github.com/aws/aws-sdk-go-v2",
	"github.com/aws/smithy-go",
}

// deps lists the module's packages matching patterns with their
// dependencies (go list -deps, non-test), keyed by import path.
func deps(t *testing.T, patterns ...string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}, patterns...)...)
	cmd.Dir = apitest.RepoRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func matching(list []string, prefixes []string) []string {
	var out []string
	for _, d := range list {
		for _, p := range prefixes {
			if d == strings.TrimSuffix(p, "/") || strings.HasPrefix(d, p) {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// TestDomainIsFreeOfTheEdgeAndTheVendors: no domain package depends on
// the vendor clients, the provider registry, the Lambda runtime or the AWS
// SDK, directly or through another package.
func TestDomainIsFreeOfTheEdgeAndTheVendors(t *testing.T) {
	all := deps(t, "./shared/...")
	var checked []string
	for pkg, ds := range all {
		rel := strings.TrimPrefix(pkg, module+"/")
		if len(matching([]string{rel}, mayLinkTheEdge)) > 0 {
			continue
		}
		checked = append(checked, rel)
		if bad := matching(ds, forbidden); len(bad) > 0 {
			sort.Strings(bad)
			t.Errorf("%s depends on %s (domain packages take plain messages and narrow client interfaces; the wiring in shared/lambdas binds them)",
				rel, strings.Join(bad, ", "))
		}
	}
	// The check must cover the domain, or it proves nothing.
	for _, want := range []string{"shared/account", "shared/asset", "shared/alert", "shared/importjob", "shared/scheduler",
		"shared/connection", "shared/tenant", "shared/tenancy", "shared/lease", "shared/queuemsg", "shared/user", "shared/idtoken"} {
		if !slices.Contains(checked, want) {
			t.Errorf("%s was not checked", want)
		}
	}
}

// TestEachFunctionLinksOnlyWhatItUses: every functions/<name> imports
// only its own wiring package, the authorizer links no vendor client, no
// provider registry, no SQS, no Secrets Manager and no Cognito SDK (it
// verifies ID tokens against the pool's JWKS with shared/idtoken), no
// function links the SDK's default config loader and its credential chain,
// only users links the Cognito SDK, and the console no AWS service client.
func TestEachFunctionLinksOnlyWhatItUses(t *testing.T) {
	fns := map[string]string{
		"api": "apifn", "users": "usersfn", "authorizer": "authorizerfn", "alert-webhook": "alertwebhookfn", "alert-worker": "alertworkerfn",
		"import-dispatch": "importdispatchfn", "asset-refresh": "assetrefreshfn", "scheduler": "schedulerfn", "console": "consolefn",
	}
	all := deps(t, "./functions/...")
	if len(all) != len(fns) {
		t.Errorf("functions/ holds %d commands, the check knows %d: add the new one here", len(all), len(fns))
	}
	for fn, own := range fns {
		ds, ok := all[module+"/functions/"+fn]
		if !ok {
			t.Errorf("functions/%s not found", fn)
			continue
		}
		for _, w := range matching(ds, []string{module + "/shared/lambdas/"}) {
			if strings.HasSuffix(w, "fn") && w != module+"/shared/lambdas/"+own {
				t.Errorf("functions/%s links %s, another function's wiring", fn, w)
			}
		}
		// Cold start: a function's AWS config comes from the Lambda
		// environment (lambdafn.RuntimeConfig), not the SDK's default
		// loader, whose credential chain (SSO, STS, IMDS, shared files)
		// no function uses; and the console calls no AWS service.
		if bad := matching(ds, []string{"github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/service/sso",
			"github.com/aws/aws-sdk-go-v2/service/sts", "github.com/aws/aws-sdk-go-v2/feature/ec2/imds"}); len(bad) > 0 {
			sort.Strings(bad)
			t.Errorf("functions/%s links %s (cold start: use lambdafn.RuntimeConfig)", fn, strings.Join(bad, ", "))
		}
		if fn == "console" {
			if bad := matching(ds, []string{"github.com/aws/aws-sdk-go-v2/service/"}); len(bad) > 0 {
				sort.Strings(bad)
				t.Errorf("the console links %s", strings.Join(bad, ", "))
			}
		}
		// Cold start and least privilege: the Cognito SDK (its package
		// init alone is ~0.23 ms, 85 KB) and the pool's adapter are the
		// users function's only; it alone holds the pool's Admin* actions.
		if fn != "users" {
			if bad := matching(ds, []string{module + "/shared/cognito", "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"}); len(bad) > 0 {
				sort.Strings(bad)
				t.Errorf("functions/%s links %s: only users links Cognito", fn, strings.Join(bad, ", "))
			}
		} else if got := matching(ds, []string{"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"}); len(got) == 0 {
			t.Error("functions/users links no Cognito SDK: the rule above checks nothing")
		}
		if fn == "authorizer" {
			bad := matching(ds, []string{module + "/shared/vendors/", module + "/shared/providers", module + "/shared/sqsqueue",
				module + "/shared/secretstore", module + "/shared/cognito", "github.com/aws/aws-sdk-go-v2/service/sqs",
				"github.com/aws/aws-sdk-go-v2/service/secretsmanager", "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"})
			if len(bad) > 0 {
				sort.Strings(bad)
				t.Errorf("the authorizer links %s", strings.Join(bad, ", "))
			}
		}
	}
}

// maxInitBytes bounds what one of the module's packages may allocate in
// its initialisation (package-level variables and init functions), which
// every cold start pays before the handler runs: sentinel errors and tiny
// values fit; a regexp compiled at package level, a lookup map of some
// size, a parsed template or embedded file, a catalog built at start do
// not — compile or build them on first use (sync.OnceValue).
const maxInitBytes = 4 << 10

// maxTotalInitBytes bounds what all of a function's packages — ours, the
// standard library's and the AWS SDK's — allocate at init together. It is
// the AWS SDK that spends it: with dynamodb v1.68.0, sqs v1.48.1,
// secretsmanager v1.49.0 and dynamodbstreams v1.41.0 (go.mod) the largest
// functions, api and users, allocate ~400 KiB (~3,100 allocs; api linked
// Cognito too before users had its own function: ~435 KiB); the releases that
// enabled "schema-based (de)serialization" (dynamodb v1.69.0, sqs v1.49.0,
// secretsmanager v1.50.0, dynamodbstreams v1.42.0) build every service's
// schema as package-level vars and take it to ~1.3 MiB (~8,400 allocs),
// which raised the SDK functions' cold start by ~0.2× hello's (api 1.47 →
// 1.67, mean of four runs; issue 11's limit is 1.5×).
const maxTotalInitBytes = 512 << 10

// TestFunctionsDoLittleAtInit builds every function's bootstrap the way
// the deploy does and runs it with GODEBUG=inittrace=1 (it stops in main,
// lacking the Lambda environment) to read what each package's
// initialisation allocated: no package of the module may allocate more
// than maxInitBytes. Allocations, unlike times, do not depend on the
// machine's load.
func TestFunctionsDoLittleAtInit(t *testing.T) {
	root := apitest.RepoRoot(t)
	var pkgs []string
	for _, f := range rie.Functions {
		pkgs = append(pkgs, "./functions/"+f.Dir)
	}
	bins, err := rie.Build(context.Background(), root, t.TempDir(), pkgs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rie.Functions {
		t.Run(f.Dir, func(t *testing.T) {
			cmd := exec.Command(bins["./functions/"+f.Dir])
			cmd.Env = []string{"GODEBUG=inittrace=1"}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			_ = cmd.Run() // exits in main: no Lambda environment
			inits, total := 0, 0
			type pkgInit struct {
				pkg   string
				bytes int
			}
			var heaviest []pkgInit
			for _, line := range strings.Split(stderr.String(), "\n") {
				// init <package> @<t> ms, <t> ms clock, <n> bytes, <n> allocs
				fs := strings.Fields(line)
				if len(fs) < 11 || fs[0] != "init" || fs[8] != "bytes," {
					continue
				}
				inits++
				n, err := strconv.Atoi(fs[7])
				if err != nil {
					t.Fatalf("inittrace line %q: %v", line, err)
				}
				if strings.HasPrefix(fs[1], module+"/") && n > maxInitBytes {
					t.Errorf("%s allocates %d bytes (%s allocs) at init, over %d: do that work on first use", fs[1], n, fs[9], maxInitBytes)
				}
				if strings.HasPrefix(fs[1], "github.com/aws/aws-sdk-go-v2/service/") && strings.HasSuffix(fs[1], "/schemas") {
					t.Errorf("functions/%s links %s (%d bytes, %s allocs at init): an AWS SDK service module was upgraded past its "+
						"schema-based (de)serialization release; go.mod pins the releases before it for cold start (README, Cold start)", f.Dir, fs[1], n, fs[9])
				}
				total += n
				heaviest = append(heaviest, pkgInit{fs[1], n})
			}
			if total > maxTotalInitBytes {
				sort.Slice(heaviest, func(i, j int) bool { return heaviest[i].bytes > heaviest[j].bytes })
				var top []string
				for _, p := range heaviest[:min(5, len(heaviest))] {
					top = append(top, fmt.Sprintf("%s %d", p.pkg, p.bytes))
				}
				t.Errorf("functions/%s allocates %d bytes at init in all, over %d (heaviest: %s): was an AWS SDK module upgraded? "+
					"The service modules' schema-based (de)serialization releases tripled it and put cold start over 1.5× hello's; "+
					"go.mod pins the releases before it (README, Cold start)", f.Dir, total, maxTotalInitBytes, strings.Join(top, ", "))
			}
			if inits < 50 {
				t.Fatalf("read %d init lines from the bootstrap; want its inittrace:\n%s", inits, stderr.String())
			}
		})
	}
}
