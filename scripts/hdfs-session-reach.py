#!/usr/bin/env python3
"""What session verdicts from the label pool can reach on HDFS (issue 14, k = 10).

Reads the CSVs of `fedlog eval newsite --systems hdfs --dump --out DIR` (DIR/hdfs_sessions.csv) and
classifies the test part's false alarms (normal blocks with an alerted session) by whether the shape
of every alerted session occurs in a normal block of the label pool (the first --label-part of the
lines): only those a normal shape verdict from the pool can silence. It also counts the test part's
anomalous blocks that alert only through shapes the pool never shows as normal (what silencing those
shapes would cost).

With --data (the evaluation data folder), it also measures what a final verdict that waits for
the block's file to be deleted could reach (session 11): a block with a replication (`ask ... to
replicate`) that the k = 0 detector alerted is held for up to L hours after its replication and
alerted only if its file is deleted (`NameSystem.delete ... invalidSet`) within them; every other
block keeps its k = 0 alert. This rule is read off the labels (no pool block shows it: the pool has
no normal replication block), so it is what 0.98 would need, not a method. F1 on the label pool
(the tuning part) and the test part, per L.

With --pool-blocks N (as `eval newsite --pool-blocks N`), the pool is the blocks whose first line is in
the even ones of 2N equal parts of the stream, and the test part those in the odd ones.

usage: scripts/hdfs-session-reach.py DIR [--label-part 0.3 | --pool-blocks N] [--data ../shared/data]
"""
import argparse
import collections
import csv
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--label-part", type=float, default=0.3)
    ap.add_argument("--pool-blocks", type=int, default=0, help="pool from the even blocks of 2N")
    ap.add_argument("--data", help="evaluation data folder: also measure the deletion wait")
    a = ap.parse_args()
    rows = list(csv.DictReader(open(os.path.join(a.dir, "hdfs_sessions.csv"))))
    with open(os.path.join(a.dir, "hdfs_lines.csv")) as f:
        lines = sum(1 for _ in f) - 1
    cut = int(a.label_part * lines)
    units = collections.defaultdict(list)
    for r in rows:
        if int(r["unit"]) >= 0:
            units[int(r["unit"])].append(r)
    label = {u: max(int(x["label"]) for x in v) for u, v in units.items()}
    first = {u: int(v[0]["first_line"]) for u, v in units.items()}
    if a.pool_blocks > 0:
        even = lambda line: (line * 2 * a.pool_blocks // max(lines, 1)) % 2 == 0
        pool = [u for u in units if first[u] >= 0 and even(first[u])]
        test = [u for u in units if first[u] >= 0 and not even(first[u])]
    else:
        pool = [u for u in units if 0 <= first[u] < cut]
        test = [u for u in units if first[u] >= cut]
    seen = collections.Counter((x["shape"], label[u]) for u in pool for x in units[u])
    alerted = lambda u: [x for x in units[u] if int(x["alert"])]
    fps = [u for u in test if label[u] == 0 and alerted(u)]
    tps = [u for u in test if label[u] == 1 and alerted(u)]
    kinds = collections.Counter()
    for u in fps:
        shapes = [x["shape"] for x in alerted(u)]
        if all(seen[(s, 0)] > 0 for s in shapes):
            kinds["every alerted shape is normal in the pool (a verdict can silence it)"] += 1
        elif any(seen[(s, 0)] == 0 and seen[(s, 1)] > 0 for s in shapes):
            kinds["a shape the pool shows in anomalous blocks only"] += 1
        else:
            kinds["a shape absent from the pool"] += 1
    print(f"test part: {len(test)} blocks, {sum(label[u] for u in test)} anomalous; "
          f"k = 0 alerts {len(tps)} anomalous, {len(fps)} normal blocks")
    for k, n in kinds.most_common():
        print(f"  false alarms, {k}: {n}")
    never_normal = {x["shape"] for u in fps for x in alerted(u) if seen[(x["shape"], 0)] == 0}
    only = sum(1 for u in tps if all(x["shape"] in never_normal for x in alerted(u)))
    print(f"  anomalous blocks alerted only through shapes of those false alarms that the pool "
          f"never shows as normal: {only}")
    block_bound(a.dir, units, label, pool, test, alerted)
    if a.data:
        deletion_wait(a.data, units, label, first, pool, test, alerted)


def f1(tp, fp, fn):
    return 2 * tp / max(2 * tp + fp + fn, 1)


def block_bound(d, units, label, pool, test, alerted):
    vec = collections.defaultdict(collections.Counter)
    with open(os.path.join(d, "hdfs_lines.csv")) as f:
        r = csv.reader(f)
        next(r)
        for row in r:
            if int(row[1]) >= 0:
                vec[int(row[1])][int(row[-1])] += 1
    key = lambda u: tuple(sorted(vec[u].items()))
    seen = collections.defaultdict(lambda: [0, 0])
    for u in pool:
        seen[key(u)][label[u]] += 1
    lookup = collections.Counter()
    for u in test:
        c = seen.get(key(u), [0, 0])
        pred = 0 if c[0] and not c[1] else 1 if c[1] and not c[0] else int(bool(alerted(u)))
        lookup[(pred, label[u])] += 1
    print(f"block level, every pool label: whole-block vector lookup (else the k = 0 alert): "
          f"TP {lookup[(1, 1)]} FP {lookup[(1, 0)]} FN {lookup[(0, 1)]}, "
          f"F1 {f1(lookup[(1, 1)], lookup[(1, 0)], lookup[(0, 1)]):.3f}")
    # 1-NN (L1) over the pool's distinct vectors (majority label per vector).
    protos = [(dict(k), 1 if c[1] > c[0] else 0) for k, c in seen.items()]
    nn = collections.Counter()
    for u in test:
        v = vec[u]
        best = min(protos, key=lambda p: sum(abs(v.get(t, 0) - p[0].get(t, 0)) for t in set(v) | set(p[0])))
        nn[(best[1], label[u])] += 1
    print(f"block level, every pool label: 1-NN (L1 on event counts): TP {nn[(1, 1)]} FP {nn[(1, 0)]} "
          f"FN {nn[(0, 1)]}, F1 {f1(nn[(1, 1)], nn[(1, 0)], nn[(0, 1)]):.3f}")
    fps = [u for u in test if label[u] == 0 and alerted(u)]
    unseen = collections.Counter()
    for u in fps:
        templates = frozenset(vec[u])
        normal_kin = any(seen[k][0] for k in seen if frozenset(t for t, _ in k) == templates)
        unseen["its templates in some normal pool block" if normal_kin else
               "no normal pool block has its set of templates"] += 1
    normal_templates = set(t for u in pool if label[u] == 0 for t in vec[u])
    for u in fps:
        if set(vec[u]) - normal_templates:
            unseen["of all: with a template that no normal pool block has"] += 1
    for k, n in unseen.most_common():
        print(f"  false alarms at k = 0 by whole block: {k}: {n}")


def block_times(data):
    """Per first line of a block: (time of its first replication, time of its first file deletion
    after it), None where absent; from the raw log (block ids as the evaluation keys them)."""
    import datetime
    import gzip
    import re
    first, repl, dele = {}, {}, {}
    path = os.path.join(data, "hdfs-v1-2pct", "HDFS_2pct.log.gz")
    with gzip.open(path, "rt") as f:
        for i, line in enumerate(f):
            ids = set(re.findall(r"blk_-?\d+", line))
            if not ids:
                continue
            t = datetime.datetime.strptime(line[:13], "%y%m%d %H%M%S")
            for b in ids:
                first.setdefault(b, i)
                if "to replicate" in line:
                    repl.setdefault(b, t)
                elif "invalidSet" in line and b in repl:
                    dele.setdefault(b, t)
    return {i: (repl.get(b), dele.get(b)) for b, i in first.items()}


def deletion_wait(data, units, label, first, pool, test, alerted):
    times = block_times(data)
    print("final verdict at the file's deletion, at most L hours after the replication "
          "(a rule read off the labels, not a method):")
    for name, part in (("tuning part (label pool)", pool), ("test part", test)):
        for hours in (0, 0.5, 1, 2, 4, 8, 16, None):
            c = collections.Counter()
            held = 0
            for u in part:
                a = bool(alerted(u))
                repl, dele = times.get(first[u], (None, None))
                if hours != 0 and a and repl is not None:
                    held += 1
                    a = dele is not None and (hours is None or (dele - repl).total_seconds() <= 3600 * hours)
                c[(int(a), label[u])] += 1
            wait = "until the stream ends" if hours is None else f"L = {hours} h"
            print(f"  {name}, {wait}: TP {c[(1, 1)]} FP {c[(1, 0)]} FN {c[(0, 1)]}, "
                  f"F1 {f1(c[(1, 1)], c[(1, 0)], c[(0, 1)]):.3f} ({held} alerted replication blocks held)")


if __name__ == "__main__":
    main()
