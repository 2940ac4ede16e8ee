#!/usr/bin/env python3
"""Fake Slack Web API + fake OpenAI-compatible model for the API benchmark, on one loopback port.

POST /v1/chat/completions  answers after --delay seconds (counts calls in flight)
POST /api/<method>         answers {"ok":true,...} at once
GET  /stats                {"in_flight":..,"max_in_flight":..,"llm_calls":..,"slack_calls":..,"replies":..}
GET  /replies              {"<thread_ts>": [receive time, ...], ...}: every chat.postMessage's thread_ts (or "-"),
                           with the time.time() at which its request was read in full (benchmarks/api-reply.sh)
GET  /replies/count        {"<thread_ts before the dot>": distinct thread_ts replied to, ...} (cheap to poll)
Minimal HTTP/1.1 with keep-alive on asyncio: thousands of concurrent slow calls cost coroutines, not threads.
"""
import argparse, asyncio, json, sys, time

stats = {"in_flight": 0, "max_in_flight": 0, "llm_calls": 0, "slack_calls": 0, "replies": 0}
replies = {}  # thread_ts -> [receive times]
replied_by_base = {}  # the part of thread_ts before "." -> thread_ts values with at least one reply


def response(status, body):
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


async def handle(reader, writer, delay):
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            method, path, _ = line.decode("latin-1").split(" ", 2)
            length = 0
            while True:
                header = await reader.readline()
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            received = time.time()
            if path.endswith("/chat/completions"):
                stats["llm_calls"] += 1
                stats["in_flight"] += 1
                stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
                try:
                    await asyncio.sleep(delay)
                finally:
                    stats["in_flight"] -= 1
                out = response("200 OK", {"choices": [{"index": 0, "message": {"role": "assistant", "content": "A benchmark answer."}}]})
            elif path.startswith("/api/"):
                stats["slack_calls"] += 1
                if path.startswith("/api/chat.postMessage"):
                    try:
                        thread_ts = json.loads(body).get("thread_ts") or "-"
                    except ValueError:
                        thread_ts = "-"
                    times = replies.setdefault(thread_ts, [])
                    if not times:
                        base = thread_ts.split(".")[0]
                        replied_by_base[base] = replied_by_base.get(base, 0) + 1
                    times.append(received)
                    stats["replies"] += 1
                out = response("200 OK", {"ok": True, "channel": "C1", "ts": "1800000000.000001"})
            elif path == "/stats":
                out = response("200 OK", stats)
            elif path == "/replies/count":
                out = response("200 OK", replied_by_base)
            elif path == "/replies":
                out = response("200 OK", replies)
            else:
                out = response("404 Not Found", {"error": "not found"})
            writer.write(out)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=10.0)
    args = parser.parse_args()
    server = await asyncio.start_server(lambda r, w: handle(r, w, args.delay), "127.0.0.1", args.port, backlog=4096)
    print(f"fake upstream on 127.0.0.1:{args.port}, model delay {args.delay}s", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
