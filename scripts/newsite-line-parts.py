#!/usr/bin/env python3
"""The k = 0 line detector on the whole stream and on its test part (issue 14, BGL lines).

Reads DIR/SYSTEM_lines.csv of `fedlog eval newsite --systems SYSTEM --dump --out DIR` (a line system:
bgl2k or bgl) and prints, for the whole stream and for the lines after the first --label-part (the
part where `eval newsite` measures its k > 0 rows): AUROC, the oracle F1 (the best F1 of any fixed
threshold, chosen with the labels: the ranking's ceiling), the same within the budget (the best F1 of a
fixed threshold whose normal-line alert rate is at most --budget: the ceiling of a threshold that keeps
the budget), precision, recall and F1 of the alerts the site raised, the alert rate on normal lines, and the
highest such rate over any --window consecutive lines of the part (the whole part when shorter; the
budget as a site sees it over a stretch, NoveltyOptions::budget_window). The lines before the test part
(the label part, where sessions tune) get a row too. With --groups N it also lists the N largest groups
(level and the message's first words, values masked) among the test part's missed anomalies and its
false alerts, read from the raw log (--log, default the system's file under --data).

usage: scripts/newsite-line-parts.py DIR [--system bgl] [--label-part 0.3] [--groups 0]
                                         [--data ../shared/data] [--budget 0.01] [--window 5000]
"""
import argparse
import collections
import csv
import os
import re

LOGS = {"bgl": "bgl-20k/BGL_20k.log", "bgl2k": "loghub-2k/BGL/BGL_2k.log"}


def auroc(scores, labels):
    pairs = sorted(zip(scores, labels))
    pos = sum(labels)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        rank_sum += (i + j + 1) / 2.0 * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg)


def oracle_f1(scores, labels, max_normal_rate=None):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    pos = sum(labels)
    normal = len(labels) - pos
    tp = fp = 0
    best = 0.0
    for k, i in enumerate(order):
        tp += labels[i]
        fp += 1 - labels[i]
        if k + 1 < len(order) and scores[order[k + 1]] == scores[i]:
            continue  # equal scores fall on the same side of any threshold
        if max_normal_rate is not None and normal and fp / normal > max_normal_rate:
            continue  # this cut breaks the budget
        best = max(best, 2.0 * tp / (tp + fp + pos))
    return best


def worst_window(y, a, window):
    """The highest alert rate on normal lines over any `window` consecutive lines (all when fewer)."""
    w = min(window, len(y))
    normal = [0]
    false = [0]
    for yi, ai in zip(y, a):
        normal.append(normal[-1] + (1 - yi))
        false.append(false[-1] + (1 - yi) * ai)
    worst = 0.0
    for end in range(w, len(y) + 1):
        n = normal[end] - normal[end - w]
        if n:
            worst = max(worst, (false[end] - false[end - w]) / n)
    return worst


def part_row(name, rows, budget, window):
    s = [float(r["score"]) for r in rows]
    y = [int(r["label"]) for r in rows]
    a = [int(r["alert"]) for r in rows]
    tp = sum(1 for yi, ai in zip(y, a) if yi and ai)
    fp = sum(1 for yi, ai in zip(y, a) if not yi and ai)
    pos = sum(y)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / pos if pos else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    normal = len(y) - pos
    print(f"| {name} | {len(rows)} | {pos} | {auroc(s, y):.3f} | {oracle_f1(s, y):.3f} | "
          f"{oracle_f1(s, y, budget):.3f} | "
          f"{f1:.3f} ({p:.3f} / {r:.3f}) | {fp / normal if normal else 0:.4f} | "
          f"{worst_window(y, a, window):.4f} |")


def group_key(raw):
    toks = raw.rstrip("\n").split(" ", 9)
    level = toks[8] if len(toks) > 8 else ""
    msg = toks[9] if len(toks) > 9 else ""
    msg = re.sub(r"\S*/\S*", "PATH", msg)
    msg = re.sub(r"0x[0-9a-fA-F]+", "0xH", msg)
    msg = re.sub(r"\d+", "N", msg)
    return (level + " " + " ".join(msg.split()[:5]))[:70]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--system", default="bgl")
    ap.add_argument("--label-part", type=float, default=0.3)
    ap.add_argument("--groups", type=int, default=0)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--log", default="")
    ap.add_argument("--budget", type=float, default=0.01)
    ap.add_argument("--window", type=int, default=5000)
    a = ap.parse_args()
    rows = list(csv.DictReader(open(os.path.join(a.dir, a.system + "_lines.csv"))))
    cut = int(a.label_part * len(rows))
    print("| part | lines | anomalous | AUROC | oracle F1 | oracle F1 within the budget | "
          f"F1 at the site threshold (P / R) | normal-line alert rate | worst {a.window}-line window |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|")
    part_row("whole stream", rows, a.budget, a.window)
    part_row(f"label part (lines 0-{cut - 1})", rows[:cut], a.budget, a.window)
    part_row(f"test part (lines {cut}+)", rows[cut:], a.budget, a.window)
    if a.groups <= 0:
        return
    log = a.log or os.path.join(a.data, LOGS[a.system])
    raw = open(log, errors="replace").readlines()
    missed, false = collections.Counter(), collections.Counter()
    for r in rows[cut:]:
        i = int(r["line"])
        if int(r["label"]) and not int(r["alert"]):
            missed[group_key(raw[i])] += 1
        if not int(r["label"]) and int(r["alert"]):
            false[group_key(raw[i])] += 1
    for title, c in (("missed anomalies", missed), ("false alerts", false)):
        print(f"\n{title} (test part), largest groups:")
        for k, n in c.most_common(a.groups):
            print(f"  {n:5d}  {k}")


if __name__ == "__main__":
    main()
