package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// MaxTxOps is the most operations one transaction may hold (DynamoDB's
// TransactWriteItems limit).
const MaxTxOps = 100

type txKind int

const (
	txPut txKind = iota + 1
	txUpdate
	txDelete
	txCheck
	txToken
)

var txKindNames = map[txKind]string{txPut: "put", txUpdate: "update", txDelete: "delete", txCheck: "check", txToken: "token"}

// TxOp is one operation of a transaction; build it with TxPut, TxPutNew,
// TxUpdate, TxDelete or TxCheck. TxToken is a pseudo-operation that sets the
// transaction's idempotency token.
type TxOp struct {
	kind  txKind
	item  any
	key   Key
	upd   expression.UpdateBuilder
	cond  *expression.ConditionBuilder
	token string
}

// TxPut writes item (which carries its own key), if cond (optional) holds.
func TxPut(item any, cond *expression.ConditionBuilder) TxOp {
	return TxOp{kind: txPut, item: item, cond: cond}
}

// TxPutNew writes item only if no item with its key exists.
func TxPutNew(item any) TxOp {
	c := NotExists()
	return TxPut(item, &c)
}

// TxUpdate applies upd to the item at key, if cond (optional) holds.
func TxUpdate(key Key, upd expression.UpdateBuilder, cond *expression.ConditionBuilder) TxOp {
	return TxOp{kind: txUpdate, key: key, upd: upd, cond: cond}
}

// TxDelete removes the item at key, if cond (optional) holds.
func TxDelete(key Key, cond *expression.ConditionBuilder) TxOp {
	return TxOp{kind: txDelete, key: key, cond: cond}
}

// TxCheck makes the transaction depend on cond holding for the item at key
// without writing it. cond is required.
func TxCheck(key Key, cond *expression.ConditionBuilder) TxOp {
	return TxOp{kind: txCheck, key: key, cond: cond}
}

// TxToken sets the transaction's ClientRequestToken: DynamoDB treats a
// repeat of the same transaction with the same token within 10 minutes as
// already done. It is not an operation and may appear anywhere in the list;
// operation indexes in errors still count it as a position.
func TxToken(token string) TxOp {
	return TxOp{kind: txToken, token: token}
}

// TxCanceledError details a transaction that DynamoDB canceled. Indexes are
// positions in the op list given to Transact.
type TxCanceledError struct {
	// Failed lists the ops whose condition did not hold.
	Failed []int
	// Codes holds DynamoDB's cancellation reason code per op position
	// ("None" for ops that were fine, "" for TxToken or when DynamoDB gave
	// no reasons).
	Codes []string
}

