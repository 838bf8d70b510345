#!/usr/bin/env python3
"""Median and spread over federation seeds of `fedlog eval newsite --federated` runs.

usage: scripts/newsite-fed-seeds.py RUN_DIR [RUN_DIR ...]

Each RUN_DIR holds the results.json of one run (same labels, a different --fed-seed). For every
system, method (k = 0: the fused embedding novelty at the budget cut and at the label-free
detector's count, and the prototype prior; k > 0: the support, fused support (plain, capped and
capped among the units no label decides), hybrid support and prototype prior detectors, and the
product's rule with the encoder, "fewshot + encoder", and without it, "fewshot + encoder w=0" when the
run asked for --encoder-weight W,0), labelling
strategy and k, prints F1 for federated / tuned / alone as median [min, max] over the runs, and in how
many runs federated beat alone. Then the product's own detectors on the same test units (eval newsite's
k > 0 rows, which no federation seed changes): the label-free and session detectors at k = 0, fewshot
and the session detector with labels at k > 0. Standard library only.
"""
import json
import statistics
import sys

METHODS = {0: ["embedding novelty + label-free", "embedding novelty + label-free, label-free count",
               "prototype prior"],
           1: ["support detector", "fused support", "fused support, capped",
               "fused support, capped undecided", "hybrid support", "prototype prior",
               "fewshot + encoder", "fewshot + encoder w=0"]}
PRODUCT = ["novelty (k=0, site threshold)", "session detector (k=0, site threshold)", "fewshot",
           "session detector + labels"]


def load(path, part="federated"):
    with open(path + "/results.json") as f:
        return json.load(f)[part]


def cell(rows, model, method, strategy, k):
    for r in rows:
        if r["method"] == model + ": " + method and r["strategy"] == strategy and r["k"] == k:
            return r
    return None


def spread(values):
    return "%.3f [%.3f, %.3f]" % (statistics.median(values), min(values), max(values))


def main(dirs):
    runs = [load(d) for d in dirs]
    for system in runs[0]:
        print("## %s (%d runs)\n" % (system, len(runs)))
        print("| method | labels | k | federated F1 | tuned F1 | alone F1 | federated > alone | "
              "AUROC federated | AUROC alone |")
        print("|---|---|---:|---|---|---|---:|---|---|")
        cells = sorted({(r["strategy"], r["k"]) for r in runs[0][system]}, key=lambda c: (c[1], c[0]))
        for strategy, k in cells:
            for method in METHODS[min(k, 1)]:
                got = {m: [cell(run[system], m, method, strategy, k) for run in runs]
                       for m in ("federated", "tuned", "alone")}
                if any(r is None for v in got.values() for r in v):
                    continue
                f1 = {m: [r["f1"] for r in v] for m, v in got.items()}
                au = {m: [r["auroc"] for r in v] for m, v in got.items()}
                wins = sum(a > b for a, b in zip(f1["federated"], f1["alone"]))
                print("| %s | %s | %d | %s | %s | %s | %d/%d | %s | %s |" % (
                    method, strategy, k, spread(f1["federated"]), spread(f1["tuned"]),
                    spread(f1["alone"]), wins, len(runs), spread(au["federated"]), spread(au["alone"])))
        print()
        product(dirs, system)


def product(dirs, system):
    """The product's detectors on the same test units, F1 (AUROC), from the first run."""
    kshot = load(dirs[0], "kshot").get(system, [])
    rows = kshot["rows"] if isinstance(kshot, dict) else kshot
    got = [r for r in rows if r["method"] in PRODUCT]
    if not got:
        return
    print("Product detectors on the same test units (%s): " % system + "; ".join(
        "%s %s k=%d F1 %.3f (AUROC %.3f)" % (r["method"], r["strategy"], r["k"], r["f1"], r["auroc"])
        for r in got) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
