"""``crashsig bisect``: find the commit that introduced a crash, without being derailed.

The command wires the builders, the VM runner and the run journal to
:func:`crashsig.bisect.driver.bisect`, turns SIGINT and SIGTERM into a clean stop (VMs
killed, worktrees removed, the log written up to where it stopped), and writes the log
and the JSON result.
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
from crashsig.bisect.interrupt import Interrupted, interruptible
from crashsig.bisect.journal import Journal
from crashsig.bisect.kernel import fetch_debian_kernel
from crashsig.bisect.qemu import find_qemu
from crashsig.bisect.results import Result
from crashsig.bisect.runner import Limits, VmRunner
from crashsig.bisect.verdict import Policy, Target
from crashsig.bisectlog import write
from crashsig.errors import InputError

_LIMITS = Limits()

DESCRIPTION = """\
Find the commit that introduced a kernel crash, without being derailed by other
crashes.

Each revision is built in a git worktree of its own (your checkout is never
touched) and booted under QEMU with the reproducer. Only the target crash
(--title, or the most frequent crash title at the bad end) makes a revision
bad; other crashes are unrelated. Runs per revision adapt to the repro rate
measured at the bad end; at the end the culprit is rerun and its parents are
checked again. Progress goes to standard error; a log in syzbot's format
(readable by 'crashsig bisect-log') and a JSON result go to the work directory.

Interrupted (Ctrl-C, SIGTERM), it stops its VMs, removes its worktrees and
writes the log, whose last line says where it stopped. The same command run
again resumes: it replays the runs recorded so far instead of booting them
again (--restart starts over).

