# larder — the two commands: `go run ./cmd/server` and `make test`.
GO ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Every module of the repository, as go.work lists them: the library (.),
# bench, cmd/server (the reference service), config and prommetrics.
export GOWORK := $(CURDIR)/go.work
MODULES := $(shell $(GO) list -m -f '{{.Dir}}')

# The library module must not require what only the service and the
# adapters need; lint fails if one of these reaches its module graph.
SERVICE_DEPS := pgx|modernc|prometheus|caarlos0|godotenv

.PHONY: test stress lint bench run

## test: the whole suite with -race, against real redis-server processes
test:
	scripts/test.sh

## stress: the suite (CI=true make test) RUNS times (default 1) with a second
## go test -race ./... of the project running beside it; reports pass/fail
stress:
	RUNS=$(RUNS) scripts/stress.sh

## lint: gofmt, go vet, staticcheck and tidy go.mod files, in every module
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@status=0; for d in $(MODULES); do \
		echo "== $$d"; \
		(cd $$d && $(GO) vet ./... && $(STATICCHECK) ./... && GOWORK=off $(GO) mod tidy -diff) || status=1; \
	done; \
	if GOWORK=off $(GO) mod graph | grep -E '$(SERVICE_DEPS)'; then echo "the library module requires the above"; status=1; fi; \
	scripts/fresh-module.sh || status=1; \
	exit $$status

## bench: the library's benchmarks (figures are ratios against baselines in
## the same run, and the wall-clock figures that the tests do not assert)
bench:
	scripts/ensure-redis.sh
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@if [ -f bench/go.mod ]; then cd bench && $(GO) test -run '^$$' -bench . -benchmem ./...; fi

run:
	$(GO) run ./cmd/server
