"""Parsing logs from files of any size in bounded memory.

The file is memory-mapped (compressed input and standard input are first unpacked
into a temporary file), header lines are found by one linear scan, and only the
regions around oopses are ever read into memory. On files of 32 MiB or more the scan
uses GNU grep's multi-string search when ``grep`` is installed, because no pure-Python
loop comes near its speed; otherwise, and if grep fails, a pure-Python scan runs.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from crashsig.errors import InputError
from crashsig.logfile import READ_ERRORS, STDIN, open_log_stream
from crashsig.oopsindex import SCAN_LITERALS, OopsIndex, release, scan_line_starts
from crashsig.parse import Symbolizing, iter_index_reports
from crashsig.types import Report

GREP_MIN_SIZE = 32 << 20
_SCAN_CHUNK = 64 << 20
_COPY_CHUNK = 1 << 20
_GREP_SECONDS_PER_GB = 120


def _is_pipe(name: str) -> bool:
    """True for a FIFO or character device (``<(cmd)``, ``/dev/stdin``): it cannot be mapped."""
    try:
        mode = os.stat(name).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


@contextlib.contextmanager
def _plain_file(name: str) -> Iterator[Path]:
    """A path to the uncompressed bytes of ``name`` (a temporary copy when needed)."""
    if name != STDIN and not name.endswith((".gz", ".xz")) and not _is_pipe(name):
        yield Path(name)
        return
    with tempfile.NamedTemporaryFile(prefix="crashsig-", suffix=".log") as copy:
        with open_log_stream(name) as stream:
            while chunk := stream.read(_COPY_CHUNK):
                copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


def _grep_line_starts(path: Path, log: mmap.mmap) -> list[int] | None:
    """Offsets of candidate lines found by ``grep -F``; None when grep is unusable."""
    grep = shutil.which("grep")
    if grep is None:
        return None
    with tempfile.NamedTemporaryFile(prefix="crashsig-patterns-") as patterns:
        patterns.write(b"\n".join(SCAN_LITERALS) + b"\n")
        patterns.flush()
        argv = [grep, "-a", "-b", "-o", "-F", "-f", patterns.name, "--", str(path)]
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "LC_ALL": "C"}
        )
        timer = threading.Timer(60 + len(log) / 1e9 * _GREP_SECONDS_PER_GB, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            starts = _line_starts_of_matches(proc.stdout, log)
        except ValueError:
            proc.kill()
            return None
        finally:
            timer.cancel()
            proc.wait()
    return starts if proc.returncode in (0, 1) else None


def _line_starts_of_matches(rows: Iterable[bytes], log: mmap.mmap) -> list[int]:
    """Line starts of grep's ``OFFSET:match`` rows, one per line."""
    starts: list[int] = []
    line_end = -1
    for row in rows:
        offset = int(row.split(b":", 1)[0])
        if offset > line_end:
            starts.append(log.rfind(b"\n", 0, offset) + 1)
            end = log.find(b"\n", offset)
            line_end = len(log) if end == -1 else end
    return starts


def _python_line_starts(log: mmap.mmap) -> Iterator[int]:
    """Chunked pure-Python scan that drops scanned pages from memory as it goes."""
    start = 0
    while start < len(log):
        end = log.find(b"\n", min(start + _SCAN_CHUNK, len(log)))
        end = len(log) if end == -1 else end + 1
        yield from scan_line_starts(log, start, end)
        release(log, start, end)
        start = end


def iter_file_reports(
    name: str, *, title_style: str = "current", symbolizer: Symbolizing | None = None
) -> Iterator[Report]:
    """Yield the reports of a log file (plain, ``.gz``, ``.xz``, or ``-`` for stdin)."""
    try:
        with _plain_file(name) as path, open(path, "rb") as file:
            if os.fstat(file.fileno()).st_size == 0:
                return
            with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as log:
                starts: Iterable[int] | None = None
                if len(log) >= GREP_MIN_SIZE:
                    starts = _grep_line_starts(path, log)
                index = OopsIndex(log, starts if starts is not None else _python_line_starts(log))
                release(log)
                for report in iter_index_reports(index, title_style=title_style, symbolizer=symbolizer):
                    release(log)  # what one report touched: the resident set stays bounded
                    yield report
    except READ_ERRORS as exc:
        raise InputError(f"{name}: {getattr(exc, 'strerror', None) or exc}") from exc
