# build/bench part (h) "hot paths" — sourced by build/bench (uses its start_host/stop_host/psql_q/top_statements, DIR,
# HOST_PORT, PG_BIN, BENCH_DLL). Issue 15's yardstick: the shapes our users' SDKs load us with, measured side by side
# with the raw PostgreSQL limit for the same work in the same run, printed as shares.
#   h1 raw limits: build/perf/pg-limit.sh on its own throw-away cluster with the Host cluster's settings
#      (shared_buffers=512MB, fsync and synchronous_commit on): `ingest` (one transaction per batch: 5 event rows of
#      ~470-byte jsonb + profile upsert, pipelined in one round trip) at each BENCH_HOT_CONNECTIONS client count, and
#      `lookup` (SELECT data FROM profile WHERE id = $1 over 1 M rows) at 16 clients;
#   h5 memory: the Host's RSS after BENCH_HOT_PROFILES people exist (grown in steps by build/Bench, 20 batches/request);
#   h3 Profile API reads (bearer token from /oauth/token, demo-client) by MPID and by resolve, 16 connections, over all
#      people created in h5; then by MPID over 1,000 of them while those 1,000 are written (4 connections), with a
#      read-after-write probe (a fresh attribute value posted, then read back at once);
#   h2 single-batch ingestion: POST /v2/events, one batch of 5 events per request (build/perf/ingest.lua), random users
#      among 100,000, at each BENCH_HOT_CONNECTIONS, after BENCH_HOT_JIT_WARMUP s of the same load and an ANALYZE;
#      durability: every 202 is a stored batch; with BENCH_SYNC_CALCS=N
#      (1-3) the same again after N synchronous calculated attributes over those events were activated (issue 16 §7:
#      computed in the ingestion transaction), printed as a share of plain h2 at the same connections; then the floor
#      (build/perf/floor: bare Kestrel parsing the same batches, each stored by the raw limit's per-batch transaction)
#      at the same connections, as a share of raw and ours as a share of it (BENCH_HOT_FLOOR=0 skips it);
#   h6 native SDK uploads: POST /v2/demo-android-key/events, a realistic Android batch of BENCH_NATIVE_MSGS (20) messages
#      per request, gzipped and signed beforehand (build/perf/native-batches.js from the fixtures), each batch new,
#      16 connections; events/s as a share of the raw ingest limit at 16 clients, statements and Host CPU per batch;
#   h4 the full pipeline (schema eventprofiles_pipe): the same load at 16 connections with one webhook connection to
#      build/perf/sink.js, 3 live calculated attributes and 1 real-time audience (probed as in part e): ingestion vs
#      h2, webhook deliveries/s, pending durable envelopes and the calculations' lag, sampled each second; then the
#      same at half the measured batches/s (paced connections) for the lag at half load. First, in its fresh schema:
#      BENCH_HOT_JIT_WARMUP s of the plain load and an ANALYZE, as for h2, then plain ingestion measured as the
#      pipeline's like-for-like reference (same Host, same database state; h2 runs in h5's schema); then the connection
#      and definitions, BENCH_HOT_PIPE_JIT_WARMUP (60) s of load and ANALYZE again, the probe audience, the measured
#      runs. When the calculations shard first saved progress is printed; the lag is sampled during the measured runs.
#      A probe audience is active once its counters are ready, then evaluates everyone stored (a one-off sweep, timed
#      and printed); its probes and the measured run start after that. BENCH_HOT_PIPE_PARTS leaves parts out.
# wrk is closed-loop (each connection waits for its answer): latency under overload is understated.
PERF="$ROOT/build/perf"
HOT_SECONDS="${BENCH_HOT_SECONDS:-20}"
HOT_WARMUP="${BENCH_HOT_WARMUP:-5}"
# A Host fresh from start runs quick-JIT-ed and instrumented code, and its tiered JIT compiles for minutes under load
# (h4: 19 % of the Host's CPU samples 10–22 s into the load, 17 % a minute in; still ~90 methods/s after 150 s). h2 reached
# ~6,500 events/s after 45 s of load and ~9,100 after 150 s: h2 and h4 first run this long at 16 connections, so they
# measure the steady state a running node gives, not its start-up (DOTNET_TieredPGO=0 did not shorten it). Then
# ANALYZE, as autovacuum keeps the statistics of a running system (on tables minutes old, with none yet, Marten's
# high-water gap query sorted a sequential scan of all of mt_events each second: 130–170 ms per call in h2).
HOT_JIT_WARMUP="${BENCH_HOT_JIT_WARMUP:-150}"
PIPE_JIT_WARMUP="${BENCH_HOT_PIPE_JIT_WARMUP:-60}" # h4 again once its connection and definitions exist (their code JIT-ed)
# h4's parts, to tell what each costs: any of "webhook calculations audience" (the pipeline of goal 3 is all three).
PIPE_PARTS=" ${BENCH_HOT_PIPE_PARTS:-webhook calculations audience} "
pipe_part() { [[ "$PIPE_PARTS" == *" $1 "* ]]; }
HOT_CONNS="${BENCH_HOT_CONNECTIONS:-16 64 256}"
HOT_PROFILES="${BENCH_HOT_PROFILES:-10000 100000}"
HOT_STEPS=" ${BENCH_HOT_STEPS:-h1 h5 h3 h2 h6 h4} " # e.g. "h2 h4" for ingestion and the pipeline only (h3 needs h5's people)
hot_step() { [[ "$HOT_STEPS" == *" $1 "* ]]; }
HOT_SCHEMA=eventprofiles_hot
PIPE_SCHEMA=eventprofiles_pipe
HOT_FIELDS=user_identities,user_attributes,audience_memberships
HOT_RC=0
HOT_ROWS="$DIR/h-summary.tsv" # workload, rate, p50, p99, raw limit, share
: >"$HOT_ROWS"
HOT_BASE="http://127.0.0.1:$HOST_PORT"
# The box is shared: the load average at the start and end says how much else ran during the measurements.
HOT_LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

command -v wrk >/dev/null || {
  echo ">> installing Debian's wrk for part (h)" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk >&2
}

