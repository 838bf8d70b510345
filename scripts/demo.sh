#!/usr/bin/env bash
# fedlog demo: a development PKI, one aggregator and three site daemons as separate processes on loopback with
# mTLS, a 5-round federated run with its per-round table, then detection results per site (the promoted
# federated model against a local-only model on the site's labeled lines), then a clean stop of every process.
# usage: scripts/demo.sh [BUILD_DIR]
#   env: DATA (shared data dir, default ../shared/data), ROUNDS (default 5), DEMO_DIR (default BUILD_DIR/demo),
#        FEDLOG_DEMO_PORT (default: a free port)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
BIN="$BUILD/bin"
DEMO="${DEMO_DIR:-$BUILD/demo}"
DATA="${DATA:-../shared/data}"
ROUNDS="${ROUNDS:-5}"
# Sources whose labels hold both classes and that `fedlog synth` can also generate, so the demo runs without the
# shared data too.
SITES=(site-apache site-linux site-zookeeper)
SOURCES=(Apache Linux Zookeeper)

for b in fedlog-server fedlog-client fedlog; do
  [ -x "$BIN/$b" ] || { echo "demo: $BIN/$b is missing; run 'make build' first" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="${FEDLOG_DEMO_PORT:-$(free_port)}"

rm -rf "$DEMO"
mkdir -p "$DEMO/logs" "$DEMO/config" "$DEMO/input"
certs/make-dev-pki.sh "$DEMO/pki" "${SITES[@]}" >/dev/null

# Each site reads its own log source: a loghub sample when the shared data is present, else synthetic lines.
# labels_file gives the matching labels (seed-labeled loghub CSV, or the synthetic sidecar).
source_file() {
  local src="$1" out="$DEMO/input/$1.log"
  if [ -f "$DATA/loghub-2k/$src/${src}_2k.log" ]; then
    echo "$DATA/loghub-2k/$src/${src}_2k.log"
  elif "$BIN/fedlog" synth --format "$src" --lines 3000 --seed 7 --out "$out" >/dev/null 2>&1; then
    echo "$out"
  else
    echo "demo: no data for $src: put the shared data at $DATA or set DATA=..." >&2
    return 1
  fi
}
labels_file() {
  local src="$1" log="$2"
  if [ -f "$DATA/seed-labeled-2k/${src}_2k_labeled.csv" ] && [[ "$log" == "$DATA"* || "$log" == "$(realpath "$DATA")"* ]]; then
    echo "$DATA/seed-labeled-2k/${src}_2k_labeled.csv"
  else
    echo "$log.labels.csv"
  fi
}

cat > "$DEMO/config/aggregator.yaml" <<YAML
listen_address: 127.0.0.1:$PORT
data_dir: ../aggregator
tls: {ca_cert: ../pki/ca.crt, cert: ../pki/aggregator.crt, key: ../pki/aggregator.key}
heartbeat_interval_ms: 1000
site_timeout_ms: 10000
model: {input_dim: 134, hidden: [64, 16], init_seed: 42}
YAML

for i in "${!SITES[@]}"; do
  site="${SITES[$i]}"; src="${SOURCES[$i]}"
  path="$(realpath "$(source_file "$src")")"
  cat > "$DEMO/config/$site.yaml" <<YAML
aggregator_address: localhost:$PORT
data_dir: ../sites/$site
tls: {ca_cert: ../pki/ca.crt, cert: ../pki/$site.crt, key: ../pki/$site.key}
device: auto
threads: 1
sources:
  - {name: $src, path: $path}
YAML
done

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

echo "== aggregator on 127.0.0.1:$PORT (logs: $DEMO/logs)"
"$BIN/fedlog-server" --config "$DEMO/config/aggregator.yaml" >"$DEMO/logs/aggregator.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for site in "${SITES[@]}"; do
  "$BIN/fedlog-client" --config "$DEMO/config/$site.yaml" >"$DEMO/logs/$site.log" 2>&1 &
  PIDS+=("$!")
done

export FEDLOG_SERVER="localhost:$PORT" FEDLOG_PKI="$DEMO/pki"
echo "== waiting for ${#SITES[@]} sites"
for _ in $(seq 1 60); do
  online=$("$BIN/fedlog" sites 2>/dev/null | awk 'NR>1 && $2=="yes"' | wc -l || true)
  [ "$online" -ge "${#SITES[@]}" ] && break
  sleep 0.5
done
"$BIN/fedlog" sites

echo "== federated run: $ROUNDS rounds, all ${#SITES[@]} sites"
"$BIN/fedlog" run start --rounds "$ROUNDS" --min-sites "${#SITES[@]}" --deadline-s 60 --epochs 2 \
  --update-dtype float16 --zstd --watch
echo "== model versions"
"$BIN/fedlog" models

echo "== detection: promoted federated model vs a local-only model (same initial weights, $((ROUNDS * 2)) epochs),"
echo "   threshold by max F1 on a seeded half of each site's labeled lines, metrics on the other half"
for site in "${SITES[@]}"; do
  for _ in $(seq 1 60); do [ -f "$DEMO/sites/$site/promoted_model.manifest" ] && break; sleep 0.5; done
done
printf '%-14s %-22s %6s %9s %7s %7s %6s %6s %6s %7s\n' site model lines anomalies auroc pr_auc prec recall f1 alerts
for i in "${!SITES[@]}"; do
  site="${SITES[$i]}"; src="${SOURCES[$i]}"
  log="$(grep -o 'path: .*}' "$DEMO/config/$site.yaml" | sed 's/path: //; s/}$//')"
  "$BIN/fedlog" score --site "$site" --model "$DEMO/sites/$site/promoted_model.bundle" \
    --manifest "$DEMO/sites/$site/promoted_model.manifest" --log "$log" --format "$src" --labels "$(labels_file "$src" "$log")" \
    --local-epochs $((ROUNDS * 2))
done

echo "== stopping"
status=0
for pid in "${PIDS[@]:1}" "$SERVER_PID"; do
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait "$pid"; then echo "demo: process $pid exited with an error" >&2; status=1; fi
done
PIDS=()
[ "$status" -eq 0 ] && echo "== demo finished: every process stopped cleanly"
exit "$status"
