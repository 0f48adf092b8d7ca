#!/usr/bin/env bash
# Private RabbitMQ node helpers, sourced by build/test and build/bench (as build/postgres.sh is for PostgreSQL).
# A node lives in one folder: its config, data (mnesia), logs, and a private HOME holding its Erlang cookie. It listens
# on 127.0.0.1 only, on free ports: AMQP, Erlang distribution, and its own epmd, so it never meets a developer's node
# or another test run's. Debian's rabbitmq-server package is installed with apt when missing.

RMQ_BIN=/usr/lib/rabbitmq/bin

rmq_ensure_installed() {
  [ -x "$RMQ_BIN/rabbitmq-server" ] && return 0
  echo ">> RabbitMQ not found: installing the Debian package 'rabbitmq-server' with apt" >&2
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null
  # The package may start its own node (on 5672) where a service manager runs; we do not use it.
  [ -x "$RMQ_BIN/rabbitmq-server" ] || { echo "RabbitMQ installation failed" >&2; return 1; }
}

# The environment every command for the node in <folder> runs with, and nothing else (`env -i`): the node's prelaunch
# sources RABBITMQ_CONF_ENV_FILE and parses the output of `set` (the whole inherited environment), and RabbitMQ 3.10's
# parser fails with function_clause (rabbit_env:skip_sh_function/2) on a value holding shell functions, as build/test's
# EVENTPROFILES_TEST_STANDBY_STOP (`declare -f …`) does: a node started from inside the tests (the outage test's
# restart) never booted. No conf-env file exists either (the path below is never created), so that parse never runs.
rmq_env() {
  local dir="$1"
  echo "HOME=$dir/home PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 RABBITMQ_NODENAME=$(cat "$dir/nodename") RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
RABBITMQ_NODE_PORT=$(cat "$dir/amqp_port") RABBITMQ_DIST_PORT=$(cat "$dir/dist_port") ERL_EPMD_PORT=$(cat "$dir/epmd_port") ERL_EPMD_ADDRESS=127.0.0.1 \
RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf \
RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins RABBITMQ_PID_FILE=$dir/rabbit.pid RABBITMQ_CONF_ENV_FILE=$dir/no-rabbitmq-env.conf \
RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config"
}

# rmq_start <folder> <amqp port> <dist port> <epmd port>: starts the node in the background (rmq_wait waits for it).
rmq_start() {
  local dir="$1" amqp="$2" dist="$3" epmd="$4"
  rmq_ensure_installed || return 1
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  dir="$(cd "$dir" && pwd)"
  # The same name on a restart: the node's data (durable queues) is kept under it.
  [ -f "$dir/nodename" ] || echo "rabbit-test-$$-$amqp@localhost" > "$dir/nodename"
  echo "$amqp" > "$dir/amqp_port"; echo "$dist" > "$dir/dist_port"; echo "$epmd" > "$dir/epmd_port"
  [ -f "$dir/home/.erlang.cookie" ] || { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/home/.erlang.cookie"; chmod 400 "$dir/home/.erlang.cookie"; }
  # The AMQP listener comes from RABBITMQ_NODE_IP_ADDRESS/RABBITMQ_NODE_PORT (a second one here would clash on restart).
  printf '%s\n' "loopback_users.guest = true" "log.console = false" \
    "log.file.level = warning" "disk_free_limit.absolute = 50MB" > "$dir/rabbitmq.conf"
  echo "[]." > "$dir/enabled_plugins"
  rm -f "$dir/rabbitmq-env.conf" # written by earlier versions of this script; see rmq_env
  # Erlang distribution on loopback only.
  echo "[{kernel, [{inet_dist_use_interface, {127,0,0,1}}]}]." > "$dir/advanced.config"
  # Detached from the caller's output: a test that starts the node reads that output to its end.
  (cd "$dir" && exec env -i $(rmq_env "$dir") "$RMQ_BIN/rabbitmq-server") >"$dir/server.out" 2>&1 </dev/null &
  echo ">> RabbitMQ node starting on 127.0.0.1:$amqp (data: $dir)" >&2
}

# rmq_wait <folder> [seconds]: waits until the node accepts AMQP connections.
rmq_wait() {
  local dir="$1" limit="${2:-90}" i
  for ((i = 0; i < limit * 2; i++)); do
    if env -i $(rmq_env "$dir") "$RMQ_BIN/rabbitmqctl" -q await_startup --timeout 1 >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "RabbitMQ did not start; last lines of its output:" >&2
  tail -n 20 "$dir/server.out" >&2
  return 1
}

rmq_stop() {
  local dir="$1"
  [ -f "$dir/nodename" ] || return 0
  env -i $(rmq_env "$dir") "$RMQ_BIN/rabbitmqctl" -q shutdown >/dev/null 2>&1 || true
  # A node that did not answer the shutdown (still booting, or busy) is stopped by its pid, so no test run leaves one behind.
  local pid; pid="$(cat "$dir/rabbit.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # The node's own epmd (started for it on its private port) goes too.
  epmd -port "$(cat "$dir/epmd_port")" -kill >/dev/null 2>&1 || true
}

rmq_uri() { echo "amqp://guest:guest@127.0.0.1:$1/"; }

# Run as a script, the tests stop and start the node (broker down, then up): build/rabbitmq.sh stop|start <folder>
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    stop) rmq_stop "$2" ;;
    start)
      # The same folder, name, ports and cookie: the node comes back with its data (durable queues and their messages).
      rmq_start "$2" "$(cat "$2/amqp_port")" "$(cat "$2/dist_port")" "$(cat "$2/epmd_port")" && rmq_wait "$2" 90 ;;
    *) echo "usage: $0 stop|start <folder>" >&2; exit 2 ;;
  esac
fi
