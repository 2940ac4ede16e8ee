#!/usr/bin/env bash
# enablebot-api "time from event to first visible text" benchmark (issue 11): release build, loopback, embedded
# SQLite by default (BENCH_DATABASE_URL=postgres://... for PostgreSQL, an empty database both runs share), default
# settings but rate limits raised, 200 seeded tenants, an open-loop load of BENCH_RATE (default 100) events/s.
# benchmarks/fake_upstream.py plays Slack and a streaming model (first token at BENCH_FIRST_TOKEN_MS, default 300,
# last at BENCH_LAST_TOKEN_MS, default 3000) and records each thread's chat.* calls. Two runs, same script:
# LLM_STREAMING=true, then LLM_STREAMING=false (the reference). Per run: ack p50/p99; first visible text (the
# request's due time -> the fake's receipt of the thread's first chat.startStream/chat.postMessage) p50/p99/max,
# and the same minus the first-token time (target: p99 <= 300 ms); last text p50/p99 (-> chat.stopStream, or
# the last chat.update/postMessage); appends and updates per answer; lost, duplicated, complete answers; peak RSS.
#
#   benchmarks/api-stream.sh [seconds of load per run, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
rate=${BENCH_RATE:-100}
first_ms=${BENCH_FIRST_TOKEN_MS:-300}
last_ms=${BENCH_LAST_TOKEN_MS:-3000}
source benchmarks/lib.sh
bench_setup enablebot-stream enablebot-api enablebot-bench

wait_stream() { python3 benchmarks/stream_stats.py wait --url "$upstream_url" --records "$1" --grace 10; }
report() { python3 benchmarks/stream_stats.py report --url "$upstream_url" --records "$1" --first-token-ms "$first_ms" | grep '^RESULT'; }

echo "enablebot-api event->first visible text benchmark: $(nproc) cores (shared with the load generator and the" \
    "fake upstream), $rate events/s for ${seconds}s per run, model tokens from ${first_ms} to ${last_ms} ms," \
    "${BENCH_DATABASE_URL:+PostgreSQL}${BENCH_DATABASE_URL:-embedded SQLite}"
start_upstream --first-token "$first_ms" --last-token "$last_ms"
rows=()
verdict=""
for streaming in true false; do
    export LLM_STREAMING=$streaming
    name=$([[ $streaming == true ]] && echo On || echo Off)
    start_api "stream$name"
    warm=$(requests "Warm$name" "$rate")
    load "$warm" "$rate" 1 8 "$work/warm$name.rec" >/dev/null
    wait_stream "$work/warm$name.rec" >/dev/null
    file=$(requests "Stream$name" $((rate * seconds)))
    sample_rss "$api_pid" "$work/rss$name" &
    sampler=$!
    ack=$(load "$file" "$rate" "$seconds" 8 "$work/stream$name.rec")
    waited=$(wait_stream "$work/stream$name.rec")
    touch "$work/rss$name.stop"; wait $sampler
    r=$(report "$work/stream$name.rec")
    echo "  LLM_STREAMING=$streaming: $ack"
    echo "  LLM_STREAMING=$streaming: $r (waited ${waited}s after the last request)"
    rows+=("$(printf '%-20s %6s %7s %7s %7s %7s %7s %8s %8s %7s %7s %7s %7s %5s %5s %5s %6s' "LLM_STREAMING=$streaming" \
        "$(field "$r" acked)" "$(field "$r" ack_p50_ms)" "$(field "$r" ack_p99_ms)" \
        "$(field "$r" first_p50_ms)" "$(field "$r" first_p99_ms)" "$(field "$r" first_max_ms)" \
        "$(field "$r" overhead_p50_ms)" "$(field "$r" overhead_p99_ms)" \
        "$(field "$r" last_p50_ms)" "$(field "$r" last_p99_ms)" "$(field "$r" appends_mean)" "$(field "$r" updates_mean)" \
        "$(field "$r" lost)" "$(field "$r" duplicated)" "$(field "$r" complete)" "$(( $(cat "$work/rss$name") / 1024 ))")")
    if [[ $streaming == true ]]; then
        over=$(field "$r" overhead_p99_ms)
        verdict="LLM_STREAMING=true at $rate/s: first visible text p99 $(field "$r" first_p99_ms) ms = first token + ${over} ms"
        verdict+=" (target <= +300 ms), lost $(field "$r" lost), duplicated $(field "$r" duplicated) (targets 0): "
        verdict+=$(awk -v o="$over" -v l="$(field "$r" lost)" -v d="$(field "$r" duplicated)" \
            'BEGIN { print (o <= 300 && l == 0 && d == 0) ? "met" : "NOT met" }')
    fi
    stop_api
done

echo
printf '%-20s %6s %7s %7s %7s %7s %7s %8s %8s %7s %7s %7s %7s %5s %5s %5s %6s\n' "event -> visible text" "acked" \
    "ack p50" "ack p99" "1st p50" "1st p99" "1st max" "-tok p50" "-tok p99" "end p50" "end p99" "appends" "updates" \
    "lost" "dup" "compl" "RSS"
printf '%-20s %6s %7s %7s %7s %7s %7s %8s %8s %7s %7s %7s %7s %5s %5s %5s %6s\n' "" "" "ms" "ms" "ms" "ms" "ms" "ms" "ms" \
    "ms" "ms" "/answer" "/answer" "" "" "" "MB"
printf '%s\n' "${rows[@]}"
echo "(1st = first chat.startStream/postMessage; -tok = 1st minus the model's first token at ${first_ms} ms;" \
    "end = chat.stopStream, else the last chat.update/postMessage; compl = answers whose text at the end is whole)"
echo "$verdict"
