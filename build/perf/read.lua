-- wrk script: GET $REQ_PATH with "{id}" replaced by a random id in ID_MIN..ID_MAX,
-- or by a random line of ID_FILE (real profile ids are sparse 64-bit numbers, not a range).
-- Copied from ../shared/perf (2026-12-04). Added: BODY (a JSON body with "{id}" replaced the same way) makes it a POST,
-- for the Profile API's resolve-by-identity.
dofile(os.getenv("PERF_DIR") .. "/wrk-report.lua")

local template = os.getenv("REQ_PATH")
local lo, hi = tonumber(os.getenv("ID_MIN") or "1"), tonumber(os.getenv("ID_MAX") or "100000")
local headers = { ["Accept"] = "application/json", ["Authorization"] = os.getenv("AUTH_HEADER") }

local body_template = os.getenv("BODY")
if body_template == "" then body_template = nil end
if body_template then headers["Content-Type"] = "application/json" end
local ids = nil

function init(args)
  math.randomseed(os.time() * 1000 + (id or 0) * 7919)
  local f = os.getenv("ID_FILE")
  if f and f ~= "" then
    ids = {}
    for line in io.lines(f) do if line:match("%S") then ids[#ids + 1] = line:match("^%s*(.-)%s*$") end end
  end
end

function request()
  sent = sent + 1; units = units + 1
  local v = ids and ids[math.random(1, #ids)] or string.format("%d", math.random(lo, hi))
  local path = (template:gsub("{id}", function() return v end))
  if body_template then return wrk.format("POST", path, headers, (body_template:gsub("{id}", function() return v end))) end
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests) report(summary, latency, "lookups") end
