"""Reference symbolizers (GNU addr2line, llvm-symbolizer) and test binaries for the
differential tests of ``crashsig.symbolize``."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

from crashsig.symbolize.binary import BinarySymbolizer
from crashsig.symbolize.index import IndexedBinary

DATA = Path(__file__).parent / "symbolize_data"
TIMEOUT = 300

Frame = tuple[str, str | None, int | None]
"""(function, file, line) of one inline frame; file/line None when a tool prints ``??``."""


def run(argv: list[str], stdin: str = "", cwd: Path | None = None) -> str:
    """Run a tool with an argv list and a timeout; raise with its stderr on failure."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def compile_program(cc: str, dwarf: int, out: Path, sources: list[str], extra: tuple[str, ...] = ()) -> Path:
    """Build the test program from ``symbolize_data`` with ``cc -O2 -g -gdwarf-N``."""
    run([cc, "-O2", "-g", f"-gdwarf-{dwarf}", *extra, "-o", str(out), *(str(DATA / s) for s in sources)])
    return out


def function_addresses(binary: Path, section: str = ".text") -> list[int]:
    """Every byte address of every sized function symbol in ``section`` (from ``nm``)."""
    out = run(["nm", "-S", "--defined-only", str(binary)])
    addrs: set[int] = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            start, size = int(parts[0], 16), int(parts[1], 16)
            addrs.update(range(start, start + size))
    return sorted(addrs)


def _location(text: str) -> tuple[str | None, int | None]:
    text = re.sub(r" \(discriminator \d+\)$", "", text)
    path, _, line = text.rpartition(":")
    if path.startswith("??") or not path:
        return None, None
    if re.fullmatch(r"\d+:\d+", text.rsplit(":", 2)[-2] + ":" + line) and text.count(":") >= 2:
        path, _, line = path.rpartition(":")  # llvm's file:line:column
    return path, int(line) if line.isdigit() else None


def addr2line(binary: Path, addrs: list[int], extra: tuple[str, ...] = ()) -> dict[int, list[Frame]]:
    """``addr2line -a -f -i`` output per address."""
    out = run(["addr2line", "-a", "-f", "-i", *extra, "-e", str(binary)], "\n".join(f"{a:#x}" for a in addrs) + "\n")
    return parse_gnu_style(out)


def llvm_symbolizer(binary: Path, addrs: list[int], extra: tuple[str, ...] = ()) -> dict[int, list[Frame]]:
    """``llvm-symbolizer --inlining`` output per address (columns dropped)."""
    argv = ["llvm-symbolizer", "--print-address", "--inlining", "--functions=linkage", "--output-style=GNU", *extra, f"--obj={binary}"]
    return parse_gnu_style(run(argv, "\n".join(f"{a:#x}" for a in addrs) + "\n"))


def parse_gnu_style(out: str) -> dict[int, list[Frame]]:
    """Per address, the frames of ``-a -f -i`` style output (addr2line, eu-addr2line, llvm-symbolizer)."""
    result: dict[int, list[Frame]] = {}
    current: list[Frame] = []
    lines = [line for line in out.splitlines() if line]
    i = 0
    while i < len(lines):
        if re.fullmatch(r"0x[0-9a-f]+", lines[i]):
            current = result.setdefault(int(lines[i], 16), [])
            i += 1
            continue
        file, line = _location(lines[i + 1])
        current.append((lines[i].split(" inlined at ")[0], file, line))  # eu-addr2line names the caller too
        i += 2
    return result


def defined_symbols(binary: Path) -> list[str]:
    """Names of the defined text symbols of ``binary`` (from ``nm``)."""
    return sorted({line.split()[-1] for line in run(["nm", "--defined-only", str(binary)]).splitlines()
                   if line.split()[1] in "tTwW"})


def assert_same_answers(indexed: IndexedBinary, direct: BinarySymbolizer, addresses: Iterable[int]) -> None:
    """Index and direct lookups agree on every address, symbol and description."""
    for address in addresses:
        assert indexed.lookup(address) == direct.lookup(address), f"{address:#x}"
        assert indexed.describe(address) == direct.describe(address), f"{address:#x}"
    for name in defined_symbols(Path(direct.path)):
        assert indexed.symbol_address(name) == direct.symbol_address(name), name
        start = direct.symbol_address(name)
        if start is not None:
            size = direct.symbols.kallsyms_size(direct.symbols.find_by_address(start))  # type: ignore[arg-type]
            assert indexed.symbol_address(name, size) == direct.symbol_address(name, size), name
    assert indexed.symbol_address("no_such_function") is None
