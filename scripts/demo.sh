#!/usr/bin/env bash
# fedlog demo: a development PKI, one aggregator and four site daemons as separate processes on loopback with
# mTLS. The sites run different mixes of log sources and train the learned line encoder (contrastive steps on all
# their lines, meta-learning on their labeled lines, FedProx, per-source adapters and prototypes) for a few
# federated rounds; then a table per site compares, on the site's held-out lines, a local-only model (the same
# local work without the federation), the federated model with its prototypes, and the federated model adapted
# with k labeled lines per class (and a local-only model that has only those k labels), and the federated model
# personalised by a few local rounds at the site (kept only when the site's validation F1 is not lower); then a
# new site with no labels (BGL) shows its label-free detection before and after ten labels chosen by
# `fedlog label`; then every process is stopped cleanly.
# usage: scripts/demo.sh [BUILD_DIR]
#   env: DATA (shared data dir, default ../shared/data), ROUNDS (default 5), DEMO_DIR (default BUILD_DIR/demo),
#        FEDLOG_DEMO_PORT (default: a free port), CONTRASTIVE (steps per round, default 40), META (meta-iterations
#        per round, default 15), SHOTS (labeled lines per class of the adapted detector, default 10),
#        PERSONALISE (local rounds of the personalised model, default 5; 0 skips it), NEW_BUDGET (the new site's
#        detect.expected_alert_rate, default 0.05),
#        SECAGG (1, the default: the run uses secure aggregation, docs/PRIVACY.md; 0: plain uploads),
#        DP=1 (site-level differential privacy, docs/PRIVACY.md: noise multiplier DP_SIGMA, default 1; clip DP_CLIP,
#        default 0.1; target epsilon DP_TARGET, default 0 = none; delta 1e-5), printing the epsilon spent
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
BIN="$BUILD/bin"
DEMO="${DEMO_DIR:-$BUILD/demo}"
DATA="${DATA:-../shared/data}"
ROUNDS="${ROUNDS:-5}"
CONTRASTIVE="${CONTRASTIVE:-40}"
META="${META:-15}"
INNER=1
BATCH=128
LR=0.001
MU=0.01
SHOTS="${SHOTS:-10}"
PERSONALISE="${PERSONALISE:-5}"
DP="${DP:-0}"
DP_FLAGS=()
if [ "$DP" = 1 ]; then
  DP_FLAGS=(--dp-noise-multiplier "${DP_SIGMA:-1}" --dp-clip "${DP_CLIP:-0.1}" --dp-delta 1e-5
            --target-epsilon "${DP_TARGET:-0}")
fi
# Sources with both labels in the seed-labeled data that `fedlog synth` can also generate (Apache, Linux,
# Zookeeper), plus HDFS without labels (its seed labels hold one class) to show an unlabeled source. A source
# shared by two sites gets a different half of the loghub file (or a different synthetic seed) at each; Apache
# runs at three sites, a third each, so that under secure aggregation it forms a group of the threshold's size
# (3 of 4) and its message-kind counts travel masked (docs/PRIVACY.md "Message-kind counts").
SITES=(site-a site-b site-c site-d)
declare -A MIX=([site-a]="Apache:t1 Zookeeper:1" [site-b]="Linux:1 Apache:t2" [site-c]="Zookeeper:2 HDFS:0"
                [site-d]="Apache:t3 Linux:2")

