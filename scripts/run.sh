#!/usr/bin/env bash
# The main job: installs missing system packages, builds, and runs enablebot-web (:8000) and enablebot-api (:8001)
# on the embedded defaults (SQLite in data/, development keys generated there). Ctrl-C or SIGTERM stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
configuration="${CONFIGURATION:-release}"
swift build -c "$configuration" --product enablebot-web
swift build -c "$configuration" --product enablebot-api
swift build -c "$configuration" --product enablebot
bin="$(swift build -c "$configuration" --show-bin-path)"

"$bin/enablebot" migrate
"$bin/enablebot-web" & web_pid=$!
"$bin/enablebot-api" & api_pid=$!
stop() { kill -TERM "$web_pid" "$api_pid" 2>/dev/null || true; wait "$web_pid" "$api_pid" 2>/dev/null || true; }
trap stop EXIT INT TERM

for port in "${WEB_PORT:-8000}" "${API_PORT:-8001}"; do
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 0.2
    done
done
echo "enablebot-web: http://127.0.0.1:${WEB_PORT:-8000}/slack/install  (dashboard: /login, password in data/admin_password)" >&2
echo "enablebot-api: http://127.0.0.1:${API_PORT:-8001}/slack/events" >&2
wait -n "$web_pid" "$api_pid"
