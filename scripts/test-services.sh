#!/usr/bin/env bash
# Starts a throwaway PostgreSQL and Redis on free loopback ports for the test run, exports their URLs,
# and stops both (removing their folders) when the calling script exits, even on failure.
# Source it: `source scripts/test-services.sh`.

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -z "$pg_bin" ]]; then echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; fi

test_services_dir=$(mktemp -d /tmp/enablebot-test-services.XXXXXX)
chmod 755 "$test_services_dir"
pg_dir="$test_services_dir/pg"
mkdir -p "$pg_dir"
pg_port=$(free_port)
# PostgreSQL refuses to run as root: the cluster belongs to the postgres user when we are root.
run_pg=()
if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$pg_dir"; run_pg=(runuser -u postgres --); fi

stop_test_services() {
    "${run_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    if [[ -n "${redis_pid:-}" ]]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
    rm -rf "$test_services_dir"
}
trap stop_test_services EXIT

"${run_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 >"$pg_dir/initdb.log" 2>&1 \
    || { cat "$pg_dir/initdb.log" >&2; exit 1; }
"${run_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off" start >/dev/null \
    || { cat "$pg_dir/server.log" >&2; exit 1; }
export ENABLEBOT_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
export ENABLEBOT_TEST_PG_BIN="$pg_bin" ENABLEBOT_TEST_PG_DATA="$pg_dir/data"

if command -v redis-server >/dev/null; then
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
        --dir "$test_services_dir" >"$test_services_dir/redis.log" 2>&1 &
    redis_pid=$!
    for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    export ENABLEBOT_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
fi
echo "test services: PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:${redis_port:-none}"
