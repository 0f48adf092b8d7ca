#!/usr/bin/env bash
# build/perf/audience-activation.sh — what activating one real-time audience costs over many people (issue 15, write
# amplification): the events it appends to people's streams and the time until it is ready, on a private cluster and a
# Release Host built from a git ref (so two versions can be compared on the same box).
#   PEOPLE=100000   people created first (build/Bench, one batch each, 20 batches per request)
#   REF=HEAD        the commit to build and run (a copy under .data/, the working tree is not touched)
#   STATEMENTS=1    also print PostgreSQL's top statements by time from the activation to ready (pg_stat_statements)
#   TRACE=1         also sample the Host's stacks (dotnet-trace) for TRACE_SECONDS (8) from the evaluation's start; topN reports under .data/
#                   (TRACE_AT=activation: from the activation, i.e. the counters' initialisation by replay)
#   KEEP_CLUSTER=1  keep the cluster's data afterwards (stopped; the last line says how to start it) for EXPLAIN and the like
# "Ready" = the audience is active, its evaluation of everyone stored has finished, the calculations shard has applied
# every stored event, and the member count has not moved for 2 s (every initial member recorded). Prints the people count,
# events before/after, seconds to ready, and the Host's and PostgreSQL's CPU for the counters' replay and the evaluation.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../postgres.sh
source "$ROOT/build/postgres.sh"
export PATH="$PATH:$HOME/.dotnet/tools" # dotnet-trace (TRACE=1)
PEOPLE="${PEOPLE:-100000}"
REF="${REF:-HEAD}"
SCHEMA=eventprofiles
DIR="$ROOT/.data/activation-$(date +%Y%m%d-%H%M%S)-$(git -C "$ROOT" rev-parse --short "$REF")"
mkdir -p "$DIR/src"
git -C "$ROOT" archive "$REF" | tar -x -C "$DIR/src"
echo ">> building the Host at $REF and the load generator"
dotnet build "$DIR/src/src/Host/Host.csproj" -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
dotnet build "$DIR/src/build/Bench/Bench.csproj" -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
HOST_BIN="$DIR/src/src/Host/bin/Release/net10.0"
BENCH_DLL="$DIR/src/build/Bench/bin/Release/net10.0/EventProfiles.Bench.dll"

PG_PORT="$(pg_free_port 56432)"
HOST_PORT="$(pg_free_port 19080)"
CS="$(pg_connection_string "$PG_PORT")"
BASE="http://127.0.0.1:$HOST_PORT"
HOST_PID=""
psql_q() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
cleanup() {
  local rc=$?
  if [ -n "$HOST_PID" ]; then kill -TERM "$HOST_PID" 2>/dev/null || true; wait "$HOST_PID" 2>/dev/null || true; fi
  pg_stop "$DIR/pg"
  if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
    rm -rf "$DIR/src"
    echo "kept: source build/postgres.sh && pg_start $DIR/pg $PG_PORT   (then psql -h 127.0.0.1 -p $PG_PORT -U postgres)"
  else
    rm -rf "$DIR/pg/data" "$DIR/src"
  fi
  exit $rc
}
trap cleanup EXIT
pg_start "$DIR/pg" "$PG_PORT" -c shared_buffers=512MB -c max_wal_size=8GB -c synchronous_commit=on -c fsync=on \
  ${STATEMENTS:+-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all} >/dev/null
[ -n "${STATEMENTS:-}" ] && psql_q -c "create extension if not exists pg_stat_statements" >/dev/null
( cd "$HOST_BIN" && exec env ASPNETCORE_ENVIRONMENT=Development ConnectionStrings__EventProfiles="$CS" \
    ASPNETCORE_URLS="$BASE" Urls="$BASE" Logging__LogLevel__Default=Warning \
    Logging__LogLevel__EventProfiles.Commands.Audiences=Information \
    Logging__LogLevel__EventProfiles.Commands.CalculatedAttributes=Information dotnet EventProfiles.Host.dll ) >>"$DIR/host.log" 2>&1 &
