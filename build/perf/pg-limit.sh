#!/usr/bin/env bash
# pg-limit.sh — the physical PostgreSQL ceiling for the EventProfiles workload on this machine.
# Starts a private, throw-away cluster on 127.0.0.1 (free port, temp dir), loads event-store-shaped
# tables and measures with pgbench: ingest (5 events + profile upsert per tx), the same with
# synchronous_commit=off, COPY bulk ceiling, and profile lookups. See README.md for the knobs.
# Copied from ../shared/perf/pg-limit.sh (2026-12-04) so the repository is self-contained; build/bench part (h) calls it.
# Added here: MAX_CONNECTIONS (pgbench at 256 clients needs more than 100) and LOOKUP_CLIENTS (lookups at other
# client counts than ingest, so one call measures both without a second 1M-row load).
set -euo pipefail

DURATION=${DURATION:-20}            # seconds per pgbench run
REPS=${REPS:-3}                     # repetitions per configuration (median is reported)
CLIENTS=${CLIENTS:-"1 4 16"}        # pgbench client counts
LOOKUP_CLIENTS=${LOOKUP_CLIENTS:-$CLIENTS} # client counts for the lookup scenario
MAX_CONNECTIONS=${MAX_CONNECTIONS:-100}
SCENARIOS=${SCENARIOS:-"copy ingest ingest_async lookup"}
STREAMS=${STREAMS:-100000}          # ingest picks a random stream/profile among these
PROFILES=${PROFILES:-1000000}       # rows in the profile table (lookup keyspace)
COPY_ROWS=${COPY_ROWS:-1000000}     # rows per COPY repetition
COPY_PARALLEL=${COPY_PARALLEL:-1}   # concurrent \copy sessions sharing those rows (2 = use both cores)
EVENTS_PER_TX=${EVENTS_PER_TX:-5}   # events appended per ingest transaction (one batch)
STREAM_TABLE=${STREAM_TABLE:-0}     # 1 = also bump a streams row per tx and derive versions (Marten-like)
PIPELINE=${PIPELINE:-1}             # 1 = whole tx in one round trip (like an Npgsql batch)
SYNC_COMMIT=${SYNC_COMMIT:-on}      # cluster default; scenario ingest_async forces off per session
SHARED_BUFFERS=${SHARED_BUFFERS:-1GB}
BASE_TMP=${PGLIMIT_TMP:-${TMPDIR:-/tmp}}

PG_BIN=${PG_BIN:-$(pg_config --bindir 2>/dev/null || dirname "$(command -v initdb)")}
[ -x "$PG_BIN/pgbench" ] || { echo "pgbench not found; set PG_BIN" >&2; exit 2; }

WORK=$(mktemp -d "$BASE_TMP/pg-limit.XXXXXX")
DATA=$WORK/data
RESULTS=$WORK/results.tsv
: >"$RESULTS"
mkdir -p "$WORK/logs"

# initdb refuses to run as root: run server binaries as the postgres user when we are root.
if [ "$(id -u)" = 0 ]; then
  chown postgres "$WORK"; chmod 755 "$WORK"
  as_server() { runuser -u postgres -- "$@"; }
else
  as_server() { "$@"; }
fi

