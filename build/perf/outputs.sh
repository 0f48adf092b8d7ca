# build/bench part (o) "outputs" — sourced by build/bench (uses its start_host/stop_host/host_alive/psql_q/top_statements,
# DIR, HOST_PORT, HOST_PID, PG_PORT and build/rabbitmq.sh). Issue 20's "ingest and delivery rates per output kind", in
# one table: one Host (schema eventprofiles_outputs), the shape of (h2) at BENCH_OUTPUT_CONNECTIONS (16) connections —
# POST /v2/events, one batch of 5 events per request, random users among 100,000 (build/perf/http-load.sh) —
# BENCH_OUTPUT_WARMUP (5) s + BENCH_OUTPUT_SECONDS (20) s per step:
#   cold      no connection, not counted: the Host's first load (handler code generated and compiled, JIT), after one
#             batch was answered 202;
#   none      no connection: the reference;
#   <kind>    for each of BENCH_OUTPUT_KINDS ("webhook rabbitmq warehouse files"): one output of that kind connected to
#             demo-server, the only active connection; after the load, the wait until nothing is pending (at most
#             BENCH_OUTPUT_DRAIN_SECONDS, 180); then the connection is deleted;
#   none      again at the end (the Host warms up during the run: the shares are of the mean of the two).
# Per step: events/s as a share of no output, p99, statements per batch (pg_stat_statements calls of the service's
# database / batches, over the measured seconds), the Host's CPU (utime+stime) per batch, delivered batches per second
# during the measured load (the output's `delivered` counter) and over load + drain, pending when the load stopped,
# how long until nothing was pending, and delivered / enqueued at the end (all must be delivered).
# The destinations, all on 127.0.0.1: webhook → build/perf/sink.js (its POST count is printed beside the counter);
# rabbitmq → a private node (build/rabbitmq.sh), exchange amq.topic with no queue bound (confirmed by the broker, then
# dropped: the figure is EventProfiles' side); warehouse → a second database on the bench cluster (its `events` rows and
# distinct batches, and its own statements per flush); files → a folder under the run's folder (the manifest's event
# rows and files). Warehouse and files flush every BENCH_OUTPUT_INTERVAL_MS (5000) here, not their defaults (30 s /
# 60 s), so a measured step sees several flushes (delivered per second of a micro-batch output is bounded by
# its interval, not by its cost).
# Before this part, build/perf/warehouse.sh and build/perf/files.sh measured the same for one kind each.
OUT_SECONDS="${BENCH_OUTPUT_SECONDS:-20}"
OUT_WARMUP="${BENCH_OUTPUT_WARMUP:-5}"
OUT_CONNS="${BENCH_OUTPUT_CONNECTIONS:-16}"
OUT_KINDS="${BENCH_OUTPUT_KINDS:-webhook rabbitmq warehouse files}"
OUT_INTERVAL_MS="${BENCH_OUTPUT_INTERVAL_MS:-5000}"
OUT_DRAIN="${BENCH_OUTPUT_DRAIN_SECONDS:-180}"
OUT_SCHEMA=eventprofiles_outputs
OUT_WAREHOUSE_DB=bench_warehouse
OUT_ROWS="$DIR/o-summary.tsv" # kind, events/s, share, p99, statements/batch, forwarding statements/batch, CPU/batch, delivered/s load, delivered/s load+drain, pending at stop, drained, delivered/enqueued, destination
OUT_RC=0
OUT_BASE="http://127.0.0.1:$HOST_PORT"
PERF="$ROOT/build/perf"
: >"$OUT_ROWS"

command -v wrk >/dev/null || {
  echo ">> installing Debian's wrk for part (o)" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk >&2
}

o_json() { node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => { const j = JSON.parse(s); const v = eval(process.argv[1]); console.log(v === undefined || v === null ? "" : v) })' "$1"; }
o_file() { o_json "$2" <"$1"; }
o_calls() { psql_q -c "select coalesce(sum(calls), 0) from pg_stat_statements where dbid = (select oid from pg_database where datname = '$1')"; }
o_cpu() { awk '{ print $14 + $15 }' "/proc/${1:-$HOST_PID}/stat" 2>/dev/null || echo 0; }
o_div() { awk -v a="$1" -v b="$2" -v f="${3:-%.1f}" 'BEGIN { if (b > 0) printf f, a / b; else print "-" }'; }
o_admin() { curl -s -u admin:admin-password -H 'Content-Type: application/json' "$@"; }
o_counter() { o_admin "$OUT_BASE/api/admin/outputs/$1" | o_json "j.counters.$2"; }

