"""Bounded fuzzing with fixed seeds: the CI-sized version of ``benchmarks/fuzz.py``.

Mutated console logs go through ``parse``, ``annotate``, ``bisectlog.read`` and the CLI;
mutated ELF files (gcc and clang, DWARF 4 and 5, linked and relocatable, built here from
``fuzz_data/``) go through ``Symbolizer`` and ``kernel_signature``. Each input runs in a
worker with a CPU budget and an address-space limit linear in its size. The only allowed
failures are ``CrashsigError`` subclasses. The harness itself is tested first: an
exception, a hang and a memory blow-up in a target must each be reported as a failure.
What the long runs found is kept as regression cases rebuilt from the seeds: corrupt
header fields and line programs, damaged on-disk indexes, zlib bombs, giant-line scaling
(each case names the failure it guards against).
"""

from __future__ import annotations

import random
import signal
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import crashsig
from crashsig.symbolize.index import DIRECTORY_ENTRY, DIRECTORY_HEAD

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import fuzz
import fuzz_elfs
import fuzz_logs
import fuzz_pool
from fuzz_pool import Job, Outcome, Pool, Result

LOGS = 1000
ELFS = 600


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> fuzz.Inputs:
    seeds = fuzz.build_seeds(tmp_path_factory.mktemp("fuzz-seeds"))
    return fuzz.Inputs(1, fuzz_logs.Corpus.load(fuzz.extra_logs(seeds)), seeds, frozenset())


@pytest.fixture(scope="module")
def pool(inputs: fuzz.Inputs) -> Iterator[Pool]:
    workers = fuzz.make_pool(2, inputs.seeds)
    yield workers
    workers.close()


def _failures(outcomes: Iterator[Outcome]) -> list[str]:
    return [f"{o.job.description[:200]}: {o.result.problems}"[:3000] for o in outcomes if o.result.problems]


def _raise(data: bytes, options: dict[str, object]) -> Result:
    raise KeyError("missing")


def _spin(data: bytes, options: dict[str, object]) -> Result:
    while True:
        pass


def _hog(data: bytes, options: dict[str, object]) -> Result:
    return Result((str(len(bytearray(1 << 34))),))


def test_harness_reports_exceptions_hangs_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz_pool, "CPU_BASE_S", 1.0)
    harness = Pool(1, {"raise": _raise, "spin": _spin, "hog": _hog})
    try:
        outcomes = {
            o.job.target: o.result.problems
            for o in harness.run(
                iter(
                    [
                        Job("raise", "raise", b""),
                        Job("spin", "spin", b""),
                        Job("hog", "hog", b""),
                        Job("raise", "again", b""),
                    ]
                )
            )
        }
    finally:
        harness.close()
    assert "KeyError" in outcomes["raise"][0]
    assert outcomes["spin"][0].startswith("timeout:")
    assert outcomes["hog"][0].startswith("MemoryError")


def test_mutated_logs(inputs: fuzz.Inputs, pool: Pool) -> None:
    jobs = (inputs.log(i) for i in range(LOGS))
    assert _failures(pool.run(jobs)) == []


@pytest.mark.parametrize("kind", ["gz", "xz", "gz-flip", "xz-flip"])
def test_compressed_logs_through_the_cli(inputs: fuzz.Inputs, pool: Pool, kind: str) -> None:
    """The CLI on .gz/.xz copies of corpus logs, intact or with one flipped bit (finding F7)."""
    logs = [log for _, log in inputs.corpus.logs[::15]]
    jobs = (Job("log", f"{kind} {i}", log, {"cli": True, "compressed": kind}) for i, log in enumerate(logs))
    assert _failures(pool.run(jobs)) == []


