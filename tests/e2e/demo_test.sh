#!/usr/bin/env bash
# e2e: runs the demo (real processes, mTLS on loopback) with 2 rounds and checks its output and exit code.
set -uo pipefail
SRC="$1"; BUILD="$2"
export ROUNDS=2 DEMO_DIR="$BUILD/e2e-demo"
out="$(mktemp)"
bash "$SRC/scripts/demo.sh" "$BUILD" >"$out" 2>&1
rc=$?
cat "$out"
fail() { echo "e2e FAILED: $*"; exit 1; }
[ "$rc" -eq 0 ] || fail "demo exited with $rc"
grep -Eq '^ +1 +3 +[0-9]+ +[0-9.]+ +v[0-9]+' "$out" || fail "no row for round 1 with 3 sites"
grep -Eq '^ +2 +3 +[0-9]+ +[0-9.]+ +v[0-9]+' "$out" || fail "no row for round 2 with 3 sites"
grep -q 'run 1 done' "$out" || fail "run did not finish"
for site in site-apache site-linux site-zookeeper; do
  grep -Eq "^$site +federated v[0-9]+ +[0-9]+ +[0-9]+ +[0-9.]+" "$out" || fail "no federated detection row for $site"
  grep -Eq "^$site +local-only" "$out" || fail "no local-only detection row for $site"
done
grep -q 'every process stopped cleanly' "$out" || fail "processes did not stop cleanly"
# Nothing may be left running from this demo.
if pgrep -f "$DEMO_DIR/config" >/dev/null; then fail "processes left running"; fi
echo "e2e passed"
