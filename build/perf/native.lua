-- wrk script: POST the native SDK uploads build/perf/native-batches.js wrote (NATIVE_FILE) to REQ_PATH, each once,
-- with the headers the Android SDK sends (gzip, Date, x-mp-signature). Env: NATIVE_FILE, NATIVE_DATE, MSGS, REQ_PATH.
dofile(os.getenv("PERF_DIR") .. "/wrk-report.lua")

local path = os.getenv("REQ_PATH")
local msgs = tonumber(os.getenv("MSGS") or "20")
local headers = { ["Content-Type"] = "application/json", ["Content-Encoding"] = "gzip",
                  ["User-Agent"] = "mParticle Android SDK/6.0.0", ["Date"] = os.getenv("NATIVE_DATE") }
local records, at = {}, 1
wrapped = 0 -- per thread: how often the file ran out and batches were sent again (then only deduplicated)

function init(args)
  local f = assert(io.open(os.getenv("NATIVE_FILE"), "rb"))
  while true do
    local line = f:read("*l")
    if not line then break end
    local signature, length = line:match("^(%x+) (%d+)$")
    records[#records + 1] = { signature, f:read(tonumber(length)) }
  end
  f:close()
  at = ((id or 1) - 1) * math.floor(#records / tonumber(os.getenv("THREADS") or "1")) + 1 -- threads start apart
end

function request()
  local record = records[at]
  at = at + 1
  if at > #records then at = 1; wrapped = wrapped + 1 end
  sent = sent + 1; units = units + msgs
  headers["x-mp-signature"] = record[1]
  return wrk.format("POST", path, headers, record[2])
end

function done(summary, latency, requests) report(summary, latency, "events") end
