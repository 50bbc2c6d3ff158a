"""Reading CLI inputs: plain, gzip or xz files, or standard input."""

from __future__ import annotations

import gzip
import lzma
import sys
from collections.abc import Iterator
from pathlib import Path

from crashsig.errors import InputError

STDIN = "-"


def iter_inputs(files: list[str]) -> Iterator[str]:
    """Input names in order; standard input when none is given."""
    yield from files or [STDIN]


def read_input(name: str) -> bytes:
    """Read a whole input, decompressing ``.gz`` and ``.xz``; errors become ``InputError``."""
    if name == STDIN:
        return sys.stdin.buffer.read()
    path = Path(name)
    try:
        if path.is_dir():
            raise InputError(f"{name}: is a directory")
        if name.endswith(".gz"):
            with gzip.open(path) as stream:
                return stream.read()
        if name.endswith(".xz"):
            with lzma.open(path) as stream:
                return stream.read()
        return path.read_bytes()
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise InputError(f"{name}: {getattr(exc, 'strerror', None) or exc}") from exc
