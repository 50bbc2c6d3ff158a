"""Subcommands of the ``crashsig`` CLI, one module each.

A module exposes ``register(subparsers)``; it adds its parser and sets
``func(args) -> int`` as the default. Add new commands to ``REGISTRY`` (one import and
one line in ``__getattr__`` below). Name the module after the command without dashes
(``bisect-log`` -> ``bisectlog_cmd``): ``crashsig NAME ...`` then imports only that
module, and the others load only for the full parser (``crashsig --help``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of a crashsig symbolize run)
if TYPE_CHECKING:
    from typing import Any

Register = Callable[["argparse._SubParsersAction[Any]"], None]
"""A command's ``register``: it gets the CLI's subparsers (of crashsig's ArgumentParser subclass)."""


def __getattr__(name: str) -> list[Register]:
    """``REGISTRY``: every subcommand's ``register``, importing the modules on first use."""
    if name != "REGISTRY":
        raise AttributeError(f"module 'crashsig.commands' has no attribute {name!r}")
    from crashsig.commands import (
        bisect_cmd,
        bisectlog_cmd,
        bisectrun_cmd,
        boot_cmd,
        parse_cmd,
        signature_cmd,
        symbolize_cmd,
        testcorpus_cmd,
    )

    return [
        parse_cmd.register,
        testcorpus_cmd.register,
        symbolize_cmd.register,
        boot_cmd.register,
        signature_cmd.register,
        bisectlog_cmd.register,
        bisect_cmd.register,
        bisectrun_cmd.register,
    ]
