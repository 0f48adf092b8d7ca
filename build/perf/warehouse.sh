#!/usr/bin/env bash
# build/perf/warehouse.sh — issue 20 (warehouse output): ingestion with a warehouse output connected, and how fast
# its rows reach the warehouse. One private cluster with two databases (the service's and "warehouse"), one Release
# Host on free ports, three steps in the same run so the shared box's noise hits them alike:
#   1. POST /v2/events (build/perf/http-load.sh: 5 events per batch, random users), WH_CONNS connections, no output;
#   2. the same with a warehouse output connected to demo-server (micro-batches every WH_INTERVAL_MS);
#   3. after step 2's load: the time until every delivery is in the warehouse, and the event rows synced per second
#      over step 2 and the drain, and during the drain alone (the flush's own rate, nothing else running);
#   4. for comparison, the same with a webhook output (build/perf/sink.js) connected instead;
#   5. step 1 again, no connection (the Host warms up through the run: compare 2 and 4 with this one as well).
#   The Host's CPU time (utime+stime) per accepted batch in each step; the warehouse's backlog when the load stopped.
# Env: WH_SECONDS (30), WH_CONNS (16), WH_INTERVAL_MS (30000, the default interval), WH_WARMUP (5).
# Needs a Release build (build/test or dotnet build -c Release) and wrk, like build/bench part (h).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../postgres.sh
source "$ROOT/build/postgres.sh"
SECONDS_EACH="${WH_SECONDS:-30}"; CONNS="${WH_CONNS:-16}"; INTERVAL_MS="${WH_INTERVAL_MS:-30000}"; WARMUP="${WH_WARMUP:-5}"
DIR="$ROOT/.data/wh-bench-$(date +%Y%m%d-%H%M%S)"; mkdir -p "$DIR"
PG_PORT="$(pg_free_port 56500)"; HOST_PORT="$(pg_free_port 18500)"
HOST_PID=""
cleanup() {
  local rc=$?
  if [ -n "$HOST_PID" ]; then kill -TERM "$HOST_PID" 2>/dev/null || true; wait "$HOST_PID" 2>/dev/null || true; fi
  pg_stop "$DIR/pg"; rm -rf "$DIR/pg/data" "$DIR/host"
  exit $rc
}
trap cleanup EXIT
pg_start "$DIR/pg" "$PG_PORT" -c shared_buffers=512MB -c max_wal_size=8GB -c checkpoint_timeout=30min
CS="$(pg_connection_string "$PG_PORT")"
psql_q() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "${DB:-postgres}" -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_q -c "create database warehouse"

cp -r "$ROOT/src/Host/bin/Release/net10.0" "$DIR/host"
( cd "$DIR/host" && exec env ASPNETCORE_ENVIRONMENT=Development ConnectionStrings__EventProfiles="$CS" \
    ASPNETCORE_URLS="http://127.0.0.1:$HOST_PORT" Urls="http://127.0.0.1:$HOST_PORT" Logging__LogLevel__Default=Warning \
    EventProfiles__Forwarding__Warehouse__IntervalMs="$INTERVAL_MS" dotnet EventProfiles.Host.dll ) >>"$DIR/host.log" 2>&1 &
HOST_PID=$!
for _ in $(seq 1 120); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HOST_PORT/health/ready")" = 200 ] && break; sleep 0.5; done
BASE="http://127.0.0.1:$HOST_PORT"
# The Host process is dotnet itself (exec): its CPU ticks from /proc.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$HOST_PID/stat"; }
jget() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

step() { # name
  KEY=demo-key SECRET=demo-secret "$ROOT/build/perf/http-load.sh" -c "$CONNS" -d "$WARMUP" "$BASE" >/dev/null 2>&1 || true
  local before; before="$(cpu_ticks)"
  KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/$1.json" "$ROOT/build/perf/http-load.sh" -c "$CONNS" -d "$SECONDS_EACH" "$BASE" >"$DIR/$1.log" 2>&1 || true
  echo $(( $(cpu_ticks) - before )) >"$DIR/$1.cpu"
}

