#!/usr/bin/env python3
"""Fuzz crashsig with mutated console logs and mutated ELF/DWARF files.

    python benchmarks/fuzz.py --logs 100000 --elfs 10000 --seed 1 --jobs 2

Logs come from the syzkaller corpus (``../shared/corpus/syzkaller``) and ``tests/corpus``;
ELF files are tiny programs compiled here with gcc and clang (DWARF 4 and 5, linked and
relocatable). Each input runs in a worker with a CPU budget and an address-space limit
that grow linearly with its size (see ``fuzz_pool``). The only allowed failures are
crashsig's documented errors; anything else is printed, and the failing input is saved
under ``--save`` for reproduction. Exit status 1 when any input failed.
"""

from __future__ import annotations

import argparse
import collections
import random
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_elfs import ELF_CLASSES, Seed, build_seeds, mutate_elf, oops_log
from fuzz_logs import MUTATORS, Corpus, mutate
from fuzz_pool import Job, Outcome, Pool
from fuzz_targets import TARGETS, Workspace


class Inputs:
    """Deterministic fuzz inputs: input ``i`` of a kind depends only on (seed, kind, i)."""

    def __init__(self, seed: int, corpus: Corpus, seeds: list[Seed], skip: frozenset[str]) -> None:
        self.seed = seed
        self.corpus = corpus
        self.seeds = seeds
        self.skip = skip
        self.host = next(s for s in seeds if not s.relocatable)

    def log(self, index: int) -> Job:
        """Mutated console log number ``index``."""
        rng = random.Random(f"{self.seed}:log:{index}")
        description, data = mutate(self.corpus, rng, self.skip)
        # Every log goes through the library; every 2nd also as str and with 2020 titles,
        # every 3rd through the CLI (alternating text and JSON): those repeat the parse.
        options: dict[str, object] = {"variants": index % 2 == 0, "cli": index % 3 == 0, "json": index % 6 == 3}
        if index % 9 == 0 and "compressed" not in self.skip:  # a third of the CLI runs read .gz/.xz
            options["compressed"] = rng.choice(("gz", "xz", "gz-flip", "xz-flip"))
        return Job("log", f"log {index}: {description}", data, options)

    def elf(self, index: int) -> Job:
        """Mutated ELF file number ``index``."""
        rng = random.Random(f"{self.seed}:elf:{index}")
        seed = self.seeds[index % len(self.seeds)]
        if index % 5 == 4 and "index" not in self.skip:  # the pristine file, its on-disk index corrupted
            job = self.elf_job(seed, f"elf {index}: {seed.name} [corrupt index]", seed.data, cache=True)
            return attrs.evolve(job, options={**job.options, "corrupt_index": rng.randrange(1 << 32)})
        description, data = mutate_elf(seed, rng, self.skip)
        job = self.elf_job(seed, f"elf {index}: {description}", data, cache=index % 4 == 3)
        return attrs.evolve(job, options={**job.options, "cli": index % 3 == 0})

    def elf_job(self, seed: Seed, description: str, data: bytes, *, cache: bool = False) -> Job:
        """The job that checks ``data`` as a variant of ``seed``."""
        functions = [(f.name, f.address, f.size) for f in seed.functions]
        options = {
            "functions": functions,
            "log": oops_log(seed),
            "relocatable": seed.relocatable,
            "host": str(self.host.path),
            "cache": cache,
        }
        return Job("elf", description, data, options)

    def interleaved(self, logs: int, elfs: int, deadline: float) -> Iterator[Job]:
        """``logs`` log jobs and ``elfs`` ELF jobs, mixed evenly, until ``deadline``."""
        done_logs = done_elfs = 0
        while (done_logs < logs or done_elfs < elfs) and time.monotonic() < deadline:
            if done_elfs >= elfs or (done_logs < logs and done_logs * max(elfs, 1) <= done_elfs * logs):
                yield self.log(done_logs)
                done_logs += 1
            else:
                yield self.elf(done_elfs)
                done_elfs += 1


def make_pool(jobs: int, seeds: list[Seed]) -> Pool:
    """Workers whose log symbolizer is the first linked seed with the first relocatable one as a module."""
    host = next(s for s in seeds if not s.relocatable)
    module = next(s for s in seeds if s.relocatable)
    scratch = Path(tempfile.mkdtemp(prefix="crashsig-fuzz-"))
    return Pool(jobs, TARGETS, lambda: Workspace.setup(str(host.path), str(module.path), scratch), scratch)


def extra_logs(seeds: list[Seed]) -> list[tuple[str, bytes]]:
    """Synthetic oopses naming the seed programs' functions, so ``annotate`` has work to do."""
    return [(f"synthetic/{s.name}", oops_log(s)) for s in seeds]


