#!/usr/bin/env bash
# enablebot-api acknowledgement benchmark (release build, loopback, embedded SQLite by default).
#
#   benchmarks/api-ack.sh [seconds per run, default 10] [connections at saturation, default 64]
#
# 1. Throughput at saturation: validly signed event_callback requests with distinct event_ids across 200 tenants
#    (wrk + signed-requests.lua) against POST /slack/events, and the same bodies against the bare reference route
#    POST /bench/bare (registered only with ENABLEBOT_BENCH_ROUTE=1) of the same server, in the same run.
# 2. Latency below saturation: an open-loop load at fixed rates (enablebot-bench load: 8 connections, latency from
#    each request's due time), the same rates against both routes.
# 3. RSS with 1,000 model calls in flight: MAX_WORKERS=1000, a fake model answering after 10 s.
# 4. Background throughput: 2,000 events with a fake model answering after 100 ms at the default MAX_WORKERS=4.
# Set BENCH_DATABASE_URL=postgres://... to run against PostgreSQL instead (an empty database; the phases
# share it, with distinct event ids).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
ulimit -n 65536 2>/dev/null || true

swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/enablebot-bench.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

export ENABLEBOT_ENV=development ENABLEBOT_DATA_DIR="$work/data" LOG_LEVEL=${LOG_LEVEL:-info} LOG_FORMAT=json
export ENCRYPTION_KEYS="bench:$(head -c 32 /dev/urandom | base64)"
export SLACK_SIGNING_SECRET="bench-signing-secret-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export LLM_API_KEY=bench-key RATE_LIMIT_PER_TENANT=1000000/minute RATE_LIMIT_GLOBAL=10000000/minute ENABLEBOT_BENCH_ROUTE=1
export WRK_THREADS=2
tenants=200

start_upstream() { # delay
    upstream_port=$(free_port)
    python3 benchmarks/fake_upstream.py --port "$upstream_port" --delay "$1" 2>>"$work/upstream.log" &
    pids+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$upstream_port/stats" >/dev/null && return; sleep 0.05; done
    echo "fake upstream did not start" >&2; exit 1
}

start_api() { # phase name, max workers
    export DATABASE_URL=${BENCH_DATABASE_URL:-sqlite:$work/$1.sqlite}
    export SLACK_API_BASE_URL="http://127.0.0.1:$upstream_port/api" LLM_BASE_URL="http://127.0.0.1:$upstream_port/v1"
    export MAX_WORKERS=$2 API_PORT=$(free_port)
    "$bin/enablebot-bench" seed --tenants $tenants >/dev/null
    "$bin/enablebot-api" >"$work/api-$1.log" 2>&1 &
    api_pid=$!
    pids+=($api_pid)
    for _ in $(seq 200); do curl -sf "http://127.0.0.1:$API_PORT/health" >/dev/null && return; sleep 0.05; done
    echo "enablebot-api did not start:" >&2; tail -5 "$work/api-$1.log" >&2; exit 1
}

stop_api() { kill "$api_pid"; wait "$api_pid" 2>/dev/null || true; }

requests() { # prefix, count -> file
    "$bin/enablebot-bench" requests --tenants $tenants --count "$2" --prefix "$1" --out "$work/$1.tsv" >/dev/null
    echo "$work/$1.tsv"
}

run_wrk() { # file, bare(0/1), connections, seconds
    REQUESTS_FILE=$1 BARE=$2 wrk -t2 -c"$3" -d"$4"s -s benchmarks/signed-requests.lua "http://127.0.0.1:$API_PORT" | grep '^RESULT'
}

field() { echo "$1" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }

echo "enablebot-api ack benchmark: $(nproc) cores, ${seconds}s per run, ${DATABASE_URL:-embedded SQLite}"

# Phases 1 and 2: the model is slow (10 s) and MAX_WORKERS=4, so background work barely competes for CPU.
start_upstream 10
start_api ack 4
warm=$(requests Warm 20000)
run_wrk "$warm" 1 16 2 >/dev/null
run_wrk "$warm" 0 16 2 >/dev/null

