"""Reading CLI inputs: plain, gzip or xz files, or standard input."""

from __future__ import annotations

from collections.abc import Iterator

from crashsig.errors import InputError
from crashsig.logfile import READ_ERRORS, STDIN, open_log_stream


def iter_inputs(files: list[str]) -> Iterator[str]:
    """Input names in order; standard input when none is given."""
    yield from files or [STDIN]


def read_input(name: str) -> bytes:
    """Read a whole input, decompressing ``.gz`` and ``.xz``; errors become ``InputError``."""
    try:
        with open_log_stream(name) as stream:
            return stream.read()
    except READ_ERRORS as exc:
        raise InputError(f"{name}: {getattr(exc, 'strerror', None) or exc}") from exc
