#!/usr/bin/env python3
"""The docs check: fails when README.md / docs/*.md and the code disagree (ctest `docs_check`).

usage: docs_check.py SOURCE_DIR [--fedlog PATH_TO_FEDLOG_BINARY]

Checks (each prints `file:line: what is wrong` per finding, then a count per check):
 1. refs     Section references `docs/X.md "Title"`, `X.md, "Title"`, chains `X.md "A" and "B"` (also `, "B"`,
             `or "B"`), in every non-markdown file of the tree (comments and strings; lines are joined with
             comment markers stripped, so a quote may wrap) and in the non-history pages, name an existing page
             and one of its section titles. A title is a heading of any level outside fenced code, or a bold
             lead-in that opens a line (`**Title**`, `**Title.**`). Quote Q names title T, case-sensitive, when
               Q == T;  or T starts with Q + " (" (the heading's parenthetical, e.g. a setting's name);
               or T starts with Q + ": " (a family: "Session 13" names every "Session 13: ..." subsection);
               or Q ends in "..." and T starts with Q less the dots (trailing blanks dropped).
             A markdown link `[text](X.md#anchor)` in a page names a heading of X.md whose GitHub anchor (lower
             case; characters other than letters, digits, blanks, '-' and '_' dropped; blanks to '-') is
             `anchor`. Any `docs/X.md` a source file names exists.
 2. paths    Source paths (client/..., common/..., tools/..., also globs `common/kinds/*`, `foo.*`) named in the
             non-history pages, and in the comments of the tree's files (after `//` in C++ and proto, after `#`
             elsewhere), exist; a path without an extension may name a folder or a module
             (`common/secagg/kind_sections` for its .h and .cc).
 4. flags    (docs_flags.py) Every --flag of a verb's usage (`fedlog help`, plus the full usage text its source
             holds: the string literals from "usage: fedlog VERB" on) appears in the non-history pages
             (EVALUATION.md too for `eval` verbs), and every flag written after `fedlog VERB` in a non-history
             page (code spans, code blocks and their continuation lines) is in that verb's usage. Skipped with a
             note when no fedlog binary is given.
 5. metrics  Every fedlog_* metric in client/ server/ common/ string literals appears in the non-history pages,
             and every fedlog_* name those pages use is such a metric or a CMake target.
Check 3 (settings) is the C++ test tests/docs/docs_settings_test.cc (proto reflection and the real YAML parser).
History pages (docs/EVALUATION.md, docs/BENCHMARKS.md) record past states and are not sources of checks 1-5.
"""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from docs_flags import check_flags  # noqa: E402
from docs_tree import code_files, joined, line_of, live_pages, pages, read, titles  # noqa: E402,F401
# Findings accepted for now, each with its reason: (check, key) -> reason. An entry no finding matches fails.
ALLOW = {
}


def names_title(quote, title):
    if quote == title or title.startswith(quote + " (") or title.startswith(quote + ": "):
        return True
    if quote.endswith("...") or quote.endswith("\u2026"):
        stem = quote.rstrip(".\u2026").rstrip()
        return bool(stem) and title.startswith(stem)
    return False


TITLE = r'"[^"\s](?:[^"\n]{0,158}[^"\s])?"'
REF = re.compile(r'(?<![\w/.-])(?:docs/)?([A-Z][A-Z-]*\.md)((?:,?\s+%s)(?:(?:\s*,|\s+and|\s+or|,\s+and)\s+%s)*)'
                 % (TITLE, TITLE))
QUOTE = re.compile(r'"([^"]+)"')


def check_refs(root):
    heads = {p: titles(read(root, p)) for p in pages(root)}
    anchors = {p: {re.sub(r"[^\w\- ]", "", t.lower()).replace(" ", "-") for t in titles(read(root, p), False)}
               for p in pages(root)}
    findings = []
    sources = [(f, True) for f in code_files(root) if not f.startswith("tests/docs/")]
    sources += [(p, False) for p in live_pages(root)]
    for rel, is_code in sources:
        text, starts = joined(read(root, rel).replace('\\"', '"'), is_code)
        for m in REF.finditer(text):
            page = m.group(1) if m.group(1) == "README.md" else "docs/" + m.group(1)
            where = "%s:%d" % (rel, line_of(starts, m.start()))
            if page not in heads:
                findings.append((where, page, "names %s, which does not exist" % page))
                continue
            for q in QUOTE.findall(m.group(2)):
                if not any(names_title(q, t) for t in heads[page]):
                    findings.append((where, page + " " + q, '%s has no section "%s"' % (page, q)))
        for m in re.finditer(r"(?<![\w/.-])docs/([A-Za-z-]+\.md)", text):
            if "docs/" + m.group(1) not in heads:
                findings.append(("%s:%d" % (rel, line_of(starts, m.start())), "docs/" + m.group(1),
                                 "names docs/%s, which does not exist" % m.group(1)))
        for m in re.finditer(r"\]\((?:docs/)?([A-Z][A-Z-]*\.md)?#([\w-]+)\)", text):
            page = rel if not m.group(1) else ("README.md" if m.group(1) == "README.md" else "docs/" + m.group(1))
            if m.group(2) not in anchors.get(page, ()):
                findings.append(("%s:%d" % (rel, line_of(starts, m.start())), page + "#" + m.group(2),
                                 "%s has no heading with anchor #%s" % (page, m.group(2))))
    return findings


