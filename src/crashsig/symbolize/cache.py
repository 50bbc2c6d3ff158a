"""The on-disk index, one JSON file per build-id, so a new process starts warm.

It keeps what is expensive to rebuild and cheap to store: the address -> unit ranges
(``.debug_aranges`` plus units missing from it), the subprogram index of every unit a
lookup has touched, resolved ``func/size`` symbols, and finished lookups (failures too,
as syzkaller ``pkg/symbolizer/cache.go`` does). Files without a build-id are not cached.
A damaged index file is ignored and rewritten; writes are atomic.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from crashsig.symbolize.binary import BinarySymbolizer
from crashsig.symbolize.location import Location

log = logging.getLogger(__name__)
FORMAT = 1
MAX_RESULTS = 100_000


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/crashsig/symbolize``, else ``~/.cache/crashsig/symbolize``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "crashsig" / "symbolize"


class IndexCache:
    """Loads and saves the index of each binary that has a build-id."""

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._loaded: dict[str, tuple[int, int, int, int]] = {}

    def _file(self, binary: BinarySymbolizer) -> Path | None:
        build_id = binary.build_id
        return self.dir / f"{build_id}.json" if build_id else None

    def attach(self, binary: BinarySymbolizer) -> None:
        """Preload ``binary`` from its index file, if there is a valid one."""
        path = self._file(binary)
        if path is None or not path.is_file():
            return
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT:
                return
            units = [tuple(e) for e in data["units"]] if data.get("units") is not None else None
            functions = {int(k): [tuple(e) for e in v] for k, v in data["functions"].items()}
            results = {int(k): tuple(Location(*loc) for loc in v) for k, v in data["results"].items()}
            symbols = {str(k): int(v) for k, v in data["symbols"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.info("ignoring damaged index %s (%s)", path, exc)
            return
        if binary.dwarf is not None:
            binary.dwarf.unit_ranges_override = units  # type: ignore[assignment]
            binary.dwarf.function_cache.update(functions)  # type: ignore[arg-type]
        binary.results.update(results)
        binary.symbol_addresses.update(symbols)
        self._loaded[binary.path] = _sizes(binary)

    def save(self, binary: BinarySymbolizer) -> None:
        """Write the index of ``binary`` when this process learned something new."""
        path = self._file(binary)
        if path is None or self._loaded.get(binary.path) == _sizes(binary):
            return
        dwarf = binary.dwarf
        units = dwarf.unit_index.entries() if dwarf is not None and "unit_index" in dwarf.__dict__ else None
        if units is None and dwarf is not None and dwarf.unit_ranges_override is not None:
            units = dwarf.unit_ranges_override
        results = dict(list(binary.results.items())[-MAX_RESULTS:])
        data = {
            "format": FORMAT,
            "path": binary.path,
            "units": units,
            "functions": {str(k): v for k, v in (dwarf.function_cache.items() if dwarf else ())},
            "results": {str(k): [_location_row(loc) for loc in v] for k, v in results.items()},
            "symbols": binary.symbol_addresses,
        }
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".index-")
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, separators=(",", ":"))
            os.replace(tmp, path)
        except OSError as exc:
            log.info("cannot write index %s (%s)", path, exc)
        self._loaded[binary.path] = _sizes(binary)


def _location_row(loc: Location) -> list[object]:
    return [loc.function, loc.file, loc.line, loc.column, loc.inlined, loc.comp_dir]


def _sizes(binary: BinarySymbolizer) -> tuple[int, int, int, int]:
    dwarf = binary.dwarf
    units = 1 if dwarf is not None and ("unit_index" in dwarf.__dict__ or dwarf.unit_ranges_override) else 0
    return units, len(dwarf.function_cache) if dwarf else 0, len(binary.results), len(binary.symbol_addresses)
