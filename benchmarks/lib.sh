# Shared by benchmarks/api-reply.sh and benchmarks/api-stream.sh; source it from the repository root after
# `set -euo pipefail`, then call bench_setup.
#
#   bench_setup WORK_PREFIX PRODUCT...  release build of the products ($bin: their directory), a work directory
#       ($work, removed on exit unless BENCH_KEEP is set; processes appended to $pids are killed on exit), the
#       environment enablebot-api runs with (default settings, rate limits raised so nothing is limited), and
#       $tenants seeded tenants' worth of events.
#   start_upstream ARGS...  benchmarks/fake_upstream.py under PyPy with ARGS ($upstream_url, $upstream_pid)
#   start_api NAME          seeds $DATABASE_URL (phase_database NAME) and starts enablebot-api against the fake
#                           upstream ($API_PORT, $api_pid; log $work/api-NAME.log)
#   phase_database NAME     sets $phase_database_url to an empty database for one phase: SQLite $work/NAME.sqlite, or with BENCH_DATABASE_URL
#                           a new database on that PostgreSQL server (dropped on exit), so that no phase runs on what
#                           an earlier one left behind, on either backend
#   stop_api; requests NAME COUNT -> file; load FILE RATE SECONDS CONNECTIONS RECORDS; field "k=v ..." KEY;
#   sample_rss PID FILE (peak VmRSS in kB every 0.2 s until FILE.stop exists)

bench_setup() {
    local prefix=$1 product
    shift
    bash scripts/install-deps.sh --with-bench-tools >&2
    ulimit -n 65536 2>/dev/null || true
    for product in "$@"; do swift build -c release --product "$product" >/dev/null; done
    bin=$(swift build -c release --show-bin-path)
    work=$(mktemp -d "/tmp/$prefix.XXXXXX")
    pids=()
    phase_databases=()
    trap cleanup EXIT
    export ENABLEBOT_ENV=development ENABLEBOT_DATA_DIR="$work/data" LOG_LEVEL=${LOG_LEVEL:-info} LOG_FORMAT=json
    export ENCRYPTION_KEYS="bench:$(head -c 32 /dev/urandom | base64)"
    export SLACK_SIGNING_SECRET="bench-signing-secret-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    export LLM_API_KEY=bench-key RATE_LIMIT_PER_TENANT=1000000/minute RATE_LIMIT_GLOBAL=10000000/minute ENABLEBOT_BENCH_ROUTE=1
    export WRK_THREADS=2
    unset MAX_WORKERS MAX_INFLIGHT_PER_TENANT # the defaults are what is measured
    tenants=200
    echo 1800000000 >"$work/ts_base" # each requests file gets its own ts base, so replies match the right run
}

cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    for name in "${phase_databases[@]}"; do
        psql -q "$BENCH_DATABASE_URL" -c "DROP DATABASE IF EXISTS \"$name\"" >/dev/null 2>&1 || true
    done
    [[ -n ${BENCH_KEEP:-} ]] || rm -rf "$work"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

start_upstream() { # fake_upstream.py arguments
    upstream_port=$(free_port)
    upstream_url="http://127.0.0.1:$upstream_port"
    # PyPy: the fake stands in for Slack and the model, which in production are not on this machine; under CPython
    # it took 130-160 us of the shared cores per answered event, under PyPy 80-90 us.
    pypy3 benchmarks/fake_upstream.py --port "$upstream_port" "$@" 2>>"$work/upstream.log" &
    upstream_pid=$!
    pids+=($upstream_pid)
    for _ in $(seq 100); do curl -sf "$upstream_url/stats" >/dev/null && return; sleep 0.05; done
    echo "fake upstream did not start" >&2; exit 1
}

phase_database() { # phase name -> $phase_database_url (call it in this shell, not in $(...): it records the database)
    if [[ -z ${BENCH_DATABASE_URL:-} ]]; then phase_database_url="sqlite:$work/$1.sqlite"; return; fi
    local base=${BENCH_DATABASE_URL%%\?*} query=""
    [[ $BENCH_DATABASE_URL == *\?* ]] && query="?${BENCH_DATABASE_URL#*\?}"
    local name="enablebot_bench_$1_$$"
    psql -q "$BENCH_DATABASE_URL" -c "CREATE DATABASE \"$name\"" >/dev/null
    phase_databases+=("$name")
    phase_database_url="${base%/*}/$name$query"
}

start_api() { # name
    phase_database "$1"
    export DATABASE_URL=$phase_database_url
    export SLACK_API_BASE_URL="$upstream_url/api" LLM_BASE_URL="$upstream_url/v1" API_PORT=$(free_port)
    "$bin/enablebot-bench" seed --tenants $tenants >/dev/null
    "$bin/enablebot-api" >"$work/api-$1.log" 2>&1 &
    api_pid=$!
    pids+=($api_pid)
    for _ in $(seq 200); do curl -sf "http://127.0.0.1:$API_PORT/health" >/dev/null && return; sleep 0.05; done
    echo "enablebot-api did not start:" >&2; tail -5 "$work/api-$1.log" >&2; exit 1
}

stop_api() { kill "$api_pid"; wait "$api_pid" 2>/dev/null || true; }

requests() { # name, count -> file (events with ts "<ts_base>.<index>", a fresh ts_base per file)
    local ts_base=$(( $(cat "$work/ts_base") + 1 )) # a file: requests runs in a subshell
    echo $ts_base >"$work/ts_base"
    "$bin/enablebot-bench" requests --tenants $tenants --count "$2" --prefix "$1" --ts-base $ts_base \
        --out "$work/$1.tsv" >/dev/null
    echo "$work/$1.tsv"
}

load() { # requests file, rate, seconds, connections, records file
    "$bin/enablebot-bench" load --port "$API_PORT" --requests "$1" --path /slack/events --rate "$2" --seconds "$3" \
        --connections "$4" --record "$5" | grep '^RESULT'
}

field() { echo "$1" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }

sample_rss() { # pid, out file: peak VmRSS (kB) every 0.2 s until the file "$2.stop" exists
    local peak=0 rss
    while [[ ! -e $2.stop ]]; do
        rss=$(awk '/VmRSS/ {print $2}' /proc/"$1"/status 2>/dev/null || echo 0)
        (( rss > peak )) && peak=$rss
        sleep 0.2
    done
    echo "$peak" >"$2"
}
