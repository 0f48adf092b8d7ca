#!/usr/bin/env bash
# build/perf/host-cost.sh — CPU per /v2/events batch of the Host and of PostgreSQL, for variants of the Host's settings
# run alternately on one private cluster (the statements, not the rates, are what a shared box leaves comparable):
#
#   build/perf/host-cost.sh [-r rounds] "label:VAR=value VAR2=value" "other:VAR=value" ...
#   e.g. build/perf/host-cost.sh "default:" "no-telemetry:EventProfiles__Telemetry__Prometheus=false"
#
# The Release Host (build it first, or HOST_DIR=<a bin folder>) with the Development settings, 16 connections
# (CONNECTIONS), SETTLE_SECONDS (20) idle after start-up (a fresh Host's own CPU falls for ~40 s), WARMUP_SECONDS (8) of load (the JIT still tiers code up in it) then 20 s (SECONDS_PER_RUN) of single batches of 5 events for random users among
# 100,000; each variant in its own Host process, rounds alternating (default 2). CPU = utime+stime from /proc of the
# Host, and of the postmaster with its children (live and reaped), divided by the batches answered. Before the rounds,
# SEED_SECONDS (60) of the same load through the first variant, so that most people exist when rounds are measured.
# TRACE=1 also samples the Host's stacks (dotnet-trace) during each measured run and writes topN reports.
# CS_EXTRA=Keyword=value;… is appended to the connection string (Npgsql's keywords without spaces, e.g. MaxAutoPrepare=32).
# HOST_DIR=<bin folder> as a variant's setting runs that build instead (e.g. a copy of main's Release build made before a
# change: "main:HOST_DIR=.data/main-host" "changed:"). Allocations per batch: dotnet.gc.heap.total_allocated (dotnet-counters)
# over the measured window divided by the batches answered (ALLOC=0 leaves them out).
# FLOOR=ingest as a variant's setting runs build/perf/floor instead of the Host: the same batches parsed and stored by
# the raw limit's per-batch transaction in one round trip (pg-limit.sh's ingest), with nothing of ours in the way.
# FLOOR=design / design-group: what the design stores per batch (our tables and rows, one round trip per batch / per
# group; DESIGN_OMIT=… leaves parts out).
# WAL per batch: pg_current_wal_lsn() over the window. PG_STATEMENTS=1 adds pg_stat_statements: statements and
# transactions per batch (its calls, pg_stat_database's commits), and the window's top statements in $DIR/<label>-<round>.statements.txt.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/build/postgres.sh"
export PATH="$PATH:$HOME/.dotnet/tools"
ROUNDS=2
[ "${1:-}" = "-r" ] && { ROUNDS=$2; shift 2; }
[ $# -ge 1 ] || { sed -n 2,11p "$0"; exit 2; }
CONNECTIONS="${CONNECTIONS:-16}"; SECONDS_PER_RUN="${SECONDS_PER_RUN:-20}"
DIR=$ROOT/.data/host-cost-$(date +%H%M%S); mkdir -p "$DIR"
cp -r "${HOST_DIR:-$ROOT/src/Host/bin/Release/net10.0}" "$DIR/host"
dotnet build "$ROOT/build/perf/floor/Floor.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly -o "$DIR/floor" >"$DIR/floor-build.log" 2>&1 \
  || { cat "$DIR/floor-build.log"; exit 1; }
PG_PORT="$(pg_free_port 57432)"; pg_start "$DIR/pg" "$PG_PORT" -c shared_buffers=512MB -c max_wal_size=8GB -c synchronous_commit=on -c fsync=on \
  ${PG_STATEMENTS:+-c shared_preload_libraries=pg_stat_statements} || exit 1
CS="$(pg_connection_string "$PG_PORT")"
trap 'pg_stop "$DIR/pg"; rm -rf "$DIR/pg/data" "$DIR/host"' EXIT
PG_PID=$(head -1 "$DIR/pg/data/postmaster.pid")
TICK=$(getconf CLK_TCK)
sql() { "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -XAtqc "$1"; }
[ -n "${PG_STATEMENTS:-}" ] && sql "create extension if not exists pg_stat_statements"
# WAL position, then (PG_STATEMENTS) statements executed and transactions committed so far.
pg_counts() { sql "select pg_current_wal_lsn() - '0/0'::pg_lsn, $([ -n "${PG_STATEMENTS:-}" ] && echo "(select sum(calls) from pg_stat_statements)" || echo 0), (select xact_commit from pg_stat_database where datname = 'postgres'), (select coalesce(sum(n_tup_ins), 0) from pg_stat_user_tables where relname = 'mt_streams')" | tr '|' ' '; }
HOST_PID=""
start() { # VAR=value ... (FLOOR=ingest: the floor app instead of the Host)
  HOST_PORT="$(pg_free_port $((19080 + RANDOM % 800)))" # a random start: concurrent runs on one box raced for the same port
  local floor="" env=() s cs="$CS" host="$DIR/host"
  for s in "$@"; do case $s in FLOOR=*) floor="${s#FLOOR=}" ;; CS_EXTRA=*) cs="$CS;${s#CS_EXTRA=}" ;; HOST_DIR=*) host="$(cd "$ROOT" && cd "${s#HOST_DIR=}" && pwd)" ;; *) env+=("$s") ;; esac; done
  if [ -n "$floor" ]; then
    ( cd "$DIR/floor" && exec env ASPNETCORE_URLS="http://127.0.0.1:$HOST_PORT" FLOOR="$floor" FLOOR_CONNECTION="$cs" "${env[@]}" dotnet Floor.dll ) >>"$DIR/host.log" 2>&1 &
    HOST_PID=$!
    for i in $(seq 1 60); do
      kill -0 "$HOST_PID" 2>/dev/null || return 1
      [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HOST_PORT/json/1")" = 200 ] && { sleep "${SETTLE_SECONDS:-20}"; return; }
      sleep 0.5
    done; return 1
  fi
  ( cd "$host" && exec env ASPNETCORE_ENVIRONMENT=Development ConnectionStrings__EventProfiles="$cs" ASPNETCORE_URLS="http://127.0.0.1:$HOST_PORT" \
      Urls="http://127.0.0.1:$HOST_PORT" Logging__LogLevel__Default=Warning "${env[@]}" dotnet EventProfiles.Host.dll ) >>"$DIR/host.log" 2>&1 &
  HOST_PID=$!
  # Ready means our Host answers: if another process took the port first, ours has exited and must not be measured.
  for i in $(seq 1 120); do
    kill -0 "$HOST_PID" 2>/dev/null || return 1
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HOST_PORT/health/ready")" = 200 ] && { sleep "${SETTLE_SECONDS:-20}"; kill -0 "$HOST_PID" 2>/dev/null; return; }
    sleep 0.5
  done; return 1
}
stop() { kill -TERM "$HOST_PID"; wait "$HOST_PID" 2>/dev/null; HOST_PID=""; }
source "$ROOT/build/perf/cpu-common.sh"
host_cpu() { proc_cpu "$HOST_PID"; }
# The first variant's load for SEED_SECONDS (60) before the rounds, so no variant measures an empty database (the same
# build costs ~0.8 ms of Host CPU per batch on an empty one and 1.1–1.3 ms once most people exist).
first="$1"; read -r -a settings <<<"${first#*:}"
start "${settings[@]}" || { echo "host did not start (seeding)"; tail "$DIR/host.log"; exit 1; }
KEY=demo-key SECRET=demo-secret "$ROOT/build/perf/http-load.sh" -c "$CONNECTIONS" -d "${SEED_SECONDS:-60}" "http://127.0.0.1:$HOST_PORT" >/dev/null 2>&1
stop
for round in $(seq 1 "$ROUNDS"); do
  for variant in "$@"; do
    label="${variant%%:*}"; read -r -a settings <<<"${variant#*:}"
    start "${settings[@]}" || { echo "host did not start ($label)"; tail "$DIR/host.log"; exit 1; }
    KEY=demo-key SECRET=demo-secret "$ROOT/build/perf/http-load.sh" -c "$CONNECTIONS" -d "${WARMUP_SECONDS:-8}" "http://127.0.0.1:$HOST_PORT" >/dev/null 2>&1
    if [ "${ALLOC:-1}" = 1 ]; then
      # As read-cost.sh: dotnet-counters writes its file only when it stops, so it runs for a fixed time around the
      # window (attach, the window, a margin); the idle seconds on each side add a little background allocation.
      dotnet-counters collect -p "$HOST_PID" --counters 'System.Runtime[dotnet.gc.heap.total_allocated]' --format csv -o "$DIR/$label-$round.csv" \
        --duration "00:00:00:$((SECONDS_PER_RUN + 14))" >/dev/null 2>&1 &
      COUNTERS=$!; sleep 8
    fi
    [ -n "${PG_STATEMENTS:-}" ] && sql "select pg_stat_statements_reset()" >/dev/null
    h0=$(host_cpu); p0=$(pg_cpu); read -r w0 s0 x0 n0 <<<"$(pg_counts)"
    if [ "${TRACE:-0}" = 1 ]; then # where the Host's time goes: sampled stacks over 15 s of the measured run
      ( sleep 2; dotnet-trace collect -p "$HOST_PID" --profile dotnet-sampled-thread-time --duration 00:00:00:15 -o "$DIR/$label-$round.nettrace" >/dev/null 2>&1 ) &
      TRACER=$!
    fi
    KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/$label-$round.json" "$ROOT/build/perf/http-load.sh" -c "$CONNECTIONS" -d "$SECONDS_PER_RUN" "http://127.0.0.1:$HOST_PORT" >/dev/null 2>&1
    h1=$(host_cpu); p1=$(pg_cpu); read -r w1 s1 x1 n1 <<<"$(pg_counts)"
    [ -n "${PG_STATEMENTS:-}" ] && sql "select calls, round(total_exec_time::numeric, 1) as ms, wal_records, wal_bytes, left(regexp_replace(query, '\s+', ' ', 'g'), 160)
      from pg_stat_statements order by total_exec_time desc limit 25" >"$DIR/$label-$round.statements.txt"
    alloc="-"
    if [ "${ALLOC:-1}" = 1 ]; then
      wait "$COUNTERS" 2>/dev/null
      # Rows are per-second increments of the cumulative counter: their sum over the collection.
      alloc=$(awk -F, 'NR > 1 && $3 ~ /total_allocated/ { s += $NF } END { printf "%.0f", s }' "$DIR/$label-$round.csv")
    fi
    read -r req non2xx eps <<<"$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(j.requests, j.non2xx, Math.round(j.ok_units_per_s))' "$DIR/$label-$round.json")"
    awk -v l="$label" -v r="$round" -v n="$req" -v bad="$non2xx" -v e="$eps" -v h=$((h1 - h0)) -v p=$((p1 - p0)) -v t="$TICK" -v a="$alloc" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
      -v w=$((w1 - w0)) -v st=$((s1 - s0)) -v x=$((x1 - x0)) -v new=$((n1 - n0)) \
      'BEGIN { printf "%-18s round %s: %6d batches (%d non-2xx), %5d events/s, Host %.3f ms, PostgreSQL %.3f ms, %s, WAL %.1f KB%s per batch; load %s\n", l, r, n, bad, e, 1000*h/t/n, 1000*p/t/n, (a == "-" ? "alloc -" : sprintf("%.1f KB", a/n/1024)), w/n/1024, (st > 0 ? sprintf(", %.2f statements, %.2f commits", st/n, x/n) : ""), load; printf "  new streams per batch %.2f\n", new/n }'
    if [ "${TRACE:-0}" = 1 ]; then
      wait "$TRACER"
      dotnet-trace report "$DIR/$label-$round.nettrace" topN -n 300 >"$DIR/$label-$round.top.txt" 2>&1
      dotnet-trace report "$DIR/$label-$round.nettrace" topN -n 3000 --inclusive >"$DIR/$label-$round.inclusive.txt" 2>&1
      echo "  samples: $DIR/$label-$round.top.txt (exclusive), .inclusive.txt"
    fi
    stop
  done
done
