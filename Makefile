# larder — the two commands: `go run ./cmd/server` and `make test`.
GO ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test stress lint bench run

## test: the whole suite with -race, against real redis-server processes
test:
	scripts/test.sh

## stress: the suite (CI=true make test) RUNS times (default 1) with a second
## go test -race ./... of the project running beside it; reports pass/fail
stress:
	RUNS=$(RUNS) scripts/stress.sh

## lint: gofmt, go vet and staticcheck must be clean
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@if [ -f bench/go.mod ]; then cd bench && $(GO) vet ./... && $(STATICCHECK) ./...; fi

## bench: the library's benchmarks (figures are ratios against baselines in
## the same run, and the wall-clock figures that the tests do not assert)
bench:
	scripts/ensure-redis.sh
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@if [ -f bench/go.mod ]; then cd bench && $(GO) test -run '^$$' -bench . -benchmem ./...; fi

run:
	$(GO) run ./cmd/server
