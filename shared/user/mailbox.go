package user

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// FileMailbox is the local stack's mailbox: each invitation is appended to
// a file (mode 0600) as one JSON line, which `make dev` prints and the
// end-to-end tests read. It is never used in AWS, where the user pool
// mails its invitations; it is not a log — logs never carry a password.
type FileMailbox struct {
	Path string
	mu   sync.Mutex
}

// Deliver implements Mailbox.
func (m *FileMailbox) Deliver(_ context.Context, inv Invitation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("encode invitation: %w", err)
	}
	f, err := os.OpenFile(m.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open the dev mailbox: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write the dev mailbox: %w", err)
	}
	return f.Close()
}

// ReadMailbox returns the invitations in a FileMailbox's file, oldest
// first (none when it does not exist yet).
func ReadMailbox(path string) ([]Invitation, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open the dev mailbox: %w", err)
	}
	defer f.Close()
	var out []Invitation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var inv Invitation
		if err := json.Unmarshal(sc.Bytes(), &inv); err != nil {
			return nil, fmt.Errorf("decode the dev mailbox: %w", err)
		}
		out = append(out, inv)
	}
	return out, sc.Err()
}