sat_events=$(requests Sat $((seconds * 40000)))
bare=$(run_wrk "$sat_events" 1 "$connections" "$seconds")
events=$(run_wrk "$sat_events" 0 "$connections" "$seconds")
non2xx=$(field "$events" non2xx)
rss_after_ack=$(awk '/VmRSS/ {print $2}' /proc/$api_pid/status)

printf '\n%-34s %12s %10s %10s %10s\n' "run" "req/s" "p50 ms" "p99 ms" "max ms"
row() { printf '%-34s %12s %10s %10s %10s\n' "$1" "$(field "$2" rps)" "$(ms "$(field "$2" p50_us)")" "$(ms "$(field "$2" p99_us)")" "$(ms "$(field "$2" max_us)")"; }
row "bare ($connections conns, closed loop)" "$bare"
row "events ($connections conns, closed loop)" "$events"
ratio=$(awk -v a="$(field "$events" rps)" -v b="$(field "$bare" rps)" 'BEGIN { printf "%.0f", 100 * a / b }')

latency_lines=""
for rate in ${BENCH_RATES:-500 1000 2000}; do
    bare_rate=$("$bin/enablebot-bench" load --port "$API_PORT" --requests "$(requests "BareR$rate" $((rate * seconds)))" \
        --path /bench/bare --rate "$rate" --seconds "$seconds" --connections 8 | grep '^RESULT')
    events_rate=$("$bin/enablebot-bench" load --port "$API_PORT" --requests "$(requests "R$rate" $((rate * seconds)))" \
        --path /slack/events --rate "$rate" --seconds "$seconds" --connections 8 | grep '^RESULT')
    non2xx=$(( non2xx + $(field "$events_rate" non2xx) ))
    row "bare (open loop, $rate/s)" "$bare_rate"
    row "events (open loop, $rate/s)" "$events_rate"
    p99ratio=$(awk -v a="$(field "$events_rate" p99_us)" -v b="$(field "$bare_rate" p99_us)" 'BEGIN { printf "%.2f", a / b }')
    latency_lines+="  at $rate/s: events p99 $(ms "$(field "$events_rate" p99_us)") ms = ${p99ratio}x the bare route's $(ms "$(field "$bare_rate" p99_us)") ms"$'\n'
done
echo "ack throughput: ${ratio}% of the bare route (target >= 60%); non-2xx acks: $non2xx"
echo "p99 below saturation (targets <= 2x the bare route, < 10 ms):"
printf '%s' "$latency_lines"
echo "RSS after the ack runs: $((rss_after_ack / 1024)) MB"

# Phase 3: 1,000 model calls in flight.
start_api inflight 1000
inflight=$(requests Inflight 1000)
run_wrk "$inflight" 0 50 2 >/dev/null
peak=0; rss=0
for _ in $(seq 80); do
    n=$(curl -sf "http://127.0.0.1:$upstream_port/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["in_flight"])')
    if (( n > peak )); then peak=$n; fi
    if (( n >= 1000 )); then sleep 1; rss=$(awk '/VmRSS/ {print $2}' /proc/$api_pid/status); break; fi
    sleep 0.1
done
[[ $rss == 0 ]] && rss=$(awk '/VmRSS/ {print $2}' /proc/$api_pid/status)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$api_pid/status)
echo "RSS with $peak model calls in flight: $((rss / 1024)) MB (peak $((hwm / 1024)) MB; target < 200 MB)"
stop_api

# Phase 4: background throughput with the default MAX_WORKERS=4 and a 100 ms model.
start_upstream 0.1
start_api drain 4
drain=$(requests Drain 2000)
before=$(curl -sf "http://127.0.0.1:$upstream_port/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["slack_calls"])')
start=$(date +%s.%N)
run_wrk "$drain" 0 16 1 >/dev/null
for _ in $(seq 600); do
    done_n=$(curl -sf "http://127.0.0.1:$upstream_port/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["slack_calls"])')
    (( done_n - before >= 2000 )) && break
    sleep 0.2
done
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "background work: 2000 events answered in ${elapsed}s = $(awk -v e="$elapsed" 'BEGIN { printf "%.0f", 2000 * 60 / e }') events/minute with MAX_WORKERS=4 (target >= 1000)"
stop_api
