"""The real Runner: build with a builder, boot the result under QEMU, turn boots into runs.

A batch of runs of one build boots ``jobs`` VMs at a time. Each run's console is kept
under ``WORKDIR/runs/COMMIT/N.log``.
"""

from __future__ import annotations

import concurrent.futures
import itertools
from collections.abc import Sequence
from pathlib import Path

import attrs

from crashsig.bisect import qemu
from crashsig.bisect.build import Build, Builder
from crashsig.bisect.initramfs import build_initramfs
from crashsig.bisect.verdict import Run
from crashsig.signature import crash_signature


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

    def run(self, build: Build, count: int) -> list[Run]:
        """Boot the build ``count`` times, ``jobs`` at a time."""
        kernel = build.kernel or self.kernel
        if kernel is None:
            raise ValueError("a module build needs the runner's fixed kernel")
        rundir = self.workdir / "runs" / build.commit
        rundir.mkdir(parents=True, exist_ok=True)
        initramfs = rundir / "initramfs.cpio.gz"
        if not initramfs.exists():
            build_initramfs(initramfs, reproducer=self.reproducer, modules=build.modules)
        numbers = self._counters.setdefault(build.commit, itertools.count())
        logs = [rundir / f"{next(numbers)}.log" for _ in range(count)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.jobs) as pool:
            return list(pool.map(lambda log: self._boot(kernel, initramfs, log), logs))

    def _boot(self, kernel: Path, initramfs: Path, console_log: Path) -> Run:
        result = qemu.boot(
            kernel,
            initramfs,
            console_log=console_log,
            boot_timeout=self.limits.boot,
            test_timeout=self.limits.test,
            total_timeout=self.limits.total,
            cmdline_extra=self.cmdline_extra,
        )
        return to_run(result, console_log)


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
