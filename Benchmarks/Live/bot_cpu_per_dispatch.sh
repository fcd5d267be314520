#!/usr/bin/env bash
# The live bot's CPU per dispatch: `kamii simulate` (one shard, sending as fast as it can, a fixed
# number of live dispatches) and `kamii run` against it, flushing to Redis; the bot's CPU time
# (`perf stat`, task-clock) over everything it did — start, READY, the guilds, the live traffic,
# the flushes, the shutdown — divided by the live dispatches. With PROBE=1 it also counts the bot's
# calls of `swift_task_switch` (a uprobe, which costs microseconds each: read the CPU figure from
# a run without it).
#
#   Benchmarks/Live/bot_cpu_per_dispatch.sh KAMII_BINARY zstd-stream|zlib-stream DISPATCHES REDIS_URL
#
# SIMULATOR=another kamii binary runs the simulator (to compare bots on the same traffic). The
# bot's keys are left in that Redis under `cpu-<pid>-<n>` prefixes: give it a Redis of its own.
# Alternate two binaries run by run to compare them: this VM's speed moves ±15 % within minutes.
set -euo pipefail
binary=$1 compression=$2 dispatches=$3 redis=$4
guilds=2400 # one session may hold at most 2,500 (4011 past it)
work=$(mktemp -d)
simulator='' recorder='' bot=''
cleanup() {
    for pid in $bot $recorder $simulator; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
if [ -n "${PROBE:-}" ]; then
    probes=$(perf probe -l 2>/dev/null || true)
    if [[ $probes != *swift_task_switch* ]]; then
        perf probe -x "$(dirname "$(command -v swift)")/../lib/swift/linux/libswift_Concurrency.so" swift_task_switch >/dev/null
    fi
fi

"${SIMULATOR:-$binary}" simulate --guilds $guilds --users 30000 --rate 2000000 --max-dispatches "$dispatches" --shards 1 --seed 7 \
    >"$work/simulate.log" 2>&1 &
simulator=$!
for _ in $(seq 100); do grep -q '^token:' "$work/simulate.log" && break; sleep 0.1; done
grep -q '^token:' "$work/simulate.log" || { echo "the simulator did not start:" >&2; cat "$work/simulate.log" >&2; exit 1; }
export KAMII_TOKEN KAMII_API_URL KAMII_REDIS_URL=$redis KAMII_COMPRESSION=$compression KAMII_SHARDS=1
KAMII_TOKEN=$(sed -n 's/^token: //p' "$work/simulate.log")
KAMII_API_URL=$(sed -n 's/^api: //p' "$work/simulate.log")
export KAMII_NAMESPACE=cpu-$$-$RANDOM KAMII_STATS_PREFIX=cpu-$$-$RANDOM KAMII_STATS_INTERVAL_SECONDS=3600 KAMII_LOG_LEVEL=error
events=task-clock${PROBE:+,probe_libswift_Concurrency:swift_task_switch}
perf stat -x, -e "$events" -o "$work/perf.txt" "$binary" run >"$work/run.log" 2>&1 &
recorder=$!
for _ in $(seq 50); do bot=$(pgrep -P "$recorder" || true); [ -n "$bot" ] && break; sleep 0.1; done
[ -n "$bot" ] || { echo "kamii run did not start:" >&2; cat "$work/run.log" >&2; exit 1; }
# The simulator's count is every dispatch numbered: READY, a GUILD_CREATE per guild, then the live
# ones. Over when all were sent and the bot's CPU stopped moving (it has handled them).
total=$((dispatches + 1 + guilds)) sent=0 last=-1
for _ in $(seq 1200); do
    sleep 0.5
    sent=$(grep -o 'dispatches=[0-9]*' "$work/simulate.log" | tail -1 | cut -d= -f2 || true)
    cpu=$(awk '{ print $14 + $15 }' "/proc/$bot/stat" 2>/dev/null || echo gone)
    [ "$cpu" = gone ] && { echo "kamii run ended early:" >&2; cat "$work/run.log" >&2; exit 1; }
    [ "${sent:-0}" -ge "$total" ] && [ "$cpu" = "$last" ] && break
    last=$cpu
done
[ "${sent:-0}" -ge "$total" ] || { echo "only ${sent:-0} of $total dispatches were sent" >&2; exit 1; }
kill -INT "$bot"
wait "$recorder" || true
bot='' recorder=''
milliseconds=$(grep task-clock "$work/perf.txt" | cut -d, -f1)
switches=$(grep swift_task_switch "$work/perf.txt" | cut -d, -f1 || true)
python3 - "$compression" "$dispatches" "$milliseconds" "${switches:-}" <<'PY'
import sys
compression, dispatches, milliseconds, switches = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
line = f"{compression}: {dispatches} live dispatches, bot CPU {milliseconds / 1000:.2f} s, {milliseconds * 1000 / dispatches:.2f} µs per dispatch"
if switches:
    line += f", {int(switches) / dispatches:.2f} swift_task_switch calls per dispatch"
print(line)
PY
