#!/usr/bin/env bash
# The whole suite: what `make test` and CI run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-redis.sh

# -race everywhere; -count=1 so a cached pass never hides a broken machine.
go test -race -count=1 -timeout 12m ./...

# The benchmark module is separate (it pulls in the peers); make sure it
# still builds and its quick checks pass.
if [ -f bench/go.mod ]; then
	(cd bench && go vet ./... && go test -race -count=1 -timeout 5m ./...)
fi
