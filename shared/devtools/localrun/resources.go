package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"gopkg.in/yaml.v3"

	"github.com/rmmbridge/rmmbridge/shared/devtools/samtemplate"
)

// TableAdmin is the part of the DynamoDB API that creates tables
// (*dynamodb.Client satisfies it).
type TableAdmin interface {
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(context.Context, *dynamodb.UpdateTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// queueAdmin is the part of the SQS API the stack uses to create queues.
type queueAdmin interface {
	CreateQueue(context.Context, *sqs.CreateQueueInput, ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueUrl(context.Context, *sqs.GetQueueUrlInput, ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SetQueueAttributes(context.Context, *sqs.SetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
}

// createTables creates every template table (on-demand billing), or reuses
// one that exists, and turns on its TTL.
func (s *Stack) createTables(ctx context.Context, db TableAdmin) error {
	for _, t := range s.tmpl.Tables {
		name, err := s.resourceName(t.TableName, t.LogicalID, "")
		if err != nil {
			return fmt.Errorf("table %s name: %w", t.LogicalID, err)
		}
		arn, err := CreateTable(ctx, db, t, name)
		if err != nil {
			return err
		}
		s.tables[t.LogicalID] = tableInfo{name: name, arn: arn}
	}
	return nil
}

// CreateTable creates template table t as name (on-demand billing: keys,
// attribute definitions, secondary indexes and time-to-live as declared),
// or reuses a table of that name that exists, and returns its ARN. The
// local stack creates its tables with it, and shared/devtools/testtable
// gives tests the same table.
func CreateTable(ctx context.Context, db TableAdmin, t samtemplate.Table, name string) (string, error) {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:   keySchema(t.KeySchema),
	}
	for _, a := range t.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: ddbtypes.ScalarAttributeType(a.AttributeType)})
	}
	for _, g := range t.GlobalSecondaryIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName), KeySchema: keySchema(g.KeySchema), Projection: projection(g)})
	}
	for _, l := range t.LocalSecondaryIndexes {
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, ddbtypes.LocalSecondaryIndex{
			IndexName: aws.String(l.IndexName), KeySchema: keySchema(l.KeySchema), Projection: projection(l)})
	}
	if _, err := db.CreateTable(ctx, in); err != nil {
		var inUse *ddbtypes.ResourceInUseException
		if !errors.As(err, &inUse) {
			return "", fmt.Errorf("create table %s (%s): %w", t.LogicalID, name, err)
		}
	}
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("describe table %s: %w", name, err)
	}
	if t.TTLAttribute != "" {
		if err := enableTTL(ctx, db, name, t.TTLAttribute); err != nil {
			return "", err
		}
	}
	return aws.ToString(desc.Table.TableArn), nil
}

func enableTTL(ctx context.Context, db TableAdmin, table, attr string) error {
	cur, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		return fmt.Errorf("describe TTL of %s: %w", table, err)
	}
	if d := cur.TimeToLiveDescription; d != nil && d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled &&
		aws.ToString(d.AttributeName) == attr {
		return nil
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(table),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on %s.%s: %w", table, attr, err)
	}
	return nil
}

func keySchema(ks []samtemplate.KeyElement) []ddbtypes.KeySchemaElement {
	out := make([]ddbtypes.KeySchemaElement, 0, len(ks))
	for _, k := range ks {
		out = append(out, ddbtypes.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: ddbtypes.KeyType(k.KeyType)})
	}
	return out
}

func projection(ix samtemplate.SecondaryIndex) *ddbtypes.Projection {
	p := &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(ix.ProjectionType)}
	if ix.ProjectionType == "" {
		p.ProjectionType = ddbtypes.ProjectionTypeAll
	}
	if len(ix.NonKeyAttributes) > 0 {
		p.NonKeyAttributes = ix.NonKeyAttributes
	}
	return p
}

// createQueues creates every template queue, dead-letter queues first so
// that redrive policies can name their ARNs. An existing queue is reused
// and its attributes set to the template's.
func (s *Stack) createQueues(ctx context.Context, api queueAdmin) error {
	for _, q := range s.tmpl.QueuesInCreationOrder() {
		suffix := ""
		if q.Fifo {
			suffix = ".fifo"
		}
		name, err := s.resourceName(q.QueueName, q.LogicalID, suffix)
		if err != nil {
			return fmt.Errorf("queue %s name: %w", q.LogicalID, err)
		}
		attrs, err := s.queueAttributes(q)
		if err != nil {
			return fmt.Errorf("queue %s: %w", q.LogicalID, err)
		}
		var url string
		out, err := api.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if err == nil {
			url = aws.ToString(out.QueueUrl)
		} else {
			// It exists with other attributes: reuse it, updating what SQS
			// lets us change.
			var exists *sqstypes.QueueNameExists
			if !errors.As(err, &exists) {
				return fmt.Errorf("create queue %s (%s): %w", q.LogicalID, name, err)
			}
			got, gerr := api.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
			if gerr != nil {
				return fmt.Errorf("find existing queue %s: %w", name, gerr)
			}
			url = aws.ToString(got.QueueUrl)
			delete(attrs, string(sqstypes.QueueAttributeNameFifoQueue))
			if _, serr := api.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: attrs}); serr != nil {
				return fmt.Errorf("update existing queue %s: %w", name, serr)
			}
		}
		ga, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return fmt.Errorf("queue %s ARN: %w", name, err)
		}
		s.queues[q.LogicalID] = queueInfo{name: name, url: url, arn: ga.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]}
	}
	return nil
}

func (s *Stack) queueAttributes(q samtemplate.Queue) (map[string]string, error) {
	attrs := map[string]string{
		"VisibilityTimeout":      strconv.Itoa(q.VisibilityTimeout),
		"MessageRetentionPeriod": strconv.Itoa(q.MessageRetentionPeriod),
		"DelaySeconds":           strconv.Itoa(q.DelaySeconds),
	}
	if q.Fifo {
		attrs["FifoQueue"] = "true"
		attrs["ContentBasedDeduplication"] = strconv.FormatBool(q.ContentBasedDeduplication)
		if q.DeduplicationScope != "" {
			attrs["DeduplicationScope"] = q.DeduplicationScope
		}
		if q.FifoThroughputLimit != "" {
			attrs["FifoThroughputLimit"] = q.FifoThroughputLimit
		}
	}
	if rp := q.RedrivePolicy; rp != nil {
		target, err := s.tmpl.Resolve(rp.DeadLetterTargetArn, s.resolver())
		if err != nil {
			return nil, fmt.Errorf("redrive target: %w", err)
		}
		policy, err := json.Marshal(map[string]any{"deadLetterTargetArn": target, "maxReceiveCount": rp.MaxReceiveCount})
		if err != nil {
			return nil, fmt.Errorf("encode redrive policy: %w", err)
		}
		attrs["RedrivePolicy"] = string(policy)
	}
	return attrs, nil
}

// resourceName is the template's explicit name when it has one, else
// "<stack>-<LogicalId><suffix>".
func (s *Stack) resourceName(explicit *yaml.Node, logicalID, suffix string) (string, error) {
	if explicit == nil {
		return s.o.StackName + "-" + logicalID + suffix, nil
	}
	name, err := s.tmpl.Resolve(explicit, s.resolver())
	if err != nil {
		return "", err
	}
	if suffix != "" && !strings.HasSuffix(name, suffix) {
		return "", fmt.Errorf("name %q must end in %s", name, suffix)
	}
	return name, nil
}
