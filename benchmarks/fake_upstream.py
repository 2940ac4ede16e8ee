#!/usr/bin/env python3
"""Fake Slack Web API + fake OpenAI-compatible model for the API benchmarks, on one loopback port.

POST /v1/chat/completions  answers after --delay seconds (counts calls in flight); a request with "stream": true
                           gets every delta below at once after --delay. With --last-token MS (a streaming model,
                           benchmarks/api-stream.sh): a request with "stream": true gets text/event-stream
                           (chunked): the first delta --first-token ms after the request, the others spread evenly
                           until --last-token ms, an empty delta with finish_reason "stop", a usage chunk
                           ("choices": []) and "data: [DONE]"; a request without it gets the whole JSON completion
                           (with usage) after --last-token ms.
POST /api/<method>         answers {"ok":true,...} at once; chat.postMessage and chat.startStream answer the channel
                           they were given and a ts unique to the message ("1900000000.000001", ...);
                           with --stream-error ERR chat.startStream answers {"ok":false,"error":ERR} instead.
GET  /stats                {"in_flight":..,"max_in_flight":..,"llm_calls":..,"slack_calls":..,"replies":..}
GET  /replies              {"<thread_ts>": [receive time, ...], ...}: every chat.postMessage's (and accepted
                           chat.startStream's) thread_ts (or "-"), with the time.time() at which its request was
                           read in full (benchmarks/api-reply.sh)
GET  /replies/count        {"<thread_ts before the dot>": distinct thread_ts replied to, ...} (cheap to poll)
GET  /stream-stats         {"threads": {"<thread_ts>": {"start": [t..], "post": [t..], "append": n,
                           "append_last": t|null, "stop": [t..], "update": [t..], "refused": n, "first_chars": n,
                           "text": "<the visible text now>"}}, "unmatched": {"<method>": n}, "last_slack_call": t}
                           chat.startStream / chat.postMessage are filed under their thread_ts; chat.appendStream,
                           chat.stopStream and chat.update under the thread_ts of the message whose ts they carry
                           (the ts this fake answered); calls with a ts it never answered count in "unmatched".
GET  /stream-stats/count   {"<thread_ts before the dot>": {"first": threads with a first visible text,
                           "stopped": threads with a chat.stopStream}, ...} plus "last_slack_call": t
Minimal HTTP/1.1 with keep-alive on asyncio: thousands of concurrent slow calls cost coroutines, not threads.
"""
import argparse, asyncio, itertools, json, sys, time
from urllib.parse import parse_qsl

stats = {"in_flight": 0, "max_in_flight": 0, "llm_calls": 0, "slack_calls": 0, "replies": 0}
replies = {}  # thread_ts -> [receive times]
replied_by_base = {}  # the part of thread_ts before "." -> thread_ts values with at least one reply
threads = {}  # thread_ts -> what the streaming benchmark reads (see /stream-stats)
ts_to_thread = {}  # ts this fake answered for a message -> the thread_ts it was posted in
unmatched = {}  # method -> calls naming a ts this fake never answered
progress = {}  # the part of thread_ts before "." -> {"first": n, "stopped": n}
last_slack_call = [0.0]
message_ts = itertools.count(1)

# The streaming model's answer: 15 deltas of a few words with some Markdown, ending with the sentinel "the end."
# (benchmarks/stream_stats.py counts an answer complete when its visible text contains it).
DELTAS = ["Here is ", "**the short answer**: ", "yes, it works. ", "\n\nTo set it up:\n", "- open the `config` ",
          "file and check the token;\n", "- then restart ", "the service.\n\n", "See [the guide](https://example.com/guide) ",
          "for the details ", "and _the_ caveats. ", "If it still fails, ", "ask again ", "in this thread. ", "That is all, the end."]
ANSWER = "".join(DELTAS)
USAGE = {"prompt_tokens": 120, "completion_tokens": 60, "total_tokens": 180}


def response(status, body):
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


def parse_body(body):
    try:
        value = json.loads(body)
        return value if isinstance(value, dict) else {}
    except ValueError:
        try:
            return dict(parse_qsl(body.decode("utf-8", "replace")))
        except ValueError:
            return {}


def record_reply(thread_ts, received):
    times = replies.setdefault(thread_ts, [])
    if not times:
        base = thread_ts.split(".")[0]
        replied_by_base[base] = replied_by_base.get(base, 0) + 1
    times.append(received)
    stats["replies"] += 1


def thread_entry(thread_ts):
    entry = threads.get(thread_ts)
    if entry is None:
        entry = threads[thread_ts] = {"start": [], "post": [], "append": 0, "append_last": None, "stop": [],
                                      "update": [], "refused": 0, "first_chars": None, "text": ""}
    return entry


