"""Boot a kernel under QEMU, watch its serial console, and classify the run.

Public API (stable, used by the bisect driver)::

    boot(kernel, initramfs, *, console_log=None, boot_timeout=120.0, test_timeout=300.0,
         total_timeout=600.0, cmdline_extra=(), memory_mb=512, cpus=1, accel="auto",
         qemu="qemu-system-x86_64", crash_grace=5.0, cancel=None) -> RunResult
    find_qemu(qemu="qemu-system-x86_64") -> Path      # raises InfraError: check setup early
    DEFAULT_CMDLINE                                    # the kernel command line boot() uses

``RunResult.outcome`` is one of:

``ok``           the guest reached ``/init`` and powered off without a crash;
``crashed``      ``crashsig.parse`` found an oops (``title`` and ``report`` are set; ``title``
                 is None only when a crash header was seen but the parser built no report);
``boot failed``  the kernel never reached ``/init`` in ``boot_timeout`` (or stopped before it),
                 or ``/init`` gave up (a module that does not load);
``timed out``    after boot, the run exceeded ``test_timeout`` or ``total_timeout``;
``infra error``  QEMU is missing, rejected the image, or died with an error.

``reason`` always says why in one line. The QEMU process runs in its own process group
(and with a parent-death signal, via ``setpriv``) and the group is killed on every way out
of :func:`boot`: a timeout, an exception, ``KeyboardInterrupt``, and ``SIGTERM`` (which
:func:`boot` turns into ``SystemExit(143)`` while it runs in the main thread, unless the
caller handles SIGTERM itself). Several :func:`boot` calls may run at once in worker
threads (``--jobs``), where signals never arrive: the caller sets ``cancel`` instead,
and each stops and kills its QEMU within ``CANCEL_POLL`` seconds.
An image that is neither a bzImage nor an ELF kernel is an ``infra error`` before QEMU starts.

KVM is used only when ``/dev/kvm`` opens *and* a probe boot of the same kernel prints
``Linux version`` (some hosts expose a ``/dev/kvm`` that cannot run a kernel); otherwise
QEMU emulates with ``-accel tcg -cpu max``. The probe result is cached per QEMU binary.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Literal, cast

import attrs

import crashsig
from crashsig.bisect.initramfs import BOOTED_LINE, END_PREFIX, ERROR_PREFIX
from crashsig.errors import InfraError, InputError
from crashsig.types import Report

__all__ = ["DEFAULT_CMDLINE", "Outcome", "RunResult", "boot", "find_qemu"]

log = logging.getLogger(__name__)

Outcome = Literal["ok", "crashed", "boot failed", "timed out", "infra error"]

DEFAULT_CMDLINE: tuple[str, ...] = (
    "console=ttyS0",  # the serial port is QEMU's stdout
    "panic=-1",  # reboot at once on panic; with -no-reboot QEMU then exits
    "oops=panic",  # an oops panics instead of killing only the current task
    "panic_on_warn=1",  # so does a WARNING
    "softlockup_panic=1",  # and a soft lockup
    "hung_task_panic=1",  # and a hung task (hung_task_timeout_secs=N shortens the wait)
    "printk.time=1",  # [  1.234567] timestamps, as syzkaller's logs have
    "nokaslr",  # stable addresses across runs
)
"""Kernel command line of every run; ``cmdline_extra`` is appended to it."""

_INIT_RE = re.compile(rb"Run \S+ as init process|" + re.escape(BOOTED_LINE.encode()))
_ERROR_RE = re.compile(re.escape(ERROR_PREFIX.encode()) + rb"(?P<why>[^\r\n]*)")
_END_RE = re.compile(re.escape(END_PREFIX.encode()) + rb"(?P<status>\d+)")
_BZIMAGE_MAGIC_OFFSET = 0x202  # x86 boot protocol: every bzImage has "HdrS" here
_BZIMAGE_MAGIC = b"HdrS"
_KVM_PROBE_TIMEOUT = 10.0
_EXIT_WAIT = 10.0
CANCEL_POLL = 0.2
"""Seconds between two looks at ``cancel`` while the console is quiet."""
_kvm_probes: dict[str, bool] = {}


@attrs.frozen
class RunResult:
    """How one boot ended, with the console it printed."""

    outcome: Outcome
    """``ok``, ``crashed``, ``boot failed``, ``timed out`` or ``infra error``."""
    title: str | None
    """The crash title when ``outcome`` is ``crashed`` (None if unparsed), else None."""
    report: Report | None
    """The first report ``crashsig.parse`` found in the console, else None."""
    reason: str
    """One line saying why the run got this outcome."""
    console: bytes
    """The serial console, with ``\\r\\n`` turned into ``\\n``."""
    duration: float
    """Wall-clock seconds from the start of :func:`boot` to its end."""
    accel: str = ""
    """``kvm`` or ``tcg``; empty when QEMU never started."""


def find_qemu(qemu: str = "qemu-system-x86_64") -> Path:
    """Return the QEMU binary's path; raise InfraError when it is missing (a setup check)."""
    found = shutil.which(qemu)
    if found is None:
        raise InfraError(f"{qemu}: QEMU not found (Debian package qemu-system-x86)")
    return Path(found)