# The load of one step: warm-up, then the measured run with statements and CPU counted. Sets O_N (requests of the
# measured run), O_OK (2xx of both), O_CALLS, O_WH_CALLS, O_CPU_MS, O_T0/O_T1 and, with O_OUTPUT set, O_D0 (its
# delivered counter when the measured run began).
o_load() { # name
  KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/o-$1-warm.json" "$PERF/http-load.sh" -c "$OUT_CONNS" -d "$OUT_WARMUP" "$OUT_BASE" >/dev/null 2>&1 || OUT_RC=1
  psql_q -c "select pg_stat_statements_reset()" >/dev/null
  local cpu0; cpu0="$(o_cpu)"
  O_D0=0; [ -z "${O_OUTPUT:-}" ] || O_D0="$(o_counter "$O_OUTPUT" delivered)"
  O_T0="$(date +%s.%N)"
  KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/o-$1.json" "$PERF/http-load.sh" -c "$OUT_CONNS" -d "$OUT_SECONDS" "$OUT_BASE" >"$DIR/o-$1.log" 2>&1 || OUT_RC=1
  O_T1="$(date +%s.%N)"
  O_CPU_MS="$(awk -v a="$cpu0" -v b="$(o_cpu)" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b - a) * 1000 / hz }')"
  O_CALLS="$(o_calls postgres)"; O_WH_CALLS="$(o_calls "$OUT_WAREHOUSE_DB")"
  # The statements of forwarding itself (its rows, flush row, counters, durable envelopes): the part that differs by
  # kind, apart from the background statements every step has.
  O_FWD="$(psql_q -c "select coalesce(sum(calls), 0) from pg_stat_statements where dbid = (select oid from pg_database where datname = 'postgres')
    and query ~ '(ep_deliveries|ep_warehouse_flushes|ep_output_counters|wolverine_incoming_envelopes)'")"
  O_N="$(o_file "$DIR/o-$1.json" 'j.requests')"
  O_OK=$(( $(o_file "$DIR/o-$1-warm.json" 'Math.round(j.requests - j.non2xx)') + $(o_file "$DIR/o-$1.json" 'Math.round(j.requests - j.non2xx)') ))
  [ "$(o_file "$DIR/o-$1.json" 'j.non2xx')" = 0 ] || OUT_RC=1
  O_TOP="$(top_statements "$DIR/o-$1-statements.tsv" 6)"
  # Every statement by calls (the list above is the 25 that took the most time): where a kind's extra statements come from.
  psql_q -F $'\t' -c "select calls, round(mean_exec_time::numeric, 3), regexp_replace(query, '\s+', ' ', 'g') from pg_stat_statements
    where dbid = (select oid from pg_database where datname = 'postgres') order by calls desc" >"$DIR/o-$1-calls.tsv"
}
o_eps() { o_file "$DIR/o-$1.json" 'j.ok_units_per_s.toFixed(0)'; }

say "(o) outputs: /v2/events, $OUT_CONNS connections, ${OUT_WARMUP} s warm-up + ${OUT_SECONDS} s per step; no output, then one output of each kind ($OUT_KINDS; flush interval ${OUT_INTERVAL_MS} ms), then no output again"
psql_q -c "drop database if exists $OUT_WAREHOUSE_DB" -c "create database $OUT_WAREHOUSE_DB" >/dev/null
mkdir -p "$DIR/lake"
start_host EventProfiles__Schema="$OUT_SCHEMA" EventProfiles__Forwarding__Files__Root="$DIR/lake" \
  EventProfiles__Forwarding__Warehouse__IntervalMs="$OUT_INTERVAL_MS" EventProfiles__Forwarding__Files__IntervalMs="$OUT_INTERVAL_MS"
OUT_LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

# Ready for load: the first batches of a fresh Host generate and compile its handlers, which on a busy box took longer
# than a whole step (a first run measured 0 requests); one batch is sent until it is answered 202, then a cold step
# (not counted) runs before the reference.
for _ in $(seq 1 60); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 120 -u demo-key:demo-secret -H 'Content-Type: application/json' "$OUT_BASE/v2/events"     -d '{"environment":"development","user_identities":{"customer_id":"bench-o-ready"},"events":[{"event_type":"custom_event","data":{"event_name":"Ready","custom_event_type":"other"}}]}')" = 202 ] && break
  host_alive || exit 1; sleep 1
done
o_load cold
echo "  cold (not counted): $(o_eps cold) events/s"
o_load none
O_NONE_EPS="$(o_eps none)"
echo "  no output: $O_NONE_EPS events/s, $(o_div "$O_CALLS" "$O_N") statements and $(o_div "$O_CPU_MS" "$O_N" %.2f) ms Host CPU per batch"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "none (first)" "$O_NONE_EPS" "-" "$(o_file "$DIR/o-none.json" 'j.p99_ms.toFixed(0)')" \
  "$(o_div "$O_CALLS" "$O_N")" "$(o_div "$O_FWD" "$O_N" %.2f)" "$(o_div "$O_CPU_MS" "$O_N" %.2f)" "-" "-" "-" "-" "-" "-" >>"$OUT_ROWS"