HOST_PID=$!
for _ in $(seq 1 120); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/health/ready")" = 200 ] && break; sleep 0.5; done

echo ">> creating $PEOPLE people"
BENCH_URL="$BASE/" BENCH_USERS="$PEOPLE" BENCH_BATCHES_PER_USER=1 BENCH_CLIENTS=32 BENCH_BULK=20 BENCH_MAX_SECONDS=3600 \
  BENCH_HOST_PID="$HOST_PID" BENCH_RESULT_FILE="$DIR/seed.env" dotnet "$BENCH_DLL" >"$DIR/seed.log" 2>&1
shard_behind() { psql_q -c "select (select coalesce(max(seq_id), 0) from $SCHEMA.mt_events) - coalesce((select last_seq_id from $SCHEMA.mt_event_progression where name = 'PersonCalculations:All'), 0)"; }
events() { psql_q -c "select count(*) from $SCHEMA.mt_events"; }
people="$(psql_q -c "select count(*) from $SCHEMA.mt_doc_profile")"

TOKEN="$(curl -s -H 'Content-Type: application/json' -d '{"client_id":"demo-client","client_secret":"demo-client-secret","audience":"https://api.mparticle.com","grant_type":"client_credentials"}' "$BASE/oauth/token" \
  | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s).access_token))')"
api() { curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
# About a third of the people qualify: a plan, and an event criterion (so the activation initialises a counter too).
id="$(api -d '{ "name": "activation probe", "workspaces": [1], "criteria": [
    { "kind": "user_attribute", "attribute_name": "plan", "type": "string", "operator": "equals", "value": "pro" },
    { "join": "or", "kind": "event", "event_type": "custom_event", "event_name": "Started Trial", "recency": { "within_days": 30 }, "frequency": { "operator": "greater_than", "count": 5 } } ] }' \
  "$BASE/v1/audiences?accountId=1" | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s).id))')"
