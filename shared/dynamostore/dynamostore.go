// Package dynamostore is rmmbridge's adapter for its one DynamoDB table.
//
// The table has string keys pk (hash) and sk (range), a global secondary
// index GSI1 keyed by gsi1pk/gsi1sk (projection ALL) and a TTL attribute ttl
// (epoch seconds). Items are Go structs marshalled with attributevalue
// (struct tag `dynamodbav`) that carry their own pk/sk (and gsi1pk/gsi1sk)
// fields; this package never invents keys.
//
// Conditions and updates are built with the SDK's expression package. Every
// failure is classified with apperr: a lost condition is Conflict, a missing
// item NotFound, throttling Throttled, anything transient Unavailable. Error
// text carries the table and keys, never attribute values.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Attribute and index names of the table layout (template.yaml).
const (
	AttrPK     = "pk"     // table hash key
	AttrSK     = "sk"     // table range key
	AttrGSI1PK = "gsi1pk" // GSI1 hash key
	AttrGSI1SK = "gsi1sk" // GSI1 range key
	AttrTTL    = "ttl"    // expiry, epoch seconds
	IndexGSI1  = "GSI1"   // the reverse-lookup index
)

// dynamoAPI lists the DynamoDB operations the store uses.
type dynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

var _ dynamoAPI = (*dynamodb.Client)(nil)

// Key identifies one item of the table.
type Key struct{ PK, SK string }

// String renders the key for error messages and logs.
func (k Key) String() string { return k.PK + "/" + k.SK }

func (k Key) av() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: k.PK},
		AttrSK: &types.AttributeValueMemberS{Value: k.SK},
	}
}

// Store reads and writes items of one DynamoDB table. It is safe for
// concurrent use.
type Store struct {
	client dynamoAPI
	table  string
	ops    atomic.Int64
}

// New returns a store for table using client (a *dynamodb.Client in
// production).
func New(client dynamoAPI, table string) *Store {
	return &Store{client: client, table: table}
}

// Table returns the table name.
func (s *Store) Table() string { return s.table }

// Ops returns the number of DynamoDB requests the store has made (one per
// API call; the SDK's own retries are not counted separately).
func (s *Store) Ops() int64 { return s.ops.Load() }

// Get reads the item at key into out (a pointer to a struct or map) with a
// strongly consistent read. A missing item is apperr NotFound.
func (s *Store) Get(ctx context.Context, key Key, out any) error {
	s.ops.Add(1)
	res, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key.av(),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("get %s %s: %w", s.table, key, classify(err))
	}
	if res.Item == nil {
		return fmt.Errorf("get %s %s: %w", s.table, key, apperr.New(apperr.NotFound, "not found"))
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return fmt.Errorf("get %s %s: %w", s.table, key, apperr.Wrap(apperr.Internal, err, "decode item"))
	}
	return nil
}

// maxBatchGetKeys is BatchGetItem's limit of keys per request.
const maxBatchGetKeys = 100

// maxBatchGetRounds bounds the re-requests of unprocessed keys.
const maxBatchGetRounds = 8