for b in fedlog-server fedlog-client fedlog; do
  [ -x "$BIN/$b" ] || { echo "demo: $BIN/$b is missing; run 'make build' first" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="${FEDLOG_DEMO_PORT:-$(free_port)}"

rm -rf "$DEMO"
mkdir -p "$DEMO/logs" "$DEMO/config" "$DEMO/input"
certs/make-dev-pki.sh "$DEMO/pki" "${SITES[@]}" >/dev/null

# make_source SRC PART: writes $DEMO/input/SRC-PART.log and, for labeled sources, its labels CSV
# ($DEMO/input/SRC-PART.labels.csv). PART 1/2 = first/second half of the loghub file, renumbered; t1/t2/t3 = its
# first/second/third third; 0 = whole file, no labels. Without the shared data, `fedlog synth` writes the lines and
# their label sidecar (seed per part; 1,000 lines a half, 667 a third).
HAVE_DATA=0
[ -f "$DATA/loghub-2k/Apache/Apache_2k.log" ] && HAVE_DATA=1
make_source() {
  local src="$1" part="$2" out="$DEMO/input/$1-$2.log"
  if [ "$HAVE_DATA" = 1 ]; then
    local log="$DATA/loghub-2k/$src/${src}_2k.log" lo=1 hi=2000
    case "$part" in
      1) hi=1000 ;;
      2) lo=1001 ;;
      t1) hi=667 ;;
      t2) lo=668; hi=1333 ;;
      t3) lo=1334 ;;
    esac
    sed -n "${lo},${hi}p" "$log" >"$out"
    if [ "$part" != 0 ]; then
      awk -F, -v OFS=, -v lo="$lo" -v hi="$hi" 'NR == 1 { print; next } $1 >= lo && $1 <= hi { $1 = $1 - lo + 1; print }' \
        "$DATA/seed-labeled-2k/${src}_2k_labeled.csv" >"${out%.log}.labels.csv"
    fi
  else
    local lines=1000 seed="$((7 + ${part#t}))"
    [ "${part#t}" != "$part" ] && lines=667 seed="$((17 + ${part#t}))"
    "$BIN/fedlog" synth --format "$src" --lines "$lines" --seed "$seed" --out "$out" >/dev/null 2>&1 ||
      { echo "demo: cannot generate $src lines" >&2; return 1; }
    if [ "$part" = 0 ]; then rm -f "$out.labels.csv"; else mv "$out.labels.csv" "${out%.log}.labels.csv"; fi
  fi
}
if [ "$HAVE_DATA" = 1 ]; then echo "== data: loghub-2k + seed labels from $DATA"; else
  echo "== data: $DATA not found; generating the sources with 'fedlog synth'"; fi

cat > "$DEMO/config/aggregator.yaml" <<YAML
listen_address: 127.0.0.1:$PORT
data_dir: ../aggregator
tls: {ca_cert: ../pki/ca.crt, cert: ../pki/aggregator.crt, key: ../pki/aggregator.key}
heartbeat_interval_ms: 1000
site_timeout_ms: 20000
auto_admit_sources: true   # development only: trust the sources each demo site declares (docs/SECURITY-aggregation.md)
model: {arch: line_encoder, init_seed: 42, encoder: {dense_dim: 75, hidden: [256], out_dim: 128}}
YAML

for site in "${SITES[@]}"; do
  {
    cat <<YAML
aggregator_address: localhost:$PORT
data_dir: ../sites/$site
tls: {ca_cert: ../pki/ca.crt, cert: ../pki/$site.crt, key: ../pki/$site.key}
device: auto
threads: 1
holdout_percent: 30
personalise_rounds: $PERSONALISE
sources:
YAML
    for entry in ${MIX[$site]}; do
      src="${entry%%:*}"; part="${entry##*:}"
      make_source "$src" "$part"
      line="  - {name: $src, path: ../input/$src-$part.log"
      [ -f "$DEMO/input/$src-$part.labels.csv" ] && line="$line, labels: ../input/$src-$part.labels.csv"
      echo "$line}"
    done
  } >"$DEMO/config/$site.yaml"
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

WORK=(--batch "$BATCH" --lr "$LR" --seed 1)
# Secure aggregation (on unless SECAGG=0): the aggregator sees only the sum of the sites' masked updates; a source's
# adapters and message-kind counts are aggregated only when at least the threshold of sites run it (3 of these 4:
# Apache; the other sources' adapters stay at their sites and their kind counts are not sent; docs/PRIVACY.md).
PRIVACY=(--update-dtype float16 --zstd)
if [ "${SECAGG:-1}" != 0 ]; then
  PRIVACY=(--secure-aggregation)
  echo "== secure aggregation on (SECAGG=0 turns it off)"
fi
echo "== federated run of the line encoder: $ROUNDS rounds, all ${#SITES[@]} sites; per site and round $CONTRASTIVE"
echo "   contrastive steps and $META meta-iterations ($INNER MAML inner step), FedProx mu $MU"
[ "$DP" = 1 ] && echo "   with site-level DP: ${DP_FLAGS[*]} (each site clips its update and adds its noise share)"
RUN_T0=$SECONDS
"$BIN/fedlog" run start --rounds "$ROUNDS" --min-sites "${#SITES[@]}" --deadline-s 120 "${WORK[@]}" \
  --contrastive-steps "$CONTRASTIVE" --meta-iterations "$META" --inner-steps "$INNER" --fedprox-mu "$MU" \
  "${PRIVACY[@]}" "${DP_FLAGS[@]}" --watch
