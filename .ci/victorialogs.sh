#!/usr/bin/env bash
# Builds the pinned VictoriaLogs, the log store the shipping tests send to
# (docs/shipping.md "Tested against VictoriaLogs"), from the Go module
# proxy into a cache dir, and prints the binary's path. Idempotent: a
# binary already there is kept, so CI on the same machine builds it once.
# The tests (internal/victorialogs) find it there, or run this script.
set -euo pipefail
VERSION=v1.52.2
dir="${TRAILCAR_VICTORIALOGS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trailcar/victorialogs-$VERSION}"
bin="$dir/victoria-logs"
if [ ! -x "$bin" ]; then
	mkdir -p "$dir"
	echo "building VictoriaLogs $VERSION into $dir (about 90 s)" >&2
	(cd "$dir" && GOBIN="$dir" GOFLAGS=-buildvcs=false go install "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@$VERSION") >&2
fi
echo "$bin"
