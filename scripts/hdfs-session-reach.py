#!/usr/bin/env python3
"""What session verdicts from the label pool can reach on HDFS (issue 14, k = 10).

Reads the CSVs of `fedlog eval newsite --systems hdfs --dump --out DIR` (DIR/hdfs_sessions.csv) and
classifies the test part's false alarms (normal blocks with an alerted session) by whether the shape
of every alerted session occurs in a normal block of the label pool (the first --label-part of the
lines): only those a normal shape verdict from the pool can silence. It also counts the test part's
anomalous blocks that alert only through shapes the pool never shows as normal (what silencing those
shapes would cost).

usage: scripts/hdfs-session-reach.py DIR [--label-part 0.3]
"""
import argparse
import collections
import csv
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--label-part", type=float, default=0.3)
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


if __name__ == "__main__":
    main()
