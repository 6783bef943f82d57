-- Shared by every scenario: reads a list file, reports one JSON line when done.
function read_lines(path)
  local out = {}
  for line in io.lines(path) do out[#out + 1] = line end
  return out
end

function uuid4()
  return string.format("%08x-%04x-4%03x-%04x-%012x",
    math.random(0, 0xffffffff), math.random(0, 0xffff), math.random(0, 0xfff),
    math.random(0x8000, 0xbfff), math.random(0, 0xffffffffffff))
end

-- Scripts that define their own setup must call track(thread) from it.
local threads = {}
function track(thread) threads[#threads + 1] = thread end
setup = function(thread) track(thread) end

failures = 0
last_failure = ""
-- Counts a failed answer and keeps the last one as a sample.
function note_failure(status, body)
  if status >= 400 then
    failures = failures + 1
    last_failure = status .. " " .. string.sub(string.gsub(body or "", '[%c"\\]', "'"), 1, 200)
  end
end
response = function(status, headers, body) note_failure(status, body) end

done = function(summary, latency, requests)
  local e = summary.errors
  local sample = ""
  for _, t in ipairs(threads) do
    local f = t:get("last_failure")
    if f and f ~= "" then sample = f end
  end
  io.write(string.format(
    'JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"status_errors":%d,"failure_sample":"%s"}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status, e.status, sample))
end