SINK_PID=""
for kind in $OUT_KINDS; do
  destination=""
  case "$kind" in
    webhook)
      node "$PERF/sink.js" >"$DIR/o-sink.port" 2>"$DIR/o-sink.log" &
      SINK_PID=$!
      until [ -s "$DIR/o-sink.port" ]; do sleep 0.1; done
      O_SINK="http://127.0.0.1:$(head -n 1 "$DIR/o-sink.port")"
      settings="{\"webhook\":{\"url\":\"$O_SINK/hook\"}}" ;;
    rabbitmq)
      # Random starting points (as build/test): a fixed one raced another run's node that was not listening yet (eaddrinuse).
      O_RMQ_PORT="$(pg_free_port $((30000 + RANDOM % 9000)))"
      rmq_start "$DIR/rabbitmq" "$O_RMQ_PORT" "$(pg_free_port $((40000 + RANDOM % 4000)))" "$(pg_free_port $((44500 + RANDOM % 4000)))" && rmq_wait "$DIR/rabbitmq" || { echo "  rabbitmq: the node did not start; skipped" >&2; OUT_RC=1; continue; }
      settings="{\"rabbitmq\":{\"uri\":\"$(rmq_uri "$O_RMQ_PORT")\",\"exchange\":\"amq.topic\",\"routing_key\":\"{workspace}.{input}.{event_type}\"}}" ;;
    warehouse)
      settings="{\"workspace_id\":1,\"warehouse\":{\"connection_string\":\"Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$OUT_WAREHOUSE_DB\",\"schema\":\"eventprofiles\"}}" ;;
    files)
      settings="{\"workspace_id\":1,\"files\":{\"folder\":\"$DIR/lake/bench\"}}" ;;
    *) echo "  unknown output kind '$kind' (BENCH_OUTPUT_KINDS: webhook rabbitmq warehouse files)" >&2; OUT_RC=1; continue ;;
  esac
  output="$(o_admin -d "$(node -e 'const s = JSON.parse(process.argv[2]); console.log(JSON.stringify({ name: "bench " + process.argv[1], kind: process.argv[1], ...s }))' "$kind" "$settings")" \
    "$OUT_BASE/api/admin/outputs" | o_json 'j.id')"
  [ -n "$output" ] || { echo "  $kind: the output was refused" >&2; OUT_RC=1; continue; }
  connection="$(o_admin -d "{\"input\":\"demo-server\",\"output_id\":\"$output\"}" "$OUT_BASE/api/admin/connections" | o_json 'j.id')"
  sleep 2.5 # each node reads connections at most every 2 s: the warm-up already forwards
  # The broker's own CPU over the step (the node's Erlang VM: the pid RabbitMQ writes), per delivered batch.
  rmq_pid=""; [ "$kind" = rabbitmq ] && rmq_pid="$(cat "$DIR/rabbitmq/rabbit.pid" 2>/dev/null || true)"
  rmq_cpu0="$( [ -n "$rmq_pid" ] && o_cpu "$rmq_pid" || echo 0)"
  T_START="$(date +%s.%N)"
  O_OUTPUT="$output" o_load "$kind"
  # The counters are written every half second: these lag by up to that.
  d_end_load="$(o_counter "$output" delivered)"
  pending_at_stop="$(o_counter "$output" pending)"
  drained="no (${OUT_DRAIN} s)"
  for _ in $(seq 1 $((OUT_DRAIN * 5))); do
    if [ "$(o_counter "$output" pending)" = 0 ]; then drained="$(awk -v a="$O_T1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')"; break; fi
    sleep 0.2
  done
  T_END="$(date +%s.%N)"
  delivered="$(o_counter "$output" delivered)"; enqueued="$(o_counter "$output" enqueued)"; failed="$(o_counter "$output" failed)"
  [ "$delivered" = "$enqueued" ] && [ "$failed" = 0 ] && [ "$delivered" -ge "$O_OK" ] || OUT_RC=1
  case "$kind" in
    webhook) destination="sink: $(curl -s "$O_SINK/__stats" | o_json '`${j.posts} POSTs, ${j.distinct} distinct delivery ids`')" ;;
    rabbitmq) destination="confirmed by the broker (the counter); the node's CPU $( [ -n "$rmq_pid" ] && o_div "$(awk -v a="$rmq_cpu0" -v b="$(o_cpu "$rmq_pid")" -v hz="$(getconf CLK_TCK)" 'BEGIN { print (b - a) * 1000 / hz }')" "$delivered" %.2f || echo '?') ms per batch" ;;
    warehouse) destination="warehouse: $(DB_ROWS="$(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$OUT_WAREHOUSE_DB" -qAt -F ' ' -c "select count(*), count(distinct batch_id) from eventprofiles.events")"; set -- $DB_ROWS; echo "$1 event rows of $2 batches"); $O_WH_CALLS statements in the warehouse database during the measured load" ;;
    files) destination="files: $(o_file "$DIR/lake/bench/_manifest.json" '(f => `${f.reduce((a, x) => a + x.rows, 0)} event rows in ${f.length} files`)(j.files.filter(x => x.table === "events"))')" ;;
  esac
  eps="$(o_eps "$kind")"
  load_rate="$(awk -v a="$d_end_load" -v b="$O_D0" -v s="$O_T0" -v e="$O_T1" 'BEGIN { printf "%.0f", (a - b) / (e - s) }')"
  all_rate="$(awk -v d="$delivered" -v s="$T_START" -v e="$T_END" 'BEGIN { printf "%.0f", d / (e - s) }')"
  echo "  $kind: $eps events/s, $(o_div "$O_CALLS" "$O_N") statements and $(o_div "$O_CPU_MS" "$O_N" %.2f) ms Host CPU per batch; delivered $delivered of $enqueued enqueued (failed $failed), $pending_at_stop pending when the load stopped, none $drained later; $destination"
  echo "$O_TOP"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$eps" "-" "$(o_file "$DIR/o-$kind.json" 'j.p99_ms.toFixed(0)')" \
    "$(o_div "$O_CALLS" "$O_N")" "$(o_div "$O_FWD" "$O_N" %.2f)" "$(o_div "$O_CPU_MS" "$O_N" %.2f)" "$load_rate" "$all_rate" "$pending_at_stop" "$drained" "$delivered / $enqueued" "$destination" >>"$OUT_ROWS"
  o_admin -o /dev/null -X DELETE "$OUT_BASE/api/admin/connections/$connection"
  o_admin -o /dev/null -X DELETE "$OUT_BASE/api/admin/outputs/$output"
  case "$kind" in
    webhook) kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true ;;
    rabbitmq) rmq_stop "$DIR/rabbitmq" ;;
  esac
