package dynamostore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// SignInFailures counts failed sign-ins per hashed email and per hashed
// source address, one counter item per key and window, removed by the
// table's TTL. Like the API key items, these items are not under a tenant:
// before sign-in no tenant is known, and looking the email's tenant up
// first would answer unknown emails differently. They hold a count and
// nothing else (the keys are hashes).
//
//	pk SIGNINFAIL#<kind>#<hash>   sk W#<window start, Unix seconds>
type SignInFailures struct{ s *Store }

var _ user.FailureCounter = SignInFailures{}

// NewSignInFailures returns the failure counter over s.
func NewSignInFailures(s *Store) SignInFailures { return SignInFailures{s: s} }

type failureItem struct {
	PK    string `dynamodbav:"pk"`
	SK    string `dynamodbav:"sk"`
	Count int    `dynamodbav:"count"`
}

func failureKey(key string, window time.Time) Key {
	return Key{PK: "SIGNINFAIL#" + key, SK: "W#" + strconv.FormatInt(window.Unix(), 10)}
}

// Failures implements user.FailureCounter.
func (f SignInFailures) Failures(ctx context.Context, keys []string, window time.Time) (map[string]int, error) {
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		var it failureItem
		err := f.s.Get(ctx, failureKey(k, window), &it)
		switch {
		case apperr.Is(err, apperr.NotFound):
		case err != nil:
			return nil, fmt.Errorf("read sign-in failures: %w", err)
		default:
			out[k] = it.Count
		}
	}
	return out, nil
}

// AddFailure implements user.FailureCounter.
func (f SignInFailures) AddFailure(ctx context.Context, keys []string, window, expires time.Time) error {
	for _, k := range keys {
		upd := expression.Add(expression.Name("count"), expression.Value(1)).
			Set(expression.Name(AttrTTL), expression.Value(expires.Unix()))
		if err := f.s.Update(ctx, failureKey(k, window), upd, nil, nil); err != nil {
			return fmt.Errorf("count a failed sign-in: %w", err)
		}
	}
	return nil
}
