-- wrk script: POST rotating mParticle-style batches (see events-api spec, section 13) to $REQ_PATH.
-- Env: USERS (random user among 1..USERS), EVENTS ("5" or a range "1-20"), AUTH_HEADER, REQ_PATH.
-- Copied from ../shared/perf (2026-12-04). Added: CUSTOMER_ID_FORMAT / EMAIL_FORMAT (defaults "c%d" / "u%d@example.com")
-- so build/bench can write to the people build/Bench created ("cust-%07d" / "user%07d@example.org").
dofile(os.getenv("PERF_DIR") .. "/wrk-report.lua")

local users = tonumber(os.getenv("USERS") or "100000")
local ev_spec = os.getenv("EVENTS") or "5"
local ev_lo, ev_hi = ev_spec:match("^(%d+)%-(%d+)$")
ev_lo = tonumber(ev_lo or ev_spec); ev_hi = tonumber(ev_hi or ev_spec)
local path = os.getenv("REQ_PATH") or "/v2/events"
local headers = { ["Content-Type"] = "application/json", ["Accept"] = "text/html, application/json",
                  ["Authorization"] = os.getenv("AUTH_HEADER") }

local kinds = {
  { "Viewed Product", "navigation", "shoes" }, { "Added to Cart", "transaction", "outerwear" },
  { "Search", "search", "accessories" }, { "Checkout Started", "transaction", "kitchen" },
  { "Played Video", "media", "books" }, { "Shared Wishlist", "social", "shoes" },
  { "Changed Preferences", "user_preference", "outerwear" },
}
local customer_fmt = os.getenv("CUSTOMER_ID_FORMAT") or "c%d"
local email_fmt = os.getenv("EMAIL_FORMAT") or "u%d@example.com"
local plans = { "free", "silver", "gold" }
local cities = { "Lisbon", "Berlin", "Austin", "Osaka", "Lagos" }
local r = math.random
local fmt = string.format

local function uuid()
  return fmt("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x", r(0, 65535), r(0, 65535), r(0, 65535),
    r(0, 4095), 32768 + r(0, 16383), r(0, 65535), r(0, 65535), r(0, 65535))
end

-- DELAY_MS: each connection waits this long before each request: a paced load (build/bench's half-load pipeline run).
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
if delay_ms > 0 then function delay() return delay_ms end end

function init(args)
  math.randomseed(os.time() * 1000 + (id or 0) * 7919)
end

function request()
  local u = r(1, users)
  local n = r(ev_lo, ev_hi)
  local now_ms = os.time() * 1000
  local ev = {}
  for i = 1, n do
    local k = kinds[r(1, #kinds)]
    ev[i] = fmt('{"event_type":"custom_event","data":{"event_name":"%s","custom_event_type":"%s",' ..
      '"source_message_id":"%s","timestamp_unixtime_ms":%d,"custom_attributes":{"sku":"SKU-%05d",' ..
      '"category":"%s","price":"%d.99","currency":"USD","page":"/products/%s/item-%d"}}}',
      k[1], k[2], uuid(), now_ms - r(0, 60000), r(0, 99999), k[3], r(1, 300), k[3], r(1, 5000))
  end
  local body = fmt('{"environment":"development","source_request_id":"%s",' ..
    '"user_identities":{"customer_id":"%s","email":"%s"},' ..
    '"user_attributes":{"plan":"%s","$firstname":"Ana","$city":"%s","interests":["ski","jazz"],"ltv":"%d.50"},' ..
    '"events":[%s]}', uuid(), fmt(customer_fmt, u), fmt(email_fmt, u), plans[u % 3 + 1], cities[u % 5 + 1], u % 5000, table.concat(ev, ","))
  sent = sent + 1; units = units + n
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests) report(summary, latency, "events") end
