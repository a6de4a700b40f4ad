#!/usr/bin/env bash
# Makes sure a redis-server binary exists for the tests, which start their own
# throwaway servers on free loopback ports (they never use the shared 6379).
#
# It installs system packages only when asked to: under CI=true, or with
# LARDER_INSTALL=1, on Debian as root, it installs Debian's redis-server
# package when the binary is missing. Otherwise it says what to install and
# fails, so that a missing server is never a silent skip of the Redis tests.
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

may_install=
if [ "${CI:-}" = true ] || [ "${LARDER_INSTALL:-}" = 1 ]; then
	may_install=1
fi

if [ -n "$may_install" ] && [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null; then
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
	echo "error: the redis-server package installed no redis-server binary" >&2
	exit 1
fi

{
	echo "error: redis-server not found; the tests need it (they start their own servers)."
	echo "Install it and run the command again:"
	echo "  Debian/Ubuntu: sudo apt-get install redis-server"
	echo "  Fedora:        sudo dnf install redis"
	echo "  macOS:         brew install redis"
	if [ -n "$may_install" ]; then
		echo "(Installing it here needs root on Debian with apt-get.)"
	else
		echo "Or let this script install it with apt-get (Debian, as root): LARDER_INSTALL=1 make test"
	fi
} >&2
exit 1
