-- wrk script of bench/serving.sh: cycles through a list of requests (at least 10,000
-- distinct users, subject sets or books; the list is made by serving.sh).
--
--   wrk -t2 -cN -dS --latency -s bench/serving.lua URL -- LIST_FILE
--
-- LIST_FILE: one request a line, "PATH" or "PATH<TAB>BEARER_TOKEN". Every request is
-- formatted once, in init, so that request() costs the client one table lookup; each
-- thread starts at its own offset of the list, so that two threads do not send the same
-- request at the same moment (which would flatter a cache). done() prints one line,
-- "SERVING_JSON {...}", with the latency percentiles (microseconds) and the error counts.

local reqs = {}
local n, i = 0, 0

function setup(thread)
    thread_count = (thread_count or 0) + 1
    thread:set("tid", thread_count - 1)
end

function init(args)
    local f = assert(io.open(args[1], "r"), "serving.lua: cannot open the request list")
    local host = wrk.host or "127.0.0.1"
    if wrk.port then
        host = host .. ":" .. wrk.port
    end
    for line in f:lines() do
        local path, token = line:match("^([^\t]+)\t?(.*)$")
        if path then
            local h = {Host = host}
            if token ~= "" then
                h["Authorization"] = "Bearer " .. token
            end
            n = n + 1
            reqs[n] = wrk.format("GET", path, h)
        end
    end
    f:close()
    assert(n > 0, "serving.lua: empty request list")
    -- threads interleave their starting points: thread t starts at t * n / 2 (2 threads)
    i = math.floor((tid or 0) * n / 2) % n
end

function request()
    i = i % n + 1
    return reqs[i]
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'SERVING_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%.1f,' ..
        '"p90_us":%.1f,"p99_us":%.1f,"mean_us":%.1f,"max_us":%.1f,"errors_connect":%d,' ..
        '"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d}\n',
        summary.requests, summary.duration, summary.bytes, latency:percentile(50),
        latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
