#!/usr/bin/env python3
"""AUROC of the sessions-per-unit ranking (session 11, Hadoop) on the label pool and the test part.

Reads the CSVs of `fedlog eval newsite --systems SYSTEM --dump --out DIR`: DIR/SYSTEM_units.csv (each
unit's label and part: 0 the label pool, the tuning part; 1 the test part) and DIR/SYSTEM_sessions.csv
(one row per scored session, with its unit). `eval newsite` reports the same ranking on the whole
stream and the test part ("unit signal: sessions per unit"); this adds the tuning part.

usage: scripts/unit-sessions-auroc.py DIR [--system hadoop]
"""
import argparse
import collections
import csv
import os


def auroc(pos, neg):
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--system", default="hadoop")
    a = ap.parse_args()
    with open(os.path.join(a.dir, f"{a.system}_units.csv")) as f:
        units = list(csv.DictReader(line for line in f if not line.startswith("#")))
    sessions = collections.Counter()
    with open(os.path.join(a.dir, f"{a.system}_sessions.csv")) as f:
        for row in csv.DictReader(f):
            if int(row["unit"]) >= 0:
                sessions[int(row["unit"])] += 1
    for part, name in (("0", "label pool (tuning part)"), ("1", "test part")):
        rows = [u for u in units if u["part"] == part and sessions[int(u["unit"])] > 0]
        pos = [sessions[int(u["unit"])] for u in rows if u["label"] == "1"]
        neg = [sessions[int(u["unit"])] for u in rows if u["label"] == "0"]
        print(f"{a.system}, {name}: {len(pos)} anomalous and {len(neg)} normal units, "
              f"sessions per unit AUROC {auroc(pos, neg):.3f}")


if __name__ == "__main__":
    main()
