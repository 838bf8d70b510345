#!/usr/bin/env bash
# Issue 15, item 8: a site reconnects within a few seconds of the aggregator's return (it used to take about
# 30 s while the site logged "Connection refused" against a listening aggregator), and LAST SEEN survives an
# aggregator restart.
set -uo pipefail
SRC="$1"; BUILD="$2"; NAME=reconnect
source "$SRC/tests/e2e/lib.sh"

bash "$SRC/certs/make-dev-pki.sh" "$DIR/pki" site-1 site-2 >/dev/null || fail "pki"
PORT=$(free_port)
agg_yaml "$DIR/agg.yaml" "$PORT"
# The shipped defaults for reconnecting (backoff_initial_ms 500, backoff_max_ms 3000), not the fast test ones.
site_yaml "$DIR/site-1.yaml" "$PORT" site-1
site_yaml "$DIR/site-2.yaml" "$PORT" site-2
sed -i '/^backoff_initial_ms/d' "$DIR/site-1.yaml"
export FEDLOG_SERVER="localhost:$PORT" FEDLOG_PKI="$DIR/pki"
start_bg aggregator "$BIN/fedlog-server" --config "$DIR/agg.yaml"; SERVER=$LAST_PID
start_bg site-1 "$BIN/fedlog-client" --config "$DIR/site-1.yaml"
start_bg site-2 "$BIN/fedlog-client" --config "$DIR/site-2.yaml"; SITE2=$LAST_PID
wait_online 2 || fail "sites did not come online"
sleep 3  # site-2 keeps polling: its last-seen time moves past its hello
kill -9 "$SITE2"; wait "$SITE2" 2>/dev/null
sleep 1
before=$("$BIN/fedlog" sites | awk '$1=="site-2" {print $5, $6}')
[ -n "$before" ] || fail "site-2 not listed"

kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null
sleep 8  # site-1's backoff reaches its maximum
start_bg aggregator2 "$BIN/fedlog-server" --config "$DIR/agg.yaml"
wait_online 1 60 || fail "site-1 did not reconnect within 60 s"
# From the aggregator's "listening" line to site-1's next "connected" line, by their timestamps (process start-up
# on a loaded machine is not what this measures).
took=$(python3 - "$DIR/logs/aggregator2.log" "$DIR/logs/site-1.log" <<'PY'
import re, sys, datetime
def stamps(path, pattern):
    out = []
    for line in open(path):
        m = re.search(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z", line)
        if m and re.search(pattern, line):
            out.append(datetime.datetime.fromisoformat(m.group(1)))
    return out
up = stamps(sys.argv[1], "aggregator listening")[0]
back = [t for t in stamps(sys.argv[2], "connected as") if t >= up]
print(round((back[0] - up).total_seconds(), 2) if back else 999)
PY
)
echo "site-1 connected again $took s after the restarted aggregator listened"
python3 -c "import sys; sys.exit(0 if $took <= 5 else 1)" || fail "reconnect took $took s (want a few seconds)"

after=$("$BIN/fedlog" sites | awk '$1=="site-2" {print $5, $6}')
echo "site-2 LAST SEEN before the restart: $before, after: $after"
[ "$after" = "$before" ] || fail "LAST SEEN of site-2 changed across the restart ($before -> $after)"
echo "e2e-$NAME passed"
