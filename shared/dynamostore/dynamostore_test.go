package dynamostore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
)

// testItem is shaped like the project's items: its own keys, a GSI1 key
// pair, a TTL and a few plain attributes.
type testItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	GSI1PK  string `dynamodbav:"gsi1pk,omitempty"`
	GSI1SK  string `dynamodbav:"gsi1sk,omitempty"`
	Name    string `dynamodbav:"name,omitempty"`
	Count   int    `dynamodbav:"count,omitempty"`
	Version int    `dynamodbav:"version"`
	TTL     int64  `dynamodbav:"ttl,omitempty"`
}

func (it testItem) key() Key { return Key{PK: it.PK, SK: it.SK} }

// newTestStore creates a fresh table in moto with the template's layout and
// returns a store on it plus the raw client.
func newTestStore(t *testing.T) (*Store, *dynamodb.Client) {
	t.Helper()
	return newTestStoreOn(t, motoserver.ForTest(t))
}

// newTestStoreOn is newTestStore on the moto server cfg points at.
func newTestStoreOn(t *testing.T, cfg aws.Config) (*Store, *dynamodb.Client) {
	t.Helper()
	client := dynamodb.NewFromConfig(cfg)
	table := testtable.Create(t, client, "dynamostore")
	return New(client, table), client
}

func wantKind(t *testing.T, err error, k apperr.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want kind %v", k)
	}
	if got := apperr.KindOf(err); got != k {
		t.Fatalf("got kind %v (%v), want %v", got, err, k)
	}
}

func cond(c expression.ConditionBuilder) *expression.ConditionBuilder { return &c }

