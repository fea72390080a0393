module github.com/rmmbridge/rmmbridge

go 1.26.8

// The AWS SDK's DynamoDB, SQS and Secrets Manager modules (and
// dynamodbstreams, which attributevalue links) are pinned to the last
// releases before "schema-based (de)serialization" (dynamodb v1.69.0,
// sqs v1.49.0, secretsmanager v1.50.0, dynamodbstreams v1.42.0), and
// feature/dynamodb/attributevalue and expression to the releases that
// require no newer dynamodb. Those releases build each service's whole
// schema as package-level vars, which every cold start pays: the api
// bootstrap's init went from 0.42 MiB / 3,217 allocs to 1.31 MiB /
// 8,435 allocs (service/dynamodb/schemas alone 587 KB / 3,151 allocs) and
// its cold start from 1.47 to 1.67× hello's (issue 11's limit: 1.5×;
// the other SDK functions ~0.2 higher too; README, Cold start). The layers test
// (TestFunctionsDoLittleAtInit) fails when a function links a service's
// schemas package or allocates over 512 KiB at init. Revisit when the
// SDK builds schemas lazily or cheaply (check with GODEBUG=inittrace=1),
// or when a fix or feature we need lands only after the pin: core
// aws-sdk-go-v2 and smithy-go stay current.
require (
	github.com/aws/aws-lambda-go v1.55.1
	github.com/aws/aws-sdk-go-v2 v1.47.6
	github.com/aws/aws-sdk-go-v2/config v1.33.14
	github.com/aws/aws-sdk-go-v2/credentials v1.20.14
	github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue v1.21.4 // pinned for cold start (see above)
	github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression v1.9.4 // pinned for cold start (see above)
	github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider v1.61.0
	github.com/aws/aws-sdk-go-v2/service/dynamodb v1.68.0 // pinned for cold start (see above)
	github.com/aws/aws-sdk-go-v2/service/secretsmanager v1.49.0 // pinned for cold start (see above)
	github.com/aws/aws-sdk-go-v2/service/sqs v1.48.1 // pinned for cold start (see above)
	github.com/aws/smithy-go v1.28.8
	github.com/chromedp/cdproto v0.160.1
	github.com/chromedp/chromedp v0.23.1
	github.com/getkin/kin-openapi v0.152.0
	github.com/google/go-cmp v0.7.0
	github.com/schollz/progressbar/v3 v3.19.1
	golang.org/x/text v0.14.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/aws/aws-lambda-runtime-interface-emulator v0.0.0-20261030222936-bef5c4ba774d // indirect
	github.com/aws/aws-sdk-go-v2/feature/ec2/imds v1.20.6 // indirect
	github.com/aws/aws-sdk-go-v2/internal/configsources v1.5.9 // indirect
	github.com/aws/aws-sdk-go-v2/internal/endpoints/v2 v2.8.9 // indirect
	github.com/aws/aws-sdk-go-v2/internal/v4a v1.5.9 // indirect
	github.com/aws/aws-sdk-go-v2/service/dynamodbstreams v1.41.0 // indirect; pinned for cold start (see above)
	github.com/aws/aws-sdk-go-v2/service/internal/accept-encoding v1.13.24 // indirect
	github.com/aws/aws-sdk-go-v2/service/internal/endpoint-discovery v1.13.9 // indirect
	github.com/aws/aws-sdk-go-v2/service/internal/presigned-url v1.14.9 // indirect
	github.com/aws/aws-sdk-go-v2/service/signin v1.12.2 // indirect
	github.com/aws/aws-sdk-go-v2/service/sso v1.39.2 // indirect
	github.com/aws/aws-sdk-go-v2/service/ssooidc v1.44.2 // indirect
	github.com/aws/aws-sdk-go-v2/service/sts v1.51.7 // indirect
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/go-chi/chi v1.5.5 // indirect
	github.com/go-chi/chi/v5 v5.4.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/go-openapi/jsonpointer v0.22.5 // indirect
	github.com/go-openapi/swag/jsonname v0.25.5 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jessevdk/go-flags v1.5.0 // indirect
	github.com/kr/pretty v0.3.1 // indirect
	github.com/mitchellh/colorstring v0.0.0-20190213212951-d06e56a500db // indirect
	github.com/oasdiff/yaml v0.1.1 // indirect
	github.com/oasdiff/yaml3 v0.0.14 // indirect
	github.com/orcaman/concurrent-map v1.0.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
	github.com/santhosh-tekuri/jsonschema/v5 v5.3.1 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // indirect
	github.com/sirupsen/logrus v1.9.3 // indirect
	github.com/stretchr/objx v0.5.2 // indirect
	github.com/stretchr/testify v1.9.0 // indirect
	golang.org/x/sys v0.46.0 // indirect
	golang.org/x/term v0.44.0 // indirect
)

tool github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
