#!/usr/bin/env bash
# HTTP benchmark of the reference service, all in one run so the figures are
# comparable: GET /api/v1/users/1 and the profile endpoint, on a cache hit in
# memory mode, on a cache hit in redis mode (a throwaway redis-server), with
# the cache off, and a bare net/http handler writing the same bytes.
# Loopback only. Usage: bench/http.sh [duration, default 10s]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s}
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
command -v redis-server >/dev/null || scripts/ensure-redis.sh

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/server" ./cmd/server
(cd bench && go build -o "$work/barehttp" ./cmd/barehttp)

redis-server --port 6391 --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --daemonize no >/dev/null &
pids+=($!)

wait_up() { for _ in $(seq 1 300); do curl -fs "http://$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer on $1" >&2; return 1; }
start() { # name port env...
	local name=$1 port=$2; shift 2
	(cd "$work" && exec env SQLITE_PATH="$work/$name.db" HTTP_ADDR="127.0.0.1:$port" LOG_LEVEL=warn "$@" "$work/server" 2>"$work/$name.log") &
	pids+=($!)
	wait_up "127.0.0.1:$port"
}
start memory 8101 CACHE_MODE=memory
start redis 8102 REDIS_URL=redis://127.0.0.1:6391/0
start off 8103 DEBUG=true

paths=(/api/v1/users/1 /api/v1/examples/users/1/profile)
curl -fs "http://127.0.0.1:8101${paths[0]}" >"$work/user.json"
curl -fs "http://127.0.0.1:8101${paths[1]}" >"$work/profile.json"
"$work/barehttp" -addr 127.0.0.1:8104 "${paths[0]}=$work/user.json" "${paths[1]}=$work/profile.json" 2>/dev/null &
pids+=($!)
sleep 0.3

printf '%-34s %-14s %12s %12s %10s\n' path subject req/s p50 p99
for path in "${paths[@]}"; do
	for subject in bare:8104 memory:8101 redis:8102 off:8103; do
		name=${subject%%:*} port=${subject##*:}
		url="http://127.0.0.1:$port$path"
		curl -fs "$url" >/dev/null; curl -fs "$url" >/dev/null # fill the cache
		status=$(curl -s -o /dev/null -D - "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="cache-status"{print $2}')
		out=$(wrk -t2 -c64 -d"$dur" --latency "$url")
		rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
		p50=$(awk '$1=="50%"{print $2}' <<<"$out")
		p99=$(awk '$1=="99%"{print $2}' <<<"$out")
		errs=$(awk '/Non-2xx|Socket errors/{print}' <<<"$out")
		printf '%-34s %-14s %12s %12s %10s %s %s\n' "$path" "$name" "$rps" "$p50" "$p99" "${status:+[$status]}" "$errs"
	done
done
