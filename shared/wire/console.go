package wire

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/console"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
)

// Console builds the console function: the embedded files, no
// environment, no AWS client.
func Console(_ context.Context, _ func(string) string, _ aws.Config) (lambdafn.Handlers, error) {
	c, err := console.New()
	if err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("console: %w", err)
	}
	return lambdafn.Handlers{HTTP: c.Serve}, nil
}
