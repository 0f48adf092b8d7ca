#!/usr/bin/env bash
# build/perf/files.sh — issue 20 (files output): ingestion with a Parquet files output connected, and how fast its
# rows reach the files. One private cluster, one Release Host on free ports (files root in the run's folder), steps in
# the same run so the shared box's noise hits them alike:
#   1. POST /v2/events (build/perf/http-load.sh: 5 events per batch, random users), FILES_CONNS connections, no output;
#   2. the same with a files output connected to demo-server (flushes every FILES_INTERVAL_MS);
#   3. after step 2's load: the time until every delivery is in the files, the event rows in the manifest, and the rows
#      written per second over step 2 and the drain;
#   4. step 1 again, no connection (the Host warms up through the run: compare 2 with this one as well).
#   The Host's CPU time (utime+stime) per accepted batch in each step; the backlog when the load stopped.
# Env: FILES_SECONDS (30), FILES_CONNS (16), FILES_INTERVAL_MS (60000, the default interval), FILES_WARMUP (5).
# Needs a Release build (build/test or dotnet build -c Release) and wrk, like build/bench part (h).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../postgres.sh
source "$ROOT/build/postgres.sh"
SECONDS_EACH="${FILES_SECONDS:-30}"; CONNS="${FILES_CONNS:-16}"; INTERVAL_MS="${FILES_INTERVAL_MS:-60000}"; WARMUP="${FILES_WARMUP:-5}"
DIR="$ROOT/.data/files-bench-$(date +%Y%m%d-%H%M%S)"; mkdir -p "$DIR/lake"
PG_PORT="$(pg_free_port 56600)"; HOST_PORT="$(pg_free_port 18600)"
HOST_PID=""
cleanup() {
  local rc=$?
  if [ -n "$HOST_PID" ]; then kill -TERM "$HOST_PID" 2>/dev/null || true; wait "$HOST_PID" 2>/dev/null || true; fi
  pg_stop "$DIR/pg"; rm -rf "$DIR/pg/data" "$DIR/host" "$DIR/lake"
  exit $rc
}
trap cleanup EXIT
pg_start "$DIR/pg" "$PG_PORT" -c shared_buffers=512MB -c max_wal_size=8GB -c checkpoint_timeout=30min
CS="$(pg_connection_string "$PG_PORT")"

cp -r "$ROOT/src/Host/bin/Release/net10.0" "$DIR/host"
( cd "$DIR/host" && exec env ASPNETCORE_ENVIRONMENT=Development ConnectionStrings__EventProfiles="$CS" \
    ASPNETCORE_URLS="http://127.0.0.1:$HOST_PORT" Urls="http://127.0.0.1:$HOST_PORT" Logging__LogLevel__Default=Warning \
    EventProfiles__Forwarding__Files__Root="$DIR/lake" EventProfiles__Forwarding__Files__IntervalMs="$INTERVAL_MS" dotnet EventProfiles.Host.dll ) >>"$DIR/host.log" 2>&1 &
HOST_PID=$!
for _ in $(seq 1 120); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HOST_PORT/health/ready")" = 200 ] && break; sleep 0.5; done
BASE="http://127.0.0.1:$HOST_PORT"
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
echo "== 2. the same with a files output connected (interval ${INTERVAL_MS} ms)"
OUT="$(curl -s -u admin:admin-password "$BASE/api/admin/outputs" -H 'content-type: application/json' \
  -d "{\"name\":\"bench\",\"kind\":\"files\",\"files\":{\"folder\":\"$DIR/lake/bench\"}}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
curl -s -o /dev/null -u admin:admin-password "$BASE/api/admin/connections" -H 'content-type: application/json' -d "{\"input\":\"demo-server\",\"output_id\":\"$OUT\"}"
START="$(date +%s.%N)"
step files
LOAD_END="$(date +%s.%N)"
pending() { curl -s -u admin:admin-password "$BASE/api/admin/outputs/$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["pending"])'; }
BACKLOG="$(pending)"
for _ in $(seq 1 900); do [ "$(pending)" = 0 ] && break; sleep 1; done
END="$(date +%s.%N)"
read -r ROWS FILES BYTES < <(python3 -c "
import json; m = json.load(open('$DIR/lake/bench/_manifest.json'))
ev = [f for f in m['files'] if f['table'] == 'events']
print(sum(f['rows'] for f in ev), len(ev), sum(f['bytes'] for f in ev))")
for c in $(curl -s -u admin:admin-password "$BASE/api/admin/connections" | python3 -c "import json,sys; print(' '.join(c['id'] for c in json.load(sys.stdin)))"); do
  curl -s -o /dev/null -X DELETE -u admin:admin-password "$BASE/api/admin/connections/$c"
done
echo "== 4. step 1 again, no connection"
step none-again
HZ="$(getconf CLK_TCK)"
for s in cold none files none-again; do
  reqs="$(jget "$DIR/$s.json" 'j["requests"]')"
  printf '  %-10s %8s events/s  p99 %6s ms  non-2xx %s  Host CPU %s ms per batch\n' "$s" \
    "$(jget "$DIR/$s.json" 'round(j["ok_units_per_s"])')" "$(jget "$DIR/$s.json" 'round(j["p99_ms"],1)')" "$(jget "$DIR/$s.json" 'j["non2xx"]')" \
    "$(python3 -c "print(round($(cat "$DIR/$s.cpu") * 1000 / $HZ / max($reqs, 1), 3))")"
done
python3 -c "print(f'  files (interval $INTERVAL_MS ms): $ROWS event rows in $FILES files ({$BYTES / 1048576:.1f} MiB); $BACKLOG batches waiting when the load stopped, all written {float($END) - float($LOAD_END):.1f} s later; {$ROWS / (float($END) - float($START)):.0f} event rows/s written over load + drain')"
echo "  (logs in $DIR)"
