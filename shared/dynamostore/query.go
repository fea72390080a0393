package dynamostore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Query selects the items of one partition, in sort-key order.
type Query struct {
	// PK is the partition: the table's pk, or gsi1pk when Index is GSI1.
	PK string
	// SKPrefix, when set, keeps only items whose sort key (sk, or gsi1sk
	// on the index) begins with it.
	SKPrefix string
	// Index is "" for the table or IndexGSI1.
	Index string
	// Limit caps the items DynamoDB evaluates per page (0: its own 1 MB
	// page). A Filter is applied after the limit, so a filtered page can
	// hold fewer items than Limit and still have a next page.
	Limit int32
	// Cursor continues a previous page; it must come from a query on the
	// same PK (and index).
	Cursor string
	// Descending reverses the sort-key order.
	Descending bool
	// Filter drops items after they are read (they still cost capacity).
	Filter *expression.ConditionBuilder
	// ConsistentRead asks for a strongly consistent read (table only).
	ConsistentRead bool
}

func (q Query) keyNames() (hash, rng string, err error) {
	switch q.Index {
	case "":
		return AttrPK, AttrSK, nil
	case IndexGSI1:
		return AttrGSI1PK, AttrGSI1SK, nil
	}
	return "", "", apperr.InvalidFields(apperr.FieldError{Field: "index", Message: "unknown index " + q.Index})
}

// Query reads one page of q into out, a pointer to a slice of structs or
// maps, and returns the cursor of the next page ("" on the last page).
func (s *Store) Query(ctx context.Context, q Query, out any) (string, error) {
	items, next, err := s.queryPage(ctx, q)
	if err != nil {
		return "", err
	}
	if err := attributevalue.UnmarshalListOfMaps(items, out); err != nil {
		return "", fmt.Errorf("query %s %s: %w", s.table, q.PK, apperr.Wrap(apperr.Internal, err, "decode items"))
	}
	return next, nil
}

// QueryAll reads every page of q (starting at q.Cursor, if set) into out, a
// pointer to a slice. q.Limit then sets the page size.
func (s *Store) QueryAll(ctx context.Context, q Query, out any) error {
	var all []map[string]types.AttributeValue
	for {
		items, next, err := s.queryPage(ctx, q)
		if err != nil {
			return err
		}
		all = append(all, items...)
		if next == "" {
			break
		}
		q.Cursor = next
	}
	if err := attributevalue.UnmarshalListOfMaps(all, out); err != nil {
		return fmt.Errorf("query %s %s: %w", s.table, q.PK, apperr.Wrap(apperr.Internal, err, "decode items"))
	}
	return nil
}

func (s *Store) queryPage(ctx context.Context, q Query) ([]map[string]types.AttributeValue, string, error) {
	fail := func(err error) ([]map[string]types.AttributeValue, string, error) {
		where := q.PK
		if q.Index != "" {
			where = q.Index + " " + q.PK
		}
		return nil, "", fmt.Errorf("query %s %s: %w", s.table, where, err)
	}
	hash, rng, err := q.keyNames()
	if err != nil {
		return fail(err)
	}
	if q.PK == "" {
		return fail(apperr.InvalidFields(apperr.FieldError{Field: "pk", Message: "is required"}))
	}
	kc := expression.Key(hash).Equal(expression.Value(q.PK))
	if q.SKPrefix != "" {
		kc = kc.And(expression.Key(rng).BeginsWith(q.SKPrefix))
	}
	b := expression.NewBuilder().WithKeyCondition(kc)
	if q.Filter != nil {
		b = b.WithFilter(*q.Filter)
	}
	ex, err := b.Build()
	if err != nil {
		return fail(apperr.Wrap(apperr.Internal, err, "build query"))
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    ex.KeyCondition(),
		FilterExpression:          ex.Filter(),
		ExpressionAttributeNames:  ex.Names(),
		ExpressionAttributeValues: ex.Values(),
		ScanIndexForward:          aws.Bool(!q.Descending),
	}
	if q.Index != "" {
		in.IndexName = aws.String(q.Index)
	} else if q.ConsistentRead {
		in.ConsistentRead = aws.Bool(true)
	}
	if q.Limit > 0 {
		in.Limit = aws.Int32(q.Limit)
	}
	if q.Cursor != "" {
		start, err := decodeCursor(q)
		if err != nil {
			return fail(err)
		}
		in.ExclusiveStartKey = start
	}
	s.ops.Add(1)
	res, err := s.client.Query(ctx, in)
	if err != nil {
		return fail(classify(err))
	}
	next, err := encodeCursor(res.LastEvaluatedKey)
	if err != nil {
		return fail(err)
	}
	return res.Items, next, nil
}

// A cursor is the page's LastEvaluatedKey as a JSON object of strings,
// base64url without padding. It is opaque to callers and not signed, so it
// is checked on the way back in: it must name the partition being queried.

func encodeCursor(lek map[string]types.AttributeValue) (string, error) {
	if len(lek) == 0 {
		return "", nil
	}
	m := make(map[string]string, len(lek))
	for k, v := range lek {
		sv, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return "", apperr.New(apperr.Internal, "key attribute %s is not a string", k)
		}
		m[k] = sv.Value
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", apperr.Wrap(apperr.Internal, err, "encode cursor")
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func decodeCursor(q Query) (map[string]types.AttributeValue, error) {
	bad := func(msg string) error {
		// A cursor is a query parameter: a bad one is Malformed (400).
		e := apperr.InvalidFields(apperr.FieldError{Field: "cursor", Message: msg})
		e.Kind = apperr.Malformed
		return e
	}
	raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil {
		return nil, bad("is not a valid cursor")
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, bad("is not a valid cursor")
	}
	want := []string{AttrPK, AttrSK}
	hash, rng := AttrPK, AttrSK
	if q.Index == IndexGSI1 {
		want = []string{AttrGSI1PK, AttrGSI1SK, AttrPK, AttrSK}
		hash, rng = AttrGSI1PK, AttrGSI1SK
	}
	slices.Sort(want)
	if !slices.Equal(slices.Sorted(maps.Keys(m)), want) {
		return nil, bad("is not a valid cursor")
	}
	if m[hash] != q.PK {
		return nil, bad("belongs to another query")
	}
	if !strings.HasPrefix(m[rng], q.SKPrefix) {
		return nil, bad("belongs to another query")
	}
	key := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		key[k] = &types.AttributeValueMemberS{Value: v}
	}
	return key, nil
}
