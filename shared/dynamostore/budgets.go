package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// Budgets keeps the vendors' request budgets (ratelimit.Store): per
// budget, under partition key T#<tenant>#BUDGET#<key>, the item BUCKET
// (tokens, refilledAt, coolDownUntil, rate, capacity, epoch, v, taken,
// requests, windowMs, baseRequests, allowed, allowedUntil, calibratedAt,
// samples, ttl) and one item LEASE#<endpoint>#<slot> per concurrency slot
// in use (holder, expiresAt, ttl). Times are epoch milliseconds; ttl is
// epoch seconds. Every method is one DynamoDB request: draws and lease
// acquisitions are conditional writes that return the item as it is
// when their condition fails (ReturnValuesOnConditionCheckFailure), so a
// lost race costs no extra read.
type Budgets struct{ s *Store }

var _ ratelimit.Store = Budgets{}

// NewBudgets returns the budget store over s.
func NewBudgets(s *Store) Budgets { return Budgets{s: s} }

// Budget item keys and the life of an idle bucket.
const (
	budgetBucketSK = "BUCKET"
	budgetLeaseSK  = "LEASE#"
	// budgetIdleTTL is how long a bucket outlives its last rebase: a
	// budget unused that long starts again full.
	budgetIdleTTL = 7 * 24 * time.Hour
	// leaseItemTTL is how long a lease item outlives its expiry.
	leaseItemTTL = time.Hour
)

func budgetPK(id ratelimit.ID) (string, error) {
	if id.Tenant == "" || id.Key == "" {
		return "", apperr.New(apperr.Internal, "a request budget needs a tenant and a key")
	}
	return "T#" + id.Tenant + "#BUDGET#" + id.Key, nil
}

func leaseSK(endpoint string, slot int) string {
	return budgetLeaseSK + endpoint + "#" + strconv.Itoa(slot)
}

func avNum(f float64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatFloat(f, 'f', -1, 64)}
}

func avInt(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func avMs(t time.Time) types.AttributeValue {
	if t.IsZero() {
		return avInt(0)
	}
	return avInt(t.UnixMilli())
}

func avStr(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func avTTL(t time.Time) types.AttributeValue { return avInt(t.Unix()) }

func bucketKey(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: avStr(pk), AttrSK: avStr(budgetBucketSK)}
}

// bucketItem is b as a whole item.
func bucketItem(pk string, b ratelimit.Bucket) map[string]types.AttributeValue {
	samples := make([]types.AttributeValue, len(b.Samples))
	for i, s := range b.Samples {
		samples[i] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"at": avMs(s.At), "taken": avInt(s.Taken)}}
	}
	return map[string]types.AttributeValue{
		AttrPK: avStr(pk), AttrSK: avStr(budgetBucketSK),
		"tokens": avNum(b.Tokens), "refilledAt": avMs(b.RefilledAt), "coolDownUntil": avMs(b.CoolDownUntil),
		"rate": avNum(b.Rate), "capacity": avNum(b.Capacity), "epoch": avInt(b.Epoch), "v": avInt(b.Version),
		"taken": avInt(b.Taken), "requests": avInt(int64(b.Requests)), "windowMs": avInt(b.Window.Milliseconds()),
		"baseRequests": avInt(int64(b.BaseRequests)), "allowed": avInt(int64(b.Allowed)), "allowedUntil": avMs(b.AllowedUntil),
		"calibratedAt": avMs(b.CalibratedAt), "samples": &types.AttributeValueMemberL{Value: samples},
		AttrTTL: avTTL(b.RefilledAt.Add(budgetIdleTTL)),
	}
}

