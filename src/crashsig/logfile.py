"""Opening log inputs: plain, gzip or xz files, or standard input (no parser import)."""

from __future__ import annotations

import gzip
import lzma
import sys
import zlib
from pathlib import Path
from typing import BinaryIO

STDIN = "-"
"""The input name that means standard input."""

READ_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error)
"""What reading a plain or compressed log can raise (corrupt gzip/xz data included)."""


def open_log_stream(name: str) -> BinaryIO:
    """Open a log for reading: a plain, ``.gz`` or ``.xz`` file, or ``-`` for stdin."""
    if name == STDIN:
        return sys.stdin.buffer
    path = Path(name)
    if name.endswith(".gz"):
        return gzip.open(path)  # type: ignore[return-value]
    if name.endswith(".xz"):
        return lzma.open(path)  # type: ignore[return-value]
    return open(path, "rb")