def boot(
    kernel: Path,
    initramfs: Path,
    *,
    console_log: Path | None = None,
    boot_timeout: float = 120.0,
    test_timeout: float = 300.0,
    total_timeout: float = 600.0,
    cmdline_extra: Sequence[str] = (),
    memory_mb: int = 512,
    cpus: int = 1,
    accel: Literal["auto", "kvm", "tcg"] = "auto",
    qemu: str = "qemu-system-x86_64",
    crash_grace: float = 5.0,
    cancel: threading.Event | None = None,
) -> RunResult:
    """Boot ``kernel`` with ``initramfs`` under QEMU and classify the run (see module doc).

    :param console_log: also write the console there, as it arrives.
    :param boot_timeout: seconds from start until the kernel runs ``/init``.
    :param test_timeout: seconds from ``/init`` until the guest powers off.
    :param total_timeout: seconds for the whole run.
    :param crash_grace: seconds to keep reading after a crash header appeared, for the rest
        of the report, when the guest does not stop by itself.
    :param cancel: set from another thread to stop the run: QEMU is killed and the
        outcome is ``infra error`` (``run cancelled``).
    :raises InputError: ``kernel`` or ``initramfs`` is not a readable file.
    """
    started = time.monotonic()
    for path, what in ((kernel, "kernel"), (initramfs, "initramfs")):
        if not os.access(path, os.R_OK) or not path.is_file():
            raise InputError(f"{path}: {what} is not a readable file")
    try:
        _check_kernel_image(kernel)
        qemu_path = find_qemu(qemu)
        accel_used = _choose_accel(accel, qemu_path, kernel)
    except InfraError as exc:
        return RunResult("infra error", None, None, str(exc), b"", time.monotonic() - started)
    cmdline = " ".join((*DEFAULT_CMDLINE, *cmdline_extra))
    argv = _qemu_argv(qemu_path, accel_used, kernel, cmdline, memory_mb, cpus)
    argv += ["-initrd", str(initramfs)]
    limits = _Limits(started, boot_timeout, test_timeout, total_timeout, crash_grace, cancel)
    try:
        console, stopped, returncode, errors = _run(argv, console_log, limits)
    except InfraError as exc:
        return RunResult("infra error", None, None, str(exc), b"", time.monotonic() - started)
    duration = time.monotonic() - started
    reports = crashsig.parse(console.data)
    if reports or console.crash_seen:
        report = reports[0] if reports else None
        reason = _crash_reason(stopped, bool(reports))
        title = report.title if report else None
        return RunResult("crashed", title, report, reason, console.data, duration, accel_used)
    outcome, reason = _classify(console, stopped, returncode, errors, limits)
    return RunResult(outcome, None, None, reason, console.data, duration, accel_used)


def _run(argv: list[str], console_log: Path | None, limits: _Limits) -> tuple[_Console, str, int | None, str]:
    """Run QEMU to its end or a deadline: (console, how it stopped, exit status, stderr)."""
    try:
        sink = open(console_log, "wb") if console_log else None  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InputError(f"{console_log}: cannot write the console log: {exc.strerror}") from exc
    with contextlib.ExitStack() as stack:
        if sink is not None:
            stack.enter_context(sink)
        stderr = stack.enter_context(tempfile.TemporaryFile())
        stack.enter_context(_sigterm_raises_exit())
        proc = stack.enter_context(_spawn(argv, stderr))
        console = _Console(sink)
        stopped = _watch(proc, console, limits)
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    return console, stopped, proc.returncode, errors


