#!/usr/bin/env bash
# Issue 15, item 6: runs that cannot succeed are refused or bounded. --min-sites above the registered sites is
# refused; above the online ones it warns, and the wait is bounded by --site-wait-s (the run fails); without
# --min-sites the CLI uses the sites online now and says so; promoting an untrained model needs --force.
set -uo pipefail
SRC="$1"; BUILD="$2"; NAME=runs
source "$SRC/tests/e2e/lib.sh"

bash "$SRC/certs/make-dev-pki.sh" "$DIR/pki" site-1 site-2 >/dev/null || fail "pki"
PORT=$(free_port)
agg_yaml "$DIR/agg.yaml" "$PORT"
site_yaml "$DIR/site-1.yaml" "$PORT" site-1
site_yaml "$DIR/site-2.yaml" "$PORT" site-2
export FEDLOG_SERVER="localhost:$PORT" FEDLOG_PKI="$DIR/pki"
start_bg aggregator "$BIN/fedlog-server" --config "$DIR/agg.yaml"
start_bg site-1 "$BIN/fedlog-client" --config "$DIR/site-1.yaml"
start_bg site-2 "$BIN/fedlog-client" --config "$DIR/site-2.yaml"; SITE2=$LAST_PID
wait_online 2 || fail "sites did not come online"
kill -9 "$SITE2"; wait "$SITE2" 2>/dev/null
for _ in $(seq 1 50); do
  [ "$("$BIN/fedlog" sites | awk 'NR>1 && $2=="yes"' | wc -l)" -eq 1 ] && break; sleep 0.2
done

# K above the registered sites: refused, no run created.
"$BIN/fedlog" run start --rounds 1 --min-sites 3 >"$DIR/logs/k3.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "--min-sites 3 with 2 registered sites: exit $rc, want 1"
grep -q "exceeds the 2 site" "$DIR/logs/k3.log" || fail "--min-sites 3: unclear refusal"

# K above the online sites: a warning, then the run fails after --site-wait-s instead of waiting for ever.
start=$(date +%s)
"$BIN/fedlog" run start --rounds 1 --min-sites 2 --site-wait-s 2 --watch >"$DIR/logs/k2.log" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" -eq 1 ] || fail "--min-sites 2 with one site online: exit $rc, want 1 (a failed run)"
grep -q "only 1 of the 2 site(s) needed are online" "$DIR/logs/k2.log" || fail "no warning about the online sites"
grep -q "run [0-9]* failed: only 1 of the 2 site(s)" "$DIR/logs/k2.log" || fail "the run did not fail for want of sites"
[ "$took" -le 15 ] || fail "the bounded wait took $took s"

# No --min-sites: the sites online now, said.
"$BIN/fedlog" run start --rounds 1 --deadline-s 30 --watch >"$DIR/logs/default.log" 2>&1 || fail "default run failed"
grep -q -- "--min-sites not given: using 1" "$DIR/logs/default.log" || fail "the default K was not printed"
grep -q "run [0-9]* done" "$DIR/logs/default.log" || fail "the one-site run did not finish"

# Promote: the untrained initial version needs --force; a trained one does not.
init=$("$BIN/fedlog" models | awk 'NR>1 && $5=="init" {print $1; exit}')
trained=$("$BIN/fedlog" models | awk 'NR>1 && $5!="init" {print $1; exit}')
[ -n "$init" ] && [ -n "$trained" ] || fail "models listing lacks an init or a trained version"
"$BIN/fedlog" models promote "$init" >"$DIR/logs/promote.log" 2>&1 && fail "promoting the untrained $init succeeded"
grep -q -- "--force" "$DIR/logs/promote.log" || fail "the refusal does not mention --force"
"$BIN/fedlog" models promote "$init" --force >/dev/null || fail "promote --force failed"
"$BIN/fedlog" models promote "$trained" >/dev/null || fail "promoting trained $trained failed"
echo "e2e-$NAME passed"