RUN_S=$((SECONDS - RUN_T0))
if [ "$DP" = 1 ]; then
  echo "== privacy: the run's epsilon (aggregator's accountant) and each site's own ledger"
  "$BIN/fedlog" run status 2>&1 | grep '^privacy:' || true
  for site in "${SITES[@]}"; do
    echo "$site: $(grep -o 'site epsilon .*' "$DEMO/logs/$site.log" | tail -1)"
  done
fi
echo "== model versions"
"$BIN/fedlog" models

for site in "${SITES[@]}"; do
  for _ in $(seq 1 60); do [ -f "$DEMO/sites/$site/promoted_model.manifest" ] && break; sleep 0.5; done
done
# The federation's message-kind counts (docs/DETECTION.md "The federation's kind verdicts"): under secure
# aggregation one masked section per source group; each daemon logs, for the promoted model it fetched, how many of
# its own kinds the summed counts decide (the detector alerts on anomalous kinds and silences normal ones).
echo "== message-kind counts in the promoted model"
if [ "${SECAGG:-1}" != 0 ]; then
  echo "   aggregator, last secure round: $(grep 'uses secure aggregation' "$DEMO/logs/aggregator.log" | tail -1 |
    grep -o 'threshold [0-9]* of [0-9]*\|kind groups \[[^]]*\]' | paste -sd ';' | sed 's/;/ sites, /')"
fi
for site in "${SITES[@]}"; do
  for _ in $(seq 1 10); do grep -q 'kind verdicts of model' "$DEMO/logs/$site.log" && break; sleep 0.5; done
  grep -o 'kind verdicts of model.*' "$DEMO/logs/$site.log" | sed "s/^/   $site: /" || true
done
if [ "$PERSONALISE" -gt 0 ]; then
  # Each daemon personalises the promoted model it fetched (personalise_rounds in its config) for live detection.
  echo "== personalisation of the promoted model at each site daemon ($PERSONALISE local rounds, kept when its"
  echo "   validation F1 is not lower; live detection then loads personal_model.bundle)"
  for site in "${SITES[@]}"; do
    for _ in $(seq 1 240); do grep -q 'personalisation of v' "$DEMO/logs/$site.log" && break; sleep 0.5; done
    echo "$site: $(grep -o 'personalisation of v.*' "$DEMO/logs/$site.log" | tail -1)"
  done
fi
echo "== detection per site on its held-out lines (30%: threshold and calibration on one half, F1 / AUROC on the"
echo "   other half). local: the same $ROUNDS rounds of local work on the site's lines alone, from the same initial"
echo "   weights, with all its labels; lk: the same with only $SHOTS labeled lines per class; glob: the"
echo "   promoted federated model with its prototypes; adapt: the federated model with the same $SHOTS labeled"
echo "   lines per class; pers: the federated model after $PERSONALISE more local rounds at the site, with the same"
echo "   $SHOTS lines, kept only when its validation F1 is not lower (kept: tuned, else global, as a daemon with"
echo "   personalise_rounds does). local_s: seconds of the local run; rounds / MB_moved / train_s: the site's federated"
echo "   rounds, bytes down + up, seconds of local work in them (the federated run took $RUN_S s of wall time)"
printf '%-8s %-18s %5s %5s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %6s %7s %6s %8s %7s\n' site sources test anom \
  local_f1 lk_f1 glob_f1 adapt_f1 pers_f1 local_au lk_au glob_au adapt_au pers_au kept local_s rounds MB_moved \
  train_s
# The sites score in parallel (one torch thread each), as they would at their own machines.
SCORE_PIDS=()
for site in "${SITES[@]}"; do
  FEDLOG_LOG_LEVEL=warning "$BIN/fedlog" score --site "$site" --config "$DEMO/config/$site.yaml" \
    --model "$DEMO/sites/$site/promoted_model.bundle" --manifest "$DEMO/sites/$site/promoted_model.manifest" \
    --local-rounds "$ROUNDS" --contrastive-steps "$CONTRASTIVE" --meta-iterations "$META" --inner-steps "$INNER" \
    --personalise-rounds "$PERSONALISE" "${WORK[@]}" --shots "$SHOTS" --no-header >"$DEMO/logs/$site.score" 2>&1 &
  SCORE_PIDS+=("$!")
done
for i in "${!SITES[@]}"; do
  site="${SITES[$i]}"
  wait "${SCORE_PIDS[$i]}" || { cat "$DEMO/logs/$site.score" >&2; echo "demo: fedlog score failed for $site" >&2; exit 1; }
  stats="$(grep -o 'round_stats .*' "$DEMO/logs/$site.log" | awk -F'[ =]' \
    '{ n++; b += $3 + $5; t += $7 } END { printf "%6d %8.1f %7.1f", n, b / 1e6, t }')"
  echo "$(cat "$DEMO/logs/$site.score") $stats"
