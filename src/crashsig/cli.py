"""The ``crashsig`` command line: glue over the public API.

Each subcommand lives in its own module that exposes ``register(subparsers)``; the
parser it adds sets ``func(args) -> int``. ``main`` catches ``CrashsigError`` once and
prints ``crashsig: error: ...`` with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from crashsig.errors import CrashsigError

EXIT_USAGE = 2


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with crashsig's one-line error format and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise SystemExit(_fail(f"{message} (see 'crashsig --help')"))


def _fail(message: str) -> int:
    print(f"crashsig: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level argument parser with every subcommand registered."""
    from crashsig import commands

    parser = _ArgumentParser(prog="crashsig", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    subparsers.required = True
    for register in commands.REGISTRY:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    except CrashsigError as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return _fail("interrupted")
