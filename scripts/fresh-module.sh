#!/usr/bin/env bash
# Builds a new module that imports only the root package and redisstore, as
# a user's service would, and fails if its go.sum names a module beyond the
# core's dependencies: the library must not drag the reference service's
# SQL drivers, settings or metrics along.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
allowed='^(github.com/maypok86/otter/v2|github.com/redis/rueidis|golang.org/x/sync|golang.org/x/sys)$'

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/main.go" <<'GO'
package main

import (
	"context"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/redisstore"
)

func main() {
	s, err := redisstore.New(redisstore.Options{Addr: "127.0.0.1:6379"})
	if err != nil {
		panic(err)
	}
	c, err := larder.New(larder.Options{Store: s})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_, _ = larder.Fetch(context.Background(), c, "k", func(context.Context) (string, error) { return "v", nil })
}
GO
cat >"$dir/go.mod" <<GOMOD
module example.com/fresh

go 1.26

require github.com/larderhq/larder v0.0.0

replace github.com/larderhq/larder => $repo
GOMOD
(cd "$dir" && GOWORK=off GOFLAGS=-mod=mod go build -o /dev/null .)
mods=$(awk '{print $1}' "$dir/go.sum" | sort -u)
echo "fresh module's go.sum: $(echo $mods)"
if extra=$(echo "$mods" | grep -Ev "$allowed"); then
	echo "fresh-module: go.sum names modules beyond the core's: $extra" >&2
	exit 1
fi
