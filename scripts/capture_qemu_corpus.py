#!/usr/bin/env python3
"""Regenerate tests/corpus/qemu/: real console logs of deliberate crashes on Debian's kernel.

Each case boots Debian's stock cloud kernel (fetched with apt-get download) under QEMU with
``tests/qemu_data/crashmod`` built against its headers, and writes a debugfs trigger from the
reproducer. The console goes to ``<out>/<case>.txt`` in syzkaller's test-file format.

Headers of an existing file are kept (they are reviewed expectations); a new file gets the
parser's current answer under a ``# UNREVIEWED`` comment: check it against the log and the
syzkaller rules, then delete the comment.

    python3 scripts/capture_qemu_corpus.py [--out DIR] [CASE ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "qemu_data"))

from crashmod_build import build_crashmod

import crashsig
from crashsig.bisect.initramfs import build_initramfs
from crashsig.bisect.kernel import fetch_debian_kernel
from crashsig.bisect.qemu import boot

TRIGGER = "/sys/kernel/debug/crashmod/trigger"


@attrs.frozen
class Case:
    """One crash to capture."""

    name: str
    kind: str
    """crashmod kind written to the trigger file."""
    cmdline: tuple[str, ...] = ()
    setup: str = ""
    """Shell lines the reproducer runs before the trigger."""


CASES = (
    Case("kernel-bug", "bug"),
    Case("warning", "warning"),
    Case("null-ptr-deref-write", "null_deref"),
    Case("paging-fault-vmalloc-guard", "vmap_guard"),
    Case("paging-fault-write-rodata", "write_ro"),
    Case("paging-fault-exec-nx", "exec_data"),
    Case("gpf-non-canonical", "gpf"),
    Case("corrupted-list-add", "list_corruption"),
    Case("divide-error", "divide_error"),
    Case("invalid-opcode-ud2", "ud2"),
    Case("refcount-inc-on-zero", "ref_from_zero"),
    Case("bad-usercopy-slab", "oversized_copy"),
    Case("stack-protector", "stack_protector"),
    Case("stack-guard-page", "stack_overflow"),
    Case("corrupted-stack-end", "stack_end"),
    Case(
        "task-hung",
        "sleep_forever",
        setup="echo 2 > /proc/sys/kernel/hung_task_timeout_secs",
    ),
    Case("soft-lockup", "spin", cmdline=("watchdog_thresh=1",)),
    Case("rcu-stall", "spin", cmdline=("rcupdate.rcu_cpu_stall_timeout=3",)),
    Case("scheduling-while-atomic", "atomic_sleep"),
    Case("slab-naive-double-free", "double_free"),
    Case("slub-debug-double-free", "double_free", cmdline=("slub_debug=F",)),
    Case("kernel-panic", "panic"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "corpus" / "qemu")
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    args = parser.parse_args()
    unknown = set(args.cases) - {c.name for c in CASES}
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    kernel = fetch_debian_kernel()
    assert kernel.headers_dir is not None
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crashsig-capture-") as tmp:
        work = Path(tmp)
        module = build_crashmod(kernel.headers_dir, work)
        for case in CASES:
            if args.cases and case.name not in args.cases:
                continue
            repro = work / f"{case.name}.sh"
            repro.write_text(f"{case.setup}\necho {case.kind} > {TRIGGER}\n")
            initramfs = build_initramfs(
                work / "initramfs.gz", reproducer=repro, modules=[module]
            )
            result = boot(
                kernel.bzimage, initramfs, cmdline_extra=case.cmdline, test_timeout=120
            )
            print(
                f"{case.name}: {result.outcome}: {result.reason} ({result.duration:.1f} s)"
            )
            write_case(args.out / f"{case.name}.txt", result.console, f"Debian {kernel.release}")
    return 0


def write_case(path: Path, console: bytes, origin: str) -> None:
    """Write a test file: the reviewed headers of an existing one, else proposed ones."""
    if path.exists():
        headers = path.read_bytes().replace(b"\r", b"").split(b"\n\n", 1)[0].decode()
    else:
        headers = _proposed_headers(console, origin)
    path.write_bytes(headers.encode() + b"\n\n" + console)


def _proposed_headers(console: bytes, origin: str) -> str:
    lines = [f"# UNREVIEWED: the parser's answer; captured on {origin}"]
    reports = crashsig.parse(console)
    if reports:
        report = reports[0]
        lines.append(f"TITLE: {report.title}")
        lines += [f"ALT: {alt}" for alt in report.alt_titles]
        if report.type != "UNKNOWN":
            lines.append(f"TYPE: {report.type}")
        if report.corrupted:
            lines.append("CORRUPTED: Y")
        if report.panicked:
            lines.append("PANICKED: Y")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
