#!/usr/bin/env bash
# The whole suite: what `make test` and CI run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-redis.sh

# The repository holds several modules (the library, the reference service,
# config, prommetrics, bench), joined by go.work. `go test ./...` covers only
# the module of the current directory, so each module runs on its own.
export GOWORK="$PWD/go.work"
mapfile -t modules < <(go list -m -f '{{.Dir}}')
[ "${#modules[@]}" -gt 0 ] || { echo "test.sh: no modules listed by go.work" >&2; exit 1; }

status=0
for dir in "${modules[@]}"; do
	rel=${dir#"$PWD"}
	rel=./${rel#/}
	echo "== $rel"
	# -race everywhere; -count=1 so a cached pass never hides a broken machine.
	# Every module runs even after a failure, so one run reports them all.
	(cd "$dir" && go test -race -count=1 -timeout 12m ./...) || status=1
done
exit $status
