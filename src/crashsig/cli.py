"""The ``crashsig`` command line: glue over the public API.

Each subcommand lives in its own module that exposes ``register(subparsers)``; the
parser it adds sets ``func(args) -> int``. ``main`` catches ``CrashsigError`` once and
prints ``crashsig: error: ...`` with exit status 2.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from crashsig import _import_module
from crashsig.errors import CrashsigError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of a crashsig symbolize run)
if TYPE_CHECKING:
    from typing import Any

EXIT_USAGE = 2
DESCRIPTION = (
    "crashsig: turn Linux kernel console logs into answers (parse oopses with syzbot titles, "
    "symbolize frames, compute signatures, bisect without being derailed)."
)


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, sized without importing ``shutil``.

    argparse builds a formatter for every argument it adds, and the stock one imports
    ``shutil`` to size it: 2 ms of the 20 a ``crashsig symbolize`` process has.
    """

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, _terminal_columns() - 2 if width is None else width)


def _terminal_columns() -> int:
    """What ``shutil.get_terminal_size().columns`` gives: $COLUMNS, the terminal's, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with crashsig's one-line error format, exit status 2 and :class:`_HelpFormatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise SystemExit(_fail(f"{message} (see 'crashsig --help')"))


def _fail(message: str) -> int:
    print(f"crashsig: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Return the top-level argument parser.

    With ``command``, only that subcommand's module is imported and registered when it
    exists (start-up time: ``crashsig symbolize`` needs neither the parser nor QEMU);
    otherwise every subcommand is.
    """
    parser = _ArgumentParser(prog="crashsig", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    subparsers.required = True
    single = _command_module(command) if command else None
    if single is not None:
        single.register(subparsers)
        if command in subparsers.choices:
            return parser
        return build_parser()
    from crashsig import commands

    for register in commands.REGISTRY:
        register(subparsers)
    return parser


def _command_module(command: str) -> ModuleType | None:
    """``crashsig.commands.<command without dashes>_cmd``, or None when there is none."""
    stem = command.replace("-", "")
    if not stem.isidentifier():
        return None
    name = f"crashsig.commands.{stem}_cmd"
    try:
        return _import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def entry_point() -> int:
    """The ``crashsig`` script and ``python -m crashsig``: :func:`main`, then ``gc.freeze()``.

    Frozen objects are left alone by the garbage collection the interpreter runs at
    exit, which walks every object still alive: 1.5 ms of a 20 ms lookup process from
    the index, 4 ms without it. Nothing crashsig opened is left open by then, so skipping
    it loses nothing. (Not in :func:`main`: a test process that calls it goes on.)
    """
    status = main()
    gc.freeze()
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list[0] if args_list and not args_list[0].startswith("-") else None)
    try:
        args = parser.parse_args(args_list)
        return int(args.func(args))
    except CrashsigError as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return _fail("interrupted")