# A field of a JSON file (pg-limit's OUT_JSON or a wrk-report OUT_JSON); the expression sees the document as j.
jget() { node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1])); const v = eval(process.argv[2]); console.log(v === undefined || v === null ? "" : v)' "$1" "$2"; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f%%", 100 * a / b; else print "-" }'; }
hot_row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$HOT_ROWS"; }
rss_mb() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$HOST_PID/status" 2>/dev/null || echo "?"; }
pg_calls() { psql_q -c "select coalesce(sum(calls), 0) from pg_stat_statements where dbid = (select oid from pg_database where datname = 'postgres')"; }
wrk_ok() { jget "$1" 'Math.round(j.requests - j.non2xx)'; }
jit_warmup() { # output JSON: HOT_JIT_WARMUP s of single batches at 16 connections, then ANALYZE
  KEY=demo-key SECRET=demo-secret OUT_JSON="$1" "$PERF/http-load.sh" -c 16 -d "$HOT_JIT_WARMUP" "$HOT_BASE" >/dev/null 2>&1
  psql_q -c "analyze" >/dev/null
}

# ---------------------------------------------------------------------------------------- h1 raw limits
if hot_step h1; then
say "(h1) raw PostgreSQL limits (build/perf/pg-limit.sh, own cluster, shared_buffers=512MB, fsync/synchronous_commit on): ingest at $HOT_CONNS clients, lookup at 16, ${HOT_SECONDS} s each"
SCENARIOS="ingest lookup" CLIENTS="$HOT_CONNS" LOOKUP_CLIENTS=16 DURATION="$HOT_SECONDS" REPS=1 EVENTS_PER_TX=5 \
  SHARED_BUFFERS=512MB MAX_CONNECTIONS=300 PG_BIN="$PG_BIN" OUT_JSON="$DIR/h-pg.json" "$PERF/pg-limit.sh" 2>&1 | tee "$DIR/h-pg.log"
fi
raw_ingest() { [ -f "$DIR/h-pg.json" ] || return 0; jget "$DIR/h-pg.json" "(j.results.find(r => r.scenario === 'ingest' && r.clients === $1) || {})$2"; }
RAW_LOOKUP=""; RAW_LOOKUP_P50=""; RAW_LOOKUP_P99=""
if [ -f "$DIR/h-pg.json" ]; then
RAW_LOOKUP="$(jget "$DIR/h-pg.json" "Math.round(j.results.find(r => r.scenario === 'lookup').tps_median)")"
RAW_LOOKUP_P99="$(jget "$DIR/h-pg.json" "j.results.find(r => r.scenario === 'lookup').p99_ms")"
RAW_LOOKUP_P50="$(jget "$DIR/h-pg.json" "j.results.find(r => r.scenario === 'lookup').p50_ms")"
for c in $HOT_CONNS; do
  hot_row "raw: ingest tx per batch, $c clients" "$(raw_ingest "$c" .events_per_s) events/s" "$(raw_ingest "$c" .p50_ms)" "$(raw_ingest "$c" .p99_ms)" "-" "-"
done
hot_row "raw: profile lookup, 16 clients" "$RAW_LOOKUP lookups/s" "$RAW_LOOKUP_P50" "$RAW_LOOKUP_P99" "-" "-"
fi

# ---------------------------------------------------------------------------------------- h5 memory as people grow
start_host EventProfiles__Schema="$HOT_SCHEMA"
HOT_RSS="start $(rss_mb) MB"
if hot_step h5; then
say "(h5) Host (schema $HOT_SCHEMA): people created in steps ($HOT_PROFILES; BENCH_HOT_PROFILES), Host RSS after each"
prev=0
for n in $HOT_PROFILES; do
  BENCH_URL="$HOT_BASE/" BENCH_USERS=$((n - prev)) BENCH_FIRST_USER="$prev" BENCH_BATCHES_PER_USER=1 BENCH_CLIENTS=32 BENCH_BULK=20 \
    BENCH_MAX_SECONDS=1800 BENCH_HOST_PID="$HOST_PID" BENCH_RESULT_FILE="$DIR/h-seed-$n.env" dotnet "$BENCH_DLL" >"$DIR/h-seed-$n.log" 2>&1 || HOT_RC=$?
  sleep 3 # let the last groups settle before sampling
  people="$(psql_q -c "select count(*) from $HOT_SCHEMA.mt_doc_profile")"
  # shellcheck disable=SC1090
  seed_eps="$(. "$DIR/h-seed-$n.env" && echo "$gen_events_per_s" || echo "?")"
  echo "  $people people: Host RSS $(rss_mb) MB (created at $seed_eps events/s in 20-batch requests)"
  HOT_RSS+=", $people people $(rss_mb) MB"
  prev=$n
done
echo "  RSS: $HOT_RSS"
fi

# ---------------------------------------------------------------------------------------- h3 Profile API reads
if hot_step h3; then
TOKEN="$(curl -s -H 'Content-Type: application/json' -d '{"client_id":"demo-client","client_secret":"demo-client-secret","audience":"https://api.mparticle.com","grant_type":"client_credentials"}' "$HOT_BASE/oauth/token" \
  | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s).access_token))')"
