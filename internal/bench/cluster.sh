#!/usr/bin/env bash
# internal/bench/cluster.sh — the cluster answer against one pod: five
# trailcar processes on 127.0.0.2-6 (one admin port number, peers listing
# all five), each holding a fifth of a generated log of 5 x SIZE_MB MiB,
# beside one process holding all of it. Prints:
#
#   newest 100: the cluster answer vs one pod alone (scope=local);
#   every event by cursor paging (events list --all): the cluster vs the
#   one pod holding as much; and the asked pod's peak RSS (VmHWM) over the
#   whole run.
#
#   internal/bench/cluster.sh                 # 5 x 100 MiB, data made once in /tmp/trailcar-cluster
#   SIZE_MB=20 RUNS=3 internal/bench/cluster.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${DATA:-/tmp/trailcar-cluster}
SIZE_MB=${SIZE_MB:-100}
RUNS=${RUNS:-5}
BIN=$DATA/trailcar
mkdir -p "$DATA"
(cd "$ROOT" && go build -o "$BIN" ./cmd/trailcar)
if [ "$(cat "$DATA/params" 2>/dev/null)" != "v2 $SIZE_MB" ]; then
	# One set of 5 files in time order for the single pod; the same events
	# dealt round-robin to the five pods (each pod's file stays in time
	# order), as a Service spreads requests.
	rm -rf "$DATA"/pod-* "$DATA/all"
	(cd "$ROOT" && go run ./internal/bench/query/gen -dir "$DATA/all" -files 5 -size-mb "$SIZE_MB") >/dev/null
	for i in 1 2 3 4 5; do mkdir -p "$DATA/pod-$i"; done
	# oldest first: the rotated files by name, then the live one
	files=$(ls "$DATA"/all/audit-*.log | sort; echo "$DATA/all/audit.log")
	# shellcheck disable=SC2086
	awk -v d="$DATA" '{ print > (d "/pod-" (NR % 5 + 1) "/audit.log") }' $files
	rm -rf "$DATA/pristine" && mkdir -p "$DATA/pristine"
	cp -r "$DATA"/pod-* "$DATA/all" "$DATA/pristine/"
	echo "v2 $SIZE_MB" >"$DATA/params"
fi
# Every run starts from the generated files: the audit events of the last
# run's own requests are not read again.
for d in "$DATA"/pristine/*; do rm -rf "${DATA:?}/$(basename "$d")" && cp -r "$d" "$DATA/"; done
cat "$DATA"/pod-*/* "$DATA"/all/* >/dev/null # into the page cache

port=$((20000 + RANDOM % 20000))
peers=""
for i in 1 2 3 4 5; do peers="$peers\"http://127.0.0.$((i + 1)):$port\","; done
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT
start() { # name ip dir peers
	cat >"$DATA/$1.yaml" <<CFG
listen: "$2:0"
upstream: "http://127.0.0.1:9"
host: $1
admin: { listen: "$2:$port" }
activity_tracker: { dir: "$3", max_files: 0 }
integrity: { enabled: false }
cluster: { peers: [$4], timeout: 10s }
CFG
	"$BIN" serve --config "$DATA/$1.yaml" 2>"$DATA/$1.err" &
	pids+=($!)
}
for i in 1 2 3 4 5; do start "pod-$i" "127.0.0.$((i + 1))" "$DATA/pod-$i" "${peers%,}"; done
start single 127.0.0.7 "$DATA/all" ""
for ip in 2 3 4 5 6 7; do
	for _ in $(seq 100); do curl -sf "http://127.0.0.$ip:$port/healthz" >/dev/null && break; sleep 0.1; done
done
asked=${pids[0]}

usecs() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(((e - s) / 1000)); }
timed() { local n=$1; shift; for _ in $(seq "$n"); do usecs "$@"; done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); 5 pods x $SIZE_MB MiB"
one=$(timed "$RUNS" curl -sf "http://127.0.0.2:$port/api/v3/events?limit=100&scope=local")
all=$(timed "$RUNS" curl -sf "http://127.0.0.2:$port/api/v3/events?limit=100")
awk -v a="$all" -v o="$one" 'BEGIN { printf "newest 100: cluster of 5 %.1f ms, one pod alone %.1f ms: %.2fx\n", a/1000, o/1000, a/o }'
n=$("$BIN" events list --server "http://127.0.0.2:$port" --all -o json | wc -l)
c=$(timed 1 "$BIN" events list --server "http://127.0.0.2:$port" --all -o json)
s=$(timed 1 "$BIN" events list --server "http://127.0.0.7:$port" --all -o json)
m=$("$BIN" events list --server "http://127.0.0.7:$port" --all -o json | wc -l)
awk -v c="$c" -v s="$s" -v n="$n" -v m="$m" 'BEGIN { printf "every event by cursor paging (%d events; the single pod: %d): cluster of 5 %.2f s, one pod holding as much %.2f s: %.2fx\n", n, m, c/1e6, s/1e6, c/s }'
echo "asked pod's peak RSS (VmHWM): $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$asked/status")"
