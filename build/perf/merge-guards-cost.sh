#!/usr/bin/env bash
# build/perf/merge-guards-cost.sh — what merge guards (issue 21 §4) cost per /v2/events batch: Host CPU, PostgreSQL CPU
# and statements per batch, guards on (the default policy) and off (limits so high no rule can hold), alternately:
#
#   build/perf/merge-guards-cost.sh [-r rounds]
#   TRACE=1 build/perf/merge-guards-cost.sh   also samples where the Host's time goes during each measured run
#                                              (dotnet-trace, dotnet-sampled-thread-time, 15 s) and prints the merge
#                                              guards' frames' inclusive share of the samples
#
# As host-cost.sh (whose pieces this reuses: the Release Host with the Development settings, 16 connections, 8 s of
# warm-up then 20 s of single batches of 5 events for random users among 100,000, CPU = utime+stime from /proc), but
# each variant runs on a fresh database of one private cluster: the guards are stored settings, seeded from
# configuration into an empty database only, so a variant's policy is set by the configuration it seeds. Statements
# = pg_stat_statements calls of that database during the measured 20 s, divided by the batches answered.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/build/postgres.sh"
ROUNDS=2
[ "${1:-}" = "-r" ] && { ROUNDS=$2; shift 2; }
CONNECTIONS="${CONNECTIONS:-16}"; SECONDS_PER_RUN="${SECONDS_PER_RUN:-20}"
DIR=$ROOT/.data/guards-cost-$(date +%H%M%S); mkdir -p "$DIR"
cp -r "${HOST_DIR:-$ROOT/src/Host/bin/Release/net10.0}" "$DIR/host"
PG_PORT="$(pg_free_port 57532)"
pg_start "$DIR/pg" "$PG_PORT" -c shared_buffers=512MB -c max_wal_size=8GB -c synchronous_commit=on -c fsync=on \
  -c shared_preload_libraries=pg_stat_statements || exit 1
trap 'pg_stop "$DIR/pg"; rm -rf "$DIR/pg/data" "$DIR/host"' EXIT
BASE_CS="$(pg_connection_string "$PG_PORT")"
psql_db() { local db=$1; shift; psql -X -q -A -t -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" "$@"; }
psql_db postgres -c "create extension if not exists pg_stat_statements" >/dev/null
PG_PID=$(head -1 "$DIR/pg/data/postmaster.pid")
TICK=$(getconf CLK_TCK)
HOST_PID=""
VARIANTS=("guards-on:" "guards-off:EventProfiles__Org__Identity__MergeGuards__PeoplePerValue=1000000000 EventProfiles__Org__Identity__MergeGuards__IdentitiesPerTypePerDay=1000000000 EventProfiles__Org__Identity__MergeGuards__DevicesPerHour=1000000000")
start() { # database VAR=value ...
  local db=$1; shift
  HOST_PORT="$(pg_free_port $((20000 + RANDOM % 9000)))" # a random start: a port others use is never ours
  local cs="${BASE_CS/Database=postgres/Database=$db}"
  ( cd "$DIR/host" && exec env ASPNETCORE_ENVIRONMENT=Development ConnectionStrings__EventProfiles="$cs" ASPNETCORE_URLS="http://127.0.0.1:$HOST_PORT" \
      Urls="http://127.0.0.1:$HOST_PORT" Logging__LogLevel__Default=Warning "$@" dotnet EventProfiles.Host.dll ) >>"$DIR/host.log" 2>&1 &
  HOST_PID=$!
  # Ready only while our own process lives: another Host may answer on a port ours failed to bind.
  for i in $(seq 1 120); do
    kill -0 "$HOST_PID" 2>/dev/null || return 1
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HOST_PORT/health/ready")" = 200 ] && { sleep 1; kill -0 "$HOST_PID" 2>/dev/null; return; }
    sleep 0.5
  done; return 1
}
stop() { kill -TERM "$HOST_PID"; wait "$HOST_PID" 2>/dev/null; HOST_PID=""; }
source "$ROOT/build/perf/cpu-common.sh"
host_cpu() { proc_cpu "$HOST_PID"; }
calls() { psql_db postgres -c "select coalesce(sum(calls), 0) from pg_stat_statements where dbid = (select oid from pg_database where datname = '$1')"; }
for round in $(seq 1 "$ROUNDS"); do
  for variant in "${VARIANTS[@]}"; do
    label="${variant%%:*}"; read -r -a settings <<<"${variant#*:}"
    db="${label//-/_}_$round"
    psql_db postgres -c "create database $db" >/dev/null
    start "$db" "${settings[@]}" || { echo "host did not start ($label)"; tail "$DIR/host.log"; HOST_PID=""; exit 1; }
    policy=$(curl -s -u admin:admin-password "http://127.0.0.1:$HOST_PORT/api/admin/identity-settings" | grep -o '"merge_guards":{[^}]*}')
    KEY=demo-key SECRET=demo-secret "$ROOT/build/perf/http-load.sh" -c "$CONNECTIONS" -d 8 "http://127.0.0.1:$HOST_PORT" >/dev/null 2>&1
    c0=$(calls "$db"); h0=$(host_cpu); p0=$(pg_cpu)
    if [ "${TRACE:-0}" = 1 ]; then
      ( sleep 2; "${DOTNET_TRACE:-$HOME/.dotnet/tools/dotnet-trace}" collect -p "$HOST_PID" --profile dotnet-sampled-thread-time --duration 00:00:00:15 \
          -o "$DIR/$label-$round.nettrace" >/dev/null 2>&1 ) &
      TRACER=$!
    fi
    KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/$label-$round.json" "$ROOT/build/perf/http-load.sh" -c "$CONNECTIONS" -d "$SECONDS_PER_RUN" "http://127.0.0.1:$HOST_PORT" >/dev/null 2>&1
    h1=$(host_cpu); p1=$(pg_cpu); c1=$(calls "$db")
    read -r req non2xx eps <<<"$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(j.requests, j.non2xx, Math.round(j.ok_units_per_s))' "$DIR/$label-$round.json")"
    awk -v l="$label" -v r="$round" -v n="$req" -v bad="$non2xx" -v e="$eps" -v h=$((h1 - h0)) -v p=$((p1 - p0)) -v s=$((c1 - c0)) -v t="$TICK" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
      'BEGIN { printf "%-10s round %s: %6d batches (%d non-2xx), %5d events/s, Host %.3f ms, PostgreSQL %.3f ms, %.2f statements per batch; load %s\n", l, r, n, bad, e, 1000*h/t/n, 1000*p/t/n, s/n, load }'
    echo "           policy: $policy"
    if [ "${TRACE:-0}" = 1 ]; then
      wait "$TRACER"
      "${DOTNET_TRACE:-$HOME/.dotnet/tools/dotnet-trace}" report "$DIR/$label-$round.nettrace" topN -n 5000 --inclusive >"$DIR/$label-$round.top.txt" 2>&1
      echo "           inclusive samples: $(grep -E 'MergeGuards|BatchDecision.Decide|GroupCommit|RunRequestAsync' "$DIR/$label-$round.top.txt" | head -8 | tr -s ' ' | tr '\n' ';')"
    fi
    stop
  done
done
