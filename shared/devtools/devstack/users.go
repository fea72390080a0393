package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rmmbridge/rmmbridge/shared/devtools/lambdaset"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// Users is the local stack's user pool and its demo admin.
type Users struct {
	PoolID   string
	ClientID string
	// Mailbox is the file the API function delivers invitations to (with
	// their temporary passwords), instead of the mail Cognito sends in AWS.
	Mailbox string
	// The demo tenant's admin user, who signs in with this email and
	// password (Options.DevAdminPassword, or a new random one).
	AdminEmail    string
	AdminPassword string
	AdminUserID   string

	removeDir string // the mailbox's temporary directory, removed by Stop
}

// mailboxEnv prepares the dev mailbox: o.Mailbox, or a file in a new
// temporary directory. It returns the extra environment for the functions.
func (e *Env) mailboxEnv(o Options) (map[string]string, error) {
	path := o.Mailbox
	if path == "" {
		dir, err := os.MkdirTemp("", "rmmbridge-mailbox-")
		if err != nil {
			return nil, fmt.Errorf("create the dev mailbox: %w", err)
		}
		e.Users.removeDir, path = dir, filepath.Join(dir, "invitations.jsonl")
	}
	e.Users.Mailbox = path
	return map[string]string{fnenv.DevMailboxEnv: path}, nil
}

// seedUsers makes sure the demo tenant has its admin user.
func (e *Env) seedUsers(ctx context.Context, o Options) error {
	e.Users.PoolID, e.Users.ClientID = e.Stack.UserPoolID("UserPool"), e.Stack.UserPoolClientID("UserPoolClient")
	a, err := lambdaset.SeedDemoAdmin(ctx, e.AWS, e.Stack.TableName("Table"), e.Users.PoolID, e.Users.ClientID, o.DevAdminPassword)
	if err != nil {
		return err
	}
	e.Users.AdminEmail, e.Users.AdminPassword, e.Users.AdminUserID = a.Email, a.Password, a.UserID
	return nil
}

// Invitations returns the invitations delivered so far, oldest first.
func (e *Env) Invitations() ([]user.Invitation, error) {
	return user.ReadMailbox(e.Users.Mailbox)
}

func (e *Env) removeMailbox() error {
	if e.Users.removeDir == "" {
		return nil
	}
	dir := e.Users.removeDir
	e.Users.removeDir = ""
	return os.RemoveAll(dir)
}