psql_q -c "select mpid from $HOT_SCHEMA.ep_identity_index where identity_type = 'customer_id' and identity_value like 'cust-%'" >"$DIR/h-mpids.txt"
psql_q -c "select identity_value from $HOT_SCHEMA.ep_identity_index where identity_type = 'customer_id' and identity_value like 'cust-%'" >"$DIR/h-customers.txt"
psql_q -c "select mpid from $HOT_SCHEMA.ep_identity_index where identity_type = 'customer_id' and identity_value in (select 'cust-' || lpad(g::text, 7, '0') from generate_series(1, 1000) g)" >"$DIR/h-mpids-1000.txt"
for f in h-mpids h-customers h-mpids-1000; do [ -s "$DIR/$f.txt" ] || { echo "no people for the reads ($DIR/$f.txt is empty)" >&2; exit 1; }; done
READS_OVER="$(wc -l <"$DIR/h-mpids.txt")"
say "(h3) Profile API reads over $READS_OVER people, 16 connections, fields=$HOT_FIELDS"
sample_mpid="$(head -n 1 "$DIR/h-mpids.txt")"
echo "  one answer: $(curl -s -H "Authorization: Bearer $TOKEN" "$HOT_BASE/userprofile/v1/1/1/1/$sample_mpid?fields=$HOT_FIELDS" | head -c 300)"
read_run() { # name json url [NAME=value...]
  local name="$1" json="$2" url="$3"; shift 3
  psql_q -c "select pg_stat_statements_reset()" >/dev/null
  env AUTH="Bearer $TOKEN" OUT_JSON="$json" "$@" "$PERF/http-read.sh" -c 16 -d "$HOT_SECONDS" -w "$HOT_WARMUP" "$url" 2>&1 | grep -v '^Running\|^  [0-9]* threads\|Thread Stats\|Latency\|Req/Sec\|requests in\|Requests/sec\|Transfer/sec' || true
  local ok; ok="$(jget "$json" 'j.ok_units_per_s.toFixed(0)')"
  [ "$(jget "$json" 'j.non2xx')" = 0 ] || HOT_RC=1
  echo "  statements per read (pg_stat_statements calls, warm-up included): $(awk -v c="$(pg_calls)" -v n="$(jget "$json" 'j.requests')" -v w="$HOT_WARMUP" -v s="$HOT_SECONDS" 'BEGIN { printf "%.1f", c / (n * (s + w) / s) }')"
  top_statements "$DIR/h-$name-statements.tsv" 6
  hot_row "Profile API $name, 16 conns" "$ok reads/s" "$(jget "$json" 'j.p50_ms.toFixed(2)')" "$(jget "$json" 'j.p99_ms.toFixed(2)')" "$RAW_LOOKUP lookups/s" "$(pct "$ok" "$RAW_LOOKUP")$( [ "$(jget "$json" 'j.non2xx')" = 0 ] || echo " NON-2XX $(jget "$json" 'j.non2xx')")"
}
read_run "by MPID" "$DIR/h-read-mpid.json" "$HOT_BASE/userprofile/v1/1/1/1/{id}?fields=$HOT_FIELDS" ID_FILE="$DIR/h-mpids.txt"
read_run "resolve" "$DIR/h-read-resolve.json" "$HOT_BASE/userprofile/v1/resolve/1/1/1?fields=$HOT_FIELDS" ID_FILE="$DIR/h-customers.txt" \
  BODY='{"environment_type":"development","identity":{"type":"customer_id","value":"{id}"}}'

say "(h3) the same reads by MPID over 1,000 people while those 1,000 are written (4 connections of single batches), with a read-after-write probe"
KEY=demo-key SECRET=demo-secret USERS=1000 CUSTOMER_ID_FORMAT='cust-%07d' EMAIL_FORMAT='user%07d@example.org' OUT_JSON="$DIR/h-rw-writes.json" \
  "$PERF/http-load.sh" -c 4 -d $((HOT_SECONDS + HOT_WARMUP + 2)) "$HOT_BASE" >"$DIR/h-rw-writes.log" 2>&1 &
RW_WRITER=$!
# Read-after-write probe: a fresh attribute value for one of the 1,000, then its profile read at once must show it.
( ok=0; bad=0; i=0; end=$(($(date +%s) + HOT_SECONDS + HOT_WARMUP))
  while [ "$(date +%s)" -lt "$end" ]; do
    i=$((i + 1)); u="$(printf '%07d' $((1 + RANDOM % 1000)))"; v="raw-$$-$i"
    code="$(curl -s -o /dev/null -w '%{http_code}' -u demo-key:demo-secret -H 'Content-Type: application/json' "$HOT_BASE/v2/events" \
      -d "{\"environment\":\"development\",\"source_request_id\":\"$(cat /proc/sys/kernel/random/uuid)\",\"user_identities\":{\"customer_id\":\"cust-$u\"},\"user_attributes\":{\"bench_raw\":\"$v\"},\"events\":[{\"event_type\":\"custom_event\",\"data\":{\"event_name\":\"Probe\",\"custom_event_type\":\"other\"}}]}")"
    mpid="$(psql_q -c "select mpid from $HOT_SCHEMA.ep_identity_index where identity_type = 'customer_id' and identity_value = 'cust-$u'")"
    if [ "$code" = 202 ] && curl -s -H "Authorization: Bearer $TOKEN" "$HOT_BASE/userprofile/v1/1/1/1/$mpid?fields=user_attributes" | grep -q "\"$v\""; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
    sleep 0.2
  done
  echo "raw_ok=$ok raw_bad=$bad" >"$DIR/h-raw-probe.env" ) &
RW_PROBE=$!
sleep 1
read_run "by MPID under writes (1,000)" "$DIR/h-read-rw.json" "$HOT_BASE/userprofile/v1/1/1/1/{id}?fields=$HOT_FIELDS" ID_FILE="$DIR/h-mpids-1000.txt"
wait "$RW_WRITER" || HOT_RC=$?
wait "$RW_PROBE" || true
# shellcheck disable=SC1091
. "$DIR/h-raw-probe.env"
RW_WRITES="$(jget "$DIR/h-rw-writes.json" 'j.ok_units_per_s.toFixed(0)')"
echo "  meanwhile: $RW_WRITES events/s written to those 1,000 (non-2xx $(jget "$DIR/h-rw-writes.json" 'j.non2xx')); read-after-write probe: $raw_ok ok, $raw_bad not seen at once"
[ "$raw_bad" = 0 ] || HOT_RC=1
fi

