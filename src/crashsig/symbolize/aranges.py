"""Address-range indexes: ``.debug_aranges`` and any other (start, end, value) table.

Ranges are sorted by start with a running maximum of ends, so overlapping ranges still
bisect (the shape of blazesym's unit index).
"""

from __future__ import annotations

import bisect
import itertools
import struct

from crashsig.errors import DwarfError
from crashsig.symbolize.reader import initial_length, unsigned


class RangeIndex:
    """Sorted address ranges, each mapped to an integer (a unit or DIE offset)."""

    def __init__(self, entries: list[tuple[int, int, int]]) -> None:
        entries = sorted(e for e in entries if e[1] > e[0])
        self.starts = [e[0] for e in entries]
        self.ends = [e[1] for e in entries]
        self.values = [e[2] for e in entries]
        self._maxend = list(itertools.accumulate(self.ends, max))

    def __len__(self) -> int:
        return len(self.starts)

    def find(self, address: int) -> int | None:
        """Value of the range containing ``address`` that starts last, or None."""
        pos = bisect.bisect_right(self.starts, address) - 1
        while pos >= 0 and self._maxend[pos] > address:
            if self.ends[pos] > address:
                return self.values[pos]
            pos -= 1
        return None

    def entries(self) -> list[tuple[int, int, int]]:
        """All ranges as (start, end, value) triples, sorted."""
        return list(zip(self.starts, self.ends, self.values, strict=True))


def parse_aranges(data: bytes, path: str) -> list[tuple[int, int, int]]:
    """Decode ``.debug_aranges``: (start, end, unit offset) for every listed range."""
    out: list[tuple[int, int, int]] = []
    pos = 0
    try:
        while pos + 4 <= len(data):
            length, offset_size, body = initial_length(data, pos)
            end = body + length
            if length == 0 or end > len(data):
                raise DwarfError(f"{path}: .debug_aranges set at {pos:#x} runs past the section")
            unit = unsigned(data, body + 2, offset_size)
            addr_size, seg_size = data[body + 2 + offset_size], data[body + 3 + offset_size]
            if addr_size not in (4, 8) or seg_size:
                raise DwarfError(f"{path}: .debug_aranges set at {pos:#x} has address size {addr_size}")
            tuples = body + 4 + offset_size
            tuples += -(tuples - pos) % (2 * addr_size)
            fmt = "<" + ("QQ" if addr_size == 8 else "II")
            usable = tuples + (end - tuples) // (2 * addr_size) * (2 * addr_size)
            for start, size in struct.iter_unpack(fmt, data[tuples:usable]):
                if start == 0 and size == 0:
                    break
                out.append((start, start + size, unit))
            pos = end
    except (IndexError, struct.error) as exc:
        raise DwarfError(f"{path}: truncated .debug_aranges at {pos:#x}") from exc
    return out
