#!/usr/bin/env bash
# internal/bench/proxy.sh — trailcar in compare/run.sh beside go-bare, go-pooled, nginx,
# Caddy and HAProxy, tracking every request (examples/bench.yaml), plus the
# sidecar's peak RSS under that load.
#
#   internal/bench/proxy.sh                       # defaults of run.sh (10 s x 3 rounds)
#   DURATION=5 ROUNDS=2 internal/bench/proxy.sh   # quicker
#   TARGETS="go-bare caddy-json sidecar" internal/bench/proxy.sh
#
# Needs nginx, caddy, haproxy and wrk: internal/bench/compare/setup.sh installs them (root).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=${BENCH:-$ROOT/internal/bench/compare}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/trailcar-bench.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

(cd "$ROOT" && go build -o "$OUT/trailcar" ./cmd/trailcar)

# The wrapper records the sidecar's peak RSS (VmHWM) while it runs, with bash
# builtins only (no process started per poll: the bench counts the CPU of the
# whole process group).
cat >"$OUT/sidecar.sh" <<WRAP
#!/usr/bin/env bash
"$OUT/trailcar" serve --config "$ROOT/examples/bench.yaml" --listen "\$1" --upstream "\$2" --log-dir "\$3" &
pid=\$!
trap 'kill -TERM \$pid; wait \$pid' TERM INT
exec {tick}<> <(:)
while kill -0 \$pid 2>/dev/null; do
	while read -r key value _; do [ "\$key" = VmHWM: ] && echo "\$value" >"$OUT/hwm_kb"; done </proc/\$pid/status 2>/dev/null
	read -t 0.5 -u \$tick || true
done
wait \$pid
WRAP
chmod +x "$OUT/sidecar.sh"

SIDECAR_CMD="$OUT/sidecar.sh 127.0.0.1:{port} {upstream_url} {logdir}" "$BENCH/run.sh"
if [ -s "$OUT/hwm_kb" ]; then
	echo "trailcar peak RSS (VmHWM) under load: $(( $(cat "$OUT/hwm_kb") / 1024 )) MiB"
fi
