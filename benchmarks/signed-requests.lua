-- wrk script: replays validly signed event_callback requests (one per line of REQUESTS_FILE:
-- timestamp \t signature \t body), each wrk thread taking every n-th line, so every event_id is sent once.
-- With BARE=1 it sends the same bodies to the bare reference route instead.
local file = os.getenv("REQUESTS_FILE")
local path = os.getenv("BARE") == "1" and "/bench/bare" or "/slack/events"
local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

function init(args)
   requests = {}
   local n, i = tonumber(os.getenv("WRK_THREADS") or "1"), 0
   for line in io.lines(file) do
      if i % n == id then
         local ts, sig, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
         requests[#requests + 1] = wrk.format("POST", path, {
            ["Content-Type"] = "application/json",
            ["X-Slack-Request-Timestamp"] = ts,
            ["X-Slack-Signature"] = sig,
         }, body)
      end
      i = i + 1
   end
   index = 0
end

function request()
   index = index + 1
   if index > #requests then index = 1 end
   return requests[index]
end

-- Prints latency percentiles in microseconds for the driver script to parse.
function done(summary, latency, requests)
   io.write(string.format("RESULT requests=%d duration_us=%d errors=%d non2xx=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%d\n",
      summary.requests, summary.duration, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
      summary.errors.status, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
