#!/usr/bin/env bash
# build/perf/read-cost.sh — the cost of one Profile API read, per read rather than per second (a shared box moves
# rates, much less the CPU a read takes): Host CPU, PostgreSQL CPU, statements and allocations per read, for variants
# of the Host (settings or builds) and for the floor (build/perf/floor: bare Kestrel), run alternately on one
# private cluster over the same people:
#
#   build/perf/read-cost.sh [-r rounds] "label:VAR=value ..." ...
#   e.g. build/perf/read-cost.sh "before:HOST_DIR=.data/host-before" "after:" "floor-json:FLOOR=json" "floor-sql:FLOOR=sql"
#
# Special variables of a variant: HOST_DIR (a Host bin folder; default the Release build), FLOOR=json|sql (the floor
# app instead of the Host: a fixed 300-byte JSON, or one `select data from mt_doc_profile where id = $1` through
# Npgsql), READ=mpid|resolve (default mpid); the rest is the Host's environment (@PGDIR@ and @PGPORT@ stand for the
# cluster's socket folder and port, e.g. "unix:ConnectionStrings__EventProfiles=Host=@PGDIR@;Port=@PGPORT@;Username=postgres"). PEOPLE (20000) are created first with
# build/Bench through the first Host; reads use fields=user_identities,user_attributes,audience_memberships, 16
# connections (CONNECTIONS), one wrk thread, SETTLE_SECONDS (40) after start, WARMUP (10) s of warm-up then SECONDS_PER_RUN (15). CPU = utime+stime from /proc of
# the server process, and of the postmaster with its children, over the measured requests; statements =
# pg_stat_statements calls over the measured window; the server's idle CPU (IDLE_SECONDS, 10, measured just before)
# is also shown taken off; allocations = dotnet.gc.heap.total_allocated (dotnet-counters,
# ALLOC=0 to skip) over the same window, divided by the reads. Build the Host and build/Bench in Release first.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/build/postgres.sh"
export PATH="$PATH:$HOME/.dotnet/tools"
ROUNDS=2
[ "${1:-}" = "-r" ] && { ROUNDS=$2; shift 2; }
[ $# -ge 1 ] || { sed -n 2,20p "$0"; exit 2; }
CONNECTIONS="${CONNECTIONS:-16}"; SECONDS_PER_RUN="${SECONDS_PER_RUN:-15}"; PEOPLE="${PEOPLE:-20000}"; ALLOC="${ALLOC:-1}"; WARMUP="${WARMUP:-10}"; IDLE_SECONDS="${IDLE_SECONDS:-10}"; SETTLE_SECONDS="${SETTLE_SECONDS:-40}"
FIELDS=user_identities,user_attributes,audience_memberships
SCHEMA=eventprofiles_hot
DIR=$ROOT/.data/read-cost-$(date +%H%M%S); mkdir -p "$DIR"
PG_PORT="$(pg_free_port 58432)"
pg_start "$DIR/pg" "$PG_PORT" -c shared_buffers=512MB -c max_wal_size=8GB -c synchronous_commit=on -c fsync=on \
  -c shared_preload_libraries=pg_stat_statements || exit 1
CS="$(pg_connection_string "$PG_PORT")"
psql_q() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_q -c "create extension if not exists pg_stat_statements" >/dev/null
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null; pg_stop "$DIR/pg"; rm -rf "$DIR/pg/data"' EXIT
PG_PID=$(head -1 "$DIR/pg/data/postmaster.pid")
TICK=$(getconf CLK_TCK)
dotnet build "$ROOT/build/perf/floor/Floor.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly -o "$DIR/floor" >"$DIR/floor-build.log" 2>&1 \
  || { cat "$DIR/floor-build.log"; exit 1; }

start() { # VAR=value ... (HOST_DIR, FLOOR and READ are ours, the rest goes to the server)
  PORT="$(pg_free_port 19180)"
  local host_dir="$ROOT/src/Host/bin/Release/net10.0" floor="" env=() s
  READ=mpid
  for s in "$@"; do s="${s//@PGDIR@/$DIR/pg}"; s="${s//@PGPORT@/$PG_PORT}"; case $s in HOST_DIR=*) host_dir="${s#HOST_DIR=}" ;; FLOOR=*) floor="${s#FLOOR=}" ;; READ=*) READ="${s#READ=}" ;; *) env+=("$s") ;; esac; done
  [[ $host_dir = /* ]] || host_dir="$ROOT/$host_dir"
  if [ -n "$floor" ]; then
    ( cd "$DIR/floor" && exec env ASPNETCORE_URLS="http://127.0.0.1:$PORT" FLOOR_CONNECTION="$CS" FLOOR_TABLE="$SCHEMA.mt_doc_profile" "${env[@]}" \
        dotnet Floor.dll ) >>"$DIR/server.log" 2>&1 &
    SERVER_PID=$!
    URL="http://127.0.0.1:$PORT/$floor/{id}"; BODY_JSON=""; IDS="$DIR/mpids.txt"
    for i in $(seq 1 60); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/json/1")" = 200 ] && return 0; sleep 0.5; done; return 1
  fi
  ( cd "$host_dir" && exec env ASPNETCORE_ENVIRONMENT=Development ConnectionStrings__EventProfiles="$CS" EventProfiles__Schema="$SCHEMA" \
      ASPNETCORE_URLS="http://127.0.0.1:$PORT" Urls="http://127.0.0.1:$PORT" Logging__LogLevel__Default=Warning "${env[@]}" \
      dotnet EventProfiles.Host.dll ) >>"$DIR/server.log" 2>&1 &
  SERVER_PID=$!
  if [ "$READ" = resolve ]; then
    URL="http://127.0.0.1:$PORT/userprofile/v1/resolve/1/1/1?fields=$FIELDS"; IDS="$DIR/customers.txt"
    BODY_JSON='{"environment_type":"development","identity":{"type":"customer_id","value":"{id}"}}'
  else URL="http://127.0.0.1:$PORT/userprofile/v1/1/1/1/{id}?fields=$FIELDS"; BODY_JSON=""; IDS="$DIR/mpids.txt"; fi
  for i in $(seq 1 120); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health/ready")" = 200 ] && return 0; sleep 0.5; done; return 1
}
stop() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""; }
source "$ROOT/build/perf/cpu-common.sh"
server_cpu() { proc_cpu "$SERVER_PID"; }
pg_calls() { psql_q -c "select coalesce(sum(calls), 0) from pg_stat_statements where dbid = (select oid from pg_database where datname = 'postgres')"; }
token() { curl -s -H 'Content-Type: application/json' -d '{"client_id":"demo-client","client_secret":"demo-client-secret","audience":"https://api.mparticle.com","grant_type":"client_credentials"}' \
  "http://127.0.0.1:$PORT/oauth/token" | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s).access_token))'; }

# The people, once, through the first variant's Host (build/Bench, one batch each, 20 batches per request).
first="$1"; read -r -a settings <<<"${first#*:}"
start "${settings[@]}" || { echo "server did not start"; tail "$DIR/server.log"; exit 1; }
BENCH_URL="http://127.0.0.1:$PORT/" BENCH_USERS="$PEOPLE" BENCH_FIRST_USER=0 BENCH_BATCHES_PER_USER=1 BENCH_CLIENTS=32 BENCH_BULK=20 BENCH_MAX_SECONDS=1800 \
  dotnet "$ROOT/build/Bench/bin/Release/net10.0/EventProfiles.Bench.dll" >"$DIR/seed.log" 2>&1 || { tail "$DIR/seed.log"; exit 1; }
sleep 3; stop
psql_q -c "vacuum analyze" -c "checkpoint"
psql_q -c "select mpid from $SCHEMA.ep_identity_index where identity_type = 'customer_id' and identity_value like 'cust-%'" >"$DIR/mpids.txt"
psql_q -c "select identity_value from $SCHEMA.ep_identity_index where identity_type = 'customer_id' and identity_value like 'cust-%'" >"$DIR/customers.txt"
echo "$(wc -l <"$DIR/mpids.txt") people; results in $DIR"

for round in $(seq 1 "$ROUNDS"); do
  for variant in "$@"; do
    label="${variant%%:*}"; read -r -a settings <<<"${variant#*:}"
    start "${settings[@]}" || { echo "server did not start ($label)"; tail "$DIR/server.log"; exit 1; }
    # A fresh Host works for ~40 s after it is ready (JIT tiering, agents starting: 200 → 36 ms of CPU per second here,
    # 2026-12-05), which would be counted against the reads: let it settle first.
    sleep "$SETTLE_SECONDS"
    AUTH="Bearer $( [[ $URL == */userprofile/* ]] && token || echo none)"
    # Warm-up (JIT, pools, prepared statements), then the measured window.
    BODY="$BODY_JSON" ID_FILE="$IDS" AUTH="$AUTH" "$ROOT/build/perf/http-read.sh" -c "$CONNECTIONS" -d "$WARMUP" "$URL" >/dev/null 2>&1
    psql_q -c "select pg_stat_statements_reset()" >/dev/null
    # What the server does with no request (Wolverine's and the daemon's polling, timers): at a few hundred reads per
    # second on a loaded box it is a large part of the CPU per read, so it is measured idle and taken off.
    i0=$(server_cpu); sleep "$IDLE_SECONDS"; i1=$(server_cpu)
    if [ "$ALLOC" = 1 ]; then
      # dotnet-counters writes its file only when it stops, so it runs for a fixed time around the window: attach, the
      # window, a margin; the idle seconds on each side add ~0.1-0.2 MB/s of background allocations (1-2 % here).
      dotnet-counters collect -p "$SERVER_PID" --counters 'System.Runtime[dotnet.gc.heap.total_allocated]' --format csv -o "$DIR/$label-$round.csv" \
        --duration "00:00:00:$((SECONDS_PER_RUN + 14))" >/dev/null 2>&1 &
      COUNTERS=$!; sleep 8
    fi
    h0=$(server_cpu); p0=$(pg_cpu)
    BODY="$BODY_JSON" ID_FILE="$IDS" AUTH="$AUTH" OUT_JSON="$DIR/$label-$round.json" "$ROOT/build/perf/http-read.sh" -c "$CONNECTIONS" -d "$SECONDS_PER_RUN" "$URL" >/dev/null 2>&1
    h1=$(server_cpu); p1=$(pg_cpu); calls=$(pg_calls)
    alloc="-"
    if [ "$ALLOC" = 1 ]; then
      wait "$COUNTERS" 2>/dev/null
      # Rows are per-second increments (Rate) of the cumulative counter: their sum over the collection.
      alloc=$(awk -F, 'NR > 1 && $3 ~ /total_allocated/ { s += $NF } END { printf "%.0f", s }' "$DIR/$label-$round.csv")
    fi
    read -r req non2xx rps p50 p99 <<<"$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(j.requests, j.non2xx, Math.round(j.ok_units_per_s), j.p50_ms.toFixed(2), j.p99_ms.toFixed(2))' "$DIR/$label-$round.json")"
    awk -v l="$label" -v r="$round" -v n="$req" -v bad="$non2xx" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v h=$((h1 - h0)) -v p=$((p1 - p0)) -v t="$TICK" -v idle=$((i1 - i0)) -v is="$IDLE_SECONDS" -v ws="$SECONDS_PER_RUN" \
        -v c="$calls" -v a="$alloc" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
      'BEGIN { printf "%-14s round %s: %6d reads (%d non-2xx), %5d/s, p50 %s p99 %s ms | per read: server %.3f ms (%.3f less idle %.0f ms/s), PostgreSQL %.3f ms, %.2f statements, %s | load %s\n",
               l, r, n, bad, rps, p50, p99, 1000*h/t/n, 1000*(h - idle*ws/is)/t/n, 1000*idle/t/is, 1000*p/t/n, c/n, (a == "-" ? "alloc -" : sprintf("%.1f KB", a/n/1024)), load }'
    stop
  done
done