done

# The fastest ten labels (issue 14): a new site joins with a source no other site runs and no labels at all. Its
# label-free detection is shown next to the same site after ten labels chosen by `fedlog label` (docs/LABELING.md).
NEW_BUDGET="${NEW_BUDGET:-0.05}"
ABS_DEMO="$(cd "$DEMO" && pwd)"
if [ "$HAVE_DATA" = 1 ]; then
  NEW_SRC=BGL
  NEW_WHAT="BGL (loghub-2k: 2,000 sampled lines; first token '-' = normal, else an alert category)"
  cp "$DATA/loghub-2k/BGL/BGL_2k.log" "$ABS_DEMO/input/BGL-new.log"
  awk 'BEGIN { print "LineId,AnomalyLabel" } { print NR "," ($1 == "-" ? 0 : 1) }' "$ABS_DEMO/input/BGL-new.log" \
    >"$ABS_DEMO/input/BGL-new.truth.csv"
else
  NEW_SRC=HDFS
  NEW_WHAT="HDFS (fedlog synth: 2,000 lines and their labels)"
  "$BIN/fedlog" synth --format HDFS --lines 2000 --seed 21 --out "$ABS_DEMO/input/HDFS-new.log" >/dev/null 2>&1
  mv "$ABS_DEMO/input/HDFS-new.log.labels.csv" "$ABS_DEMO/input/HDFS-new.truth.csv"
fi
NEW_LOG="$ABS_DEMO/input/$NEW_SRC-new.log"
NEW_TRUTH="$ABS_DEMO/input/$NEW_SRC-new.truth.csv"
NEW_CONFIG="$ABS_DEMO/config/site-new.yaml"
cat >"$NEW_CONFIG" <<YAML
data_dir: $ABS_DEMO/sites/site-new
sources: [{name: $NEW_SRC, path: $NEW_LOG}]
detect:
  sources: [{name: $NEW_SRC, paths: [$NEW_LOG]}]
  expected_alert_rate: $NEW_BUDGET
  label_patterns: $PWD/deploy/config/label-patterns.yaml
YAML
# The new site holds the federation's promoted model, as a site that joined would after its first download: the
# detector choice (detect.detector_choice, docs/DETECTION.md) decides which detector scores its source.
mkdir -p "$ABS_DEMO/sites/site-new"
cp "$DEMO/sites/${SITES[0]}/promoted_model.bundle" "$DEMO/sites/${SITES[0]}/promoted_model.manifest" \
  "$ABS_DEMO/sites/site-new/"
echo "== the fastest ten labels: a new site joins with $NEW_WHAT,"
echo "   a source no other site runs, and no labels; alert budget detect.expected_alert_rate = $NEW_BUDGET. Its"
echo "   label-free detection on these lines, before and after ten labels chosen by 'fedlog label' (one line per"
echo "   template, the detector's most uncertain first). The answers come from the data's ground truth, not from an"
echo "   operator: an anomalous line -> anomaly; a normal line -> 'whole template is normal' when no labeled line of"
echo "   its template is anomalous, else normal. The site holds the promoted model; the line 'source ...: scored by'"
echo "   under each report says which detector scores its source (detect.detector_choice) and why."
"$BIN/fedlog" label --config "$NEW_CONFIG" --report --truth "$NEW_TRUTH" --title "zero labels"
"$BIN/fedlog" label --config "$NEW_CONFIG" --batch --answers-from "$NEW_TRUTH" --count 10 \
  >"$DEMO/logs/site-new.label" 2>&1 || { cat "$DEMO/logs/site-new.label" >&2; echo "demo: fedlog label failed" >&2; exit 1; }
awk '/^template / { t = substr($0, 10) } /^answer \[/ { n++; printf "   %2d  %s  %s\n", n, $NF, substr(t, 1, 100) }' \
  "$DEMO/logs/site-new.label"
grep -E '^label [0-9]+ of' "$DEMO/logs/site-new.label" | tail -1 | sed 's/^/   /'
"$BIN/fedlog" label --config "$NEW_CONFIG" --report --truth "$NEW_TRUTH" --title "after ten labels"

echo "== stopping"
status=0
for pid in "${PIDS[@]:1}" "$SERVER_PID"; do
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait "$pid"; then echo "demo: process $pid exited with an error" >&2; status=1; fi
done
PIDS=()
[ "$status" -eq 0 ] && echo "== demo finished: every process stopped cleanly"
exit "$status"