echo "== 1. /v2/events, $CONNS connections, ${SECONDS_EACH} s, no output (twice: the first run warms the Host up)"
step cold
step none
echo "== 2. the same with a warehouse output connected (interval ${INTERVAL_MS} ms)"
OUT="$(curl -s -u admin:admin-password "$BASE/api/admin/outputs" -H 'content-type: application/json' \
  -d "{\"name\":\"bench\",\"kind\":\"warehouse\",\"warehouse\":{\"connection_string\":\"Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=warehouse\",\"schema\":\"eventprofiles\"}}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
curl -s -o /dev/null -u admin:admin-password "$BASE/api/admin/connections" -H 'content-type: application/json' -d "{\"input\":\"demo-server\",\"output_id\":\"$OUT\"}"
START="$(date +%s.%N)"
step warehouse
LOAD_END="$(date +%s.%N)"
BACKLOG="$(curl -s -u admin:admin-password "$BASE/api/admin/outputs/$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["pending"])')"
pending() { curl -s -u admin:admin-password "$BASE/api/admin/outputs/$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["pending"])'; }
for _ in $(seq 1 600); do [ "$(pending)" = 0 ] && break; sleep 1; done
END="$(date +%s.%N)"
ROWS="$(DB=warehouse psql_q -c 'select count(*) from eventprofiles.events')"
PROFILES="$(DB=warehouse psql_q -c 'select count(*) from eventprofiles.profiles')"
HZ="$(getconf CLK_TCK)"
del_connections() {
  for c in $(curl -s -u admin:admin-password "$BASE/api/admin/connections" | python3 -c "import json,sys; print(' '.join(c['id'] for c in json.load(sys.stdin)))"); do
    curl -s -o /dev/null -X DELETE -u admin:admin-password "$BASE/api/admin/connections/$c"
  done
}
del_connections
echo "== 4. the same with a webhook output (build/perf/sink.js) instead"
node "$ROOT/build/perf/sink.js" >"$DIR/sink.port" 2>"$DIR/sink.log" &
SINK_PID=$!
for _ in $(seq 1 50); do [ -s "$DIR/sink.port" ] && break; sleep 0.1; done
HOOK="$(curl -s -u admin:admin-password "$BASE/api/admin/outputs" -H 'content-type: application/json' \
  -d "{\"name\":\"sink\",\"kind\":\"webhook\",\"webhook\":{\"url\":\"http://127.0.0.1:$(cat "$DIR/sink.port")/hook\"}}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
curl -s -o /dev/null -u admin:admin-password "$BASE/api/admin/connections" -H 'content-type: application/json' -d "{\"input\":\"demo-server\",\"output_id\":\"$HOOK\"}"
step webhook
del_connections
kill "$SINK_PID" 2>/dev/null || true
echo "== 5. step 1 again, no connection"
step none-again
for s in cold none warehouse webhook none-again; do
  reqs="$(jget "$DIR/$s.json" 'j["requests"]')"
  printf '  %-10s %8s events/s  p99 %6s ms  non-2xx %s  Host CPU %s ms per batch\n' "$s" \
    "$(jget "$DIR/$s.json" 'round(j["ok_units_per_s"])')" "$(jget "$DIR/$s.json" 'round(j["p99_ms"],1)')" "$(jget "$DIR/$s.json" 'j["non2xx"]')" \
    "$(python3 -c "print(round($(cat "$DIR/$s.cpu") * 1000 / $HZ / max($reqs, 1), 3))")"
done
python3 -c "print(f'  warehouse (interval $INTERVAL_MS ms): $ROWS event rows, $PROFILES profile rows; $BACKLOG batches waiting when the load stopped, all synced {float($END) - float($LOAD_END):.1f} s later; {$ROWS / (float($END) - float($START)):.0f} event rows/s synced over load + drain')"
echo "  (logs in $DIR)"
