#!/usr/bin/python3
"""Runs the end-to-end suites: every tests/e2e/test_*.py, in file-name order, so the
fault-injection suite (test_zz_faults.py, which stops and restarts PostgreSQL and Redis)
runs last. Its last line is `e2e: N passed, N failed` (plus `, N skipped` and
`, N expected failures` when there are any); the exit status is 0 only if nothing failed.

    tests/e2e/run.py                    every suite
    tests/e2e/run.py test_ops test_errors   only these modules (file names, with or without .py)
    tests/e2e/run.py -k slowloris       only tests whose id contains the word
    FLICK_E2E_STRICT=1 tests/e2e/run.py  tests marked as known server bugs count as plain
                                        tests (shows how they fail today)
"""
import faulthandler
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import flick  # noqa: E402

# A hung suite must not hang the runner: after this long, dump every thread and exit
# (without the summary line, which the caller counts as a failure).
WATCHDOG_S = int(os.environ.get("FLICK_E2E_WATCHDOG_S", "900"))


class Result(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0
        self.times = {}
        self._t0 = 0.0

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        self.times[test.id()] = time.monotonic() - self._t0
        super().stopTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def main(argv):
    only, words = [], []
    it = iter(argv)
    for a in it:
        if a == "-k":
            words.append(next(it, ""))
        else:
            only.append(a[:-3] if a.endswith(".py") else a)
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)

    names = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    if only:
        names = [n for n in names if n in only]
    # File-name order puts test_zz_* last; keep that true even if a name sorts oddly.
    names = [n for n in names if not n.startswith("test_zz")] + [n for n in names if n.startswith("test_zz")]

    loader = unittest.TestLoader()
    if words:
        loader.testNamePatterns = ["*%s*" % w for w in words]
    suite = unittest.TestSuite()
    load_errors = 0
    for n in names:
        try:
            suite.addTests(loader.loadTestsFromName(n))
        except Exception as e:      # a module that does not import is a failure
            print("ERROR: cannot load %s: %r" % (n, e), flush=True)
            load_errors += 1

    if os.environ.get("FLICK_E2E_STRICT") == "1":
        for test in iter_tests(suite):
            fn = getattr(type(test), getattr(test, "_testMethodName", ""), None)
            if getattr(fn, "__unittest_expecting_failure__", False):
                fn.__unittest_expecting_failure__ = False

    started = time.monotonic()
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result)
    try:
        result = runner.run(suite)
    finally:
        flick.stop_all()
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses) + load_errors
    line = "e2e: %d passed, %d failed" % (result.passed, failed)
    if result.skipped:
        line += ", %d skipped" % len(result.skipped)
    if result.expectedFailures:
        line += ", %d expected failures" % len(result.expectedFailures)
    sys.stderr.flush()
    slow = sorted(result.times.items(), key=lambda kv: -kv[1])[:5]
    per_module = {}
    for k, v in result.times.items():
        per_module[k.split(".", 1)[0]] = per_module.get(k.split(".", 1)[0], 0.0) + v
    print("by suite: " + ", ".join("%s %.0f s" % kv for kv in sorted(per_module.items())))
    print("slowest: " + ", ".join("%s %.1f s" % (k.split(".", 1)[1], v) for k, v in slow))
    print("(%.1f s)" % (time.monotonic() - started))
    print(line, flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
