#!/usr/bin/env python3
"""Benchmark crashsig's symbolizer against addr2line, eu-addr2line and llvm-symbolizer.

Target: Debian's ``linux-image-<abi>-cloud-amd64-dbg`` vmlinux (590 MB, gcc DWARF 5),
fetched once into ``~/.cache/crashsig/debian``. Inputs: (1) the frames of a real oops of
that kernel (``benchmarks/data/oops-netcrash-*.txt``, captured by booting the stock
kernel under QEMU with ``benchmarks/oops_module``), looked up the way syzkaller does
(return addresses at PC-1); (2) random ``.text`` addresses with a fixed seed.

Every tool runs as a new process with the same addresses, ``--repeat`` times; the
script prints the best wall time and CPU time (user + sys) of the runs, peak RSS, the
ratio to addr2line and agreement with addr2line, and lists each disagreement with a
verdict (llvm-symbolizer and eu-addr2line act as tie-breakers). crashsig runs cold
(``--no-cache``: DWARF read directly) and with its on-disk index, which is built once
beforehand (that build is timed and reported too); the index stores no answers, only
tables, so the indexed runs look every address up anew. ``python -c pass`` is timed as
the floor every Python process pays, and importing the ``crashsig symbolize`` command
(argparse, the symbolizer modules) as the floor of a crashsig process. crashsig runs as
the ``crashsig`` script installed beside the interpreter when there is one.

    python benchmarks/symbolize_vs_peers.py [--abi 6.1.0-56] [--vmlinux PATH] [--repeat 10]
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))

from symbolize_refs import parse_gnu_style  # the differential tests' parser of the peers' output

from crashsig.symbolize.annotate import FRAME_RE, is_rip_prefix
from crashsig.symbolize.binary import BinarySymbolizer

CACHE = Path(os.path.expanduser("~/.cache/crashsig/debian"))
TIMEOUT = 1800
Answer = list[tuple[str, str, int]]


def fetch_vmlinux(abi: str) -> Path:
    """Download and unpack ``linux-image-<abi>-cloud-amd64-dbg`` once; return the vmlinux."""
    target = CACHE / "dbg" / "usr/lib/debug/boot" / f"vmlinux-{abi}-cloud-amd64"
    if target.is_file():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    package = f"linux-image-{abi}-cloud-amd64-dbg"
    if not glob.glob(str(CACHE / f"{package}_*.deb")):
        subprocess.run(["apt-get", "download", package], cwd=CACHE, check=True, timeout=TIMEOUT)
    (deb,) = glob.glob(str(CACHE / f"{package}_*.deb"))
    (CACHE / "dbg").mkdir(exist_ok=True)
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE) as dpkg:
        subprocess.run(["tar", "-x", "-C", str(CACHE / "dbg"), "./usr/lib/debug/boot/"], stdin=dpkg.stdout,
                       check=True, timeout=TIMEOUT)
    return target


def oops_addresses(vmlinux: Path, oops: Path) -> list[int]:
    """Lookup addresses of the oops' vmlinux frames (PC-1 except for a RIP)."""
    binary = BinarySymbolizer(vmlinux)
    out = []
    for line in oops.read_text().splitlines():
        match = FRAME_RE.search(line)
        if match is None or match.group("mod"):
            continue
        start = binary.symbol_address(match.group("func"), int(match.group("size"), 16))
        if start is not None:
            offset = int(match.group("off"), 16)
            exact = is_rip_prefix(line[: match.start()])
            out.append(start + offset - (0 if exact or offset == 0 else 1))
    binary.close()
    return list(dict.fromkeys(out))


def random_addresses(vmlinux: Path, count: int, seed: int) -> list[int]:
    """``count`` uniformly random addresses inside ``.text``."""
    binary = BinarySymbolizer(vmlinux)
    text = binary.image.section_by_name[".text"]
    binary.close()
    rng = random.Random(seed)
    return [rng.randrange(text.addr, text.addr + text.size) for _ in range(count)]


