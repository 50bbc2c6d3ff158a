"""Where index files live, and opening or building the one of an ELF file.

An index is keyed by the file's build-id and size (a stripped copy keeps the build-id
of its debug original but not its size), so ``<build-id>-<size>.idx`` in the cache
directory. It is built on first use and never changes afterwards; a damaged or
foreign file is ignored and rebuilt. Files without a build-id are not indexed.
"""

from __future__ import annotations

import os
import struct
import time

from crashsig.errors import CrashsigError
from crashsig.symbolize.elfheaders import read_build_id
from crashsig.symbolize.index import IndexedBinary, IndexFile

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of a crashsig symbolize run)
if TYPE_CHECKING:
    import logging

    from crashsig.symbolize.binary import BinarySymbolizer


def logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)``, importing ``logging`` when something is logged.

    A process that answers from the index logs nothing and so never loads ``logging``
    (or ``pathlib``): those imports would be a fifth of its run time.
    """
    import logging

    return logging.getLogger(name)


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/crashsig/symbolize``, else ``~/.cache/crashsig/symbolize``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "crashsig", "symbolize")


class IndexCache:
    """Opens the index of a binary, or builds it from a directly read one."""

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.dir = os.fspath(cache_dir) if cache_dir is not None else default_cache_dir()

    def index_path(self, build_id: str, size: int) -> str:
        """The index file of a binary with this build-id and size."""
        return os.path.join(self.dir, f"{build_id}-{size:x}.idx")

    def open(self, path: str | os.PathLike[str]) -> IndexedBinary | None:
        """The indexed binary for ``path`` when a valid index exists (no ELF parsing)."""
        build_id = read_build_id(path)
        if build_id is None:
            return None
        try:
            index_file = self.index_path(build_id, os.stat(path).st_size)
            index = IndexFile(index_file)
        except (OSError, ValueError) as exc:
            logger(__name__).debug("no usable index for %s (%s)", path, exc)
            return None
        if index.build_id != build_id:
            index.close()
            return None
        return IndexedBinary(index, os.fspath(path))

    def build(self, binary: BinarySymbolizer) -> IndexedBinary | None:
        """Write the index of ``binary`` and open it; None (and a log line) when that fails."""
        from crashsig.symbolize.index_build import write_index  # only the first run builds

        if binary.build_id is None:
            return None
        target = self.index_path(binary.build_id, os.stat(binary.path).st_size)
        start = time.monotonic()
        logger(__name__).info("building the symbol index of %s in %s (once per build-id)", binary.path, target)
        try:
            write_index(binary, target)
        except (
            CrashsigError,
            OSError,
            IndexError,
            KeyError,
            struct.error,
            ValueError,
            OverflowError,
            RecursionError,
        ) as exc:
            logger(__name__).warning(
                "cannot build the index of %s (%s: %s); looking up directly", binary.path, type(exc).__name__, exc
            )
            return None
        logger(__name__).info("built %s in %.1f s", target, time.monotonic() - start)
        return self.open(binary.path)
