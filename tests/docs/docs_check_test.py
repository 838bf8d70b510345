#!/usr/bin/env python3
"""Self-test of docs_check.py (ctest `docs_check_selftest`): a scratch tree with one agreeing and one disagreeing
case of each check, and a stand-in `fedlog` that prints a usage; each check must report exactly the disagreeing
ones. Without this, a checker that found nothing would pass on any tree."""
import contextlib
import io
import os
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import docs_check  # noqa: E402

FILES = {
    "README.md": "# fedlog\n\n## Tests\n\n`fedlog run start --rounds 3 --no-such-flag` and `fedlog run start --dp-*` (`--dp-clip C`).\n",
    "docs/GUIDE.md": (
        "# Guide\n\n## Which detector scores a source (`detect.detector_choice`)\n\n```\n# Not a heading\n```\n\n"
        "**The threshold** has stages. **Not a lead-in** mid-line.\n\n**Labels in live\ndetection.** Wraps.\n\n"
        "Code: `client/present.h`, `client/absent.h`, `client/mod` (a module), `common/*`, `client/pres*.h`.\n"
        "Metrics: `fedlog_detect_lines_total`, `fedlog_detect_gone_total`; library `fedlog_lib`.\n"
        "See EVALUATION.md \"Session 3: ...\" and \"Session 4\", and EVALUATION.md \"Session 5\".\n"
        "[ok](GUIDE.md#which-detector-scores-a-source-detectdetector_choice), [bad](#the-threshold).\n"),
    "docs/EVALUATION.md": "# Evaluation\n\n### Session 3: one thing\n\n### Session 4: another (tried)\n",
    "client/present.h": ('// docs/GUIDE.md "Which detector scores a source", GUIDE.md, "The threshold" and\n'
                         '// "Labels in live detection"; docs/GUIDE.md "The federation\'s\n// kind verdicts".\n'
                         '// docs/MISSING.md "Anything"; docs/GUIDE.md "Which detector..."; GUIDE.md "The"\n'
                         '// docs/NOPE.md\n'),
    "client/mod.cc": ('const char* kM = "fedlog_detect_lines_total"; const char* kN = "fedlog_detect_quiet_total";\n'
                      'const char* kPath = "client/not_a_reference.h";  // as in client/present.h, not client/gone.cc\n'),
    "client/CMakeLists.txt": "fedlog_cc_library(NAME fedlog_lib SRCS mod.cc)\n",
    "common/base.h": "",
}
USAGE = "run start --rounds N [--watch] [--dp-clip C]"
HELP = "#!/bin/sh\necho 'verbs:' >&2\necho '  run start  starts' >&2\necho '      fedlog %s' >&2\n" % USAGE


class DocsCheckTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.root = self.dir.name
        for rel, text in FILES.items():
            os.makedirs(os.path.dirname(os.path.join(self.root, rel)), exist_ok=True)
            with open(os.path.join(self.root, rel), "w") as f:
                f.write(text)
        self.fedlog = os.path.join(self.root, "fedlog")
        with open(self.fedlog, "w") as f:
            f.write(HELP)
        os.chmod(self.fedlog, stat.S_IRWXU)

    def tearDown(self):
        self.dir.cleanup()

    def keys(self, findings):
        return sorted(f[1] for f in findings)

    def test_titles(self):
        titles = docs_check.titles(FILES["docs/GUIDE.md"])
        self.assertIn("The threshold", titles)
        self.assertIn("Labels in live detection", titles)
        self.assertNotIn("Not a heading", titles)
        self.assertNotIn("Not a lead-in", titles)

    def test_refs(self):
        self.assertEqual(self.keys(docs_check.check_refs(self.root)),
                         ["docs/EVALUATION.md Session 5", "docs/GUIDE.md The", "docs/GUIDE.md The federation's kind "
                          "verdicts", "docs/GUIDE.md#the-threshold", "docs/MISSING.md", "docs/MISSING.md",
                          "docs/NOPE.md"])

    def test_paths(self):
        self.assertEqual(self.keys(docs_check.check_paths(self.root)), ["client/absent.h", "client/gone.cc"])

    def test_flags(self):
        found = docs_check.check_flags(self.root, self.fedlog)
        # --watch is in the usage and in no page; --no-such-flag is written in README but not in the usage.
        self.assertEqual(self.keys(found), ["run start --no-such-flag", "run start --watch"])

    def test_metrics(self):
        self.assertEqual(self.keys(docs_check.check_metrics(self.root)),
                         ["fedlog_detect_gone_total", "fedlog_detect_quiet_total"])

    def test_main_fails_on_findings(self):
        with contextlib.redirect_stdout(io.StringIO()) as out:
            self.assertEqual(docs_check.main(["docs_check.py", self.root]), 1)
        self.assertIn("client/absent.h", out.getvalue())

    def test_allow_list(self):
        docs_check.ALLOW[("paths", "client/absent.h")] = "seeded"
        docs_check.ALLOW[("metrics", "fedlog_gone")] = "matches nothing"
        try:
            with contextlib.redirect_stdout(io.StringIO()) as out:
                docs_check.main(["docs_check.py", self.root])
        finally:
            docs_check.ALLOW.clear()
        self.assertIn("paths: 1 finding(s), 1 allow-listed", out.getvalue())  # client/gone.cc stays
        self.assertIn("('metrics', 'fedlog_gone') matches no finding any more", out.getvalue())


if __name__ == "__main__":
    unittest.main()
