"""Console-log inputs for the fuzzer: a corpus of real logs and the mutations applied to it.

Every mutator takes the seed log and a ``random.Random`` and returns new bytes. Classes
of input are named (``MUTATORS`` keys) so a run can skip one while a fix is pending.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

from crashsig.rules.oopses import LINUX_OOPSES

REPO = Path(__file__).resolve().parent.parent
CORPUS_DIRS = (REPO.parent / "shared" / "corpus" / "syzkaller", REPO / "tests" / "corpus")
HEADERS: tuple[bytes, ...] = tuple(oops.header for oops in LINUX_OOPSES)
BIG_LINE = 10 * 1024 * 1024
MANY_HEADERS = 100_000
MAX_INPUT = 16 * 1024 * 1024

Mutator = Callable[[bytes, random.Random, "Corpus"], bytes]

# Bytes that are not UTF-8: a lone continuation byte, a truncated sequence, an overlong
# "/", a UTF-16 surrogate, values above U+10FFFF, and 0xFF.
_BAD_UTF8 = (b"\x80", b"\xc3", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xff\xfe")
# Fragments that make rules look twice: frames, prefixes, report markers.
_FRAGMENTS = (
    b" f+0x1/0x2",
    b" ? g+0x10/0x20 [mod]",
    b"RIP: 0010:",
    b"Call Trace:",
    b"<IRQ>",
    b"[  T100]",
    b"[    1.000000]",
    b"Kernel panic - not syncing: ",
    b"---[ end trace ",
    b"==========",
    b"at ",
    b" [inline]",
    b"Read of size 8",
    b"syz-executor",
    b"Code: ",
    b"<4>",
    b"\r",
    b"\t",
    b"\x1b[0m",
    b"PID: 1 Comm: x",
    b"ffffffff81000000",
    b" mm/slub.c:123",
    b"---[ end Kernel panic",
)


def _report_log(raw: bytes) -> bytes:
    """The console log of a syzkaller-format test file (the part after its header block)."""
    head, sep, body = raw.partition(b"\n\n")
    if sep and all(b":" in line for line in head.splitlines()):
        return body
    return raw


class Corpus:
    """Seed logs: syzkaller's report/guilty files and the project's own corpus."""

    def __init__(self, logs: list[tuple[str, bytes]]) -> None:
        if not logs:
            raise SystemExit("fuzz: no seed logs found")
        self.logs = logs

    @classmethod
    def load(cls, extra: list[tuple[str, bytes]] = ()) -> Corpus:  # type: ignore[assignment]
        """Every file under the corpus folders that exist, plus ``extra`` logs."""
        logs = list(extra)
        for root in CORPUS_DIRS:
            if root.is_dir():
                for path in sorted(root.rglob("*")):
                    if path.is_file() and path.suffix not in (".md", ".tsv") and path.name != "LICENSE":
                        logs.append((str(path.relative_to(root.parent)), _report_log(path.read_bytes())))
        return cls(logs)

    def pick(self, rng: random.Random) -> tuple[str, bytes]:
        """A random seed log."""
        return self.logs[rng.randrange(len(self.logs))]


def _lines(log: bytes) -> list[bytes]:
    return log.splitlines(keepends=True) or [b""]


def _flip_bytes(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    buf = bytearray(log or b"\n")
    for _ in range(rng.choice((1, 2, 4, 16, 64))):
        pos = rng.randrange(len(buf))
        buf[pos] = rng.randrange(256) if rng.random() < 0.5 else buf[pos] ^ (1 << rng.randrange(8))
    return bytes(buf)


def oops_line_offsets(log: bytes) -> list[tuple[int, int]]:
    """(start, end) of every line holding an oops header."""
    out, pos = [], 0
    for line in _lines(log):
        if any(h in line for h in HEADERS):
            out.append((pos, pos + len(line)))
        pos += len(line)
    return out


def truncations(log: bytes) -> Iterator[bytes]:
    """The log cut before, inside and after every oops line (the deterministic sweep)."""
    for start, end in oops_line_offsets(log):
        yield log[:start]
        yield log[: (start + end) // 2]
        yield log[:end]


def _truncate_at_oops(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    lines = oops_line_offsets(log)
    if not lines:
        return log[: rng.randrange(len(log) + 1)]
    start, end = rng.choice(lines)
    return log[: rng.choice((start, (start + end) // 2, end))]


def _truncate_anywhere(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    return log[: rng.randrange(len(log) + 1)]


def _duplicate_lines(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    lines = _lines(log)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(lines))
        lines[i:i] = [lines[i]] * rng.choice((1, 2, 10, 100))
    return b"".join(lines)


def _interleave(log: bytes, rng: random.Random, corpus: Corpus) -> bytes:
    """This log and another one, mixed in runs of 1-3 lines (two consoles on one serial)."""
    sources = [_lines(log), _lines(corpus.pick(rng)[1])]
    pos = [0, 0]
    out: list[bytes] = []
    while pos[0] < len(sources[0]) or pos[1] < len(sources[1]):
        side = rng.randrange(2) if all(p < len(s) for p, s in zip(pos, sources)) else int(pos[0] >= len(sources[0]))
        count = rng.randint(1, 3)
        out.extend(sources[side][pos[side] : pos[side] + count])
        pos[side] += count
    return b"".join(out)


def _shuffle_block(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    lines = _lines(log)
    i = rng.randrange(len(lines))
    block = lines[i : i + rng.randint(2, 40)]
    rng.shuffle(block)
    lines[i : i + len(block)] = block
    return b"".join(lines)


def _delete_lines(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    lines = _lines(log)
    i = rng.randrange(len(lines))
    del lines[i : i + rng.randint(1, 20)]
    return b"".join(lines)


def _invalid_utf8(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    buf = bytearray(log)
    for _ in range(rng.randint(1, 20)):
        pos = rng.randrange(len(buf) + 1)
        buf[pos:pos] = rng.choice(_BAD_UTF8)
    return bytes(buf)


def _nuls(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    buf = bytearray(log)
    for _ in range(rng.randint(1, 20)):
        pos = rng.randrange(len(buf) + 1)
        if rng.random() < 0.5 and pos < len(buf):
            buf[pos] = 0
        else:
            buf[pos:pos] = b"\0" * rng.choice((1, 4, 1000))
    return bytes(buf)


def _line_endings(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    return log.replace(b"\n", rng.choice((b"\r\n", b"\r", b"\n\n", b"\n\r", b"")))


def _fragments(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    lines = _lines(log)
    for _ in range(rng.randint(1, 10)):
        i = rng.randrange(len(lines))
        line = lines[i]
        pos = rng.randrange(len(line) + 1)
        insert = rng.choice(_FRAGMENTS + HEADERS)
        lines[i] = line[:pos] + insert + line[pos:]
    return b"".join(lines)


def _splice_header(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    """Replace an oops header with another one, keeping the rest of the report."""
    found = [h for h in HEADERS if h in log]
    if not found:
        return _fragments(log, rng, _corpus)
    return log.replace(rng.choice(found), rng.choice(HEADERS), rng.randint(1, 3))


def _big_line(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    """One 10 MB line, made of filler or of near-miss rule fragments, at a random line."""
    unit = rng.choice((b"x", b"\xff", b"\0", *_FRAGMENTS, *HEADERS))
    line = (unit * (BIG_LINE // len(unit) + 1))[:BIG_LINE] + b"\n"
    lines = _lines(log)
    lines.insert(rng.randrange(len(lines) + 1), line)
    return b"".join(lines)


def many_headers(rng: random.Random, count: int = MANY_HEADERS) -> bytes:
    """``count`` oops header lines in a row (one header kind, or all of them in turn)."""
    kinds = [rng.choice(HEADERS)] if rng.random() < 0.5 else list(HEADERS)
    prefix = rng.choice((b"", b"[    1.000000] ", b"[    1.000000][  T100] "))
    tail = rng.choice((b"", b" f+0x1/0x2", b": KASAN: use-after-free in f+0x1/0x2 Read"))
    return b"".join(prefix + kinds[i % len(kinds)] + tail + b"\n" for i in range(count))


def _many_headers(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    pos = rng.randrange(len(log) + 1)
    return log[:pos] + many_headers(rng) + log[pos:]


def _repeat(log: bytes, rng: random.Random, _corpus: Corpus) -> bytes:
    return log * rng.choice((2, 10, 50))


# Class name -> (mutator, relative weight). The large classes are rare: each input is
# 10 MB or more and costs seconds, so they would otherwise eat the whole run.
MUTATORS: dict[str, tuple[Mutator, float]] = {
    "flip": (_flip_bytes, 10),
    "truncate-oops": (_truncate_at_oops, 6),
    "truncate": (_truncate_anywhere, 3),
    "duplicate": (_duplicate_lines, 4),
    "interleave": (_interleave, 4),
    "shuffle": (_shuffle_block, 3),
    "delete": (_delete_lines, 3),
    "utf8": (_invalid_utf8, 4),
    "nul": (_nuls, 4),
    "endings": (_line_endings, 2),
    "fragments": (_fragments, 6),
    "splice-header": (_splice_header, 4),
    "repeat": (_repeat, 0.5),
    "big-line": (_big_line, 0.01),
    "many-headers": (_many_headers, 0.005),
}


_GROWING = frozenset(("repeat", "duplicate", "big-line", "many-headers"))


def mutate(corpus: Corpus, rng: random.Random, skip: frozenset[str] = frozenset()) -> tuple[str, bytes]:
    """One fuzz input: a seed log with 1-3 stacked mutations; returns (description, bytes)."""
    names = [n for n in MUTATORS if n not in skip]
    weights = [MUTATORS[n][1] for n in names]
    seed_name, log = corpus.pick(rng)
    applied = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        name = rng.choices(names, weights)[0]
        if name in _GROWING and len(log) > 1024 * 1024:
            continue  # one huge component per input is enough
        log = MUTATORS[name][0](log, rng, corpus)
        applied.append(name)
    if len(log) > MAX_INPUT:  # stacked growth (repeat after duplicate) can reach 50 MB
        log = log[:MAX_INPUT]
        applied.append("cut")
    return f"{seed_name} [{'+'.join(applied)}]", log