class Stats:
    """Counts per target kind, failures, and the worst CPU time per MB seen."""

    def __init__(self, save: Path | None) -> None:
        self.tried: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.failures: list[Outcome] = []
        self.bytes = 0
        self.worst = (0.0, "")
        self.save = save

    def add(self, outcome: Outcome) -> None:
        job = outcome.job
        self.tried[job.target] += 1
        self.errors[job.target] += outcome.result.errors > 0
        self.bytes += len(job.data)
        if outcome.cpu > self.worst[0]:
            self.worst = (outcome.cpu, f"{job.description} ({len(job.data)} bytes)")
        if outcome.result.problems:
            self.failures.append(outcome)
            where = self._save(outcome)
            print(f"FAIL {job.description[:300]}{where}\n  " + "\n  ".join(outcome.result.problems)[:3000], flush=True)

    def _save(self, outcome: Outcome) -> str:
        if self.save is None:
            return ""
        self.save.mkdir(parents=True, exist_ok=True)
        path = self.save / f"{outcome.job.target}-{len(self.failures)}.bin"
        path.write_bytes(outcome.job.data)
        return f" -> {path}"

    def line(self, elapsed: float) -> str:
        total = sum(self.tried.values())
        return (
            f"{elapsed:7.0f}s  logs {self.tried['log']} ({self.errors['log']} with crashsig errors)  "
            f"elfs {self.tried['elf']} ({self.errors['elf']} with crashsig errors)  "
            f"failures {len(self.failures)}  {total / max(elapsed, 1e-9):.1f} inputs/s  "
            f"{self.bytes / 1e6:.0f} MB"
        )


def run(pool: Pool, jobs: Iterator[Job], stats: Stats, progress: float = 30.0) -> None:
    """Run every job, printing a progress line every ``progress`` seconds."""
    start = last = time.monotonic()
    for outcome in pool.run(jobs):
        stats.add(outcome)
        now = time.monotonic()
        if now - last >= progress:
            print(stats.line(now - start), flush=True)
            last = now
    print(stats.line(time.monotonic() - start), flush=True)


def replay(inputs: Inputs, kind: str, path: str) -> int:
    """Run one saved failing input in this process; print its problems."""
    data = Path(path).read_bytes()
    if kind == "log":
        job = Job("log", path, data, {"variants": True, "cli": True})
    else:
        job = inputs.elf_job(next(s for s in inputs.seeds if s.name == kind), path, data)
    host = next(s for s in inputs.seeds if not s.relocatable)
    with tempfile.TemporaryDirectory(prefix="crashsig-fuzz-") as scratch:
        Workspace.setup(str(host.path), str(next(s for s in inputs.seeds if s.relocatable).path), Path(scratch))
        result = TARGETS[job.target](job.data, job.options)
    print(f"{path}: {result.errors} crashsig errors, {len(result.problems)} problems")
    for problem in result.problems:
        print(problem)
    return 1 if result.problems else 0


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--logs", type=int, default=1000, help="number of mutated logs (default 1000)")
    parser.add_argument("--elfs", type=int, default=200, help="number of mutated ELF files (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="random seed; same seed, same inputs")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--minutes", type=float, default=0, help="stop starting new inputs after this long")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="CLASS",
        choices=sorted({*MUTATORS, *ELF_CLASSES, "index", "compressed"}),
        help="leave out a mutation class (repeatable)",
    )
    parser.add_argument(
        "--replay",
        metavar="KIND:FILE",
        help="run one saved input in this process and print its problems; KIND is 'log' or the seed "
        "ELF the input was mutated from (e.g. clang-dwarf5-rel)",
    )
    parser.add_argument(
        "--save",
        type=Path,
        default=Path(tempfile.gettempdir()) / "crashsig-fuzz-failures",
        help="directory for failing inputs",
    )
    args = parser.parse_args(argv)
    seeds = build_seeds(Path(tempfile.gettempdir()) / "crashsig-fuzz-seeds")
    inputs = Inputs(args.seed, Corpus.load(extra_logs(seeds)), seeds, frozenset(args.skip))
    if args.replay:
        return replay(inputs, *args.replay.split(":", 1))
    deadline = time.monotonic() + (args.minutes * 60 if args.minutes else float("inf"))
    print(
        f"fuzz: seed {args.seed}, {len(inputs.corpus.logs)} seed logs, {len(seeds)} seed ELF files, "
        f"{args.jobs} workers, skipping {sorted(args.skip) or 'nothing'}",
        flush=True,
    )
    stats = Stats(args.save)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally below: stop the workers
    pool = make_pool(args.jobs, seeds)
    try:
        run(pool, inputs.interleaved(args.logs, args.elfs, deadline), stats)
    finally:
        pool.close()
    print(
        f"tried {stats.tried['log']} logs and {stats.tried['elf']} ELF files: {len(stats.failures)} failures; "
        f"slowest input {stats.worst[0]:.2f} s CPU: {stats.worst[1][:200]}"
    )
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())