# ---------------------------------------------------------------------------------------- h2 single-batch ingestion
H2_BASE_EPS=""
if hot_step h2; then
say "(h2) single-batch ingestion: POST /v2/events, 5 events per request, random users among 100,000, connections $HOT_CONNS (${HOT_JIT_WARMUP} s of load first, then ${HOT_WARMUP} s warm-up + ${HOT_SECONDS} s each)"
STORED_BEFORE="$(psql_q -c "select count(*) from $HOT_SCHEMA.ep_ingest_requests")"
jit_warmup "$DIR/h-ingest-jit.json"
ANSWERED=$(wrk_ok "$DIR/h-ingest-jit.json")
for c in $HOT_CONNS; do
  KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/h-ingest-warm-$c.json" "$PERF/http-load.sh" -c "$c" -d "$HOT_WARMUP" "$HOT_BASE" >/dev/null 2>&1
  ANSWERED=$((ANSWERED + $(wrk_ok "$DIR/h-ingest-warm-$c.json")))
  psql_q -c "select pg_stat_statements_reset()" >/dev/null
  KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/h-ingest-$c.json" "$PERF/http-load.sh" -c "$c" -d "$HOT_SECONDS" "$HOT_BASE" 2>&1 | grep '^RESULT\|^wrk' || true
  ANSWERED=$((ANSWERED + $(wrk_ok "$DIR/h-ingest-$c.json")))
  # The reference is the raw limit at 16 clients (issue 15: group commit should beat one transaction per batch once
  # many clients wait); the raw figure at the same client count is printed beside it (it falls as clients grow).
  j="$DIR/h-ingest-$c.json"; eps="$(jget "$j" 'j.ok_units_per_s.toFixed(0)')"; raw="$(raw_ingest 16 .events_per_s)"; raw_c="$(raw_ingest "$c" .events_per_s)"
  [ -n "$raw" ] || raw="$raw_c"
  [ -n "$H2_BASE_EPS" ] || H2_BASE_EPS="$eps"
  [ "$(jget "$j" 'j.non2xx')" = 0 ] || HOT_RC=1
  echo "  $c connections: $eps events/s, p50 $(jget "$j" 'j.p50_ms.toFixed(1)') ms, p99 $(jget "$j" 'j.p99_ms.toFixed(1)') ms, non-2xx $(jget "$j" 'j.non2xx'), socket errors $(jget "$j" 'j.socket_errors'); raw at 16 clients $raw events/s → $(pct "$eps" "$raw"); raw at $c clients $raw_c → $(pct "$eps" "$raw_c")"
  echo "  statements per batch (pg_stat_statements calls / batches): $(awk -v c="$(pg_calls)" -v n="$(jget "$j" 'j.requests')" 'BEGIN { printf "%.1f", (n > 0 ? c / n : 0) }')"
  top_statements "$DIR/h-ingest-$c-statements.tsv" 6
  hot_row "/v2/events 1 batch x 5 events, $c conns" "$eps events/s" "$(jget "$j" 'j.p50_ms.toFixed(1)')" "$(jget "$j" 'j.p99_ms.toFixed(1)')" "$raw events/s (16 cl)" "$(pct "$eps" "$raw") ($(pct "$eps" "$raw_c") of raw at $c)$( [ "$(jget "$j" 'j.non2xx')" = 0 ] || echo " NON-2XX $(jget "$j" 'j.non2xx')")"
done
sleep 2 # answers wrk stopped waiting for at the end of a run may still be committing: stored may exceed answered
STORED=$(( $(psql_q -c "select count(*) from $HOT_SCHEMA.ep_ingest_requests") - STORED_BEFORE ))
# The floor beside it (build/perf/floor, FLOOR=ingest of host-cost.sh): a bare Kestrel app that parses the same batches
# and stores each with the raw limit's per-batch transaction in one round trip. What any HTTP service on this box can
# reach with this work; the Host keeps running (idle) meanwhile, as the raw limit's cluster did not.
if [ "${BENCH_HOT_FLOOR:-1}" = 1 ] && dotnet build "$PERF/floor/Floor.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly -o "$DIR/floor" >"$DIR/floor-build.log" 2>&1; then
  FLOOR_PORT="$(pg_free_port 19380)"
  ( cd "$DIR/floor" && exec env ASPNETCORE_URLS="http://127.0.0.1:$FLOOR_PORT" FLOOR_CONNECTION="$CS" FLOOR_SCHEMA=public dotnet Floor.dll ) >"$DIR/floor.log" 2>&1 &
  FLOOR_PID=$!
  for i in $(seq 1 60); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$FLOOR_PORT/json/1")" = 200 ] && break; sleep 0.5; done
  for c in $HOT_CONNS; do
    "$PERF/http-load.sh" -c "$c" -d "$HOT_WARMUP" "http://127.0.0.1:$FLOOR_PORT" >/dev/null 2>&1
    OUT_JSON="$DIR/h-floor-$c.json" "$PERF/http-load.sh" -c "$c" -d "$HOT_SECONDS" "http://127.0.0.1:$FLOOR_PORT" >/dev/null 2>&1
    j="$DIR/h-floor-$c.json"; feps="$(jget "$j" 'j.ok_units_per_s.toFixed(0)')"; raw="$(raw_ingest 16 .events_per_s)"; [ -n "$raw" ] || raw="$(raw_ingest "$c" .events_per_s)"
    ours="$(jget "$DIR/h-ingest-$c.json" 'j.ok_units_per_s.toFixed(0)')"
    echo "  floor (bare Kestrel + the raw per-batch transaction), $c connections: $feps events/s, p50 $(jget "$j" 'j.p50_ms.toFixed(1)') ms, p99 $(jget "$j" 'j.p99_ms.toFixed(1)') ms → $(pct "$feps" "$raw") of raw at 16; EventProfiles is $(pct "$ours" "$feps") of the floor"
    hot_row "floor: bare Kestrel, same batches, $c conns" "$feps events/s" "$(jget "$j" 'j.p50_ms.toFixed(1)')" "$(jget "$j" 'j.p99_ms.toFixed(1)')" "$raw events/s (16 cl)" "$(pct "$feps" "$raw") (ours: $(pct "$ours" "$feps") of the floor)"
  done
  kill -TERM "$FLOOR_PID" 2>/dev/null; wait "$FLOOR_PID" 2>/dev/null
