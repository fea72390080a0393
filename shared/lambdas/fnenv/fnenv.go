// Package fnenv is what every function's wiring shares: the environment
// switches that template.yaml does not set, and the table store built from
// TABLE_NAME. It links nothing but DynamoDB.
package fnenv

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
)

// AllowLoopbackEnv is a local-only switch (never in template.yaml) that lets
// connections point at the sandboxes on 127.0.0.1 over http. Every function
// that opens vendor clients reads it: it decides both what the connection
// service's base URL check accepts and what the vendor clients' guarded
// dialer connects to (loopback only; private, link-local and the other
// non-public addresses stay refused).
const AllowLoopbackEnv = "RMMBRIDGE_ALLOW_LOOPBACK_VENDORS"

// DevMailboxEnv is a local-only switch (never in template.yaml): a file
// where the API function puts the invitations of new users, with their
// temporary password, instead of having the user pool mail them. `make
// dev` prints them; the end-to-end tests read them.
const DevMailboxEnv = "RMMBRIDGE_DEV_MAILBOX"

// ImportStallAfterEnv optionally sets, as a Go duration, how long an
// import job may go without progress before a GET or the scheduler
// reconciles it from its item records (default
// importjob.DefaultStallAfter); the local end-to-end tests shorten it.
const ImportStallAfterEnv = "IMPORT_STALL_AFTER"

// Table returns the store over the function's table: one DynamoDB client
// for the whole function, built on its first request (not at start).
func Table(cfg aws.Config, table string) *dynamostore.Store {
	return dynamostore.New(newLazyDynamoDB(cfg), table)
}