done
sleep 2.5 # the deleted connections are gone from every node's view

o_load none-again
O_AGAIN_EPS="$(o_eps none-again)"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "none (again)" "$O_AGAIN_EPS" "-" "$(o_file "$DIR/o-none-again.json" 'j.p99_ms.toFixed(0)')" \
  "$(o_div "$O_CALLS" "$O_N")" "$(o_div "$O_FWD" "$O_N" %.2f)" "$(o_div "$O_CPU_MS" "$O_N" %.2f)" "-" "-" "-" "-" "-" "-" >>"$OUT_ROWS"
O_REF="$(awk -v a="$O_NONE_EPS" -v b="$O_AGAIN_EPS" 'BEGIN { n = (a > 0) + (b > 0); printf "%.0f", (n > 0 ? (a + b) / n : 0) }')"
# Shares of the mean no-output rate, filled in now that the second reference exists.
awk -F'\t' -v OFS='\t' -v r="$O_REF" '$1 !~ /^none/ { $3 = (r > 0 ? sprintf("%.0f%%", 100 * $2 / r) : "-") } { print }' "$OUT_ROWS" >"$OUT_ROWS.tmp" && mv "$OUT_ROWS.tmp" "$OUT_ROWS"
OUT_LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
stop_host

# The part's table, for build/bench's summary.
o_table() {
  echo "  (o) outputs: /v2/events, 1 batch x 5 events, ${OUT_CONNS} connections, ${OUT_SECONDS} s per step; one output of each kind connected in turn (flush interval ${OUT_INTERVAL_MS} ms);"
  echo "      share = of the mean no-output rate; per batch: pg_stat_statements calls of the service's database (all, and forwarding's own:"
  echo "      ep_deliveries, flush row, counters, durable envelopes) and Host CPU; delivered/s by the output's counter"
  awk -F'\t' 'BEGIN { printf "      %-13s %9s %6s %6s %7s %7s %8s %10s %10s %8s %-10s %-13s %s\n", "output", "events/s", "share", "p99", "stmts/b", "fwd/b", "CPU/b ms", "dlv/s load", "dlv/s +dr", "pending", "drained", "dlv/enq", "destination" }
    { printf "      %-13s %9s %6s %6s %7s %7s %8s %10s %10s %8s %-10s %-13s %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }' "$OUT_ROWS"
  echo "      load average (1/5/15 min) at the start of (o): $OUT_LOAD_START, at its end: $OUT_LOAD_END ($(nproc) cores)"
}
