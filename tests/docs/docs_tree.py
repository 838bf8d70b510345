"""The docs check's view of the tree (tests/docs/docs_check.py): its pages, its source files, the section titles
of a page, and a source file's text with its lines joined so that a quoted title may wrap."""
import bisect
import os
import re

HISTORY = {"docs/EVALUATION.md", "docs/BENCHMARKS.md"}  # they record past states: no source of findings
CODE_DIRS = ["bench", "certs", "client", "cmake", "common", "deploy", "proto", "scripts", "server", "tests",
             "tools", ".ci"]
CODE_EXT = (".h", ".cc", ".proto", ".sh", ".py", ".cmake", ".txt", ".yaml", ".yml", ".in")


def read(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        return f.read()


def pages(root):
    """Every docs page, repo-relative: README.md and docs/*.md."""
    return ["README.md"] + sorted("docs/" + n for n in os.listdir(os.path.join(root, "docs")) if n.endswith(".md"))


def live_pages(root):
    return [p for p in pages(root) if p not in HISTORY]


def code_files(root):
    out = [n for n in ("CMakeLists.txt", "Makefile") if os.path.exists(os.path.join(root, n))]
    for d in CODE_DIRS:
        for base, dirs, files in os.walk(os.path.join(root, d)):
            dirs[:] = sorted(x for x in dirs if not x.startswith("build"))
            for n in sorted(files):
                if n.endswith(CODE_EXT) or n == "Makefile":
                    out.append(os.path.relpath(os.path.join(base, n), root))
    return out


def outside_fences(text):
    """(line number, line, in_fence) for each line of a markdown page."""
    fence = False
    for i, line in enumerate(text.split("\n"), 1):
        if re.match(r"\s*```", line):
            fence = not fence
            yield i, line, True
            continue
        yield i, line, fence


def titles(text, bold=True):
    """A page's section titles: its headings outside fenced code and (`bold`) its bold lead-ins."""
    out = set()
    lines = list(outside_fences(text))
    for k, (_, line, fence) in enumerate(lines):
        if fence:
            continue
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            out.add(m.group(1))
        if bold and line.startswith("**"):  # a bold lead-in may wrap over the next lines of its paragraph
            para = " ".join(l.strip() for _, l, f in lines[k:k + 3] if not f)
            m = re.match(r"\*\*(.+?)[.:]?\*\*", para)
            if m:
                out.add(m.group(1))
    return out


def joined(text, strip_comments):
    """The file's lines joined by blanks (comment markers stripped), and the line number of each offset."""
    parts, starts, offset = [], [], 0
    for i, line in enumerate(text.split("\n"), 1):
        s = re.sub(r"^\s*(//+|#+(?!\w)|/?\*+/?|--)?\s*", "", line) if strip_comments else line.strip()
        starts.append(offset)
        parts.append(s)
        offset += len(s) + 1
    return " ".join(parts), starts


def line_of(starts, offset):
    return bisect.bisect_right(starts, offset)
