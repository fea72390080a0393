package user

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Authenticator signs users in against the identity store (Cognito's
// USER_PASSWORD_AUTH flow). Wrong credentials — a wrong password, an
// unknown email, a disabled identity — are all apperr.Unauthorized.
type Authenticator interface {
	SignIn(ctx context.Context, email, password string) (AuthResult, error)
	// AnswerNewPassword answers the new-password challenge of a first
	// sign-in (a password the policy refuses is apperr.Invalid).
	AnswerNewPassword(ctx context.Context, email, session, newPassword string) (Tokens, error)
	Refresh(ctx context.Context, refreshToken string) (Tokens, error)
}

// AuthResult is tokens, or a challenge to answer first.
type AuthResult struct {
	Tokens *Tokens
	// Challenge is ChallengeNewPassword when the user signs in with a
	// temporary password; Session goes back with the answer.
	Challenge string
	Session   string
}

// ChallengeNewPassword: the user must choose a password.
const ChallengeNewPassword = "NEW_PASSWORD_REQUIRED"

// Tokens are what a sign-in gives: the ID token is the API's bearer token.
type Tokens struct {
	IDToken      string
	AccessToken  string
	RefreshToken string // empty on a refresh
	ExpiresIn    int    // seconds
}

// TokenReader reads the user of an ID token the identity store just issued
// (a verified token: the authorizer's verifier).
type TokenReader interface {
	Read(ctx context.Context, idToken string) (TokenUser, error)
}

// TokenUser is who an ID token is for.
type TokenUser struct {
	UserID   string
	TenantID string
	Role     string
	IssuedAt time.Time
}

// FailureCounter counts failed sign-ins per key in fixed windows (a table
// counter with a TTL). Keys are hashes; no email or address is stored.
type FailureCounter interface {
	// Failures returns the count of each key in the window starting at
	// windowStart.
	Failures(ctx context.Context, keys []string, windowStart time.Time) (map[string]int, error)
	// AddFailure adds one to each key's count in the window, kept until
	// expires.
	AddFailure(ctx context.Context, keys []string, windowStart, expires time.Time) error
}

// Throttle limits failed sign-ins.
type Throttle struct {
	Window    time.Duration // default 15 minutes
	PerEmail  int           // failures per email address per window, default 5
	PerSource int           // failures per source address per window, default 20
}

func (t *Throttle) defaults() {
	if t.Window <= 0 {
		t.Window = 15 * time.Minute
	}
	if t.PerEmail <= 0 {
		t.PerEmail = 5
	}
	if t.PerSource <= 0 {
		t.PerSource = 20
	}
}

// SignIn is POST /v1/auth/login, /new-password, /refresh and /logout.
type SignIn struct {
	auth     Authenticator
	tokens   TokenReader
	store    Store
	dir      Directory
	failures FailureCounter
	throttle Throttle
	now      func() time.Time
}

// NewSignIn returns a SignIn. now is time.Now when nil.
func NewSignIn(auth Authenticator, tokens TokenReader, store Store, dir Directory, failures FailureCounter, t Throttle, now func() time.Time) *SignIn {
	t.defaults()
	if now == nil {
		now = time.Now
	}
	return &SignIn{auth: auth, tokens: tokens, store: store, dir: dir, failures: failures, throttle: t, now: now}
}

// badCredentials is the one answer to a wrong password, an unknown email,
// a disabled user: it says nothing about which.
func badCredentials() *apperr.Error {
	return apperr.New(apperr.Unauthorized, "incorrect email or password")
}

// Limits of sign-in input (longer is refused before any call).
const (
	maxPassword     = 256
	maxSession      = 4096
	maxRefreshToken = 8192
)

func checkText(field, s string, max int) *apperr.FieldError {
	switch {
	case s == "":
		return &apperr.FieldError{Field: field, Message: "is required"}
	case len(s) > max:
		return &apperr.FieldError{Field: field, Message: fmt.Sprintf("is longer than %d bytes", max)}
	case !utf8.ValidString(s):
		return &apperr.FieldError{Field: field, Message: "is not valid UTF-8"}
	}
	return nil
}

func fieldErrors(fs ...*apperr.FieldError) error {
	var out []apperr.FieldError
	for _, f := range fs {
		if f != nil {
			out = append(out, *f)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return apperr.InvalidFields(out...)
}

func hashKey(kind, s string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + s))
	return kind + "#" + hex.EncodeToString(sum[:16])
}

// Login signs a user in with email and password: tokens, or the
// new-password challenge of a first sign-in. Wrong passwords and unknown
// emails get the same answer; after Throttle.PerEmail failures for an
// email, or Throttle.PerSource from one source address, within a window,
// every attempt is a 429 until the window ends — whether the email exists
// or not, and before the password is checked.
func (s *SignIn) Login(ctx context.Context, email, password, source string) (AuthResult, error) {
	email = NormalizeEmail(email)
	if err := fieldErrors(checkText("email", email, maxEmail), checkText("password", password, maxPassword)); err != nil {
		return AuthResult{}, err
	}
	keys := []string{hashKey("email", email), hashKey("source", source)}
	now := s.now().UTC()
	window := now.Truncate(s.throttle.Window)
	counts, err := s.failures.Failures(ctx, keys, window)
	if err != nil {
		return AuthResult{}, fmt.Errorf("read sign-in failures: %w", err)
	}
	if counts[keys[0]] >= s.throttle.PerEmail || counts[keys[1]] >= s.throttle.PerSource {
		e := apperr.New(apperr.Throttled, "too many failed sign-ins; try again later")
		e.RetryAfter = window.Add(s.throttle.Window).Sub(now)
		return AuthResult{}, e
	}
	res, err := s.auth.SignIn(ctx, email, password)
	if apperr.Is(err, apperr.Unauthorized) {
		if ferr := s.failures.AddFailure(ctx, keys, window, window.Add(s.throttle.Window+time.Hour)); ferr != nil {
			return AuthResult{}, fmt.Errorf("count a failed sign-in: %w", ferr)
		}
		return AuthResult{}, badCredentials()
	}
	if err != nil {
		return AuthResult{}, err
	}
	if res.Tokens != nil {
		if err := s.admit(ctx, res.Tokens.IDToken); err != nil {
			return AuthResult{}, badCredentials()
		}
	}
	return res, nil
}

// NewPassword answers the new-password challenge and signs the user in.
func (s *SignIn) NewPassword(ctx context.Context, email, session, newPassword string) (Tokens, error) {
	email = NormalizeEmail(email)
	if err := fieldErrors(checkText("email", email, maxEmail), checkText("session", session, maxSession),
		checkText("newPassword", newPassword, maxPassword)); err != nil {
		return Tokens{}, err
	}
	t, err := s.auth.AnswerNewPassword(ctx, email, session, newPassword)
	if apperr.Is(err, apperr.Unauthorized) {
		return Tokens{}, apperr.New(apperr.Unauthorized, "the sign-in session is invalid or expired; sign in again")
	}
	if err != nil {
		return Tokens{}, err
	}
	if err := s.admit(ctx, t.IDToken); err != nil {
		return Tokens{}, badCredentials()
	}
	return t, nil
}

// Refresh exchanges a refresh token for new ID and access tokens — not
// for a disabled, deleted or signed-out user.
func (s *SignIn) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	if err := fieldErrors(checkText("refreshToken", refreshToken, maxRefreshToken)); err != nil {
		return Tokens{}, err
	}
	refused := apperr.New(apperr.Unauthorized, "the refresh token is invalid, expired or revoked; sign in again")
	t, err := s.auth.Refresh(ctx, refreshToken)
	if apperr.Is(err, apperr.Unauthorized) {
		return Tokens{}, refused
	}
	if err != nil {
		return Tokens{}, err
	}
	// The user pool keeps refreshing a disabled user's tokens in moto;
	// the record decides here as it does in the authorizer.
	if err := s.admit(ctx, t.IDToken); err != nil {
		return Tokens{}, refused
	}
	return t, nil
}

// admit checks the user record behind a token the pool just issued.
func (s *SignIn) admit(ctx context.Context, idToken string) error {
	tu, err := s.tokens.Read(ctx, idToken)
	if err != nil {
		return err
	}
	u, err := s.store.GetUser(ctx, tu.TenantID, tu.UserID)
	if err != nil {
		return err
	}
	return u.Status().Admits(tu.Role, tu.IssuedAt)
}

// Logout signs a user out everywhere: its refresh tokens are revoked and
// every ID token issued until now is refused by the authorizer (within its
// result cache's lifetime, for tokens the gateway has cached).
func (s *SignIn) Logout(ctx context.Context, tenantID, userID string) error {
	if userID == "" {
		return apperr.New(apperr.Invalid, "only a signed-in user can sign out; API keys have no session")
	}
	if err := s.store.SignOut(ctx, tenantID, userID, s.now().UTC()); err != nil {
		return fmt.Errorf("sign user %s out: %w", userID, err)
	}
	if err := s.dir.SignOut(ctx, userID); err != nil {
		return fmt.Errorf("revoke the refresh tokens of user %s: %w", userID, err)
	}
	return nil
}