// readBucket decodes a bucket item; missing attributes are zero.
func readBucket(item map[string]types.AttributeValue) (ratelimit.Bucket, error) {
	var b ratelimit.Bucket
	var err error
	f := func(name string) float64 {
		v, ok := item[name].(*types.AttributeValueMemberN)
		if !ok {
			return 0
		}
		x, perr := strconv.ParseFloat(v.Value, 64)
		if perr != nil && err == nil {
			err = fmt.Errorf("attribute %s: %w", name, perr)
		}
		return x
	}
	i := func(name string) int64 { return int64(f(name)) }
	t := func(name string) time.Time {
		if n := i(name); n > 0 {
			return time.UnixMilli(n)
		}
		return time.Time{}
	}
	b.Tokens, b.RefilledAt, b.CoolDownUntil = f("tokens"), t("refilledAt"), t("coolDownUntil")
	b.Rate, b.Capacity, b.Epoch, b.Version, b.Taken = f("rate"), f("capacity"), i("epoch"), i("v"), i("taken")
	b.Requests, b.Window, b.BaseRequests = int(i("requests")), time.Duration(i("windowMs"))*time.Millisecond, int(i("baseRequests"))
	b.Allowed, b.AllowedUntil, b.CalibratedAt = int(i("allowed")), t("allowedUntil"), t("calibratedAt")
	if l, ok := item["samples"].(*types.AttributeValueMemberL); ok {
		for _, e := range l.Value {
			m, ok := e.(*types.AttributeValueMemberM)
			if !ok {
				continue
			}
			at, _ := m.Value["at"].(*types.AttributeValueMemberN)
			tk, _ := m.Value["taken"].(*types.AttributeValueMemberN)
			if at == nil || tk == nil {
				continue
			}
			an, _ := strconv.ParseInt(at.Value, 10, 64)
			tn, _ := strconv.ParseInt(tk.Value, 10, 64)
			b.Samples = append(b.Samples, ratelimit.Sample{At: time.UnixMilli(an), Taken: tn})
		}
	}
	if err != nil {
		return ratelimit.Bucket{}, apperr.Wrap(apperr.Internal, err, "decode request budget")
	}
	return b, nil
}

// failedItem returns the item a failed condition reported, if any.
func failedItem(err error) (map[string]types.AttributeValue, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true
	}
	return nil, false
}

// GetBucket implements ratelimit.Store.
func (b Budgets) GetBucket(ctx context.Context, id ratelimit.ID) (ratelimit.Bucket, bool, error) {
	pk, err := budgetPK(id)
	if err != nil {
		return ratelimit.Bucket{}, false, err
	}
	b.s.ops.Add(1)
	res, err := b.s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(b.s.table), Key: bucketKey(pk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return ratelimit.Bucket{}, false, fmt.Errorf("get budget %s: %w", pk, classify(err))
	}
	if res.Item == nil {
		return ratelimit.Bucket{}, false, nil
	}
	got, err := readBucket(res.Item)
	return got, err == nil, err
}

// CreateBucket implements ratelimit.Store.
func (b Budgets) CreateBucket(ctx context.Context, id ratelimit.ID, bk ratelimit.Bucket) (ratelimit.Bucket, bool, error) {
	pk, err := budgetPK(id)
	if err != nil {
		return ratelimit.Bucket{}, false, err
	}
	bk.Version = 1
	b.s.ops.Add(1)
	_, err = b.s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(b.s.table), Item: bucketItem(pk, bk),
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if item, lost := failedItem(err); lost {
		got, err := readBucket(item)
		return got, false, err
	}
	if err != nil {
		return ratelimit.Bucket{}, false, fmt.Errorf("create budget %s: %w", pk, classify(err))
	}
	return bk, true, nil
}

// Draw implements ratelimit.Store.
func (b Budgets) Draw(ctx context.Context, id ratelimit.ID, t ratelimit.Take) (ratelimit.Bucket, bool, bool, error) {
	pk, err := budgetPK(id)
	if err != nil {
		return ratelimit.Bucket{}, false, false, err
	}
	vals := map[string]types.AttributeValue{":e": avInt(t.Epoch), ":one": avInt(1), ":n": avInt(t.Taken)}
	conds := []string{"epoch = :e"}
	if !t.NotCoolingAt.IsZero() {
		vals[":now"] = avMs(t.NotCoolingAt)
		conds = append(conds, "(attribute_not_exists(coolDownUntil) OR coolDownUntil <= :now)")
	}
	if t.Min != nil {
		vals[":min"] = avNum(*t.Min)
		conds = append(conds, "tokens >= :min")
	}
	if t.Max != nil {
		vals[":max"] = avNum(*t.Max)
		conds = append(conds, "tokens <= :max")
	}
	set := []string{"v = v + :one"}
	if t.SetTokens != nil {
		vals[":tokens"] = avNum(*t.SetTokens)
		set = append(set, "tokens = :tokens")
	} else {
		vals[":add"] = avNum(t.AddTokens)
		set = append(set, "tokens = tokens + :add")
	}
	names := map[string]string{}
	if !t.SetRefilledAt.IsZero() {
		vals[":at"], vals[":ttl"] = avMs(t.SetRefilledAt), avTTL(t.SetRefilledAt.Add(budgetIdleTTL))
		names["#ttl"] = AttrTTL
		set = append(set, "refilledAt = :at", "epoch = epoch + :one", "#ttl = :ttl")
	}
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String(b.s.table), Key: bucketKey(pk),
		UpdateExpression:                    aws.String("SET " + strings.Join(set, ", ") + " ADD taken :n"),
		ConditionExpression:                 aws.String(strings.Join(conds, " AND ")),
		ExpressionAttributeValues:           vals,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if len(names) > 0 {
		in.ExpressionAttributeNames = names
	}
	b.s.ops.Add(1)
	res, err := b.s.client.UpdateItem(ctx, in)
	if item, lost := failedItem(err); lost {
		if len(item) == 0 {
			return ratelimit.Bucket{}, false, false, nil
		}
		got, err := readBucket(item)
		return got, false, err == nil, err
	}
	if err != nil {
		return ratelimit.Bucket{}, false, false, fmt.Errorf("draw from budget %s: %w", pk, classify(err))
	}
	got, err := readBucket(res.Attributes)
	return got, err == nil, err == nil, err
}

