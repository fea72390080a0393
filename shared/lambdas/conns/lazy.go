package conns

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rmmbridge/rmmbridge/shared/secretstore"
)

// Secrets returns the secret store of cfg under prefix; its Secrets
// Manager client is built on its first request, not at the function's
// start (cold start).
func Secrets(cfg aws.Config, prefix string, opts ...secretstore.Option) *secretstore.Store {
	return secretstore.New(lazySecrets{c: sync.OnceValue(func() *secretsmanager.Client { return secretsmanager.NewFromConfig(cfg) })}, prefix, opts...)
}

// lazySecrets is a Secrets Manager client built on first use.
type lazySecrets struct{ c func() *secretsmanager.Client }

func (l lazySecrets) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, o ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	return l.c().CreateSecret(ctx, in, o...)
}

func (l lazySecrets) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return l.c().PutSecretValue(ctx, in, o...)
}

func (l lazySecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return l.c().GetSecretValue(ctx, in, o...)
}

func (l lazySecrets) DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, o ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	return l.c().DeleteSecret(ctx, in, o...)
}

func (l lazySecrets) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, o ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return l.c().DescribeSecret(ctx, in, o...)
}

func (l lazySecrets) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, o ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	return l.c().UpdateSecretVersionStage(ctx, in, o...)
}
