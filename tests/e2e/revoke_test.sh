#!/usr/bin/env bash
# Issue 15, item 4: revoking a site stops its federation, not its local detection; a revoked daemon without
# detection exits with code 3 (the unit's RestartPreventExitStatus); `fedlog sites unrevoke` lets it back in.
set -uo pipefail
SRC="$1"; BUILD="$2"; NAME=revoke
source "$SRC/tests/e2e/lib.sh"

bash "$SRC/certs/make-dev-pki.sh" "$DIR/pki" site-d site-f >/dev/null || fail "pki"
PORT=$(free_port); MPORT=$(free_port)
agg_yaml "$DIR/agg.yaml" "$PORT"
site_yaml "$DIR/site-f.yaml" "$PORT" site-f
site_yaml "$DIR/site-d.yaml" "$PORT" site-d "detect:
  sources: [{name: HDFS, paths: [\"$DIR/site-d.log\"]}]
  metrics_listen: 127.0.0.1:$MPORT"
grep -q "^[ ]*metrics_listen: 127.0.0.1:$MPORT" "$DIR/site-d.yaml" || fail "setup"
export FEDLOG_SERVER="localhost:$PORT" FEDLOG_PKI="$DIR/pki"
start_bg aggregator "$BIN/fedlog-server" --config "$DIR/agg.yaml"
start_bg site-d "$BIN/fedlog-client" --config "$DIR/site-d.yaml"; SITE_D=$LAST_PID
start_bg site-f "$BIN/fedlog-client" --config "$DIR/site-f.yaml"; SITE_F=$LAST_PID
wait_online 2 || fail "sites did not come online"

"$BIN/fedlog" sites revoke site-f >/dev/null || fail "revoke site-f"
"$BIN/fedlog" sites revoke site-d >/dev/null || fail "revoke site-d"
# The federation-only daemon exits 3 within a few seconds...
for _ in $(seq 1 50); do kill -0 "$SITE_F" 2>/dev/null || break; sleep 0.2; done
kill -0 "$SITE_F" 2>/dev/null && fail "revoked site-f still runs"
wait "$SITE_F"; rc=$?
[ "$rc" -eq 3 ] || fail "revoked site-f exited $rc, want 3"
grep -q "unrevoke" "$DIR/logs/site-f.log" || fail "site-f's last words do not say how to undo the revocation"
# ...while the detecting one keeps detecting and says it is revoked (log and /healthz).
wait_log "$DIR/logs/site-d.log" "federation stopped: .*revoked.*live detection continues" ||
  fail "site-d does not say that it is revoked and keeps detecting"
sleep 1
kill -0 "$SITE_D" 2>/dev/null || fail "revocation stopped site-d's detection"
health=$(python3 -c "
import urllib.request, urllib.error
try: print(urllib.request.urlopen('http://127.0.0.1:$MPORT/healthz').read().decode())
except urllib.error.HTTPError as e: print(e.read().decode())")
echo "site-d /healthz: $health"
echo "$health" | grep -q "revoked" || fail "site-d's /healthz does not say it is revoked"

# Unrevoke: a restarted daemon is let back in.
"$BIN/fedlog" sites unrevoke site-f || fail "unrevoke site-f"
"$BIN/fedlog" sites | awk '$1=="site-f" && $3=="no"' | grep -q site-f || fail "site-f still listed as revoked"
start_bg site-f2 "$BIN/fedlog-client" --config "$DIR/site-f.yaml"
wait_log "$DIR/logs/site-f2.log" "connected as 'site-f'" || fail "unrevoked site-f cannot connect"
"$BIN/fedlog" sites unrevoke no-such-site >/dev/null 2>&1 && fail "unrevoke of an unknown site succeeded"
echo "e2e-$NAME passed"