cleanup() {
  local rc=$?
  if [ -f "$DATA/postmaster.pid" ]; then
    as_server "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || {
      pid=$(head -1 "$DATA/postmaster.pid" 2>/dev/null || true)
      [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
      sleep 2; [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true; }
  fi
  [ "${KEEP_TMP:-0}" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

echo "== initdb in $WORK (PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'))"
as_server "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-locale >"$WORK/initdb.log"
# Documented server config: durable by default (fsync on, synchronous_commit on, full_page_writes on).
# Big WAL/ckpt limits + an explicit CHECKPOINT before each run keep checkpoints out of the measurements.
cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
max_connections = $MAX_CONNECTIONS
shared_buffers = $SHARED_BUFFERS
synchronous_commit = $SYNC_COMMIT
fsync = on
full_page_writes = on
wal_compression = off
max_wal_size = 8GB
checkpoint_timeout = 30min
wal_buffers = 16MB
effective_cache_size = 16GB
work_mem = 16MB
maintenance_work_mem = 512MB
logging_collector = off
EOF

PORT=
for try in 1 2 3 4 5; do
  p=$(( 20000 + RANDOM % 30000 ))
  port_in_use "$p" && continue
  if as_server "$PG_BIN/pg_ctl" -D "$DATA" -o "-p $p" -l "$WORK/server.log" -w -t 60 start >/dev/null; then
    PORT=$p; break
  fi
done
[ -n "$PORT" ] || { echo "could not start postgres" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
echo "== postgres up on 127.0.0.1:$PORT (pid $(head -1 "$DATA/postmaster.pid"))"

export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
psql_q() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

# ---- schema (event store shaped: events + streams, plus the profile document table) ----------
psql_q <<'SQL'
CREATE TABLE events (seq bigserial PRIMARY KEY, stream_id bigint NOT NULL, version int NOT NULL,
                     type text NOT NULL, data jsonb NOT NULL, "timestamp" timestamptz NOT NULL DEFAULT now());
CREATE INDEX events_stream_version ON events (stream_id, version);
CREATE TABLE streams (id bigint PRIMARY KEY, version int NOT NULL, "timestamp" timestamptz NOT NULL DEFAULT now());
CREATE TABLE profile (id bigint PRIMARY KEY, data jsonb NOT NULL, last_seen timestamptz);
SQL
echo "== loading $PROFILES profiles"
psql_q -v n="$PROFILES" <<'SQL'
INSERT INTO profile (id, data, last_seen)
SELECT g, jsonb_build_object(
  'mpid', g, 'identities', jsonb_build_object('customer_id', 'c' || g, 'email', 'u' || g || '@example.com'),
  'attributes', jsonb_build_object('plan', (ARRAY['free','silver','gold'])[1 + g % 3], '$firstname', 'Ana',
     '$lastname', 'Silva', '$city', 'Lisbon', '$country', 'PT', 'interests', jsonb_build_array('ski','jazz'),
     'ltv', round((g % 5000)::numeric / 3, 2)::text),
  'eventCount', g % 400, 'lastEvent', 'Viewed Product', 'firstSeen', '2024-01-01T00:00:00Z'),
  now() - interval '1 day' - (g % 86400) * interval '1 second'
FROM generate_series(1, :n) g;
INSERT INTO streams (id, version) SELECT g, 0 FROM generate_series(1, :n) g;
VACUUM ANALYZE profile; VACUUM ANALYZE streams;
SQL

# ---- payloads: realistic ~400-byte serialized events, as the app would store them --------------
NAMES=("Viewed Product" "Added to Cart" "Search" "Checkout Started" "Played Video")
KINDS=(navigation transaction search transaction media)
CATS=(shoes outerwear accessories kitchen books)
ev_json() { # $1 = 0..4
  local i=$1
  printf '{"eventType":"custom_event","eventName":"%s","customEventType":"%s","sourceMessageId":"6f1c2a9e-4b7d-4e21-9a0c-%012d","timestampUnixtimeMs":17328000%05d,"sessionId":812345678901%d,"customAttributes":{"sku":"SKU-%05d","category":"%s","price":"%d.99","currency":"USD","page":"/products/%s/item-%d","referrer":"https://www.example.com/search?q=%s"},"environment":"development","sourceRequestId":"0b6d2f6e-5a1c-4c2e-9b7e-%012d"}' \
    "${NAMES[$i]}" "${KINDS[$i]}" "$((i * 7919))" "$((i * 1234))" "$i" "$((i * 4241))" "${CATS[$i]}" \
    "$((19 + i * 10))" "${CATS[$i]}" "$((i * 31))" "${CATS[$i]}" "$((i * 104729))"
}
PROFILE_JSON='{"identities":{"customer_id":"c123","email":"u123@example.com"},"attributes":{"plan":"gold","$firstname":"Ana","$lastname":"Silva","$city":"Lisbon","$country":"PT","interests":["ski","jazz"],"ltv":"1234.50"},"lastEvent":"Added to Cart"}'
DEFS=(-D "streams=$STREAMS" -D "profiles=$PROFILES" -D "pdata=$PROFILE_JSON")
for i in 0 1 2 3 4; do DEFS+=(-D "ev$i=$(ev_json "$i")"); done
EV_BYTES=$(ev_json 0 | wc -c)

# ---- pgbench scripts ---------------------------------------------------------------------------
{
  echo '\set sid random(1, :streams)'
  if [ "$STREAM_TABLE" = 1 ]; then
    [ "$PIPELINE" = 1 ] && echo '\startpipeline'
    echo 'BEGIN;'
    echo "WITH s AS (UPDATE streams SET version = version + $EVENTS_PER_TX, \"timestamp\" = now() WHERE id = :sid RETURNING version)"
    echo 'INSERT INTO events (stream_id, version, type, data) SELECT :sid, s.version - v.n, $$custom_event$$, v.d FROM s, (VALUES'
    for ((k = 0; k < EVENTS_PER_TX; k++)); do
      sep=,; [ $k = $((EVENTS_PER_TX - 1)) ] && sep=') v(n, d);'
      echo "  ($((EVENTS_PER_TX - 1 - k)), :ev$((k % 5))::jsonb)$sep"
    done
  else
    echo '\set v random(1, 1000000000)'
    for ((k = 1; k < EVENTS_PER_TX; k++)); do echo "\\set v$k :v + $k"; done
    [ "$PIPELINE" = 1 ] && echo '\startpipeline'
    echo 'BEGIN;'
    echo 'INSERT INTO events (stream_id, version, type, data) VALUES'
    for ((k = 0; k < EVENTS_PER_TX; k++)); do
      vv=":v$k"; [ $k = 0 ] && vv=":v"; sep=,; [ $k = $((EVENTS_PER_TX - 1)) ] && sep=';'
      echo "  (:sid, $vv, \$\$custom_event\$\$, :ev$((k % 5))::jsonb)$sep"
    done
  fi
  echo 'INSERT INTO profile (id, data, last_seen) VALUES (:sid, :pdata::jsonb, now())'
  echo '  ON CONFLICT (id) DO UPDATE SET data = profile.data || excluded.data, last_seen = excluded.last_seen;'
  echo 'COMMIT;'
  [ "$PIPELINE" = 1 ] && echo '\endpipeline'
} >"$WORK/ingest.sql"
printf '%s\n' '\set id random(1, :profiles)' 'SELECT data FROM profile WHERE id = :id;' >"$WORK/lookup.sql"

# ---- measurement helpers -------------------------------------------------------------------------
pctl() { sort -n | awk -v p="$1" '{a[NR]=$1} END {if (NR==0) {print "null"; exit} i=int(NR*p/100); if (i<1) i=1; printf "%.3f", a[i]/1000}'; }

run_pgbench() { # scenario clients rep script [extra env...]
  local sc=$1 c=$2 rep=$3 script=$4 j=$(( $2 < 2 ? 1 : 2 )) out prefix tps lat p50 p99
  prefix="$WORK/logs/$sc-c$c-r$rep"
  psql_q -c 'CHECKPOINT' >/dev/null
  out=$(cd "$WORK/logs" && "$PG_BIN/pgbench" -n -M prepared -c "$c" -j "$j" -T "$DURATION" \
        -l --log-prefix="$prefix" "${DEFS[@]}" -f "$script" 2>&1) || { echo "$out" >&2; return 1; }
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' <<<"$out")
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")
  p50=$(cat "$prefix".* | awk '{print $3}' | pctl 50)
  p99=$(cat "$prefix".* | awk '{print $3}' | pctl 99)
  fail=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
  [ "${fail:-0}" = 0 ] || echo "   WARNING: $fail failed transactions" >&2
  rm -f "$prefix".*
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sc" "$c" "$rep" "$tps" "$lat" "$p50" "$p99" >>"$RESULTS"
  printf '   %-13s c=%-3s rep %s: %10.1f tps  avg %7s ms  p50 %7s ms  p99 %7s ms\n' "$sc" "$c" "$rep" "$tps" "$lat" "$p50" "$p99"
}

for sc in $SCENARIOS; do
  case $sc in
    copy)
      echo "== (c) COPY $COPY_ROWS event rows x $REPS (client-side \\copy over TCP, text format, $COPY_PARALLEL session(s))"
      psql_q -v n="$COPY_ROWS" -v f="$WORK/events.copy" <<'SQL'
COPY (SELECT 1 + (g::bigint * 7919) % 100000 AS stream_id, g AS version, 'custom_event' AS type,
  jsonb_build_object('eventType', 'custom_event', 'eventName', (ARRAY['Viewed Product','Added to Cart','Search','Checkout Started','Played Video'])[1 + g % 5],
    'customEventType', (ARRAY['navigation','transaction','search','transaction','media'])[1 + g % 5],
    'sourceMessageId', md5(g::text)::uuid, 'timestampUnixtimeMs', 1732800000000 + g, 'sessionId', 8123456789012 + g % 1000,
    'customAttributes', jsonb_build_object('sku', 'SKU-' || lpad((g % 99999)::text, 5, '0'), 'category', (ARRAY['shoes','outerwear','accessories','kitchen','books'])[1 + g % 5],
       'price', (g % 200) || '.99', 'currency', 'USD', 'page', '/products/item-' || g % 5000, 'referrer', 'https://www.example.com/search?q=' || md5(g::text)),
    'environment', 'development', 'sourceRequestId', md5((g / 5)::text)::uuid) AS data,
  now() - (g % 86400) * interval '1 second' AS "timestamp"
FROM generate_series(1, :n) g) TO :'f';
SQL
      bytes=$(stat -c %s "$WORK/events.copy")
      parts=("$WORK/events.copy")
      if [ "$COPY_PARALLEL" -gt 1 ]; then
        split -n "l/$COPY_PARALLEL" "$WORK/events.copy" "$WORK/events.part."; parts=("$WORK"/events.part.*)
      fi
      for ((r = 1; r <= REPS; r++)); do
        psql_q -c 'CHECKPOINT' >/dev/null
        t0=$(date +%s.%N)
        pids=()
        for f in "${parts[@]}"; do
          psql_q -c "\\copy events (stream_id, version, type, data, \"timestamp\") FROM '$f'" & pids+=($!)
        done
        for pid in "${pids[@]}"; do wait "$pid"; done
        t1=$(date +%s.%N)
        rate=$(awk -v n="$COPY_ROWS" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", n / (b - a)}')
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
        printf 'copy\t1\t%s\t%s\t\t\t\n' "$r" "$rate" >>"$RESULTS"
        printf '   copy rep %s: %s rows in %s s = %s rows/s (%.0f MB/s of text)\n' "$r" "$COPY_ROWS" "$secs" "$rate" \
          "$(awk -v b="$bytes" -v s="$secs" 'BEGIN {print b / s / 1e6}')"
      done
      rm -f "$WORK/events.copy" "$WORK"/events.part.*
      psql_q -c 'VACUUM ANALYZE events' ;;
    ingest|ingest_async)
      label="synchronous_commit=$SYNC_COMMIT"
      if [ "$sc" = ingest_async ]; then export PGOPTIONS='-c synchronous_commit=off'; label='synchronous_commit=off'; fi
      echo "== ($([ "$sc" = ingest ] && echo a || echo b)) ingest: 1 tx = $EVENTS_PER_TX events (~${EV_BYTES} B jsonb) + profile upsert; $label; pipeline=$PIPELINE streams_table=$STREAM_TABLE"
      for c in $CLIENTS; do for ((r = 1; r <= REPS; r++)); do run_pgbench "$sc" "$c" "$r" "$WORK/ingest.sql"; done; done
      unset PGOPTIONS ;;
    lookup)
      echo "== (d) profile lookup: SELECT data FROM profile WHERE id=\$1 among $PROFILES"
      psql_q -c 'VACUUM ANALYZE profile'
      for c in $LOOKUP_CLIENTS; do for ((r = 1; r <= REPS; r++)); do run_pgbench lookup "$c" "$r" "$WORK/lookup.sql"; done; done ;;
    *) echo "unknown scenario $sc" >&2; exit 2 ;;
  esac
done

echo "== sanity: events rows $(psql_q -Atc 'SELECT count(*) FROM events'), profiles touched in the last hour $(psql_q -Atc "SELECT count(*) FROM profile WHERE last_seen > now() - interval '1 hour'")"

# ---- summary (medians over reps) ---------------------------------------------------------------
echo
echo "== summary: median of $REPS x ${DURATION}s (copy: rows/s); events/s = tps x $EVENTS_PER_TX"
awk -F'\t' -v ept="$EVENTS_PER_TX" -v out_json="${OUT_JSON:-}" -v meta="$(nproc) cpus, PG $("$PG_BIN/postgres" --version | awk '{print $3}'), shared_buffers=$SHARED_BUFFERS, pipeline=$PIPELINE, streams_table=$STREAM_TABLE, duration=${DURATION}s, reps=$REPS" '
function med(s,   n, a, i, j, t) { n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
  if (n == 0 || a[1] == "") return ""; return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function mn(s,  n, a, i, m) { n = split(s, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]; return m }
function mx(s,  n, a, i, m) { n = split(s, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]; return m }
function num(x) { return x == "" ? "null" : x }
{ k = $1 SUBSEP $2; if (!(k in seen)) { seen[k] = 1; order[++nk] = k } tps[k] = tps[k] " " $4; if ($5 != "") lat[k] = lat[k] " " $5; if ($6 != "") p50[k] = p50[k] " " $6; if ($7 != "") p99[k] = p99[k] " " $7 }
END {
  printf "%-13s %4s %12s %18s %12s %9s %9s %9s\n", "scenario", "cl", "tps|rows/s", "(min-max)", "events/s", "avg ms", "p50 ms", "p99 ms"
  js = "{\"machine\":\"" meta "\",\"events_per_tx\":" ept ",\"results\":["
  for (i = 1; i <= nk; i++) { split(order[i], kk, SUBSEP); k = order[i]; t = med(tps[k])
    ev = (kk[1] == "copy") ? t : (kk[1] ~ /^ingest/) ? sprintf("%.0f", t * ept) : "null"
    printf "%-13s %4s %12.1f %18s %12s %9s %9s %9s\n", kk[1], (kk[1] == "copy" ? "-" : kk[2]), t, sprintf("(%.0f-%.0f)", mn(tps[k]), mx(tps[k])), (ev == "null" ? "-" : ev), med(lat[k]), med(p50[k]), med(p99[k])
    js = js (i > 1 ? "," : "") sprintf("{\"scenario\":\"%s\",\"clients\":%s,\"tps_median\":%.1f,\"tps_min\":%.1f,\"tps_max\":%.1f,\"events_per_s\":%s,\"latency_avg_ms\":%s,\"p50_ms\":%s,\"p99_ms\":%s,\"runs\":\"%s\"}", kk[1], kk[2], t, mn(tps[k]), mx(tps[k]), ev, num(med(lat[k])), num(med(p50[k])), num(med(p99[k])), substr(tps[k], 2)) }
  js = js "]}"
  if (out_json != "") { print js > out_json; close(out_json) }
}' "$RESULTS"
[ -n "${OUT_JSON:-}" ] && echo "(json written to $OUT_JSON)"
exit 0