fi
if [ "$STORED" -ge "$ANSWERED" ]; then H2_DURABLE="ok: $ANSWERED batches answered 2xx, $STORED stored (+$((STORED - ANSWERED)) in flight when wrk stopped)"
else H2_DURABLE="FAILED: $ANSWERED answered 2xx, only $STORED stored"; HOT_RC=1; DURABLE=FAILED; fi
echo "  durability: $H2_DURABLE"
echo "  Host RSS after (h2): $(rss_mb) MB"
if [ "${BENCH_SYNC_CALCS:-0}" -gt 0 ]; then
  say "(h2) again with $BENCH_SYNC_CALCS synchronous calculated attribute(s) over the load's events (BENCH_SYNC_CALCS; computed in the ingestion transaction)"
  BENCH_MODE=ca-sync-define BENCH_SYNC_CALCS="$BENCH_SYNC_CALCS" BENCH_URL="$HOT_BASE/" dotnet "$BENCH_DLL" || HOT_RC=$?
  for c in $HOT_CONNS; do
    KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/h-ingest-sync-warm-$c.json" "$PERF/http-load.sh" -c "$c" -d "$HOT_WARMUP" "$HOT_BASE" >/dev/null 2>&1
    psql_q -c "select pg_stat_statements_reset()" >/dev/null
    KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/h-ingest-sync-$c.json" "$PERF/http-load.sh" -c "$c" -d "$HOT_SECONDS" "$HOT_BASE" 2>&1 | grep '^RESULT\|^wrk' || true
    j="$DIR/h-ingest-sync-$c.json"; eps="$(jget "$j" 'j.ok_units_per_s.toFixed(0)')"; plain="$(jget "$DIR/h-ingest-$c.json" 'j.ok_units_per_s.toFixed(0)')"
    [ "$(jget "$j" 'j.non2xx')" = 0 ] || HOT_RC=1
    echo "  $c connections, $BENCH_SYNC_CALCS sync CA: $eps events/s, p50 $(jget "$j" 'j.p50_ms.toFixed(1)') ms, p99 $(jget "$j" 'j.p99_ms.toFixed(1)') ms, non-2xx $(jget "$j" 'j.non2xx'); plain h2 $plain events/s → $(pct "$eps" "$plain")"
    echo "  statements per batch (pg_stat_statements calls / batches): $(awk -v c="$(pg_calls)" -v n="$(jget "$j" 'j.requests')" 'BEGIN { printf "%.1f", (n > 0 ? c / n : 0) }')"
    top_statements "$DIR/h-ingest-sync-$c-statements.tsv" 8
    hot_row "/v2/events 1 x 5 events + $BENCH_SYNC_CALCS sync CA, $c conns" "$eps events/s" "$(jget "$j" 'j.p50_ms.toFixed(1)')" "$(jget "$j" 'j.p99_ms.toFixed(1)')" "$plain events/s (h2)" "$(pct "$eps" "$plain")$( [ "$(jget "$j" 'j.non2xx')" = 0 ] || echo " NON-2XX $(jget "$j" 'j.non2xx')")"
  done
fi
fi

# ---------------------------------------------------------------------------------------- h6 native SDK uploads
if hot_step h6; then
NATIVE_MSGS="${BENCH_NATIVE_MSGS:-20}"
NATIVE_BATCHES="${BENCH_NATIVE_BATCHES:-20000}"
NATIVE_DATE="$(date -u '+%a, %d %b %Y %H:%M:%S GMT')"
say "(h6) native SDK uploads: POST /v2/demo-android-key/events, a realistic Android batch of $NATIVE_MSGS messages per request (gzip, signed, the fixtures' headers), random devices among 100,000, 16 connections (${HOT_WARMUP} s warm-up + ${HOT_SECONDS} s)"
# Signed and gzipped beforehand, each batch new (a re-sent one would only be deduplicated): one file for the warm-up, one for the run.
COUNT=$((NATIVE_BATCHES / 4)) MSGS="$NATIVE_MSGS" DATE="$NATIVE_DATE" OUT="$DIR/h-native-warm.bin" node "$PERF/native-batches.js"
COUNT="$NATIVE_BATCHES" MSGS="$NATIVE_MSGS" DATE="$NATIVE_DATE" OUT="$DIR/h-native.bin" node "$PERF/native-batches.js"
NATIVE_DATE="$NATIVE_DATE" NATIVE_FILE="$DIR/h-native-warm.bin" MSGS="$NATIVE_MSGS" OUT_JSON="$DIR/h-native-warm.json" "$PERF/native-load.sh" -c 16 -d "$HOT_WARMUP" "$HOT_BASE" >/dev/null 2>&1
psql_q -c "select pg_stat_statements_reset()" >/dev/null
NATIVE_CPU0="$(awk '{ print $14 + $15 }' "/proc/$HOST_PID/stat")"
NATIVE_DATE="$NATIVE_DATE" NATIVE_FILE="$DIR/h-native.bin" MSGS="$NATIVE_MSGS" OUT_JSON="$DIR/h-native.json" "$PERF/native-load.sh" -c 16 -d "$HOT_SECONDS" "$HOT_BASE" 2>&1 | grep '^RESULT\|^wrk' || true
NATIVE_CPU1="$(awk '{ print $14 + $15 }' "/proc/$HOST_PID/stat")"
j="$DIR/h-native.json"; eps="$(jget "$j" 'j.ok_units_per_s.toFixed(0)')"; raw="$(raw_ingest 16 .events_per_s)"; n="$(jget "$j" 'Math.round(j.requests)')"
[ "$(jget "$j" 'j.non2xx')" = 0 ] || HOT_RC=1
[ "$n" -le "$NATIVE_BATCHES" ] || echo "  WARNING: $n requests but only $NATIVE_BATCHES batches generated: repeats were only deduplicated (raise BENCH_NATIVE_BATCHES)"
echo "  $eps events/s ($(jget "$j" 'j.ok_requests_per_s.toFixed(0)') batches/s), p50 $(jget "$j" 'j.p50_ms.toFixed(1)') ms, p99 $(jget "$j" 'j.p99_ms.toFixed(1)') ms, non-2xx $(jget "$j" 'j.non2xx'); raw at 16 clients ${raw:-?} events/s → $(pct "$eps" "$raw"); h2 (5-event Events API batches) ${H2_BASE_EPS:-?} events/s → $(pct "$eps" "$H2_BASE_EPS")"
echo "  per batch: $(awk -v c="$(pg_calls)" -v n="$n" 'BEGIN { printf "%.1f", (n > 0 ? c / n : 0) }') statements, Host CPU $(awk -v a="$NATIVE_CPU0" -v b="$NATIVE_CPU1" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (n > 0 ? (b - a) / hz * 1000 / n : 0) }') ms"
top_statements "$DIR/h-native-statements.tsv" 6
hot_row "native upload 1 batch x $NATIVE_MSGS messages (Android), 16 conns" "$eps events/s" "$(jget "$j" 'j.p50_ms.toFixed(1)')" "$(jget "$j" 'j.p99_ms.toFixed(1)')" "$raw events/s (16 cl)" "$(pct "$eps" "$raw")$( [ "$(jget "$j" 'j.non2xx')" = 0 ] || echo " NON-2XX $(jget "$j" 'j.non2xx')")"
fi
stop_host

