#!/usr/bin/env python3
"""Regenerate the kasan-*.txt cases of tests/corpus/qemu/: KASAN reports from a real kernel.

Builds crashsig's small KASAN kernel (Debian's linux-source-6.1, tinyconfig plus
``tests/qemu_data/tiny/boot.config`` and ``tests/qemu_data/kasan/kasan.config``, the
``memsafety`` test driver built in; see
``tests/qemu_data/kasan_build.py``), boots it under QEMU once per case with a reproducer
that writes the case's debugfs file, and writes the console to ``<out>/<case>.txt`` in
syzkaller's test-file format.

Headers of an existing file are kept (they are reviewed expectations); a new file gets the
parser's current answer under a ``# UNREVIEWED`` comment: check it against the log and the
syzkaller rules, then delete the comment.

    apt-get install linux-source-6.1 ccache flex bison libelf-dev
    python3 scripts/capture_kasan_corpus.py [--out DIR] [--cache DIR] [CASE ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "qemu_data"))
sys.path.insert(0, str(ROOT / "scripts"))

from capture_qemu_corpus import write_case
from kasan_build import DEFAULT_CACHE, build_kasan_kernel

from crashsig.bisect.initramfs import build_initramfs
from crashsig.bisect.qemu import boot

DEBUGFS = "/sys/kernel/debug/memsafety"

CASES = {
    "kasan-uaf-read": "uaf_read",
    "kasan-uaf-write": "uaf_write",
    "kasan-slab-oob-read": "heap_oob_read",
    "kasan-slab-oob-write": "heap_oob_write",
    "kasan-double-free": "double_free",
    "kasan-stack-oob-read": "stack_oob_read",
    "kasan-global-oob-read": "global_oob_read",
    "kasan-null-ptr-deref-gpf": "null_deref",
    "kasan-null-ptr-deref-read": "null_copy",
}
"""Case name to the memsafety debugfs file its reproducer writes."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "corpus" / "qemu")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="source tree and build")
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    args = parser.parse_args()
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    kernel = build_kasan_kernel(args.cache)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crashsig-kasan-") as tmp:
        work = Path(tmp)
        for name, kind in CASES.items():
            if args.cases and name not in args.cases:
                continue
            repro = work / f"{name}.sh"
            repro.write_text(f"echo 1 > {DEBUGFS}/{kind}\n")
            initramfs = build_initramfs(work / "initramfs.gz", reproducer=repro)
            result = boot(kernel.bzimage, initramfs, test_timeout=120)
            print(f"{name}: {result.outcome}: {result.reason} ({result.duration:.1f} s)")
            write_case(args.out / f"{name}.txt", result.console, f"KASAN test kernel {kernel.release}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