def test_truncation_at_every_oops_line(inputs: fuzz.Inputs, pool: Pool) -> None:
    """Every log of the project's own QEMU and seed corpus, cut before, inside and after each oops line."""
    logs = [log for name, log in inputs.corpus.logs if name.startswith(("corpus/qemu/", "corpus/seed/"))]
    jobs = [
        Job("log", f"{i}: truncated", cut, {"cli": i % 3 == 0})
        for i, cut in enumerate(cut for log in logs for cut in fuzz_logs.truncations(log))
    ]
    assert len(jobs) >= 200
    assert _failures(pool.run(iter(jobs))) == []


def test_giant_inputs(inputs: fuzz.Inputs, pool: Pool) -> None:
    rng = random.Random(3)
    base = dict(inputs.corpus.logs)["corpus/seed/syzbot-kvm-bisection.log"]
    units = (b"x", b"\0", b"\xff", b" f+0x1/0x2", b"WARNING: ", b"Call Trace:", b"BUG: KASAN: ")
    jobs = [
        Job(
            "log",
            f"10 MB line of {unit!r}",
            base + (unit * (fuzz_logs.BIG_LINE // len(unit))) + b"\n" + base,
            {"cli": True},
        )
        for unit in units
    ]
    jobs.append(Job("log", "20 000 headers", fuzz_logs.many_headers(rng, 20_000), {}))
    assert _failures(pool.run(iter(jobs))) == []


def test_mutated_elf_files(inputs: fuzz.Inputs, pool: Pool) -> None:
    start = time.monotonic()
    jobs = (inputs.elf(i) for i in range(ELFS))
    assert _failures(pool.run(jobs)) == []
    assert time.monotonic() - start < 600  # a backstop, not a benchmark


# Inputs the long fuzz runs found, rebuilt from the seeds by field label (compiler output
# moves offsets around): (seed, field label, which occurrence, new value, what went wrong).
REGRESSIONS = [
    ("gcc-dwarf5", "e_shoff", 0, 0xFFFF_FFFF_FFFF_FFFF, "kernel_signature: ValueError from seek()"),
    ("clang-dwarf5-rel", "line.extended_length", 0, 0x17, "DW_LNE_set_address of 22 bytes: KeyError"),
    ("gcc-dwarf4", "line.extended_length", 0, 0x1, "DW_LNE_set_address of 0 bytes: KeyError"),
]


@pytest.mark.parametrize(("seed_name", "label", "nth", "value", "why"), REGRESSIONS, ids=[r[4] for r in REGRESSIONS])
def test_fuzz_regressions(
    inputs: fuzz.Inputs, pool: Pool, seed_name: str, label: str, nth: int, value: int, why: str
) -> None:
    seed = next(s for s in inputs.seeds if s.name == seed_name)
    field = [f for kind in seed.fields.values() for f in kind if f.label == label][nth]
    data = bytearray(seed.data)
    if field.leb:
        data[field.offset] = value
    else:
        data[field.offset : field.offset + field.size] = value.to_bytes(field.size, "little")
    outcomes = list(pool.run(iter([inputs.elf_job(seed, why, bytes(data), cache=True)])))
    assert _failures(iter(outcomes)) == []
    assert outcomes[0].result.errors > 0  # the corruption was noticed, and reported as a crashsig error


@pytest.mark.parametrize("claimed", [None, 1 << 40, 0], ids=["true-size", "claims-1TiB", "claims-0"])
def test_zlib_bomb_is_refused_quickly(inputs: fuzz.Inputs, pool: Pool, claimed: int | None) -> None:
    """256 MiB of zeros deflated into 256 KiB as .debug_abbrev: memory and time stay bounded."""
    seed = next(s for s in inputs.seeds if s.name == "gcc-dwarf5-gz")
    data = bytearray(seed.data)
    field = next(f for f in seed.fields["zlib-bomb"] if f.label == ".debug_abbrev")
    why = fuzz_elfs.zlib_bomb(data, field, 256 << 20, claimed)
    (outcome,) = pool.run(iter([inputs.elf_job(seed, why, bytes(data))]))
    assert _failures(iter([outcome])) == []
    assert outcome.result.errors > 0


def _annotate_cpu(sym: crashsig.Symbolizer, build: Callable[[int], str], n: int) -> float:
    text = build(n)
    start = time.process_time()
    sym.annotate(text)
    return max(time.process_time() - start, 1e-4)


@pytest.mark.parametrize(
    "build",
    [lambda n: "CPU: 0 PID: 1 Comm: x " * n + "\n", lambda n: "WARNING: " * n + " f+0x1/0x2\n"],
    ids=["cpu-comm-heads", "warning-without-at"],
)
def test_annotate_scales_linearly_on_giant_lines(inputs: fuzz.Inputs, build: Callable[[int], str]) -> None:
    """Fuzz finding F8: two annotate regexes backtracked quadratically on one long line."""
    with crashsig.Symbolizer(inputs.host.path, use_cache=False) as sym:
        small, large = _annotate_cpu(sym, build, 20_000), _annotate_cpu(sym, build, 80_000)
    assert large / small < 8, f"4x input took {large / small:.1f}x time ({small:.3f}s -> {large:.3f}s)"


def _edit_directory(edit: Callable[[dict[str, Any]], object]) -> Callable[[bytes], bytes]:
    """An index corruption that rewrites the directory (and its size in the header).

    ``edit`` gets the directory decoded: ``has_dwarf``, ``build_id`` and ``source``
    (bytes) and ``tables``: name -> [typecode, width, offset, record count].
    """

    def corrupt(data: bytes) -> bytes:
        where = int.from_bytes(data[8:16], "little")
        has_dwarf, id_size, source_size, _ = DIRECTORY_HEAD.unpack_from(data, where)
        names = where + DIRECTORY_HEAD.size
        entries = DIRECTORY_ENTRY.iter_unpack(data[names + id_size + source_size :])
        directory: dict[str, Any] = {
            "has_dwarf": has_dwarf,
            "build_id": data[names : names + id_size],
            "source": data[names + id_size : names + id_size + source_size],
            "tables": {name.rstrip(b"\0").decode(): list(entry) for name, *entry in entries},
        }
        edit(directory)
        tables = directory["tables"]
        head = DIRECTORY_HEAD.pack(directory["has_dwarf"], len(directory["build_id"]), len(directory["source"]),
                                   len(tables))
        blob = b"".join([head, directory["build_id"], directory["source"],
                         *(DIRECTORY_ENTRY.pack(name.encode(), *entry) for name, entry in tables.items())])
        return data[:16] + len(blob).to_bytes(8, "little") + data[24:where] + blob

    return corrupt


def _header_field(pos: int, value: int) -> Callable[[bytes], bytes]:
    return lambda data: data[:pos] + value.to_bytes(8, "little") + data[pos + 8 :]


# Damaged on-disk indexes (a crash while writing, a foreign file, bit rot): the header
# ones must be ignored and the index rebuilt; the table ones give DwarfError at worst.
INDEX_CORRUPTIONS: dict[str, tuple[Callable[[bytes], bytes], bool]] = {
    "directory size 2**64-1 (MemoryError/OverflowError)": (_header_field(16, 2**64 - 1), True),
    "directory offset 2**63 (OverflowError)": (_header_field(8, 2**63), True),
    "table entry with an unknown typecode": (
        _edit_directory(lambda d: d["tables"]["syms"].__setitem__(0, b"x")),
        True,
    ),
    "directory of another build-id": (_edit_directory(lambda d: d.__setitem__("build_id", bytes(20))), True),
    "directory with a has-DWARF byte of 7": (_edit_directory(lambda d: d.__setitem__("has_dwarf", 7)), True),
    "directory cut inside a table entry": (lambda data: data[:-5], True),
    "names table missing (KeyError)": (_edit_directory(lambda d: d["tables"].pop("names")), False),
    "one names bucket row (ZeroDivisionError)": (
        _edit_directory(lambda d: d["tables"]["names_first"].__setitem__(3, 1)),
        False,
    ),
    "empty string offsets (ValueError)": (
        _edit_directory(lambda d: d["tables"]["str_offsets"].__setitem__(3, 0)),
        False,
    ),
}


@pytest.mark.parametrize("what", INDEX_CORRUPTIONS)
def test_corrupt_index_is_rebuilt_or_reported(inputs: fuzz.Inputs, tmp_path: Path, what: str) -> None:
    corrupt, rebuilt = INDEX_CORRUPTIONS[what]
    seed = next(s for s in inputs.seeds if s.name == "gcc-dwarf5")
    with crashsig.Symbolizer(seed.path, use_cache=False) as direct:
        expected = [direct.lookup(f.address) for f in seed.functions]
    crashsig.Symbolizer(seed.path, cache_dir=tmp_path).close()
    (index,) = tmp_path.glob("*.idx")
    index.write_bytes(corrupt(index.read_bytes()))
    got = []
    with crashsig.Symbolizer(seed.path, cache_dir=tmp_path) as sym:
        for f in seed.functions:
            for call in (
                partial(sym.lookup, f.address),
                partial(sym.lookup_symbol, f.name, 0),
                partial(sym.describe, f.address),
            ):
                try:
                    got.append(call())
                except crashsig.DwarfError:
                    assert not rebuilt, "a rejected index is rebuilt: no DwarfError expected"
    if rebuilt:
        assert got[::3] == expected


def _own_parents(data: bytes) -> bytes:
    """An index whose every inline node names itself as its parent (a cycle, found by fuzzing)."""
    where = int.from_bytes(data[8:16], "little")
    _, id_size, source_size, _ = DIRECTORY_HEAD.unpack_from(data, where)
    entries = DIRECTORY_ENTRY.iter_unpack(data[where + DIRECTORY_HEAD.size + id_size + source_size :])
    (offset, count) = next((offset, count) for name, _, _, offset, count in entries if name.rstrip(b"\0") == b"nodes")
    out = bytearray(data)
    for node in range(count):
        out[offset + 20 * node : offset + 20 * node + 4] = node.to_bytes(4, "little")  # records of 5 u32, parent first
    return bytes(out)


def test_index_node_cycle_is_an_error_not_a_loop(inputs: fuzz.Inputs, tmp_path: Path) -> None:
    seed = next(s for s in inputs.seeds if s.name == "gcc-dwarf5")
    crashsig.Symbolizer(seed.path, cache_dir=tmp_path).close()
    (index,) = tmp_path.glob("*.idx")
    index.write_bytes(_own_parents(index.read_bytes()))
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the lookup loops over the node cycle"))
    signal.alarm(60)
    try:
        with crashsig.Symbolizer(seed.path, cache_dir=tmp_path) as sym, pytest.raises(crashsig.DwarfError, match="parent"):
            for f in seed.functions:
                sym.lookup(f.address)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


def test_seeds_cover_every_mutation_class_and_dwarf_version(inputs: fuzz.Inputs) -> None:
    """The seeds expose fields for every structured ELF class (the mapping did not go stale)."""
    for seed in inputs.seeds:
        if "-gz" in seed.name:
            continue  # compressed DWARF: only header and generic mutations apply
        wanted = {
            "elf-header",
            "section-header",
            "symtab",
            "unit-header",
            "die-form",
            "abbrev",
            "line-header",
            "line-opcode",
            "debug-section",
        } | ({"reloc"} if seed.relocatable else set())
        assert {kind for kind, fields in seed.fields.items() if fields} >= wanted, seed.name
    versions = {
        int.from_bytes(seed.data[f.offset : f.offset + 2], "little")
        for seed in inputs.seeds
        for f in seed.fields["unit-header"]
        if f.label == "cu.version"
    }
    assert versions == {4, 5}