// Rewrite implements ratelimit.Store: the item is replaced with bk, its
// epoch bk.Epoch+1 and its version version+1, if its version is version.
func (b Budgets) Rewrite(ctx context.Context, id ratelimit.ID, version int64, bk ratelimit.Bucket) (ratelimit.Bucket, bool, error) {
	pk, err := budgetPK(id)
	if err != nil {
		return ratelimit.Bucket{}, false, err
	}
	bk.Version, bk.Epoch = version+1, bk.Epoch+1
	b.s.ops.Add(1)
	_, err = b.s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(b.s.table), Item: bucketItem(pk, bk),
		ConditionExpression:                 aws.String("v = :v"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":v": avInt(version)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if item, lost := failedItem(err); lost {
		if len(item) == 0 {
			return ratelimit.Bucket{}, false, nil
		}
		got, err := readBucket(item)
		return got, false, err
	}
	if err != nil {
		return ratelimit.Bucket{}, false, fmt.Errorf("rewrite budget %s: %w", pk, classify(err))
	}
	return bk, true, nil
}

// SetCoolDown implements ratelimit.Store.
func (b Budgets) SetCoolDown(ctx context.Context, id ratelimit.ID, until time.Time) error {
	pk, err := budgetPK(id)
	if err != nil {
		return err
	}
	b.s.ops.Add(1)
	_, err = b.s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(b.s.table), Key: bucketKey(pk),
		UpdateExpression:          aws.String("SET coolDownUntil = :until, v = if_not_exists(v, :zero) + :one, #ttl = if_not_exists(#ttl, :ttl)"),
		ConditionExpression:       aws.String("attribute_not_exists(coolDownUntil) OR coolDownUntil < :until"),
		ExpressionAttributeNames:  map[string]string{"#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":until": avMs(until), ":zero": avInt(0), ":one": avInt(1), ":ttl": avTTL(until.Add(budgetIdleTTL))},
	})
	if _, lost := failedItem(err); lost {
		return nil // a longer cool-down is already set
	}
	if err != nil {
		return fmt.Errorf("cool down budget %s: %w", pk, classify(err))
	}
	return nil
}

// ClaimCalibration implements ratelimit.Store.
func (b Budgets) ClaimCalibration(ctx context.Context, id ratelimit.ID, now time.Time, every time.Duration) (bool, error) {
	pk, err := budgetPK(id)
	if err != nil {
		return false, err
	}
	b.s.ops.Add(1)
	_, err = b.s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(b.s.table), Key: bucketKey(pk),
		UpdateExpression:          aws.String("SET calibratedAt = :now, v = v + :one"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND (attribute_not_exists(calibratedAt) OR calibratedAt <= :cut)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": avMs(now), ":cut": avMs(now.Add(-every)), ":one": avInt(1)},
	})
	if _, lost := failedItem(err); lost {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim calibration of budget %s: %w", pk, classify(err))
	}
	return true, nil
}

