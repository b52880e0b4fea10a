#!/usr/bin/env bash
# The chaos run: the built binary through faults and attacks (load with
# rotation, deletions and copytruncates; SIGTERM and SIGKILL mid-load; a
# full small filesystem, a tmpfs when root, else RLIMIT_FSIZE; 1,000 slow
# clients; the admin attacks), every line of every file checked after.
# See internal/chaos.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
out=$(mktemp -d "${TMPDIR:-/tmp}/trailcar-chaos-bin.XXXXXX")
trap 'rm -rf "$out"' EXIT
go build -o "$out/trailcar" ./cmd/trailcar
go run ./internal/chaos -bin "$out/trailcar" "$@"
