"""``crashsig boot``: boot a kernel under QEMU once and say how the run ended."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from crashsig.bisect.initramfs import build_initramfs
from crashsig.bisect.interrupt import Interrupted, interruptible
from crashsig.bisect.kernel import fetch_debian_kernel
from crashsig.bisect.qemu import RunResult, boot
from crashsig.commands.parse_cmd import report_to_json
from crashsig.errors import InputError

EXIT_STATUS = {
    "ok": 0,
    "crashed": 1,
    "infra error": 2,
    "boot failed": 3,
    "timed out": 3,
}
DEBIAN = "debian"

DESCRIPTION = """\
Boot a kernel once under QEMU (direct kernel boot, serial console, panic=-1 and
-no-reboot so that a crash ends the VM at once) with an initramfs that loads
the given modules, runs the reproducer and powers off. The console is parsed
while it runs; the outcome is ok, crashed: TITLE, boot failed, timed out or
infra error, with the reason. QEMU runs in its own process group and is killed
on every way out, Ctrl-C and SIGTERM included.

exit status: 0 ok; 1 crashed; 2 setup error (bad option, unreadable file, infra
error such as QEMU missing or an image QEMU rejects); 3 boot failed or timed
out; 130 or 143 interrupted by SIGINT or SIGTERM.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``boot`` subcommand."""
    parser = subparsers.add_parser(
        "boot",
        help="boot a kernel under QEMU with a reproducer and classify the run",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--kernel",
        required=True,
        metavar="BZIMAGE",
        help=f"kernel image, or '{DEBIAN}' for Debian's cloud kernel (apt-get download)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--initramfs", type=Path, metavar="FILE", help="use this initramfs as is")
    source.add_argument(
        "--repro",
        type=Path,
        metavar="FILE",
        help="reproducer (shell script or static binary) for a generated initramfs",
    )
    parser.add_argument(
        "--module",
        type=Path,
        action="append",
        default=[],
        metavar="KO",
        help="module to insmod before the reproducer (repeatable)",
    )
    parser.add_argument(
        "--cmdline",
        action="append",
        default=[],
        metavar="ARG",
        help="extra kernel command-line argument (repeatable)",
    )
    parser.add_argument("--console-log", type=Path, metavar="FILE", help="write the console here")
    parser.add_argument(
        "--boot-timeout",
        type=float,
        default=120.0,
        metavar="S",
        help="seconds until the kernel runs /init (default: %(default)g)",
    )
    parser.add_argument(
        "--test-timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds from /init until the guest powers off (default: %(default)g)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds for the whole run (default: %(default)g)",
    )
    parser.add_argument(
        "--memory",
        type=int,
        default=512,
        metavar="MB",
        help="guest memory in MB (default: %(default)s)",
    )
    parser.add_argument(
        "--accel",
        choices=("auto", "kvm", "tcg"),
        default="auto",
        help="auto: KVM when it works, else TCG emulation (default: %(default)s)",
    )
    parser.add_argument(
        "--qemu",
        default="qemu-system-x86_64",
        help="QEMU binary (default: %(default)s)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="output format (default: %(default)s)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Boot once, print the outcome, return the exit status; stop cleanly on a signal."""
    started = time.monotonic()
    try:
        with interruptible():
            return _boot(args)
    except Interrupted as stop:
        where = f"interrupted by {stop.name} after {time.monotonic() - started:.1f} s"
        if args.console_log is not None and args.console_log.is_file():
            with args.console_log.open("a") as console:
                console.write(f"\ncrashsig: {where}\n")
        print(f"crashsig: error: {where}", file=sys.stderr)
        return stop.status


def _boot(args: argparse.Namespace) -> int:
    if args.initramfs is not None and args.module:
        raise InputError("--module needs a generated initramfs: use --repro, not --initramfs")
    kernel = fetch_debian_kernel(headers=False).bzimage if args.kernel == DEBIAN else Path(args.kernel)
    with tempfile.TemporaryDirectory(prefix="crashsig-boot-") as tmp:
        initramfs = args.initramfs or build_initramfs(
            Path(tmp) / "initramfs.gz", reproducer=args.repro, modules=args.module
        )
        result = boot(
            kernel,
            initramfs,
            console_log=args.console_log,
            boot_timeout=args.boot_timeout,
            test_timeout=args.test_timeout,
            total_timeout=args.timeout,
            cmdline_extra=args.cmdline,
            memory_mb=args.memory,
            accel=args.accel,
            qemu=args.qemu,
        )
    print(_format(result, args.format))
    return EXIT_STATUS[result.outcome]


def _format(result: RunResult, style: str) -> str:
    if style == "json":
        return json.dumps(
            {
                "outcome": result.outcome,
                "title": result.title,
                "reason": result.reason,
                "duration": round(result.duration, 3),
                "accel": result.accel,
                "report": None if result.report is None else report_to_json(result.report),
            },
            indent=2,
        )
    headline = f"crashed: {result.title or '(no title)'}" if result.outcome == "crashed" else result.outcome
    return f"{headline}\n  reason:   {result.reason}\n  duration: {result.duration:.1f} s ({result.accel or '-'})"
