// Package secretstore keeps connection credentials in AWS Secrets Manager.
//
// Every secret lives under one name prefix (for example "rmmbridge/dev/"),
// so that a function's IAM policy on secret:rmmbridge/<stack>/* covers all
// of them and nothing else; references outside the prefix are refused.
// Reads go through a small in-process cache with a TTL, so a warm Lambda
// does not call Secrets Manager on every request. Secret values never
// appear in errors: messages name the secret, not its content.
//
// A reference is a secret's ARN (or full name), optionally pinned to one
// version as "<ARN>#<version id>". Stage writes a new version without
// making it current and returns a pinned reference: a record that stores
// the reference reads exactly the version written with it, so a change of
// a secret and of the record naming it is all-or-nothing (the record's
// write commits both). Promote then makes the version current.
package secretstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Limits of Secrets Manager that Put checks before calling it.
const (
	MaxValueBytes = 65536 // SecretString / SecretBinary
	MaxNameLength = 512   // secret name, prefix included
)

// smAPI lists the Secrets Manager operations the store uses.
type smAPI interface {
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

var _ smAPI = (*secretsmanager.Client)(nil)

// Store reads and writes secrets under one name prefix. It is safe for
// concurrent use.
type Store struct {
	api            smAPI
	prefix         string
	ttl            time.Duration
	now            func() time.Time
	recoveryWindow int
	calls          atomic.Int64

	mu    sync.Mutex
	cache map[string]cached // by secret name
}

type cached struct {
	value   []byte
	expires time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithCacheTTL sets how long Get serves a value from memory (default 5
// minutes, like the AWS Parameters and Secrets extension; 0 disables the
// cache).
func WithCacheTTL(d time.Duration) Option { return func(s *Store) { s.ttl = d } }

// WithClock replaces time.Now for cache expiry (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithRecoveryWindow sets how many days a deleted secret can be restored
// (default 7; Secrets Manager accepts 7 to 30). 0 deletes at once, without
// recovery.
func WithRecoveryWindow(days int) Option { return func(s *Store) { s.recoveryWindow = days } }

// New returns a store that keeps secrets named prefix+name through api (a
// *secretsmanager.Client in production).
func New(api smAPI, prefix string, opts ...Option) *Store {
	s := &Store{api: api, prefix: prefix, ttl: 5 * time.Minute, now: time.Now, recoveryWindow: 7, cache: map[string]cached{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Prefix returns the name prefix every secret of the store carries.
func (s *Store) Prefix() string { return s.prefix }

// Calls returns the number of Secrets Manager requests the store has made.
func (s *Store) Calls() int64 { return s.calls.Load() }

// namePattern is the character set Secrets Manager allows in names.
// It is compiled on first use, like arnPattern.
var namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`) })

// Put stores value as the secret prefix+name, creating it or adding a new
// current version, and returns the secret's ARN, the reference to keep.
// Valid UTF-8 is stored as SecretString, anything else as SecretBinary.
func (s *Store) Put(ctx context.Context, name string, value []byte) (string, error) {
	id := s.prefix + name
	if err := s.checkPut(name, id, value); err != nil {
		return "", fmt.Errorf("put secret %s: %w", id, err)
	}
	s.forget(id)
	defer s.forget(id) // a Get racing with Put must not keep the old value
	str, bin := encode(value)
	s.calls.Add(1)
	created, err := s.api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(id),
		SecretString: str,
		SecretBinary: bin,
	})
	if err == nil {
		return aws.ToString(created.ARN), nil
	}
	var exists *types.ResourceExistsException
	if !errors.As(err, &exists) {
		return "", fmt.Errorf("create secret %s: %w", id, classifyPut(err))
	}
	s.calls.Add(1)
	put, err := s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(id),
		SecretString: str,
		SecretBinary: bin,
	})
	if err != nil {
		return "", fmt.Errorf("update secret %s: %w", id, classifyPut(err))
	}
	return aws.ToString(put.ARN), nil
}

// StagedLabel is the staging label of a version Stage wrote and Promote
// has not made current yet. Secrets Manager keeps one version per label,
// so only the newest staged version carries it.
const StagedLabel = "RMMBRIDGE_STAGED"

// currentLabel is Secrets Manager's label of a secret's current version.
const currentLabel = "AWSCURRENT"

// Stage stores value as a new version of the secret prefix+name and
// returns a reference pinned to that version ("<ARN>#<version id>"). A new
// secret is created with value as its current version; an existing
// secret's current version stays as it is (the new one is labelled
// StagedLabel) until Promote. Get with the pinned reference reads exactly
// this version, whatever is current.
func (s *Store) Stage(ctx context.Context, name string, value []byte) (string, error) {
	id := s.prefix + name
	if err := s.checkPut(name, id, value); err != nil {
		return "", fmt.Errorf("stage secret %s: %w", id, err)
	}
	str, bin := encode(value)
	s.calls.Add(1)
	created, err := s.api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(id),
		SecretString: str,
		SecretBinary: bin,
	})
	if err == nil {
		return pin(aws.ToString(created.ARN), aws.ToString(created.VersionId))
	}
	var exists *types.ResourceExistsException
	if !errors.As(err, &exists) {
		return "", fmt.Errorf("create secret %s: %w", id, classifyPut(err))
	}
	s.calls.Add(1)
	put, err := s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:      aws.String(id),
		SecretString:  str,
		SecretBinary:  bin,
		VersionStages: []string{StagedLabel},
	})
	if err != nil {
		return "", fmt.Errorf("stage a version of secret %s: %w", id, classifyPut(err))
	}
	return pin(aws.ToString(put.ARN), aws.ToString(put.VersionId))
}

func pin(arn, version string) (string, error) {
	if arn == "" || version == "" {
		return "", apperr.New(apperr.Internal, "secrets manager answered without an ARN or a version id")
	}
	return arn + versionSep + version, nil
}

// versionSep separates a reference from the version it is pinned to; it
// cannot occur in an ARN or a secret name.
const versionSep = "#"

// splitRef returns a reference without its version, and the version ("" when
// the reference is not pinned).
func splitRef(ref string) (base, version string) {
	base, version, _ = strings.Cut(ref, versionSep)
	return base, version
}

// Promote makes the version ref is pinned to the secret's current version
// (the previous current one becomes AWSPREVIOUS). It does nothing for a
// reference without a version or a version that is current already. Reads
// through pinned references do not depend on it: it keeps the secret's
// current version the one in use, for people and tools that read the
// secret by name, and keeps the version in use labelled.
func (s *Store) Promote(ctx context.Context, ref string) error {
	base, version := splitRef(ref)
	name, err := s.resolve(base)
	if err != nil {
		return fmt.Errorf("promote secret version: %w", err)
	}
	if version == "" {
		return nil
	}
	s.calls.Add(1)
	desc, err := s.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(base)})
	if err != nil {
		return fmt.Errorf("describe secret %s: %w", name, classify(err))
	}
	current := ""
	for v, stages := range desc.VersionIdsToStages {
		if slices.Contains(stages, currentLabel) {
			current = v
		}
	}
	if current == version {
		return nil
	}
	if _, ok := desc.VersionIdsToStages[version]; !ok {
		return fmt.Errorf("promote secret %s: %w", name, apperr.New(apperr.NotFound, "secret version not found"))
	}
	s.forget(name)
	defer s.forget(name)
	in := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:        aws.String(base),
		VersionStage:    aws.String(currentLabel),
		MoveToVersionId: aws.String(version),
	}
	if current != "" {
		in.RemoveFromVersionId = aws.String(current)
	}
	s.calls.Add(1)
	if _, err := s.api.UpdateSecretVersionStage(ctx, in); err != nil {
		return fmt.Errorf("promote a version of secret %s: %w", name, classify(err))
	}
	return nil
}

func (s *Store) checkPut(name, id string, value []byte) error {
	var fields []apperr.FieldError
	switch {
	case name == "":
		fields = append(fields, apperr.FieldError{Field: "name", Message: "is required"})
	case !namePattern().MatchString(name):
		fields = append(fields, apperr.FieldError{Field: "name", Message: "may hold only letters, digits and /_+=.@-"})
	case len(id) > MaxNameLength:
		fields = append(fields, apperr.FieldError{Field: "name", Message: fmt.Sprintf("is longer than %d characters with its prefix", MaxNameLength)})
	}
	switch {
	case len(value) == 0:
		fields = append(fields, apperr.FieldError{Field: "value", Message: "is required"})
	case len(value) > MaxValueBytes:
		fields = append(fields, apperr.FieldError{Field: "value", Message: fmt.Sprintf("is larger than %d bytes", MaxValueBytes)})
	}
	if len(fields) > 0 {
		return apperr.InvalidFields(fields...)
	}
	return nil
}

func encode(value []byte) (*string, []byte) {
	if utf8.Valid(value) {
		return aws.String(string(value)), nil
	}
	return nil, value
}

// Get returns the value of the secret ref: an ARN or a full name under the
// store's prefix reads the current version, a pinned reference (from
// Stage) its version. Values are cached in memory for the cache TTL;
// Put and Delete through this store drop the cached value. A missing or
// deleted secret is apperr NotFound.
func (s *Store) Get(ctx context.Context, ref string) ([]byte, error) {
	base, version := splitRef(ref)
	name, err := s.resolve(base)
	if err != nil {
		return nil, fmt.Errorf("get secret: %w", err)
	}
	// A version never changes: a pinned read is cached under its own key,
	// which no Put, Promote or Stage of a newer version invalidates.
	key := name
	if version != "" {
		key = name + versionSep + version
	}
	if v, ok := s.lookup(key); ok {
		return v, nil
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(base)}
	if version != "" {
		in.VersionId = aws.String(version)
	} else {
		// The default, spelled out: moto otherwise keeps answering the
		// version that was current before an UpdateSecretVersionStage.
		in.VersionStage = aws.String(currentLabel)
	}
	s.calls.Add(1)
	out, err := s.api.GetSecretValue(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", name, classify(err))
	}
	value := out.SecretBinary
	if out.SecretString != nil {
		value = []byte(*out.SecretString)
	}
	s.remember(key, value)
	return clone(value), nil
}

// Delete deletes the secret ref (an ARN or a full name under the prefix,
// pinned or not: the whole secret, every version),
// recoverable for the configured window or at once when it is 0. Deleting a
// secret that is missing or already deleted succeeds.
func (s *Store) Delete(ctx context.Context, ref string) error {
	base, _ := splitRef(ref)
	name, err := s.resolve(base)
	if err != nil {
		return fmt.Errorf("delete secret: %w", err)
	}
	s.forgetVersions(name)
	defer s.forgetVersions(name)
	in := &secretsmanager.DeleteSecretInput{SecretId: aws.String(base)}
	if s.recoveryWindow > 0 {
		in.RecoveryWindowInDays = aws.Int64(int64(s.recoveryWindow))
	} else {
		in.ForceDeleteWithoutRecovery = aws.Bool(true)
	}
	s.calls.Add(1)
	if _, err := s.api.DeleteSecret(ctx, in); err != nil {
		cerr := classify(err)
		if apperr.Is(cerr, apperr.NotFound) {
			return nil
		}
		return fmt.Errorf("delete secret %s: %w", name, cerr)
	}
	return nil
}

// arnPattern matches a Secrets Manager secret ARN and captures the name and
// the six-character suffix Secrets Manager appends to it.
var arnPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+?)(-[A-Za-z0-9]{6})?$`)
})

// resolve returns the secret name of ref and refuses refs outside the
// prefix.
func (s *Store) resolve(ref string) (string, error) {
	name := ref
	if strings.HasPrefix(ref, "arn:") {
		m := arnPattern().FindStringSubmatch(ref)
		if m == nil {
			return "", apperr.InvalidFields(apperr.FieldError{Field: "ref", Message: "is not a Secrets Manager secret ARN"})
		}
		name = m[1]
	}
	if !strings.HasPrefix(name, s.prefix) || len(name) == len(s.prefix) {
		return "", apperr.InvalidFields(apperr.FieldError{Field: "ref", Message: "is not a secret of this deployment"})
	}
	return name, nil
}

func (s *Store) lookup(name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[name]
	if !ok {
		return nil, false
	}
	if !s.now().Before(c.expires) {
		delete(s.cache, name)
		return nil, false
	}
	return clone(c.value), true
}

func (s *Store) remember(name string, value []byte) {
	if s.ttl <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache[name] = cached{value: clone(value), expires: s.now().Add(s.ttl)}
}

func (s *Store) forget(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cache, name)
}

// forgetVersions drops the cached values of a secret: its current value
// and every pinned version.
func (s *Store) forgetVersions(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.cache {
		if k == name || strings.HasPrefix(k, name+versionSep) {
			delete(s.cache, k)
		}
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// classifyPut is classify for writes: a name still scheduled for deletion
// is a Conflict (restore it or pick another name), not a NotFound.
func classifyPut(err error) error {
	cerr := classify(err)
	if apperr.Is(cerr, apperr.NotFound) {
		return apperr.Wrap(apperr.Conflict, err, "a secret with this name is scheduled for deletion")
	}
	return cerr
}

// classify maps a Secrets Manager error to an apperr kind, keeping the
// cause. SDK errors carry codes and request ids, not request bodies.
func classify(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return apperr.Wrap(apperr.Unavailable, err, "request canceled")
	}
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return apperr.Wrap(apperr.NotFound, err, "secret not found")
	}
	var ir *types.InvalidRequestException
	if errors.As(err, &ir) {
		msg := strings.ToLower(ir.ErrorMessage())
		if strings.Contains(msg, "deleted") || strings.Contains(msg, "deletion") {
			return apperr.Wrap(apperr.NotFound, err, "secret is scheduled for deletion")
		}
		return apperr.Wrap(apperr.Internal, err, "secrets manager rejected the request")
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return apperr.Wrap(apperr.Unavailable, err, "secrets manager unreachable")
	}
	switch code := ae.ErrorCode(); {
	case code == "ThrottlingException" || code == "TooManyRequestsException" || strings.Contains(code, "Throttl"):
		return apperr.Wrap(apperr.Throttled, err, "secrets manager throttled")
	case code == "InternalServiceError" || code == "InternalFailure" || code == "ServiceUnavailable" ||
		code == "DecryptionFailure" || code == "LimitExceededException":
		return apperr.Wrap(apperr.Unavailable, err, "secrets manager unavailable (%s)", code)
	}
	return apperr.Wrap(apperr.Internal, err, "secrets manager rejected the request (%s)", ae.ErrorCode())
}
