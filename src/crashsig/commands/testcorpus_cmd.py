"""``crashsig test-corpus DIR``: run syzkaller-format annotated logs against the parser."""

from __future__ import annotations

import argparse
from pathlib import Path

from crashsig import corpus
from crashsig.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``test-corpus`` subcommand."""
    parser = subparsers.add_parser("test-corpus", help="check annotated logs (report/N, guilty/N) against the parser")
    parser.add_argument("directory", metavar="DIR", help="folder holding report/ and/or guilty/ subfolders")
    parser.add_argument("--quiet", action="store_true", help="print only the summary line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check every case; print mismatches field by field and an ``N passed, N failed`` line."""
    directory = Path(args.directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory")
    passed = failed = 0
    for case in corpus.iter_cases(directory):
        kind = "report" if isinstance(case, corpus.ReportCase) else "guilty"
        mismatches = corpus.check_case(case)
        if not mismatches:
            passed += 1
            continue
        failed += 1
        if not args.quiet:
            print(f"FAIL {kind}/{case.name}")
            for mismatch in mismatches:
                print(f"  {mismatch.field}: expected {mismatch.expected!r}")
                print(f"  {' ' * len(mismatch.field)}  actual   {mismatch.actual!r}")
    if passed + failed == 0:
        raise InputError(f"{directory}: no report/N or guilty/N files")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
