"""``crashsig bisect``: find the commit that introduced a crash, without being derailed.

Builds each revision in a worktree of its own (your checkout is never touched), boots it
under QEMU with the reproducer, and judges the runs: only the target crash (``--title``,
or the bad end's first crash) makes a revision bad; other crashes are unrelated. Runs
per revision adapt to the repro rate measured at the bad end. At the end the culprit is
rerun and its parent checked again. Progress goes to stderr; a syzbot-format log
(readable by ``crashsig bisect-log``) and a JSON result go to the work directory.

Exit status: 0 culprit found and confirmed; 1 not confirmed (or none found); 2 usage or
setup error (missing QEMU, unreadable reproducer, a good end that crashes, a bad end
that never reproduces).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shlex
import sys
from pathlib import Path

from crashsig.bisect import build, driver, git, record
from crashsig.bisect.kernel import fetch_debian_kernel
from crashsig.bisect.qemu import find_qemu
from crashsig.bisect.runner import Limits, VmRunner
from crashsig.bisect.verdict import Policy, Target
from crashsig.bisectlog import write
from crashsig.errors import InputError

_LIMITS = Limits()


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``bisect`` subcommand."""
    parser = subparsers.add_parser(
        "bisect",
        help="bisect a crash with QEMU runs judged by crash identity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--good", required=True, metavar="REV", help="a revision without the bug")
    parser.add_argument("--bad", required=True, metavar="REV", help="a revision that reproduces it")
    parser.add_argument("--log", type=Path, metavar="FILE", help="bisection log (default WORKDIR/bisect.log)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="JSON result (default WORKDIR/result.json)")
    add_setup_arguments(parser)
    parser.set_defaults(func=run)


def add_setup_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with ``bisect-run``: what to build, how to run it, how to judge it."""
    parser.add_argument("--repo", type=Path, default=Path("."), metavar="DIR", help="git repository (default .)")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--module-dir", metavar="SUBDIR", help="out-of-tree module in SUBDIR of the repository")
    what.add_argument("--kernel-tree", type=Path, metavar="CONFIG", help="the repository is a kernel tree; use CONFIG")
    what.add_argument("--build-cmd", metavar="CMD", help="run CMD in the worktree; it leaves a bzImage at --image")
    parser.add_argument("--image", default="arch/x86/boot/bzImage", metavar="PATH", help="bzImage left by --build-cmd")
    parser.add_argument("--kernel", type=Path, metavar="BZIMAGE", help="kernel for --module-dir (default: Debian's)")
    parser.add_argument("--headers", type=Path, metavar="DIR", help="headers for --module-dir (default: Debian's)")
    parser.add_argument("--repro", type=Path, required=True, metavar="FILE", help="reproducer: script or static binary")
    parser.add_argument("--title", help="the target crash title (default: the bad end's first crash)")
    parser.add_argument("--alt-title", action="append", default=[], metavar="TITLE", help="also the target")
    parser.add_argument("--any-crash", action="store_true", help="syzbot's rule: every crash counts as bad")
    parser.add_argument("--max-runs", type=int, default=Policy().max_runs, metavar="N", help="runs per revision cap")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="VMs run in parallel")
    parser.add_argument("--workdir", type=Path, metavar="DIR", help="builds, consoles, results")
    parser.add_argument("--boot-timeout", type=float, default=_LIMITS.boot, metavar="S")
    parser.add_argument("--test-timeout", type=float, default=_LIMITS.test, metavar="S")
    parser.add_argument("--timeout", type=float, default=_LIMITS.total, metavar="S", help="whole-run limit")
    parser.add_argument("--cmdline", action="append", default=[], metavar="ARG", help="extra kernel argument")


def run(args: argparse.Namespace) -> int:
    """Bisect, write the log and the JSON result, print the culprit."""
    options = driver.Options(args.good, args.bad, target(args), policy(args), jobs=max(1, args.jobs))
    workdir = workdir_for(args)
    runner, builder = make_runner(args, workdir)
    handler = _progress_to_stderr()
    try:
        result = driver.bisect(args.repo, runner, options, workdir=workdir)
    finally:
        logging.getLogger("crashsig.bisect").removeHandler(handler)
        builder.close()
    log_path, json_path = args.log or workdir / "bisect.log", args.json or workdir / "result.json"
    log_path.write_text(write(record.to_bisectlog(result, args.repo)))
    json_path.write_text(json.dumps(record.to_json(result), indent=1) + "\n")
    if result.culprit:
        print(f"culprit: {result.culprit} {git.subject(args.repo, result.culprit)}")
    else:
        print("culprit: none; could be any of:\n  " + "\n  ".join(result.candidates))
    print(f"confirmed: {'yes' if result.confirmed else 'no'} ({result.reason})")
    print(f"runs: {result.runs}, total time {record.go_duration(result.total_time)}")
    print(f"log: {log_path}\njson: {json_path}")
    return 0 if result.confirmed else 1


def target(args: argparse.Namespace) -> Target | None:
    """The target named on the command line, None to take the bad end's first crash."""
    if args.any_crash:
        return Target("")
    return Target(args.title, tuple(args.alt_title)) if args.title else None


def policy(args: argparse.Namespace) -> Policy:
    """The verdict policy from ``--any-crash`` and ``--max-runs``."""
    if args.max_runs < 1:
        raise InputError("--max-runs must be at least 1")
    return Policy(any_crash=args.any_crash, max_runs=args.max_runs)


def workdir_for(args: argparse.Namespace) -> Path:
    """``--workdir``, or a cache directory named after the repository."""
    if args.workdir:
        path = Path(args.workdir)
    else:
        key = hashlib.sha256(str(args.repo.resolve()).encode()).hexdigest()[:12]
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        path = base / "crashsig" / "bisect" / key
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def make_runner(args: argparse.Namespace, workdir: Path) -> tuple[VmRunner, build.Builder]:
    """Check the setup (QEMU, reproducer, repository) and assemble builder and runner."""
    find_qemu()
    if not (os.access(args.repro, os.R_OK) and args.repro.is_file()):
        raise InputError(f"{args.repro}: reproducer is not a readable file")
    if not (args.repo / ".git").exists():
        raise InputError(f"{args.repo}: not a git repository")
    repo, kernel = args.repo.resolve(), None
    builder: build.Builder
    if args.module_dir is not None:
        kernel, headers = args.kernel, args.headers
        if kernel is None or headers is None:
            debian = fetch_debian_kernel()
            kernel, headers = kernel or debian.bzimage, headers or debian.headers_dir
        builder = build.ModuleBuilder(repo, workdir, headers=headers, subdir=args.module_dir)
    elif args.kernel_tree is not None:
        if not args.kernel_tree.is_file():
            raise InputError(f"{args.kernel_tree}: kernel config is not a readable file")
        builder = build.KernelBuilder(repo, workdir, config=args.kernel_tree.resolve())
    else:
        builder = build.CommandBuilder(repo, workdir, command=shlex.split(args.build_cmd), image=args.image)
    limits = Limits(boot=args.boot_timeout, test=args.test_timeout, total=args.timeout)
    runner = VmRunner(
        builder,
        reproducer=args.repro.resolve(),
        workdir=workdir,
        kernel=kernel,
        jobs=args.jobs,
        limits=limits,
        cmdline_extra=args.cmdline,
    )
    return runner, builder


def _progress_to_stderr() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("crashsig: %(message)s"))
    logger = logging.getLogger("crashsig.bisect")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler
