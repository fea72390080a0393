// Package conns builds, for the functions that talk to vendors, the
// connection service (records in DynamoDB, credentials in Secrets Manager)
// and the opener of an integration's vendor clients. The authorizer does
// not import it, so it links no vendor client and no Secrets Manager.
package conns

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// Registry is the vendor client registry every function uses: its clients
// connect only to public addresses, plus loopback when allowLoopback
// (fnenv.AllowLoopbackEnv).
func Registry(allowLoopback bool) providers.Registry {
	return providers.Registry{AllowLoopback: allowLoopback}
}

// Service builds the connection service: DynamoDB for records, Secrets
// Manager (secrets named under secretPrefix) for credentials, the guarded
// vendor registry for tests, the system resolver for base URL checks.
func Service(st *dynamostore.Store, cfg aws.Config, secretPrefix string, allowLoopback bool) *connection.Service {
	return connection.NewService(
		dynamostore.NewConnections(st),
		Secrets(cfg, secretPrefix),
		Registry(allowLoopback),
		connection.Options{AllowLoopback: allowLoopback},
	)
}

// ReadTTL is how long the queue workers' openers reuse an integration or
// connection read (providers.Opener.ReadTTL): an edit reaches a warm
// worker within this time.
const ReadTTL = 15 * time.Second

// Opener opens integrations' vendor clients through svc, reusing them while
// their connections are unchanged; every client draws from its request
// budget kept in the table (Budgets).
func Opener(st *dynamostore.Store, svc *connection.Service, allowLoopback bool) *providers.Opener {
	return &providers.Opener{Conns: svc, Registry: Registry(allowLoopback), Budgets: Budgets(st)}
}

// Budgets are the vendors' request budgets kept in the table, one set per
// function instance: every client it opens for a budget shares the local
// state (reserved tokens, held leases, the cool-down it knows of).
func Budgets(st *dynamostore.Store) *ratelimit.Budgets {
	return ratelimit.NewBudgets(dynamostore.NewBudgets(st), ratelimit.Options{})
}
