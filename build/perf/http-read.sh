#!/usr/bin/env bash
# http-read.sh [-d 20s] [-c 16] [-t 1] [-T 10s] [-w 0] URL_TEMPLATE
# GETs URL_TEMPLATE with "{id}" replaced by a random id (wrk + read.lua), e.g.
#   http-read.sh 'http://127.0.0.1:5000/v1/profiles/{id}'
# and reports requests/s, latency p50/p90/p99 and the count of non-2xx responses.
# Env: ID_MIN/ID_MAX (1..100000) or ID_FILE (one id per line), KEY/SECRET or AUTH as in http-load.sh,
#      OUT_JSON (write the result as JSON there), BODY (POST this JSON, "{id}" replaced; build/bench's copy only).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/wrk-common.sh"
[[ $1 == *"{id}"* || ${BODY:-} == *"{id}"* ]] || { echo "URL_TEMPLATE (or BODY) needs an {id} placeholder" >&2; exit 2; }
split_url "$1"
export REQ_PATH=$URL_PATH
[ -n "${ID_FILE:-}" ] && export ID_FILE=$(cd "$(dirname "$ID_FILE")" && pwd)/$(basename "$ID_FILE")
run_wrk read.lua