def slack_call(method, params, received, stream_error):
    """Records one Web API call; returns the JSON answer."""
    last_slack_call[0] = received
    channel = params.get("channel") or "C1"
    text = params.get("markdown_text")
    if text is None:
        text = params.get("text")
    text = text if isinstance(text, str) else ""
    if method in ("chat.postMessage", "chat.startStream"):
        thread_ts = params.get("thread_ts") or "-"
        entry = thread_entry(thread_ts)
        if method == "chat.startStream" and stream_error:
            entry["refused"] += 1
            return {"ok": False, "error": stream_error}
        ts = f"1900000000.{next(message_ts):06d}"
        ts_to_thread[ts] = thread_ts
        base = thread_ts.split(".")[0]
        if not entry["start"] and not entry["post"]:
            progress.setdefault(base, {"first": 0, "stopped": 0})["first"] += 1
            entry["first_chars"] = len(text)
        entry["start" if method == "chat.startStream" else "post"].append(received)
        entry["text"] = text
        record_reply(thread_ts, received)
        return {"ok": True, "channel": channel, "ts": ts}
    if method in ("chat.appendStream", "chat.stopStream", "chat.update"):
        ts = params.get("ts") or ""
        thread_ts = ts_to_thread.get(ts)
        if thread_ts is None:
            unmatched[method] = unmatched.get(method, 0) + 1
            return {"ok": True, "channel": channel, "ts": ts}
        entry = thread_entry(thread_ts)
        if method == "chat.appendStream":
            entry["append"] += 1
            entry["append_last"] = received
            entry["text"] += text
        elif method == "chat.stopStream":
            if not entry["stop"]:
                progress.setdefault(thread_ts.split(".")[0], {"first": 0, "stopped": 0})["stopped"] += 1
            entry["stop"].append(received)
            entry["text"] += text
        else:
            entry["update"].append(received)
            entry["text"] = text
        return {"ok": True, "channel": channel, "ts": ts}
    return {"ok": True, "channel": channel, "ts": "1800000000.000001"}


def chunk(obj):
    data = f"data: {json.dumps(obj) if not isinstance(obj, str) else obj}\n\n".encode()
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def stream_completion(writer, received, first, last):
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    n = len(DELTAS)
    for i, content in enumerate(DELTAS):
        due = received + first + (last - first) * i / (n - 1)
        pause = due - time.time()
        if pause > 0:
            await asyncio.sleep(pause)
        delta = {"role": "assistant", "content": content} if i == 0 else {"content": content}
        writer.write(chunk({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": "bench",
                            "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}))
        await writer.drain()
    writer.write(chunk({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": "bench",
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    writer.write(chunk({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": "bench",
                        "choices": [], "usage": USAGE}))
    writer.write(chunk("[DONE]"))
    writer.write(b"0\r\n\r\n")


async def handle(reader, writer, args):
    try:
        while True:
            # The whole head in one read: a readline per header line cost a sixth of this fake's CPU per request, and that
            # CPU is taken from the two cores the services under test share with it.
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as error:
                if error.partial.strip():
                    raise ValueError("truncated request head") from error
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for header in lines[1:]:
                name, _, value = header.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            received = time.time()
            out = None
            if path.endswith("/chat/completions"):
                stats["llm_calls"] += 1
                stats["in_flight"] += 1
                stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
                try:
                    streamed = parse_body(body).get("stream") is True
                    if args.last_token is None and streamed and not args.whole:  # every delta at once after --delay
                        await stream_completion(writer, received, args.delay, args.delay)
                    elif args.last_token is None:
                        await asyncio.sleep(args.delay)
                        out = response("200 OK", {"choices": [{"index": 0, "message": {"role": "assistant", "content": "A benchmark answer."}}]})
                    elif streamed:
                        await stream_completion(writer, received, args.first_token / 1000, args.last_token / 1000)
                    else:
                        await asyncio.sleep(max(0.0, received + args.last_token / 1000 - time.time()))
                        out = response("200 OK", {"choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER},
                                                               "finish_reason": "stop"}], "usage": USAGE})
                finally:
                    stats["in_flight"] -= 1
            elif path.startswith("/api/"):
                stats["slack_calls"] += 1
                slack_method = path[len("/api/"):].split("?")[0]
                out = response("200 OK", slack_call(slack_method, parse_body(body), received, args.stream_error))
            elif path == "/stats":
                out = response("200 OK", stats)
            elif path == "/replies/count":
                out = response("200 OK", replied_by_base)
            elif path == "/replies":
                out = response("200 OK", replies)
            elif path == "/stream-stats/count":
                out = response("200 OK", {**progress, "last_slack_call": last_slack_call[0]})
            elif path == "/stream-stats":
                out = response("200 OK", {"threads": threads, "unmatched": unmatched, "last_slack_call": last_slack_call[0]})
            else:
                out = response("404 Not Found", {"error": "not found"})
            if out is not None:
                writer.write(out)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=10.0, help="seconds before the model answers (no --last-token)")
    parser.add_argument("--first-token", type=float, default=300.0, help="ms to the first delta (with --last-token)")
    parser.add_argument("--last-token", type=float, default=None, help="ms to the last delta: a streaming model")
    parser.add_argument("--stream-error", default=None, help="chat.startStream answers ok:false with this error")
    parser.add_argument("--whole", action="store_true", help="answer \"stream\": true with one JSON completion too "
                        "(a server that does not stream; without --last-token)")
    args = parser.parse_args()
    if args.last_token is not None:
        args.first_token = min(args.first_token, args.last_token)
        model = f"streaming model, first token {args.first_token:.0f} ms, last {args.last_token:.0f} ms"
    else:
        model = f"model delay {args.delay}s"
    server = await asyncio.start_server(lambda r, w: handle(r, w, args), "127.0.0.1", args.port, backlog=4096)
    print(f"fake upstream on 127.0.0.1:{args.port}, {model}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
