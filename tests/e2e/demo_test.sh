#!/usr/bin/env bash
# e2e: runs the demo (real processes, mTLS on loopback, four sites training the line encoder) with 2 short rounds
# and checks its output and exit code.
set -uo pipefail
SRC="$1"; BUILD="$2"
export ROUNDS=2 CONTRASTIVE=10 META=4 PERSONALISE=2 DEMO_DIR="$BUILD/e2e-demo"
out="$(mktemp)"
bash "$SRC/scripts/demo.sh" "$BUILD" >"$out" 2>&1
rc=$?
cat "$out"
fail() { echo "e2e FAILED: $*"; exit 1; }
[ "$rc" -eq 0 ] || fail "demo exited with $rc"
grep -Eq '^ +1 +4 +[0-9]+ +[0-9.]+ +v[0-9]+' "$out" || fail "no row for round 1 with 4 sites"
grep -Eq '^ +2 +4 +[0-9]+ +[0-9.]+ +v[0-9]+' "$out" || fail "no row for round 2 with 4 sites"
grep -q 'run 1 done' "$out" || fail "run did not finish"
num='[0-9]+\.[0-9]+'
for site in site-a site-b site-c site-d; do
  # site sources test anom 5 x F1, 5 x AUROC, kept, local_s rounds MB train_s
  grep -Eq "^$site +[A-Za-z+]+ +[1-9][0-9]* +[1-9][0-9]*( +$num){10} +(tuned|global) +$num +2 +$num +$num\$" \
    "$out" || fail "no complete detection row for $site (2 rounds)"
done
for site in site-a site-b site-c site-d; do
  grep -Eq "^$site: personalisation of v[0-9]+: kept the (personal|promoted) model after 2 local round" "$out" \
    || fail "no personalisation decision from the $site daemon"
done
# The fastest ten labels: the new site's detection before and after ten labels from `fedlog label`.
grep -Eq '^zero labels: [0-9]+ lines, [0-9]+ templates, 0 labels given; detector: label-free; [0-9]+ alerts' "$out" ||
  fail "no zero-label detection line for the new site"
# The new site holds the promoted model, and with no labels the detector choice keeps it label-free.
grep -Eq '^  source [A-Za-z]+: scored by label-free \(auto: 0 anomalous and 0 normal labelled units' "$out" ||
  fail "the new site's source is not kept label-free at zero labels with the promoted model"
grep -Eq '^after ten labels: [0-9]+ lines, [0-9]+ templates, [1-9][0-9]* labels given' "$out" ||
  fail "no detection line after ten labels for the new site"
[ "$(grep -Ec '^  against .* precision [0-9.]+ recall [0-9.]+ F1 [0-9.]+' "$out")" -eq 2 ] ||
  fail "no precision / recall against the ground truth before and after the labels"
grep -q 'every process stopped cleanly' "$out" || fail "processes did not stop cleanly"
# Nothing may be left running from this demo.
if pgrep -f "$DEMO_DIR/config" >/dev/null; then fail "processes left running"; fi
echo "e2e passed"