func TestPutGetRoundTrip(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	tests := []struct {
		name string
		item testItem
	}{
		{"keys only", testItem{PK: "T#a", SK: "CONN#1"}},
		{"all attributes", testItem{PK: "T#a", SK: "INT#1", GSI1PK: "T#a#X", GSI1SK: "1", Name: "Contoso, Inc.", Count: 7, Version: 3, TTL: 1893456000}},
		{"unicode and separators", testItem{PK: "T#ü#INT#i", SK: "ORG#ø/1", Name: "Müller & Söhne GmbH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Put(ctx, tt.item, nil); err != nil {
				t.Fatal(err)
			}
			var got testItem
			if err := s.Get(ctx, tt.item.key(), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.item, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetNotFound(t *testing.T) {
	s, _ := newTestStore(t)
	var got testItem
	err := s.Get(context.Background(), Key{PK: "T#a", SK: "CONN#missing"}, &got)
	wantKind(t, err, apperr.NotFound)
	if !strings.Contains(err.Error(), "T#a/CONN#missing") {
		t.Errorf("error %q does not name the key", err)
	}
}

func TestPutConditions(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	base := testItem{PK: "T#a", SK: "INT#1", Name: "secret-ish value", Version: 1}

	if err := s.PutNew(ctx, base); err != nil {
		t.Fatalf("first PutNew: %v", err)
	}
	t.Run("PutNew twice conflicts", func(t *testing.T) {
		again := base
		again.Name = "second"
		err := s.PutNew(ctx, again)
		wantKind(t, err, apperr.Conflict)
		if strings.Contains(err.Error(), "second") || strings.Contains(err.Error(), base.Name) {
			t.Errorf("error %q leaks an attribute value", err)
		}
		var got testItem
		if err := s.Get(ctx, base.key(), &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(base, got); diff != "" {
			t.Errorf("item changed by a failed PutNew (-want +got):\n%s", diff)
		}
	})

	versionIs := func(v int) *expression.ConditionBuilder {
		return cond(expression.Name("version").Equal(expression.Value(v)))
	}
	tests := []struct {
		name     string
		cond     *expression.ConditionBuilder
		version  int
		wantKind apperr.Kind // Internal = success here
		wantErr  bool
	}{
		{"matching version", versionIs(1), 2, 0, false},
		{"stale version", versionIs(1), 3, apperr.Conflict, true},
		{"current version", versionIs(2), 3, 0, false},
		{"unconditional overwrite", nil, 10, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := base
			it.Version = tt.version
			err := s.Put(ctx, it, tt.cond)
			if tt.wantErr {
				wantKind(t, err, tt.wantKind)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	var got testItem
	if err := s.Get(ctx, base.key(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != 10 {
		t.Errorf("final version = %d, want 10", got.Version)
	}
}

func TestPutRejectsItemWithoutKeys(t *testing.T) {
	s, _ := newTestStore(t)
	before := s.Ops()
	err := s.Put(context.Background(), testItem{PK: "T#a"}, nil)
	wantKind(t, err, apperr.Internal)
	if s.Ops() != before {
		t.Errorf("an invalid item reached DynamoDB")
	}
}

func TestUpdate(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	key := Key{PK: "T#a", SK: "JOB#1"}
	if err := s.Put(ctx, testItem{PK: key.PK, SK: key.SK, Name: "queued", Version: 1}, nil); err != nil {
		t.Fatal(err)
	}

	t.Run("condition holds, ALL_NEW returned", func(t *testing.T) {
		upd := expression.Set(expression.Name("name"), expression.Value("running")).
			Add(expression.Name("version"), expression.Value(1))
		var got testItem
		err := s.Update(ctx, key, upd, cond(expression.Name("name").Equal(expression.Value("queued"))), &got)
		if err != nil {
			t.Fatal(err)
		}
		want := testItem{PK: key.PK, SK: key.SK, Name: "running", Version: 2}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ALL_NEW (-want +got):\n%s", diff)
		}
	})
	t.Run("condition fails", func(t *testing.T) {
		upd := expression.Set(expression.Name("name"), expression.Value("done"))
		err := s.Update(ctx, key, upd, cond(expression.Name("name").Equal(expression.Value("queued"))), nil)
		wantKind(t, err, apperr.Conflict)
		var got testItem
		if err := s.Get(ctx, key, &got); err != nil {
			t.Fatal(err)
		}
		if got.Name != "running" {
			t.Errorf("name = %q after a failed update, want running", got.Name)
		}
	})
	t.Run("must exist", func(t *testing.T) {
		upd := expression.Set(expression.Name("name"), expression.Value("x"))
		err := s.Update(ctx, Key{PK: "T#a", SK: "JOB#none"}, upd, cond(Exists()), nil)
		wantKind(t, err, apperr.Conflict)
	})
	t.Run("atomic counter ADD", func(t *testing.T) {
		ck := Key{PK: "T#a", SK: "JOB#counter"}
		var got []int
		for range 5 {
			var it testItem
			if err := s.Update(ctx, ck, expression.Add(expression.Name("count"), expression.Value(2)), nil, &it); err != nil {
				t.Fatal(err)
			}
			got = append(got, it.Count)
		}
		if diff := cmp.Diff([]int{2, 4, 6, 8, 10}, got); diff != "" {
			t.Errorf("counter values (-want +got):\n%s", diff)
		}
	})
}

func TestDelete(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	it := testItem{PK: "T#a", SK: "ORG#1", Version: 1}
	if err := s.Put(ctx, it, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cond    *expression.ConditionBuilder
		want    apperr.Kind
		wantErr bool
	}{
		{"stale version conflicts", cond(expression.Name("version").Equal(expression.Value(9))), apperr.Conflict, true},
		{"matching version deletes", cond(expression.Name("version").Equal(expression.Value(1))), 0, false},
		{"already gone with Exists conflicts", cond(Exists()), apperr.Conflict, true},
		{"already gone without condition succeeds", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Delete(ctx, it.key(), tt.cond)
			if tt.wantErr {
				wantKind(t, err, tt.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	wantKind(t, s.Get(ctx, it.key(), &testItem{}), apperr.NotFound)
}

func TestTransact(t *testing.T) { testTransact(t, newTestStore) }

// testTransact runs the transaction tests on stores made by newTestStore, so
// that they also run against the fast-transactions moto launcher.
func testTransact(t *testing.T, newTestStore func(*testing.T) (*Store, *dynamodb.Client)) {
	ctx := context.Background()
	existing := testItem{PK: "T#a", SK: "ORG#1", Name: "mapped", Version: 1}

	t.Run("success writes every op", func(t *testing.T) {
		s, _ := newTestStore(t)
		if err := s.Put(ctx, existing, nil); err != nil {
			t.Fatal(err)
		}
		gone := testItem{PK: "T#a", SK: "ORG#gone"}
		if err := s.Put(ctx, gone, nil); err != nil {
			t.Fatal(err)
		}
		before := s.Ops()
		err := s.Transact(ctx,
			TxPutNew(testItem{PK: "T#a", SK: "ORG#2", Name: "new"}),
			TxUpdate(existing.key(), expression.Add(expression.Name("version"), expression.Value(1)),
				cond(expression.Name("version").Equal(expression.Value(1)))),
			TxDelete(gone.key(), cond(Exists())),
			TxCheck(Key{PK: "T#a", SK: "ORG#absent"}, cond(NotExists())),
			TxToken("tx-success-1"),
		)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Ops() - before; got != 1 {
			t.Errorf("Transact made %d requests, want 1", got)
		}
		var items []testItem
		if err := s.QueryAll(ctx, Query{PK: "T#a"}, &items); err != nil {
			t.Fatal(err)
		}
		want := []testItem{
			{PK: "T#a", SK: "ORG#1", Name: "mapped", Version: 2},
			{PK: "T#a", SK: "ORG#2", Name: "new"},
		}
		if diff := cmp.Diff(want, items); diff != "" {
			t.Errorf("items after transaction (-want +got):\n%s", diff)
		}
	})

	tests := []struct {
		name       string
		ops        func() []TxOp
		wantFailed []int
	}{
		{
			name: "update condition fails at op 1",
			ops: func() []TxOp {
				return []TxOp{
					TxPutNew(testItem{PK: "T#a", SK: "ORG#2"}),
					TxUpdate(existing.key(), expression.Set(expression.Name("name"), expression.Value("x")),
						cond(expression.Name("version").Equal(expression.Value(7)))),
					TxPut(testItem{PK: "T#a", SK: "ORG#3"}, nil),
				}
			},
			wantFailed: []int{1},
		},
		{
			name: "PutNew on an existing item fails at op 2, token before it counts as a position",
			ops: func() []TxOp {
				return []TxOp{
					TxToken("tx-cancel-2"),
					TxPut(testItem{PK: "T#a", SK: "ORG#2"}, nil),
					TxPutNew(existing),
				}
			},
			wantFailed: []int{2},
		},
		{
			name: "check fails at op 0",
			ops: func() []TxOp {
				return []TxOp{
					TxCheck(existing.key(), cond(NotExists())),
					TxPut(testItem{PK: "T#a", SK: "ORG#2"}, nil),
				}
			},
			wantFailed: []int{0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestStore(t)
			if err := s.Put(ctx, existing, nil); err != nil {
				t.Fatal(err)
			}
			err := s.Transact(ctx, tt.ops()...)
			wantKind(t, err, apperr.Conflict)
			e, _ := apperr.As(err)
			wantMsg := "transaction condition failed on op " + fmt.Sprint(tt.wantFailed[0])
			if e.Message != wantMsg {
				t.Errorf("message = %q, want %q", e.Message, wantMsg)
			}
			var tx *TxCanceledError
			if !errors.As(err, &tx) {
				t.Fatalf("error %v carries no *TxCanceledError", err)
			}
			if diff := cmp.Diff(tt.wantFailed, tx.Failed); diff != "" {
				t.Errorf("failed ops (-want +got):\n%s", diff)
			}
			ops := tt.ops()
			if len(tx.Codes) != len(ops) || tx.Codes[tt.wantFailed[0]] != "ConditionalCheckFailed" {
				t.Errorf("codes = %q, want ConditionalCheckFailed at %d of %d", tx.Codes, tt.wantFailed[0], len(ops))
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("op %d", tt.wantFailed[0])) {
				t.Errorf("error %q does not name the failed op", err)
			}
			var items []testItem
			if err := s.QueryAll(ctx, Query{PK: "T#a"}, &items); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]testItem{existing}, items); diff != "" {
				t.Errorf("a canceled transaction wrote something (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("local validation", func(t *testing.T) {
		s, _ := newTestStore(t)
		k := Key{PK: "T#a", SK: "X"}
		tooMany := make([]TxOp, MaxTxOps+1)
		for i := range tooMany {
			tooMany[i] = TxPut(testItem{PK: "T#a", SK: fmt.Sprintf("X#%03d", i)}, nil)
		}
		cases := map[string][]TxOp{
			"same item twice":       {TxDelete(k, nil), TxCheck(k, cond(Exists()))},
			"check without a cond":  {TxCheck(k, nil)},
			"over 100 ops":          tooMany,
			"item without sort key": {TxPut(testItem{PK: "T#a"}, nil)},
		}
		for name, ops := range cases {
			if err := s.Transact(ctx, ops...); apperr.KindOf(err) != apperr.Internal || err == nil {
				t.Errorf("%s: got %v, want an Internal error", name, err)
			}
		}
		if s.Ops() != 0 {
			t.Errorf("invalid transactions made %d requests, want 0", s.Ops())
		}
	})
}

// seed writes n items under pk with zero-padded sort keys prefix+NNN.
func seed(t *testing.T, s *Store, pk, prefix string, n int, gsi string) []testItem {
	t.Helper()
	var items []testItem
	for i := range n {
		it := testItem{PK: pk, SK: fmt.Sprintf("%s%03d", prefix, i), Count: i}
		if gsi != "" {
			it.GSI1PK, it.GSI1SK = gsi, fmt.Sprintf("G%03d", n-i)
		}
		if err := s.Put(context.Background(), it, nil); err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	return items
}

func sks(items []testItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.SK
	}
	return out
}

func TestQueryPagination(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	want := seed(t, s, "T#a#INT#i", "DEV#", 27, "")
	seed(t, s, "T#a#INT#other", "DEV#", 3, "")

	var got []testItem
	var pageSizes []int
	cursor := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		var items []testItem
		next, err := s.Query(ctx, Query{PK: "T#a#INT#i", Limit: 10, Cursor: cursor}, &items)
		if err != nil {
			t.Fatal(err)
		}
		pageSizes = append(pageSizes, len(items))
		got = append(got, items...)
		if next == "" {
			break
		}
		cursor = next
	}
	if diff := cmp.Diff([]int{10, 10, 7}, pageSizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("all pages (-want +got):\n%s", diff)
	}

	t.Run("QueryAll follows pages", func(t *testing.T) {
		before := s.Ops()
		var all []testItem
		if err := s.QueryAll(ctx, Query{PK: "T#a#INT#i", Limit: 10}, &all); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, all); diff != "" {
			t.Errorf("QueryAll (-want +got):\n%s", diff)
		}
		if n := s.Ops() - before; n != 3 {
			t.Errorf("QueryAll made %d requests, want 3", n)
		}
	})
}

func TestQueryShapes(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	seed(t, s, "T#a#INT#i", "DEV#", 4, "T#a#INT#i#ACCT#9")
	seed(t, s, "T#a#INT#i", "JOB#", 3, "")
	seed(t, s, "T#a#INT#j", "DEV#", 2, "T#a#INT#i#ACCT#other")

	tests := []struct {
		name string
		q    Query
		want []string
	}{
		{"whole partition", Query{PK: "T#a#INT#i"}, []string{"DEV#000", "DEV#001", "DEV#002", "DEV#003", "JOB#000", "JOB#001", "JOB#002"}},
		{"SKPrefix", Query{PK: "T#a#INT#i", SKPrefix: "JOB#"}, []string{"JOB#000", "JOB#001", "JOB#002"}},
		{"Descending", Query{PK: "T#a#INT#i", SKPrefix: "DEV#", Descending: true}, []string{"DEV#003", "DEV#002", "DEV#001", "DEV#000"}},
		// gsi1sk runs opposite to sk in seed, so GSI order is reversed.
		{"GSI1", Query{PK: "T#a#INT#i#ACCT#9", Index: IndexGSI1}, []string{"DEV#003", "DEV#002", "DEV#001", "DEV#000"}},
		{"GSI1 with prefix", Query{PK: "T#a#INT#i#ACCT#9", Index: IndexGSI1, SKPrefix: "G004"}, []string{"DEV#000"}},
		{"Filter", Query{PK: "T#a#INT#i", SKPrefix: "DEV#", Filter: cond(expression.Name("count").GreaterThanEqual(expression.Value(2)))}, []string{"DEV#002", "DEV#003"}},
		{"ConsistentRead", Query{PK: "T#a#INT#j", ConsistentRead: true}, []string{"DEV#000", "DEV#001"}},
		{"empty partition", Query{PK: "T#nobody"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []testItem
			next, err := s.Query(ctx, tt.q, &got)
			if err != nil {
				t.Fatal(err)
			}
			if next != "" {
				t.Errorf("unexpected next cursor %q", next)
			}
			if diff := cmp.Diff(tt.want, sks(got)); diff != "" {
				t.Errorf("sort keys (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("GSI1 pages", func(t *testing.T) {
		var all []testItem
		q := Query{PK: "T#a#INT#i#ACCT#9", Index: IndexGSI1, Limit: 3}
		if err := s.QueryAll(ctx, q, &all); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"DEV#003", "DEV#002", "DEV#001", "DEV#000"}, sks(all)); diff != "" {
			t.Errorf("GSI1 QueryAll (-want +got):\n%s", diff)
		}
	})
}

func TestQueryCursorTampering(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	seed(t, s, "T#a", "DEV#", 5, "T#a#ACCT#1")
	seed(t, s, "T#b", "DEV#", 5, "T#b#ACCT#1")

	var page []testItem
	tableCursor, err := s.Query(ctx, Query{PK: "T#a", Limit: 2}, &page)
	if err != nil || tableCursor == "" {
		t.Fatalf("first page: cursor %q, err %v", tableCursor, err)
	}
	gsiCursor, err := s.Query(ctx, Query{PK: "T#a#ACCT#1", Index: IndexGSI1, Limit: 2}, &page)
	if err != nil || gsiCursor == "" {
		t.Fatalf("first GSI page: cursor %q, err %v", gsiCursor, err)
	}
	forged, err := encodeCursor(map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: "T#b"},
		AttrSK: &types.AttributeValueMemberS{Value: "DEV#001"},
	})
	if err != nil {
		t.Fatal(err)
	}

	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name string
		q    Query
	}{
		{"cursor of another partition", Query{PK: "T#b", Cursor: tableCursor}},
		{"forged cursor for another tenant", Query{PK: "T#a", Cursor: forged}},
		{"table cursor on the index", Query{PK: "T#a", Index: IndexGSI1, Cursor: tableCursor}},
		{"index cursor on the table", Query{PK: "T#a", Cursor: gsiCursor}},
		{"index cursor for another index partition", Query{PK: "T#b#ACCT#1", Index: IndexGSI1, Cursor: gsiCursor}},
		{"cursor outside the SKPrefix", Query{PK: "T#a", SKPrefix: "JOB#", Cursor: tableCursor}},
		{"garbled base64", Query{PK: "T#a", Cursor: "%%%not-base64"}},
		{"base64 of non-JSON", Query{PK: "T#a", Cursor: b64("hello")}},
		{"extra key attribute", Query{PK: "T#a", Cursor: b64(`{"pk":"T#a","sk":"DEV#001","x":"y"}`)}},
		{"non-string value", Query{PK: "T#a", Cursor: b64(`{"pk":1,"sk":"x"}`)}},
	}
	before := s.Ops()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []testItem
			_, err := s.Query(ctx, tt.q, &got)
			wantKind(t, err, apperr.Malformed) // a bad query parameter: 400, as on every list route
			e, _ := apperr.As(err)
			if len(e.Fields) != 1 || e.Fields[0].Field != "cursor" {
				t.Errorf("fields = %+v, want one for cursor", e.Fields)
			}
		})
	}
	if s.Ops() != before {
		t.Errorf("rejected cursors made %d requests", s.Ops()-before)
	}

	t.Run("own cursor continues", func(t *testing.T) {
		var rest []testItem
		if err := s.QueryAll(ctx, Query{PK: "T#a", Limit: 2, Cursor: tableCursor}, &rest); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"DEV#002", "DEV#003", "DEV#004"}, sks(rest)); diff != "" {
			t.Errorf("rest (-want +got):\n%s", diff)
		}
	})
}

func TestQueryUnknownIndex(t *testing.T) {
	s, _ := newTestStore(t)
	var got []testItem
	_, err := s.Query(context.Background(), Query{PK: "T#a", Index: "GSI9"}, &got)
	wantKind(t, err, apperr.Invalid)
}

func TestOps(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	it := testItem{PK: "T#a", SK: "X"}
	steps := []struct {
		name string
		do   func() error
	}{
		{"put", func() error { return s.Put(ctx, it, nil) }},
		{"get", func() error { return s.Get(ctx, it.key(), &testItem{}) }},
		{"failed PutNew still costs a request", func() error { _ = s.PutNew(ctx, it); return nil }},
		{"update", func() error {
			return s.Update(ctx, it.key(), expression.Add(expression.Name("count"), expression.Value(1)), nil, nil)
		}},
		{"query", func() error { _, err := s.Query(ctx, Query{PK: "T#a"}, &[]testItem{}); return err }},
		{"transact", func() error { return s.Transact(ctx, TxPut(testItem{PK: "T#a", SK: "Y"}, nil)) }},
		{"delete", func() error { return s.Delete(ctx, it.key(), nil) }},
	}
	for i, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := s.Ops(); got != int64(i+1) {
			t.Errorf("after %s: Ops() = %d, want %d", st.name, got, i+1)
		}
	}
}

func TestMissingTable(t *testing.T) {
	_, client := newTestStore(t)
	s := New(client, motoserver.UniqueName("no-such-table"))
	err := s.Get(context.Background(), Key{PK: "a", SK: "b"}, &testItem{})
	wantKind(t, err, apperr.Internal)
	if !strings.Contains(err.Error(), s.Table()) {
		t.Errorf("error %q does not name the table", err)
	}
}

func TestClassify(t *testing.T) {
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }
	tests := []struct {
		name string
		err  error
		want apperr.Kind
	}{
		{"condition", &types.ConditionalCheckFailedException{}, apperr.Conflict},
		{"provisioned throughput", &types.ProvisionedThroughputExceededException{}, apperr.Throttled},
		{"throttling", api("ThrottlingException"), apperr.Throttled},
		{"request limit", &types.RequestLimitExceeded{}, apperr.Throttled},
		{"missing table", &types.ResourceNotFoundException{}, apperr.Internal},
		{"validation of our own expression", api("ValidationException"), apperr.Internal},
		{"item too large", &smithy.GenericAPIError{Code: "ValidationException", Message: "Item size has exceeded the maximum allowed size"}, apperr.TooLarge},
		{"sort key too large", &smithy.GenericAPIError{Code: "ValidationException",
			Message: "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"}, apperr.Invalid},
		{"nested too deep", &smithy.GenericAPIError{Code: "ValidationException", Message: "Nesting Levels have exceeded supported limits"}, apperr.Invalid},
		{"tx item too large", &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
			{Code: aws.String("None")}, {Code: aws.String("ValidationError"), Message: aws.String("Item size has exceeded the maximum allowed size")}}}, apperr.TooLarge},
		{"tx validation", &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
			{Code: aws.String("ValidationError")}}}, apperr.Invalid},
		{"server error", &types.InternalServerError{}, apperr.Unavailable},
		{"network", errors.New("dial tcp: connection refused"), apperr.Unavailable},
		{"request not encodable", &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "PutItem",
			Err: &smithy.SerializationError{Err: errors.New("unsupported value")}}, apperr.Internal},
		{"canceled", fmt.Errorf("op: %w", context.Canceled), apperr.Unavailable},
		{"tx condition", &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
			{Code: aws.String("None")}, {Code: aws.String("ConditionalCheckFailed")}}}, apperr.Conflict},
		{"tx conflict", &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
			{Code: aws.String("TransactionConflict")}, {Code: aws.String("None")}}}, apperr.Unavailable},
		{"tx throttled", &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
			{Code: aws.String("ThrottlingError")}}}, apperr.Throttled},
		{"tx reasons only in message", &types.TransactionCanceledException{
			Message: aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]")}, apperr.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apperr.KindOf(classify(tt.err)); got != tt.want {
				t.Errorf("kind = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestStorageLimits writes what DynamoDB refuses to store, through moto:
// each refusal is the caller's (413 or 422), never the 500 or 503 of an
// outage that invites retries, and values nested deeper than DynamoDB
// stores are refused before any request is sent.
func TestStorageLimits(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	type doc struct {
		PK       string         `dynamodbav:"pk"`
		SK       string         `dynamodbav:"sk"`
		Name     string         `dynamodbav:"name,omitempty"`
		Settings map[string]any `dynamodbav:"settings,omitempty"`
	}
	deep := map[string]any{}
	for cur, i := deep, 0; i < 5000; i++ {
		next := map[string]any{}
		cur["a"] = next
		cur = next
	}
	huge := strings.Repeat("x", 900_000)
	long := strings.Repeat("k", 2000)
	set := func(name string, v any) expression.UpdateBuilder {
		return expression.Set(expression.Name(name), expression.Value(v))
	}
	tests := []struct {
		name     string
		do       func() error
		want     apperr.Kind
		requests int64
	}{
		{"put of a 900 KB item", func() error { return s.Put(ctx, doc{PK: "T#a", SK: "X#1", Name: huge}, nil) }, apperr.TooLarge, 1},
		{"transaction with a 900 KB item", func() error {
			return s.Transact(ctx, TxPut(doc{PK: "T#a", SK: "X#2", Name: huge}, nil), TxPut(doc{PK: "T#a", SK: "X#3"}, nil))
		}, apperr.TooLarge, 1},
		{"update to 900 KB", func() error { return s.Update(ctx, Key{PK: "T#a", SK: "X#4"}, set("name", huge), nil, nil) }, apperr.TooLarge, 1},
		{"sort key over 1 KB", func() error { return s.Put(ctx, doc{PK: "T#a", SK: long}, nil) }, apperr.Invalid, 1},
		{"transaction with a sort key over 1 KB", func() error {
			return s.Transact(ctx, TxPut(doc{PK: "T#a", SK: long}, nil), TxPut(doc{PK: "T#a", SK: "X#5"}, nil))
		}, apperr.Invalid, 1},
		{"put nested 5,000 deep", func() error { return s.Put(ctx, doc{PK: "T#a", SK: "X#6", Settings: deep}, nil) }, apperr.Invalid, 0},
		{"update nested 5,000 deep", func() error { return s.Update(ctx, Key{PK: "T#a", SK: "X#7"}, set("settings", deep), nil, nil) }, apperr.Invalid, 0},
		{"transaction nested 5,000 deep", func() error {
			return s.Transact(ctx, TxPut(doc{PK: "T#a", SK: "X#8", Settings: deep}, nil), TxUpdate(Key{PK: "T#a", SK: "X#9"}, set("settings", deep), nil))
		}, apperr.Invalid, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Ops()
			err := tt.do()
			wantKind(t, err, tt.want)
			if n := s.Ops() - before; n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if err != nil && strings.Contains(err.Error(), "xxxxxxxxxx") {
				t.Errorf("the error carries the value: %.200s", err)
			}
		})
	}
	// No refused value was stored. (moto leaves a bare key behind for the
	// refused UpdateItem, X#4 with no attributes; DynamoDB stores nothing.)
	var items []doc
	if err := s.QueryAll(ctx, Query{PK: "T#a"}, &items); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Name != "" || it.Settings != nil || it.SK != "X#4" {
			t.Errorf("a refused write stored %s (name %d bytes, settings %v)", it.SK, len(it.Name), it.Settings != nil)
		}
	}
}
