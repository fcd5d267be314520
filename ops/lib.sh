# Shared by ops/test, ops/demo and ops/bench: install what is missing, start and stop the
# services Kamii needs on loopback. Sourced, not run.

# CDPATH unset for this cd: with one exported, cd prints the directory it found, into KAMII_ROOT.
KAMII_ROOT=$(CDPATH='' cd -- "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KAMII_APT_PACKAGES=(git ca-certificates pkg-config libhiredis-dev libzstd-dev zlib1g-dev libisal-dev libssl-dev redis-server postgresql python3 python3-venv iproute2)
KAMII_PYTHON_PACKAGES=(zstandard==0.25.0 discord.py==2.7.1 orjson==3.13.0)
KAMII_STARTED_PIDS=()
KAMII_TEMP_DIRS=()
KAMII_OWN_POLICY_RC=
# The mark ends with the writing script's pid and start time: a file whose writer is gone (that pid
# not running, or running since another time: reused) was left by a killed run.
KAMII_POLICY_RC_MARK='# written by Kamii ops/lib.sh for one apt-get install; removed after it; pid'
# What the mark was before it named its writer: always left by a killed run.
KAMII_POLICY_RC_OLD_MARK='# written by Kamii ops/lib.sh for one apt-get install; removed after it'

log() { printf '\033[1m[%s] %s\033[0m\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Debian packages: installed only when one is missing, after an apt-get update.
install_system_packages() {
    # Checked first: without it nothing else is worth installing.
    command -v swift >/dev/null || die "no Swift toolchain on PATH: Kamii needs Swift 6.2 or later (swift.org/install)"
    local missing=()
    for package in "${KAMII_APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get: the scripts know Debian only"
        [ "$(id -u)" = 0 ] || die "missing Debian packages (${missing[*]}); run as root or install them"
        log "installing ${missing[*]}"
        # A fresh machine's unattended-upgrades may hold dpkg's lock for a while: wait for it. The
        # lists' lock (apt-daily refreshing them) is not waited on by that option: retried.
        local apt_wait=(-o DPkg::Lock::Timeout=600) update_log
        update_log=$(mktemp)
        for attempt in $(seq 120); do
            LC_ALL=C apt-get "${apt_wait[@]}" update -qq >"$update_log" 2>&1 && break
            if [ "$attempt" = 120 ] || ! grep -q "Could not get lock" "$update_log"; then
                cat "$update_log" >&2
                rm -f "$update_log"
                die "apt-get update failed (network? sources.list?)"
            fi
            [ "$attempt" != 1 ] || log "apt's package lists are locked by another apt (apt-daily?): waiting for it"
            sleep 5
        done
        rm -f "$update_log"
        # redis-server and postgresql would start (and enable) the system's own instances on 6379
        # and 5432; Kamii's scripts start private ones on free ports, so those are not started
        # (policy-rc.d, for the install only) and, under systemd, not enabled either.
        # (stop_services removes it too, should the install be interrupted.)
        local policy=/usr/sbin/policy-rc.d status=0
        # One a killed run left (no trap runs on SIGKILL) is known by its mark, and taken back:
        # left in place it would keep every service any package installs from starting.
        # (Not one a run still installing holds: its pid is alive.)
        local line writer= stale=
        if [ -f "$policy" ]; then
            while IFS= read -r line; do
                [[ "$line" == "$KAMII_POLICY_RC_OLD_MARK" ]] && stale=1
                [[ "$line" == "$KAMII_POLICY_RC_MARK "* ]] && writer=${line#"$KAMII_POLICY_RC_MARK "}
            done <"$policy"
        fi
        if [[ "$writer" =~ ^([0-9]+)\ ([0-9]+)$ ]] && [ "$(process_start "${BASH_REMATCH[1]}")" != "${BASH_REMATCH[2]}" ]; then
            stale=1
        fi
        [ -z "$stale" ] || rm -f "$policy"
        if [ ! -e "$policy" ]; then
            # Recorded first: a write that fails halfway still leaves a file to remove.
            KAMII_OWN_POLICY_RC=$policy
            printf '#!/bin/sh\n%s %s %s\nexit 101\n' "$KAMII_POLICY_RC_MARK" "$$" "$(process_start $$)" >"$policy" && chmod +x "$policy"
        fi
        DEBIAN_FRONTEND=noninteractive apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
        remove_own_policy_rc
        [ "$status" = 0 ] || die "apt-get install ${missing[*]} failed"
        if [ -d /run/systemd/system ]; then
            for service in redis-server postgresql; do
                [[ " ${missing[*]} " != *" $service "* ]] || systemctl disable -q "$service" 2>/dev/null || true
            done
        fi
    fi
}

# A venv in .venv with the Python packages the tests use (fixture generators, client libraries).
install_python_packages() {
    local python=/usr/bin/python3
    [ -x "$python" ] || python=$(command -v python3)
    if [ ! -x "$KAMII_ROOT/.venv/bin/python" ]; then
        log "creating .venv"
        "$python" -m venv "$KAMII_ROOT/.venv"
    elif ! "$KAMII_ROOT/.venv/bin/python" -m pip --version >/dev/null 2>&1; then
        # Left half made (interrupted, or made before python3-venv was installed): made again.
        log "re-creating .venv (it has no working pip)"
        "$python" -m venv --clear "$KAMII_ROOT/.venv"
    fi
    local installed missing=()
    installed=$("$KAMII_ROOT/.venv/bin/python" -m pip freeze 2>/dev/null)
    for package in "${KAMII_PYTHON_PACKAGES[@]}"; do
        grep -qxF "$package" <<<"$installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]} into .venv"
        "$KAMII_ROOT/.venv/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}"
    fi
    export KAMII_PYTHON="$KAMII_ROOT/.venv/bin/python"
}

# A free TCP port on 127.0.0.1.
free_port() {
    "${KAMII_PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS DESCRIPTION PID LOG COMMAND...: until COMMAND succeeds. If the process PID ends
# first, or the time is up, the end of its LOG is shown (the reason) and the script stops.
wait_for() {
    local seconds=$1 what=$2 pid=$3 logfile=$4
    shift 4
    for _ in $(seq $((seconds * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$logfile" >&2 2>/dev/null || true
            die "$what exited before it was ready"
        fi
        sleep 0.1
    done
    tail -n 20 "$logfile" >&2 2>/dev/null || true
    die "$what did not come up within ${seconds}s"
}

# make_temp_dir NAME: creates a temp dir, removed by stop_services, and leaves its path in
# KAMII_TEMP_DIR. (Not `$(make_temp_dir)`: a subshell could not record it for removal.)
make_temp_dir() {
    KAMII_TEMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kamii-$1.XXXXXX")
    KAMII_TEMP_DIRS+=("$KAMII_TEMP_DIR")
    watch_list dir "$KAMII_TEMP_DIR"
}

# started PID: a server (or simulator) this script runs, stopped by stop_services — or, should the
# script be killed outright, by the watchdog, which knows it by its pid and start time (field 22 of
# /proc/PID/stat): a pid reused by another process after this one ended is left alone.
started() {
    KAMII_STARTED_PIDS+=("$1")
    watch_list pid "$1 $(process_start "$1")"
}

# The start time of process PID (clock ticks since boot), or nothing when it is gone.
process_start() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    # Past the command's parentheses (which may hold spaces), field 22 is the 20th.
    stat=${stat##*) }
    set -- $stat
    echo "${20}"
}

# A script killed outright (SIGKILL: a CI job cancelled, the OOM killer) runs no trap, and its
# servers, each in a session of its own, are out of reach of a kill of its process group. A
# watchdog in a session of its own, started with the first thing to clean up, waits for the script
# to end; then it stops the pids and removes the dirs listed for it — unless stop_services took the
# list away first (every other end).
KAMII_WATCH_LIST=
KAMII_WATCHDOG_PID=
watch_list() {
    if [ -z "$KAMII_WATCH_LIST" ]; then
        KAMII_WATCH_LIST=$(mktemp "${TMPDIR:-/tmp}/kamii-watch.XXXXXX")
        # shellcheck disable=SC2016
        setsid bash -c '
            while kill -0 "$1" 2>/dev/null; do sleep 1; done
            [ -f "$2" ] || exit 0
            # Still the process started (same start time), not another that took its pid since.
            ours() {
                local stat
                stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
                stat=${stat##*) }
                set -- "$2" $stat
                [ "$1" = "${21}" ]
            }
            pids=()
            while read -r kind pid start; do
                [ "$kind" = pid ] && [ -n "$start" ] && ours "$pid" "$start" && pids+=("$pid:$start")
            done <"$2"
            # As stop_services does: INT (PostgreSQL'"'"'s fast shutdown), then TERM.
            for entry in "${pids[@]}"; do kill -INT "${entry%%:*}" 2>/dev/null; kill -TERM "${entry%%:*}" 2>/dev/null; done
            for entry in "${pids[@]}"; do
                for _ in $(seq 100); do ours "${entry%%:*}" "${entry#*:}" || break; sleep 0.1; done
                ours "${entry%%:*}" "${entry#*:}" && kill -KILL "${entry%%:*}" 2>/dev/null
            done
            sed -n "s/^dir //p" "$2" | while read -r dir; do rm -rf "$dir"; done
            rm -f "$2"' kamii-watchdog "$$" "$KAMII_WATCH_LIST" </dev/null >/dev/null 2>&1 &
        KAMII_WATCHDOG_PID=$!
    fi
    printf '%s %s\n' "$1" "$2" >>"$KAMII_WATCH_LIST"
}

# Starts a private redis-server on loopback; exports KAMII_TEST_REDIS=127.0.0.1:PORT.
# Servers run in a session of their own (setsid; a background child is no group leader, so setsid
# does not fork and $! is the server): a Ctrl-C at the terminal goes to the script and its
# foreground command — `kamii run`, which then flushes to this Redis — not to the servers, which
# stop_services stops last.
start_redis() {
    local port dir
    port=$(free_port)
    make_temp_dir redis
    dir=$KAMII_TEMP_DIR
    setsid redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
        --logfile "$dir/redis.log" --daemonize no &
    local pid=$!
    started "$pid"
    wait_for 10 "redis-server on port $port" "$pid" "$dir/redis.log" redis-cli -h 127.0.0.1 -p "$port" ping
    export KAMII_TEST_REDIS="127.0.0.1:$port"
    log "redis-server pid $pid on 127.0.0.1:$port"
}

# Starts a private PostgreSQL cluster (initdb into a temp dir, run as the postgres user when root);
# exports KAMII_TEST_POSTGRES_URL. Tests trade durability for speed (no fsync); `start_postgres
# durable` keeps PostgreSQL's defaults, for benchmarks.
start_postgres() {
    local bin port dir as_postgres=() speed=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
    [ "${1:-}" = durable ] && speed=()
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$bin" ] || die "PostgreSQL binaries not found under /usr/lib/postgresql"
    make_temp_dir postgres
    dir=$KAMII_TEMP_DIR
    if [ "$(id -u)" = 0 ]; then
        as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups --)
        chown postgres:postgres "$dir"
        # A TMPDIR the postgres user cannot reach (under /root, mode 700): the data goes under /tmp.
        if ! "${as_postgres[@]}" test -w "$dir"; then
            TMPDIR=/tmp make_temp_dir postgres
            dir=$KAMII_TEMP_DIR
            chown postgres:postgres "$dir"
        fi
    fi
    # C.UTF-8, not the caller's LANG: an ssh session may bring a locale this machine never generated.
    "${as_postgres[@]}" "$bin/initdb" -D "$dir/data" -U kamii -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    # Picked just before the server binds it (initdb takes seconds, in which another could take it).
    port=$(free_port)
    # TCP on loopback only: no Unix socket, whose path a long TMPDIR could push past its limit.
    setsid "${as_postgres[@]}" "$bin/postgres" -D "$dir/data" -p "$port" -k '' -c listen_addresses=127.0.0.1 \
        "${speed[@]}" >"$dir/postgres.log" 2>&1 &
    local pid=$!
    started "$pid"
    wait_for 30 "PostgreSQL on port $port" "$pid" "$dir/postgres.log" "$bin/pg_isready" -h 127.0.0.1 -p "$port" -U kamii
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U kamii kamii
    export KAMII_TEST_POSTGRES_URL="postgres://kamii@127.0.0.1:$port/kamii"
    log "PostgreSQL pid $pid on 127.0.0.1:$port"
}

# Removes the policy-rc.d that install_system_packages put in place, if it did.
remove_own_policy_rc() {
    [ -z "$KAMII_OWN_POLICY_RC" ] || rm -f "$KAMII_OWN_POLICY_RC"
    KAMII_OWN_POLICY_RC=
}

# The script's own child processes, by /proc (procps may not be installed).
own_children() {
    local self=$BASHPID  # this function's own subshell, when called as $(own_children): not a child to stop
    grep -l "^PPid:[[:space:]]*$$\$" /proc/[0-9]*/status 2>/dev/null | sed 's#^/proc/##; s#/status$##' | grep -vx "$self" || true
}

# Stops what this script started, by pid, and removes its temp dirs. Installed as the EXIT trap.
# A second Ctrl-C does not cut it short. A script stopped by SIGTERM leaves its foreground command
# (`swift test`, `kamii run`) running: every child of the script that is not one of its servers gets
# SIGTERM first and is waited for — it may still be using the servers (`kamii run` flushing to
# Redis). Then the servers: background children of a script ignore SIGINT, so each gets SIGTERM as
# well (PostgreSQL takes SIGINT as its fast shutdown, and a later SIGTERM is moot).
stop_services() {
    trap '' INT TERM
    remove_own_policy_rc
    local pid others=()
    for pid in $(own_children); do
        # The watchdog ends by itself once the script has (and finds nothing left to do).
        [[ " ${KAMII_STARTED_PIDS[*]} $KAMII_WATCHDOG_PID " == *" $pid "* ]] || others+=("$pid")
    done
    stop_processes TERM "${others[@]}"
    stop_processes "INT TERM" "${KAMII_STARTED_PIDS[@]}"
    KAMII_STARTED_PIDS=()
    [ ${#KAMII_TEMP_DIRS[@]} -eq 0 ] || rm -rf "${KAMII_TEMP_DIRS[@]}"
    # Done here: the watchdog, finding no list once the script has ended, does nothing.
    [ -z "$KAMII_WATCH_LIST" ] || rm -f "$KAMII_WATCH_LIST"
}

# stop_processes "SIGNALS" PID...: sends each the signals, gives them 10 s, then SIGKILL.
stop_processes() {
    local signals=$1 pid signal
    shift
    for pid in "$@"; do
        for signal in $signals; do kill -"$signal" "$pid" 2>/dev/null || true; done
    done
    for pid in "$@"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
