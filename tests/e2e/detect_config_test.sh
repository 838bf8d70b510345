#!/usr/bin/env bash
# Issue 15, item 5: the detect section is checked at start against the training sources and the file system.
# A detect source named 'hdfs' where training has 'HDFS' is refused with a hint; a watched glob that matches no
# file is a warning in the log and a note in /healthz.
set -uo pipefail
SRC="$1"; BUILD="$2"; NAME=detect-config
source "$SRC/tests/e2e/lib.sh"

"$BIN/fedlog" synth --format HDFS --lines 50 --seed 3 --out "$DIR/train.log" >/dev/null 2>&1 || fail "synth"
MPORT=$(free_port)
detect_yaml() {  # FILE SOURCE_NAME PATHS
  cat > "$1" <<YAML
data_dir: $DIR/site
sources: [{name: HDFS, path: $DIR/train.log}]
detect:
  sources: [{name: $2, paths: [$3]}]
  metrics_listen: 127.0.0.1:$MPORT
YAML
}

detect_yaml "$DIR/wrong-name.yaml" hdfs "\"$DIR/train.log\""
timeout 20 "$BIN/fedlog-client" --config "$DIR/wrong-name.yaml" --detect-only >"$DIR/logs/wrong-name.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "detect source 'hdfs' (training has HDFS): exit $rc, want 1"
grep -q "did you mean 'HDFS'" "$DIR/logs/wrong-name.log" || fail "the refusal does not point at HDFS"

detect_yaml "$DIR/no-match.yaml" HDFS "\"$DIR/incoming/*.log\""
start_bg no-match "$BIN/fedlog-client" --config "$DIR/no-match.yaml" --detect-only
wait_log "$DIR/logs/no-match.log" "matches no file" || fail "no warning for a glob that matches nothing"
wait_log "$DIR/logs/no-match.log" "/healthz on port" || fail "the detector did not start"
health=$(python3 -c "
import urllib.request, urllib.error
try: print(urllib.request.urlopen('http://127.0.0.1:$MPORT/healthz').read().decode())
except urllib.error.HTTPError as e: print(e.read().decode())")
echo "/healthz: $health"
echo "$health" | grep -q "matches no file" || fail "/healthz does not report the glob that matches nothing"
mkdir -p "$DIR/incoming" && cp "$DIR/train.log" "$DIR/incoming/a.log"
health=$(python3 -c "
import urllib.request, urllib.error
try: print(urllib.request.urlopen('http://127.0.0.1:$MPORT/healthz').read().decode())
except urllib.error.HTTPError as e: print(e.read().decode())")
echo "$health" | grep -q "matches no file" && fail "/healthz still reports the glob after a file appeared"
echo "e2e-$NAME passed"
