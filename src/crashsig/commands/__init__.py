"""Subcommands of the ``crashsig`` CLI, one module each.

A module exposes ``register(subparsers)``; it adds its parser and sets
``func(args) -> int`` as the default. Add new commands to ``REGISTRY``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

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

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

REGISTRY: list[Register] = [
    parse_cmd.register,
    testcorpus_cmd.register,
    symbolize_cmd.register,
    boot_cmd.register,
    signature_cmd.register,
    bisectlog_cmd.register,
    bisect_cmd.register,
    bisectrun_cmd.register,
]
