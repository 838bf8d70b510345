#!/usr/bin/env bash
# Runs docs/OPERATIONS.md "Your first federation" as written: the ```sh blocks of that section, in order, from a
# directory laid out like a checkout after the build (certs/ and build/bin/ of this tree). Only the ports differ:
# 7443, 9464 and 9465 become free ones, so the test does not collide with anything on the machine. Then it checks
# what the walkthrough promises: both sites online, a run that completed three rounds, a promoted model that
# reached both sites, a detector that answers /healthz, an alert on the lines appended after the model, and
# daemons that stopped cleanly.
set -uo pipefail
SRC="$1"; BUILD="$2"; NAME=walkthrough
source "$SRC/tests/e2e/lib.sh"

WORK="$DIR/checkout"
mkdir -p "$WORK/build"
ln -s "$SRC/certs" "$WORK/certs"
ln -s "$BIN" "$WORK/build/bin"
P1=$(free_port); P2=$(free_port); P3=$(free_port)
awk '/^## Your first federation/ {on = 1; next} /^## / {on = 0} on' "$SRC/docs/OPERATIONS.md" |
  awk '/^```sh$/ {inblock = 1; next} /^```$/ {inblock = 0; next} inblock' |
  sed -e "s/7443/$P1/g" -e "s/9464/$P2/g" -e "s/9465/$P3/g" >"$DIR/walkthrough.sh"
[ "$(grep -c . "$DIR/walkthrough.sh")" -ge 20 ] || fail "the walkthrough's blocks were not found in docs/OPERATIONS.md"
grep -q "fedlog run start" "$DIR/walkthrough.sh" || fail "the walkthrough starts no run"

# The daemons are the script's background jobs; it stops them itself (kill $(jobs -p) && wait).
(cd "$WORK" && timeout 400 bash -e "$DIR/walkthrough.sh") >"$DIR/logs/walkthrough.log" 2>&1
rc=$?
for f in aggregator site-hdfs site-zk; do cp "$WORK/build/first/$f.log" "$DIR/logs/" 2>/dev/null; done
[ "$rc" -eq 0 ] || fail "the walkthrough stopped with exit code $rc"
OUT="$DIR/logs/walkthrough.log"
grep -Eq "^site-hdfs +yes" "$OUT" && grep -Eq "^site-zk +yes" "$OUT" || fail "fedlog sites did not show both sites online"
grep -Eq "^run [0-9]+ done: completed 3 round" "$OUT" || fail "the run did not complete its three rounds"
[ "$(grep -Ec '^site-(hdfs|zk) +yes +no +v[0-9]+' "$OUT")" -ge 2 ] || fail "the promoted model did not reach both sites"
grep -q "^ok" "$OUT" || fail "the HDFS site's /healthz did not answer ok"
grep -Eq "^[1-9][0-9]* alert\(s\) from" "$OUT" || fail "fedlog alerts listed no alert on the appended lines"
for f in aggregator site-hdfs site-zk; do
  grep -q " E " "$WORK/build/first/$f.log" && fail "$f logged an error"
done
echo "e2e-$NAME passed"
