#!/usr/bin/env python3
"""Joins what `enablebot-bench load --record` sent with the Slack calls benchmarks/fake_upstream.py recorded
(GET /stream-stats), for benchmarks/api-stream.sh.

  stream_stats.py wait   --url http://127.0.0.1:PORT --records FILE [--quiet 3] [--grace 10] [--cap 300]
      Waits until every acknowledged event of FILE has a first visible text and either a chat.stopStream or no
      Slack call for --quiet seconds; or until nothing new arrived for --grace seconds (at most --cap seconds in
      all). Prints the seconds waited.
  stream_stats.py report --url http://127.0.0.1:PORT --records FILE --first-token-ms MS
      Prints one RESULT line (key=value).

A records line is: event ts, due time (epoch microseconds), status (0 = failed), ack latency (microseconds).
All latencies are from the request's due time to the fake's receipt of a Slack call for the event's thread
(thread_ts = the event's ts; calls naming a message ts are filed under the thread the fake posted that ts in):
  first visible text = the first chat.startStream or chat.postMessage; overhead = that minus --first-token-ms;
  last text = the first chat.stopStream, or without one the latest chat.update / chat.postMessage /
  chat.appendStream / chat.startStream.
Lost = acknowledged (2xx) with no first visible text; duplicated = more than one chat.startStream/postMessage
for one thread; complete = the visible text at the end contains the model answer's last words ("the end").
"""
import argparse, time

from reply_stats import acked_ts, fetch, load_records, percentile


def wait(args):
    # Each records file's events share one ts base (enablebot-bench requests --ts-base), which the fake counts.
    expected = acked_ts(load_records(args.records))
    bases = {ts.split(".")[0] for ts in expected}
    start = time.time()
    last_seen, last_progress = None, start
    while True:
        counts = fetch(args.url, "/stream-stats/count")
        first = sum(counts.get(base, {}).get("first", 0) for base in bases)
        stopped = sum(counts.get(base, {}).get("stopped", 0) for base in bases)
        now = time.time()
        quiet = now - counts["last_slack_call"] >= args.quiet
        if first >= len(expected) and (stopped >= len(expected) or quiet):
            break
        seen = (first, stopped, counts["last_slack_call"])
        if seen != last_seen:
            last_seen, last_progress = seen, now
        elif now - last_progress >= args.grace or now - start >= args.cap:
            break
        time.sleep(0.25)
    print(f"{time.time() - start:.1f}")


def ms(seconds):
    return f"{seconds * 1000:.0f}"


def report(args):
    records = load_records(args.records)
    stream = fetch(args.url, "/stream-stats")
    threads = stream["threads"]
    first_token = args.first_token_ms / 1000
    acks = sorted(ack for _, _, status, ack in records if status)
    acked = [(ts, due) for ts, due, status, _ in records if 200 <= status < 300]
    firsts, lasts, appends, updates, first_chars = [], [], [], [], []
    lost = duplicated = streamed = posted = stopped = complete = refused = 0
    for ts, due in acked:
        t = threads.get(ts)
        if not t or not (t["start"] or t["post"]):
            lost += 1
            continue
        if len(t["start"]) + len(t["post"]) > 1:
            duplicated += 1
        firsts.append(min(t["start"] + t["post"]) - due)
        streamed += bool(t["start"])
        posted += bool(t["post"])
        refused += bool(t["refused"])
        if t["stop"]:
            stopped += 1
            last = min(t["stop"])
        else:
            last = max(t["update"] + t["post"] + t["start"] + ([t["append_last"]] if t["append_last"] else []))
        lasts.append(last - due)
        appends.append(t["append"])
        updates.append(len(t["update"]))
        first_chars.append(t["first_chars"] or 0)
        complete += "the end" in t["text"]
    firsts.sort()
    lasts.sort()
    answered = len(firsts)
    mean = lambda values: f"{sum(values) / len(values):.1f}" if values else "nan"
    fields = {
        "sent": len(records),
        "failed": sum(1 for r in records if r[2] == 0),
        "non2xx": sum(1 for r in records if r[2] and not 200 <= r[2] < 300),
        "acked": len(acked),
        "answered": answered,
        "lost": lost,
        "duplicated": duplicated,
        "streamed": streamed,  # threads with a chat.startStream
        "posted": posted,  # threads with a chat.postMessage
        "refused": refused,  # threads where chat.startStream was refused (fake_upstream.py --stream-error)
        "stopped": stopped,
        "complete": complete,
        "ack_p50_ms": f"{percentile(acks, 0.5) / 1000:.2f}",
        "ack_p99_ms": f"{percentile(acks, 0.99) / 1000:.2f}",
        "first_p50_ms": ms(percentile(firsts, 0.5)),
        "first_p99_ms": ms(percentile(firsts, 0.99)),
        "first_max_ms": ms(firsts[-1] if firsts else float("nan")),
        "overhead_p50_ms": ms(percentile(firsts, 0.5) - first_token),
        "overhead_p99_ms": ms(percentile(firsts, 0.99) - first_token),
        "last_p50_ms": ms(percentile(lasts, 0.5)),
        "last_p99_ms": ms(percentile(lasts, 0.99)),
        "appends_mean": mean(appends),
        "appends_max": max(appends, default=0),
        "updates_mean": mean(updates),
        "first_chars_mean": mean(first_chars),
        "unmatched": sum(stream["unmatched"].values()),  # appendStream/stopStream/update naming an unknown ts
    }
    print("RESULT " + " ".join(f"{k}={v}" for k, v in fields.items()))


parser = argparse.ArgumentParser()
parser.add_argument("command", choices=["wait", "report"])
parser.add_argument("--url", required=True)
parser.add_argument("--records", required=True)
parser.add_argument("--first-token-ms", type=float, default=0.0)
parser.add_argument("--quiet", type=float, default=3.0)
parser.add_argument("--grace", type=float, default=10.0)
parser.add_argument("--cap", type=float, default=300.0)
args = parser.parse_args()
{"wait": wait, "report": report}[args.command](args)
