"""Address-range indexes: ``.debug_aranges`` and any other (start, end, value) table.

Ranges are sorted by start with a running maximum of ends, so overlapping ranges still
bisect (the shape of blazesym's unit index).
"""

from __future__ import annotations

import bisect
import itertools
import operator
import struct
from collections.abc import Sequence

from crashsig.errors import DwarfError
from crashsig.symbolize.reader import initial_length, unsigned


class RangeIndex:
    """Sorted address ranges, each mapped to an integer (a unit or DIE offset)."""

    def __init__(self, entries: list[tuple[int, int, int]]) -> None:
        columns = list(zip(*sorted_ranges(entries))) or [(), (), ()]
        self.starts, self.ends, self.values = (list(column) for column in columns)
        ascending = all(map(operator.le, self.ends, self.ends[1:]))  # then each end is the running maximum
        self._maxend = self.ends if ascending else list(itertools.accumulate(self.ends, max))

    def __len__(self) -> int:
        return len(self.starts)

    def find(self, address: int) -> int | None:
        """Value of the range containing ``address`` that starts last, or None."""
        pos = find_range(self.starts, self.ends, self._maxend, 0, len(self.starts), address)
        return None if pos is None else self.values[pos]


def sorted_ranges(entries: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Non-empty ranges in the order :class:`RangeIndex` and the on-disk index keep them."""
    return sorted(e for e in entries if e[1] > e[0])


def find_range(
    starts: Sequence[int], ends: Sequence[int], maxend: Sequence[int], lo: int, hi: int, address: int
) -> int | None:
    """Position in ``[lo, hi)`` of the range containing ``address`` that starts last, or None.

    ``maxend`` is the running maximum of ``ends`` from ``lo`` on; the arrays may be
    lists or memoryviews of the on-disk index.
    """
    pos = bisect.bisect_right(starts, address, lo, hi) - 1
    while pos >= lo and maxend[pos] > address:
        if ends[pos] > address:
            return pos
        pos -= 1
    return None


_SET_HEAD = struct.Struct("<IHIBB")
"""unit_length, version, debug_info_offset, address_size, segment_selector_size (32-bit DWARF)."""
_PAIRS = {8: struct.Struct("<QQ"), 4: struct.Struct("<II")}


def parse_aranges(data: bytes, path: str) -> list[tuple[int, int, int]]:
    """Decode ``.debug_aranges``: (start, end, unit offset) for every listed range."""
    out: list[tuple[int, int, int]] = []
    add = out.append
    pos = 0
    try:
        while pos + 4 <= len(data):
            length, _, unit, addr_size, seg_size = _SET_HEAD.unpack_from(data, pos)
            body, offset_size = pos + 4, 4
            if length >= 0xFFFFFFF0:  # 64-bit DWARF
                length, offset_size, body = initial_length(data, pos)
                unit = unsigned(data, body + 2, offset_size)
                addr_size, seg_size = data[body + 2 + offset_size], data[body + 3 + offset_size]
            end = body + length
            if length == 0 or end > len(data):
                raise DwarfError(f"{path}: .debug_aranges set at {pos:#x} runs past the section")
            if addr_size not in _PAIRS or seg_size:
                raise DwarfError(f"{path}: .debug_aranges set at {pos:#x} has address size {addr_size}")
            tuples = body + 4 + offset_size
            tuples += -(tuples - pos) % (2 * addr_size)
            for start, size in _PAIRS[addr_size].iter_unpack(data[tuples : end - (end - tuples) % (2 * addr_size)]):
                if start == 0 and size == 0:
                    break
                add((start, start + size, unit))
            pos = end
    except (IndexError, struct.error) as exc:
        raise DwarfError(f"{path}: truncated .debug_aranges at {pos:#x}") from exc
    return out
