#!/usr/bin/env bash
# Counts the reference counting of the hot path: calls of swift_retain and swift_release per
# dispatch in the guild-actors stage of `kamii bench-capture`, beyond the envelope stage, and the
# objects retained most often (their class, read from the object's metadata pointer). Exact where
# CPU time is not (only these two entry points are counted, not their _n or bridge-object kin): this VM has no hardware counters and its speed swings ±25 %, but the count of
# these calls is the same run after run. An object every guild or shard shares, retained per
# dispatch, is a cache line written from every core that runs a shard.
#
#   Benchmarks/Live/reference_counts.sh KAMII_BINARY CAPTURE zstd-stream|zlib-stream
#
# Needs root (uprobes on libswiftCore.so) and perf; ASLR is turned off for the run (setarch -R) so
# that metadata addresses can be looked up in the binary's symbols.
set -euo pipefail
binary=$(realpath "$1") capture=$2 compression=$3
library=$(ldd "$binary" | awk '/libswiftCore\.so/ { print $3 }')
[ -n "$library" ] || { echo "$binary does not load libswiftCore.so" >&2; exit 1; }
work=$(mktemp -d)
trap 'perf probe -d "probe_libswiftCore:*" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
perf probe -d 'probe_libswiftCore:*' >/dev/null 2>&1 || true
perf probe -x "$library" 'swift_retain obj=%di:x64 isa=+0(%di):x64' >/dev/null 2>&1
perf probe -x "$library" swift_release >/dev/null 2>&1

# Calls in one pass of a stage. Each run also replays inflate alone first, the same in both runs,
# and each stage replays the whole capture: guild-actors minus envelope is the actors' own part.
count() {
    perf stat -x, -e probe_libswiftCore:swift_retain,probe_libswiftCore:swift_release -o "$work/stat.txt" \
        "$binary" bench-capture "$capture" --compress "$compression" --passes 1 --stages "$@" >"$work/bench.txt"
    grep -o 'payloads=[0-9]*\|^[0-9]* payloads' "$work/bench.txt" | head -1 | tr -dc 0-9 >"$work/payloads"
    echo "$(grep swift_retain "$work/stat.txt" | cut -d, -f1) $(grep swift_release "$work/stat.txt" | cut -d, -f1)"
}
read -r envelope_retains envelope_releases < <(count envelope)
read -r actor_retains actor_releases < <(count guild-actors)
payloads=$(cat "$work/payloads")
python3 - "$payloads" "$envelope_retains" "$envelope_releases" "$actor_retains" "$actor_releases" <<'PY'
import sys
payloads, er, el, ar, al = map(int, sys.argv[1:])
print(f"{payloads} payloads; guild-actors stage beyond the envelope stage, per dispatch: "
      f"{(ar - er) / payloads:.2f} retains, {(al - el) / payloads:.2f} releases")
PY

# The objects the whole guild-actors run retained most: one object retained about once per payload
# or more is shared by every guild (small strings and nil have no class).
setarch -R perf record -e probe_libswiftCore:swift_retain -o "$work/retains.data" \
    "$binary" bench-capture "$capture" --compress "$compression" --passes 1 --stages guild-actors >/dev/null 2>&1
nm "$binary" | LC_ALL=C sort >"$work/symbols"
# The binary's mapping without ASLR: addresses past its end (the heap follows it) are not its symbols.
base=$((0x555555554000))
end=$((base + 0x$(awk '$3 == "_end" { print $1 }' "$work/symbols")))
echo "most retained objects (calls per payload, class):"
perf script -i "$work/retains.data" -F trace 2>/dev/null | awk '{ print $(NF - 1), $NF }' | sort | uniq -c | sort -rn | awk 'NR <= 8' |
    while read -r calls _ isa; do
        address=${isa#isa=}
        name="(not a class of the binary: a small string, nil, a library's or a generic class)"
        if [ "$((address))" -ge "$base" ] && [ "$((address))" -lt "$end" ]; then
            offset=$(printf "%016x" $((address - base)))
            # Compared as strings: awk would read some hex addresses as numbers (1e5000).
            symbol=$(awk -v o="x$offset" '("x" $1) <= o { last = $3 } END { print last }' "$work/symbols")
            name=$(echo "$symbol" | swift demangle --simplified 2>/dev/null || echo "$symbol")
        fi
        python3 -c "import sys; print(f'  {int(sys.argv[1]) / int(sys.argv[2]):6.2f}  {sys.argv[3]}')" "$calls" "$payloads" "$name"
    done