@attrs.define
class _Limits:
    """Deadlines of one run, on the ``time.monotonic`` clock."""

    started: float
    boot_timeout: float
    test_timeout: float
    total_timeout: float
    crash_grace: float
    cancel: threading.Event | None = None
    booted_at: float | None = None
    crash_at: float | None = None

    def next_deadline(self) -> tuple[float, str]:
        """The earliest deadline still ahead and what it means."""
        options = [(self.started + self.total_timeout, "total")]
        if self.booted_at is None:
            options.append((self.started + self.boot_timeout, "boot"))
        else:
            options.append((self.booted_at + self.test_timeout, "test"))
        if self.crash_at is not None:
            options.append((self.crash_at + self.crash_grace, "crash"))
        return min(options)


class _Console:
    """Accumulates console bytes, normalizes line ends, and scans each new complete line."""

    def __init__(self, sink: IO[bytes] | None) -> None:
        self._chunks: list[bytes] = []
        self._pending_cr = b""  # a chunk's final \r, kept until we know whether \n follows
        self._unscanned = b""  # the last, incomplete line
        self._sink = sink
        self.booted = False
        self.crash_seen = False

    @property
    def data(self) -> bytes:
        """Everything received so far."""
        return b"".join(self._chunks) + self._pending_cr

    def feed(self, data: bytes) -> None:
        """Add output; ``b""`` marks the end of the stream."""
        end = not data
        data = self._pending_cr + data
        self._pending_cr = b"\r" if data.endswith(b"\r") and not end else b""
        data = data[: len(data) - len(self._pending_cr)].replace(b"\r\n", b"\n")
        self._chunks.append(data)
        if self._sink is not None:
            self._sink.write(data)
            self._sink.flush()
        text = self._unscanned + data
        cut = len(text) if end else text.rfind(b"\n") + 1
        lines, self._unscanned = text[:cut], text[cut:]
        if lines:
            self.booted = self.booted or _INIT_RE.search(lines) is not None
            self.crash_seen = self.crash_seen or crashsig.contains_crash(lines)


def _watch(proc: subprocess.Popen[bytes], console: _Console, limits: _Limits) -> str:
    """Read the console until QEMU exits or a deadline passes; return ``exit`` or the deadline."""
    fd = _stdout_fd(proc)
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            if limits.cancel is not None and limits.cancel.is_set():
                raise InfraError("run cancelled")
            deadline, kind = limits.next_deadline()
            now = time.monotonic()
            if now >= deadline:
                return kind
            if not selector.select(timeout=min(deadline - now, CANCEL_POLL)):
                continue
            data = os.read(fd, 1 << 16)
            console.feed(data)
            if not data:
                # stdout closed: QEMU is exiting. If it lingers, _spawn kills it and the
                # run is classified by its (then negative) exit status.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=_EXIT_WAIT)
                return "exit"
            now = time.monotonic()
            if console.booted and limits.booted_at is None:
                limits.booted_at = now
            if console.crash_seen and limits.crash_at is None:
                limits.crash_at = now


def _classify(
    console: _Console,
    stopped: str,
    returncode: int | None,
    errors: str,
    limits: _Limits,
) -> tuple[Outcome, str]:
    """Outcome and reason of a run whose console holds no crash."""
    data = console.data
    if stopped == "boot":
        return (
            "boot failed",
            f"the kernel did not run /init within {limits.boot_timeout:g} s",
        )
    if stopped in ("test", "total"):
        phase = "the test" if console.booted else "booting"
        timeout = limits.test_timeout if stopped == "test" else limits.total_timeout
        why = f"{phase} did not finish within {timeout:g} s ({stopped} timeout)"
        return ("timed out" if console.booted else "boot failed"), why
    if returncode:
        tail = " | ".join(errors.strip().splitlines()[-3:]) or "no message"
        when = "" if data.strip() else " before any console output"
        return "infra error", f"QEMU exited with status {returncode}{when}: {tail}"
    if error := _ERROR_RE.search(data):
        return "boot failed", error["why"].decode(errors="replace")
    if not console.booted:
        return "boot failed", "the guest stopped before the kernel ran /init"
    if end := _END_RE.search(data):
        return "ok", f"reproducer exited with status {int(end['status'])}, no crash"
    return "ok", "the guest powered off without a crash (no crashsig end marker)"


