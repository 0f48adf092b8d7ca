#!/usr/bin/env bash
# build/perf/telemetry-cost.sh — Host CPU per /v2/events batch with telemetry off and on (docs/operations.md, Telemetry):
# the Release Host (build it first) on a private cluster, 16 connections, 8 s warm-up + 20 s per run, runs alternating
# off/on/off/on (off = EventProfiles__Telemetry__Prometheus=false), CPU = utime+stime of the Host from /proc/<pid>/stat.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/build/postgres.sh"
DIR=$ROOT/.data/telemetry-cost-$(date +%H%M%S); mkdir -p "$DIR"
cp -r "$ROOT/src/Host/bin/Release/net10.0" "$DIR/host"
PG_PORT="$(pg_free_port 57432)"; pg_start "$DIR/pg" "$PG_PORT" -c shared_buffers=512MB -c max_wal_size=8GB -c synchronous_commit=on -c fsync=on || exit 1
CS="$(pg_connection_string "$PG_PORT")"
trap 'pg_stop "$DIR/pg"; rm -rf "$DIR/pg/data" "$DIR/host"' EXIT
HOST_PID=""
start() { # mode
  HOST_PORT="$(pg_free_port 19080)"
  local prom=true; [ "$1" = off ] && prom=false
  ( cd "$DIR/host" && exec env ASPNETCORE_ENVIRONMENT=Development ConnectionStrings__EventProfiles="$CS" ASPNETCORE_URLS="http://127.0.0.1:$HOST_PORT" \
      Urls="http://127.0.0.1:$HOST_PORT" Logging__LogLevel__Default=Warning EventProfiles__Telemetry__Prometheus=$prom dotnet EventProfiles.Host.dll ) >>"$DIR/host.log" 2>&1 &
  HOST_PID=$!
  for i in $(seq 1 120); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HOST_PORT/health/ready")" = 200 ] && return 0; sleep 0.5; done; return 1
}
stop() { kill -TERM "$HOST_PID"; wait "$HOST_PID" 2>/dev/null; HOST_PID=""; }
cpu() { awk '{ print $14 + $15 }' "/proc/$HOST_PID/stat"; } # utime+stime, clock ticks
TICK=$(getconf CLK_TCK)
for mode in off on off on; do
  start "$mode" || { echo "host did not start"; tail "$DIR/host.log"; exit 1; }
  KEY=demo-key SECRET=demo-secret "$ROOT/build/perf/http-load.sh" -c 16 -d 8 "http://127.0.0.1:$HOST_PORT" >/dev/null 2>&1 # warm-up
  c0=$(cpu)
  KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/$mode.json" "$ROOT/build/perf/http-load.sh" -c 16 -d 20 "http://127.0.0.1:$HOST_PORT" >/dev/null 2>&1
  c1=$(cpu)
  [ "$mode" = on ] && curl -s -u admin:admin-password "http://127.0.0.1:$HOST_PORT/metrics" > "$DIR/metrics-$mode.txt"
  n=$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(j.requests, j.non2xx, Math.round(j.ok_units_per_s))' "$DIR/$mode.json")
  read -r req non2xx eps <<<"$n"
  echo "$mode: $req batches ($non2xx non-2xx, $eps events/s), Host CPU $(( (c1 - c0) * 1000 / TICK )) ms = $(awk -v c=$((c1 - c0)) -v t=$TICK -v n=$req 'BEGIN { printf "%.3f", 1000 * c / t / n }') ms per batch; load $(cut -d' ' -f1 /proc/loadavg)"
  stop
done
echo "metrics sample: $DIR/metrics-on.txt"
