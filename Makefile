# tenantry — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
STACK := deploy/local/stack.sh
WITH_STACK := bash deploy/local/with-stack.sh

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_\/-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/tenantry (static, with the version).
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/tenantry ./cmd/tenantry

.PHONY: test
test: ## Start the local stack, run every test and short fuzzing, stop what it started.
	$(WITH_STACK) bash deploy/local/test.sh

.PHONY: test/race
test/race: ## Like test, with the race detector.
	TENANTRY_TEST_FLAGS=-race $(WITH_STACK) bash deploy/local/test.sh

.PHONY: fuzz
fuzz: ## Fuzz every parser for FUZZTIME each (default 2m).
	FUZZTIME=$${FUZZTIME:-2m} bash deploy/local/fuzz.sh

.PHONY: lint
lint: ## gofmt, go vet and golangci-lint (pinned in tools/lint).
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	bash deploy/local/install-go-tools.sh lint
	.stack/bin/golangci-lint run ./...

.PHONY: bench
bench: ## Run the benchmarks on the local stack and write docs/benchmarks.md.
	$(WITH_STACK) bash deploy/local/bench.sh

.PHONY: chaos
chaos: ## Long chaos run (worker SIGKILLs, Postgres restart, S3/provider faults) on the local stack.
	$(WITH_STACK) env TENANTRY_CHAOS=long go test -count=1 -timeout 60m -run 'Chaos' -v ./internal/chaos/...

.PHONY: demo
demo: ## Bring the stack up and run the end-to-end demo (two tenants, search, audit, a forged upload).
	$(WITH_STACK) bash deploy/local/demo.sh

.PHONY: console
console: ## Serve the operator console on the local stack with a dev login (after make demo): http://127.0.0.1:8090
	$(WITH_STACK) bash -c 'CGO_ENABLED=0 go build -trimpath -o bin/tenantry ./cmd/tenantry && ./bin/tenantry migrate --log-level=warn && ./bin/tenantry dev console --log-level=warn'

.PHONY: stack/up
stack/up: ## Install (if needed) and start PostgreSQL+pgvector, S3 (versitygw) and SQS (fauxqs) on 127.0.0.1.
	bash $(STACK) up

.PHONY: stack/down
stack/down: ## Stop the local stack.
	bash $(STACK) down

.PHONY: stack/env
stack/env: ## Print the environment for the local stack (eval "$$(make -s stack/env)").
	@bash $(STACK) env

.PHONY: db/reset
db/reset: ## Drop and recreate the local tenantry database, then migrate.
	bash $(STACK) reset-db
	eval "$$(bash $(STACK) env)" && go run ./cmd/tenantry migrate

.PHONY: clean
clean: ## Remove build output (not the stack: see stack/down).
	rm -rf bin
