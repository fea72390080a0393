package connection_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/secretstore"
	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// newTable creates the project's table layout in moto.
func newTable(t *testing.T, cfg aws.Config) *dynamostore.Store {
	t.Helper()
	client := dynamodb.NewFromConfig(cfg)
	table := testtable.Create(t, client, "connection")
	return dynamostore.New(client, table)
}

// writeFault says how the record writes of a flakyStore fail.
type writeFault int

const (
	writeOK     writeFault = iota
	writeLost              // the write fails before it is applied
	writeUnsure            // the write is applied, then an error is returned (a timeout after commit)
)

// flakyStore is the real DynamoDB repository with record writes that fail
// on demand, the way a database does: before the write, or after it.
type flakyStore struct {
	connection.Store
	fault writeFault
}

func (s *flakyStore) fail(ctx context.Context, write func(context.Context) error) error {
	switch s.fault {
	case writeLost:
		return apperr.New(apperr.Unavailable, "injected: database unreachable")
	case writeUnsure:
		if err := write(ctx); err != nil {
			return err
		}
		return apperr.New(apperr.Unavailable, "injected: request canceled after the write")
	}
	return write(ctx)
}

func (s *flakyStore) UpdateConnection(ctx context.Context, c connection.Connection) error {
	return s.fail(ctx, func(ctx context.Context) error { return s.Store.UpdateConnection(ctx, c) })
}

func (s *flakyStore) UpdateIntegration(ctx context.Context, in connection.Integration) error {
	return s.fail(ctx, func(ctx context.Context) error { return s.Store.UpdateIntegration(ctx, in) })
}

// atomicEnv is the connection service over moto's DynamoDB and Secrets
// Manager, testing credentials against two NinjaOne sandboxes: the old one
// accepts only the old credentials, the new one only the new credentials.
type atomicEnv struct {
	svc      *connection.Service
	store    *flakyStore
	secrets  *secretstore.Store
	sm       *secretsmanager.Client
	prefix   string
	oldURL   string
	newURL   string
	oldCreds connection.Credentials
	newCreds connection.Credentials
}

func newAtomicEnv(t *testing.T) *atomicEnv {
	t.Helper()
	cfg := motoserver.ForTest(t)
	e := &atomicEnv{
		oldCreds: connection.Credentials{"clientId": "old-client", "clientSecret": "old-secret-1"},
		newCreds: connection.Credentials{"clientId": "new-client", "clientSecret": "new-secret-2"},
	}
	for _, v := range []struct {
		url   *string
		creds connection.Credentials
	}{{&e.oldURL, e.oldCreds}, {&e.newURL, e.newCreds}} {
		sb := ninjasandbox.New(ninjasandbox.Options{Orgs: 1, Devices: 1, ClientID: v.creds["clientId"], ClientSecret: v.creds["clientSecret"]})
		u, err := sb.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sb.Close() })
		*v.url = u
	}
	e.store = &flakyStore{Store: dynamostore.NewConnections(newTable(t, cfg))}
	e.sm = secretsmanager.NewFromConfig(cfg)
	e.prefix = "rmmbridge/" + motoserver.UniqueName("atomic") + "/"
	e.secrets = secretstore.New(e.sm, e.prefix)
	e.svc = connection.NewService(e.store, e.secrets, providers.Registry{AllowLoopback: true}, connection.Options{AllowLoopback: true})
	return e
}

// stored reads what Secrets Manager holds for ref, bypassing every cache.
func (e *atomicEnv) stored(t *testing.T, ref string) string {
	t.Helper()
	v, err := secretstore.New(e.sm, e.prefix, secretstore.WithCacheTTL(0)).Get(context.Background(), ref)
	if err != nil {
		t.Fatalf("read secret: %v", err)
	}
	return string(v)
}