for _ in $(seq 1 1800); do [ "$(shard_behind)" -le 0 ] && break; sleep 0.5; done
echo "   events the calculations shard had not applied when the audience was activated: $(shard_behind)"
before="$(events)"
[ -n "${STATEMENTS:-}" ] && psql_q -c "select pg_stat_statements_reset()" >/dev/null
start="$(date +%s.%N)"
api -X POST -o /dev/null "$BASE/v1/audiences/$id/activation?accountId=1"
last=-1; stable=0; tracer=""
# One statement per poll (a curl and node per poll cost more CPU than the look-ups): the audience's stored status
# (2 = active), its evaluation started and finished, the events the calculations shard has not applied, the members.
poll() { psql_q -F ' ' -c "select (select data ->> 'Status' from $SCHEMA.mt_doc_audience where id = $id),
    (select count(*) from $SCHEMA.mt_doc_audience_initialisation where id = $id),
    (select count(*) from $SCHEMA.mt_doc_audience_initialisation where id = $id and data ->> 'FinishedAt' is not null),
    (select coalesce(max(seq_id), 0) from $SCHEMA.mt_events) - coalesce((select last_seq_id from $SCHEMA.mt_event_progression where name = 'PersonCalculations:All'), 0),
    (select count(*) from $SCHEMA.mt_doc_audience_member)"; }
# CPU time in clock ticks: the Host's, and PostgreSQL's (postmaster, its live children, and its reaped children's).
host_ticks() { awk '{ print $14 + $15 }' "/proc/$HOST_PID/stat"; }
pg_ticks() {
  local pm t c; pm="$(head -n 1 "$DIR/pg/data/postmaster.pid")"; t="$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat")"
  for c in $(pgrep -P "$pm"); do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
cpu_at_start="$(host_ticks) $(pg_ticks)"; cpu_at_evaluation=""; cpu_at_evaluated=""
while :; do
  read -r status started finished behind m <<<"$(poll)"
  [ -z "$cpu_at_evaluation" ] && [ "$started" = 1 ] && cpu_at_evaluation="$(host_ticks) $(pg_ticks)"
  [ -z "$cpu_at_evaluated" ] && [ "$finished" = 1 ] && cpu_at_evaluated="$(host_ticks) $(pg_ticks)"
  if [ "${TRACE:-0}" = 1 ] && [ -z "$tracer" ] && { [ "${TRACE_AT:-evaluation}" = activation ] || [ "$started" = 1 ]; }; then
    dotnet-trace collect -p "$HOST_PID" --profile dotnet-sampled-thread-time --duration "00:00:00:$(printf %02d "${TRACE_SECONDS:-8}")" -o "$DIR/evaluation.nettrace" >/dev/null 2>&1 &
    tracer=$!
  fi
  if [ "$status" = 2 ] && [ "$finished" = 1 ] && [ "$behind" -le 0 ] && [ "$m" = "$last" ]; then stable=$((stable + 1)); else stable=0; fi
  last="$m"
  [ "$stable" -ge 4 ] && break
  sleep 0.5
done
ready="$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s - 2 }')"
after="$(events)"
echo "activation over $people people at $(git -C "$ROOT" rev-parse --short "$REF"): $((after - before)) events appended (stored events $before -> $after), $m members, ready in $ready s"
cpu() { # <label> <ticks before> <ticks after>: the Host's and PostgreSQL's CPU seconds between two samples, and per person
  awk -v l="$1" -v b="$2" -v a="$3" -v n="$people" -v hz="$(getconf CLK_TCK)" 'BEGIN { split(b, x, " "); split(a, y, " ");
    h = (y[1] - x[1]) / hz; p = (y[2] - x[2]) / hz;
    printf "   CPU %s: Host %.1f s, PostgreSQL %.1f s (%.0f + %.0f us per person)\n", l, h, p, 1e6 * h / n, 1e6 * p / n }'
}
[ -n "$cpu_at_evaluation" ] && cpu "from the activation to the evaluation's start (the counters' replay)" "$cpu_at_start" "$cpu_at_evaluation"
[ -n "$cpu_at_evaluated" ] && cpu "during the evaluation of everyone" "$cpu_at_evaluation" "$cpu_at_evaluated"
echo "   its evaluation of everyone stored: $(psql_q -c "select concat_ws(', ', (data ->> 'People') || ' people', (data ->> 'Members') || ' members', (data ->> 'ReevaluatedThroughStream') || ' through their streams', 'started ' || (data ->> 'StartedAt'), 'finished ' || (data ->> 'FinishedAt')) from $SCHEMA.mt_doc_audience_initialisation where id = $id")"
grep -h "initialised" "$DIR/host.log" | tail -n 3 || true
if [ -n "${STATEMENTS:-}" ]; then
  echo "PostgreSQL's statements from the activation to ready, by total time (ms, calls, ms per call, rows):"
  psql_q -F $'\t' -c "select round(total_exec_time::numeric), calls, round((total_exec_time / calls)::numeric, 3), rows,
      left(regexp_replace(query, '\s+', ' ', 'g'), 130) from pg_stat_statements order by total_exec_time desc limit 15"
  echo "profile documents: $(psql_q -c "select round(avg(pg_column_size(data))) || ' bytes stored (compressed), ' || round(avg(octet_length(data::text))) || ' as text' from $SCHEMA.mt_doc_profile")"
fi
if [ -n "$tracer" ]; then
  wait "$tracer" || true
  dotnet-trace report "$DIR/evaluation.nettrace" topN -n 300 >"$DIR/evaluation.top.txt" 2>&1 || true
  dotnet-trace report "$DIR/evaluation.nettrace" topN -n 3000 --inclusive >"$DIR/evaluation.inclusive.txt" 2>&1 || true
  echo "the Host's samples during the evaluation: $DIR/evaluation.top.txt (exclusive), evaluation.inclusive.txt"
fi
