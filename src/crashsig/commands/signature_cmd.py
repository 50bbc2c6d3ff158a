"""``crashsig signature``: kernel build signatures of ELF files, crash signatures of logs."""

from __future__ import annotations

import argparse
import sys

from crashsig.commands.io import read_input
from crashsig.errors import CrashsigError, InputError
from crashsig.kernelsig import iter_section_digests, kernel_signature
from crashsig.parse import parse

EXIT_ERROR = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``signature`` subcommand."""
    parser = subparsers.add_parser(
        "signature",
        help="print kernel build signatures (--kernel) or crash signatures of console logs",
        description="With --kernel, print syzbot's build signature of each ELF file "
        "(exit 2 if one is not a readable ELF). Otherwise print the crash signature and "
        "title of every report in each console log.",
    )
    parser.add_argument("files", nargs="*", metavar="LOG", help="console logs ('-' for standard input)")
    parser.add_argument("--kernel", nargs="+", metavar="FILE", help="vmlinux or other ELF files")
    parser.add_argument(
        "--sections", action="store_true", help="with --kernel, also print each hashed section's digest"
    )
    parser.set_defaults(func=run)


def _kernel(path: str, sections: bool) -> None:
    if sections:
        for digest in iter_section_digests(path):
            print(f"  [{digest.index:>5}] {digest.name:<32} {digest.size:>12} {digest.digest.hex()[:16]}")
    print(f"{kernel_signature(path)}  {path}")


def _log(path: str) -> None:
    reports = parse(read_input(path))
    if not reports:
        print(f"-                 {path}: no crash")
    for report in reports:
        print(f"{report.signature}  {path}: {report.title}")


def run(args: argparse.Namespace) -> int:
    """Print one line per file; report failures and keep going; exit 2 if any failed."""
    if not args.kernel and not args.files:
        raise InputError("nothing to sign: give --kernel FILE... or console logs")
    jobs = [(path, True) for path in args.kernel or ()] + [(path, False) for path in args.files]
    status = 0
    for path, is_kernel in jobs:
        try:
            if is_kernel:
                _kernel(path, args.sections)
            else:
                _log(path)
        except CrashsigError as exc:
            print(f"crashsig: error: {exc}", file=sys.stderr)
            status = EXIT_ERROR
    return status
