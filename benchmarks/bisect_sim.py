"""Bisection accuracy and cost: crashsig's verdicts against syzbot's rule, in simulation.

    python benchmarks/bisect_sim.py [--scenarios 1000] [--seed 0] [--jobs 2]

Each scenario (``crashsig.bisect.sim.random_scenario``) becomes a real git repository,
and the real driver bisects it twice, with the VM runner replaced by the simulator:
once with crashsig's adaptive verdicts (target crash only, confirmation on) and once
with syzbot's rule (10 runs per revision, any crash is bad, no confirmation). Prints
culprit accuracy and mean VM runs side by side, overall and per kind of scenario.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from crashsig.bisect import driver, sim
from crashsig.bisect.verdict import Policy, Target
from crashsig.errors import CrashsigError

TARGET = Target(sim.TARGET_TITLE, signature="target")
METHODS: dict[str, tuple[Policy, bool]] = {
    "crashsig": (Policy(), True),
    "syzbot": (Policy.syzbot(), False),
}


@attrs.frozen
class Outcome:
    method: str
    scenario: sim.Scenario
    correct: bool
    confirmed: bool
    runs: int
    builds: int
    error: str = ""


def run_scenario(seed: int) -> list[Outcome]:
    """Bisect one scenario with every method."""
    scenario = sim.random_scenario(seed)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="crashsig-sim-") as tmp:
        repo = Path(tmp) / "repo"
        commits = sim.make_repo(repo, scenario.length)
        for method, (policy, confirm) in METHODS.items():
            runner = sim.SimRunner(scenario, commits)
            options = driver.Options(commits[0], commits[-1], TARGET, policy, confirm=confirm)
            try:
                result = driver.bisect(repo, runner, options)
            except CrashsigError as exc:  # a setup error is a wrong answer; show it
                outcomes.append(Outcome(method, scenario, False, False, runner.runs, runner.builds, str(exc)))
                continue
            correct = result.culprit == commits[scenario.culprit]
            outcomes.append(Outcome(method, scenario, correct, result.confirmed, runner.runs, runner.builds))
    return outcomes


GROUPS: dict[str, Callable[[sim.Scenario], bool]] = {
    "all": lambda s: True,
    "repro < 0.3": lambda s: s.repro < 0.3,
    "repro >= 0.7": lambda s: s.repro >= 0.7,
    "flaky crash before culprit": lambda s: s.derails_syzbot,
    "no flaky crash": lambda s: s.flaky_at is None,
    "build failures": lambda s: bool(s.unbuildable),
    "history > 256": lambda s: s.length > 256,
}


def report(outcomes: list[Outcome]) -> str:
    """The side-by-side table."""
    methods = list(METHODS)
    head = f"{'scenarios':<28} {'n':>5}" + "".join(f" | {m + ' acc':>13} {'runs':>6}" for m in methods)
    lines = [head, "-" * len(head)]
    for name, keep in GROUPS.items():
        row = [o for o in outcomes if keep(o.scenario)]
        n = len(row) // len(methods)
        if not n:
            continue
        cells = ""
        for method in methods:
            mine = [o for o in row if o.method == method]
            acc = sum(o.correct for o in mine) / len(mine)
            runs = sum(o.runs for o in mine) / len(mine)
            cells += f" | {acc:>13.1%} {runs:>6.1f}"
        lines.append(f"{name:<28} {n:>5}{cells}")
    confirmed = [o for o in outcomes if o.method == "crashsig" and o.confirmed]
    if confirmed:
        right = sum(o.correct for o in confirmed) / len(confirmed)
        lines.append(f"crashsig confirmed {len(confirmed)} culprits; {right:.1%} of those are right")
    errors = [o for o in outcomes if o.error]
    for o in errors[:5]:
        lines.append(f"setup error ({o.method}, seed {o.scenario.seed}): {o.error}")
    return "\n".join(lines)


_DEFAULT_TMP = "/dev/shm" if Path("/dev/shm").is_dir() else tempfile.gettempdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="first scenario seed")
    parser.add_argument("--jobs", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--tmp", default=_DEFAULT_TMP, help="where scenario repositories go (default: %(default)s)")
    args = parser.parse_args(argv)
    tempfile.tempdir = args.tmp  # git is I/O-bound: a tmpfs makes the run several times faster
    start = time.monotonic()
    seeds = range(args.seed, args.seed + args.scenarios)
    with multiprocessing.Pool(args.jobs) as pool:
        outcomes = [o for batch in pool.imap_unordered(run_scenario, seeds, chunksize=4) for o in batch]
    print(report(outcomes))
    print(f"{args.scenarios} scenarios in {time.monotonic() - start:.0f} s (wall)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
