#!/usr/bin/env python3
"""Joins what `enablebot-bench load --record` sent with the replies benchmarks/fake_upstream.py received.

  reply_stats.py wait   --url http://127.0.0.1:PORT --records FILE [--grace 10] [--cap 300]
      Waits until every acknowledged event of FILE has a chat.postMessage at the fake, or until no new reply
      arrived for --grace seconds (at most --cap seconds in all); prints the seconds waited.
  reply_stats.py report --url http://127.0.0.1:PORT --records FILE
      Prints one RESULT line (key=value): acknowledgement and event->reply percentiles, lost and duplicated replies.

A records line is: event ts, due time (epoch microseconds), status (0 = failed), ack latency (microseconds).
Event->reply = the fake's receive time of the event's chat.postMessage (its thread_ts = the event's ts) minus
the request's due time. Lost = acknowledged (2xx) with no reply when `wait` gave up; duplicated = an event
with more than one chat.postMessage.
"""
import argparse, json, sys, time, urllib.request


def load_records(path):
    records = []
    with open(path) as f:
        for line in f:
            ts, due, status, ack = line.rstrip("\n").split("\t")
            records.append((ts, int(due) / 1e6, int(status), int(ack)))
    return records


def fetch(url, path):
    with urllib.request.urlopen(url + path, timeout=60) as r:
        return json.load(r)


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def acked_ts(records):
    return {ts for ts, _, status, _ in records if 200 <= status < 300}


def wait(args):
    # Each records file's events share one ts base (enablebot-bench requests --ts-base), which the fake counts.
    expected = acked_ts(load_records(args.records))
    bases = {ts.split(".")[0] for ts in expected}
    start = time.time()
    last_count, last_progress = -1, start
    while True:
        counts = fetch(args.url, "/replies/count")
        count = sum(counts.get(base, 0) for base in bases)
        now = time.time()
        if count >= len(expected):
            break
        if count != last_count:
            last_count, last_progress = count, now
        elif now - last_progress >= args.grace or now - start >= args.cap:
            break
        time.sleep(0.25)
    print(f"{time.time() - start:.1f}")


def report(args):
    records = load_records(args.records)
    replies = fetch(args.url, "/replies")
    acks = sorted(ack for _, _, status, ack in records if status)
    acked = [(ts, due) for ts, due, status, _ in records if 200 <= status < 300]
    latencies, lost, duplicated, last_reply = [], 0, 0, 0.0
    for ts, due in acked:
        times = replies.get(ts)
        if not times:
            lost += 1
            continue
        if len(times) > 1:
            duplicated += 1
        first = min(times)
        latencies.append(first - due)
        last_reply = max(last_reply, max(times))
    latencies.sort()
    first_due = min((due for _, due in acked), default=0.0)
    last_due = max((due for _, due in acked), default=0.0)
    answered_span = last_reply - first_due if latencies else 0.0
    fields = {
        "sent": len(records),
        "failed": sum(1 for r in records if r[2] == 0),
        "non2xx": sum(1 for r in records if r[2] and not 200 <= r[2] < 300),
        "acked": len(acked),
        "replied": len(latencies),
        "lost": lost,
        "duplicated": duplicated,
        "ack_p50_ms": f"{percentile(acks, 0.5) / 1000:.2f}",
        "ack_p99_ms": f"{percentile(acks, 0.99) / 1000:.2f}",
        "reply_p50_ms": f"{percentile(latencies, 0.5) * 1000:.0f}",
        "reply_p99_ms": f"{percentile(latencies, 0.99) * 1000:.0f}",
        "reply_max_ms": f"{(latencies[-1] if latencies else float('nan')) * 1000:.0f}",
        "send_s": f"{last_due - first_due:.2f}",
        # From the first request's due time to the last reply's arrival.
        "answered_s": f"{answered_span:.2f}",
        "answered_rps": f"{len(latencies) / answered_span:.0f}" if answered_span > 0 else "0",
    }
    print("RESULT " + " ".join(f"{k}={v}" for k, v in fields.items()))


if __name__ == "__main__":  # benchmarks/stream_stats.py imports the helpers above
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["wait", "report"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--records", required=True)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--cap", type=float, default=300.0)
    args = parser.parse_args()
    {"wait": wait, "report": report}[args.command](args)