def timed(argv: list[str], stdin: str = "") -> tuple[str, float, float, int]:
    """Run one process: (stdout, wall seconds, user+sys CPU seconds, peak RSS in MB).

    CPU time comes from ``wait4`` in microseconds (GNU time prints hundredths, too coarse
    for runs of a few tens of milliseconds); peak RSS from GNU time, which measures the
    tool alone (``wait4`` would count this script's memory, inherited before ``exec``).
    """
    with tempfile.TemporaryFile("w+") as given, tempfile.TemporaryFile("w+") as out, \
            tempfile.NamedTemporaryFile("r") as rss:
        given.write(stdin)
        given.seek(0)
        start = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-o", rss.name, "-f", "%M", *argv], stdin=given, stdout=out,
                                stderr=subprocess.PIPE, text=True)
        timer = threading.Timer(TIMEOUT, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped above; Popen must not wait again
        errors = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {errors[-2000:]}")
        out.seek(0)
        return out.read(), wall, usage.ru_utime + usage.ru_stime, int(rss.read().split()[-1]) // 1024


def byte_compile_crashsig() -> None:
    """Compile crashsig's modules once, as ``pip install`` of a wheel does.

    An editable install run with ``PYTHONDONTWRITEBYTECODE`` (set on the project machine)
    would otherwise recompile every module in every timed process.
    """
    where = subprocess.run([sys.executable, "-c", "import crashsig, os; print(os.path.dirname(crashsig.__file__))"],
                           capture_output=True, text=True, check=True, timeout=TIMEOUT).stdout.strip()
    subprocess.run([sys.executable, "-m", "compileall", "-q", where], check=True, timeout=TIMEOUT)


def best_of(repeat: int, argv: list[str], stdin: str = "") -> tuple[str, float, float, int]:
    """:func:`timed` ``repeat`` times: the last output, best wall and CPU, largest RSS."""
    runs = [timed(argv, stdin) for _ in range(repeat)]
    return runs[-1][0], min(r[1] for r in runs), min(r[2] for r in runs), max(r[3] for r in runs)


def _gnu_blocks(out: str) -> dict[int, Answer]:
    """Per address, (function, file base name, line) of each frame of a peer's output."""
    return {address: [(function, os.path.basename(file or "??"), line or 0) for function, file, line in frames]
            for address, frames in parse_gnu_style(out).items()}


Timing = tuple[dict[int, Answer], float, float, int]


def build_index(vmlinux: Path, index_dir: Path) -> tuple[float, float, int, int]:
    """Build crashsig's index in a new process: (wall s, CPU s, peak RSS MB, index MB)."""
    _, wall, cpu, rss = timed([sys.executable, "-m", "crashsig", "symbolize", "--vmlinux", str(vmlinux),
                               "--cache-dir", str(index_dir), "--addr", "0"])
    size = sum(f.stat().st_size for f in index_dir.iterdir())
    return wall, cpu, rss, size >> 20


def crashsig_command() -> list[str]:
    """The installed ``crashsig`` script beside this interpreter (what users run), else ``-m crashsig``."""
    script = Path(sys.executable).with_name("crashsig")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "crashsig"]


def _crashsig_blocks(out: str) -> dict[int, Answer]:
    """Per address, (function, file base name, line) of each line ``crashsig symbolize --addr`` printed.

    Its text output (``0xADDR FUNCTION FILE:LINE [(inlined)]``, innermost first; ``?? ??:0``
    when nothing is known, as addr2line prints it) is parsed rather than ``--format json``:
    every peer prints text too.
    """
    answers: dict[int, Answer] = {}
    for line in out.splitlines():
        address, function, where = line.split()[:3]
        file, _, number = where.rpartition(":")
        answers.setdefault(int(address, 16), []).append((function, os.path.basename(file), int(number or 0)))
    return answers


def run_tools(vmlinux: Path, addrs: list[int], index_dir: Path, repeat: int) -> dict[str, Timing]:
    stdin = "".join(f"{a:#x}\n" for a in addrs)
    crashsig = [*crashsig_command(), "symbolize", "--vmlinux", str(vmlinux)]
    hexes = [f"{a:x}" for a in addrs]
    results: dict[str, Timing] = {}
    for name, argv in (
        ("addr2line", ["addr2line", "-a", "-f", "-i", "-e", str(vmlinux)]),
        ("eu-addr2line", ["eu-addr2line", "-a", "-f", "-i", "-e", str(vmlinux)]),
        ("llvm-symbolizer", ["llvm-symbolizer", "--print-address", "--inlining", "--functions=short",
                             "--output-style=GNU", f"--obj={vmlinux}"]),
    ):
        out, wall, cpu, rss = best_of(repeat, argv, stdin)
        results[name] = (_gnu_blocks(out), wall, cpu, rss)
    for name, extra in (("crashsig (cold, no index)", ["--no-cache"]),
                        ("crashsig (with index)", ["--cache-dir", str(index_dir)])):
        out, wall, cpu, rss = best_of(repeat, [*crashsig, *extra, "--addr", *hexes])
        results[name] = (_crashsig_blocks(out), wall, cpu, rss)
    for name, code in (("python -c pass (floor)", "pass"),
                       ("python: import crashsig symbolize CLI (floor)", "import crashsig.commands.symbolize_cmd")):
        _, wall, cpu, rss = best_of(repeat, [sys.executable, "-c", code])
        results[name] = ({}, wall, cpu, rss)
    return results


