#!/usr/bin/env bash
# Private PostgreSQL cluster helpers, sourced by build/run, build/test and build/bench.
# A cluster lives in one folder: data/, socket dir, log. initdb refuses to run as root, so as root
# every server command runs as the `postgres` OS user (created if missing).

pg_find_bin() {
  local dir
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    PG_BIN="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"; return 0
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then PG_BIN="$dir"; return 0; fi
  done
  return 1
}

pg_ensure_installed() {
  if pg_find_bin; then return 0; fi
  echo ">> PostgreSQL server binaries not found: installing the Debian package 'postgresql' with apt" >&2
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  # The Debian package starts its own cluster on 5432; we do not use it.
  pg_find_bin || { echo "PostgreSQL installation failed" >&2; return 1; }
}

# Runs a command as the cluster owner: ourselves, or `postgres` when we are root.
pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# pg_start <folder> <port> [extra postgres -c options...]
# Sets PG_PORT to the port the cluster listens on (the running cluster's own port if it was already up).
pg_start() {
  local dir="$1" port="$2"; shift 2
  pg_ensure_installed || return 1
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  [ "$(id -u)" -eq 0 ] && { id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres; chown postgres: "$dir"; chmod 700 "$dir"; }
  # The owner must be able to reach the folder through its parents (e.g. a checkout under /root).
  if [ "$(id -u)" -eq 0 ]; then
    local p="$dir"; while [ "$p" != "/" ]; do p="$(dirname "$p")"; chmod o+x "$p" 2>/dev/null || true; done
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    echo ">> creating a private PostgreSQL cluster in $dir/data" >&2
    pg_as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; return 1; }
  fi
  if pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    PG_PORT="$(sed -n 4p "$dir/data/postmaster.pid")"
    PG_STARTED=0; echo ">> PostgreSQL already running in $dir on port $PG_PORT" >&2; return 0
  fi
  PG_PORT="$port"
  local opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 $*"
  pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -o "$opts" -l "$dir/postgres.log" -w -t 60 start >/dev/null \
    || { tail -n 30 "$dir/postgres.log" >&2; return 1; }
  PG_STARTED=1; echo ">> PostgreSQL listening on 127.0.0.1:$port (data: $dir/data, log: $dir/postgres.log)" >&2
}

pg_stop() {
  local dir="$1"
  [ -f "$dir/data/PG_VERSION" ] || return 0
  pg_find_bin || return 0
  pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

pg_connection_string() {
  # No "Include Error Detail": PostgreSQL error details can quote identity values, which must not reach the logs.
  echo "Host=127.0.0.1;Port=$1;Username=postgres;Database=postgres;Maximum Pool Size=${2:-50}"
}

# A free TCP port on loopback (for throwaway clusters).
pg_free_port() {
  local port
  for port in $(seq "${1:-55432}" 65000); do
    (echo >/dev/tcp/127.0.0.1/"$port") >/dev/null 2>&1 || { echo "$port"; return 0; }
  done
  return 1
}

# pg_make_standby <primary port> <folder> <port> [extra postgres -c options...]
# A streaming-replication standby of the cluster on <primary port>, made afresh with PostgreSQL's own tools:
# pg_basebackup -R copies the cluster and writes primary_conninfo + standby.signal. initdb's defaults already allow it
# (wal_level=replica, max_wal_senders=10, "host replication all 127.0.0.1/32 trust"). Read-only (hot_standby).
pg_make_standby() {
  local primary_port="$1" dir="$2" port="$3"; shift 3
  pg_ensure_installed || return 1
  pg_stop "$dir"; rm -rf "$dir"; mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  [ "$(id -u)" -eq 0 ] && { id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres; chown postgres: "$dir"; chmod 700 "$dir"; }
  echo ">> copying the cluster on port $primary_port into a standby in $dir/data (pg_basebackup -R)" >&2
  pg_as_owner "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir/data" -R -X stream -c fast >"$dir/basebackup.log" 2>&1 \
    || { cat "$dir/basebackup.log" >&2; return 1; }
  pg_start "$dir" "$port" -c hot_standby=on "$@"
}
