"""Kernel build signature: crashsig against a binutils pipeline on the same ELF file.

    python benchmarks/kernel_signature.py --vmlinux PATH [--repeat 3]

The peer lists sections with ``readelf -SW``, dumps the allocated, file-backed, non-note
ones with one ``objcopy --dump-section`` call and hashes the dumps (the reference that
tests/test_kernel_signature.py uses). Both run in child processes; the script checks
that they agree and prints wall time, peak RSS and the ratio. The page cache is not
dropped, so "first" is cold only if nothing read the file before.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_SECTION = re.compile(
    r"^\s*\[\s*\d+\]\s+(\S*)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+([A-Za-z]*)\s+\d+"
)
_PEER = r"""
import hashlib, re, subprocess, sys, tempfile
from pathlib import Path
path = sys.argv[1]
section = re.compile(sys.argv[2])
out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True, check=True, timeout=600).stdout
names = [m[1] for m in map(section.match, out.splitlines()) if m and "A" in m[3] and m[2] not in ("NOBITS", "NOTE")]
with tempfile.TemporaryDirectory() as tmp:
    argv = ["objcopy"]
    for i, name in enumerate(names):
        argv += ["--dump-section", f"{name}={tmp}/{i}"]
    subprocess.run(argv + [path, f"{tmp}/discard"], check=True, timeout=600)
    outer = hashlib.sha256()
    for i in range(len(names)):
        outer.update(hashlib.sha256(Path(f"{tmp}/{i}").read_bytes()).digest())
print(outer.hexdigest())
"""
_CRASHSIG = "import sys; from crashsig import kernel_signature; print(kernel_signature(sys.argv[1]))"


def _measure(argv: list[str]) -> tuple[str, float, int]:
    """Run argv in a child; return its stdout, wall seconds and its own peak RSS in KiB."""
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)  # per-child rusage, unlike RUSAGE_CHILDREN
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if proc.returncode:
            raise SystemExit(f"{argv[:3]} failed with status {proc.returncode}")
        out.seek(0)
        return out.read().strip(), wall, usage.ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vmlinux", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = str(args.vmlinux)
    size = args.vmlinux.stat().st_size / 2**20
    print(f"{path}: {size:.0f} MiB")
    runs = [_measure([sys.executable, "-c", _CRASHSIG, path]) for _ in range(args.repeat)]
    peer = _measure([sys.executable, "-c", _PEER, path, _SECTION.pattern])
    mine = runs[-1]
    if mine[0] != peer[0]:
        print(f"MISMATCH: crashsig {mine[0]} != binutils {peer[0]}")
        return 1
    print(f"signature {mine[0]} (both agree)")
    for label, (_, wall, rss) in (("crashsig (first)", runs[0]), ("crashsig (warm)", mine), ("readelf+objcopy", peer)):
        print(f"  {label:<18} {wall:7.2f} s  peak RSS {rss / 1024:7.1f} MiB")
    print(f"  warm ratio binutils/crashsig: {peer[1] / mine[1]:.1f}x time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
