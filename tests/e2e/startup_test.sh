#!/usr/bin/env bash
# Issue 15, items 1 and 2: start-up failures of the daemons exit non-zero with one message, never a crash, and
# an address is never shared. fedlog-server with a wrong tls.ca_cert, tls.cert or tls.key path exits 1 naming
# the file (it used to segfault: exit 139); a second fedlog-server on a used address, a listen_address without a
# port or with one above 65535, and a second site daemon on a used detect.metrics_listen all fail at start.
set -uo pipefail
SRC="$1"; BUILD="$2"; NAME=startup
source "$SRC/tests/e2e/lib.sh"

bash "$SRC/certs/make-dev-pki.sh" "$DIR/pki" site-1 >/dev/null || fail "pki"
PORT=$(free_port)

# 1. Each wrong TLS path: exit 1, one line on stderr naming the file.
for key in ca_cert cert key; do
  agg_yaml "$DIR/agg-$key.yaml" "$PORT"
  sed -i "s|\\b$key: $DIR/pki/[a-z.]*|$key: $DIR/pki/missing-$key.pem|" "$DIR/agg-$key.yaml"
  grep -q "missing-$key.pem" "$DIR/agg-$key.yaml" || fail "test setup: $key not replaced"
  "$BIN/fedlog-server" --config "$DIR/agg-$key.yaml" >"$DIR/logs/tls-$key.log" 2>&1
  rc=$?
  [ "$rc" -eq 1 ] || fail "wrong tls.$key: exit $rc, want 1 (139 = the old segfault)"
  grep -q "missing-$key.pem" "$DIR/logs/tls-$key.log" || fail "wrong tls.$key: the message does not name the file"
  [ "$(grep -c . "$DIR/logs/tls-$key.log")" -le 2 ] || fail "wrong tls.$key: more than one message"
  echo "wrong tls.$key: exit 1: $(tail -1 "$DIR/logs/tls-$key.log")"
done

# 2a. A listen_address with a bad port or none is refused (gRPC would pick a random port, or 443).
for addr in "127.0.0.1:99999" "127.0.0.1"; do
  agg_yaml "$DIR/agg-bad.yaml" "$PORT"
  sed -i "s|^listen_address: .*|listen_address: $addr|" "$DIR/agg-bad.yaml"
  "$BIN/fedlog-server" --config "$DIR/agg-bad.yaml" >"$DIR/logs/bad-addr.log" 2>&1
  rc=$?
  [ "$rc" -eq 1 ] || fail "listen_address $addr: exit $rc, want 1"
  grep -Eq "port '99999'|has no port" "$DIR/logs/bad-addr.log" || fail "listen_address $addr: unclear message"
done
"$BIN/fedlog" sites --server localhost --pki "$DIR/pki" >"$DIR/logs/cli-noport.log" 2>&1
[ $? -eq 2 ] && grep -q "has no port" "$DIR/logs/cli-noport.log" || fail "fedlog --server without a port is not refused"

# 2b. A second aggregator on a used address fails at start; the first keeps serving.
agg_yaml "$DIR/agg.yaml" "$PORT"
start_bg aggregator "$BIN/fedlog-server" --config "$DIR/agg.yaml"
FIRST=$LAST_PID
wait_log "$DIR/logs/aggregator.log" "aggregator listening" || fail "first aggregator did not start"
agg_yaml "$DIR/agg2.yaml" "$PORT"
sed -i "s|data_dir: $DIR/agg|data_dir: $DIR/agg2|" "$DIR/agg2.yaml"
timeout 20 "$BIN/fedlog-server" --config "$DIR/agg2.yaml" >"$DIR/logs/second.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "second aggregator on 127.0.0.1:$PORT: exit $rc, want 1 (it must not share the port)"
grep -q "address already in use" "$DIR/logs/second.log" || fail "second aggregator: no 'address already in use'"
kill -0 "$FIRST" 2>/dev/null || fail "the first aggregator died"
echo "second aggregator: $(tail -1 "$DIR/logs/second.log")"

# 2c. A second site daemon on a used detect.metrics_listen fails at start; the first keeps serving /metrics.
MPORT=$(free_port)
for s in a b; do
  cat > "$DIR/detect-$s.yaml" <<YAML
data_dir: $DIR/detect-$s
sources: [{name: HDFS, path: $DIR/site-1.log}]
detect:
  sources: [{name: HDFS, paths: ["$DIR/site-1.log"]}]
  metrics_listen: 127.0.0.1:$MPORT
YAML
done
"$BIN/fedlog" synth --format HDFS --lines 50 --seed 3 --out "$DIR/site-1.log" >/dev/null 2>&1 || fail "synth"
start_bg detect-a "$BIN/fedlog-client" --config "$DIR/detect-a.yaml" --detect-only
DETECT_A=$LAST_PID
wait_log "$DIR/logs/detect-a.log" "/metrics and /healthz on port" || fail "first detector did not start"
timeout 20 "$BIN/fedlog-client" --config "$DIR/detect-b.yaml" --detect-only >"$DIR/logs/detect-b.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "second daemon on metrics 127.0.0.1:$MPORT: exit $rc, want 1 (it must not share the port)"
grep -q "address already in use" "$DIR/logs/detect-b.log" || fail "second daemon: no 'address already in use'"
kill -0 "$DETECT_A" 2>/dev/null || fail "the first site daemon died"
curl -sf "http://127.0.0.1:$MPORT/metrics" >/dev/null 2>&1 || python3 -c "import urllib.request;urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics')" ||
  fail "the first daemon's /metrics does not answer"
echo "e2e-$NAME passed"
