package dynamostore

// These tests run the transaction semantics against both plain moto and
// moto started through scripts/moto-server (motoserver.StartOptions
// SafeTransactions), whose TransactWriteItems keeps its rollback snapshot
// of the touched items only and which serves DynamoDB requests one at a
// time. The local stack (make dev, the end-to-end and fault tests, the
// benchmark) runs on the wrapper; the rest of this package's tests run on
// plain moto.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
)

// newFastTestStore is newTestStore on the fast-transactions launcher.
func newFastTestStore(t *testing.T) (*Store, *dynamodb.Client) {
	t.Helper()
	return newTestStoreOn(t, motoserver.SafeForTest(t))
}

// motoServers are the two servers the rollback tests compare.
var motoServers = []struct {
	name     string
	newStore func(*testing.T) (*Store, *dynamodb.Client)
}{
	{"moto", newTestStore},
	{"fast moto", newFastTestStore},
}

// TestTransactFastMoto runs TestTransact's cases on the launcher.
func TestTransactFastMoto(t *testing.T) { testTransact(t, newFastTestStore) }

// rollbackFixture is a table holding items for every kind of write to
// touch, plus an unrelated partition.
type rollbackFixture struct {
	upd, del, over, guard testItem
	filler                []testItem
}

func newRollbackFixture(t *testing.T, s *Store) rollbackFixture {
	t.Helper()
	f := rollbackFixture{
		upd:   testItem{PK: "T#a", SK: "ORG#upd", GSI1PK: "T#a#G", GSI1SK: "upd", Name: "before", Version: 1},
		del:   testItem{PK: "T#a", SK: "ORG#del", Name: "to delete", Version: 1},
		over:  testItem{PK: "T#a", SK: "ORG#over", Name: "old", Count: 3, Version: 1},
		guard: testItem{PK: "T#a", SK: "ORG#guard", Version: 1},
	}
	for _, it := range []testItem{f.upd, f.del, f.over, f.guard} {
		if err := s.Put(context.Background(), it, nil); err != nil {
			t.Fatal(err)
		}
	}
	f.filler = seed(t, s, "T#b", "DEV#", 20, "")
	return f
}

// before is partition T#a as the fixture wrote it, in sort-key order.
func (f rollbackFixture) before() []testItem {
	return []testItem{f.del, f.guard, f.over, f.upd}
}

// state reads back both partitions and the GSI1 partition of f.upd.
func (f rollbackFixture) state(t *testing.T, s *Store) (a, b, gsi []testItem) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []struct {
		q   Query
		out *[]testItem
	}{
		{Query{PK: "T#a"}, &a},
		{Query{PK: "T#b"}, &b},
		{Query{PK: f.upd.GSI1PK, Index: IndexGSI1}, &gsi},
	} {
		if err := s.QueryAll(ctx, q.q, q.out); err != nil {
			t.Fatal(err)
		}
	}
	return a, b, gsi
}

// The writes a transaction can make, each touching a different item.
var (
	newItem   = testItem{PK: "T#a", SK: "ORG#new", GSI1PK: "T#a#G", GSI1SK: "new", Name: "new"}
	upsertKey = Key{PK: "T#a", SK: "ORG#upsert"}
)

func (f rollbackFixture) putNew() TxOp { return TxPutNew(newItem) }
func (f rollbackFixture) update() TxOp {
	upd := expression.Set(expression.Name("name"), expression.Value("after")).
		Set(expression.Name(AttrGSI1SK), expression.Value("moved")).
		Add(expression.Name("version"), expression.Value(1))
	return TxUpdate(f.upd.key(), upd, cond(expression.Name("version").Equal(expression.Value(1))))
}
func (f rollbackFixture) delete() TxOp { return TxDelete(f.del.key(), cond(Exists())) }
func (f rollbackFixture) overwrite() TxOp {
	return TxPut(testItem{PK: f.over.PK, SK: f.over.SK, Name: "new"}, nil)
}
func (f rollbackFixture) upsert() TxOp {
	return TxUpdate(upsertKey, expression.Set(expression.Name("name"), expression.Value("created")), nil)
}
func (f rollbackFixture) failCheck() TxOp { return TxCheck(f.guard.key(), cond(NotExists())) }
func (f rollbackFixture) failUpdate() TxOp {
	return TxUpdate(f.guard.key(), expression.Set(expression.Name("name"), expression.Value("x")),
		cond(expression.Name("version").Equal(expression.Value(9))))
}

