#!/usr/bin/env bash
# The main job: installs missing system packages, builds, and runs enablebot-web (:8000) and enablebot-api (:8001)
# on the embedded defaults (SQLite in data/, development keys generated there). In development without Slack
# credentials (no SLACK_CLIENT_ID) it also runs the Slack emulator (:8002) the services then talk to, and prints
# the chat page, the install page and the dashboard. Ctrl-C or SIGTERM stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
configuration="${CONFIGURATION:-release}"
swift build -c "$configuration" --product enablebot-web
swift build -c "$configuration" --product enablebot-api
swift build -c "$configuration" --product enablebot
emulator=""
if [ "${ENABLEBOT_ENV:-development}" = development ] && [ -z "${SLACK_CLIENT_ID:-}" ]; then
    emulator=yes
    swift build -c "$configuration" --product enablebot-emulator
fi
bin="$(swift build -c "$configuration" --show-bin-path)"

web_port="${WEB_PORT:-8000}" api_port="${API_PORT:-8001}" emulator_port="${EMULATOR_PORT:-8002}"
"$bin/enablebot" migrate
pids=()
if [ -n "$emulator" ]; then "$bin/enablebot-emulator" & pids+=($!); fi
"$bin/enablebot-web" & pids+=($!)
"$bin/enablebot-api" & pids+=($!)
stop() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; }
trap stop EXIT INT TERM

ports=("$web_port" "$api_port")
if [ -n "$emulator" ]; then ports+=("$emulator_port"); fi
for port in "${ports[@]}"; do
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 0.2
    done
done
data="${ENABLEBOT_DATA_DIR:-data}"
{
    echo
    if [ -n "$emulator" ]; then
        echo "  1. Install:   http://localhost:$web_port/slack/install   (Add to Slack → Allow, in the Slack emulator)"
        echo "  2. Chat:      http://localhost:$emulator_port/chat   (write \"@EnableBot hello\" in #general)"
    else
        echo "  Install:      http://localhost:$web_port/slack/install"
        echo "  Events URL:   http://127.0.0.1:$api_port/slack/events   (commands: /slack/commands)"
    fi
    if [ -n "${ADMIN_PASSWORD:-}" ]; then
        echo "  Dashboard:    http://localhost:$web_port/login   (password: your ADMIN_PASSWORD)"
    else
        echo "  Dashboard:    http://localhost:$web_port/login   (password in $data/admin_password)"
    fi
    echo
} >&2
wait -n "${pids[@]}"