// BatchGet reads the items of keys (strongly consistent), 100 keys a
// request, re-requesting the keys DynamoDB leaves unprocessed; attrs, when
// given, are the only attributes read. Missing items are simply absent
// from the answer.
func (s *Store) BatchGet(ctx context.Context, keys []Key, attrs ...string) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	for len(keys) > 0 {
		n := min(len(keys), maxBatchGetKeys)
		chunk := keys[:n]
		keys = keys[n:]
		ka := types.KeysAndAttributes{ConsistentRead: aws.Bool(true)}
		for _, k := range chunk {
			ka.Keys = append(ka.Keys, k.av())
		}
		if len(attrs) > 0 {
			names := map[string]string{}
			var proj []string
			for i, a := range append([]string{AttrPK, AttrSK}, attrs...) {
				p := fmt.Sprintf("#a%d", i)
				names[p] = a
				proj = append(proj, p)
			}
			ka.ProjectionExpression = aws.String(strings.Join(proj, ", "))
			ka.ExpressionAttributeNames = names
		}
		req := map[string]types.KeysAndAttributes{s.table: ka}
		for round := 0; len(req) > 0; round++ {
			if round == maxBatchGetRounds {
				return nil, fmt.Errorf("batch get from %s: %w", s.table, apperr.New(apperr.Unavailable, "keys left unprocessed after %d requests", round))
			}
			if round > 0 {
				if err := sleepCtx(ctx, time.Duration(round*round)*20*time.Millisecond); err != nil {
					return nil, err
				}
			}
			s.ops.Add(1)
			res, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("batch get from %s: %w", s.table, classify(err))
			}
			out = append(out, res.Responses[s.table]...)
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Put writes item (a struct carrying its own pk and sk), replacing any item
// with the same key. When cond is not nil the write happens only if the
// condition holds on the existing item; otherwise it fails with apperr
// Conflict.
func (s *Store) Put(ctx context.Context, item any, cond *expression.ConditionBuilder) error {
	av, key, err := marshalItem(item)
	if err != nil {
		return fmt.Errorf("put %s: %w", s.table, err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av}
	if cond != nil {
		ex, err := expression.NewBuilder().WithCondition(*cond).Build()
		if err != nil {
			return fmt.Errorf("put %s %s: %w", s.table, key, apperr.Wrap(apperr.Internal, err, "build condition"))
		}
		in.ConditionExpression = ex.Condition()
		in.ExpressionAttributeNames = ex.Names()
		in.ExpressionAttributeValues = ex.Values()
	}
	s.ops.Add(1)
	if _, err := s.client.PutItem(ctx, in); err != nil {
		return fmt.Errorf("put %s %s: %w", s.table, key, classify(err))
	}
	return nil
}

// NotExists is the condition "no item has this key yet".
func NotExists() expression.ConditionBuilder {
	return expression.AttributeNotExists(expression.Name(AttrPK))
}

// Exists is the condition "an item has this key".
func Exists() expression.ConditionBuilder {
	return expression.AttributeExists(expression.Name(AttrPK))
}

// PutNew writes item only if no item with its key exists; otherwise it fails
// with apperr Conflict.
func (s *Store) PutNew(ctx context.Context, item any) error {
	c := NotExists()
	return s.Put(ctx, item, &c)
}

// Update applies upd to the item at key (creating it if absent, as
// DynamoDB's UpdateItem does, unless cond says otherwise). A failed cond is
// apperr Conflict. When out is not nil it receives the whole item as it is
// after the update.
func (s *Store) Update(ctx context.Context, key Key, upd expression.UpdateBuilder, cond *expression.ConditionBuilder, out any) error {
	b := expression.NewBuilder().WithUpdate(upd)
	if cond != nil {
		b = b.WithCondition(*cond)
	}
	ex, err := b.Build()
	if err != nil {
		return fmt.Errorf("update %s %s: %w", s.table, key, apperr.Wrap(apperr.Internal, err, "build update"))
	}
	if err := checkDepth(ex.Values()); err != nil {
		return fmt.Errorf("update %s %s: %w", s.table, key, err)
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key.av(),
		UpdateExpression:          ex.Update(),
		ConditionExpression:       ex.Condition(),
		ExpressionAttributeNames:  ex.Names(),
		ExpressionAttributeValues: ex.Values(),
		ReturnValues:              types.ReturnValueNone,
	}
	if out != nil {
		in.ReturnValues = types.ReturnValueAllNew
	}
	s.ops.Add(1)
	res, err := s.client.UpdateItem(ctx, in)
	if err != nil {
		return fmt.Errorf("update %s %s: %w", s.table, key, classify(err))
	}
	if out != nil {
		if err := attributevalue.UnmarshalMap(res.Attributes, out); err != nil {
			return fmt.Errorf("update %s %s: %w", s.table, key, apperr.Wrap(apperr.Internal, err, "decode item"))
		}
	}
	return nil
}

// Delete removes the item at key. Deleting a missing item succeeds unless
// cond (for example Exists()) says otherwise; a failed cond is apperr
// Conflict.
func (s *Store) Delete(ctx context.Context, key Key, cond *expression.ConditionBuilder) error {
	in := &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key.av()}
	if cond != nil {
		ex, err := expression.NewBuilder().WithCondition(*cond).Build()
		if err != nil {
			return fmt.Errorf("delete %s %s: %w", s.table, key, apperr.Wrap(apperr.Internal, err, "build condition"))
		}
		in.ConditionExpression = ex.Condition()
		in.ExpressionAttributeNames = ex.Names()
		in.ExpressionAttributeValues = ex.Values()
	}
	s.ops.Add(1)
	if _, err := s.client.DeleteItem(ctx, in); err != nil {
		return fmt.Errorf("delete %s %s: %w", s.table, key, classify(err))
	}
	return nil
}

// marshalItem marshals a struct item and returns its key, which must be
// present as string pk and sk attributes.
func marshalItem(item any) (map[string]types.AttributeValue, Key, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return nil, Key{}, apperr.Wrap(apperr.Internal, err, "encode item")
	}
	if err := checkDepth(av); err != nil {
		return nil, Key{}, err
	}
	pk, okPK := av[AttrPK].(*types.AttributeValueMemberS)
	sk, okSK := av[AttrSK].(*types.AttributeValueMemberS)
	if !okPK || !okSK || pk.Value == "" || sk.Value == "" {
		return nil, Key{}, apperr.New(apperr.Internal, "item %T has no string %s and %s", item, AttrPK, AttrSK)
	}
	return av, Key{PK: pk.Value, SK: sk.Value}, nil
}