def _crash_reason(stopped: str, parsed: bool) -> str:
    ended = "QEMU exited" if stopped == "exit" else f"QEMU stopped at the {stopped} deadline"
    what = "crash report in the console" if parsed else "crash header but no parsed report"
    return f"{what}; {ended}"


def _qemu_argv(qemu: Path, accel: str, kernel: Path, cmdline: str, memory_mb: int, cpus: int) -> list[str]:
    """QEMU's argv, grouped by purpose; the initramfs is appended by the caller."""
    cpu = "host" if accel == "kvm" else "max"
    argv = [str(qemu)]
    argv += ["-accel", accel, "-cpu", cpu, "-m", str(memory_mb), "-smp", str(cpus)]
    # No default devices (NIC option ROMs, VGA, floppy): only the serial console, on stdout,
    # and no monitor multiplexed into it.
    argv += ["-nodefaults", "-nographic", "-monitor", "none", "-serial", "stdio"]
    # panic=-1 makes the guest reboot on panic; -no-reboot turns that reboot into an exit.
    argv += ["-no-reboot"]
    argv += ["-kernel", str(kernel), "-append", cmdline]
    # Kill QEMU with its parent even when the parent dies by SIGKILL.
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", *argv] if setpriv else argv


def _check_kernel_image(kernel: Path) -> None:
    """Raise InfraError unless ``kernel`` looks like a bzImage or an ELF (PVH) kernel."""
    with open(kernel, "rb") as f:
        head = f.read(_BZIMAGE_MAGIC_OFFSET + len(_BZIMAGE_MAGIC))
    if head[_BZIMAGE_MAGIC_OFFSET:] != _BZIMAGE_MAGIC and not head.startswith(b"\x7fELF"):
        raise InfraError(f"{kernel}: not a kernel image (no x86 boot 'HdrS' header, not ELF)")


def _choose_accel(accel: str, qemu: Path, kernel: Path) -> str:
    if accel != "auto":
        return accel
    key = str(qemu)
    if key not in _kvm_probes:
        _kvm_probes[key] = _kvm_usable(qemu, kernel)
        log.info("KVM %s", "usable" if _kvm_probes[key] else "not usable: emulating with TCG")
    return "kvm" if _kvm_probes[key] else "tcg"


def _kvm_usable(qemu: Path, kernel: Path) -> bool:
    """True if /dev/kvm opens and a KVM boot of ``kernel`` gets as far as ``Linux version``."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
    except OSError:
        return False
    argv = _qemu_argv(qemu, "kvm", kernel, "console=ttyS0 panic=-1", 256, 1)
    deadline = time.monotonic() + _KVM_PROBE_TIMEOUT
    output = b""
    with tempfile.TemporaryFile() as stderr, _spawn(argv, stderr) as proc:
        fd = _stdout_fd(proc)
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"Linux version" not in output and (left := deadline - time.monotonic()) > 0:
                if selector.select(timeout=left):
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        break
                    output += chunk
    return b"Linux version" in output


def _stdout_fd(proc: subprocess.Popen[bytes]) -> int:
    """The console pipe of a process started by :func:`_spawn` (always stdout=PIPE)."""
    return cast(IO[bytes], proc.stdout).fileno()


@contextlib.contextmanager
def _spawn(argv: list[str], stderr: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """Start QEMU in a new session; on exit kill its whole process group and reap it."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    except OSError as exc:
        raise InfraError(f"{argv[0]}: cannot start QEMU: {exc.strerror}") from exc
    try:
        yield proc
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@contextlib.contextmanager
def _sigterm_raises_exit() -> Iterator[None]:
    """While active (main thread only), SIGTERM raises SystemExit so cleanup code runs.

    A caller that installed its own SIGTERM handler keeps it (``crashsig boot`` does).
    """
    in_main = threading.current_thread() is threading.main_thread()
    if not in_main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def _raise(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
