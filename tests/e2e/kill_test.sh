#!/usr/bin/env bash
# e2e fault test with real processes: the aggregator is killed with SIGKILL mid-run and restarted, and one site
# is killed for good. The run must still finish every round exactly once, from SQLite, with the sites left.
set -uo pipefail
SRC="$1"; BUILD="$2"
BIN="$BUILD/bin"
DIR="$BUILD/e2e-kill"
rm -rf "$DIR"; mkdir -p "$DIR/logs"
fail() { echo "e2e-kill FAILED: $*"; for f in "$DIR"/logs/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

bash "$SRC/certs/make-dev-pki.sh" "$DIR/pki" site-1 site-2 site-3 >/dev/null || fail "pki"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$DIR/aggregator.yaml" <<YAML
listen_address: 127.0.0.1:$PORT
data_dir: $DIR/agg
tls: {ca_cert: $DIR/pki/ca.crt, cert: $DIR/pki/aggregator.crt, key: $DIR/pki/aggregator.key}
heartbeat_interval_ms: 300
site_timeout_ms: 3000
max_poll_wait_ms: 1000
model: {arch: mlp_autoencoder, input_dim: 38, hidden: [16, 4]}
YAML
for i in 1 2 3; do
  "$BIN/fedlog" synth --format HDFS --lines 1500 --seed "$i" --out "$DIR/site-$i.log" >/dev/null 2>&1 ||
    fail "synth"
  cat > "$DIR/site-$i.yaml" <<YAML
aggregator_address: localhost:$PORT
data_dir: $DIR/site-$i
tls: {ca_cert: $DIR/pki/ca.crt, cert: $DIR/pki/site-$i.crt, key: $DIR/pki/site-$i.key}
device: cpu
backoff_initial_ms: 100
backoff_max_ms: 500
sources: [{name: HDFS, path: $DIR/site-$i.log}]
YAML
done

start_server() { "$BIN/fedlog-server" --config "$DIR/aggregator.yaml" >>"$DIR/logs/aggregator.log" 2>&1 & SERVER=$!; PIDS+=("$SERVER"); }
start_server
for i in 1 2 3; do
  "$BIN/fedlog-client" --config "$DIR/site-$i.yaml" >"$DIR/logs/site-$i.log" 2>&1 &
  eval "SITE$i=$!"; PIDS+=("$!")
done
export FEDLOG_SERVER="localhost:$PORT" FEDLOG_PKI="$DIR/pki"
for _ in $(seq 1 60); do
  [ "$("$BIN/fedlog" sites 2>/dev/null | awk 'NR>1 && $2=="yes"' | wc -l)" -ge 3 ] && break; sleep 0.5
done
"$BIN/fedlog" run start --rounds 30 --min-sites 2 --deadline-s 20 --epochs 3 >/dev/null || fail "run start"

round() { "$BIN/fedlog" run status 2>/dev/null | sed -n 's/.*(round \([0-9]*\)\/.*/\1/p'; }
for _ in $(seq 1 100); do r=$(round); [ "${r:-0}" -ge 2 ] && break; sleep 0.2; done
[ "${r:-0}" -ge 2 ] || fail "run did not reach round 2"
[ "${r:-0}" -lt 30 ] || fail "run finished before the kill; the test needs more rounds"
kill -9 "$SERVER"; wait "$SERVER" 2>/dev/null
kill -9 "$SITE3"; wait "$SITE3" 2>/dev/null
echo "killed aggregator (SIGKILL) after round $r and site-3 for good; restarting the aggregator"
sleep 0.5
start_server

state=""
for _ in $(seq 1 600); do
  state=$("$BIN/fedlog" run status 2>/dev/null | head -1 | awk '{print $3}')
  [ "$state" = "done" ] && break; sleep 0.2
done
"$BIN/fedlog" run status
[ "$state" = "done" ] || fail "run did not finish after the restart (state '$state')"
rows=$("$BIN/fedlog" run status | awk 'NR>2 {print $1}' | sort -n | uniq -c)
[ "$(echo "$rows" | wc -l)" -eq 30 ] || fail "expected rounds 1..30, got: $rows"
echo "$rows" | awk '$1 != 1 {exit 1}' || fail "a round completed twice: $rows"
grep -q "recovered run" "$DIR/logs/aggregator.log" || fail "aggregator did not recover the run"
for p in "$SERVER" "$SITE1" "$SITE2"; do kill -TERM "$p"; wait "$p" || fail "process $p did not stop cleanly"; done
PIDS=()
echo "e2e-kill passed"
