#!/usr/bin/env python3
"""How far can a few-shot detector get on seed-labeled-2k's weak labels?

Three label-only reference points for the leave-one-source-out (LOSO) protocol of
`fedlog eval detect --protocol loso`, over the 13 two-class sources, with the same
per-class support sampling (k lines of each class, at most half of a class):

  lookup   the support lines' labels looked up by the source's ground-truth template
           (EventTemplate from the CSV: the labels are a function of it); lines of a template
           the support set lacks are called normal. Perfect template recognition, no
           generalisation to unseen templates.
  jaccard  1-nearest support line by word-set Jaccard similarity: a training-free baseline.
  words    zero-shot (k = 0): a word's anomaly rate learned on the 15 other sources (distinct
           lines), a line scored by its most anomalous word, the threshold picked on the other
           sources; no target label.

Standard library only. Usage: scripts/seed-label-ceiling.py [DATA_DIR] [--seed 7]
Docs: docs/EVALUATION.md, "What the seed labels allow".
"""
import collections
import csv
import os
import random
import re
import sys

TWO_CLASS = ["Android", "Apache", "BGL", "HPC", "Hadoop", "HealthApp", "Linux", "Mac",
             "Proxifier", "Spark", "Thunderbird", "Windows", "Zookeeper"]


def words(text):
    return frozenset(w for w in re.split(r"[^a-z]+", text.lower()) if len(w) > 1)


def f1_macro(y, p):
    total = 0.0
    for c in (0, 1):
        tp = sum(1 for a, b in zip(y, p) if a == c and b == c)
        fp = sum(1 for a, b in zip(y, p) if a != c and b == c)
        fn = sum(1 for a, b in zip(y, p) if a == c and b != c)
        total += 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
    return total / 2


def load(data_dir):
    folder = os.path.join(data_dir, "seed-labeled-2k")
    if not os.path.isdir(folder):
        sys.exit(f"error: {folder} not found (pass the shared data directory)")
    sources = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith("_2k_labeled.csv"):
            continue
        with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
            rows = list(csv.DictReader(f))
        sources[name.split("_")[0]] = [
            (r["EventTemplate"], words(r["Content"]), 0 if r["AnomalyLabel"] == "0" else 1)
            for r in rows]
    return sources


def support_split(lines, k, seed):
    rng = random.Random(seed)
    support = []
    for c in (0, 1):
        members = [i for i, line in enumerate(lines) if line[2] == c]
        support += rng.sample(members, min(k, len(members) // 2))
    chosen = set(support)
    return support, [i for i in range(len(lines)) if i not in chosen]


def few_shot(lines, k, seed):
    support, test = support_split(lines, k, seed)
    y = [lines[i][2] for i in test]
    known = {lines[j][0]: lines[j][2] for j in support}
    lookup = [known.get(lines[i][0], 0) for i in test]
    nearest = []
    for i in test:
        a = lines[i][1]
        best = max(support, key=lambda j: len(a & lines[j][1]) / max(1, len(a | lines[j][1])))
        nearest.append(lines[best][2])
    return f1_macro(y, lookup), f1_macro(y, nearest)


def zero_shot(sources, target):
    counts = collections.defaultdict(lambda: [0, 0])
    for name, lines in sources.items():
        if name == target:
            continue
        for key in {(w, y) for _, w, y in lines}:
            for word in key[0]:
                counts[word][key[1]] += 1

    def score(ws):
        rates = [(a + 0.1) / (n + a + 1) for n, a in (counts.get(w, (0, 0)) for w in ws)
                 if n + a >= 2]
        return max(rates, default=0.0)

    train = [(score(w), y) for name, lines in sources.items() if name != target
             for _, w, y in lines]
    best = max((f1_macro([y for _, y in train], [int(s >= t) for s, _ in train]), t)
               for t in (i / 20 for i in range(1, 20)))[1]
    test = sources[target]
    return f1_macro([y for _, _, y in test], [int(score(w) >= best) for _, w, _ in test])


def main():
    args = [a for a in sys.argv[1:]]
    seed = 7
    if "--seed" in args:
        i = args.index("--seed")
        seed = int(args[i + 1])
        del args[i:i + 2]
    sources = load(args[0] if args else "../shared/data")
    missing = [s for s in TWO_CLASS if s not in sources]
    if missing:
        sys.exit(f"error: missing sources {missing}")
    print("| source | words k=0 | lookup k=5 | jaccard k=5 | lookup k=10 | jaccard k=10 "
          "| lookup k=30 | jaccard k=30 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    sums = collections.defaultdict(float)
    for name in TWO_CLASS:
        row = {"words": zero_shot(sources, name)}
        for k in (5, 10, 30):
            row[f"lookup{k}"], row[f"jaccard{k}"] = few_shot(sources[name], k, seed + k)
        for key, value in row.items():
            sums[key] += value
        cells = [row["words"]] + [row[f"{m}{k}"] for k in (5, 10, 30) for m in ("lookup", "jaccard")]
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
    n = len(TWO_CLASS)
    cells = [sums["words"]] + [sums[f"{m}{k}"] for k in (5, 10, 30) for m in ("lookup", "jaccard")]
    print("| mean | " + " | ".join(f"**{v / n:.3f}**" for v in cells) + " |")


if __name__ == "__main__":
    main()
