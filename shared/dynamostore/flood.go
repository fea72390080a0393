package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// floodKeep is how long a flood guard bucket (one organization's hour) is
// kept after it was last written.
const floodKeep = 48 * time.Hour

// floodItem is the flood guard's bucket at T#<tenant>#INT#<integration> /
// FLOOD#<organization>#<hour>: the set of series given their own ticket
// (a set, so that a retried event is admitted again, not counted twice)
// and the hour's summary ticket or the claim to open it.
type floodItem struct {
	Members       []string `dynamodbav:"members,stringset,omitempty"`
	SummaryTicket string   `dynamodbav:"summaryTicketId,omitempty"`
	SummaryOwner  string   `dynamodbav:"summaryOwner,omitempty"`
	SummaryUntil  int64    `dynamodbav:"summaryUntilMs,omitempty"`
}

func floodKey(sc tenancy.Scope, bucket string) Key {
	return Key{PK: IntegrationPK(sc.TenantID, sc.IntegrationID), SK: "FLOOD#" + bucket}
}

// TakeTicketSlot implements alert.FloodGuard with one conditional
// UpdateItem: the series is added to the bucket's set when the set is
// smaller than max or holds it already. DynamoDB serializes the writes of
// one item, so however many workers race, at most max series are ever
// admitted; adding a member twice changes nothing, so an ambiguous write
// retried is harmless.
func (r Alerts) TakeTicketSlot(ctx context.Context, sc tenancy.Scope, bucket, seriesID string, max int) (bool, error) {
	if max < 1 {
		return false, nil
	}
	members := expression.Name("members")
	upd := expression.Add(members, expression.Value(&types.AttributeValueMemberSS{Value: []string{seriesID}})).
		Set(expression.Name("ttl"), expression.Value(time.Now().Add(floodKeep).Unix()))
	cond := expression.AttributeNotExists(members).
		Or(expression.Contains(members, seriesID)).
		Or(expression.Size(members).LessThan(expression.Value(max)))
	err := r.s.Update(ctx, floodKey(sc, bucket), upd, &cond, nil)
	if apperr.Is(err, apperr.Conflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take a ticket slot of flood bucket %s: %w", bucket, err)
	}
	return true, nil
}

// ClaimFloodSummary implements alert.FloodGuard: a conditional UpdateItem
// claims the bucket when it has no summary ticket and no unexpired claim
// of another owner; a failed condition returns the item (read again when
// the server does not), whose ticket, if any, is the answer.
func (r Alerts) ClaimFloodSummary(ctx context.Context, sc tenancy.Scope, bucket, owner string, now, until time.Time) (alert.FloodSummary, error) {
	key := floodKey(sc, bucket)
	fail := func(err error) (alert.FloodSummary, error) {
		return alert.FloodSummary{}, fmt.Errorf("claim the summary ticket of flood bucket %s: %w", bucket, err)
	}
	ownerN, untilN := expression.Name("summaryOwner"), expression.Name("summaryUntilMs")
	upd := expression.Set(ownerN, expression.Value(owner)).Set(untilN, expression.Value(until.UnixMilli())).
		Set(expression.Name("ttl"), expression.Value(now.Add(floodKeep).Unix()))
	cond := expression.AttributeNotExists(expression.Name("summaryTicketId")).And(
		expression.AttributeNotExists(ownerN).Or(untilN.LessThan(expression.Value(now.UnixMilli()))).Or(ownerN.Equal(expression.Value(owner))))
	ex, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return fail(apperr.Wrap(apperr.Internal, err, "build update"))
	}
	r.s.ops.Add(1)
	_, err = r.s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(r.s.table), Key: key.av(), UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return alert.FloodSummary{Claimed: true}, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return fail(classify(err))
	}
	var old floodItem
	if len(ccf.Item) > 0 {
		if err := attributevalue.UnmarshalMap(ccf.Item, &old); err != nil {
			return fail(apperr.Wrap(apperr.Internal, err, "decode item"))
		}
	} else if err := r.s.Get(ctx, key, &old); err != nil {
		return fail(err)
	}
	return alert.FloodSummary{TicketID: old.SummaryTicket}, nil
}

// SetFloodSummaryTicket implements alert.FloodGuard: the claim's owner
// records the ticket (Conflict when the claim passed to another owner who
// recorded a different one).
func (r Alerts) SetFloodSummaryTicket(ctx context.Context, sc tenancy.Scope, bucket, owner, ticketID string) error {
	tn := expression.Name("summaryTicketId")
	upd := expression.Set(tn, expression.Value(ticketID)).Remove(expression.Name("summaryOwner")).Remove(expression.Name("summaryUntilMs"))
	cond := expression.Name("summaryOwner").Equal(expression.Value(owner)).Or(tn.Equal(expression.Value(ticketID)))
	if err := r.s.Update(ctx, floodKey(sc, bucket), upd, &cond, nil); err != nil {
		return fmt.Errorf("record the summary ticket %s of flood bucket %s: %w", ticketID, bucket, err)
	}
	return nil
}