func TestTransactRollback(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		ops        func(f rollbackFixture) []TxOp
		wantFailed []int
	}{
		{"put rolled back when op 1 fails", func(f rollbackFixture) []TxOp { return []TxOp{f.putNew(), f.failCheck()} }, []int{1}},
		{"update's previous value restored when op 1 fails", func(f rollbackFixture) []TxOp { return []TxOp{f.update(), f.failCheck()} }, []int{1}},
		{"deleted item restored when op 1 fails", func(f rollbackFixture) []TxOp { return []TxOp{f.delete(), f.failUpdate()} }, []int{1}},
		{"overwritten item restored when op 1 fails", func(f rollbackFixture) []TxOp { return []TxOp{f.overwrite(), f.failCheck()} }, []int{1}},
		{"item created by an update removed when op 1 fails", func(f rollbackFixture) []TxOp { return []TxOp{f.upsert(), f.failUpdate()} }, []int{1}},
		{"every kind of write rolled back when the last op fails", func(f rollbackFixture) []TxOp {
			return []TxOp{f.putNew(), f.update(), f.delete(), f.overwrite(), f.upsert(), f.failUpdate()}
		}, []int{5}},
		{"first op fails, later writes not kept", func(f rollbackFixture) []TxOp {
			return []TxOp{f.failCheck(), f.putNew(), f.update(), f.delete()}
		}, []int{0}},
	}
	for _, srv := range motoServers {
		t.Run(srv.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s, _ := srv.newStore(t)
					f := newRollbackFixture(t, s)
					err := s.Transact(ctx, tt.ops(f)...)
					wantKind(t, err, apperr.Conflict)
					var tx *TxCanceledError
					if !errors.As(err, &tx) {
						t.Fatalf("error %v carries no *TxCanceledError", err)
					}
					if diff := cmp.Diff(tt.wantFailed, tx.Failed); diff != "" {
						t.Errorf("failed ops (-want +got):\n%s", diff)
					}
					a, b, gsi := f.state(t, s)
					if diff := cmp.Diff(f.before(), a); diff != "" {
						t.Errorf("partition T#a after a canceled transaction (-want +got):\n%s", diff)
					}
					if diff := cmp.Diff(f.filler, b); diff != "" {
						t.Errorf("untouched partition T#b changed (-want +got):\n%s", diff)
					}
					if diff := cmp.Diff([]testItem{f.upd}, gsi); diff != "" {
						t.Errorf("GSI1 after a canceled transaction (-want +got):\n%s", diff)
					}
				})
			}

			t.Run("success writes every op", func(t *testing.T) {
				s, _ := srv.newStore(t)
				f := newRollbackFixture(t, s)
				err := s.Transact(ctx, f.putNew(), f.update(), f.delete(), f.overwrite(), f.upsert(),
					TxCheck(f.guard.key(), cond(Exists())))
				if err != nil {
					t.Fatal(err)
				}
				updated := f.upd
				updated.Name, updated.GSI1SK, updated.Version = "after", "moved", 2
				wantA := []testItem{
					f.guard,
					newItem,
					{PK: f.over.PK, SK: f.over.SK, Name: "new"},
					updated,
					{PK: upsertKey.PK, SK: upsertKey.SK, Name: "created"},
				}
				a, b, gsi := f.state(t, s)
				if diff := cmp.Diff(wantA, a); diff != "" {
					t.Errorf("partition T#a after the transaction (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(f.filler, b); diff != "" {
					t.Errorf("untouched partition T#b changed (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]testItem{updated, newItem}, gsi); diff != "" {
					t.Errorf("GSI1 after the transaction (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestTransactRollbackOnRejectedRequest covers the requests moto rejects
// part-way through its loop (after earlier ops were applied): the
// ValidationException comes back and nothing stays written.
func TestTransactRollbackOnRejectedRequest(t *testing.T) {
	ctx := context.Background()
	marshal := func(t *testing.T, it testItem) map[string]types.AttributeValue {
		t.Helper()
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			t.Fatal(err)
		}
		return av
	}
	tests := []struct {
		name     string
		ops      func(t *testing.T, table string, f rollbackFixture) []types.TransactWriteItem
		wantCode string
	}{
		{
			name: "same item twice, after two writes",
			ops: func(t *testing.T, table string, f rollbackFixture) []types.TransactWriteItem {
				return []types.TransactWriteItem{
					{Put: &types.Put{TableName: aws.String(table), Item: marshal(t, newItem)}},
					{Delete: &types.Delete{TableName: aws.String(table), Key: f.del.key().av()}},
					{Delete: &types.Delete{TableName: aws.String(table), Key: newItem.key().av()}},
				}
			},
			wantCode: "ValidationException",
		},
		{
			name: "invalid operand type in op 1's update",
			ops: func(t *testing.T, table string, f rollbackFixture) []types.TransactWriteItem {
				return []types.TransactWriteItem{
					{Put: &types.Put{TableName: aws.String(table), Item: marshal(t, newItem)}},
					{Update: &types.Update{
						TableName:                 aws.String(table),
						Key:                       f.upd.key().av(),
						UpdateExpression:          aws.String("SET version = version + :v"),
						ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "x"}},
					}},
				}
			},
			wantCode: "ValidationException",
		},
	}
	for _, srv := range motoServers {
		t.Run(srv.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s, client := srv.newStore(t)
					f := newRollbackFixture(t, s)
					_, err := client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tt.ops(t, s.Table(), f)})
					var api smithy.APIError
					if !errors.As(err, &api) || api.ErrorCode() != tt.wantCode {
						t.Fatalf("got %v, want a %s", err, tt.wantCode)
					}
					a, b, gsi := f.state(t, s)
					if diff := cmp.Diff(f.before(), a); diff != "" {
						t.Errorf("partition T#a after a rejected transaction (-want +got):\n%s", diff)
					}
					if diff := cmp.Diff(f.filler, b); diff != "" {
						t.Errorf("untouched partition T#b changed (-want +got):\n%s", diff)
					}
					if diff := cmp.Diff([]testItem{f.upd}, gsi); diff != "" {
						t.Errorf("GSI1 after a rejected transaction (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

// TestTransactFastMotoConcurrent runs transactions from several goroutines
// at once against the launcher, half of them canceled, and checks that
// every committed write stays and no canceled one does. (Plain moto is left
// out: its whole-table snapshots are taken and restored without a lock, so
// a canceled transaction can put back a table from before another
// transaction's commit.)
func TestTransactFastMotoConcurrent(t *testing.T) {
	ctx := context.Background()
	s, _ := newFastTestStore(t)
	guard := testItem{PK: "T#c", SK: "GUARD"}
	if err := s.Put(ctx, guard, nil); err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 6, 12
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				check := cond(Exists())
				if i%2 == 1 {
					check = cond(NotExists()) // fails: the guard exists
				}
				err := s.Transact(ctx,
					TxUpdate(Key{PK: "T#c", SK: fmt.Sprintf("CTR#%d", w)}, expression.Add(expression.Name("count"), expression.Value(1)), nil),
					TxPutNew(testItem{PK: "T#c", SK: fmt.Sprintf("LOG#%d#%02d", w, i)}),
					TxCheck(guard.key(), check),
				)
				switch {
				case i%2 == 0 && err != nil:
					errs <- fmt.Errorf("worker %d tx %d: %w", w, i, err)
				case i%2 == 1 && apperr.KindOf(err) != apperr.Conflict:
					errs <- fmt.Errorf("worker %d tx %d: got %v, want a Conflict", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var want []testItem
	for w := range workers {
		want = append(want, testItem{PK: "T#c", SK: fmt.Sprintf("CTR#%d", w), Count: perWorker / 2})
	}
	want = append(want, guard)
	for w := range workers {
		for i := 0; i < perWorker; i += 2 {
			want = append(want, testItem{PK: "T#c", SK: fmt.Sprintf("LOG#%d#%02d", w, i)})
		}
	}
	var got []testItem
	if err := s.QueryAll(ctx, Query{PK: "T#c"}, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("items after concurrent transactions (-want +got):\n%s", diff)
	}
}

// TestFastMotoCanceledTransactionKeepsConcurrentWrites is the isolation the
// local stack relies on: plain UpdateItem increments of an item race with
// transactions that touch the same item and are cancelled. In DynamoDB (and
// on the wrapper) every increment stays and no cancelled write does; on
// moto as is, or a wrapper that only locks transactions, a cancelled
// transaction's rollback puts back the item as it was before an increment
// made meanwhile — the lost counter increment that left an import job
// running forever.
func TestFastMotoCanceledTransactionKeepsConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	s, _ := newFastTestStore(t)
	guard := testItem{PK: "T#i", SK: "GUARD"}
	counter := testItem{PK: "T#i", SK: "COUNTER", Name: "counter"}
	for _, it := range []testItem{guard, counter} {
		if err := s.Put(ctx, it, nil); err != nil {
			t.Fatal(err)
		}
	}
	const writers, increments, cancellers, cancels = 4, 50, 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*increments+cancellers*cancels)
	for w := range writers {
		wg.Go(func() {
			for i := range increments {
				if err := s.Update(ctx, counter.key(), expression.Add(expression.Name("count"), expression.Value(1)), nil, nil); err != nil {
					errs <- fmt.Errorf("writer %d increment %d: %w", w, i, err)
				}
			}
		})
	}
	for c := range cancellers {
		wg.Go(func() {
			for i := range cancels {
				// The writes after the counter's widen the window in which
				// moto applies the transaction before cancelling it.
				ops := []TxOp{TxUpdate(counter.key(), expression.Add(expression.Name("version"), expression.Value(1)), nil)}
				for k := range 20 {
					ops = append(ops, TxPutNew(testItem{PK: "T#i", SK: fmt.Sprintf("TMP#%d#%d#%d", c, i, k), Name: "never kept"}))
				}
				err := s.Transact(ctx, append(ops, TxCheck(guard.key(), cond(NotExists())))...) // fails: the guard exists
				if apperr.KindOf(err) != apperr.Conflict {
					errs <- fmt.Errorf("canceller %d tx %d: got %v, want a Conflict", c, i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var got []testItem
	if err := s.QueryAll(ctx, Query{PK: "T#i"}, &got); err != nil {
		t.Fatal(err)
	}
	want := counter
	want.Count = writers * increments
	if diff := cmp.Diff([]testItem{want, guard}, got); diff != "" {
		t.Errorf("items after %d increments beside %d cancelled transactions (-want +got):\n%s", writers*increments, cancellers*cancels, diff)
	}
}
