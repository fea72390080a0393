// Package consolefn builds the console function: the operator console's
// embedded files (shared/console), no environment, no AWS client.
package consolefn

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/console"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
)

// Build builds the console function (a lambdafn.Factory): the embedded
// files, no environment, no AWS client. It is its own wiring, so the
// console's binary links nothing else of the project.
func Build(_ context.Context, _ func(string) string, _ aws.Config) (lambdafn.Handlers, error) {
	c, err := console.New()
	if err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("console: %w", err)
	}
	return lambdafn.Handlers{HTTP: c.Serve}, nil
}