exit status: 0 culprit found and confirmed; 1 not confirmed, or none found; 2
usage or setup error (QEMU missing, unreadable reproducer, a good end that
crashes, a bad end that never reproduces); 130 or 143 interrupted by SIGINT or
SIGTERM.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``bisect`` subcommand."""
    parser = subparsers.add_parser(
        "bisect",
        help="bisect a crash with QEMU runs judged by crash identity",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--good", required=True, metavar="REV", help="a revision without the bug")
    parser.add_argument("--bad", required=True, metavar="REV", help="a revision that reproduces it")
    parser.add_argument("--log", type=Path, metavar="FILE", help="bisection log (default: WORKDIR/bisect.log)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="JSON result (default: WORKDIR/result.json)")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="start over: do not replay the runs recorded by an interrupted bisection with the same setup",
    )
    add_setup_arguments(parser, title_help="the target crash title (default: the bad end's most frequent crash)")
    parser.set_defaults(func=run)


def add_setup_arguments(parser: argparse.ArgumentParser, *, title_help: str) -> None:
    """Options shared with ``bisect-run``: what to build, how to run it, how to judge it."""
    add = parser.add_argument
    add("--repo", type=Path, default=Path("."), metavar="DIR", help="git repository (default: %(default)s)")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--module-dir", metavar="SUBDIR", help="out-of-tree module in SUBDIR of the repository")
    what.add_argument("--kernel-tree", type=Path, metavar="CONFIG", help="the repository is a kernel tree; use CONFIG")
    what.add_argument("--build-cmd", metavar="CMD", help="run CMD in the worktree; it leaves a bzImage at --image")
    image_help = "bzImage left by --build-cmd, relative to the worktree (default: %(default)s)"
    add("--image", default="arch/x86/boot/bzImage", metavar="PATH", help=image_help)
    add("--kernel", type=Path, metavar="BZIMAGE", help="kernel for --module-dir (default: Debian's cloud kernel)")
    add("--headers", type=Path, metavar="DIR", help="headers for --module-dir (default: Debian's cloud kernel's)")
    add("--repro", type=Path, required=True, metavar="FILE", help="reproducer: shell script or static binary")
    add("--title", help=title_help)
    add("--alt-title", action="append", default=[], metavar="TITLE", help="another title of the target (repeatable)")
    add("--any-crash", action="store_true", help="syzbot's rule: every crash counts as bad")
    runs_help = "at most N runs per revision, twice that for end checks and confirmation (default: %(default)s)"
    add("--max-runs", type=int, default=Policy().max_runs, metavar="N", help=runs_help)
    add("--jobs", type=int, default=1, metavar="N", help="VMs run in parallel (default: %(default)s)")
    workdir_help = "builds, console logs, results and the run journal (default: ~/.cache/crashsig/bisect/HASH)"
    add("--workdir", type=Path, metavar="DIR", help=workdir_help)
    keep_help = (
        "keep the build worktree (WORKDIR/src) afterwards and reuse it next time (saves checking out a kernel tree)"
    )
    add("--keep-worktree", action="store_true", help=keep_help)
    boot_help = "seconds until the kernel runs /init (default: %(default)g)"
    add("--boot-timeout", type=float, default=_LIMITS.boot, metavar="S", help=boot_help)
    test_help = "seconds from /init until the guest powers off (default: %(default)g)"
    add("--test-timeout", type=float, default=_LIMITS.test, metavar="S", help=test_help)
    add(
        "--timeout",
        type=float,
        default=_LIMITS.total,
        metavar="S",
        help="seconds for a whole run (default: %(default)g)",
    )
    add("--cmdline", action="append", default=[], metavar="ARG", help="extra kernel argument (repeatable)")


def run(args: argparse.Namespace) -> int:
    """Bisect, write the log and the JSON result, print the culprit; stop cleanly on a signal."""
    try:
        with interruptible():
            return _bisect(args)
    except Interrupted as stop:  # before the bisection started (kernel download, setup checks)
        print(f"crashsig: error: interrupted by {stop.name}", file=sys.stderr)
        return stop.status


def _bisect(args: argparse.Namespace) -> int:
    options = driver.Options(args.good, args.bad, target(args), policy(args), jobs=max(1, args.jobs))
    workdir = workdir_for(args)
    vms, builder = make_runner(args, workdir)
    journal = Journal(vms, workdir / f"journal-{vms.setup_key()}.jsonl")
    handler = _progress_to_stderr()
    status = None
    try:
        if args.restart:
            journal.discard()
        elif journal.size:
            logging.getLogger("crashsig.bisect").info(
                "resuming: replaying %d runs recorded in %s (--restart starts over)", journal.size, journal.path
            )
        try:
            result = driver.bisect(args.repo, journal, options, workdir=workdir)
        except driver.BisectInterrupted as stop:
            result, status = stop.result, stop.status
    finally:
        logging.getLogger("crashsig.bisect").removeHandler(handler)
        builder.close()
    log_path, json_path = _write_outputs(args, workdir, result)
    if status is not None:
        print(f"crashsig: {journal.size} runs recorded: run the same command again to resume", file=sys.stderr)
        print(f"log: {log_path}\njson: {json_path}")
        return status
    journal.discard()
    if result.culprit:
        print(f"culprit: {result.culprit} {git.subject(args.repo, result.culprit)}")
    else:
        print("culprit: none; could be any of:\n  " + "\n  ".join(result.candidates))
    print(f"confirmed: {'yes' if result.confirmed else 'no'} ({result.reason})")
    replayed = f" ({journal.replayed} replayed from the journal)" if journal.replayed else ""
    print(f"runs: {result.runs}{replayed}, total time {record.go_duration(result.total_time)}")
    print(f"log: {log_path}\njson: {json_path}")
    return 0 if result.confirmed else 1


def _write_outputs(args: argparse.Namespace, workdir: Path, result: Result) -> tuple[Path, Path]:
    log_path, json_path = args.log or workdir / "bisect.log", args.json or workdir / "result.json"
    log_path.write_text(write(record.to_bisectlog(result, args.repo)))
    json_path.write_text(json.dumps(record.to_json(result), indent=1) + "\n")
    return log_path, json_path


def target(args: argparse.Namespace) -> Target | None:
    """The target named on the command line, None to take the bad end's most frequent crash."""
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
        builder = build.ModuleBuilder(
            repo, workdir, headers=headers, subdir=args.module_dir, keep_worktree=args.keep_worktree
        )
    elif args.kernel_tree is not None:
        if not args.kernel_tree.is_file():
            raise InputError(f"{args.kernel_tree}: kernel config is not a readable file")
        builder = build.KernelBuilder(
            repo, workdir, config=args.kernel_tree.resolve(), keep_worktree=args.keep_worktree
        )
    else:
        builder = build.CommandBuilder(
            repo, workdir, command=shlex.split(args.build_cmd), image=args.image, keep_worktree=args.keep_worktree
        )
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
