"""A simulator behind the driver's Runner seam: scenarios instead of VMs.

A scenario is a linear history of ``length`` commits after the good end (commit 0): the
bad end is commit ``length``. From ``culprit`` on, each run shows the target crash with
probability ``repro``. From ``flaky_at`` on, each run first hits an unrelated crash with
probability ``flaky_rate`` (that run never reaches the target, as in a real VM where the
first oops ends the run). Some commits do not build; some do not change the binary, so
their kernel signature equals their parent's. The culprit and its parent always build
and the culprit always changes the binary, so a single right answer exists.

``make_repo`` writes the history as a real git repository (via ``git fast-import``), so
the driver's git steps run for real; only building and booting are simulated.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
from pathlib import Path

import attrs

from crashsig.bisect.build import Build
from crashsig.bisect.verdict import Run
from crashsig.errors import BuildError

TARGET_TITLE = "kernel BUG in target_function"
FLAKY_TITLE = "general protection fault in flaky_function"
COMPILER = "gcc (simulated) 12.2.0"


@attrs.frozen
class Scenario:
    """One simulated bisection problem."""

    seed: int
    length: int
    """Commits after the good end; the bad end is commit ``length``."""
    culprit: int
    """First commit with the target bug (1..length)."""
    repro: float
    """Chance that a run of a buggy revision shows the target crash."""
    flaky_at: int | None = None
    """First commit with the unrelated flaky crash, None for none."""
    flaky_rate: float = 0.0
    """Chance that a run from ``flaky_at`` on hits the unrelated crash first."""
    unbuildable: frozenset[int] = frozenset()
    inert: frozenset[int] = frozenset()
    """Commits that leave the binary unchanged (same kernel signature as the parent)."""

    @property
    def derails_syzbot(self) -> bool:
        """True when the flaky crash shows up on innocent revisions (before the culprit)."""
        return self.flaky_at is not None and self.flaky_at < self.culprit


def random_scenario(seed: int) -> Scenario:
    """A scenario drawn from the benchmark's ranges (see docs/bisect.md)."""
    rng = random.Random(seed)
    length = max(4, round(2 ** rng.uniform(2.5, 11)))  # 6 to 2048 commits, log-uniform
    culprit = rng.randint(1, length)
    flaky = rng.random() < 0.5
    fixed = {0, length, culprit, culprit - 1}
    build_failure_rate = rng.choice((0.0, 0.0, 0.02, 0.1))
    return Scenario(
        seed=seed,
        length=length,
        culprit=culprit,
        repro=rng.uniform(0.1, 1.0),
        flaky_at=rng.randint(1, length) if flaky else None,
        flaky_rate=rng.uniform(0.05, 0.5) if flaky else 0.0,
        unbuildable=frozenset(i for i in range(length + 1) if i not in fixed and rng.random() < build_failure_rate),
        inert=frozenset(i for i in range(1, length + 1) if i != culprit and rng.random() < 0.2),
    )


def make_repo(path: Path, length: int) -> list[str]:
    """Create a git repository with ``length + 1`` linear commits; return their ids, oldest first."""
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "--quiet", "--initial-branch=main")
    stream = []
    for i in range(length + 1):
        message = f"sim: commit {i}\n".encode()
        content = f"{i}\n".encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(b"committer Sim <sim@example.com> %d +0000\n" % (1_600_000_000 + i))
        stream.append(b"data %d\n%s" % (len(message), message))
        stream.append(b"M 644 inline state\ndata %d\n%s\n" % (len(content), content))
    _git(path, "fast-import", "--quiet", stdin=b"".join(stream))
    return _git(path, "rev-list", "--reverse", "main").decode().split()


def _git(path: Path, *args: str, stdin: bytes | None = None) -> bytes:
    argv = ["git", "-C", str(path), "-c", "user.name=sim", "-c", "user.email=sim@example.com", *args]
    return subprocess.run(argv, input=stdin, capture_output=True, check=True, timeout=120).stdout


class SimRunner:
    """Implements the driver's Runner seam for one scenario and its repository."""

    def __init__(self, scenario: Scenario, commits: list[str], *, seed: int | None = None) -> None:
        self.scenario = scenario
        self.index = {commit: i for i, commit in enumerate(commits)}
        self.rng = random.Random(scenario.seed if seed is None else seed)
        self.signatures = _signatures(scenario)
        self.runs = 0
        self.builds = 0

    def build(self, commit: str) -> Build:
        """Pretend to build ``commit``."""
        i = self.index[commit]
        self.builds += 1
        if i in self.scenario.unbuildable:
            raise BuildError(f"{commit[:12]}: sim.c:{i}: error: simulated build failure")
        return Build(commit, self.signatures[i], COMPILER)

    def run(self, build: Build, count: int) -> list[Run]:
        """Draw ``count`` run outcomes for the build's revision."""
        i = self.index[build.commit]
        self.runs += count
        return [self._one(i) for _ in range(count)]

    def _one(self, i: int) -> Run:
        s = self.scenario
        if s.flaky_at is not None and i >= s.flaky_at and self.rng.random() < s.flaky_rate:
            return Run("crashed", FLAKY_TITLE, signature="flaky", duration=1.0)
        if i >= s.culprit and self.rng.random() < s.repro:
            return Run("crashed", TARGET_TITLE, signature="target", duration=1.0)
        return Run("ok", duration=1.0)


def _signatures(scenario: Scenario) -> list[str]:
    """Kernel signature per commit: a running hash over the commits that change the binary."""
    digest = hashlib.sha256()
    out = []
    for i in range(scenario.length + 1):
        if i not in scenario.inert:
            digest.update(b"%d," % i)
        out.append(digest.hexdigest())
    return out