// checkConsistent asserts that the stored record and the credentials it
// reads belong together: the record's base URL is wantURL, its credentials
// are wantCreds, and a test of the saved connection passes.
func (e *atomicEnv) checkConsistent(t *testing.T, tenantID, id, wantURL string, wantCreds connection.Credentials) {
	t.Helper()
	ctx := context.Background()
	c, err := e.svc.Get(ctx, tenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != wantURL {
		t.Errorf("stored base URL = %s, want %s", c.BaseURL, wantURL)
	}
	creds, err := e.svc.Credentials(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantCreds, creds); diff != "" {
		t.Errorf("credentials the record reads (-want +got):\n%s", diff)
	}
	// Another process (no cache) reads the same.
	if got := e.stored(t, c.SecretRef); !strings.Contains(got, wantCreds["clientSecret"]) {
		t.Errorf("Secrets Manager holds %q for the record's reference, want the %s credentials", got, wantCreds["clientId"])
	}
	res, err := e.svc.Retest(ctx, tenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "ok" {
		t.Errorf("test of the saved connection = %s (%s); the stored credentials do not work with the stored record", res.Status, res.Detail)
	}
}

// TestUpdateIsAllOrNothing changes a connection's base URL and credentials
// while the record write fails: the saved connection must keep working
// with its old credentials against its old URL (a failure before the
// write, or a crash between storing the secret and the record), or work
// with the new ones against the new URL (a write applied whose answer was
// lost), never mix them.
func TestUpdateIsAllOrNothing(t *testing.T) {
	e := newAtomicEnv(t)
	ctx := context.Background()
	const tenant = "t_atomic"
	c, err := e.svc.Create(ctx, tenant, connection.CreateInput{Name: "ninja", Kind: "rmm", Provider: "ninjaone", BaseURL: e.oldURL, Credentials: e.oldCreds})
	if err != nil {
		t.Fatal(err)
	}
	e.checkConsistent(t, tenant, c.ID, e.oldURL, e.oldCreds)
	move := connection.UpdateInput{BaseURL: &e.newURL, Credentials: e.newCreds}

	t.Run("record write lost", func(t *testing.T) {
		e.store.fault = writeLost
		if _, err := e.svc.Update(ctx, tenant, c.ID, move); !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("Update = %v, want the injected Unavailable", err)
		}
		e.store.fault = writeOK
		e.checkConsistent(t, tenant, c.ID, e.oldURL, e.oldCreds)
		// Whoever reads the secret by its name still gets the old value.
		if got := e.stored(t, e.prefix+tenant+"/"+c.ID); !strings.Contains(got, "old-secret-1") {
			t.Errorf("the secret's current value = %q, want the old credentials", got)
		}
	})
	t.Run("a retry after the failure succeeds", func(t *testing.T) {
		if _, err := e.svc.Update(ctx, tenant, c.ID, move); err != nil {
			t.Fatal(err)
		}
		e.checkConsistent(t, tenant, c.ID, e.newURL, e.newCreds)
		if got := e.stored(t, e.prefix+tenant+"/"+c.ID); !strings.Contains(got, "new-secret-2") {
			t.Errorf("after a successful update the current value = %q, want the new credentials", got)
		}
	})
	t.Run("record write applied, answer lost", func(t *testing.T) {
		back := connection.UpdateInput{BaseURL: &e.oldURL, Credentials: e.oldCreds}
		e.store.fault = writeUnsure
		if _, err := e.svc.Update(ctx, tenant, c.ID, back); err == nil {
			t.Fatal("Update succeeded, want the injected error")
		}
		e.store.fault = writeOK
		e.checkConsistent(t, tenant, c.ID, e.oldURL, e.oldCreds)
	})
}

// TestRotateWebhookSecretIsAllOrNothing rotates a webhook secret while the
// integration record write fails: the old secret must keep working for both
// checks the webhook makes (its hash for bearer tokens, the stored secret
// for Standard Webhooks signatures), not one check each.
func TestRotateWebhookSecretIsAllOrNothing(t *testing.T) {
	e := newAtomicEnv(t)
	ctx := context.Background()
	const tenant = "t_rotate"
	rmmConn, err := e.svc.Create(ctx, tenant, connection.CreateInput{Name: "ninja", Kind: "rmm", Provider: "ninjaone", BaseURL: e.oldURL, Credentials: e.oldCreds})
	if err != nil {
		t.Fatal(err)
	}
	// A PSA connection record (its vendor is not called here).
	if err := e.store.PutConnection(ctx, connection.Connection{ID: "c_psa", TenantID: tenant, Name: "psa", Kind: connection.KindPSA, Provider: "connectwise"}); err != nil {
		t.Fatal(err)
	}
	ig, secret, err := e.svc.CreateIntegration(ctx, tenant, connection.IntegrationInput{Name: "prod", RMMConnectionID: rmmConn.ID, PSAConnectionID: "c_psa"})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(key string) string {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte("msg_1.1700000000.{}"))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	check := func(t *testing.T, want string) {
		t.Helper()
		got, err := e.svc.GetIntegration(ctx, tenant, ig.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.CheckWebhookSecret(want) {
			t.Error("the bearer check refuses the secret in use")
		}
		if stored := e.stored(t, got.WebhookSecretRef); sign(stored) != sign(want) {
			t.Error("the signature check uses another secret than the bearer check")
		}
	}
	check(t, secret)

	e.store.fault = writeLost
	if _, _, err := e.svc.RotateWebhookSecret(ctx, tenant, ig.ID); err == nil {
		t.Fatal("rotation succeeded, want the injected error")
	}
	e.store.fault = writeOK
	check(t, secret)

	_, rotated, err := e.svc.RotateWebhookSecret(ctx, tenant, ig.ID)
	if err != nil {
		t.Fatal(err)
	}
	check(t, rotated)
	if got, _ := e.svc.GetIntegration(ctx, tenant, ig.ID); got.CheckWebhookSecret(secret) {
		t.Error("the old secret still passes after a successful rotation")
	}
}