# ---------------------------------------------------------------------------------------- h4 the full pipeline
if hot_step h4; then
say "(h4) full pipeline (schema $PIPE_SCHEMA): 16 connections of single batches, one webhook connection to build/perf/sink.js, 3 live calculated attributes, 1 real-time audience (parts:$PIPE_PARTS)"
start_host EventProfiles__Schema="$PIPE_SCHEMA"
PIPE_READY_AT="$(date +%s.%N)"
node "$PERF/sink.js" >"$DIR/h-sink.port" 2>"$DIR/h-sink.log" &
SINK_PID=$!
until [ -s "$DIR/h-sink.port" ]; do sleep 0.1; done
SINK="http://127.0.0.1:$(head -n 1 "$DIR/h-sink.port")"
# Read each second while the load is measured: no node start per call (that cost ~4 % of the box's CPU).
sink_posts() { curl -s "$SINK/__stats" | sed -E 's/.*"posts":([0-9]+).*/\1/'; }
# When the calculations shard first saved progress (its row appears with its first page of events, defined or not).
( for _ in $(seq 1 600); do
    [ "$(psql_q -c "select count(*) from pg_tables where schemaname = '$PIPE_SCHEMA' and tablename = 'mt_event_progression'")" = 1 ] \
      && [ "$(psql_q -c "select count(*) from $PIPE_SCHEMA.mt_event_progression where name = 'PersonCalculations:All'")" = 1 ] && { date +%s.%N >"$DIR/h-shard-started"; exit; }
    sleep 0.25
  done ) &
# The like-for-like reference: plain single-batch ingestion in this schema and Host (no connection, nothing calculated)
# after the JIT warm-up, so the pipeline's share compares the same database state and the same process.
LOAD_AT="$(date +%s.%N)"
jit_warmup "$DIR/h-pipe-jit.json"
PIPE_JIT_OK="$(wrk_ok "$DIR/h-pipe-jit.json")"
SHARD_WAIT="$([ -s "$DIR/h-shard-started" ] && awk -v a="$LOAD_AT" -v b="$(cat "$DIR/h-shard-started")" -v r="$PIPE_READY_AT" 'BEGIN { printf "%.1f s after the load began (%.1f s after the Host was ready)", b - a, b - r }' || echo "not within the first $HOT_JIT_WARMUP s")"
echo "  calculations shard's first progress: $SHARD_WAIT; ${HOT_JIT_WARMUP} s of load first ($PIPE_JIT_OK batches), then ANALYZE"
KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/h-pipe-plain-warm.json" "$PERF/http-load.sh" -c 16 -d "$HOT_WARMUP" "$HOT_BASE" >/dev/null 2>&1
KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/h-pipe-plain.json" "$PERF/http-load.sh" -c 16 -d "$HOT_SECONDS" "$HOT_BASE" 2>&1 | grep '^RESULT' || true
PIPE_PLAIN_EPS="$(jget "$DIR/h-pipe-plain.json" 'j.ok_units_per_s.toFixed(0)')"
echo "  plain ingestion in this schema first (the pipeline's like-for-like reference): $PIPE_PLAIN_EPS events/s, p99 $(jget "$DIR/h-pipe-plain.json" 'j.p99_ms.toFixed(1)') ms"
if pipe_part webhook; then
  OUTPUT_ID="$(curl -s -u admin:admin-password -H 'Content-Type: application/json' -d "{\"name\":\"bench sink\",\"kind\":\"webhook\",\"webhook\":{\"url\":\"$SINK/hook\"}}" "$HOT_BASE/api/admin/outputs" \
    | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s).id))')"
  curl -s -o /dev/null -w '  webhook connection demo-server → sink: %{http_code}\n' -u admin:admin-password -H 'Content-Type: application/json' \
    -d "{\"input\":\"demo-server\",\"output_id\":\"$OUTPUT_ID\"}" "$HOT_BASE/api/admin/connections"
fi
if pipe_part calculations; then
  DEFINE_AT="$(date +%s.%N)"
  BENCH_MODE=ca-define BENCH_URL="$HOT_BASE/" dotnet "$BENCH_DLL" || HOT_RC=$?
  echo "  3 calculated attributes defined and ready over the stored events in $(awk -v a="$DEFINE_AT" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
fi
# The pipeline's own code is JIT-ed now: its share of the same warm-up, then ANALYZE again.
KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/h-pipe-jit2.json" "$PERF/http-load.sh" -c 16 -d "$PIPE_JIT_WARMUP" "$HOT_BASE" >/dev/null 2>&1
psql_q -c "analyze" >/dev/null
PIPE_JIT_OK="$(wrk_ok "$DIR/h-pipe-jit2.json")"
# An audience's activation replays its counters, then a job evaluates everyone already stored (1,000 people per
# transaction) while the projection takes people's new events; the API shows it active once both are done. That
# one-off sweep is not the pipeline's steady state: the probes (and the measured runs) start once it has finished
# (checked here in the table too), and the probe's log has the activation's time.
probe_initialised() {
  until [ "$(psql_q -c "select count(*) from $PIPE_SCHEMA.mt_doc_audience_initialisation where data ->> 'FinishedAt' is null")" = 0 ]; do
    host_alive || exit 1; sleep 0.2
  done
  echo "  $1: active, everyone stored evaluated ($(psql_q -c "select data ->> 'People' from $PIPE_SCHEMA.mt_doc_audience_initialisation order by (data ->> 'Id')::int desc limit 1") people; $(grep -o 'active [0-9.]* s after its activation' "${2:-/dev/null}" || echo 'see the probe log'))"
  touch "$DIR/h-probe-go"
}
PIPE_PROBE=""
if pipe_part audience; then
  rm -f "$DIR/h-probe-ready" "$DIR/h-probe-go"
  BENCH_MODE=aud-probe BENCH_URL="$HOT_BASE/" BENCH_PROBE_SECONDS=$((HOT_WARMUP + HOT_SECONDS + 5)) \
    BENCH_PROBE_READY_FILE="$DIR/h-probe-ready" BENCH_PROBE_GO_FILE="$DIR/h-probe-go" BENCH_RESULT_FILE="$DIR/h-aud-probe.env" dotnet "$BENCH_DLL" >"$DIR/h-aud-probe.log" 2>&1 &
  PIPE_PROBE=$!
  until [ -f "$DIR/h-probe-ready" ]; do host_alive || exit 1; sleep 0.2; done
  probe_initialised "the probe audience" "$DIR/h-aud-probe.log"
