"""The real Runner: build with a builder, boot the result under QEMU, turn boots into runs.

A batch of runs of one build boots ``jobs`` VMs at a time, each in a worker thread. Each
run's console is kept under ``WORKDIR/runs/COMMIT/N.log``. When the caller is interrupted
while it waits for a batch (Ctrl-C, SIGTERM), the boots still running are cancelled:
their QEMU is killed before the exception goes on.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import itertools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import attrs

from crashsig.bisect import qemu
from crashsig.bisect.build import Build, Builder, file_sha256
from crashsig.bisect.initramfs import build_initramfs
from crashsig.bisect.verdict import Run
from crashsig.signature import crash_signature

T = TypeVar("T")


@attrs.frozen
class Limits:
    """Time limits of one boot, in seconds (see :func:`crashsig.bisect.qemu.boot`)."""

    boot: float = 120.0
    test: float = 300.0
    total: float = 600.0


class VmRunner:
    """Runner seam implementation on QEMU: builds via ``builder``, boots ``kernel`` or the build's."""

    def __init__(
        self,
        builder: Builder,
        *,
        reproducer: Path,
        workdir: Path,
        kernel: Path | None = None,
        jobs: int = 1,
        limits: Limits = Limits(),
        cmdline_extra: Sequence[str] = (),
    ) -> None:
        self.builder = builder
        self.reproducer = reproducer
        self.workdir = Path(workdir)
        self.kernel = kernel
        self.jobs = max(1, jobs)
        self.limits = limits
        self.cmdline_extra = tuple(cmdline_extra)
        self._counters: dict[str, itertools.count[int]] = {}

    def build(self, commit: str) -> Build:
        """Build ``commit`` with the builder."""
        return self.builder.build(commit)

    def setup_key(self) -> str:
        """Names what makes runs of one kernel signature comparable: the build setup, the
        reproducer, the kernel booted with module builds, the command line, the time limits."""
        parts = (
            self.builder.setup_key(),
            file_sha256(self.reproducer),
            file_sha256(self.kernel) if self.kernel else "",
            *self.cmdline_extra,
            repr(attrs.astuple(self.limits)),
        )
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]

    def run(self, build: Build, count: int) -> list[Run]:
        """Boot the build ``count`` times, ``jobs`` at a time."""
        kernel = build.kernel or self.kernel
        if kernel is None:
            raise ValueError("a module build needs the runner's fixed kernel")
        rundir = self.workdir / "runs" / build.commit
        rundir.mkdir(parents=True, exist_ok=True)
        initramfs = self._initramfs(build, rundir)
        if build.commit not in self._counters:  # a resumed bisection keeps the earlier consoles
            self._counters[build.commit] = itertools.count(_next_free_number(rundir))
        numbers = self._counters[build.commit]
        logs = [rundir / f"{next(numbers)}.log" for _ in range(count)]
        return run_parallel(lambda log, cancel: self._boot(kernel, initramfs, log, cancel), logs, self.jobs)

    def _initramfs(self, build: Build, rundir: Path) -> Path:
        initramfs = rundir / "initramfs.cpio.gz"
        if not initramfs.exists():
            build_initramfs(initramfs, reproducer=self.reproducer, modules=build.modules)
        return initramfs

    def _boot(self, kernel: Path, initramfs: Path, console_log: Path, cancel: threading.Event) -> Run:
        result = qemu.boot(
            kernel,
            initramfs,
            console_log=console_log,
            boot_timeout=self.limits.boot,
            test_timeout=self.limits.test,
            total_timeout=self.limits.total,
            cmdline_extra=self.cmdline_extra,
            cancel=cancel,
        )
        return to_run(result, console_log)


def _next_free_number(rundir: Path) -> int:
    numbers = [int(path.stem) for path in rundir.glob("*.log") if path.stem.isdigit()]
    return max(numbers, default=-1) + 1


def run_parallel(boot: Callable[[T, threading.Event], Run], items: Sequence[T], jobs: int) -> list[Run]:
    """``boot(item, cancel)`` for every item, ``jobs`` at a time, results in order.

    When anything goes wrong in the caller's thread (an interrupt while it waits, or a
    boot that raised), ``cancel`` is set and the boots still running are waited for: each
    kills its VM and returns within moments, so no VM outlives the call.
    """
    cancel = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = [pool.submit(boot, item, cancel) for item in items]
        for future in concurrent.futures.as_completed(futures):
            future.result()  # the first boot that fails raises here, while the others still run
        return [future.result() for future in futures]
    except BaseException:
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def to_run(result: qemu.RunResult, console_log: Path | None = None) -> Run:
    """A boot result as the verdict sees it (title, alt titles, crash signature, report text)."""
    report = result.report
    return Run(
        outcome=result.outcome,
        title=result.title or "",
        alt_titles=report.alt_titles if report else (),
        signature=crash_signature(report) if report else "",
        reason=result.reason,
        duration=result.duration,
        report=report.text if report else "",
        console_log=str(console_log) if console_log else "",
    )
