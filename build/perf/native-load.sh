#!/usr/bin/env bash
# native-load.sh [-d 20s] [-c 16] [-t 1] [-T 10s] [-w 0] BASE_URL
# POSTs native SDK uploads (Android, gzip, signed; written beforehand by native-batches.js) to BASE_URL/v2/{KEY}/events
# (wrk + native.lua) and reports requests/s, events/s (messages), latency p50/p90/p99 and the count of non-2xx responses.
# Env: NATIVE_FILE (from native-batches.js), NATIVE_DATE (the Date it signed), KEY (demo-android-key), MSGS (20),
#      OUT_JSON (write the result as JSON there). The warm-up (-w) uses the same file: give it a file of its own.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/wrk-common.sh"
split_url "${1%/}"
export REQ_PATH="$URL_PATH/v2/${KEY:-demo-android-key}/events" MSGS=${MSGS:-20} THREADS
export NATIVE_FILE NATIVE_DATE
echo "native uploads of $MSGS messages from $NATIVE_FILE" >&2
run_wrk native.lua