func (e *TxCanceledError) Error() string {
	if len(e.Failed) == 0 {
		return "transaction canceled: " + strings.Join(e.Codes, ",")
	}
	return "transaction canceled: condition failed on op " + joinInts(e.Failed)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// Transact runs ops as one all-or-nothing TransactWriteItems call. When a
// condition fails the error is apperr Conflict naming the failed op
// index(es) (also available as *TxCanceledError via errors.As) and nothing
// is written. Other cancellations (a concurrent transaction, throttling)
// are apperr Unavailable or Throttled.
func (s *Store) Transact(ctx context.Context, ops ...TxOp) error {
	in := &dynamodb.TransactWriteItemsInput{}
	var pos []int // request index -> caller index
	var keys []Key
	seen := map[Key]int{}
	for i, op := range ops {
		if op.kind == txToken {
			in.ClientRequestToken = aws.String(op.token)
			continue
		}
		item, key, err := s.txItem(op)
		if err != nil {
			return fmt.Errorf("transact %s: op %d: %w", s.table, i, err)
		}
		if j, dup := seen[key]; dup {
			return fmt.Errorf("transact %s: %w", s.table,
				apperr.New(apperr.Internal, "ops %d and %d touch the same item %s", j, i, key))
		}
		seen[key] = i
		in.TransactItems = append(in.TransactItems, item)
		pos = append(pos, i)
		keys = append(keys, key)
	}
	if len(in.TransactItems) == 0 {
		return nil
	}
	if len(in.TransactItems) > MaxTxOps {
		return fmt.Errorf("transact %s: %w", s.table,
			apperr.New(apperr.Internal, "%d ops exceed the limit of %d", len(in.TransactItems), MaxTxOps))
	}
	s.ops.Add(1)
	_, err := s.client.TransactWriteItems(ctx, in)
	if err == nil {
		return nil
	}
	cerr := classify(err)
	var tx *TxCanceledError
	if errors.As(cerr, &tx) {
		// Re-index reasons to caller positions and name the failed keys.
		codes := make([]string, len(ops))
		var failed []int
		var where []string
		for r, code := range tx.Codes {
			if r < len(pos) {
				codes[pos[r]] = code
			}
		}
		for _, r := range tx.Failed {
			if r < len(pos) {
				failed = append(failed, pos[r])
				where = append(where, fmt.Sprintf("op %d %s %s", pos[r], txKindNames[ops[pos[r]].kind], keys[r]))
			}
		}
		tx.Codes, tx.Failed = codes, failed
		if e, ok := apperr.As(cerr); ok && e.Kind == apperr.Conflict {
			e.Message = "transaction condition failed on op " + joinInts(failed)
		}
		if len(where) > 0 {
			return fmt.Errorf("transact %s (%s): %w", s.table, strings.Join(where, "; "), cerr)
		}
	}
	return fmt.Errorf("transact %s (%d ops): %w", s.table, len(pos), cerr)
}

func (s *Store) txItem(op TxOp) (types.TransactWriteItem, Key, error) {
	var ex expression.Expression
	var hasEx bool
	build := func(b expression.Builder) error {
		var err error
		ex, err = b.Build()
		if err != nil {
			return apperr.Wrap(apperr.Internal, err, "build expression")
		}
		hasEx = true
		return nil
	}
	withCond := func() error {
		if op.cond == nil {
			return nil
		}
		return build(expression.NewBuilder().WithCondition(*op.cond))
	}
	table := aws.String(s.table)
	switch op.kind {
	case txPut:
		av, key, err := marshalItem(op.item)
		if err != nil {
			return types.TransactWriteItem{}, Key{}, err
		}
		if err := withCond(); err != nil {
			return types.TransactWriteItem{}, key, err
		}
		p := &types.Put{TableName: table, Item: av}
		if hasEx {
			p.ConditionExpression, p.ExpressionAttributeNames, p.ExpressionAttributeValues = ex.Condition(), ex.Names(), ex.Values()
		}
		return types.TransactWriteItem{Put: p}, key, nil
	case txUpdate:
		b := expression.NewBuilder().WithUpdate(op.upd)
		if op.cond != nil {
			b = b.WithCondition(*op.cond)
		}
		if err := build(b); err != nil {
			return types.TransactWriteItem{}, op.key, err
		}
		if err := checkDepth(ex.Values()); err != nil {
			return types.TransactWriteItem{}, op.key, err
		}
		return types.TransactWriteItem{Update: &types.Update{
			TableName:                 table,
			Key:                       op.key.av(),
			UpdateExpression:          ex.Update(),
			ConditionExpression:       ex.Condition(),
			ExpressionAttributeNames:  ex.Names(),
			ExpressionAttributeValues: ex.Values(),
		}}, op.key, nil
	case txDelete:
		if err := withCond(); err != nil {
			return types.TransactWriteItem{}, op.key, err
		}
		d := &types.Delete{TableName: table, Key: op.key.av()}
		if hasEx {
			d.ConditionExpression, d.ExpressionAttributeNames, d.ExpressionAttributeValues = ex.Condition(), ex.Names(), ex.Values()
		}
		return types.TransactWriteItem{Delete: d}, op.key, nil
	case txCheck:
		if op.cond == nil {
			return types.TransactWriteItem{}, op.key, apperr.New(apperr.Internal, "check without a condition")
		}
		if err := withCond(); err != nil {
			return types.TransactWriteItem{}, op.key, err
		}
		return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName:                 table,
			Key:                       op.key.av(),
			ConditionExpression:       ex.Condition(),
			ExpressionAttributeNames:  ex.Names(),
			ExpressionAttributeValues: ex.Values(),
		}}, op.key, nil
	}
	return types.TransactWriteItem{}, Key{}, apperr.New(apperr.Internal, "empty TxOp")
}

// classifyCanceled turns a TransactionCanceledException into a
// *TxCanceledError (indexes are request positions here; Transact maps them
// to caller positions) classified by its reasons.
func classifyCanceled(err error, tce *types.TransactionCanceledException) error {
	codes := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		codes[i] = aws.ToString(r.Code)
	}
	if len(codes) == 0 {
		codes = reasonsFromMessage(tce.ErrorMessage())
	}
	tx := &TxCanceledError{Codes: codes}
	throttled := false
	invalid, invalidMsg := false, ""
	for i, c := range codes {
		switch c {
		case "ConditionalCheckFailed":
			tx.Failed = append(tx.Failed, i)
		case "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
			throttled = true
		case "ValidationError":
			invalid, invalidMsg = true, tce.ErrorMessage()
			if i < len(tce.CancellationReasons) && tce.CancellationReasons[i].Message != nil {
				invalidMsg = aws.ToString(tce.CancellationReasons[i].Message)
			}
		}
	}
	cause := fmt.Errorf("%w (%w)", tx, err)
	switch {
	case len(tx.Failed) > 0:
		return apperr.Wrap(apperr.Conflict, cause, "transaction condition failed on op %s", joinInts(tx.Failed))
	case throttled:
		return apperr.Wrap(apperr.Throttled, cause, "database throttled")
	case invalid:
		// Retrying cannot help: DynamoDB refused a value of the request.
		if e, _ := apperr.As(classifyValidation(cause, invalidMsg)); e.Kind != apperr.Internal {
			return e
		}
		return apperr.Wrap(apperr.Invalid, cause, "the database refused a value of the request")
	}
	return apperr.Wrap(apperr.Unavailable, cause, "transaction canceled")
}

// reasonsFromMessage reads the reason list DynamoDB also puts in the
// message ("... reasons [ConditionalCheckFailed, None]"), for servers that
// leave CancellationReasons out.
func reasonsFromMessage(msg string) []string {
	i, j := strings.LastIndex(msg, "["), strings.LastIndex(msg, "]")
	if i < 0 || j < i {
		return nil
	}
	parts := strings.Split(msg[i+1:j], ",")
	for k := range parts {
		parts[k] = strings.TrimSpace(parts[k])
	}
	return parts
}
