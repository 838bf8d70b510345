#!/usr/bin/env bash
# Runs every benchmark; each prints its figure next to a baseline measured in the same run (JSON).
# usage: scripts/bench.sh [BUILD_DIR]   (env: DATA=path to the shared data, default ../shared/data; OUT=dir)
# Results are written to OUT (default BUILD_DIR/bench-results) and summarised on stdout. See docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
BIN="$BUILD/bin"
DATA="${DATA:-../shared/data}"
OUT="${OUT:-$BUILD/bench-results}"
mkdir -p "$OUT"

run() {
  local name="$1"; shift
  echo "== $name: $*" >&2
  "$@" | tee "$OUT/$name.json"
}

if [ -d "$DATA/hdfs-v1-2pct" ]; then
  run parse "$BIN/fedlog-bench-parse" --data "$DATA" --reps 7
else
  echo "== parse: skipped, no data at $DATA (set DATA=...)" >&2
fi
run aggregate "$BIN/fedlog-bench-aggregate" --params 4000000 --updates 8 --reps 7
run round "$BIN/fedlog-bench-round" --sites 8 --rounds 5 --dim 1000 --hidden 500
run model "$BIN/fedlog-bench-model" --steps=50 --meta_iterations=10 --threads=1
echo "results in $OUT" >&2
