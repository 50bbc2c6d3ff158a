"""``crashsig bisect-run``: judge one revision, as a ``git bisect run`` script.

Builds the revision with the same builders as ``crashsig bisect``, runs the reproducer
adaptively, and maps the verdict to the exit statuses ``git bisect run`` reads.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from crashsig.bisect import git
from crashsig.bisect.build import Build
from crashsig.bisect.interrupt import Interrupted, interruptible
from crashsig.bisect.verdict import Rate, Run, Target, judge
from crashsig.commands.bisect_cmd import (
    add_setup_arguments,
    make_runner,
    policy,
    target,
    workdir_for,
)
from crashsig.errors import BuildError, CrashsigError

EXIT = {"good": 0, "bad": 1, "skip": 125}
EXIT_ABORT = 128
"""``git bisect run`` stops on exit statuses above 127; anything from 1 to 127 but 125 means bad."""

DEFAULT_REPRO_RATE = 0.3
"""Assumed repro rate when none is given: low, so a good verdict needs enough clean runs."""

DESCRIPTION = """\
Judge one revision the way 'crashsig bisect' does, as a script for 'git bisect
run':

    git bisect start BAD GOOD
    git bisect run crashsig bisect-run --module-dir . --repro repro.sh --title 'kernel BUG in foo'

It builds the revision (HEAD of --repo unless --rev says otherwise) in a
worktree of its own, runs the reproducer adaptively and judges the runs. With
no bad end to measure, the repro rate comes from --repro-rate. Interrupted, it
stops its VMs and removes its worktree.

exit status, as 'git bisect run' reads it: 0 good; 1 bad; 125 skip (the
revision does not build or cannot be judged); 128 on any usage or setup error,
and when interrupted (this stops 'git bisect run' instead of marking the
revision bad).
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``bisect-run`` subcommand."""
    parser = subparsers.add_parser(
        "bisect-run",
        help="judge one revision for 'git bisect run' (0 good, 1 bad, 125 skip)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rev", default="HEAD", help="the revision to judge (default: %(default)s)")
    parser.add_argument(
        "--repro-rate",
        type=float,
        default=DEFAULT_REPRO_RATE,
        metavar="P",
        help="share of runs that reproduce the target on a bad revision (default: %(default)s)",
    )
    add_setup_arguments(parser, title_help="the target crash title (required unless --any-crash)")
    parser.error = _abort  # usage errors must stop git bisect run, not mark the revision bad
    parser.set_defaults(func=run)


def _abort(message: str) -> NoReturn:
    print(f"crashsig: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_ABORT)


def run(args: argparse.Namespace) -> int:
    """Judge one revision and return git bisect run's exit status."""
    try:
        with interruptible():
            return _judge(args)
    except CrashsigError as exc:
        _abort(str(exc))
    except Interrupted as stop:
        _abort(f"interrupted by {stop.name}")


def _judge(args: argparse.Namespace) -> int:
    if not args.title and not args.any_crash:
        _abort("bisect-run needs --title (or --any-crash): there is no bad end to take it from")
    if not 0.0 < args.repro_rate <= 1.0:
        _abort("--repro-rate must be in (0, 1]")
    commit = git.rev_parse(args.repo, args.rev)
    runner, builder = make_runner(args, workdir_for(args))
    try:
        built: Build = runner.build(commit)
    except BuildError as exc:
        print(f"crashsig: {commit[:12]}: skip: build failed\n{exc}", file=sys.stderr)
        return EXIT["skip"]
    finally:
        builder.close()
    rules, rate = policy(args), Rate.from_probability(args.repro_rate)
    bug = target(args) or Target(args.title)
    runs: list[Run] = []
    verdict = judge(runs, bug, rate, rules)
    while not verdict.done:
        runs += runner.run(built, max(1, min(args.jobs, rules.max_runs - len(runs))))
        verdict = judge(runs, bug, rate, rules)
    for number, one in enumerate(runs):
        print(f"run #{number}: {one.describe()}", file=sys.stderr)
    print(f"crashsig: {commit[:12]}: {verdict.result} ({verdict.reason})", file=sys.stderr)
    return EXIT[verdict.result]
