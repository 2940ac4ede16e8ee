#!/usr/bin/env bash
# Writes a concrete nginx configuration from the template config/nginx.conf: the listen port, the web and api
# replicas, the prefix directory (pid file and temp directories) and optionally `daemon off;`.
#
#   scripts/render-nginx.sh [--listen PORT] [--web HOST:PORT[,HOST:PORT…]] [--api HOST:PORT[,HOST:PORT…]]
#                           [--prefix DIR] [--access-log PATH] [--foreground] [-o FILE]
#
# Defaults are the template's: --listen 8080 --web 127.0.0.1:8000,127.0.0.1:8002
# --api 127.0.0.1:8001,127.0.0.1:8003 --prefix /tmp/enablebot-nginx --access-log PREFIX/access.log (containers:
# /dev/stdout). Without -o the result goes to stdout.
# The prefix directory is created when it is on this machine (-o given or --mkdir); nginx creates the temp
# directories inside it at start. Then: nginx -t -c FILE, and nginx -c FILE.
set -euo pipefail

template="$(cd "$(dirname "$0")/.." && pwd)/config/nginx.conf"
listen=8080
web=127.0.0.1:8000,127.0.0.1:8002
api=127.0.0.1:8001,127.0.0.1:8003
prefix=/tmp/enablebot-nginx
foreground=0
output=
mkdir_prefix=0
access_log=

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
    case "$1" in
        --listen) listen="${2:?}"; shift 2 ;;
        --web) web="${2:?}"; shift 2 ;;
        --api) api="${2:?}"; shift 2 ;;
        --prefix) prefix="${2:?}"; shift 2 ;;
        --access-log) access_log="${2:?}"; shift 2 ;;
        --foreground) foreground=1; shift ;;
        --mkdir) mkdir_prefix=1; shift ;;
        -o) output="${2:?}"; mkdir_prefix=1; shift 2 ;;
        -h|--help) usage ;;
        *) echo "render-nginx.sh: unknown argument $1" >&2; usage ;;
    esac
done

[[ "$listen" =~ ^([0-9.]+:|\[[0-9a-fA-F:]+\]:)?[0-9]{1,5}$ ]] || { echo "render-nginx.sh: --listen must be PORT or ADDRESS:PORT (got $listen)" >&2; exit 2; }
for list in "$web" "$api"; do
    IFS=, read -ra servers <<<"$list"
    ((${#servers[@]} > 0)) || { echo "render-nginx.sh: --web and --api need at least one HOST:PORT" >&2; exit 2; }
    for server in "${servers[@]}"; do
        [[ "$server" =~ ^[A-Za-z0-9._-]+:[0-9]{1,5}$|^\[[0-9a-fA-F:]+\]:[0-9]{1,5}$ ]] \
            || { echo "render-nginx.sh: not a HOST:PORT: '$server'" >&2; exit 2; }
    done
done
[[ "$prefix" == /* && "$prefix" != *[[:space:]\;\'\"]* ]] || { echo "render-nginx.sh: --prefix must be an absolute path without spaces, quotes or ';' (got $prefix)" >&2; exit 2; }
prefix="${prefix%/}"
access_log="${access_log:-$prefix/access.log}"
[[ "$access_log" == /* && "$access_log" != *[[:space:]\;\'\"]* ]] || { echo "render-nginx.sh: --access-log must be an absolute path (got $access_log)" >&2; exit 2; }

rendered="$(awk -v listen="$listen" -v web="$web" -v api="$api" -v prefix="$prefix" -v foreground="$foreground" -v access_log="$access_log" '
    function servers(list, line,    n, i, parts, out, indent, rest) {
        # Keeps the template line'"'"'s indentation and parameters (max_fails=… fail_timeout=…), swaps the address.
        match(line, /^[ \t]*/); indent = substr(line, 1, RLENGTH)
        rest = line; sub(/^[ \t]*server[ \t]+[^ \t;]+/, "", rest); sub(/[ \t]*#[ \t]*@(web|api).*$/, "", rest)
        n = split(list, parts, ",")
        out = ""
        for (i = 1; i <= n; i++) out = out indent "server " parts[i] rest "\n"
        return out
    }
    /# @web$/ { if (!done_web++) printf "%s", servers(web, $0); next }
    /# @api$/ { if (!done_api++) printf "%s", servers(api, $0); next }
    /# @listen$/ { sub(/listen[ \t]+[^;]+;/, "listen " listen ";"); sub(/[ \t]*# @listen$/, ""); print; next }
    /# @access_log$/ { sub(/access_log[ \t]+[^ \t;]+/, "access_log " access_log); sub(/[ \t]*# @access_log$/, ""); print; next }
    /# @daemon/ { if (foreground == 1) print "daemon off;"; next }
    /^[ \t]*#/ { print; next }
    { gsub(/\/tmp\/enablebot-nginx/, prefix); print }
' "$template")"

if [[ -n "$output" ]]; then
    mkdir -p "$(dirname "$output")"
    printf '%s\n' "$rendered" >"$output"
else
    printf '%s\n' "$rendered"
fi
if ((mkdir_prefix)); then mkdir -p "$prefix"; fi
