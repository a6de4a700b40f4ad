#!/usr/bin/env bash
# The suite on a busy machine: runs `CI=true make test` (scripts/test.sh)
# RUNS times in a row (default 1) while, beside it, a second
# `go test -race -count=1 ./...` of the project runs in a loop until the
# suite ends, as on a CI runner shared with other builds. Prints each run's
# result and duration, the load's rounds, and a summary; exits non-zero if
# any run failed. Logs go to STRESS_LOGS (default: a new temporary
# directory), one file per suite run and one for the load.
#
#	scripts/stress.sh            # or: make stress
#	RUNS=5 scripts/stress.sh     # or: make stress RUNS=5
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-1}
case $runs in '' | *[!0-9]* | 0)
	echo "error: RUNS=$runs, want a positive number" >&2
	exit 2
	;;
esac
logs=${STRESS_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/larder-stress.XXXXXX")}
mkdir -p "$logs"

scripts/ensure-redis.sh

# The load: the project's tests again, over and over. Job control gives it
# a process group of its own, so that it stops with everything it started
# (test binaries, redis-servers) when the suite is done.
load_log=$logs/load.log
set -m
(
	round=0
	while :; do
		round=$((round + 1))
		start=$SECONDS
		if go test -race -count=1 ./... >>"$load_log.out" 2>&1; then
			echo "load round $round: pass in $((SECONDS - start))s" >>"$load_log"
		else
			echo "load round $round: FAIL in $((SECONDS - start))s" >>"$load_log"
		fi
	done
) &
load_pid=$!
set +m

stop_load() {
	if [ -n "${load_pid:-}" ]; then
		kill -TERM -- "-$load_pid" 2>/dev/null || true
		wait "$load_pid" 2>/dev/null || true
		load_pid=
	fi
}
trap stop_load EXIT
trap 'stop_load; exit 130' INT TERM

passed=0
failed=0
for i in $(seq 1 "$runs"); do
	log=$logs/suite-$i.log
	start=$SECONDS
	if CI=true make test >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "run $i/$runs: pass in $((SECONDS - start))s (load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a))"
	else
		failed=$((failed + 1))
		echo "run $i/$runs: FAIL in $((SECONDS - start))s; failures:"
		grep -E '^[[:space:]]*--- FAIL|^FAIL|^panic:|_test\.go:[0-9]+:' "$log" | head -40 | sed 's/^/    /'
	fi
done
stop_load

load_rounds=$(grep -c '^load round' "$load_log" 2>/dev/null || true)
load_fails=$(grep -c 'FAIL' "$load_log" 2>/dev/null || true)
echo "stress: $passed of $runs runs of CI=true make test passed under load ($((load_rounds)) load rounds finished beside them, $((load_fails)) of them failing); logs in $logs"
[ "$failed" -eq 0 ]
