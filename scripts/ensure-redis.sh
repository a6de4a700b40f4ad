#!/usr/bin/env bash
# Makes sure a redis-server binary exists for the tests, which start their own
# throwaway servers on free loopback ports (they never use the shared 6379).
# On Debian as root it installs the package when it is missing; elsewhere it
# explains what to do. Under CI=true a missing server is an error, never a skip.
set -euo pipefail

find_redis() {
	command -v redis-server 2>/dev/null && return 0
	for p in /usr/bin/redis-server /usr/sbin/redis-server /usr/local/bin/redis-server; do
		[ -x "$p" ] && { echo "$p"; return 0; }
	done
	return 1
}

if bin=$(find_redis); then
	echo "redis-server: $("$bin" --version | head -1)"
	exit 0
fi

if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null; then
	echo "redis-server not found: installing Debian's redis-server package"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# The package's scripts try to start a system service; the tests do not
	# need one, and policy-rc.d keeps the install from touching services.
	policy=/usr/sbin/policy-rc.d
	created_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
	fi
	apt-get install -y -qq --no-install-recommends redis-server >/dev/null
	[ -n "$created_policy" ] && rm -f "$policy"
	if bin=$(find_redis); then
		echo "redis-server installed: $("$bin" --version | head -1)"
		exit 0
	fi
fi

msg="redis-server not found. Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) and run make test again."
if [ "${CI:-}" = true ]; then
	echo "error: $msg" >&2
	exit 1
fi
echo "warning: $msg Tests that need Redis will be skipped." >&2
