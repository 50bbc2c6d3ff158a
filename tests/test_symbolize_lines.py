"""Line programs: lookups that stop decoding early answer as the whole decoded program does.

:meth:`LineTable.find` decodes a program only up to the row that answers; the on-disk
index and lookups past the decoded part use :meth:`LineRows.sorted` over the whole
program. Random programs (overlapping and out-of-order sequences, addresses that drop
inside a sequence, missing end_sequence, truncation) must get the same answer for every
address either way, whatever order the addresses are looked up in.
"""

from __future__ import annotations

import gc
import random
import weakref
from types import SimpleNamespace

import pytest

from crashsig.errors import DwarfError
from crashsig.symbolize.dwarf_lines import LineTable

OPCODE_BASE, LINE_BASE, LINE_RANGE = 13, -5, 14
STANDARD_LENGTHS = bytes([0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1])


def _uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _sleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


def _set_address(address: int) -> bytes:
    return bytes([0, 9, 2]) + address.to_bytes(8, "little")


def _program(rng: random.Random) -> bytes:
    """1-4 sequences of random opcodes; rows have lines that only grow."""
    out = bytearray()
    for _ in range(rng.randint(1, 4)):
        out += _set_address(0x1000 + rng.randrange(0, 160, 4))
        for _ in range(rng.randint(0, 25)):
            kind = rng.random()
            if kind < 0.6:  # a row, with a line no row before had (rows tell apart by their answers)
                out += bytes([3]) + _sleb(rng.randint(6, 40))  # advance_line
                special = OPCODE_BASE + rng.randrange(0, 256 - OPCODE_BASE)  # address and line advance
                out.append(special if kind < 0.45 else 1)  # or copy: a row at the same address
            elif kind < 0.7:
                out += bytes([3]) + _sleb(rng.randint(-40, 40))  # advance_line
            elif kind < 0.78:
                out += bytes([5]) + _uleb(rng.randint(0, 200))  # set_column
            elif kind < 0.82:
                out += bytes([2]) + _uleb(rng.randint(0, 30))  # advance_pc
            elif kind < 0.85:
                out += bytes([4]) + _uleb(rng.randint(1, 3))  # set_file
            elif kind < 0.95:
                out += _set_address(0x1000 + rng.randrange(0, 200))  # may go backwards
            else:
                out.append(8)  # const_add_pc
        if rng.random() < 0.9:
            out += bytes([0, 1, 1])  # end_sequence
    return bytes(out)


def _table(program: bytes) -> LineTable:
    """A LineTable over a bare program (no header, no unit: the decoder needs neither)."""
    table = object.__new__(LineTable)
    table.buf, table.program_start, table.min_inst = program, 0, 1
    table.opcode_base, table.line_base, table.line_range = OPCODE_BASE, LINE_BASE, LINE_RANGE
    table.std_lengths = STANDARD_LENGTHS
    table.unit = SimpleNamespace(dwarf=SimpleNamespace(error=DwarfError))  # type: ignore[assignment]
    return table


def _answers(program: bytes, addresses: list[int], whole_first: bool) -> dict[int, object]:
    table = _table(program)
    out: dict[int, object] = {}
    try:
        if whole_first:
            table.rows  # noqa: B018 - decode everything before the first lookup
        for address in addresses:
            out[address] = table.find(address)
    except DwarfError:
        out["error"] = True
    return out


@pytest.mark.parametrize("seed", range(400))
def test_early_lookups_answer_like_the_whole_program(seed: int) -> None:
    rng = random.Random(seed)
    program = _program(rng)
    if seed % 10 == 9:
        program = program[: rng.randrange(len(program) + 1)]  # truncated
    addresses = list(range(0x0FF0, 0x1400, 3))
    whole = _answers(program, addresses, whole_first=True)
    if "error" in whole:  # truncated mid-opcode: early lookups may answer before the cut
        return
    covered = [address for address in addresses if whole[address] is not None]  # looked up first: an
    rest = [address for address in addresses if whole[address] is None]  # uncovered one decodes everything
    for order in (covered, covered[::-1], rng.sample(covered, len(covered))):
        assert _answers(program, order + rest, whole_first=False) == whole


def test_out_of_order_sequences_answer_with_the_last_row_at_or_below() -> None:
    """Two ascending sequences, the second at lower addresses: the answer is the last row
    at or below the address, nothing after a sequence's end."""
    special = OPCODE_BASE + 3 * LINE_RANGE + 6  # address +3, line +1
    high = _set_address(0x2000) + bytes([1, special, 2]) + _uleb(8) + bytes([0, 1, 1])
    low = _set_address(0x1000) + bytes([1, special, 0, 1, 1])  # its end row replaces the row at 0x1003
    table = _table(high + low)
    assert table.find(0x2004) == (1, 2, 0)  # decoded only up to the row above it
    assert len(table._decoder.addrs) < 5
    assert table.rows.addrs == [0x1000, 0x1003, 0x2000, 0x2003, 0x200B]
    expected = {0x0FFF: None, 0x1000: (1, 1, 0), 0x1002: (1, 1, 0), 0x1003: None, 0x1FFF: None,
                0x2000: (1, 1, 0), 0x2003: (1, 2, 0), 0x200A: (1, 2, 0), 0x200B: None}
    assert {address: table.find(address) for address in expected} == expected


def test_a_table_part_decoded_is_freed_by_reference_counting() -> None:
    """No reference cycle through the decoder: a symbolizer drops line tables from its
    cache as it moves on, and each holds its unit's bytes (a cycle kept hundreds of them
    alive until the cycle collector ran: 104 MB instead of 52 for 2000 random addresses)."""
    special = OPCODE_BASE + 3 * LINE_RANGE + 6
    table = _table(_set_address(0x1000) + bytes([1, special, special, 0, 1, 1]))
    assert table.find(0x1001) == (1, 1, 0)
    assert not table._decoder.done  # stopped early, decoder state kept
    gone = weakref.ref(table)
    gc.disable()
    try:
        del table
        assert gone() is None
    finally:
        gc.enable()


def test_a_truncated_program_fails_every_lookup_after_the_cut() -> None:
    special = OPCODE_BASE + 3 * LINE_RANGE + 6
    program = _set_address(0x1000) + bytes([1, special, special, 0, 1, 1])
    table = _table(program + _set_address(0x2000) + bytes([1, 2]))  # cut inside advance_pc
    assert table.find(0x1004) == (1, 2, 0)  # answered before the cut
    for address in (0x2000, 0x1004, 0x1000):
        with pytest.raises(DwarfError, match="truncated"):
            table.find(address)
    with pytest.raises(DwarfError, match="truncated"):
        table.rows  # noqa: B018