PATH = re.compile(r"(?<![\w./<>-])((?:bench|certs|client|cmake|common|deploy|docs|proto|scripts|server|tests|tools)"
                  r"/[\w./*-]*[\w*/])")


def check_paths(root):
    findings = []
    sources = [(p, False) for p in live_pages(root)]
    sources += [(f, True) for f in code_files(root) if not f.startswith("tests/docs/")]
    for rel, is_code in sources:
        for i, line in enumerate(read(root, rel).split("\n"), 1):
            if is_code:  # only what a comment says: after `//`, or after `#` in scripts, CMake and YAML
                mark = "//" if rel.endswith((".h", ".cc", ".proto")) else "#"
                line = line[line.index(mark):] if mark in line else ""
            for m in PATH.finditer(line):
                p = m.group(1)
                if is_code and p.startswith("docs/"):
                    continue  # check 1 has these
                full = os.path.join(root, p.rstrip("/"))
                if not glob.glob(full) and (os.path.basename(p).count(".") or not glob.glob(full + ".*")):
                    findings.append(("%s:%d" % (rel, i), p, "names %s, which does not exist" % p))
    return findings


def check_metrics(root):
    code, targets = set(), set()
    for rel in code_files(root):
        text = read(root, rel)
        if rel.split("/")[0] in ("client", "server", "common") and rel.endswith(".cc"):
            for lit in re.findall(r'"((?:[^"\\\n]|\\.)*)"', text):
                code.update(re.findall(r"(?<!\w)fedlog_[a-z0-9_]*[a-z0-9]", lit))
        if os.path.basename(rel) == "CMakeLists.txt" or rel.endswith(".cmake"):
            targets.update(re.findall(r"(?:NAME|add_library\(|add_executable\(|add_custom_target\()\s*"
                                      r"(fedlog_[a-z0-9_]+)", text))
    findings = []
    texts = {p: read(root, p) for p in live_pages(root)}
    for name in sorted(code):
        if not any(re.search(r"(?<!\w)%s(?!\w)" % name, t) for t in texts.values()):
            findings.append(("client/server/common", name, "metric %s is in no page" % name))
    for rel, text in texts.items():
        for i, line in enumerate(text.split("\n"), 1):
            for name in re.findall(r"(?<![\w/])fedlog_[a-z0-9_]*[a-z0-9](?![\w.-])", line):
                if name not in code and name not in targets:
                    findings.append(("%s:%d" % (rel, i), name, "%s is neither a metric nor a CMake target" % name))
    return findings


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    root = argv[1]
    fedlog = argv[argv.index("--fedlog") + 1] if "--fedlog" in argv else None
    checks = [("refs", lambda: check_refs(root)), ("paths", lambda: check_paths(root)),
              ("flags", lambda: check_flags(root, fedlog) if fedlog else None),
              ("metrics", lambda: check_metrics(root))]
    total, used, ran = 0, set(), set()
    for name, run in checks:
        found = run()
        if found is None:
            print("%s: skipped (no --fedlog binary given)" % name)
            continue
        ran.add(name)
        kept = [f for f in found if (name, f[1]) not in ALLOW]
        used.update((name, f[1]) for f in found if (name, f[1]) in ALLOW)
        for where, _, what in kept:
            print("%s: [%s] %s" % (where, name, what))
        print("%s: %d finding(s), %d allow-listed" % (name, len(kept), len(found) - len(kept)))
        total += len(kept)
    stale = [k for k in ALLOW if k[0] in ran and k not in used]
    for k in stale:
        print("allow-list entry %s matches no finding any more: remove it" % (k,))
    return 1 if total or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
