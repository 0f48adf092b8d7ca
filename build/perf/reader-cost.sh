#!/usr/bin/env bash
# build/perf/reader-cost.sh — allocations and CPU per /v2/events batch of the request side (body check, BatchReader,
# validation) in-process, for one or more Host builds:
#
#   build/perf/reader-cost.sh [bin folder ...]      (default: src/Host/bin/Release/net10.0; build it first)
#   e.g. build/perf/reader-cost.sh .data/main-host src/Host/bin/Release/net10.0
#
# Allocations are exact (per thread), so they compare builds on a busy box; the CPU column moves with the load.
# ITERATIONS (20000) batches per measure. ERRORS=<file of bodies, one a line> prints the errors each gets instead. The harness (build/perf/reader-cost) is built against each folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ $# -ge 1 ] || set -- "$ROOT/src/Host/bin/Release/net10.0"
for dir in "$@"; do
  dir="$(cd "$dir" && pwd)"; out="$(mktemp -d)"
  cp -r "$dir/." "$out/"
  dotnet build "$ROOT/build/perf/reader-cost/ReaderCost.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly -p:HostDir="$dir" \
    -o "$out" -p:BaseIntermediateOutputPath="$out/obj/" >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
  echo "== $dir"
  if [ -n "${ERRORS:-}" ]; then ( cd "$out" && dotnet ReaderCost.dll errors "$ERRORS" ); else ( cd "$out" && dotnet ReaderCost.dll "${ITERATIONS:-20000}" ); fi
  rm -rf "$out"
done
