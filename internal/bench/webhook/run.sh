#!/usr/bin/env bash
# internal/bench/webhook/run.sh — what a webhook receiver that hangs costs the proxy
# (the contract says nothing), and the sidecar's CPU and memory, idle and under load
# (the numbers behind examples/kubernetes' resources).
#
# Separate processes on 127.0.0.1: an upstream, a receiver that never
# answers, one that answers at once, and one trailcar per target, each with
# the default config but every request tracked:
#   none     no webhooks
#   hanging  webhooks to the receiver that never answers (2 s timeout,
#            retried for 30 s; when the 10000-event queue is full, dropped)
#   healthy  webhooks to the receiver that answers 204
# wrk loads the targets in turns (interleaved rounds, so that whatever else
# the machine does falls on each alike) and reports p50/p99 (its HDR
# histogram); the table has the median over rounds of each, the ratio of
# hanging's p99 to none's, and each sidecar's CPU (cores busy during its
# runs) and RSS.
#
#   internal/bench/webhook/run.sh                      # DURATION=10 ROUNDS=5 CONNS=16 THREADS=2
#   DURATION=5 ROUNDS=3 internal/bench/webhook/run.sh  # quicker
#   TARGETS="none hanging" internal/bench/webhook/run.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
IDLE=${IDLE:-5}
PORT_BASE=${PORT_BASE:-18100}
TARGETS=${TARGETS:-"none hanging healthy"}
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)" >&2; exit 1; }

OUT=$(mktemp -d "${TMPDIR:-/tmp}/trailcar-webhook-bench.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$OUT"
}
trap cleanup EXIT

(cd "$ROOT" && go build -o "$OUT/trailcar" ./cmd/trailcar && go build -o "$OUT/receiver" ./internal/bench/webhook/receiver)

UP=$PORT_BASE HANG=$((PORT_BASE + 1)) OK=$((PORT_BASE + 2))
"$OUT/receiver" -mode upstream -addr "127.0.0.1:$UP" & pids+=($!)
"$OUT/receiver" -mode hang -addr "127.0.0.1:$HANG" & pids+=($!)
"$OUT/receiver" -mode ok -addr "127.0.0.1:$OK" & pids+=($!)

declare -A PID PORT
i=0
for t in $TARGETS; do
	PORT[$t]=$((PORT_BASE + 10 + i))
	case $t in
	none) hook="" ;;
	hanging) hook="http://127.0.0.1:$HANG/hook" ;;
	healthy) hook="http://127.0.0.1:$OK/hook" ;;
	*) echo "unknown target $t" >&2; exit 2 ;;
	esac
	cat >"$OUT/$t.yaml" <<CFG
listen: "127.0.0.1:${PORT[$t]}"
upstream: "http://127.0.0.1:$UP"
admin: { listen: "127.0.0.1:$((PORT_BASE + 30 + i))" }
activity_tracker:
  dir: "$OUT/logs-$t"
  track: { always: ["/**"] }
  ignore_routes: []
CFG
	if [ -n "$hook" ]; then
		printf 'webhooks:\n  enabled: true\n  endpoints: { event_log: { url: "%s" } }\n' "$hook" >>"$OUT/$t.yaml"
	fi
	"$OUT/trailcar" serve --config "$OUT/$t.yaml" 2>"$OUT/$t.stderr" & PID[$t]=$!
	pids+=(${PID[$t]})
	i=$((i + 1))
done

# wait until every proxy answers
for t in $TARGETS; do
	for _ in $(seq 50); do
		curl -fsS -o /dev/null "http://127.0.0.1:${PORT[$t]}/" 2>/dev/null && break
		sleep 0.1
	done
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_mib() { awk -v k="$2" '$1 == k":" {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)

echo "idle ${IDLE}s, then wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, $ROUNDS interleaved rounds, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A IDLE_CPU IDLE_RSS
declare -A a
for t in $TARGETS; do a[$t]=$(ticks "${PID[$t]}"); done
sleep "$IDLE"
for t in $TARGETS; do
	IDLE_CPU[$t]=$(awk -v d=$(($(ticks "${PID[$t]}") - a[$t])) -v hz="$HZ" -v s="$IDLE" 'BEGIN {printf "%.3f", d / hz / s}')
	IDLE_RSS[$t]=$(rss_mib "${PID[$t]}" VmRSS)
done

# to_ms VALUE: wrk's 1.23ms / 456.78us / 1.02s -> ms
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

printf '\n| round | target | req/s | p50 ms | p99 ms | CPU cores | RSS MiB |\n|---|---|---|---|---|---|---|\n'
for r in $(seq "$ROUNDS"); do
	for t in $TARGETS; do
		before=$(ticks "${PID[$t]}")
		wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:${PORT[$t]}/api/v3/widgets" >"$OUT/wrk-$t-$r.txt"
		cpu=$(awk -v d=$(($(ticks "${PID[$t]}") - before)) -v hz="$HZ" -v s="$DURATION" 'BEGIN {printf "%.2f", d / hz / s}')
		rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$OUT/wrk-$t-$r.txt")
		p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$OUT/wrk-$t-$r.txt")")
		p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$OUT/wrk-$t-$r.txt")")
		echo "$t $rps $p50 $p99 $cpu" >>"$OUT/results"
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$r" "$t" "$rps" "$p50" "$p99" "$cpu" "$(rss_mib "${PID[$t]}" VmRSS)"
		sleep 1
	done
done

median() { sort -n | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf '\n| target | median req/s | median p50 ms | median p99 ms | p99 / none | median CPU cores | idle CPU cores | idle RSS MiB | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n'
none_p99=$(awk '$1 == "none" {print $4}' "$OUT/results" | median)
for t in $TARGETS; do
	rps=$(awk -v t="$t" '$1 == t {print $2}' "$OUT/results" | median)
	p50=$(awk -v t="$t" '$1 == t {print $3}' "$OUT/results" | median)
	p99=$(awk -v t="$t" '$1 == t {print $4}' "$OUT/results" | median)
	cpu=$(awk -v t="$t" '$1 == t {print $5}' "$OUT/results" | median)
	ratio=$(awk -v a="$p99" -v b="${none_p99:-0}" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "-"}')
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$rps" "$p50" "$p99" "$ratio" "$cpu" \
		"${IDLE_CPU[$t]}" "${IDLE_RSS[$t]}" "$(rss_mib "${PID[$t]}" VmHWM)"
done