func leaseItem(pk string, l ratelimit.Lease) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: avStr(pk), AttrSK: avStr(leaseSK(l.Endpoint, l.Slot)),
		"endpoint": avStr(l.Endpoint), "slot": avInt(int64(l.Slot)), "holder": avStr(l.Holder),
		"expiresAt": avMs(l.ExpiresAt), AttrTTL: avTTL(l.ExpiresAt.Add(leaseItemTTL)),
	}
}

func readLease(item map[string]types.AttributeValue) ratelimit.Lease {
	var l ratelimit.Lease
	if v, ok := item["endpoint"].(*types.AttributeValueMemberS); ok {
		l.Endpoint = v.Value
	}
	if v, ok := item["holder"].(*types.AttributeValueMemberS); ok {
		l.Holder = v.Value
	}
	if v, ok := item["slot"].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.Atoi(v.Value)
		l.Slot = n
	}
	if v, ok := item["expiresAt"].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		l.ExpiresAt = time.UnixMilli(n)
	}
	return l
}

// AcquireLease implements ratelimit.Store.
func (b Budgets) AcquireLease(ctx context.Context, id ratelimit.ID, l ratelimit.Lease, now time.Time) (bool, ratelimit.Lease, error) {
	pk, err := budgetPK(id)
	if err != nil {
		return false, ratelimit.Lease{}, err
	}
	b.s.ops.Add(1)
	_, err = b.s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(b.s.table), Item: leaseItem(pk, l),
		ConditionExpression:                 aws.String("attribute_not_exists(pk) OR expiresAt <= :now"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": avMs(now)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if item, lost := failedItem(err); lost {
		return false, readLease(item), nil
	}
	if err != nil {
		return false, ratelimit.Lease{}, fmt.Errorf("acquire %s of budget %s: %w", leaseSK(l.Endpoint, l.Slot), pk, classify(err))
	}
	return true, l, nil
}

// RenewLease implements ratelimit.Store.
func (b Budgets) RenewLease(ctx context.Context, id ratelimit.ID, l ratelimit.Lease) (bool, error) {
	pk, err := budgetPK(id)
	if err != nil {
		return false, err
	}
	b.s.ops.Add(1)
	_, err = b.s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(b.s.table),
		Key:                       map[string]types.AttributeValue{AttrPK: avStr(pk), AttrSK: avStr(leaseSK(l.Endpoint, l.Slot))},
		UpdateExpression:          aws.String("SET expiresAt = :exp, #ttl = :ttl"),
		ConditionExpression:       aws.String("holder = :h"),
		ExpressionAttributeNames:  map[string]string{"#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":exp": avMs(l.ExpiresAt), ":ttl": avTTL(l.ExpiresAt.Add(leaseItemTTL)), ":h": avStr(l.Holder)},
	})
	if _, lost := failedItem(err); lost {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("renew %s of budget %s: %w", leaseSK(l.Endpoint, l.Slot), pk, classify(err))
	}
	return true, nil
}

// ReleaseLease implements ratelimit.Store.
func (b Budgets) ReleaseLease(ctx context.Context, id ratelimit.ID, l ratelimit.Lease) error {
	pk, err := budgetPK(id)
	if err != nil {
		return err
	}
	b.s.ops.Add(1)
	_, err = b.s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(b.s.table),
		Key:                       map[string]types.AttributeValue{AttrPK: avStr(pk), AttrSK: avStr(leaseSK(l.Endpoint, l.Slot))},
		ConditionExpression:       aws.String("holder = :h"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": avStr(l.Holder)},
	})
	if _, lost := failedItem(err); lost {
		return nil // expired and taken by another holder meanwhile
	}
	if err != nil {
		return fmt.Errorf("release %s of budget %s: %w", leaseSK(l.Endpoint, l.Slot), pk, classify(err))
	}
	return nil
}

// Leases implements ratelimit.Store.
func (b Budgets) Leases(ctx context.Context, id ratelimit.ID, endpoint string) ([]ratelimit.Lease, error) {
	pk, err := budgetPK(id)
	if err != nil {
		return nil, err
	}
	b.s.ops.Add(1)
	res, err := b.s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(b.s.table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avStr(pk), ":prefix": avStr(budgetLeaseSK + endpoint + "#"),
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("list leases of budget %s: %w", pk, classify(err))
	}
	out := make([]ratelimit.Lease, 0, len(res.Items))
	for _, item := range res.Items {
		if l := readLease(item); l.Endpoint == endpoint {
			out = append(out, l)
		}
	}
	return out, nil
}
