"""Check 4 of the docs check (tests/docs/docs_check.py): the `fedlog` verbs' flags and the pages agree."""
import bisect
import re
import subprocess

from docs_tree import code_files, live_pages, outside_fences, pages, read

FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
DOC_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*\*?)")  # `--dp-*` names every --dp- flag
ALWAYS = {"help", "version"}


def usages(root, fedlog):
    """verb -> its usage: the line `fedlog help` prints, plus the full usage text the verb's source holds
    (a chain of string literals opening with "usage: fedlog VERB", printed when its options do not parse)."""
    r = subprocess.run([fedlog, "help"], capture_output=True, text=True, timeout=60)
    verbs = {}
    for m in re.finditer(r"^      fedlog (.*)$", r.stdout + r.stderr, re.M):
        words = m.group(1).split()
        two = len(words) > 1 and re.fullmatch(r"[a-z]+", words[1])
        verbs[" ".join(words[:2]) if two else words[0]] = m.group(1)
    if not verbs:
        raise RuntimeError("`%s help` listed no verbs" % fedlog)
    names = sorted(verbs, key=len, reverse=True)
    for rel in code_files(root):
        if not (rel.startswith("tools/") and rel.endswith(".cc")):
            continue
        text = read(root, rel)
        for m in re.finditer(r'"usage: fedlog ', text):
            usage = literal_chain(text, m.start())
            verb = next((n for n in names if re.match(re.escape(n) + r"(?![\w-])", usage[14:])), None)
            if verb:
                verbs[verb] += "\n" + usage
    return verbs


def literal_chain(text, i):
    """The string literals from text[i] (a quote) on, through `+ expr +` joins, up to the statement's end."""
    out = []
    while i < len(text) and text[i] == '"':
        m = re.compile(r'"((?:[^"\\\n]|\\.)*)"').match(text, i)
        out.append(m.group(1).replace("\\n", "\n").replace('\\"', '"'))
        j = m.end()
        while j < len(text) and text[j] in " \t\n":
            j += 1
        if j < len(text) and text[j] == "+" and text[j + 1:].lstrip()[:1] != '"':  # `+ expr + "..."`
            nxt, end = re.compile(r'\+\s*"').search(text, j + 1), text.find(";", j)
            j = nxt.end() - 1 if nxt and (end < 0 or nxt.start() < end) else len(text)
        elif j < len(text) and text[j] == "+":
            j = text.index('"', j)
        i = j
    return "".join(out)


def doc_commands(text, verbs):
    """(line, verb, flags) for each `fedlog VERB ...` a page writes, in code spans and code blocks."""
    names = sorted(verbs, key=len, reverse=True)
    lines = text.split("\n")
    head = re.compile(r"(?<![\w-])fedlog\s+(%s)(?![\w-])" % "|".join(re.escape(n) for n in names))
    fences = [f for _, _, f in outside_fences(text)]
    i = 0
    while i < len(lines):
        if fences[i]:
            m = head.search(lines[i])
            if m:
                body, j = lines[i][m.end():], i + 1
                while j < len(lines) and fences[j] and re.match(r"\s+[\[#(-]", lines[j]):
                    body, j = body + " " + lines[j], j + 1
                yield i + 1, m.group(1), DOC_FLAG.findall(body)
        i += 1
    breaks = [k for k, c in enumerate(text) if c == "\n"]
    for m in re.finditer(r"`([^`]+)`", text):
        line = bisect.bisect_left(breaks, m.start()) + 1
        if fences[line - 1]:
            continue
        h = head.search(m.group(1))
        if h:
            yield line, h.group(1), DOC_FLAG.findall(m.group(1)[h.end():])


def check_flags(root, fedlog):
    verbs = usages(root, fedlog)
    findings = []
    texts = {p: read(root, p) for p in pages(root)}
    for verb, usage in sorted(verbs.items()):
        shown = [p for p in live_pages(root)] + (["docs/EVALUATION.md"] if verb.startswith("eval ") else [])
        for flag in sorted(set(FLAG.findall(usage)) - ALWAYS):
            pat = re.compile(r"(?<![\w-])--%s(?![\w-])" % re.escape(flag))
            if not any(pat.search(texts[p]) for p in shown):
                findings.append(("fedlog " + verb, verb + " --" + flag, "--%s is in the usage but in no page" % flag))
    for rel in live_pages(root):
        for line, verb, flags in doc_commands(texts[rel], verbs):
            accepted = set(FLAG.findall(verbs[verb])) | ALWAYS
            for flag in flags:
                stem = flag.rstrip("*")
                if flag not in accepted and not (flag != stem and any(a.startswith(stem) for a in accepted)):
                    findings.append(("%s:%d" % (rel, line), verb + " --" + flag,
                                     "`fedlog %s` has no --%s in its usage" % (verb, flag)))
    return findings
