"""Worker processes for the fuzzer: each input runs under a CPU-time and memory budget.

A worker is a forked process that runs one input at a time and answers with the list of
problems it saw. The parent measures the worker's CPU time for that input (from
``/proc/PID/stat``, so a busy machine does not cause false timeouts) and kills it when the
input's budget is spent; a wall-clock backstop catches a worker that sleeps or waits on a
child. Inside, ``RLIMIT_AS`` is lowered per input to the worker's current size plus a
budget that grows linearly with the input, so runaway memory surfaces as ``MemoryError``.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import time
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path

import attrs

# Linear budgets: fixed part + part per input byte. The CPU rates are ~10x the slowest
# throughput measured on well-behaved inputs (all targets together), so only
# super-linear behaviour or a hang spends them.
CPU_BASE_S = 5.0
CPU_PER_MB_S = 30.0
WALL_FACTOR = 10.0
MEM_BASE = 384 << 20
MEM_PER_BYTE = 64  # parse() of 100 000 headers in 9 MB returns ~400 MB of reports
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")

Target = Callable[[bytes, dict[str, object]], "Result"]


@attrs.frozen
class Result:
    """What a target saw: findings, and how many documented crashsig errors it got."""

    problems: tuple[str, ...] = ()
    errors: int = 0


@attrs.frozen
class Job:
    """One input for a target: its bytes, a description to report and target options."""

    target: str
    description: str
    data: bytes
    options: dict[str, object] = attrs.field(factory=dict)

    def cpu_budget(self) -> float:
        """CPU seconds this input may use: linear in its size."""
        return CPU_BASE_S + CPU_PER_MB_S * len(self.data) / (1 << 20)


@attrs.frozen
class Outcome:
    """What happened to one job: the target's result (or a timeout/crash) and CPU seconds used."""

    job: Job
    result: Result
    cpu: float


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _vm_size() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[0]) * _PAGE


def _serve(conn: Connection, targets: dict[str, Target], setup: Callable[[], None] | None) -> None:
    """Worker loop: run jobs until the parent closes the pipe."""
    os.setpgrp()  # CLI subprocesses (grep prefilter) die with the worker's group
    if setup is not None:
        setup()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    while True:
        try:
            job: Job = conn.recv()
        except EOFError:
            return
        limit = _vm_size() + MEM_BASE + MEM_PER_BYTE * len(job.data)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
        try:
            result = targets[job.target](job.data, job.options)
        except MemoryError:
            result = Result((f"MemoryError: more than {limit >> 20} MiB of address space",))
        except BaseException:  # noqa: BLE001  # anything escaping a target is a finding
            result = Result(("uncaught in the harness:\n" + traceback.format_exc(limit=-8),))
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        conn.send(result)


class _Worker:
    def __init__(
        self, ctx: multiprocessing.context.BaseContext, targets: dict[str, Target], setup: Callable[[], None] | None
    ) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, targets, setup), daemon=True)
        self.proc.start()
        child.close()
        self.job: Job | None = None
        self.cpu_start = 0.0
        self.wall_start = 0.0

    def start(self, job: Job) -> None:
        self.job = job
        self.cpu_start = _cpu_seconds(self.proc.pid)
        self.wall_start = time.monotonic()
        self.conn.send(job)

    def cpu_used(self) -> float:
        return _cpu_seconds(self.proc.pid) - self.cpu_start

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.join(5)
        if not self.conn.closed:
            self.conn.close()


class Pool:
    """``jobs`` workers; ``run(iterable)`` yields an ``Outcome`` per job as they finish."""

    def __init__(
        self,
        jobs: int,
        targets: dict[str, Target],
        setup: Callable[[], None] | None = None,
        scratch: Path | None = None,
    ) -> None:
        self._scratch = scratch
        """A directory the workers write in, removed by :meth:`close`."""
        self._ctx = multiprocessing.get_context("fork")
        self._targets = targets
        self._setup = setup
        self._workers = [self._spawn() for _ in range(jobs)]

    def _spawn(self) -> _Worker:
        return _Worker(self._ctx, self._targets, self._setup)

    def run(self, jobs: Iterator[Job]) -> Iterator[Outcome]:
        """Feed ``jobs`` to the workers; one outcome per job, in completion order."""
        pending = iter(jobs)
        exhausted = False
        while True:
            for worker in self._workers:
                if worker.job is None and not exhausted:
                    job = next(pending, None)
                    if job is None:
                        exhausted = True
                    else:
                        worker.start(job)
            busy = [w for w in self._workers if w.job is not None]
            if not busy:
                return
            ready = wait([w.conn for w in busy], timeout=0.2)
            for index, worker in enumerate(self._workers):
                if worker.job is None:
                    continue
                outcome = self._check(worker, worker.conn in ready)
                if outcome is not None:
                    worker.job = None
                    if not worker.proc.is_alive() or worker.conn.closed:
                        self._workers[index] = self._spawn()
                    yield outcome

    def _check(self, worker: _Worker, ready: bool) -> Outcome | None:
        job = worker.job
        assert job is not None
        cpu = worker.cpu_used()
        if ready:
            try:
                result = worker.conn.recv()
            except (EOFError, OSError):
                code = worker.proc.exitcode
                worker.proc.join(5)
                code = worker.proc.exitcode if code is None else code
                worker.kill()
                return Outcome(job, Result((f"worker died (exit status {code})",)), cpu)
            return Outcome(job, result, cpu)
        budget = job.cpu_budget()
        wall = time.monotonic() - worker.wall_start
        if cpu > budget or wall > WALL_FACTOR * budget:
            worker.kill()
            what = "CPU" if cpu > budget else "wall-clock"
            message = (
                f"timeout: {cpu:.1f} s CPU, {wall:.1f} s wall ({what} budget {budget:.1f} s for {len(job.data)} bytes)"
            )
            return Outcome(job, Result((message,)), cpu)
        return None

    def close(self) -> None:
        """Stop every worker and remove the scratch directory."""
        for worker in self._workers:
            worker.kill()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