fi
pipe_progress="coalesce((select last_seq_id from $PIPE_SCHEMA.mt_event_progression where name = 'PersonCalculations:All'), 0)"
pipe_mark="coalesce((select last_seq_id from $PIPE_SCHEMA.mt_event_progression where name = 'HighWaterMark'), 0)"
# time, events behind, age of the oldest unapplied event (s), durable envelopes not yet handled (Wolverine keeps handled
# ones for a while, so those are not counted), sink POSTs, events above the high-water mark
PIPE_LOG="$DIR/h-pipeline.tsv"
# Deliveries grouped per output wait as rows of ep_deliveries under one envelope per group: count those rows too.
PIPE_ROWS="0"
[ -n "$(psql_q -c "select to_regclass('$PIPE_SCHEMA.ep_deliveries')")" ] && PIPE_ROWS="(select count(*) from $PIPE_SCHEMA.ep_deliveries)"
pipe_sampler() { # log file: one line each second until killed
  while :; do
    psql_q -F $'\t' -c "select extract(epoch from clock_timestamp()), coalesce((select max(seq_id) from $PIPE_SCHEMA.mt_events), 0) - $pipe_progress,
      coalesce(extract(epoch from clock_timestamp() - (select timestamp from $PIPE_SCHEMA.mt_events where seq_id = (select min(seq_id) from $PIPE_SCHEMA.mt_events where seq_id > $pipe_progress))), 0),
      (select count(*) from $PIPE_SCHEMA.wolverine_incoming_envelopes where status <> 'Handled') + $PIPE_ROWS, '$(sink_posts)',
      coalesce((select max(seq_id) from $PIPE_SCHEMA.mt_events), 0) - $pipe_mark" >>"$1" 2>/dev/null || true
    sleep 1
  done
}
percentiles() { sort -g | awk '{ a[NR] = $1 } END { p99 = int(NR * 0.99); if (p99 < 1) p99 = 1; printf "%.2f %.2f %.2f\n", a[int((NR + 1) / 2)], a[p99], a[NR] }'; }
pipe_sampler "$PIPE_LOG" &
PIPE_SAMPLER=$!
KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/h-pipe-warm.json" "$PERF/http-load.sh" -c 16 -d "$HOT_WARMUP" "$HOT_BASE" >/dev/null 2>&1
psql_q -c "select pg_stat_statements_reset()" >/dev/null
P0="$(sink_posts)"; T0=$(date +%s.%N)
KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/h-pipe.json" "$PERF/http-load.sh" -c 16 -d "$HOT_SECONDS" "$HOT_BASE" 2>&1 | grep '^RESULT' || true
P1="$(sink_posts)"; T1=$(date +%s.%N)
# Per accepted batch during the measured run (ingestion, deliveries and calculations together): all statements, and the
# durable envelope rows written (Wolverine's incoming table), so one envelope per delivery shows as ~1.
PIPE_N="$(jget "$DIR/h-pipe.json" 'j.requests')"
PIPE_ENV_ROWS="$(psql_q -c "select coalesce(sum(rows), 0) from pg_stat_statements where query ilike 'insert into %wolverine_incoming_envelopes%'")"
echo "  per batch: $(awk -v c="$(pg_calls)" -v n="$PIPE_N" 'BEGIN { printf "%.1f", (n > 0 ? c / n : 0) }') statements, $(awk -v c="$PIPE_ENV_ROWS" -v n="$PIPE_N" 'BEGIN { printf "%.2f", (n > 0 ? c / n : 0) }') envelope rows inserted"
top_statements "$DIR/h-pipe-statements.tsv" 10
PIPE_ACCEPTED=$(( PIPE_JIT_OK + $(wrk_ok "$DIR/h-pipe-warm.json") + $(wrk_ok "$DIR/h-pipe.json") ))
# Drain: every accepted batch delivered (POSTs at the sink; the probe audience has a receiver of its own), at most 120 s.
DRAIN0=$(date +%s.%N); PIPE_DRAINED="no (gave up after 120 s)"
for _ in $(seq 1 600); do
  if { ! pipe_part webhook || [ "$(sink_posts)" -ge "$PIPE_ACCEPTED" ]; } && [ "$(psql_q -c "select coalesce((select max(seq_id) from $PIPE_SCHEMA.mt_events), 0) - $pipe_progress")" -le 0 ]; then
    PIPE_DRAINED="$(awk -v a="$DRAIN0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')"; break
  fi
  sleep 0.2
