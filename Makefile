# rmmbridge — one boring build path. `make help` lists the targets.
SHELL := /bin/bash
FUNCTIONS := api users console authorizer alert-webhook alert-worker import-dispatch asset-refresh scheduler
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOFLAGS_LAMBDA := -trimpath -tags lambda.norpc -ldflags "-s -w -X github.com/rmmbridge/rmmbridge/shared/api.Version=$(VERSION)"
export CGO_ENABLED := 0

.PHONY: help dev test unit lint build bench bench-autotask coldstart invoke deploy clean chromium $(addprefix invoke-,$(FUNCTIONS))

help: ## list targets
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

# The vendor sandboxes `make dev` and `make bench` start (any of
# shared/devtools/sandboxes; `go run ./cmd/rmmbridge help` lists them).
# DEV_FLAGS adds rmmbridge dev flags, e.g. DEV_FLAGS="-addr 127.0.0.1:3300".
RMM ?= ninjaone
PSA ?= connectwise
DEV_FLAGS ?=

dev: ## run the whole stack locally: moto, the RMM=… and PSA=… sandboxes (ninjaone, dattormm, tacticalrmm; connectwise, autotask, halopsa), HTTP API on 127.0.0.1:3000, queue pollers
	go run ./cmd/rmmbridge dev -rmm $(RMM) -psa $(PSA) $(DEV_FLAGS)

# Every test binary that needs AWS starts its own moto_server on a free
# loopback port and stops it when it exits (shared/devtools/motoserver), so the
# packages' tests run in parallel on separate moto processes (moto is
# single-core bound). Unset AWS_ENDPOINT_URL so no outside server is used.
test: chromium ## vet, every Go test (each starts and stops its own moto), cfn-lint
	go vet ./...
	env -u AWS_ENDPOINT_URL go test -count=1 -timeout 30m ./...
	go test -run '^$$' -fuzz FuzzParseWebhook -fuzztime 10s ./shared/alert/
	cfn-lint template.yaml

# The console's browser tests (shared/console/browsertest) drive Debian's
# headless Chromium; install it when it is missing (root, as on CI).
chromium: ## install Debian's chromium for the console's browser tests when missing
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package) for the console's browser tests"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }
	@chromium --version

unit: ## Go tests only, against an already running moto (AWS_ENDPOINT_URL) or one started per test binary
	go test ./...

lint: ## formatting, vet, template lint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	cfn-lint template.yaml

build: ## cross-compile the Lambda binaries to build/<function>/bootstrap (linux/arm64)
	@for fn in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o build/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done
	@ls -l build/*/bootstrap | awk '{printf "%10d  %s\n", $$5, $$9}'

# `sam build` calls these (Metadata: BuildMethod: makefile) with ARTIFACTS_DIR set.
build-ApiFunction:            ; GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/api
build-UsersFunction:          ; GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/users
build-ConsoleFunction:        ; GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/console
build-AuthorizerFunction:     ; GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/authorizer
build-AlertWebhookFunction:   ; GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/alert-webhook
build-AlertWorkerFunction:    ; GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/alert-worker
build-ImportDispatchFunction: ; GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/import-dispatch
build-AssetRefreshFunction:   ; GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/asset-refresh
build-SchedulerFunction:      ; GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/scheduler

BENCH_DEVICES ?= 10000
COLDSTARTS ?= 101
BENCH_ORGS ?= 200
# The Autotask request-budget benchmark (issue 12): BENCH_AT_DEVICES into
# the Autotask sandbox under BENCH_AT_BUDGET requests a minute, alerts
# arriving during it (about 7 min at the defaults).
BENCH_AT_DEVICES ?= 2000
BENCH_AT_ORGS ?= 40
BENCH_AT_BUDGET ?= 600
BENCH_AT = go run ./cmd/rmmbridge bench --rmm ninjaone --psa autotask --devices $(BENCH_AT_DEVICES) --orgs $(BENCH_AT_ORGS) --budget $(BENCH_AT_BUDGET)
bench: ## end-to-end import benchmark (BENCH_DEVICES over BENCH_ORGS; checks its targets), the Autotask budget benchmark (bench-autotask), the packages' go benchmarks, then the cold starts (target <= 1.5x hello)
	go run ./cmd/rmmbridge bench --rmm $(RMM) --psa $(PSA) --devices $(BENCH_DEVICES) --orgs $(BENCH_ORGS)
	$(BENCH_AT)
	env -u AWS_ENDPOINT_URL go test -run '^$$' -bench . -benchmem ./...
	go run ./cmd/rmmbridge coldstart -n $(COLDSTARTS)

bench-autotask: ## BENCH_AT_DEVICES (2000) into the Autotask sandbox under BENCH_AT_BUDGET (600) requests/min with alert webhooks during it; checks windows <= budget, budget use >= 90 %, <= 3 in flight per endpoint, alert p99 < 5 s, no duplicates
	$(BENCH_AT)

coldstart: ## each function's cold start under the Lambda runtime emulator vs a hello-world function (target <= 1.5x)
	go run ./cmd/rmmbridge coldstart -n $(COLDSTARTS)

deploy: ## build with SAM and deploy (first time: sam deploy --guided)
	sam build && sam deploy

# `sam local invoke` without Docker: the function's bootstrap built for this
# machine (CGO_ENABLED=0, -tags lambda.norpc) under AWS's runtime interface
# emulator (go.mod tool aws-lambda-rie), against the moto of a running
# `make dev` (AWS_ENDPOINT_URL) or one started for the call.
FN ?= api
EVENT ?= events/api-health.json
invoke: ## invoke one function under the Lambda runtime emulator, e.g. make invoke FN=api EVENT=events/api-health.json
	go run ./cmd/rmmbridge invoke -fn $(FN) -event $(EVENT)

$(addprefix invoke-,$(FUNCTIONS)): invoke-%: ## sam local invoke (needs Docker), e.g. make invoke-api EVENT=events/api-health.json
	sam local invoke $$(echo $* | sed -E 's/(^|-)([a-z])/\U\2/g')Function -e $(EVENT)

clean: ## remove build output
	rm -rf build .aws-sam
