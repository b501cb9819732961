"""The `regex` name filter on a catastrophic pattern: Python's re (before) vs RE2 (after).

    .venv/bin/python bench/regex_filter.py [--rows 10] [--max-before-length 20]

A table of `--rows` names `a…a-` of one length in SQLite (in memory), filtered with
`name REGEXP '(a+)+$'` — issue 21's case: the pattern cannot match (the name ends in '-'), and a
backtracking engine tries every way of splitting the a's first. "before" registers REGEXP as
Django's SQLite backend does (Python's `re.search`); "after" registers the registry's
(`config.user_patterns`: RE2). Before grows ×2 per character, so it is run up to
`--max-before-length` only; after runs to 100,000 characters.
"""

import argparse
import os
import re
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from machine import describe_machine  # noqa: E402  (bench/ is the script's folder)

from config.user_patterns import _sqlite_regexp  # noqa: E402

PATTERN = "(a+)+$"


def python_re_regexp(pattern, string):
    # What Django's SQLite backend registers as REGEXP.
    if pattern is None or string is None:
        return None
    return bool(re.search(pattern, str(string)))


def filter_seconds(regexp, length: int, rows: int) -> float:
    database = sqlite3.connect(":memory:")
    database.create_function("REGEXP", 2, regexp, deterministic=True)
    database.execute("CREATE TABLE model (name TEXT)")
    database.executemany("INSERT INTO model VALUES (?)", [("a" * (length - 1) + "-",)] * rows)
    started = time.perf_counter()
    (matched,) = database.execute("SELECT count(*) FROM model WHERE name REGEXP ?",
                                  [PATTERN]).fetchone()
    elapsed = time.perf_counter() - started
    assert matched == 0
    database.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--max-before-length", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {describe_machine()}")
    print(f"workload: {args.rows} names of one length in SQLite, WHERE name REGEXP "
          f"'{PATTERN}' (no name matches)")
    print(f"{'length':>8} {'before (re)':>14} {'after (RE2)':>14} {'before/after':>13}")
    for length in (12, 16, 18, 20, 22, 24, 26, 1_000, 100_000):
        after = filter_seconds(_sqlite_regexp, length, args.rows)
        if length <= args.max_before_length:
            before = filter_seconds(python_re_regexp, length, args.rows)
            print(f"{length:>8} {before:>12.4f} s {after:>12.4f} s {before / after:>12,.0f}×")
        else:
            print(f"{length:>8} {'(not run)':>14} {after:>12.4f} s {'':>13}")


if __name__ == "__main__":
    main()
