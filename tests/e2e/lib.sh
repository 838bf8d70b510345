# Helpers for the operator ("day one") e2e tests: real fedlog-server / fedlog-client / fedlog processes on
# loopback, a PKI made at test time. Source it after setting SRC, BUILD and NAME; every process started with
# start_bg is killed on exit.
BIN="$BUILD/bin"
DIR="$BUILD/e2e-$NAME"
rm -rf "$DIR"; mkdir -p "$DIR/logs"
PIDS=()
fail() {
  echo "e2e-$NAME FAILED: $*"
  for f in "$DIR"/logs/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -25 "$f"; }; done
  exit 1
}
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# agg_yaml FILE PORT [EXTRA_YAML]: a small, fast aggregator (mlp model, short timeouts).
agg_yaml() {
  cat > "$1" <<YAML
listen_address: 127.0.0.1:$2
data_dir: $DIR/agg
tls: {ca_cert: $DIR/pki/ca.crt, cert: $DIR/pki/aggregator.crt, key: $DIR/pki/aggregator.key}
heartbeat_interval_ms: 300
site_timeout_ms: 1500
max_poll_wait_ms: 1000
model: {arch: mlp_autoencoder, input_dim: 38, hidden: [16, 4]}
${3:-}
YAML
}

# site_yaml FILE PORT SITE [EXTRA_YAML]: a site of one synthetic HDFS source (made once per site).
site_yaml() {
  [ -f "$DIR/$3.log" ] || "$BIN/fedlog" synth --format HDFS --lines 800 --seed 7 --out "$DIR/$3.log" >/dev/null 2>&1 ||
    fail "synth"
  cat > "$1" <<YAML
aggregator_address: localhost:$2
data_dir: $DIR/$3
tls: {ca_cert: $DIR/pki/ca.crt, cert: $DIR/pki/$3.crt, key: $DIR/pki/$3.key}
device: cpu
backoff_initial_ms: 100
sources: [{name: HDFS, path: $DIR/$3.log}]
${4:-}
YAML
}

# start_bg LOGNAME CMD...: runs CMD in the background with stdout+stderr in logs/LOGNAME.log; sets LAST_PID.
start_bg() {
  local name="$1"; shift
  "$@" >>"$DIR/logs/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# wait_online N [SECONDS]: until `fedlog sites` lists N online sites (default 15 s); returns 1 on timeout.
wait_online() {
  local deadline=$(( $(date +%s) + ${2:-15} ))
  while [ "$(date +%s)" -le "$deadline" ]; do
    [ "$("$BIN/fedlog" sites 2>/dev/null | awk 'NR>1 && $2=="yes"' | wc -l)" -ge "$1" ] && return 0
    sleep 0.2
  done
  return 1
}

# wait_log FILE PATTERN [SECONDS]: until FILE has a line matching PATTERN (grep -E); returns 1 on timeout.
wait_log() {
  local deadline=$(( $(date +%s) + ${3:-15} ))
  while [ "$(date +%s)" -le "$deadline" ]; do
    grep -Eq "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}