// classify maps an SDK error to an apperr kind, keeping the cause.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return apperr.Wrap(apperr.Unavailable, err, "request canceled")
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return apperr.Wrap(apperr.Conflict, err, "condition failed")
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return classifyCanceled(err, tce)
	}
	var rnf *types.ResourceNotFoundException
	if errors.As(err, &rnf) {
		return apperr.Wrap(apperr.Internal, err, "table or index does not exist")
	}
	var ser *smithy.SerializationError
	if errors.As(err, &ser) {
		// The request could not even be encoded: a bug, not an outage.
		return apperr.Wrap(apperr.Internal, err, "could not encode the database request")
	}
	switch apiCode(err) {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
		return apperr.Wrap(apperr.Throttled, err, "database throttled")
	case "TransactionConflictException", "TransactionInProgressException",
		"InternalServerError", "ServiceUnavailable", "ServiceUnavailableException":
		return apperr.Wrap(apperr.Unavailable, err, "database unavailable")
	case "ValidationException":
		return classifyValidation(err, errorMessage(err))
	case "SerializationException", "AccessDeniedException",
		"UnrecognizedClientException", "MissingAuthenticationTokenException",
		"ItemCollectionSizeLimitExceededException", "IdempotentParameterMismatchException":
		return apperr.Wrap(apperr.Internal, err, "database rejected the request")
	case "":
		// Not an API error: network, DNS, timeouts. Worth retrying.
		return apperr.Wrap(apperr.Unavailable, err, "database unreachable")
	}
	return apperr.Wrap(apperr.Unavailable, err, "database error")
}

// classifyValidation classifies a ValidationException (or a transaction
// reason "ValidationError") by its message: values DynamoDB refuses to
// store are the request's fault, never an outage to retry. An item over
// 400 KB is TooLarge (413); a key over its size limit, an empty key or
// values nested too deep are Invalid (422); anything else (a malformed
// expression: our bug) stays Internal.
func classifyValidation(err error, msg string) error {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "item size") || strings.Contains(m, "maximum allowed size"):
		return apperr.Wrap(apperr.TooLarge, err, "the data is too large to store")
	case strings.Contains(m, "nesting levels") || strings.Contains(m, "nested"):
		return apperr.Wrap(apperr.Invalid, err, "the data nests too deep to store")
	case strings.Contains(m, "key") && (strings.Contains(m, "size") || strings.Contains(m, "empty")):
		return apperr.Wrap(apperr.Invalid, err, "an id is too long or empty")
	case strings.Contains(m, "parameter values"):
		return apperr.Wrap(apperr.Invalid, err, "the database refused a value of the request")
	}
	return apperr.Wrap(apperr.Internal, err, "database rejected the request")
}

// errorMessage returns the API error's message, or "".
func errorMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}

// MaxDepth is DynamoDB's nesting limit for attribute values: an item's
// top-level attributes are level 1.
const MaxDepth = 32

// checkDepth refuses, before any request, values nested deeper than
// DynamoDB stores (real DynamoDB answers a ValidationException; moto
// fails with a server error that would read as an outage). The walk stops
// at the limit, so its cost does not grow with a hostile depth.
func checkDepth(av map[string]types.AttributeValue) error {
	var deep func(v types.AttributeValue, level int) bool
	deep = func(v types.AttributeValue, level int) bool {
		switch x := v.(type) {
		case *types.AttributeValueMemberM:
			if level >= MaxDepth {
				return true
			}
			for _, e := range x.Value {
				if deep(e, level+1) {
					return true
				}
			}
		case *types.AttributeValueMemberL:
			if level >= MaxDepth {
				return true
			}
			for _, e := range x.Value {
				if deep(e, level+1) {
					return true
				}
			}
		}
		return false
	}
	for _, v := range av {
		if deep(v, 1) {
			return apperr.New(apperr.Invalid, "the data nests deeper than %d levels", MaxDepth)
		}
	}
	return nil
}

// apiCode returns the AWS error code of err, or "" if it is not an API error.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
