package connection_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/secretstore"
)

// slipStore is the real DynamoDB repository with a change slipped in
// between an update's read and its write: slip runs once, right after the
// next read returns.
type slipStore struct {
	connection.Store
	slip func()
}

func (s *slipStore) slipped() {
	if f := s.slip; f != nil {
		s.slip = nil
		f()
	}
}

func (s *slipStore) GetConnection(ctx context.Context, tenantID, id string) (connection.Connection, error) {
	c, err := s.Store.GetConnection(ctx, tenantID, id)
	s.slipped()
	return c, err
}

func (s *slipStore) GetIntegration(ctx context.Context, tenantID, id string) (connection.Integration, error) {
	in, err := s.Store.GetIntegration(ctx, tenantID, id)
	s.slipped()
	return in, err
}

type passTester struct{}

func (passTester) Test(context.Context, string, string, connection.Credentials) error { return nil }

// slipEnv is a service whose reads let a change slip in (svc) and a plain
// one over the same table (other), with tenant t_a's connections c_rmm,
// c_psa and integration i_a stored before versions existed.
type slipEnv struct {
	svc, other *connection.Service
	store      *slipStore
}

func newSlipEnv(t *testing.T) *slipEnv {
	t.Helper()
	ctx := context.Background()
	cfg := motoserver.ForTest(t)
	plain := dynamostore.NewConnections(newTable(t, cfg))
	secrets := secretstore.New(secretsmanager.NewFromConfig(cfg), "rmmbridge/"+motoserver.UniqueName("slip")+"/")
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for id, kind := range map[string]string{"c_rmm": connection.KindRMM, "c_psa": connection.KindPSA} {
		provider := map[string]string{connection.KindRMM: "ninjaone", connection.KindPSA: "connectwise"}[kind]
		ref, err := secrets.Stage(ctx, "t_a/"+id, []byte(`{"clientId":"a","clientSecret":"b"}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := plain.PutConnection(ctx, connection.Connection{ID: id, TenantID: "t_a", Name: id, Kind: kind, Provider: provider,
			BaseURL: "https://vendor.example.com", Settings: map[string]any{}, Status: "ok", CreatedAt: now, UpdatedAt: now, SecretRef: ref}); err != nil {
			t.Fatal(err)
		}
	}
	if err := plain.PutIntegration(ctx, connection.Integration{ID: "i_a", TenantID: "t_a", Name: "i_a", RMMConnectionID: "c_rmm",
		PSAConnectionID: "c_psa", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	e := &slipEnv{store: &slipStore{Store: plain}}
	e.svc = connection.NewService(e.store, secrets, passTester{}, connection.Options{})
	e.other = connection.NewService(plain, secrets, passTester{}, connection.Options{})
	return e
}

// TestIfMatchIsCheckedByTheWrite: an update whose If-Match holds when it
// reads but not when it writes (another update landed in between) is
// PreconditionFailed and writes nothing: the version is checked by the
// write's condition, not by comparing after the read.
func TestIfMatchIsCheckedByTheWrite(t *testing.T) {
	ctx := context.Background()
	name := func(s string) *string { return &s }
	t.Run("integration", func(t *testing.T) {
		e := newSlipEnv(t)
		ig, err := e.svc.GetIntegration(ctx, "t_a", "i_a")
		if err != nil {
			t.Fatal(err)
		}
		e.store.slip = func() {
			if _, err := e.other.UpdateIntegration(ctx, "t_a", "i_a", connection.IntegrationPatch{Name: name("theirs")}); err != nil {
				t.Errorf("the change slipped in: %v", err)
			}
		}
		_, err = e.svc.UpdateIntegration(ctx, "t_a", "i_a", connection.IntegrationPatch{Name: name("mine"), IfMatch: connection.Versions{ig.Version}})
		if !apperr.Is(err, apperr.PreconditionFailed) {
			t.Errorf("update = %v, want PreconditionFailed", err)
		}
		if got, _ := e.other.GetIntegration(ctx, "t_a", "i_a"); got.Name != "theirs" || got.Version != ig.Version+1 {
			t.Errorf("stored %q at version %d, want the change slipped in (%q, %d)", got.Name, got.Version, "theirs", ig.Version+1)
		}
	})
	t.Run("connection", func(t *testing.T) {
		e := newSlipEnv(t)
		c, err := e.svc.Get(ctx, "t_a", "c_psa")
		if err != nil {
			t.Fatal(err)
		}
		e.store.slip = func() {
			if _, err := e.other.Update(ctx, "t_a", "c_psa", connection.UpdateInput{Name: name("theirs")}); err != nil {
				t.Errorf("the change slipped in: %v", err)
			}
		}
		_, err = e.svc.Update(ctx, "t_a", "c_psa", connection.UpdateInput{Name: name("mine"), IfMatch: connection.Versions{c.Version}})
		if !apperr.Is(err, apperr.PreconditionFailed) {
			t.Errorf("update = %v, want PreconditionFailed", err)
		}
		if got, _ := e.other.Get(ctx, "t_a", "c_psa"); got.Name != "theirs" || got.Version != c.Version+1 {
			t.Errorf("stored %q at version %d, want the change slipped in (%q, %d)", got.Name, got.Version, "theirs", c.Version+1)
		}
	})
}

// TestOvertakenUpdatesKeepTheOtherChange: an update without If-Match that
// another one overtakes is applied again to a fresh read, so neither
// change is lost: a rename does not write back the webhook secret a
// rotation replaced, a rotation does not write back the name a rename
// replaced, a connection rename does not undo a settings change, and a
// retest does not undo a rename.
func TestOvertakenUpdatesKeepTheOtherChange(t *testing.T) {
	ctx := context.Background()
	name := func(s string) *string { return &s }
	t.Run("rename overtaken by a rotation", func(t *testing.T) {
		e := newSlipEnv(t)
		var secret string
		e.store.slip = func() {
			var err error
			if _, secret, err = e.other.RotateWebhookSecret(ctx, "t_a", "i_a"); err != nil {
				t.Errorf("rotate: %v", err)
			}
		}
		if _, err := e.svc.UpdateIntegration(ctx, "t_a", "i_a", connection.IntegrationPatch{Name: name("renamed")}); err != nil {
			t.Fatal(err)
		}
		got, _ := e.other.GetIntegration(ctx, "t_a", "i_a")
		if got.Name != "renamed" || !got.CheckWebhookSecret(secret) {
			t.Errorf("stored name %q, rotated secret kept %v; want both changes", got.Name, got.CheckWebhookSecret(secret))
		}
	})
	t.Run("rotation overtaken by a rename", func(t *testing.T) {
		e := newSlipEnv(t)
		e.store.slip = func() {
			if _, err := e.other.UpdateIntegration(ctx, "t_a", "i_a", connection.IntegrationPatch{Name: name("renamed")}); err != nil {
				t.Errorf("rename: %v", err)
			}
		}
		_, secret, err := e.svc.RotateWebhookSecret(ctx, "t_a", "i_a")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := e.other.GetIntegration(ctx, "t_a", "i_a")
		if got.Name != "renamed" || !got.CheckWebhookSecret(secret) {
			t.Errorf("stored name %q, rotated secret kept %v; want both changes", got.Name, got.CheckWebhookSecret(secret))
		}
	})
	t.Run("connection rename overtaken by a settings change", func(t *testing.T) {
		e := newSlipEnv(t)
		e.store.slip = func() {
			if _, err := e.other.Update(ctx, "t_a", "c_psa", connection.UpdateInput{Settings: &map[string]any{"companyId": "acme"}}); err != nil {
				t.Errorf("settings: %v", err)
			}
		}
		if _, err := e.svc.Update(ctx, "t_a", "c_psa", connection.UpdateInput{Name: name("renamed")}); err != nil {
			t.Fatal(err)
		}
		got, _ := e.other.Get(ctx, "t_a", "c_psa")
		if got.Name != "renamed" || got.Settings["companyId"] != "acme" {
			t.Errorf("stored name %q, settings %v; want both changes", got.Name, got.Settings)
		}
	})
	t.Run("retest overtaken by a rename", func(t *testing.T) {
		e := newSlipEnv(t)
		e.store.slip = func() {
			if _, err := e.other.Update(ctx, "t_a", "c_psa", connection.UpdateInput{Name: name("renamed")}); err != nil {
				t.Errorf("rename: %v", err)
			}
		}
		res, err := e.svc.Retest(ctx, "t_a", "c_psa")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := e.other.Get(ctx, "t_a", "c_psa")
		if got.Name != "renamed" || !got.TestedAt.Equal(res.TestedAt) {
			t.Errorf("stored name %q tested at %v; want the rename and the retest (%v)", got.Name, got.TestedAt, res.TestedAt)
		}
	})
}