done
[ -z "$PIPE_PROBE" ] || wait "$PIPE_PROBE" || HOT_RC=$?
kill "$PIPE_SAMPLER" 2>/dev/null || true; wait "$PIPE_SAMPLER" 2>/dev/null || true
# shellcheck disable=SC1091
[ -z "$PIPE_PROBE" ] || . "$DIR/h-aud-probe.env"
PIPE_EPS="$(jget "$DIR/h-pipe.json" 'j.ok_units_per_s.toFixed(0)')"
PIPE_BPS="$(jget "$DIR/h-pipe.json" 'j.ok_requests_per_s.toFixed(0)')"
PIPE_DELIVERED="$(awk -v a="$P0" -v b="$P1" -v s="$T0" -v e="$T1" 'BEGIN { printf "%.0f", (b - a) / (e - s) }')"
read -r PIPE_LAG_P50 PIPE_LAG_P99 PIPE_LAG_MAX < <(cut -f3 "$PIPE_LOG" | percentiles)
PIPE_PENDING_MAX="$(cut -f4 "$PIPE_LOG" | sort -n | tail -n 1)"
echo "  pending durable envelopes, each second: $(cut -f4 "$PIPE_LOG" | tr '\n' ' ')"
echo "  events behind the calculations, each second: $(cut -f2 "$PIPE_LOG" | tr '\n' ' ')"
echo "  ingestion $PIPE_EPS events/s ($PIPE_BPS batches/s, p99 $(jget "$DIR/h-pipe.json" 'j.p99_ms.toFixed(1)') ms, non-2xx $(jget "$DIR/h-pipe.json" 'j.non2xx')) = $(pct "$PIPE_EPS" "$H2_BASE_EPS") of h2's at the first connection count, $(pct "$PIPE_EPS" "$PIPE_PLAIN_EPS") of plain ingestion in this schema before;"
echo "  webhook POSTs $PIPE_DELIVERED/s during the load, all $PIPE_ACCEPTED accepted batches delivered and calculations caught up: $PIPE_DRAINED after the load; pending envelopes max $PIPE_PENDING_MAX"
echo "  calculations lag (oldest unapplied event, sampled each second): p50 $PIPE_LAG_P50 s, p99 $PIPE_LAG_P99 s, max $PIPE_LAG_MAX s; real-time audience 202 → add: p50 ${aud_p50_ms:-?} ms, p99 ${aud_p99_ms:-?} ms (${aud_received:-?} of ${aud_probes:-?} probes)"
# Half load (goal 3: calculations lag p99 < 1 s at half the maximum load): the same load paced at half the batches/s just
# measured (each of the 16 connections waits between its requests), with a second probe audience timing 202 → add.
HALF_DELAY_MS=$(awk -v b="$PIPE_BPS" -v p="$(jget "$DIR/h-pipe.json" 'j.p50_ms')" 'BEGIN { d = (b > 0 ? 16 * 1000 / (b / 2) : 0) - p / 2; printf "%.0f", (d > 1 ? d : 1) }')
HALF_PROBE=""
if pipe_part audience; then
  rm -f "$DIR/h-probe-ready" "$DIR/h-probe-go"
  BENCH_MODE=aud-probe BENCH_URL="$HOT_BASE/" BENCH_PROBE_SECONDS=$((HOT_SECONDS + 5)) \
    BENCH_PROBE_READY_FILE="$DIR/h-probe-ready" BENCH_PROBE_GO_FILE="$DIR/h-probe-go" BENCH_RESULT_FILE="$DIR/h-aud-probe-half.env" dotnet "$BENCH_DLL" >"$DIR/h-aud-probe-half.log" 2>&1 &
  HALF_PROBE=$!
  until [ -f "$DIR/h-probe-ready" ]; do host_alive || exit 1; sleep 0.2; done
  probe_initialised "the second probe audience" "$DIR/h-aud-probe-half.log"
fi
HALF_LOG="$DIR/h-pipeline-half.tsv"
pipe_sampler "$HALF_LOG" &
HALF_SAMPLER=$!
DELAY_MS="$HALF_DELAY_MS" KEY=demo-key SECRET=demo-secret OUT_JSON="$DIR/h-pipe-half.json" "$PERF/http-load.sh" -c 16 -d "$HOT_SECONDS" "$HOT_BASE" 2>&1 | grep '^RESULT' || true
[ -z "$HALF_PROBE" ] || wait "$HALF_PROBE" || HOT_RC=$?
kill "$HALF_SAMPLER" 2>/dev/null || true; wait "$HALF_SAMPLER" 2>/dev/null || true
read -r HALF_LAG_P50 HALF_LAG_P99 HALF_LAG_MAX < <(cut -f3 "$HALF_LOG" | percentiles)
read -r HALF_AUD_P50 HALF_AUD_P99 HALF_AUD_N < <([ -z "$HALF_PROBE" ] || . "$DIR/h-aud-probe-half.env"; echo "${aud_p50_ms:-?} ${aud_p99_ms:-?} ${aud_received:-?}/${aud_probes:-?}")
HALF_EPS="$(jget "$DIR/h-pipe-half.json" 'j.ok_units_per_s.toFixed(0)')"
HALF_BPS="$(jget "$DIR/h-pipe-half.json" 'j.ok_requests_per_s.toFixed(0)')"
echo "  at half load ($HALF_BPS batches/s = $(pct "$HALF_BPS" "$PIPE_BPS") of the full run's, each connection waiting ${HALF_DELAY_MS} ms between requests; a second probe audience):"
echo "  calculations lag p50 $HALF_LAG_P50 s, p99 $HALF_LAG_P99 s, max $HALF_LAG_MAX s; audience 202 → add p50 $HALF_AUD_P50 ms, p99 $HALF_AUD_P99 ms ($HALF_AUD_N probes); ingestion p99 $(jget "$DIR/h-pipe-half.json" 'j.p99_ms.toFixed(1)') ms"
hot_row "pipeline: 16 conns + webhook + 3 CA + 1 audience" "$PIPE_EPS events/s" "$(jget "$DIR/h-pipe.json" 'j.p50_ms.toFixed(1)')" "$(jget "$DIR/h-pipe.json" 'j.p99_ms.toFixed(1)')" "$H2_BASE_EPS events/s (h2)" "$(pct "$PIPE_EPS" "$H2_BASE_EPS")"
hot_row "pipeline: the same vs plain ingestion in its schema" "$PIPE_EPS events/s" "-" "-" "$PIPE_PLAIN_EPS events/s (plain)" "$(pct "$PIPE_EPS" "$PIPE_PLAIN_EPS")"
hot_row "pipeline: webhook deliveries" "$PIPE_DELIVERED POSTs/s" "-" "-" "$PIPE_BPS batches/s" "$(pct "$PIPE_DELIVERED" "$PIPE_BPS")"
hot_row "pipeline: calculations lag (s)" "-" "$PIPE_LAG_P50 s" "$PIPE_LAG_P99 s" "-" "-"
hot_row "pipeline: audience 202 → add (ms)" "-" "${aud_p50_ms:-?}" "${aud_p99_ms:-?}" "-" "-"
hot_row "pipeline at half load: calculations lag (s)" "$HALF_EPS events/s" "$HALF_LAG_P50 s" "$HALF_LAG_P99 s" "$PIPE_EPS events/s (full)" "$(pct "$HALF_EPS" "$PIPE_EPS")"
hot_row "pipeline at half load: audience 202 → add (ms)" "-" "$HALF_AUD_P50" "$HALF_AUD_P99" "-" "-"
[ "$(jget "$DIR/h-pipe.json" 'j.non2xx')" = 0 ] || HOT_RC=1
kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true
stop_host
fi
HOT_LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
