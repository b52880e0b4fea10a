#!/usr/bin/env bash
# internal/bench/query/run.sh — the query engine on a generated audit log of about
# 1 GB (10 files of 100 MiB, as with max_size_mb: 100), read from the page
# cache by the trailcar binary, as a user would:
#
#   newest 100 events, no filter; newest 100 with a filter matching 1 event
#   in 10,000; a full filtered scan (level=error, GB/s) against
#   jq -c 'select(.level=="error")' over the same files; get by id; delete
#   of a time range covering 10% of the set (on a copy); peak RSS of
#   events list --all -o json; then the in-process Go benchmarks.
#
#   internal/bench/query/run.sh                          # data made once in /tmp/trailcar-query, then reused
#   RUNS=10 JQ_RUNS=3 internal/bench/query/run.sh
#   DATA=/tmp/q FILES=4 SIZE_MB=10 internal/bench/query/run.sh   # a small set
#
# Times are the best of RUNS (median in brackets): wall clock of the
# trailcar process (its start included), or, for API lines, the request as
# curl times it. The machine's load is printed first: other work on the
# machine slows every number.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
DATA=${DATA:-/tmp/trailcar-query}
FILES=${FILES:-10}
SIZE_MB=${SIZE_MB:-100}
RUNS=${RUNS:-5}
JQ_RUNS=${JQ_RUNS:-1}
LOGS=$DATA/logs
BIN=$DATA/trailcar

mkdir -p "$DATA"
(cd "$ROOT" && go build -o "$BIN" ./cmd/trailcar)
if [ ! -f "$DATA/gen.out" ] || [ "$(cat "$DATA/params" 2>/dev/null)" != "$FILES $SIZE_MB" ]; then
	echo "generating $FILES files of $SIZE_MB MiB in $LOGS ..."
	rm -rf "$LOGS" "$DATA/gen.out"
	(cd "$ROOT" && go run ./internal/bench/query/gen -dir "$LOGS" -files "$FILES" -size-mb "$SIZE_MB") >"$DATA/gen.out.tmp"
	mv "$DATA/gen.out.tmp" "$DATA/gen.out"
	echo "$FILES $SIZE_MB" >"$DATA/params"
fi
field() { sed -n "s/^$1: //p" "$DATA/gen.out"; }
BYTES=$(cat "$LOGS"/* | wc -c)
cat "$LOGS"/* >/dev/null # into the page cache

# usecs CMD...: wall time of one run in microseconds, output discarded.
usecs() {
	local s e
	s=$(date +%s%N)
	"$@" >/dev/null
	e=$(date +%s%N)
	echo $(((e - s) / 1000))
}
# timed N CMD...: "best median" in microseconds over N runs.
timed() {
	local n=$1
	shift
	for _ in $(seq "$n"); do usecs "$@"; done | sort -n | awk '{a[NR]=$1} END {print a[1], a[int((NR+1)/2)]}'
}
ms() { awk -v u="$1" 'BEGIN {printf "%.1f ms", u/1000}'; }
report() { # name "best median"
	set -- "$1" $2
	printf '%-44s %s  [%s]\n' "$1" "$(ms "$2")" "$(ms "$3")"
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "data: $(field events) events, $BYTES bytes in $(ls "$LOGS" | wc -l) files ($LOGS)"
echo

report "newest 100, no filter" "$(timed "$RUNS" "$BIN" events list --dir "$LOGS" -o json --limit 100)"
report "newest 100, action=console.keys.rotate" "$(timed "$RUNS" "$BIN" events list --dir "$LOGS" -o json --limit 100 --action console.keys.rotate)"
report "get by id (an event in the middle)" "$(timed "$RUNS" "$BIN" events get "$(field 'middle id')" --dir "$LOGS")"

read -r scan scan_med <<<"$(timed "$RUNS" "$BIN" events list --dir "$LOGS" --all -o json --level error)"
report "full scan, level=error (trailcar)" "$scan $scan_med"
read -r jq jq_med <<<"$(timed "$JQ_RUNS" jq -c 'select(.level=="error")' "$LOGS"/*)"
report "full scan, level=error (jq)" "$jq $jq_med"
n_trailcar=$("$BIN" events list --dir "$LOGS" --all -o json --level error | wc -l)
n_jq=$(jq -c 'select(.level=="error")' "$LOGS"/* | wc -l)
awk -v b="$BYTES" -v t="$scan" -v j="$jq" -v a="$n_trailcar" -v q="$n_jq" 'BEGIN {
	printf "full scan throughput: %.2f GB/s (jq %.3f GB/s), %.1fx jq; %d events matched (jq: %d)\n",
		b/t/1000, b/j/1000, j/t, a, q }'

first=$(date -d "$(field first)" +%s)
last=$(date -d "$(field last)" +%s)
since=$(date -u -d "@$((first + (last - first) * 45 / 100))" +%Y-%m-%dT%H:%M:%SZ)
before=$(date -u -d "@$((first + (last - first) * 55 / 100))" +%Y-%m-%dT%H:%M:%SZ)
rm -rf "$DATA/copy"
cp -r "$LOGS" "$DATA/copy"
cat "$DATA/copy"/* >/dev/null
s=$(date +%s%N)
deleted=$("$BIN" events delete --dir "$DATA/copy" --since "$since" --before "$before")
e=$(date +%s%N)
rm -rf "$DATA/copy"
printf '%-44s %s (%s, %s to %s)\n' "delete a 10% time range" "$(ms $(((e - s) / 1000)))" "$deleted" "$since" "$before"

# The same through a running sidecar's API (over the data set, as its log
# dir: rotation at 100 MiB, no retention, so nothing of it is removed).
ADMIN=${ADMIN:-127.0.0.1:19190}
cat >"$DATA/serve.yaml" <<YAML
listen: "${PROXY:-127.0.0.1:19180}"
admin: { listen: "$ADMIN" }
activity_tracker: { dir: "$LOGS", max_size_mb: $((SIZE_MB + 1)), max_files: 0 }
YAML
"$BIN" serve --config "$DATA/serve.yaml" 2>/dev/null &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://$ADMIN/healthz" >/dev/null && break || sleep 0.1; done
# api URL: "best median" of the request's own time (curl's time_total,
# without curl's start), in microseconds.
api() {
	for _ in $(seq "$RUNS"); do
		curl -sf -o /dev/null -w '%{time_total}\n' "$1" | awk '{printf "%d\n", $1*1000000}'
	done | sort -n | awk '{a[NR]=$1} END {print a[1], a[int((NR+1)/2)]}'
}
report "API: newest 100, no filter" "$(api "http://$ADMIN/api/v3/events?limit=100")"
report "API: newest 100, action=console.keys.rotate" "$(api "http://$ADMIN/api/v3/events?limit=100&action=console.keys.rotate")"
report "API: get by id" "$(api "http://$ADMIN/api/v3/events/$(field 'middle id')")"
kill $serve_pid
wait $serve_pid 2>/dev/null || true

rss=$(/usr/bin/time -v "$BIN" events list --dir "$LOGS" --all -o json 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p')
echo "peak RSS of events list --all -o json: $((rss / 1024)) MiB"

echo
echo "in-process (go test -bench, store package):"
(cd "$ROOT" && TRAILCAR_BENCH_DIR="$LOGS" TRAILCAR_BENCH_ID="$(field 'middle id')" \
	go test ./internal/store/ -run '^$' -bench . -benchtime "${RUNS}x" | grep -E '^Benchmark')
