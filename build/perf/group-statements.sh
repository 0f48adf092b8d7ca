#!/usr/bin/env bash
# build/perf/group-statements.sh — the statements PostgreSQL runs per writer group and per batch under /v2/events load,
# for variants of the Host (as host-cost.sh: "label:VAR=value HOST_DIR=<bin folder>"), from pg_stat_statements:
#
#   build/perf/group-statements.sh "main:HOST_DIR=.data/main-host EventProfiles__Ingestion__Writers=1" "changed:EventProfiles__Ingestion__Writers=1"
#
# Each variant on its own private cluster (same settings as host-cost.sh plus pg_stat_statements), CONNECTIONS (16) for
# SECONDS_PER_RUN (20) after 8 s of warm-up. Groups = calls of the writer's stream-lock statement (one per group). Prints
# each statement's calls per group, and the totals per group and per batch. Round trips are not visible to the server:
# the script prints the statements, the code says which travel together.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/build/postgres.sh"
[ $# -ge 1 ] || { sed -n 2,10p "$0"; exit 2; }
CONNECTIONS="${CONNECTIONS:-16}"; SECONDS_PER_RUN="${SECONDS_PER_RUN:-20}"
DIR=$ROOT/.data/group-statements-$(date +%H%M%S); mkdir -p "$DIR"
HOST_PID=""; PG_DIR=""
cleanup() { [ -n "$HOST_PID" ] && kill -TERM "$HOST_PID" 2>/dev/null; [ -n "$PG_DIR" ] && { pg_stop "$PG_DIR"; rm -rf "$PG_DIR/data"; }; }
trap cleanup EXIT
for variant in "$@"; do
  label="${variant%%:*}"; read -r -a settings <<<"${variant#*:}"
  PG_DIR="$DIR/pg-$label"
  PG_PORT="$(pg_free_port 58432)"
  pg_start "$PG_DIR" "$PG_PORT" -c shared_buffers=512MB -c max_wal_size=8GB -c synchronous_commit=on -c fsync=on \
    -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all || exit 1
  psql_q() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
  psql_q -c "create extension if not exists pg_stat_statements" >/dev/null
  CS="$(pg_connection_string "$PG_PORT")"
  host="$ROOT/src/Host/bin/Release/net10.0"; env=()
  for s in "${settings[@]}"; do case $s in HOST_DIR=*) host="$(cd "$ROOT" && cd "${s#HOST_DIR=}" && pwd)" ;; *) env+=("$s") ;; esac; done
  HOST_PORT="$(pg_free_port $((19880 + RANDOM % 800)))"
  ( cd "$host" && exec env ASPNETCORE_ENVIRONMENT=Development ConnectionStrings__EventProfiles="$CS" ASPNETCORE_URLS="http://127.0.0.1:$HOST_PORT" \
      Urls="http://127.0.0.1:$HOST_PORT" Logging__LogLevel__Default=Warning "${env[@]}" dotnet EventProfiles.Host.dll ) >>"$DIR/host-$label.log" 2>&1 &
  HOST_PID=$!
  for i in $(seq 1 240); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HOST_PORT/health/ready")" = 200 ] && break; sleep 0.5
  done
  KEY=demo-key SECRET=demo-secret "$ROOT/build/perf/http-load.sh" -c "$CONNECTIONS" -d 8 "http://127.0.0.1:$HOST_PORT" >/dev/null 2>&1
  psql_q -c "select pg_stat_statements_reset()" >/dev/null
  KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/$label.json" "$ROOT/build/perf/http-load.sh" -c "$CONNECTIONS" -d "$SECONDS_PER_RUN" "http://127.0.0.1:$HOST_PORT" >/dev/null 2>&1
  kill -TERM "$HOST_PID"; wait "$HOST_PID" 2>/dev/null; HOST_PID=""
  batches="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).requests)' "$DIR/$label.json")"
  groups="$(psql_q -c "select coalesce(sum(calls), 0) from pg_stat_statements where query like 'select id, version, is_archived from %mt_streams where id = any%for update'")"
  echo "== $label: $batches batches, $groups groups ($(awk -v b="$batches" -v g="$groups" 'BEGIN { printf "%.1f", (g > 0 ? b / g : 0) }') batches per group); load $(cut -d' ' -f1-3 /proc/loadavg)"
  psql_q -F $'\t' -c "select round(calls::numeric / greatest($groups, 1), 2), calls, left(regexp_replace(query, '\s+', ' ', 'g'), 110) from pg_stat_statements
    where dbid = (select oid from pg_database where datname = 'postgres') order by calls desc limit 30" | awk -F'\t' '{ printf "  %7s/group %8s  %s\n", $1, $2, $3 }'
  psql_q -c "select 'statements per group ' || round(sum(calls)::numeric / greatest($groups, 1), 1) || ', per batch ' || round(sum(calls)::numeric / greatest($batches, 1), 2)
    from pg_stat_statements where dbid = (select oid from pg_database where datname = 'postgres')"
  pg_stop "$PG_DIR"; rm -rf "$PG_DIR/data"; PG_DIR=""
done