def _key(answer: Answer | None) -> Answer:
    return [(f, p if p != "??" else "", n) for f, p, n in answer or []]


def report(title: str, addrs: list[int], results: dict[str, Timing]) -> None:
    reference, ref_wall, ref_cpu, _ = results["addr2line"]
    print(f"\n### {title}: {len(addrs)} addresses\n")
    print("| tool | wall s | wall vs addr2line | CPU s | CPU vs addr2line | peak RSS MB | agrees with addr2line |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (answers, wall, cpu, rss) in results.items():
        agree = f"{100 * sum(_key(answers.get(a)) == _key(reference.get(a)) for a in addrs) / len(addrs):.1f} %" \
            if answers else "-"
        print(f"| {name} | {wall:.3f} | {wall / ref_wall:.2f}x | {cpu:.3f} | {cpu / ref_cpu:.2f}x | {rss} | {agree} |")
    indexed_cpu = results["crashsig (with index)"][2]
    print(f"\ncrashsig with index: {1000 * indexed_cpu:.0f} ms CPU per process "
          f"({1000 * indexed_cpu / len(addrs):.2f} ms per address)")
    ours = results["crashsig (cold, no index)"][0]
    indexed = results["crashsig (with index)"][0]
    llvm, eu = results["llvm-symbolizer"][0], results["eu-addr2line"][0]
    split = [a for a in addrs if _key(ours.get(a)) != _key(indexed.get(a))]
    print(f"\ncrashsig cold and indexed answers differ on {len(split)} addresses")
    diffs = [a for a in addrs if _key(ours.get(a)) != _key(reference.get(a))]
    if diffs:
        print(f"\ncrashsig vs addr2line disagreements ({len(diffs)}):")
    for a in diffs:
        votes = [tool for tool, res in (("llvm-symbolizer", llvm), ("eu-addr2line", eu)) if _key(res.get(a)) == _key(ours.get(a))]
        verdict = f"crashsig agrees with {' and '.join(votes)}" if votes else "UNEXPLAINED"
        print(f"  {a:#x}: {verdict}\n    crashsig  {_key(ours.get(a))}\n    addr2line {_key(reference.get(a))}"
              f"\n    llvm      {_key(llvm.get(a))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--abi", default="6.1.0-56", help="Debian kernel ABI of the -dbg package")
    parser.add_argument("--vmlinux", type=Path, help="use this vmlinux instead of downloading one")
    parser.add_argument("--oops", type=Path, help="oops log of the same build (default: benchmarks/data)")
    parser.add_argument("--random", type=int, default=2000, help="number of random .text addresses")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--repeat", type=int, default=10, help="runs per tool (best time is reported)")
    args = parser.parse_args()
    vmlinux = args.vmlinux or fetch_vmlinux(args.abi)
    oops = args.oops or HERE / "data" / f"oops-netcrash-{args.abi}-cloud-amd64.txt"
    subprocess.run(["cat", str(vmlinux)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    byte_compile_crashsig()
    with tempfile.TemporaryDirectory() as index_dir:
        wall, cpu, rss, size = build_index(vmlinux, Path(index_dir))
        print(f"crashsig index build (once per build-id, new process): {wall:.1f} s wall, {cpu:.1f} s CPU, "
              f"peak RSS {rss} MB, index {size} MB")
        frames = oops_addresses(vmlinux, oops)
        report(f"oops frames ({oops.name})", frames, run_tools(vmlinux, frames, Path(index_dir), args.repeat))
        addrs = random_addresses(vmlinux, args.random, args.seed)
        report(f"random .text addresses (seed {args.seed})", addrs, run_tools(vmlinux, addrs, Path(index_dir), args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
