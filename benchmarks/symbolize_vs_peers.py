#!/usr/bin/env python3
"""Benchmark crashsig's symbolizer against addr2line, eu-addr2line and llvm-symbolizer.

Target: Debian's ``linux-image-<abi>-cloud-amd64-dbg`` vmlinux (590 MB, gcc DWARF 5),
fetched once into ``~/.cache/crashsig/debian``. Inputs: (1) the frames of a real oops of
that kernel (``benchmarks/data/oops-netcrash-*.txt``, captured by booting the stock
kernel under QEMU with ``benchmarks/oops_module``), looked up the way syzkaller does
(return addresses at PC-1); (2) random ``.text`` addresses with a fixed seed.

Every tool runs as a new process with the same addresses; the script prints wall time,
peak RSS, the ratio to addr2line and agreement with addr2line, and lists each
disagreement with a verdict (llvm-symbolizer and eu-addr2line act as tie-breakers).

    python benchmarks/symbolize_vs_peers.py [--abi 6.1.0-56] [--vmlinux PATH]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from crashsig.symbolize.annotate import FRAME_RE, is_rip_prefix  # noqa: E402
from crashsig.symbolize.binary import BinarySymbolizer  # noqa: E402

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


def timed(argv: list[str], stdin: str = "") -> tuple[str, float, int]:
    """Run under GNU time: (stdout, wall seconds, peak RSS in MB)."""
    with tempfile.NamedTemporaryFile("r") as report:
        proc = subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%e %M", *argv], input=stdin,
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{argv[0]} failed: {proc.stderr[-2000:]}")
        wall, rss = report.read().split()[-2:]
    return proc.stdout, float(wall), int(rss) // 1024


def _gnu_blocks(out: str) -> dict[int, Answer]:
    result: dict[int, Answer] = {}
    current: Answer = []
    lines = [line for line in out.splitlines() if line]
    i = 0
    while i < len(lines):
        if re.fullmatch(r"0x[0-9a-f]+", lines[i]):
            current = result.setdefault(int(lines[i], 16), [])
            i += 1
            continue
        function = lines[i].split(" inlined at ")[0]
        where = re.sub(r" \(discriminator \d+\)$", "", lines[i + 1])
        parts = where.split(":")
        if len(parts) >= 3 and parts[-1].isdigit() and parts[-2].isdigit():
            parts = parts[:-1]
        line = int(parts[-1]) if parts[-1].isdigit() else 0
        current.append((function, os.path.basename(":".join(parts[:-1])), line))
        i += 2
    return result


def run_tools(vmlinux: Path, addrs: list[int], index_dir: Path) -> dict[str, tuple[dict[int, Answer], float, int]]:
    stdin = "".join(f"{a:#x}\n" for a in addrs)
    crashsig = [sys.executable, "-m", "crashsig", "symbolize", "--vmlinux", str(vmlinux), "--format", "json"]
    hexes = [f"{a:x}" for a in addrs]
    results = {}
    for name, argv in (
        ("addr2line", ["addr2line", "-a", "-f", "-i", "-e", str(vmlinux)]),
        ("eu-addr2line", ["eu-addr2line", "-a", "-f", "-i", "-e", str(vmlinux)]),
        ("llvm-symbolizer", ["llvm-symbolizer", "--print-address", "--inlining", "--functions=short",
                             "--output-style=GNU", f"--obj={vmlinux}"]),
    ):
        out, wall, rss = timed(argv, stdin)
        results[name] = (_gnu_blocks(out), wall, rss)
    for name, extra in (("crashsig (cold, no index)", ["--no-cache"]),
                        ("crashsig (with index)", ["--cache-dir", str(index_dir)])):
        if "index" in name:
            timed([*crashsig, *extra, "--addr", *hexes])  # first run builds the index
        out, wall, rss = timed([*crashsig, *extra, "--addr", *hexes])
        answers = {
            int(entry["address"], 16): [(loc["function"], os.path.basename(loc["path"] or "??"), loc["line"] or 0)
                                        for loc in entry["locations"]]
            for entry in json.loads(out)["addresses"]
        }
        results[name] = (answers, wall, rss)
    return results


def _key(answer: Answer | None) -> Answer:
    return [(f, p if p != "??" else "", n) for f, p, n in answer or []]


def report(title: str, addrs: list[int], results: dict[str, tuple[dict[int, Answer], float, int]]) -> None:
    reference, ref_time, _ = results["addr2line"]
    print(f"\n### {title}: {len(addrs)} addresses\n")
    print("| tool | wall s | ratio to addr2line | peak RSS MB | agrees with addr2line |")
    print("|---|---:|---:|---:|---:|")
    for name, (answers, wall, rss) in results.items():
        same = sum(_key(answers.get(a)) == _key(reference.get(a)) for a in addrs)
        print(f"| {name} | {wall:.3f} | {wall / ref_time:.2f}x | {rss} | {100 * same / len(addrs):.1f} % |")
    ours = results["crashsig (cold, no index)"][0]
    llvm, eu = results["llvm-symbolizer"][0], results["eu-addr2line"][0]
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
    args = parser.parse_args()
    vmlinux = args.vmlinux or fetch_vmlinux(args.abi)
    oops = args.oops or HERE / "data" / f"oops-netcrash-{args.abi}-cloud-amd64.txt"
    subprocess.run(["cat", str(vmlinux)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    with tempfile.TemporaryDirectory() as index_dir:
        frames = oops_addresses(vmlinux, oops)
        report(f"oops frames ({oops.name})", frames, run_tools(vmlinux, frames, Path(index_dir) / "a"))
        addrs = random_addresses(vmlinux, args.random, args.seed)
        report(f"random .text addresses (seed {args.seed})", addrs, run_tools(vmlinux, addrs, Path(index_dir) / "b"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
