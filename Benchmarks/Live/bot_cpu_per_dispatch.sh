#!/usr/bin/env bash
# The live bot's CPU per dispatch: `kamii simulate` (one shard, sending as fast as it can, a fixed
# number of live dispatches) and `kamii run` against it, flushing to Redis; the bot's CPU time
# (`perf stat`, task-clock) over everything it did — start, READY, the guilds, the live traffic,
# the flushes, the shutdown — divided by the dispatches sent. With PROBE=1 it also counts the bot's
# calls of `swift_task_switch` (a uprobe, which costs microseconds each: read the CPU figure from
# a run without it).
#
#   Benchmarks/Live/bot_cpu_per_dispatch.sh KAMII_BINARY zstd-stream|zlib-stream DISPATCHES REDIS_URL
#
# SIMULATOR=another kamii binary runs the simulator (to compare bots on the same traffic).
# Alternate two binaries run by run to compare them: this VM's speed moves ±15 % within minutes.
set -euo pipefail
binary=$1 compression=$2 dispatches=$3 redis=$4
work=$(mktemp -d)
cleanup() { kill "${simulator:-}" "${bot:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
if [ -n "${PROBE:-}" ] && ! perf probe -l 2>/dev/null | grep -q swift_task_switch; then
    perf probe -x "$(dirname "$(command -v swift)")/../lib/swift/linux/libswift_Concurrency.so" swift_task_switch >/dev/null
fi

# 2,400 guilds: one session may hold at most 2,500 (4011 past it).
"${SIMULATOR:-$binary}" simulate --guilds 2400 --users 30000 --rate 2000000 --max-dispatches "$dispatches" --shards 1 --seed 7 >"$work/simulate.log" 2>&1 &
simulator=$!
for _ in $(seq 100); do grep -q '^token:' "$work/simulate.log" && break; sleep 0.1; done
export KAMII_TOKEN KAMII_API_URL KAMII_REDIS_URL=$redis KAMII_COMPRESSION=$compression KAMII_SHARDS=1
KAMII_TOKEN=$(sed -n 's/^token: //p' "$work/simulate.log")
KAMII_API_URL=$(sed -n 's/^api: //p' "$work/simulate.log")
export KAMII_NAMESPACE=cpu-$$-$RANDOM KAMII_STATS_PREFIX=cpu-$$-$RANDOM KAMII_STATS_INTERVAL_SECONDS=3600 KAMII_LOG_LEVEL=error
events=task-clock${PROBE:+,probe_libswift_Concurrency:swift_task_switch}
perf stat -x, -e "$events" -o "$work/perf.txt" "$binary" run >"$work/run.log" 2>&1 &
recorder=$!
for _ in $(seq 50); do bot=$(pgrep -P $recorder || true); [ -n "$bot" ] && break; sleep 0.1; done
# Over when every dispatch was sent and the bot's CPU stopped moving (it has handled them).
sent=0 last=-1
for _ in $(seq 1200); do
    sleep 0.5
    sent=$(grep -o 'dispatches=[0-9]*' "$work/simulate.log" | tail -1 | cut -d= -f2 || true)
    cpu=$(awk '{ print $14 + $15 }' "/proc/$bot/stat" 2>/dev/null || echo gone)
    [ "${sent:-0}" -ge "$dispatches" ] && [ "$cpu" = "$last" ] && break
    last=$cpu
done
kill -INT "$bot"
wait $recorder || true
milliseconds=$(grep task-clock "$work/perf.txt" | cut -d, -f1)
switches=$(grep swift_task_switch "$work/perf.txt" | cut -d, -f1 || true)
python3 - "$compression" "$sent" "$milliseconds" "${switches:-}" <<'PY'
import sys
compression, sent, milliseconds, switches = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
line = f"{compression}: {sent} dispatches, bot CPU {milliseconds / 1000:.2f} s, {milliseconds * 1000 / sent:.2f} µs per dispatch"
if switches:
    line += f", {int(switches) / sent:.2f} swift_task_switch calls per dispatch"
print(line)
PY
