#!/usr/bin/env bash
# Issue 15, item 7: TLS trust failures are said clearly. A site whose certificate comes from another CA logs an
# error naming the CA it trusts; the aggregator logs the refused handshake (rate-limited); the CLI turns a
# certificate/key mismatch and a wrong CA into one sentence.
set -uo pipefail
SRC="$1"; BUILD="$2"; NAME=tls
source "$SRC/tests/e2e/lib.sh"

bash "$SRC/certs/make-dev-pki.sh" "$DIR/pki" site-1 >/dev/null || fail "pki"
bash "$SRC/certs/make-dev-pki.sh" "$DIR/other" site-x >/dev/null || fail "other pki"
PORT=$(free_port)
agg_yaml "$DIR/agg.yaml" "$PORT"
site_yaml "$DIR/site-x.yaml" "$PORT" site-x
# site-x trusts the federation's CA but its certificate is signed by another one.
sed -i "s|cert: $DIR/pki/site-x.crt, key: $DIR/pki/site-x.key|cert: $DIR/other/site-x.crt, key: $DIR/other/site-x.key|" \
  "$DIR/site-x.yaml"
grep -q "$DIR/other/site-x.crt" "$DIR/site-x.yaml" || fail "setup"
start_bg aggregator "$BIN/fedlog-server" --config "$DIR/agg.yaml"
wait_log "$DIR/logs/aggregator.log" "aggregator listening" || fail "aggregator did not start"
start_bg site-x "$BIN/fedlog-client" --config "$DIR/site-x.yaml"
wait_log "$DIR/logs/site-x.log" " E .*TLS handshake with the aggregator .* failed; this site trusts only the CA .*fedlog dev CA" 20 ||
  fail "site-x does not log an error naming the CA it trusts"
wait_log "$DIR/logs/aggregator.log" "refused a TLS handshake" 20 || fail "the aggregator does not log the refused handshake"
sleep 3
n=$(grep -c "refused a TLS handshake" "$DIR/logs/aggregator.log")
[ "$n" -le 2 ] || fail "the aggregator logged $n refused handshakes in a few seconds (not rate-limited)"
echo "aggregator: $(grep -m1 "refused a TLS handshake" "$DIR/logs/aggregator.log")"
echo "site-x:     $(grep -m1 "TLS handshake with the aggregator" "$DIR/logs/site-x.log" | cut -c1-200)"

# CLI: a key that does not belong to the certificate, and a CA that did not sign the aggregator's certificate.
"$BIN/fedlog" sites --server "localhost:$PORT" --ca "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" \
  --key "$DIR/pki/site-1.key" >"$DIR/logs/cli-mismatch.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "CLI with a mismatched key succeeded"
[ "$(grep -c . "$DIR/logs/cli-mismatch.log")" -eq 1 ] || fail "CLI mismatch: not one sentence"
grep -q "does not belong to the certificate" "$DIR/logs/cli-mismatch.log" || fail "CLI mismatch: unclear"
"$BIN/fedlog" sites --server "localhost:$PORT" --ca "$DIR/other/ca.crt" --cert "$DIR/other/admin.crt" \
  --key "$DIR/other/admin.key" >"$DIR/logs/cli-ca.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "CLI with another CA: exit $rc"
[ "$(grep -c . "$DIR/logs/cli-ca.log")" -eq 1 ] || fail "CLI with another CA: not one sentence: $(cat "$DIR/logs/cli-ca.log")"
grep -q "TLS handshake with the aggregator failed" "$DIR/logs/cli-ca.log" || fail "CLI with another CA: unclear"
echo "e2e-$NAME passed"
